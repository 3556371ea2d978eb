#!/usr/bin/env bash
# End-to-end check with curl only, against a running gateway (make run):
# creates a group, a project and two deploy tokens with the admin token,
# uploads a large generic file with the write token, downloads it with the
# read token, compares bytes, and reports the gateway's peak memory.
#
#   scripts/e2e-curl.sh URL ADMIN_TOKEN [SIZE_MIB]     (default 1024)
set -euo pipefail
URL=${1:?usage: e2e-curl.sh URL ADMIN_TOKEN [SIZE_MIB]}
ADMIN=${2:?admin token}
SIZE_MIB=${3:-1024}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; [[ -n "${SAMPLER:-}" ]] && kill "$SAMPLER" 2>/dev/null || true' EXIT
api() { curl -sS --fail-with-body -H "PRIVATE-TOKEN: $ADMIN" -H 'Content-Type: application/json' "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

SUFFIX=$RANDOM$RANDOM
GID=$(api -X POST "$URL/api/v4/groups" -d "{\"name\":\"E2E $SUFFIX\",\"path\":\"e2e-$SUFFIX\"}" | json "['id']")
PID=$(api -X POST "$URL/api/v4/projects" -d "{\"path\":\"app\",\"namespace_id\":$GID}" | json "['id']")
W=$(api -X POST "$URL/api/v4/projects/$PID/deploy_tokens" -d '{"name":"ci","scopes":["write_package_registry"]}')
R=$(api -X POST "$URL/api/v4/projects/$PID/deploy_tokens" -d '{"name":"ro","scopes":["read_package_registry"],"expires_at":"2099-01-01"}')
WTOK=$(echo "$W" | json "['token']"); WUSER=$(echo "$W" | json "['username']")
RTOK=$(echo "$R" | json "['token']"); RUSER=$(echo "$R" | json "['username']")
echo "group $GID, project $PID, tokens $WUSER (write) and $RUSER (read)"

# The gateway is the process listening on URL's port (another session's
# gateway may run on the same machine); failing that, the only `gateway serve`.
PORT=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.port or {"https": 443}.get(p.scheme, 80))' "$URL")
GWPID=$(ss -ltnpH "sport = :$PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
if [[ -z "$GWPID" || "$(cat "/proc/$GWPID/comm" 2>/dev/null)" != gateway ]]; then
  GWPID=$(pgrep -f 'gateway serve' || true)
  [[ $(wc -w <<<"$GWPID") -eq 1 ]] || GWPID=
fi
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$GWPID/status" 2>/dev/null || echo 0; }
if [[ -n "$GWPID" ]]; then
  BASE=$(rss); echo 0 >"$TMP/peak"
  ( peak=0; while sleep 0.2; do r=$(rss); ((r > peak)) && peak=$r && echo "$peak" >"$TMP/peak"; done ) &
  SAMPLER=$!
fi

echo "writing ${SIZE_MIB} MiB of random data"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$TMP/big.bin"
FILE_URL="$URL/api/v4/projects/$PID/packages/generic/big/1.0.0/big.bin"
t0=$(date +%s.%N)
curl -sS --fail-with-body --user "$WUSER:$WTOK" --upload-file "$TMP/big.bin" "$FILE_URL" >/dev/null
t1=$(date +%s.%N)
curl -sS --fail --location --user "$RUSER:$RTOK" --output "$TMP/back.bin" "$FILE_URL"
t2=$(date +%s.%N)
if cmp -s "$TMP/big.bin" "$TMP/back.bin"; then echo "byte-identical: yes"; else echo "byte-identical: NO"; exit 1; fi
python3 - "$t0" "$t1" "$t2" "$SIZE_MIB" <<'PY'
import sys
t0, t1, t2, mib = map(float, sys.argv[1:])
print(f"upload   {mib/(t1-t0):8.1f} MiB/s")
print(f"download {mib/(t2-t1):8.1f} MiB/s")
PY
if [[ -n "$GWPID" ]]; then
  sleep 0.3
  echo "gateway RSS: before ${BASE} MiB, peak $(cat "$TMP/peak") MiB (growth $(( $(cat "$TMP/peak") - BASE )) MiB)"
fi
