#!/usr/bin/env bash
# Rebuild data/python-faq from the pinned Debian package python3.11-doc (standard library only).
# Run from the repository root: bash data/python-faq/rebuild.sh
# Set PYTHON_DOC_DEB=/path/to/python3.11-doc_<version>_all.deb to skip the download.
# Debian replaces the package on security updates; the derived files are committed for that reason.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NAME=python-faq
PACKAGE=python3.11-doc
VERSION=3.11.2-6+deb12u9
SHA256=5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DEB="${PYTHON_DOC_DEB:-}"
if [[ -z "$DEB" ]]; then
  CANDIDATE="$(apt-cache policy "$PACKAGE" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if ! (cd "$WORK" && apt-get download "$PACKAGE=$VERSION" >/dev/null 2>&1); then
    echo "ERROR: apt-get cannot download $PACKAGE=$VERSION, the version recorded for $NAME." >&2
    echo "apt's candidate version is '${CANDIDATE:-unknown}' (run 'apt-get update' first if" >&2
    echo "the package lists are stale). Debian replaces this package on security updates;" >&2
    echo "the committed files in data/$NAME stay valid. Stopping without rebuilding." >&2
    exit 1
  fi
  DEB="$(ls "$WORK"/*.deb)"
fi
GOT="$(dpkg-deb -f "$DEB" Version 2>/dev/null || echo unknown)"
if [[ "$GOT" != "$VERSION" ]]; then
  echo "ERROR: $DEB is $PACKAGE version $GOT, but $NAME records $VERSION. Stopping." >&2
  exit 1
fi
ACTUAL="$(sha256sum "$DEB" | cut -d' ' -f1)"
if [[ "$ACTUAL" != "$SHA256" ]]; then
  echo "ERROR: $DEB has sha256 $ACTUAL, expected $SHA256. Stopping." >&2
  exit 1
fi

cd "$REPO"
PYTHONPATH="$REPO" python3 -m hardneg_kit.build.python_faq --source "$DEB" --output "data/$NAME"
sha256sum "data/$NAME"/corpus.jsonl* "data/$NAME/queries.jsonl" "data/$NAME/qrels/test.tsv"
