#!/usr/bin/env bash
# How an embedding app's backend sets a friendship, with nothing but openssl: prints the body
# of POST /api/app/friendship (an HS256 JWT with its issue time, valid for a minute) making users A and B friends
# (FRIENDS=true) or ending it (false), signed with the secret shared with kefu-server
# (--app-secret / KEFU_APP_SECRET). Any JWT library does the same; see README.md.
# Usage: scripts/example-app-friendship.sh SECRET A B [true|false]
set -euo pipefail
secret="$1" a="$2" b="$3" friends="${4:-true}"
[[ "$friends" == true || "$friends" == false ]] || { echo "FRIENDS must be true or false" >&2; exit 2; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
now=$(date +%s)
payload=$(printf '{"a":%d,"b":%d,"friends":%s,"iat":%d,"exp":%d}' "$a" "$b" "$friends" "$now" $(( now + 60 )) | b64url)
signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
echo "$header.$payload.$signature"
