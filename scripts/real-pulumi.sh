#!/usr/bin/env bash
# Build the real Pulumi CLI from Go modules (once per version, into a cache outside the repo) and print the
# folder to put on PATH. The Go module that pins it is scripts/real-pulumi/cli (go.mod + go.sum).
#
#   APD_REAL_PULUMI_CACHE  cache root (default: ${XDG_CACHE_HOME:-~/.cache}/airflow-pulumi-decorators/real-pulumi)
#
# Prints the bin folder on stdout (progress goes to stderr); exits non-zero when Go is missing or the build fails.
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
if [ -x "$BIN/pulumi" ]; then
  echo "real-pulumi: cached $BIN/pulumi ($VERSION)" >&2
else
  mkdir -p "$CACHE"
  STAGE="$(mktemp -d "$CACHE/.build-XXXXXX")"
  trap 'rm -rf "$STAGE"' EXIT
  echo "real-pulumi: building pulumi $VERSION from Go modules (first build takes minutes) ..." >&2
  start=$(date +%s)
  (cd "$MODULE" && go build -mod=readonly -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
      -o "$STAGE/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >&2
  "$STAGE/bin/pulumi" version >/dev/null
  mkdir -p "$CACHE/$KEY"
  rm -rf "$BIN" && mv "$STAGE/bin" "$BIN"
  echo "real-pulumi: built in $(( $(date +%s) - start ))s" >&2
fi
# Beside the CLI, as a Pulumi install ships it: the plugin that serves Python dynamic providers.
install -m 0755 "$HERE/real-pulumi/bin/pulumi-resource-pulumi-python" "$BIN/"
echo "$BIN"
