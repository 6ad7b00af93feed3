#!/usr/bin/env bash
# Run Pulumi's own Automation API tests (pulumi/pulumi sdk/python/lib/test/automation: local workspace, errors,
# stack) against one engine, on a file backend, in a network namespace with only loopback. Reads a checkout of
# pulumi/pulumi you provide (nothing of it is copied here); prints the per-test outcomes, sorted, so two engines'
# runs can be compared with diff.
#
#   bash scripts/upstream-automation-tests.sh /path/to/pulumi standin > standin.txt
#   bash scripts/upstream-automation-tests.sh /path/to/pulumi real > real.txt    # APD_REAL_PULUMI or a cached build
#   diff real.txt standin.txt
set -euo pipefail
CHECKOUT="${1:?usage: upstream-automation-tests.sh <pulumi/pulumi checkout> <standin|real>}"
ENGINE="${2:?usage: upstream-automation-tests.sh <pulumi/pulumi checkout> <standin|real>}"
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" >&2
LIB="$CHECKOUT/sdk/python/lib"
[ -d "$LIB/test/automation" ] || { echo "no $LIB/test/automation in $CHECKOUT" >&2; exit 2; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/bin"
case "$ENGINE" in
  standin) ln -s "$VENV/bin/pulumi-standin" "$WORK/bin/pulumi" ;;
  real) ln -s "${APD_REAL_PULUMI:-$(bash "$REPO/scripts/real-pulumi.sh")/pulumi}" "$WORK/bin/pulumi" ;;
  *) echo "engine: standin or real, not $ENGINE" >&2; exit 2 ;;
esac
"$VENV/bin/python" -m pip install -q semver pytest-timeout >&2
cd "$LIB"
# The tests' own conftest makes a temporary file backend (no PULUMI_ACCESS_TOKEN here).
set +e
env -u PULUMI_ACCESS_TOKEN -u PULUMI_BACKEND_URL PATH="$WORK/bin:$VENV/bin:/usr/bin:/bin" PULUMI_HOME="$WORK/home" \
  unshare -n sh -c 'ip link set lo up && exec "$0" -m pytest -p no:cacheprovider -p no:xdist -q -rA --timeout 300 \
  test/automation/test_local_workspace.py test/automation/test_errors.py test/automation/test_stack.py' \
  "$VENV/bin/python" > "$WORK/log" 2>&1
set -e
tail -1 "$WORK/log" >&2
grep -E '^(PASSED|FAILED|ERROR|SKIPPED)' "$WORK/log" | sed 's/ - .*//' | sort
