#!/usr/bin/env bash
# test.sh: the test suite as `make test` runs it. It starts a throwaway
# PostgreSQL (scripts/test-postgres.sh), exports its URL as
# SIROCCO_TEST_POSTGRES for internal/store/storetest, runs go vet and go test,
# always stops PostgreSQL, and exits with go test's status.
#
#   scripts/test.sh [packages]   default ./...
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=("$@")
((${#pkgs[@]} > 0)) || pkgs=(./...)

# In /tmp, not $TMPDIR: the server runs as user postgres when we are root and
# must reach the directory, and its socket path must stay short.
pgdir=$(mktemp -d /tmp/sirocco-pg.XXXXXX)
stop_postgres() {
	scripts/test-postgres.sh stop "$pgdir" || echo "test.sh: could not stop PostgreSQL in $pgdir" >&2
}
trap stop_postgres EXIT
# Turn signals into an exit so the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM

SIROCCO_TEST_POSTGRES=$(scripts/test-postgres.sh start "$pgdir")
export SIROCCO_TEST_POSTGRES
echo "test.sh: PostgreSQL at $SIROCCO_TEST_POSTGRES" >&2

go vet "${pkgs[@]}"

status=0
go test -count=1 -timeout 40m "${pkgs[@]}" || status=$?
exit "$status"
