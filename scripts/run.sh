#!/usr/bin/env bash
# make run: starts what the gateway needs on this machine (a local Postgres
# cluster under ./data/pg, and MinIO under ./data/minio when
# GATEWAY_BLOB_DRIVER=s3), migrates, prints the URL and a bootstrap admin
# token, then serves in the foreground. Ctrl-C stops the gateway; the data
# and the Postgres cluster stay for the next run (`make stop` stops them).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${GATEWAY_DATA_DIR:-$ROOT/data}
PG_PORT=${PG_PORT:-54329}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
mkdir -p "$DATA"

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [[ -z "${GATEWAY_DATABASE_URL:-}" ]]; then
  [[ -x "$PG_BIN/initdb" ]] || { echo "run: Postgres server binaries not found (set PG_BIN or GATEWAY_DATABASE_URL)" >&2; exit 1; }
  PGDATA=$DATA/pg
  if [[ ! -f $PGDATA/PG_VERSION ]]; then
    mkdir -p "$PGDATA"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$PGDATA" "$DATA"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 --locale=C >/dev/null
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PGDATA" start >/dev/null
  else
    # Left running by an earlier make run, maybe on another PG_PORT: the
    # 4th line of postmaster.pid is the port it listens on.
    RUNNING_PORT=$(sed -n 4p "$PGDATA/postmaster.pid")
    if [[ -n $RUNNING_PORT && $RUNNING_PORT != "$PG_PORT" ]]; then
      echo "run: Postgres under $PGDATA already runs on port $RUNNING_PORT; using it (make stop first to move it to $PG_PORT)" >&2
      PG_PORT=$RUNNING_PORT
    fi
  fi
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='gateway'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE gateway" >/dev/null
  export GATEWAY_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/gateway?sslmode=disable"
fi

export GATEWAY_BLOB_DRIVER=${GATEWAY_BLOB_DRIVER:-fs}
export GATEWAY_FS_ROOT=${GATEWAY_FS_ROOT:-$DATA/blobs}
if [[ $GATEWAY_BLOB_DRIVER == s3 && -z "${GATEWAY_S3_ENDPOINT:-}" ]]; then
  MINIO=${MINIO_BINARY:-$(go env GOPATH)/bin/minio}
  [[ -x $MINIO ]] || { echo "run: MinIO not found; install it with: go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c" >&2; exit 1; }
  MINIO_PORT=${MINIO_PORT:-9010}
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-gateway} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-gateway-secret}
  if ! curl -fs "http://127.0.0.1:$MINIO_PORT/minio/health/live" >/dev/null; then
    mkdir -p "$DATA/minio"
    MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY MINIO_BROWSER=off \
      nohup "$MINIO" server --quiet --address "127.0.0.1:$MINIO_PORT" --console-address 127.0.0.1:0 "$DATA/minio" \
      >"$DATA/minio.log" 2>&1 &
    echo $! >"$DATA/minio.pid"
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$MINIO_PORT/minio/health/live" >/dev/null && break; sleep 0.1; done
  fi
  export GATEWAY_S3_ENDPOINT=http://127.0.0.1:$MINIO_PORT GATEWAY_S3_PATH_STYLE=true GATEWAY_S3_BUCKET=${GATEWAY_S3_BUCKET:-packages}
  mkdir -p "$DATA/minio/$GATEWAY_S3_BUCKET" # MinIO's single-drive mode maps buckets to folders
fi

BIN=$ROOT/bin/gateway
go build -o "$BIN" ./cmd/gateway
"$BIN" migrate
TOKEN=$("$BIN" admin bootstrap --username root)
# The URL the gateway writes into its answers (config.go's default): an
# unspecified listen host (0.0.0.0, ::, none) is reached on 127.0.0.1.
LISTEN=${GATEWAY_LISTEN:-127.0.0.1:8080}
case $LISTEN in 0.0.0.0:* | :* | \[::\]:*) LISTEN=127.0.0.1:${LISTEN##*:} ;; esac
URL=${GATEWAY_EXTERNAL_URL:-http://$LISTEN}
URL=${URL%/}
cat <<MSG

  gateway:      $URL
  admin token:  $TOKEN      (user root, scope api; shown once)
  try:          curl -H "PRIVATE-TOKEN: $TOKEN" $URL/api/v4/user

MSG
exec "$BIN" serve
