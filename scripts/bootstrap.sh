#!/usr/bin/env bash
# Create (or reuse) the project venv and install the package with its test/example extras.
# Usage: source from the other scripts; VENV overrides the location (default: .venv in the repo).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating venv at $VENV"
  "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.apd-installed"
if [ ! -f "$STAMP" ] || [ "$REPO/pyproject.toml" -nt "$STAMP" ]; then
  echo "bootstrap: installing airflow-pulumi-decorators[test] (Airflow, Pulumi SDK, google-auth, pytest) ..."
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install --quiet -e "$REPO[test]"
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
