#!/usr/bin/env bash
# Build the documentation site (MkDocs + Material + mkdocstrings) with --strict: any warning fails.
#
#   bash scripts/docs.sh          build into ${SITE_DIR:-site}
#   bash scripts/docs.sh serve    serve it on http://127.0.0.1:8000 with live reload
#
# Uses its own venv (DOCS_VENV, default .venv-docs) with the package and its `docs` extra. The API
# reference is read statically (griffe): nothing in the package is imported or executed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCS_VENV="${DOCS_VENV:-$REPO/.venv-docs}"
VENV="$DOCS_VENV"
EXTRAS=docs
source "$REPO/scripts/bootstrap.sh"
cd "$REPO"
# Material prints an end-of-life banner on every build; it is not a build warning.
export NO_MKDOCS_2_WARNING="${NO_MKDOCS_2_WARNING:-1}"
case "${1:-build}" in
  build)
    exec "$DOCS_VENV/bin/mkdocs" build --strict -d "${SITE_DIR:-site}" ;;
  serve)
    shift
    exec "$DOCS_VENV/bin/mkdocs" serve --strict "$@" ;;
  *)
    echo "usage: bash scripts/docs.sh [build|serve [mkdocs serve options]]" >&2
    exit 2 ;;
esac
