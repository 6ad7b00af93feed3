#!/usr/bin/env bash
# Build the real Pulumi CLI from Go modules (once per version, into a cache outside the repo) and print the
# folder to put on PATH. The Go module that pins it is scripts/real-pulumi/cli (go.mod + go.sum).
#
#   APD_REAL_PULUMI_CACHE  cache root (default: ${XDG_CACHE_HOME:-~/.cache}/airflow-pulumi-decorators/real-pulumi)
#
# Prints the bin folder on stdout (progress goes to stderr); exits non-zero when Go is missing or the build fails.
# Runs at once share one build: a second run waits on a lock in the cache root, then uses the first one's CLI.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODULE="$HERE/real-pulumi/cli"
VERSION="$(grep -o "github.com/pulumi/pulumi/pkg/v3 v[0-9.]*" "$MODULE/go.mod" | head -n1 | cut -d" " -f2)"
[ -n "$VERSION" ] || { echo "real-pulumi: no pulumi/pkg/v3 version in $MODULE/go.mod" >&2; exit 2; }
command -v go >/dev/null || { echo "real-pulumi: no 'go' on PATH; install Go >= 1.26 to build the real Pulumi CLI" >&2; exit 3; }
CACHE="${APD_REAL_PULUMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/airflow-pulumi-decorators/real-pulumi}"
# The key covers the version and the exact dependency set, so a changed go.sum rebuilds.
KEY="$VERSION-$(cat "$MODULE/go.mod" "$MODULE/go.sum" | sha256sum | cut -c1-12)"
BIN="$CACHE/$KEY/bin"
LOCK=""
if [ -x "$BIN/pulumi" ]; then
  echo "real-pulumi: cached $BIN/pulumi ($VERSION)" >&2
else
  mkdir -p "$CACHE"
  # Held until this script exits: a second run (another test session, another checkout) waits here instead
  # of starting a second 9-minute build on the same machine, then finds the first one's CLI.
  if command -v flock >/dev/null; then
    LOCK="$CACHE/.build.lock"
    exec 9>"$LOCK"
    if ! flock -n 9; then
      echo "real-pulumi: another run is building the CLI (it holds $LOCK); waiting for it ..." >&2
      flock 9
    fi
  else  # macOS has no flock(1) by default: build without the lock rather than not at all
    echo "real-pulumi: no 'flock' on PATH, so runs at once would each build (util-linux has it)" >&2
  fi
fi
if [ -x "$BIN/pulumi" ]; then
  [ -z "$LOCK" ] || echo "real-pulumi: using $BIN/pulumi ($VERSION), built meanwhile" >&2
else
  STAGE="$(mktemp -d "$CACHE/.build-XXXXXX")"
  trap 'rm -rf "$STAGE"' EXIT
  echo "real-pulumi: no cached CLI, so building pulumi $VERSION from Go modules now: about 9 minutes on 2 cores," \
       "into $BIN (APD_REAL_PULUMI=skip runs the tests without the real CLI) ..." >&2
  start=$(date +%s)
  (cd "$MODULE" && go build -mod=readonly -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
      -o "$STAGE/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >&2 9>&-
  "$STAGE/bin/pulumi" version >/dev/null 9>&-
  mkdir -p "$CACHE/$KEY"
  rm -rf "$BIN" && mv "$STAGE/bin" "$BIN"
  echo "real-pulumi: built in $(( $(date +%s) - start ))s" >&2
fi
# Beside the CLI, as a Pulumi install ships it: the plugin that serves Python dynamic providers. Replaced
# by a rename, and only when it changed: a test session may be running the installed one.
PLUGIN="$HERE/real-pulumi/bin/pulumi-resource-pulumi-python"
if ! cmp -s "$PLUGIN" "$BIN/pulumi-resource-pulumi-python"; then
  install -m 0755 "$PLUGIN" "$BIN/.pulumi-resource-pulumi-python.$$"
  mv -f "$BIN/.pulumi-resource-pulumi-python.$$" "$BIN/pulumi-resource-pulumi-python"
fi
echo "$BIN"
