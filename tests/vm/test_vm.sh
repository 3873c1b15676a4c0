#!/bin/bash
# tests/vm/test_vm.sh: the nft queue ruleset and btblockd on Debian's stock kernel, booted under qemu (TCG).
#
# Builds (or reuses from the build tree) a small initramfs with btblockd,
# btblockd-firewall, nft, ip and python3 (tests/vm/build-image.sh), boots
# Debian 12's cloud kernel on it with qemu-system-x86_64 -accel tcg and no
# network device, and reads the guest's "VMRESULT" / "VMCHECK" lines from
# the serial console (tests/vm/guest-init.sh says what is checked).  Fails
# with the guest's whole console output when a check fails, a result is
# missing or the time limit passes.
#
# The image is cached in $BTBLOCKD_BUILDDIR/tests/vm/cache, keyed by a hash
# of every input (binaries, ruleset, scripts, kernel package), and the
# downloaded .deb files are kept there too.
#
# Needs root (apt-get download into the build tree, the kernel package
# lists) and qemu-system-x86_64.  Without them it fails loudly, or skips
# (77) when BTBLOCKD_SKIP_KERNEL_TESTS=1.
# Environment: VM_TIMEOUT (s, default 420), VM_SMP (default 2), VM_KEEP_LOG.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
VM_TIMEOUT=${VM_TIMEOUT:-420}
VM_SMP=${VM_SMP:-2}
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "${BTBLOCKD_SRCDIR:-$here/../..}/tests/lib.sh"

unavailable() {
	if [ "${BTBLOCKD_SKIP_KERNEL_TESTS:-0}" = 1 ]; then
		printf '\n*** SKIP: %s (BTBLOCKD_SKIP_KERNEL_TESTS=1) ***\n\n' "$*" >&2
		exit 77
	fi
	printf '\n*** FAIL: %s ***\n' "$*" >&2
	printf '*** This test needs root, qemu-system-x86_64 (package qemu-system-x86) and Debian apt; set BTBLOCKD_SKIP_KERNEL_TESTS=1 to skip it. ***\n\n' >&2
	exit 1
}

[ "$(id -u)" = 0 ] || unavailable "not running as root (uid $(id -u))"
for tool in qemu-system-x86_64 apt-get dpkg timeout sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || unavailable "required tool '$tool' not found"
done
for var in BTBLOCKD BTBLOCKD_FIREWALL; do
	eval "path=\${$var:-}"
	# shellcheck disable=SC2154 # set by the eval above
	if [ -z "$path" ] || [ ! -x "$path" ]; then
		die "$var is not set to an executable (got '$path'); run through 'make check' or export it"
	fi
done
BTBLOCKD_SRCDIR=${BTBLOCKD_SRCDIR:-$(cd "$here/../.." && pwd)}
BTBLOCKD_BUILDDIR=${BTBLOCKD_BUILDDIR:-$(pwd)}
BTBLOCKD_RULESET=${BTBLOCKD_RULESET:-$BTBLOCKD_SRCDIR/nft/btblockd.nft}
export BTBLOCKD_SRCDIR BTBLOCKD_BUILDDIR BTBLOCKD_RULESET

start=$(date +%s)
cache="$BTBLOCKD_BUILDDIR/tests/vm/cache"
mkdir -p "$cache/debs"

# The kernel package the meta package points to (part of the key, so a new
# Debian kernel makes a new image).  Empty when the apt lists are missing:
# build-image.sh then runs apt-get update.
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
kver=""
[ -z "$kpkg" ] || kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/ { print $2 }')
key=$( {
	printf 'kernel %s %s\n' "$kpkg" "$kver"
	# The host files copied into the image come from these packages.
	dpkg-query -W -f '${Package} ${Version}\n' nftables iproute2 python3.11-minimal \
		libpython3.11-stdlib libc6 busybox-static 2>/dev/null || true
	sha256sum "$BTBLOCKD" "$BTBLOCKD_FIREWALL" "$BTBLOCKD_RULESET" \
		"$here/build-image.sh" "$here/guest-init.sh" \
		"$BTBLOCKD_SRCDIR/tests/lib.sh" "$BTBLOCKD_SRCDIR/tests/lab-common.sh" \
		"$BTBLOCKD_SRCDIR/nft/btblockd-firewall-xtables.sh" \
		"$BTBLOCKD_SRCDIR/tests/integration/traffic.py" | cut -d' ' -f1
	} | sha256sum | cut -c1-16)
