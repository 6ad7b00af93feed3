#!/usr/bin/env bash
# Create (or reuse) a venv and install the package with one extra (default: test, which brings the examples'
# providers too). Usage: source from the other scripts; VENV overrides the location (default: .venv in the
# repo), EXTRAS the extra (docs.sh uses `docs`). Each extra keeps its own install stamp in the venv.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
EXTRAS="${EXTRAS:-test}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating venv at $VENV"
  "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.apd-installed-$EXTRAS"
if [ ! -f "$STAMP" ] || [ "$REPO/pyproject.toml" -nt "$STAMP" ]; then
  echo "bootstrap: installing airflow-pulumi-decorators[$EXTRAS] (Airflow, Pulumi SDK, google-auth and the extra) ..."
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install --quiet -e "$REPO[$EXTRAS]"
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
