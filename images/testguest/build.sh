#!/bin/bash
# build.sh OUT_DIR — builds Sirocco's busybox test guest from Debian packages.
#
# Output, in OUT_DIR:
#   vmlinuz        the Debian cloud kernel (linux-image-6.1.*-cloud-amd64)
#   initrd.img     a gzip'd newc cpio: busybox-static, the guest's /init, the
#                  virtio, isofs, vfat, ACPI button and evdev modules
#   manifest.json  package versions, a hash of this recipe, SHA-256 of both files
#
# Boot it with the kernel command line `console=ttyS0 panic=-1` (see README.md).
#
# Nothing is installed on the host: the .debs are fetched with `apt-get
# download` into ${XDG_CACHE_HOME:-$HOME/.cache}/sirocco/debs and unpacked with
# `dpkg-deb -x` in a temporary directory. Running it again with the same package
# versions and the same recipe does nothing.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUT_DIR" >&2
	exit 2
fi
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sirocco/debs

# Modules the guest loads, by name; their dependencies are added from
# modules.dep. Missing ones (built in, or absent from a future kernel) are
# skipped.
modules="virtio_pci virtio_blk virtio_net virtio_console virtio-rng isofs vfat nls_iso8859_1 button evdev"

log() { echo "testguest: $*" >&2; }
die() {
	log "$*"
	exit 1
}

for tool in apt-cache apt-get dpkg-deb sha256sum gzip find; do
	command -v "$tool" >/dev/null || die "$tool not found; this script needs a Debian host"
done

# Builds into the same OUT_DIR (make image, parallel test binaries) take turns
# on OUT_DIR.lock; internal/compute/testguest takes it itself and says so.
if [ -z "${TESTGUEST_LOCK_HELD:-}" ] && command -v flock >/dev/null; then
	mkdir -p "$(dirname "$out")"
	exec 9>"${out%/}.lock"
	flock 9
fi

# resolve_kernel prints the versioned package linux-image-cloud-amd64 depends on.
resolve_kernel() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1
}

