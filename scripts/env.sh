# Sourced by the scripts: puts cargo's and the project-local tools first on PATH, so that
# trunk finds wasm-opt 132 from npm and never an older system one, and build.sh finds terser.
KEFU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$KEFU_ROOT/.tools/binaryen/node_modules/.bin:$KEFU_ROOT/.tools/terser/node_modules/.bin:$HOME/.cargo/bin:$PATH"
