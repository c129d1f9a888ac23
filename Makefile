# dcehost build, test and benchmark targets.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 10s

.PHONY: all build test test-short lint fuzz bench test-crash clean

all: build

## build: static binary bin/dcehost with the version stamped
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/dcehost ./cmd/dcehost

## test: vet, then every test with the race detector
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

## lint: formatting, vet and a tidy module
lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

## fuzz: a short run of every fuzz target (FUZZTIME each)
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## bench: merge/cursor benchmarks against cp and jq, printed as a table
bench: build
	$(GO) run ./internal/archive/benchtool -bin bin/dcehost

## test-crash: at least 100 random SIGKILLs (DCEHOST_CRASH_KILLS) of a real dcehost during scrape
## and salvage, and of the engine run in-process; DCEHOST_CRASH_SEED replays a logged seed
test-crash: build
	DCEHOST_CRASH_KILLS=$${DCEHOST_CRASH_KILLS:-100} $(GO) test -p 1 -count=1 -v -run 'Crash' -timeout 30m ./internal/crashtest/... ./internal/engine/

clean:
	rm -rf bin
