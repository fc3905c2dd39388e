#!/usr/bin/env bash
# first-vm.sh: a first VM with nothing but curl (and jq, openssl). It makes
# an organisation and a VDC (or reuses them), creates a VM from the public
# catalog, waits for its operation, reads the VM, then deletes it and waits
# for that too. The organisation and the VDC stay for the next run.
#
# Environment:
#   SIROCCO_URL          the server, e.g. https://cloud.example.com (without /api/v1)
#   SIROCCO_TOKEN        a provider-admin API token: creating an organisation is
#                        the provider's job (sirocco token create examples --role provider-admin)
#   SIROCCO_FINGERPRINT  for a self-signed server: sha256:… as siroccod prints it; the
#                        script fetches the certificate, checks it has exactly this
#                        fingerprint and then trusts only it
#   SIROCCO_CACERT       or: a PEM file to trust, e.g. a copy of <data-dir>/tls/tls.crt
#                        (with neither, the system's certificate authorities)
#   SIROCCO_ORG, SIROCCO_VDC, SIROCCO_ZONE, SIROCCO_IMAGE, SIROCCO_SIZE, SIROCCO_VM
#                        default: example, main, au-syd-1a, sirocco-testguest, s1.small, first-vm
set -euo pipefail

: "${SIROCCO_URL:?set SIROCCO_URL, e.g. https://cloud.example.com}"
: "${SIROCCO_TOKEN:?set SIROCCO_TOKEN to a provider-admin API token}"
org=${SIROCCO_ORG:-example}
vdc=${SIROCCO_VDC:-main}
zone=${SIROCCO_ZONE:-au-syd-1a}
image=${SIROCCO_IMAGE:-sirocco-testguest}
size=${SIROCCO_SIZE:-s1.small}
vm=${SIROCCO_VM:-first-vm}
api="${SIROCCO_URL%/}/api/v1"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# How curl trusts the server. Never --insecure: a pinned fingerprint is as
# strong as a CA, a disabled check is no check at all.
tls=()
if [ -n "${SIROCCO_CACERT:-}" ]; then
	tls=(--cacert "$SIROCCO_CACERT")
elif [ -n "${SIROCCO_FINGERPRINT:-}" ]; then
	hostport=${SIROCCO_URL#https://}
	hostport=${hostport%%/*}
	case $hostport in *:*) ;; *) hostport=$hostport:443 ;; esac
	openssl s_client -connect "$hostport" </dev/null 2>/dev/null | openssl x509 >"$tmp/server.pem"
	got=$(openssl x509 -in "$tmp/server.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f')
	want=$(printf '%s' "${SIROCCO_FINGERPRINT#sha256:}" | tr 'A-F' 'a-f')
	if [ "$got" != "$want" ]; then
		echo "the server's certificate is sha256:$got, not the pinned $SIROCCO_FINGERPRINT: refusing to send the token" >&2
		exit 1
	fi
	tls=(--cacert "$tmp/server.pem")
fi

# call METHOD PATH [JSON] prints the answer's body. A status outside 2xx
# prints the API's problem (title, code, detail) and fails.
call() {
	local args=(-sS "${tls[@]}" -X "$1" -H "Authorization: Bearer $SIROCCO_TOKEN" -H 'Accept: application/json'
		-o "$tmp/body" -w '%{http_code}')
	if [ $# -ge 3 ]; then
		args+=(-H 'Content-Type: application/json' --data "$3")
	fi
	local status
	status=$(curl "${args[@]}" "$api$2")
	if [ "${status:0:1}" != 2 ]; then
		echo "$1 $2: HTTP $status $(cat "$tmp/body")" >&2
		return 1
	fi
	cat "$tmp/body"
}

# wait_op ID follows an operation until it ends; each request is held by the
# server until the operation is done or 30 s have passed.
wait_op() {
	local op state
	while :; do
		op=$(call GET "/operations/$1/wait?timeout=30s")
		state=$(jq -r .state <<<"$op")
		case $state in
		succeeded) return 0 ;;
		failed | cancelled)
			echo "operation $1 $state: $(jq -r '.error.detail // .message // ""' <<<"$op")" >&2
			return 1
			;;
		esac
		echo "  operation $1: $state, $(jq -r .progress <<<"$op")%"
	done
}

# 1. The organisation and its VDC, made once.
if ! call GET "/orgs/$org" >/dev/null 2>&1; then
	call POST /orgs "$(jq -n --arg name "$org" '{name: $name}')" >/dev/null
	echo "created organisation $org"
fi
if ! call GET "/orgs/$org/vdcs/$vdc" >/dev/null 2>&1; then
	call POST "/orgs/$org/vdcs" "$(jq -n --arg name "$vdc" --arg zone "$zone" '{name: $name, zone: $zone}')" >/dev/null
	echo "created VDC $vdc in zone $zone"
fi

# 2. The VM: the answer holds the placed VM and the operation that ends when it runs.
created=$(call POST "/orgs/$org/vms" "$(jq -n --arg name "$vm" --arg vdc "$vdc" --arg image "$image" --arg size "$size" \
	'{name: $name, vdc: $vdc, image: $image, size: $size}')")
op=$(jq -r '.operations[0].id' <<<"$created")
echo "creating VM $vm (operation $op)"
wait_op "$op"

# 3. Read it.
call GET "/orgs/$org/vms/$vm" | jq '{id, name, state, size, vcpu, memory_mib, disk_gib, zone, jurisdiction, host}'

# 4. Delete it; once the operation ends the VM is gone.
op=$(call DELETE "/orgs/$org/vms/$vm" | jq -r .id)
echo "deleting VM $vm (operation $op)"
wait_op "$op"
if call GET "/orgs/$org/vms/$vm" >/dev/null 2>&1; then
	echo "VM $vm is still there after its delete operation" >&2
	exit 1
fi
echo "VM $vm deleted"
