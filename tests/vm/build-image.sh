#!/bin/bash
# tests/vm/build-image.sh: builds the test VM (Debian cloud kernel + initramfs with btblockd) from Debian packages.
#
# Usage: build-image.sh OUTDIR DEBCACHE
#   OUTDIR    receives vmlinuz, initrd.gz and kernel-version (made anew)
#   DEBCACHE  keeps the downloaded .deb files between builds
# Environment: BTBLOCKD, BTBLOCKD_FIREWALL, BTBLOCKD_RULESET (the project's
# files to test), BTBLOCKD_SRCDIR (for tests/vm/guest-init.sh, the lab it
# sources and tests/integration/traffic.py), VM_KERNEL_PKG (default: what Debian's
# linux-image-cloud-amd64 meta package points to).
#
# Only Debian's archive is used: the kernel and busybox-static are fetched
# with apt-get download and unpacked with dpkg -x; nft, ip, python3 and the
# shared libraries of every binary are the host's own files from its
# installed Debian packages (contrib/install-deps.sh), copied with their
# ldd closure.  The image is a gzip'ed newc cpio made by busybox, so no
# host cpio is needed.
set -eu

out=${1:?usage: build-image.sh OUTDIR DEBCACHE}
debs=${2:?usage: build-image.sh OUTDIR DEBCACHE}
: "${BTBLOCKD:?BTBLOCKD must point to the btblockd binary}"
: "${BTBLOCKD_FIREWALL:?BTBLOCKD_FIREWALL must point to btblockd-firewall}"
: "${BTBLOCKD_SRCDIR:?BTBLOCKD_SRCDIR must point to the source tree}"
ruleset=${BTBLOCKD_RULESET:-$BTBLOCKD_SRCDIR/nft/btblockd.nft}

# The only kernel modules in the image, with their dependencies: what the
# ruleset and the daemon need (the guest lets the kernel autoload them, so
# a missing one fails the test).  In 6.1, nf_tables itself carries sets
# (hash), dynset, counter, meta, payload and the reject core; named
# counters ("counter name") need nft_objref, the queue budget's per-flow
# limit nft_limit.
MODULES="nf_tables nft_objref nft_ct nft_limit nft_queue nft_reject_inet nfnetlink_queue veth"
# Python modules that traffic.py and the guest's control client import.
PY_IMPORTS="argparse hashlib http.client random select socket struct sys threading time json
	encodings.ascii encodings.latin_1 encodings.utf_8"

log() {
	printf '[build-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
	printf 'build-image: %s\n' "$*" >&2
	exit 1
}

for tool in apt-get apt-cache dpkg ldd gzip; do
	command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found"
done
python=/usr/bin/python3.11
[ -x "$python" ] || die "$python (Debian's python3.11) not found: install python3"
nft=$(command -v nft) || die "nft not found: install nftables"
ipbin=$(command -v ip) || die "ip not found: install iproute2"

mkdir -p "$debs"
# The package name and version the meta package points to now.
kpkg=${VM_KERNEL_PKG:-}
if [ -z "$kpkg" ]; then
	kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
