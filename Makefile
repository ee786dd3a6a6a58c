# grantwatch: the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
GO ?= go

.PHONY: all build demo test vet fmt-check bench fuzz clean

all: build

build:
	$(GO) build -o bin/grantwatch ./cmd/grantwatch

# Audit the built-in simulated organization; no AWS account needed.
demo:
	$(GO) run ./cmd/grantwatch demo

# Everything CI runs.
test: fmt-check vet
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

# 1,000 accounts x 20 regions x 5 models at 100 ms per call (about a minute).
# Smaller: BENCH_ACCOUNTS=100 make bench. Also BENCH_REGIONS, BENCH_CONCURRENCY, BENCH_LATENCY_MS.
bench:
	$(GO) test -run '^$$' -bench Organization -benchtime 1x -timeout 20m ./pkg/audit \
		| grep -vE '^(goos|goarch|pkg|cpu|PASS|ok|BenchmarkOrganization)'

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./pkg/config

clean:
	rm -rf bin
