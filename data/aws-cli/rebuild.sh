#!/usr/bin/env bash
# Rebuild data/aws-cli from the PyPI wheel awscli==1.46.3 (byte for byte reproducible).
#
# awscli pins old docutils/urllib3, so it gets its own virtual environment under .build-venv/
# (git-ignored). The wheel is downloaded, checked against its pinned sha256 and installed; the
# builder then writes corpus.jsonl.gz, queries.jsonl, qrels/, NOTICE and build-stats.json.
# LICENSE (the Apache-2.0 text) and README.md are kept as they are.
#
# Usage: bash data/aws-cli/rebuild.sh   (from anywhere)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="1.46.3"
WHEEL="awscli-${VERSION}-py3-none-any.whl"
SHA256="94c561c1b1b2cf0978ec8d87d956c26c807555438593eec29ea90602b9518cfb"
VENV="$REPO/.build-venv/aws-cli"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
mkdir -p "$VENV/wheelhouse"
if [ ! -f "$VENV/wheelhouse/$WHEEL" ]; then
    "$VENV/bin/pip" download --quiet --no-deps --dest "$VENV/wheelhouse" "awscli==$VERSION"
fi
echo "$SHA256  $VENV/wheelhouse/$WHEEL" | sha256sum --check --quiet
"$VENV/bin/pip" install --quiet "$VENV/wheelhouse/$WHEEL"

cd "$REPO"
PYTHONPATH="$REPO" PYTHONHASHSEED=0 "$VENV/bin/python" -m hardneg_kit.build.aws_cli \
    --output data/aws-cli --wheel-sha256 "$SHA256"
