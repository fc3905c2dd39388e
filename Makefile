# Sirocco developer entry points. `make run` starts a local cloud on this
# machine; `make test` runs every test against a throwaway PostgreSQL.

SHELL := /bin/bash
GO ?= go
# DATA_DIR holds siroccod's SQLite store, TLS material and VM disks for make run.
DATA_DIR ?= $(HOME)/.local/share/sirocco
# PKG narrows make test, e.g. make test PKG=./internal/store/...
PKG ?= ./...

# Debian packages siroccod and the tests need.
DEB_PACKAGES := postgresql ca-certificates

.PHONY: deps build run test bench clean

# deps installs only the missing packages, so on a prepared machine it does
# nothing (and needs neither root nor the network).
deps:
	@if ! command -v dpkg-query >/dev/null; then \
		echo "deps: not a Debian system; install the equivalents of: $(DEB_PACKAGES)" >&2; \
		exit 0; \
	fi; \
	missing=; \
	for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || \
			missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "deps: missing:$$missing; run 'make deps' as root" >&2; \
		exit 1; \
	fi; \
	echo "deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $$missing

build:
	$(GO) build -o bin/siroccod ./cmd/siroccod
	$(GO) build -o bin/sirocco ./cmd/sirocco

run: deps build
	bin/siroccod serve --data-dir "$(DATA_DIR)" --seed-demo

test: deps
	scripts/test.sh $(PKG)

bench:
	$(GO) test -run '^$$' -bench . ./bench/...

clean:
	rm -rf bin
