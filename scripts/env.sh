# Sourced by every script: the repository root, and a PATH whose Rust toolchain can build wasm32.
#
# A developer laptop with rustup and `rustup target add wasm32-unknown-unknown` keeps its own toolchain.
# Elsewhere (a Debian machine where rustup cannot fetch the target) Debian's rustc-web goes first, with the
# wasm32 standard library that scripts/setup builds into its sysroot.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# has_wasm_std RUSTC: does this compiler have the wasm32 standard library installed?
has_wasm_std() {
  local dir
  dir="$("$1" --print target-libdir --target wasm32-unknown-unknown 2>/dev/null)" || return 1
  compgen -G "$dir/libstd-*.rlib" >/dev/null
}

if ! { command -v rustc >/dev/null && has_wasm_std rustc; } && [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ]; then
  export PATH="/usr/bin:$PATH"
fi
# wasm-opt from the npm package `binaryen` (Debian's binaryen breaks modules from current rustc), and the
# binaries `cargo install` puts in ~/.cargo/bin (wasm-pack, wasm-bindgen) after the chosen rustc.
export PATH="$ROOT/www/node_modules/.bin:$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"

# Starting a server for tests: these two in shell scripts (scripts/test, scripts/demo); JS starts its
# servers with scripts/livepath-server.mjs, which does the same.

# release_rustflags: flags for the package's release build. Panic messages carry source paths; these
# remap the machine's own (the standard library's sources, cargo's registry, this checkout) to short
# neutral names, so the shipped .wasm names no directory of the machine that built it (and is smaller).
release_rustflags() {
  local sysroot registry
  sysroot="$(rustc --print sysroot)"
  registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
  printf '%s' "--remap-path-prefix=$sysroot/lib/rustlib/src/rust=rust --remap-path-prefix=$registry=crates --remap-path-prefix=$ROOT=livepath"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now (asked of Node, which www needs).
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# wait_healthy HOST:PORT PID LOG: waits up to 10 s for a livepath-server's /healthz; fails (showing its
# log) if the process exits first or never answers.
wait_healthy() {
  for _ in $(seq 1 100); do
    curl -sf "http://$1/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; echo "livepath-server on $1 exited" >&2; return 1; }
    sleep 0.1
  done
  cat "$3" >&2; echo "livepath-server on $1 did not answer /healthz in 10 s" >&2; return 1
}

# pg_bin: the directory of PostgreSQL's server binaries (initdb, pg_ctl), which Debian keeps off PATH;
# the newest installed version. Fails when none is installed.
pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

# step K N TEXT: progress line for long scripts.
step() { printf '\033[1m[%s %s/%s]\033[0m %s\n' "$(basename "$0")" "$1" "$2" "$3"; }
