# The two commands of the README: `make run` and `make test`.
GO ?= go
PG_BIN ?= $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin)))

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

# Stops what `make run` left running (the Postgres cluster and MinIO).
stop:
	-@if [ -f data/pg/PG_VERSION ]; then runuser -u postgres -- $(PG_BIN)/pg_ctl -D data/pg stop -m fast; fi
	-@if [ -f data/minio.pid ]; then kill $$(cat data/minio.pid); rm -f data/minio.pid; fi
