#!/usr/bin/env bash
# Installs what building and testing Kefu need, from the package registries only
# (crates.io, npm, Debian). Idempotent: each step is skipped when already satisfied.
# Usage: scripts/setup.sh [--browser] [--original] [--balancer] [--postgres] [--redis]
#   --browser   also Chromium + ChromeDriver, and axe-core from npm (browser tests, which
#               check every page against WCAG 2.1 A/AA with it)
#   --balancer  also HAProxy from Debian (the tests run deploy/haproxy.cfg in front of a server)
#   --postgres  also PostgreSQL from Debian (the store's tests and the server's PostgreSQL test
#               start throwaway clusters of it; its own service is not started)
#   --redis     also Redis from Debian (the cluster tests start throwaway instances of it)
#   --original  also Java 17, Tomcat 9 and Jackson from Debian (the original backend, which
#               the compatibility tests start from ../shared/original-backend/, or from
#               $KEFU_ORIGINAL_BACKEND: it is not our code and not in this repository)
# Source scripts/env.sh afterwards to put the project-local tools on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132.0.0
TERSER_VERSION=5.51.4
AXE_VERSION=4.14.1
# wasm-bindgen-cli must match the wasm-bindgen library the app links (Cargo.lock).
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

step() { printf '\n== %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(trunk --version 2>/dev/null || true)" != "trunk $TRUNK_VERSION" ]; then
  step "cargo install trunk $TRUNK_VERSION (takes several minutes the first time)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ] ||
   ! command -v wasm-bindgen-test-runner >/dev/null; then
  step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: one of its locked dependencies is missing from the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! (wasm-opt --version 2>/dev/null | grep -q "version_${BINARYEN_VERSION%%.*}"); then
  step "npm binaryen@$BINARYEN_VERSION into .tools/binaryen"
  mkdir -p .tools/binaryen
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix .tools/binaryen "binaryen@$BINARYEN_VERSION"
fi

if [ "$(terser --version 2>/dev/null || true)" != "terser $TERSER_VERSION" ]; then
  step "npm terser@$TERSER_VERSION into .tools/terser (minifies the wasm-bindgen glue)"
  mkdir -p .tools/terser
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix .tools/terser "terser@$TERSER_VERSION"
fi

browser=false original=false balancer=false postgres=false redis=false
for arg in "$@"; do
  case "$arg" in
    --browser) browser=true ;;
    --balancer) balancer=true ;;
    --postgres) postgres=true ;;
    --redis) redis=true ;;
    --original) original=true ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if $browser; then
  if [ ! -f ".tools/axe-core/node_modules/axe-core/package.json" ] ||
     ! grep -q "\"version\": \"$AXE_VERSION\"" .tools/axe-core/node_modules/axe-core/package.json; then
    step "npm axe-core@$AXE_VERSION into .tools/axe-core (the browser tests' accessibility check)"
    mkdir -p .tools/axe-core
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix .tools/axe-core "axe-core@$AXE_VERSION"
  fi
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    step "apt-get install chromium chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi

if $original; then
  if ! command -v javac >/dev/null || [ ! -f /usr/share/java/tomcat9-websocket.jar ] ||
     [ ! -f /usr/share/java/jackson-databind.jar ]; then
    step "apt-get install openjdk-17-jdk-headless libtomcat9-java libjackson2-databind-java"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless libtomcat9-java libjackson2-databind-java >/dev/null
  fi
fi

if $balancer; then
  if ! command -v haproxy >/dev/null; then
    step "apt-get install haproxy"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends haproxy >/dev/null
  fi
fi

if $postgres; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v psql >/dev/null; then
    step "apt-get install postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
fi

if $redis; then
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    step "apt-get install redis-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  fi
fi