# resolve sets kpkg, kver, bver and krel from apt's lists.
resolve() {
	kpkg=$(resolve_kernel)
	[ -n "$kpkg" ] || return 1
	# One apt-cache run for both: each run loads the whole cache (~1 s).
	local versions
	versions=$(apt-cache policy "$kpkg" busybox-static 2>/dev/null |
		awk '/^[^ ]/ { pkg = $1; sub(/:$/, "", pkg) } /^ *Candidate:/ { print pkg, $2 }')
	kver=$(awk -v p="$kpkg" '$1 == p { print $2 }' <<<"$versions")
	bver=$(awk '$1 == "busybox-static" { print $2 }' <<<"$versions")
	krel=${kpkg#linux-image-}
	[ -n "$kver" ] && [ "$kver" != "(none)" ] && [ -n "$bver" ] && [ "$bver" != "(none)" ]
}

update() {
	log "$1; running apt-get update"
	apt-get update -q >&2 || die "apt-get update failed (needs root and Debian's mirrors)"
}

if ! resolve; then
	update "apt lists lack linux-image-cloud-amd64 or busybox-static"
	resolve || die "cannot resolve linux-image-cloud-amd64's kernel package and busybox-static"
fi

# The recipe hash makes a change to this script or the guest's files rebuild.
recipe=$(cat "$here/build.sh" "$here/init" "$here/udhcpc.script" | sha256sum | cut -d' ' -f1)

# Idempotency: same packages, same recipe, files intact -> nothing to do.
if [ -f "$out/manifest.json" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
	m=$(cat "$out/manifest.json")
	ksum=$(sha256sum "$out/vmlinuz" | cut -d' ' -f1)
	isum=$(sha256sum "$out/initrd.img" | cut -d' ' -f1)
	if [[ $m == *"\"kernel_version\": \"$kver\""* && $m == *"\"kernel_package\": \"$kpkg\""* &&
		$m == *"\"busybox_version\": \"$bver\""* && $m == *"\"recipe_sha256\": \"$recipe\""* &&
		$m == *"\"vmlinuz_sha256\": \"$ksum\""* && $m == *"\"initrd_sha256\": \"$isum\""* ]]; then
		log "up to date in $out ($kpkg $kver, busybox-static $bver)"
		exit 0
	fi
fi

# fetch PKG VERSION prints the path of the cached .deb, downloading it if needed.
fetch() {
	local pkg=$1 ver=$2 deb
	# apt-get download names files PKG_VERSION_ARCH.deb with ':' escaped as %3a.
	deb="$cache/${pkg}_${ver//:/%3a}_amd64.deb"
	if [ ! -s "$deb" ]; then
		mkdir -p "$cache"
		log "downloading $pkg=$ver"
		(cd "$cache" && apt-get download -q "$pkg=$ver" >&2) || return 1
	fi
	[ -s "$deb" ] || return 1
	echo "$deb"
}

# Stale lists name versions the mirror no longer has: update, resolve again.
if ! kdeb=$(fetch "$kpkg" "$kver") || ! bdeb=$(fetch busybox-static "$bver"); then
	update "download failed"
	resolve || die "cannot resolve the packages after apt-get update"
	kdeb=$(fetch "$kpkg" "$kver") || die "cannot download $kpkg=$kver"
	bdeb=$(fetch busybox-static "$bver") || die "cannot download busybox-static=$bver"
fi

mkdir -p "$out"
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

dpkg-deb -x "$kdeb" "$work/kernel"
dpkg-deb -x "$bdeb" "$work/busybox"
bb="$work/busybox/bin/busybox"
[ -x "$bb" ] || die "busybox-static has no /bin/busybox"

# The package ships no modules.dep (depmod runs at install time); busybox's
# depmod writes one for the unpacked tree.
kmods=""
for d in "$work/kernel/lib/modules/$krel" "$work/kernel/usr/lib/modules/$krel"; do
	[ -d "$d" ] && kmods=$d && break
done
[ -n "$kmods" ] || die "$kpkg has no modules for $krel"
"$bb" depmod -b "${kmods%/lib/modules/$krel}" "$krel"
[ -f "$kmods/modules.dep" ] || die "depmod wrote no modules.dep"

# deps[path] = "dep dep ..." from modules.dep; byname[name] = path.
declare -A deps byname seen
while IFS= read -r line; do
	path=${line%%:*}
	deps[$path]=${line#*:}
	name=$(basename "$path" .ko)
	byname[$name]=$path
	byname[${name//-/_}]=$path
done <"$kmods/modules.dep"

order=()
# add PATH appends PATH after its dependencies (depth first, each once).
add() {
	local p=$1 d
	[ -n "${seen[$p]:-}" ] && return
	seen[$p]=1
	for d in ${deps[$p]:-}; do
		add "$d"
	done
	order+=("$p")
}
for m in $modules; do
	p=${byname[$m]:-${byname[${m//-/_}]:-}}
	if [ -z "$p" ]; then
		log "module $m not found (built in?); skipping"
		continue
	fi
	add "$p"
done

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,root,etc/acpi/PWRF,lib/modules,www}
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list-full); do
	[ "$applet" = bin/busybox ] && continue
	ln -sf /bin/busybox "$root/$applet"
done
: >"$root/etc/modules"
for p in "${order[@]}"; do
	cp "$kmods/$p" "$root/lib/modules/"
	echo "$(basename "$p")" >>"$root/etc/modules"
done
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/udhcpc.script" "$root/etc/udhcpc.script"
# busybox acpid runs /etc/acpi/PWRF/00000080 for the power button.
printf '#!/bin/sh\necho "testguest: ACPI power button, powering off" >/dev/console\nsync\npoweroff -f\n' >"$root/etc/acpi/PWRF/00000080"
chmod 0755 "$root/etc/acpi/PWRF/00000080"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
echo "$krel" >"$root/etc/kernel-release"

# Sorted order and a fixed mtime keep the archive stable (busybox cpio still
# records inode numbers, so it is not bit-for-bit reproducible).
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc 2>/dev/null) | gzip -n -6 >"$work/initrd.img"
cp "$work/kernel/boot/vmlinuz-$krel" "$work/vmlinuz"

ksum=$(sha256sum "$work/vmlinuz" | cut -d' ' -f1)
isum=$(sha256sum "$work/initrd.img" | cut -d' ' -f1)
modlist=$(printf '"%s", ' "${order[@]##*/}")
cat >"$work/manifest.json" <<EOF
{
  "kernel_package": "$kpkg",
  "kernel_version": "$kver",
  "kernel_release": "$krel",
  "busybox_package": "busybox-static",
  "busybox_version": "$bver",
  "recipe_sha256": "$recipe",
  "cmdline": "console=ttyS0 panic=-1",
  "modules": [${modlist%, }],
  "vmlinuz_sha256": "$ksum",
  "initrd_sha256": "$isum"
}
EOF

# Manifest last, so a half-written OUT_DIR never looks up to date.
rm -f "$out/manifest.json"
mv -f "$work/vmlinuz" "$out/vmlinuz"
mv -f "$work/initrd.img" "$out/initrd.img"
mv -f "$work/manifest.json" "$out/manifest.json"
log "built $out ($kpkg $kver, busybox-static $bver)"
