# `make test` runs every test on a fresh machine: it installs what the tests
# need (Go modules, Debian's godot3-server for the real-engine client tests).
GO ?= go

.PHONY: test deps run vet

test: deps vet
	RELAY_REQUIRE_GODOT=1 $(GO) test -race -count=1 -timeout 12m ./...

deps:
	$(GO) mod download
	@command -v godot3-server >/dev/null 2>&1 || { \
		echo "installing godot3-server (Debian) for the engine tests"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq godot3-server >/dev/null; }

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@# The relay has Linux-only fast paths; the other platforms must still build.
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...

run:
	$(GO) run ./cmd/relay
