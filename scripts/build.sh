#!/usr/bin/env bash
# Builds the web app into dist/ (release, size-optimised) and the reference server, then
# compresses the app once (brotli and gzip beside each file), which the server sends as is.
# Three pages, three wasm binaries: index.html (customer service, bin `kefu`), friends.html
# (the Friends page, bin `kefu-friends`) and agent.html (the console, bin `kefu-agent`), so a
# visitor's phone never downloads the console, nor the Friends screens for customer service.
# trunk builds one page per run and replaces its output folder, so the other two are built
# aside and copied in.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
trunk build agent.html --release --dist target/trunk-agent --html-output agent.html
trunk build friends.html --release --dist target/trunk-friends --html-output friends.html
trunk build index.html --release
# (one cp per page: both have the same stylesheet, which one cp refuses to copy twice)
cp target/trunk-agent/* dist/
cp target/trunk-friends/* dist/
# trunk's own JS minifier fails on wasm-bindgen's glue (and then copies it as is): terser.
for js in dist/*.js; do
  terser "$js" --module --compress --mangle --output "$js.min" && mv "$js.min" "$js"
done
cargo build --release -p kefu-server
target/release/kefu-server precompress dist >/dev/null
