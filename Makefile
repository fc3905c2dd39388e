# Sirocco developer entry points. `make run` starts a local cloud on this
# machine; `make test` runs every test against a throwaway PostgreSQL.

SHELL := /bin/bash
GO ?= go
# DATA_DIR holds siroccod's SQLite store, TLS material and VM disks for make run.
DATA_DIR ?= $(HOME)/.local/share/sirocco
# PKG narrows make test, e.g. make test PKG=./internal/store/...
PKG ?= ./...

# Debian packages siroccod and the tests need.
DEB_PACKAGES := postgresql ca-certificates qemu-system-x86 qemu-utils fonts-dejavu-core fonts-droid-fallback poppler-utils busybox iproute2 nftables curl jq sqlite3 openssl iperf3 iputils-ping openssh-client chromium

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

run: deps build image
	bin/siroccod serve --data-dir "$(DATA_DIR)" --seed-demo --local-host --demo-image "$(CACHE_DIR)/testguest"

test: deps
	scripts/test.sh $(PKG)

bench:
	$(GO) test -run '^$$' -bench . ./bench/...

clean:
	rm -rf bin

# image builds the busybox test guest (Debian cloud kernel + initramfs) from
# Debian packages into the cache the tests use; image-debian builds the slower
# debootstrap guest with the real cloud-init and openssh-server.
# See images/testguest/README.md.
CACHE_DIR ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/sirocco
.PHONY: image image-debian
image: deps
	images/testguest/build.sh "$(CACHE_DIR)/testguest"

image-debian: deps
	images/testguest/build-debian.sh "$(CACHE_DIR)/testguest-debian"
