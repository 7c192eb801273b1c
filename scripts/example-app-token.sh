#!/usr/bin/env bash
# How an embedding app signs its user in, with nothing but openssl: prints a token (an HS256
# JWT) for user UID named NAME, valid for an hour, signed with the secret shared with
# kefu-server (--app-secret / KEFU_APP_SECRET). Any JWT library does the same; see README.md.
# Usage: scripts/example-app-token.sh SECRET UID [NAME]
set -euo pipefail
secret="$1" uid="$2" name="${3:-}"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
claims=$(printf '{"sub":"%s","exp":%d' "$uid" $(( $(date +%s) + 3600 )))
# A real app escapes the name as JSON; this example takes plain names.
[[ -n "$name" ]] && claims+=$(printf ',"name":"%s"' "$name")
payload=$(printf '%s}' "$claims" | b64url)
signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
echo "$header.$payload.$signature"
