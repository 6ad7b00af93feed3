#!/usr/bin/env bash
# Install everything (if needed) and run the quickstart DAG on the embedded defaults.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$REPO"
exec "$VENV/bin/python" examples/quickstart/run.py "$@"
