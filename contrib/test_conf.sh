#!/bin/sh
# test_conf.sh: contrib/btblockd.conf names every option of btblockd --help with its default, and btblockd accepts it.
#
# Offline: every option of --help that the config file can hold has a
# "#name value" or "# name value (example)" line, and each "(default V)"
# of --help is the value shown.  As root, in a throw-away network
# namespace: the file with every "#name value" line uncommented starts the
# daemon. That part runs in the root tier only (BTBLOCKD_ROOT_TESTS=1,
# "make check-root"), where it fails without root; it skips loudly
# otherwise, and with BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

srcdir=${BTBLOCKD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BTBLOCKD=${BTBLOCKD:-src/btblockd}
conf=$srcdir/contrib/btblockd.conf
# shellcheck source-path=SCRIPTDIR source=../tests/lib.sh
. "$srcdir/tests/lib.sh"
ns=
daemon_pid=

cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
}
tmpdir_trap cleanup

"$BTBLOCKD" --help >"$tmp/help"
grep -o -e '--[a-z][a-z-]*' "$tmp/help" | sort -u >"$tmp/options"
n=0
while read -r opt; do
	name=${opt#--}
	case $name in config | read-pcap | help | version) continue ;; esac
	n=$((n + 1))
	if ! grep -q -e "^#$name\\( \\|\$\\)" -e "^# $name " "$conf"; then
		fail "--$name is not in contrib/btblockd.conf"
		continue
	fi
	# "(default V)" in --help, V a plain value: the file shows the same.
	def=$(sed -n "s/^ *\\(-[a-zA-Z], \\)\\{0,1\\}--$name [^ ]* .*(default \\([0-9a-zA-Z./x]*\\)).*/\\2/p" "$tmp/help")
	if [ -n "$def" ] && grep -q "^#$name " "$conf" &&
		! grep -qx "#$name $def" "$conf"; then
		fail "contrib/btblockd.conf: --$name defaults to $def, the file says: $(grep "^#$name " "$conf")"
	fi
done <"$tmp/options"
[ "$fails" = 0 ] && ok "all $n options of btblockd --help are in contrib/btblockd.conf with their defaults"

if [ "${BTBLOCKD_ROOT_TESTS:-0}" != 1 ]; then
	echo "*** SKIP: starting btblockd with the file needs root: the root tier runs it (make check-root) ***" >&2
elif [ "${BTBLOCKD_SKIP_KERNEL_TESTS:-0}" = 1 ]; then
	echo "*** SKIP: starting btblockd with the file (BTBLOCKD_SKIP_KERNEL_TESTS=1) ***" >&2
elif [ "$(id -u)" != 0 ]; then
	fail "starting btblockd with the file needs root; run make check-root as root, or set BTBLOCKD_SKIP_KERNEL_TESTS=1"
else
	# Every default uncommented, then the paths moved out of /run.
	sed -n 's/^#\([a-z]\)/\1/p' "$conf" |
		sed -e "s|^control .*|control $tmp/btblockd.sock|" \
			-e "s|^pidfile .*|pidfile $tmp/btblockd.pid|" >"$tmp/all.conf"
	ns=btbconf-$$
	ip netns add "$ns"
	ip netns exec "$ns" "$BTBLOCKD" -f -q 40 -c "$tmp/all.conf" >"$tmp/daemon.log" 2>&1 &
	daemon_pid=$!
	i=0
	while [ ! -S "$tmp/btblockd.sock" ] && [ "$i" -lt 50 ] && kill -0 "$daemon_pid" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ -S "$tmp/btblockd.sock" ] && [ -s "$tmp/btblockd.pid" ]; then
		ok "btblockd starts with every default of contrib/btblockd.conf uncommented ($(wc -l <"$tmp/all.conf") lines)"
	else
		fail "btblockd refused contrib/btblockd.conf with the defaults uncommented:"
		cat "$tmp/daemon.log"
	fi
fi

if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
