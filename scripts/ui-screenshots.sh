#!/usr/bin/env bash
# Copy the screenshots the browser tests saved (test-artifacts/ui/, not committed) into the docs
# (docs/img/ui/, committed: docs/ui.md embeds them). Run the browser tests first:
#   .venv/bin/python -m pytest -p no:cacheprovider -m browser tests/ui/test_browser.py
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$REPO/test-artifacts/ui"
DEST="$REPO/docs/img/ui"
shots=(stacks stack stack-locked task-preview extra-link)
for name in "${shots[@]}"; do
  if [ ! -f "$SRC/$name.png" ]; then
    echo "ui-screenshots: $SRC/$name.png is missing: run the browser tests (marker browser) first" >&2
    exit 1
  fi
done
mkdir -p "$DEST"
for name in "${shots[@]}"; do
  cp "$SRC/$name.png" "$DEST/$name.png"
done
echo "ui-screenshots: copied ${#shots[@]} screenshots to $DEST"
