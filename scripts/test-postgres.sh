#!/usr/bin/env bash
# test-postgres.sh: a throwaway PostgreSQL server for the test suite.
#
#   test-postgres.sh start DIR   initialise DIR, start a server on 127.0.0.1 on
#                                a free port and print its URL as one line
#   test-postgres.sh stop DIR    stop that server and remove DIR
#
# It uses Debian's packaged binaries (/usr/lib/postgresql/<newest>/bin). The
# server trusts every local connection and runs with fsync off: it is for
# tests only and listens on loopback only. When run as root, the server runs
# as the unprivileged postgres user, because initdb refuses to run as root.
set -euo pipefail

# MARKER marks DIR as ours, so stop never removes a directory it did not make.
MARKER=.sirocco-test-postgres
FIRST_PORT=55432
PORT_ATTEMPTS=50

die() {
	echo "test-postgres.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start DIR | stop DIR" >&2
	exit 2
}

pg_bindir() {
	local dir
	dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]] ||
		die "no PostgreSQL binaries under /usr/lib/postgresql/*/bin (run 'make deps')"
	echo "$dir"
}

# as_owner runs a command as the user owning the cluster: postgres when we
# are root, ourselves otherwise.
as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# port_in_use reports whether something accepts TCP connections on port.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
	local dir=$1 bin port attempt
	bin=$(pg_bindir)

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	[[ -z $(ls -A "$dir") ]] || die "$dir is not empty"
	# Unix socket paths are limited to 107 bytes.
	((${#dir} <= 80)) || die "$dir is too long for a socket directory; use a shorter path"
	if [[ $(id -u) -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || die "no postgres user (run 'make deps')"
		chown postgres: "$dir"
		chmod 0700 "$dir"
		as_owner test -w "$dir" ||
			die "user postgres cannot write $dir (check the permissions of its parents)"
	fi
	touch "$dir/$MARKER"

	if ! as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		die "initdb failed"
	fi
	cat >>"$dir/data/postgresql.conf" <<-EOF

		# test-postgres.sh: throwaway test server
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$dir'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 300
	EOF

	# Another test run may take the port between our check and the server's
	# bind, so a failed start moves on to the next port.
	port=$((FIRST_PORT + RANDOM % 1000))
	for ((attempt = 0; attempt < PORT_ATTEMPTS; attempt++, port++)); do
		port_in_use "$port" && continue
		rm -f "$dir/server.log"
		if as_owner "$bin/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
			-o "-p $port" >>"$dir/pg_ctl.log" 2>&1; then
			echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			return 0
		fi
		grep -qi 'could not bind\|address already in use' "$dir/server.log" 2>/dev/null ||
			break
	done
	cat "$dir/pg_ctl.log" "$dir/server.log" >&2 2>/dev/null || true
	die "could not start PostgreSQL (logs above)"
}

stop() {
	local dir=$1 bin
	[[ -d $dir ]] || return 0
	[[ -e $dir/$MARKER ]] || die "$dir was not made by test-postgres.sh start; not removing it"
	if [[ -f $dir/data/postmaster.pid ]]; then
		bin=$(pg_bindir)
		as_owner "$bin/pg_ctl" stop -m immediate -w -D "$dir/data" >/dev/null 2>&1 || true
	fi
	rm -rf -- "$dir"
}

(($# == 2)) || usage
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
