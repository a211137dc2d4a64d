# Sourced by .ci/run: makes `node` (and the npm, npx and node-gyp it runs) a
# Node that package.json's engines allow. Where the machine's own Node is
# older, installs the one pinned in .ci/node/ (version and checksum in its
# package-lock.json) into a cache folder outside the clone and puts it first
# on PATH, with npm_config_nodedir at its headers: native modules
# (better-sqlite3, argon2) build from source against them, without a download.

# Keep in step with "engines" in package.json.
node_supported() {
  command -v node >/dev/null 2>&1 || return 1
  node -e '
    const [major, minor] = process.versions.node.split(".").map(Number);
    process.exit((major === 22 && minor >= 12) || major >= 24 ? 0 : 1);
  '
}

use_supported_node() {
  local pins
  pins="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/node"
  if node_supported; then
    # a Node installed from a tarball or package has its headers beside bin/
    if [ -z "${npm_config_nodedir:-}" ]; then
      local prefix
      prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
      if [ -f "$prefix/include/node/node.h" ]; then export npm_config_nodedir="$prefix"; fi
    fi
    return 0
  fi

  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "no pinned Node for $(uname -m); install Node 22.12+ or 24" >&2; return 1 ;;
  esac
  local version
  version="$(sed -n 's/.*"node-linux-'"$arch"'": "\([0-9.]*\)".*/\1/p' "$pins/package.json")"
  local dir="${LATCHKEY_CI_NODE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/latchkey-ci/node-$version}"
  local home="$dir/node_modules/node-linux-$arch"
  if [ ! -x "$home/bin/node" ] || [ "$("$home/bin/node" --version 2>/dev/null)" != "v$version" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    mkdir -p "$dir"
    cp "$pins/package.json" "$pins/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  export PATH="$home/bin:$PATH"
  export npm_config_nodedir="$home"
  hash -r
  node_supported || { echo "$home/bin/node is not a supported Node" >&2; return 1; }
}
