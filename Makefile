# FreshTrack — `make run` serves a demo fleet, `make test` runs the tests.
# Both find or start a PostgreSQL server with scripts/pg.sh.

SHELL   := bash
GO      ?= go
BIN     := bin/freshtrack
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# The race detector needs cgo and a C compiler.
RACE    := $(shell command -v gcc >/dev/null 2>&1 && echo -race)
# The dev server's address; override with `make run ADDR=...`.
ADDR    ?= 127.0.0.1:8080

.DEFAULT_GOAL := help
.PHONY: help build run test lint fmt bench e2e screenshots db-stop clean

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-9s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/freshtrack
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/freshtrack

run: build ## serve on $(ADDR) with a simulated demo fleet posting readings
	@ADDR="$(ADDR)" scripts/run.sh

test: ## run every test against a real PostgreSQL, and again on TimescaleDB when one answers
	@[ -n "$(RACE)" ] || echo "make test: no C compiler found, running without -race (apt-get install gcc to enable it)"
	@url=$$(scripts/pg.sh server "$${TEST_DATABASE_URL:-}" "$${DATABASE_URL:-}") && \
	echo "make test: PostgreSQL at $$url" && \
	if [ -n "$${TEST_TIMESCALE_URL:-}" ]; then \
		ts=$$(scripts/timescale.sh find "$$TEST_TIMESCALE_URL") || \
			{ echo "make test: TEST_TIMESCALE_URL=$$TEST_TIMESCALE_URL has no usable TimescaleDB"; exit 1; }; \
	else \
		ts=$$(scripts/timescale.sh find "$$url" "postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable") || ts=""; \
	fi; \
	if [ -n "$$ts" ]; then \
		echo "make test: TimescaleDB at $$ts: the suite runs in both storage modes" && \
		echo "make test: == postgres storage mode" && \
		TEST_DATABASE_URL="$$url" TEST_TIMESCALE_URL="$$ts" TEST_STORAGE=postgres $(GO) test $(RACE) -count=1 -timeout 20m ./... && \
		echo "make test: == timescale storage mode" && \
		TEST_DATABASE_URL="$$url" TEST_TIMESCALE_URL="$$ts" TEST_STORAGE=timescale $(GO) test $(RACE) -count=1 -timeout 20m ./...; \
	else \
		echo "make test: no TimescaleDB found: timescale-mode tests are SKIPPED (set TEST_TIMESCALE_URL, or run scripts/timescale.sh start to build one)" && \
		TEST_DATABASE_URL="$$url" TEST_STORAGE=postgres $(GO) test $(RACE) -count=1 -timeout 20m ./...; \
	fi

lint: ## gofmt, go vet (and staticcheck when installed)
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./...; fi

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

bench: build ## short benchmarks: Go micro-benchmarks, then freshtrack bench into bench/results/latest.json
	@scripts/bench.sh

e2e: ## as root: the production stack on loopback, checked end to end (deploy/e2e.sh, about 2 min)
	deploy/e2e.sh

screenshots: ## refresh docs/screenshots with the browser tests (needs chromium)
	@url=$$(scripts/pg.sh server "$${TEST_DATABASE_URL:-}" "$${DATABASE_URL:-}") && \
	TEST_DATABASE_URL="$$url" TEST_STORAGE=postgres TEST_BROWSER_REQUIRED=1 TEST_SCREENSHOT_DIR="$(CURDIR)/docs/screenshots" \
		$(GO) test -count=1 -run 'TestWebApp|TestWebSettings|TestWebBilling' ./cmd/freshtrack/

db-stop: ## stop the throwaway PostgreSQL cluster, if one was started
	scripts/pg.sh stop

clean: ## remove build output
	rm -rf bin
