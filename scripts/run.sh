#!/usr/bin/env bash
# Sets up (idempotently), builds, and runs Kefu: the reference server serving the web app.
# Options are the server's: --bind ADDR --port PORT --database FILE (or KEFU_BIND / KEFU_PORT /
# KEFU_DATABASE). A demo agent account is made (or its password reset) so the console can be
# tried at once; its credentials are printed. Set KEFU_DEMO_AGENT=0 to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
server=target/release/kefu-server
if [[ "${KEFU_DEMO_AGENT:-1}" != 0 ]]; then
  demo_password="${KEFU_DEMO_PASSWORD:-kefu-demo-password}"
  # --database may be among the arguments; pass them along so the account lands in it.
  database=kefu.db
  args=("$@")
  for i in "${!args[@]}"; do
    case "${args[$i]}" in
      --database) database="${args[$((i + 1))]:-kefu.db}" ;;
      --database=*) database="${args[$i]#--database=}" ;;
    esac
  done
  database="${KEFU_DATABASE:-$database}"
  "$server" --database "$database" agent add demo --password "$demo_password" >/dev/null
  echo "Demo agent for the console: name 'demo', password '$demo_password' (kefu-server agent add NAME makes real ones)"
fi
exec "$server" --static-dir dist "$@"
