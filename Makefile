# grantwatch: the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
GO ?= go

RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d

.PHONY: all build tools demo test vet fmt-check bench fuzz synth clean chromium report-screenshot

# jsii runs on the machine's Node 20; do not print its end-of-life banner.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

all: build

build:
	$(GO) build -o bin/grantwatch ./cmd/grantwatch

# The local stand-ins the tests and the demo start: dynalite (DynamoDB) from
# the committed npm lock file; goaws (SNS/SQS, built from the Go module pinned
# in go.mod) and the Lambda runtime interface emulator from the Go module proxy.
tools: node_modules/.package-lock.json bin/goaws bin/aws-lambda-rie

# The go.mod makes Go's ./... skip node_modules: the CDK CLI ships Go templates.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	printf 'module node_modules.invalid\n' > node_modules/go.mod

# goaws's own command listens on every interface; ours serves its router on
# 127.0.0.1 only (the version is pinned in go.mod).
bin/goaws: cmd/devtools/goaws/main.go go.mod
	$(GO) build -o bin/goaws ./cmd/devtools/goaws

# The AWS Lambda runtime interface emulator, to run the real function binaries.
bin/aws-lambda-rie:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

# Audit the built-in simulated organization; no AWS account needed. The
# demo finds dynalite and goaws on PATH, wherever it runs.
demo: tools
	PATH="$(CURDIR)/node_modules/.bin:$(CURDIR)/bin:$$PATH" $(GO) run ./cmd/grantwatch demo

# Everything CI runs. With GRANTWATCH_REQUIRE_LOCAL=1 a missing stand-in fails
# the tests instead of skipping them.
test: tools fmt-check vet
	GRANTWATCH_REQUIRE_LOCAL=1 $(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

# 1) history and alerts: 1,000 accounts x 20 regions x 5 models, two runs,
#    1% of checks changed;
# 2) the audit: the same organization at 100 ms per call;
# 3) a sharded run of 5,000 accounts through the synthesized state machine.
# About three minutes. Smaller: BENCH_ACCOUNTS=100 make bench. Also BENCH_REGIONS,
# BENCH_CONCURRENCY, BENCH_LATENCY_MS (the audit only), BENCH_SHARDED_ACCOUNTS.
# Every benchmark runs even when an earlier one misses a target; the target
# fails at the end if any did.
bench: tools
	status=0; \
	GRANTWATCH_REQUIRE_LOCAL=1 $(GO) test -run '^$$' -bench 'RunWrites' -benchtime 1x -timeout 20m ./pkg/job \
		| grep -vE '^(goos|goarch|pkg|cpu|PASS|ok|Benchmark)' || status=1; \
	$(GO) test -run '^$$' -bench Organization -benchtime 1x -timeout 20m ./pkg/check \
		| grep -vE '^(goos|goarch|pkg|cpu|PASS|ok|Benchmark)' || status=1; \
	PATH="$(CURDIR)/node_modules/.bin:$(CURDIR)/bin:$$PATH" GRANTWATCH_REQUIRE_LOCAL=1 \
		$(GO) test -run '^$$' -bench Sharded -benchtime 1x -timeout 30m ./infra \
		| grep -vE '^(goos|goarch|pkg|cpu|PASS|ok|Benchmark|!!)' || status=1; \
	exit $$status

# Debian's Chromium, for the HTML report's browser test and screenshot
# (`apt-get` needs root, as on this project's machines).
chromium:
	command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium)

# The demo's HTML report and its screenshot, in build/ (not committed), after
# the browser test: it renders, shows the demo's statuses, logs nothing.
report-screenshot: chromium
	mkdir -p build
	$(GO) run ./cmd/grantwatch demo --output html > build/report.html
	GRANTWATCH_REQUIRE_CHROMIUM=1 $(GO) test -count=1 -run 'TestHTML' ./cmd/grantwatch
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --user-data-dir=$$(mktemp -d) --window-size=1500,2200 \
		--screenshot=$(CURDIR)/build/report.png file://$(CURDIR)/build/report.html 2>/dev/null
	@echo "build/report.html and build/report.png"

# The CloudFormation templates, with the real CDK CLI (cdk.json runs ./infra).
# Needs grantwatch.yaml and the context keys of the README, e.g.
#   make synth CDK_ARGS="-c grantwatch:organizationId=o-... -c grantwatch:managementAccountId=... -c grantwatch:auditAccountId=..."
synth: tools
	npx cdk synth --quiet $(CDK_ARGS)

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./pkg/config

clean:
	rm -rf bin node_modules build cdk.out