if [ -z "$kpkg" ] || ! apt-cache policy "$kpkg" | grep -q 'Candidate: [0-9]'; then
	log "apt lists lack the kernel package; apt-get update"
	apt-get update -qq >&2 || die "apt-get update failed"
	kpkg=${VM_KERNEL_PKG:-$(apt-cache depends linux-image-cloud-amd64 |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')}
fi
[ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"

# fetch PKG: prints the path of PKG's candidate .deb in the cache,
# downloading it when absent.
fetch() {
	local ver file
	ver=$(apt-cache policy "$1" | awk '/Candidate:/ { print $2 }')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		die "no candidate version for $1"
	fi
	# apt-get download writes the epoch's colon as %3a.
	file="$debs/${1}_$(printf '%s' "$ver" | sed 's/:/%3a/')_amd64.deb"
	if [ ! -s "$file" ]; then
		log "downloading $1 $ver"
		(cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$1=$ver" >&2) ||
			die "apt-get download $1=$ver failed"
	fi
	[ -s "$file" ] || die "download of $1 did not produce $file"
	printf '%s\n' "$file"
}

kdeb=$(fetch "$kpkg")
bbdeb=$(fetch busybox-static)

work=$(mktemp -d "${TMPDIR:-/tmp}/btb-vm-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib/x86_64-linux-gnu \
	"$root"/usr/lib64 "$root"/usr/local/sbin "$root"/usr/share/btblockd \
	"$root"/proc "$root"/sys "$root"/dev "$root"/run "$root"/tmp "$root"/etc \
	"$root"/test "$root"/var
# Merged /usr: every library path ldd prints exists in the image.
ln -s usr/bin "$root"/bin
ln -s usr/sbin "$root"/sbin
ln -s usr/lib "$root"/lib
ln -s usr/lib64 "$root"/lib64
ln -s ../run "$root"/var/run

log "unpacking $(basename "$kdeb") and $(basename "$bbdeb")"
dpkg -x "$kdeb" "$work/kernel"
dpkg -x "$bbdeb" "$work/busybox"
bb=$work/busybox/bin/busybox
[ -x "$bb" ] || die "busybox-static has no bin/busybox"
cp "$bb" "$root"/usr/bin/busybox
ln -s busybox "$root"/usr/bin/sh
# The kernel's module autoloader runs /sbin/modprobe.
ln -s ../bin/busybox "$root"/usr/sbin/modprobe

kver=$(basename "$(find "$work/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n 1)")
if [ -z "$kver" ] || [ ! -f "$work/kernel/boot/vmlinuz-$kver" ]; then
	die "no kernel in $kdeb"
fi

# Module closure: busybox depmod over the whole tree, then the listed
# modules and their dependencies only, then depmod again on that subset.
"$bb" depmod -b "$work/kernel" "$kver"
kmods=$work/kernel/lib/modules/$kver
mods=""
for m in $MODULES; do
	line=$(grep -E "/$m\\.ko(\\.xz)?:" "$kmods/modules.dep") ||
		die "module $m not in $kpkg (built in? then drop it from MODULES)"
	mods="$mods $(printf '%s\n' "$line" | tr -d ':')"
done
mkdir -p "$root/lib/modules/$kver"
# shellcheck disable=SC2086 # one word per module path
for f in $(printf '%s\n' $mods | sort -u); do
	mkdir -p "$root/lib/modules/$kver/$(dirname "$f")"
	cp "$kmods/$f" "$root/lib/modules/$kver/$f"
done
cp "$kmods/modules.order" "$kmods/modules.builtin" "$root/lib/modules/$kver/"
"$bb" depmod -b "$root" "$kver"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"

# copy_elf SRC DEST: a binary and every shared library it loads.
copy_elf() {
	local lib
	cp -L "$1" "$root$2"
	for lib in $(ldd "$1" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }'); do
		# /lib/x86_64-linux-gnu/x -> usr/lib/x86_64-linux-gnu/x
		case $lib in
		/usr/*) dest=$lib ;;
		*) dest=/usr$lib ;;
		esac
		[ -e "$root$dest" ] && continue
		mkdir -p "$root$(dirname "$dest")"
		cp -L "$lib" "$root$dest"
	done
}

copy_elf "$BTBLOCKD" /usr/local/sbin/btblockd
cp "$BTBLOCKD_FIREWALL" "$root"/usr/local/sbin/btblockd-firewall
cp "$ruleset" "$root"/usr/share/btblockd/btblockd.nft
cp "$BTBLOCKD_SRCDIR/nft/btblockd-firewall-xtables.sh" "$root"/usr/share/btblockd/
copy_elf "$nft" /usr/sbin/nft
copy_elf "$ipbin" /usr/sbin/ip
copy_elf "$python" /usr/bin/python3
mkdir -p "$root"/etc/iproute2
cp "$BTBLOCKD_SRCDIR/tests/integration/traffic.py" "$root"/test/traffic.py
cp "$BTBLOCKD_SRCDIR/tests/lib.sh" "$BTBLOCKD_SRCDIR/tests/lab-common.sh" "$root"/test/
cp "$BTBLOCKD_SRCDIR/tests/vm/guest-init.sh" "$root"/init
chmod 755 "$root"/init "$root"/usr/local/sbin/btblockd-firewall
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root"/etc/passwd
printf 'root:x:0:\n' >"$root"/etc/group

# Only the Python modules the guest imports (with -I -S, as the guest runs
# it), found by importing them with the same interpreter here.
# shellcheck disable=SC2086 # one argument per module name
pyfiles=$("$python" -I -S -c '
import sys
for m in sys.argv[1:]:
    __import__(m)
for mod in list(sys.modules.values()):
    f = getattr(mod, "__file__", None)
    if f:
        print(f)
' $PY_IMPORTS) || die "$python cannot import: $PY_IMPORTS"
for f in $pyfiles; do
	case $f in
	/usr/lib/python3.11/*) ;;
	*) die "python module outside /usr/lib/python3.11: $f (not Debian's python3.11?)" ;;
	esac
	case $f in
	# OpenSSL (5 MB) is not needed: hashlib falls back to the built-in
	# sha256 and http.client works without ssl.
	*/_hashlib.*.so | */_ssl.*.so | */ssl.py) continue ;;
	esac
	mkdir -p "$root$(dirname "$f")"
	case $f in
	*.so) copy_elf "$f" "$f" ;;
	*) cp "$f" "$root$f" ;;
	esac
done
# Byte-compiled now, so that the slow emulated CPU does not compile them.
"$python" -I -m compileall -q "$root/usr/lib/python3.11" >/dev/null ||
	die "compileall failed"

log "initramfs: $(du -sk "$root" | cut -f1) KiB unpacked, kernel $kver"
(cd "$root" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc -R 0:0 2>/dev/null) |
	gzip -6 >"$work/initrd.gz"
mkdir -p "$out"
cp "$work/vmlinuz" "$out/vmlinuz"
cp "$work/initrd.gz" "$out/initrd.gz.tmp"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
printf '%s %s\n' "$kver" "$(basename "$kdeb")" >"$out/kernel-version"
log "image in $out: initrd $(du -k "$out/initrd.gz" | cut -f1) KiB, vmlinuz $(du -k "$out/vmlinuz" | cut -f1) KiB"