image="$cache/image-$key"
built=cached
if [ -z "$kpkg" ] || [ ! -s "$image/initrd.gz" ] || [ ! -s "$image/vmlinuz" ]; then
	b0=$(date +%s)
	rm -rf "$cache"/image-*
	"$here/build-image.sh" "$image" "$cache/debs" || die "building the VM image failed"
	built="built in $(( $(date +%s) - b0 )) s"
fi
echo "image: $image ($built); kernel $(cat "$image/kernel-version")"

console="$cache/console.log"
rm -f "$console"
b0=$(date +%s)
rc=0
# -nic none: the guest has no network device at all; its traffic stays in
# its own namespaces.  -no-reboot: a guest panic or reboot ends qemu.
timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -m 512M -smp "$VM_SMP" \
	-nographic -nic none -no-reboot -serial stdio -monitor none \
	-kernel "$image/vmlinuz" -initrd "$image/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 btbvm_watchdog=$((VM_TIMEOUT - 30))" \
	</dev/null >"$console" 2>&1 || rc=$?
boot_seconds=$(( $(date +%s) - b0 ))
# The serial console writes CR LF, and the firmware's escape sequences can
# precede the first line: results are what follows the VMRESULT/VMCHECK tag.
tr -d '\r' <"$console" >"$console.txt"
grep -o 'VM\(RESULT\|CHECK\) .*' "$console.txt" >"$cache/results.txt" || true
results="$cache/results.txt"

dump() {
	echo "---- guest console ($console) ----" >&2
	cat "$console.txt" >&2
	echo "---- end of guest console ----" >&2
}

if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	dump
	die "qemu did not finish within VM_TIMEOUT=${VM_TIMEOUT}s"
fi
[ "$rc" = 0 ] || { dump; die "qemu exited with status $rc"; }
grep -q '^VMRESULT end$' "$results" || { dump; die "the guest did not finish its checks (no 'VMRESULT end')"; }

res() {
	sed -n "s/^VMRESULT \\(.* \\)\\{0,1\\}$1=\\([^ ]*\\).*/\\2/p" "$results" | head -n 1
}

echo "guest kernel: $(res kernel) ($(res cpus) CPUs under TCG, $(res nft_version | tr '_' ' '))"
echo "modules in the image: $(res modules_available)"
echo "modules loaded after btblockd-firewall up: $(res modules_after_firewall)"
echo "modules loaded after btblockd started: $(res modules_after_daemon)"
echo "backend chosen by --backend auto: $(res backend_auto); loaded: backend $(res backend) queues $(res queues) $(res mode)"
echo "queue rule: $(res queue_rule | tr '_' ' ')"
echo "packets per queue: queue 0: $(res queue0_packets), queue 1: $(res queue1_packets)"
grep '^VMRESULT blocked_flow' "$results" | sed 's/^VMRESULT /blocked flow: /'
grep '^VMRESULT ban_set' "$results" | sed 's/^VMRESULT /ban set: /'
grep '^VMRESULT nft_blocked' "$results" | sed 's/^VMRESULT /counters: /'
echo "offloaded transfer: $(res offload_bytes) bytes in $(res offload_seconds) s intact; forward hook saw $(res offload_forward_packets) packets, queued $(res offload_queued_packets), daemon saw $(res offload_daemon_packets)"
echo "bypass: $(grep '^VMRESULT bypass' "$results" | sed 's/^VMRESULT //' | tr '\n' ' ')"
echo "fail-closed: $(grep '^VMRESULT fail_closed' "$results" | sed 's/^VMRESULT //')"
echo "phases: $(grep -o 'phase_[a-z_]*=[0-9]*' "$results" | sed 's/^phase_//; s/_seconds=/ /; s/$/ s/' | paste -sd, - | sed 's/,/, /g')"
grep '^VMCHECK' "$results"
echo "guest checks took $(res guest_seconds) s; qemu ran $boot_seconds s; test total $(( $(date +%s) - start )) s"

failed=$(grep -c '^VMCHECK [^ ]* FAIL' "$results" || true)
if [ "$failed" != 0 ] || ! grep -q '^VMRESULT status=pass$' "$results"; then
	dump
	die "$failed check(s) failed in the guest"
fi
echo "PASS: btblockd with the nft queue ruleset on $(res kernel)"
