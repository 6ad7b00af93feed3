#!/usr/bin/env bash
# Lint and type-check, as CI does before the tests: `ruff check` over the whole tree and `mypy --strict`
# over the package (both configured in pyproject.toml). Installs the test extra first if needed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$REPO"
"$VENV/bin/ruff" check .
"$VENV/bin/mypy"
