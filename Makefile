# hardneg-kit: every target sets itself up (.venv with pinned requirements) and then acts.
#   make demo   - the pipeline end to end on the shipped data, small profile, prints a table
#   make test   - ruff + unit tests + every notebook executed by nbval (smoke profile)
#   make lab    - JupyterLab on notebooks/
#   make experiment PROFILE=full - the re-ranking experiment behind the README's results table
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= smoke

.PHONY: setup demo test lab experiment clean-cache

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "hardneg-kit needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m hardneg_kit demo --profile $(PROFILE)

test: $(STAMP)
	$(PY) -m ruff check .
	HF_HUB_OFFLINE=1 HARDNEG_PROFILE=smoke $(PY) -m pytest --nbval-lax tests notebooks

experiment: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m hardneg_kit experiment --profile $(PROFILE)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean-cache:
	rm -rf $${HARDNEG_CACHE:-$$HOME/.cache/hardneg-kit}
