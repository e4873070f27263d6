#!/usr/bin/env bash
# Rebuild data/scrapy-docs (docs/, questions.csv, LICENSE) from the pinned PyPI sdist of Scrapy.
# Run from anywhere: bash data/scrapy-docs/rebuild.sh
# Set SCRAPY_SDIST=/path/to/scrapy-2.19.0.tar.gz to skip the download.
# The build itself uses the standard library only; pip is needed for the download alone.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NAME=scrapy-docs
PACKAGE=scrapy
VERSION=2.19.0
SHA256=34130726582b64c91531162ab277c4053e558876d49ba219cb43679e71d80a87

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
SDIST="${SCRAPY_SDIST:-}"
if [[ -z "$SDIST" ]]; then
  PYTHON="$REPO/.venv/bin/python"
  [[ -x "$PYTHON" ]] || PYTHON=python3
  # --no-binary :all: fetches the sdist (the wheel has no docs); --no-deps: nothing else.
  if ! "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: \
      "$PACKAGE==$VERSION" -d "$WORK" >"$WORK/pip.log" 2>&1; then
    cat "$WORK/pip.log" >&2
    echo "ERROR: pip cannot download the sdist $PACKAGE==$VERSION (see above)." >&2
    exit 1
  fi
  SDIST="$WORK/$PACKAGE-$VERSION.tar.gz"
fi
ACTUAL="$(sha256sum "$SDIST" | cut -d' ' -f1)"
if [[ "$ACTUAL" != "$SHA256" ]]; then
  echo "ERROR: $SDIST has sha256 $ACTUAL, expected $SHA256. Stopping." >&2
  exit 1
fi

cd "$REPO"
PYTHONPATH="$REPO" python3 -m hardneg_kit.build.scrapy_docs --source "$SDIST" --output "data/$NAME"
# one checksum over every file of docs/ (sorted), then the questions and the licence
(cd "data/$NAME" && find docs -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum \
  | sha256sum | sed 's|-$|docs/ (sha256 of the sorted sha256sum listing)|')
sha256sum "data/$NAME/questions.csv" "data/$NAME/LICENSE"
