#!/usr/bin/env bash
# Install everything (if needed) and run the whole test suite, one pytest worker per core. Extra arguments
# go to pytest.
#
# The real-engine tests run on a real `pulumi` CLI built from Go modules (scripts/real-pulumi.sh, cached
# after the first build, which takes about 9 minutes on 2 cores and says so before it starts; runs at once
# share one build). Without Go they skip and say so; APD_REAL_PULUMI=skip opts out, and
# APD_REAL_PULUMI=/path/to/pulumi uses that CLI instead. CI sets APD_REQUIRE_REAL_PULUMI=1: no skipping.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$REPO"
if [ -z "${APD_REAL_PULUMI:-}" ]; then
  if command -v go >/dev/null 2>&1 || [ -n "${APD_REQUIRE_REAL_PULUMI:-}" ]; then
    APD_REAL_PULUMI="$(bash scripts/real-pulumi.sh)/pulumi"
    export APD_REAL_PULUMI
  else
    echo "test: no 'go' on PATH, so no real Pulumi CLI: the real-engine tests will skip"
  fi
fi
# No column ranges in tracebacks: on CPython 3.11, formatting one (its ~~~^^^ marks) runs ast.parse, and
# when a garbage-collected coroutine's finaliser reports an error in the middle of another ast.parse, the
# outer one fails with "SystemError: AST constructor recursion depth mismatch" (seen in CI; the ast
# module's depth counter is shared, not per call).
export PYTHONNODEBUGRANGES=1
# One pytest worker per core (pytest-xdist; APD_TEST_WORKERS=0 runs in one process, and a -n of yours wins).
exec "$VENV/bin/python" -m pytest -p no:cacheprovider -n "${APD_TEST_WORKERS:-auto}" --dist loadgroup "$@"
