# The two commands of the README: `make run` and `make test`.
GO ?= go
# The same Postgres binaries and data folder as scripts/run.sh picks.
PG_BIN ?= $(shell ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
DATA_DIR := $(or $(GATEWAY_DATA_DIR),data)

.PHONY: run test unit vet build stop bench fmt fuzz

run:
	@scripts/run.sh

build:
	$(GO) build -o bin/gateway ./cmd/gateway

# Every test: unit tests, then integration tests against real Postgres and
# real S3 (MinIO) with the real clients (npm, pip, twine, mvn, python-gitlab).
test: vet
	$(GO) test -race -count=1 -timeout 75m ./...

unit:
	$(GO) test -count=1 -short $$($(GO) list ./... | grep -v /tests)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./tests/

# Runs every fuzz target (every parser of client input) for FUZZTIME each;
# what a target finds is written under its package's testdata/fuzz and
# replayed by `make test` from then on.
FUZZTIME ?= 30s
fuzz:
	@for f in $$(git grep -l '^func Fuzz' -- '*_test.go'); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/p' $$f); do \
			echo "== $$(dirname $$f) $$t"; \
			$(GO) test ./$$(dirname $$f) -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
		done; \
	done

# Stops what `make run` left running (the Postgres cluster and MinIO), in
# the data folder it used (GATEWAY_DATA_DIR, ./data by default); as root the
# cluster runs as the postgres user, as run.sh starts it.
stop:
	-@if [ -f $(DATA_DIR)/pg/PG_VERSION ]; then \
		if [ "$$(id -u)" -eq 0 ]; then runuser -u postgres -- $(PG_BIN)/pg_ctl -D $(DATA_DIR)/pg stop -m fast; \
		else $(PG_BIN)/pg_ctl -D $(DATA_DIR)/pg stop -m fast; fi; fi
	-@if [ -f $(DATA_DIR)/minio.pid ]; then kill $$(cat $(DATA_DIR)/minio.pid); rm -f $(DATA_DIR)/minio.pid; fi
