#!/usr/bin/env bash
# terraform.sh: print the path of a Terraform v1.5.7 binary, building it from
# source with `go install` the first time. The build takes minutes, so the
# binary is cached under ~/.cache/sirocco (or $XDG_CACHE_HOME/sirocco) and
# later runs only print its path. Terraform is built from source rather than
# downloaded so CI needs nothing but the Go module proxy.
#
#   terraform.sh          build if missing, print the binary path
#
# The provider's acceptance test (terraform/) and examples/terraform/README.md
# use it. CHECKPOINT_DISABLE=1 keeps Terraform from phoning home; export it
# when you run the binary yourself.
set -euo pipefail

VERSION=1.5.7
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sirocco
bindir=$cache/terraform-$VERSION
bin=$bindir/terraform
export CHECKPOINT_DISABLE=1

if [[ -x $bin ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$cache"
# Two test runs starting together must not both spend minutes building into
# the same directory: the second waits for the first and reuses its binary.
exec 9>"$cache/terraform-$VERSION.lock"
flock 9
if [[ ! -x $bin ]]; then
	echo "terraform.sh: building Terraform v$VERSION from source into $bindir (takes minutes)" >&2
	# Build into a scratch directory and rename, so an interrupted build never
	# leaves a half-written binary that the -x check above would trust.
	tmp=$(mktemp -d "$cache/terraform-$VERSION.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# GOFLAGS from the caller (say -mod=vendor) must not leak into Terraform's
	# own module; -trimpath keeps the build reproducible across checkouts.
	GOFLAGS=-trimpath GOBIN=$tmp go install "github.com/hashicorp/terraform@v$VERSION" >&2
	mkdir -p "$bindir"
	mv "$tmp/terraform" "$bin"
fi
# The binary must run; an unset or missing CLI configuration only adds noise.
TF_CLI_CONFIG_FILE=/dev/null "$bin" version >/dev/null
echo "$bin"
