#!/usr/bin/env bash
# Rebuild data/azure-cli from the pinned azure-cli wheel (read statically, never installed).
# Run from the repository root: bash data/azure-cli/rebuild.sh
# Set AZURE_CLI_WHEEL=/path/to/azure_cli-2.91.0-py3-none-any.whl to skip the download.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NAME=azure-cli
VERSION=2.91.0
SHA256=998f2b7812e553520c0f4c7bbb8420487d83f9930711cef335401c1f3fc5e0b6
PYYAML=PyYAML==6.0.4
VENV="$REPO/.build-venv/$NAME"

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PYYAML"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
WHEEL="${AZURE_CLI_WHEEL:-}"
if [[ -z "$WHEEL" ]]; then
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: "azure-cli==$VERSION" -d "$WORK"
  WHEEL="$WORK/azure_cli-$VERSION-py3-none-any.whl"
fi
ACTUAL="$(sha256sum "$WHEEL" | cut -d' ' -f1)"
if [[ "$ACTUAL" != "$SHA256" ]]; then
  echo "ERROR: $WHEEL has sha256 $ACTUAL, expected $SHA256 (azure-cli $VERSION)." >&2
  echo "The recorded source is not what was downloaded; stopping without rebuilding." >&2
  exit 1
fi

cd "$REPO"
PYTHONPATH="$REPO" "$VENV/bin/python" -m hardneg_kit.build.azure_cli \
  --source "$WHEEL" --output "data/$NAME"
sha256sum "data/$NAME"/corpus.jsonl* "data/$NAME/queries.jsonl" "data/$NAME/qrels/test.tsv"
