#!/bin/bash
# build-debian.sh OUT_DIR — builds Sirocco's Debian test guest: a debootstrap'd
# bookworm (minbase) with the real cloud-init, openssh-server and the cloud
# kernel, proving that real guests work (`make image-debian`).
#
# Output, in OUT_DIR:
#   disk.qcow2     the root filesystem: ext4 on the whole disk, label sirocco-root
#   vmlinuz        the kernel from its /boot
#   initrd.img     the initrd from its /boot
#   manifest.json  kernel version, the recipe hash, SHA-256 of the files
#
# Boot: -kernel vmlinuz -initrd initrd.img
#       -append 'root=/dev/vda rw console=ttyS0 panic=-1'
#       -drive file=disk.qcow2,if=virtio  (an overlay on it, preferably)
#       -drive file=seed.iso,if=virtio,format=raw,readonly=on  (NoCloud, label cidata;
#        as a q35 CD-ROM cloud-init does not find it)
#
# Needs root (debootstrap, chroot), debootstrap and e2fsprogs (mkfs.ext4 -d);
# takes about 1.5 min and 550 MB of downloads the first time (packages are
# cached in ${XDG_CACHE_HOME:-$HOME/.cache}/sirocco/debootstrap). Running it
# again with the same recipe does nothing.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUT_DIR" >&2
	exit 2
fi
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sirocco/debootstrap
cmdline="root=/dev/vda rw console=ttyS0 panic=-1"
# debootstrap does not resolve virtual packages: python3-cffi-backend provides
# the python3-cffi-backend-api-* that cloud-init's dependencies need.
# iperf3, iputils-ping and sudo are for the network tests and benchmarks
# (throughput between guests; the debian user spoofing from its own NIC).
include="cloud-init,openssh-server,python3-cffi-backend,linux-image-cloud-amd64,systemd-sysv,udev,ifupdown,isc-dhcp-client,iproute2,netbase,ca-certificates,iperf3,iputils-ping,sudo"

log() { echo "testguest-debian: $*" >&2; }
die() {
	log "$*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and chroot)"
if ! command -v debootstrap >/dev/null; then
	log "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2 ||
		die "cannot install debootstrap"
fi
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found: apt-get install e2fsprogs"
command -v qemu-img >/dev/null || die "qemu-img not found: apt-get install qemu-utils"

recipe=$(printf '%s\n' "$suite" "$mirror" "$include" | cat - "$here/build-debian.sh" | sha256sum | cut -d' ' -f1)
if [ -f "$out/manifest.json" ] && grep -q "\"recipe_sha256\": \"$recipe\"" "$out/manifest.json" &&
	[ -f "$out/disk.qcow2" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
	log "up to date in $out"
	exit 0
fi

mkdir -p "$out" "$cache"
work=$(mktemp -d "$out/.build.XXXXXX")
cleanup() {
	# debootstrap may leave /proc and /sys mounted in the tree after a failure.
	for m in proc sys dev/pts dev; do
		mountpoint -q "$work/rootfs/$m" 2>/dev/null && umount -l "$work/rootfs/$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT

root="$work/rootfs"
log "debootstrap $suite (minbase) into $root"
debootstrap --variant=minbase --cache-dir="$cache" --include="$include" \
	"$suite" "$root" "$mirror" >&2

# Configuration: cloud-init looks only for NoCloud (no network probing for
# other clouds), the serial console gets a getty, the root is the whole disk.
mkdir -p "$root/etc/cloud/cloud.cfg.d"
cat >"$root/etc/cloud/cloud.cfg.d/90-sirocco.cfg" <<'EOF'
# Sirocco: the seed is a NoCloud disk labelled cidata.
datasource_list: [ NoCloud, None ]
# minbase has no locales package; cc_locale would fail and mark the boot an error.
locale: "false"
EOF
echo "LABEL=sirocco-root / ext4 defaults,errors=remount-ro 0 1" >"$root/etc/fstab"
rm -f "$root/etc/hostname"
printf 'auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n' >"$root/etc/network/interfaces"
chroot "$root" systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1 || true
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log

krel=$(basename "$(ls -d "$root"/lib/modules/*-cloud-amd64 | head -n1)")
[ -n "$krel" ] || die "no cloud kernel in the tree"
cp "$root/boot/vmlinuz-$krel" "$work/vmlinuz"
cp "$root/boot/initrd.img-$krel" "$work/initrd.img"
kver=$(chroot "$root" dpkg-query -W -f='${Version}' "linux-image-$krel")
civer=$(chroot "$root" dpkg-query -W -f='${Version}' cloud-init)

# mkfs.ext4 -d fills the filesystem from the tree without mounting it.
used=$(du -sm "$root" | cut -f1)
size=$(((used * 13 / 10 + 256) / 64 * 64))
log "making a ${size} MiB ext4 root (tree ${used} MiB)"
mkfs.ext4 -q -F -L sirocco-root -d "$root" "$work/disk.raw" "${size}M"
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
rm -f "$work/disk.raw"

sum() { sha256sum "$1" | cut -d' ' -f1; }
cat >"$work/manifest.json" <<EOF
{
  "suite": "$suite",
  "kernel_package": "linux-image-$krel",
  "kernel_version": "$kver",
  "kernel_release": "$krel",
  "cloud_init_version": "$civer",
  "recipe_sha256": "$recipe",
  "cmdline": "$cmdline",
  "vmlinuz_sha256": "$(sum "$work/vmlinuz")",
  "initrd_sha256": "$(sum "$work/initrd.img")",
  "disk_sha256": "$(sum "$work/disk.qcow2")"
}
EOF
rm -f "$out/manifest.json"
for f in vmlinuz initrd.img disk.qcow2 manifest.json; do
	mv -f "$work/$f" "$out/$f"
done
log "built $out (linux-image-$krel $kver, cloud-init $civer)"
