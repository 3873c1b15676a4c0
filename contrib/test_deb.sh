#!/bin/sh
# test_deb.sh: builds the Debian package from contrib/debian, lints it, installs it, checks it, purges it.
#
# Run by make check (as root), or by hand from a build directory:
#   BTBLOCKD_BUILDDIR=/path/to/build sh contrib/test_deb.sh
# Steps: "make distdir" into a temporary directory (so the package is
# built from exactly what a release tarball holds), contrib/debian copied
# to debian/ there, dpkg-buildpackage -us -uc -b (its log: the unprivileged
# tests ran, no namespace or VM test did), again with
# DEB_BUILD_OPTIONS=nocheck (no test ran), lintian (no errors allowed,
# also none with --pedantic; warnings printed), dpkg -i, the installed
# files, conffiles, the btblockd user, its log and state directories, versions,
# the logrotate rule (parsed, and run on a copy aimed at a temporary
# directory), the unit (its ordering and sandbox lines, systemd-analyze
# verify, also without nftables.service), the firewall helper finding
# the installed ruleset (dry run, in a throw-away namespace), the
# installed daemon started as the unit starts it (capability bounding
# set, umask, --user btblockd) in a throw-away namespace: uid, the
# capabilities left, root's btblockctl through the control socket, the
# kernel counters, the detection log reopened by btblockd after a
# rotation, the state file saved by btblockd at exit; then dpkg --purge and a check that nothing is left.  The machine is left as
# it was: the package is purged on any exit, a running systemd is kept
# from starting the service (policy-rc.d), and a btblockd package that
# was already installed makes the test skip instead of replacing it.
#
# Skipped (77) with BTBLOCKD_SKIP_KERNEL_TESTS=1 or BTBLOCKD_SKIP_DEB_TEST=1
# (it changes the machine), and inside a package build.  Without root or
# the Debian build tools it fails with the reason.
set -eu

srcdir=${BTBLOCKD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${BTBLOCKD_BUILDDIR:-}
# shellcheck source-path=SCRIPTDIR source=../tests/lib.sh
. "$srcdir/tests/lib.sh"
[ "${BTBLOCKD_SKIP_KERNEL_TESTS:-0}" = 1 ] && skip "test_deb.sh: BTBLOCKD_SKIP_KERNEL_TESTS=1"
[ "${BTBLOCKD_SKIP_DEB_TEST:-0}" = 1 ] && skip "test_deb.sh: BTBLOCKD_SKIP_DEB_TEST=1"
# Inside dpkg-buildpackage (our own or any other): never recurse.
[ -n "${DEB_BUILD_ARCH:-}${DH_INTERNAL_OPTIONS:-}" ] && skip "test_deb.sh: inside a package build"

if [ "$(id -u)" != 0 ]; then
	echo "test_deb.sh installs a package: run make check as root, or set BTBLOCKD_SKIP_DEB_TEST=1" >&2
	exit 1
fi
for tool in dpkg-buildpackage dh fakeroot lintian; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "test_deb.sh: $tool is missing (contrib/install-deps.sh installs dpkg-dev, debhelper, fakeroot, lintian)" >&2
		exit 1
	fi
done
status=$(dpkg-query -W -f='${Status}' btblockd 2>/dev/null || true)
case $status in
*" not-installed" | "") ;;
*) skip "test_deb.sh: a btblockd package is already installed ($status); not replacing it" ;;
esac

installed=no
policy=
ns=
daemon=

cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	if [ "$installed" = yes ]; then
		dpkg --purge btblockd >/dev/null 2>&1 || echo "test_deb.sh: dpkg --purge btblockd failed" >&2
	fi
	[ -n "$policy" ] && rm -f "$policy"
	for n in $ns; do
		ip netns del "$n" 2>/dev/null
	done
}
tmpdir_trap cleanup
# check DESCRIPTION CMD...: ok or fail, by CMD's status.
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
started=$(date +%s)

# --- the source, as in a release tarball -----------------------------------
if [ -z "$builddir" ] || [ ! -f "$builddir/Makefile" ]; then
	builddir=$tmp/configure
	mkdir -p "$builddir"
	(cd "$builddir" && "$srcdir/configure" -q)
fi
make -s -C "$builddir" distdir distdir="$tmp/src" >/dev/null
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$builddir/Makefile")
cp -R "$tmp/src/contrib/debian" "$tmp/src/debian"
chmod -R u+w "$tmp/src"

# --- build -------------------------------------------------------------------
# Run from make check, the environment carries its MAKEFLAGS (TESTS=...):
# the package's own make must not inherit them.
unset MAKEFLAGS MFLAGS MAKELEVEL
if (cd "$tmp/src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	tail -40 "$tmp/build.log"
	fail "dpkg-buildpackage failed (log above)"
	exit 1
fi
deb=$(ls "$tmp"/btblockd_"$version"_*.deb)
echo "built $(basename "$deb"): $(wc -c <"$deb") bytes"
built=$(date +%s)
# dh_auto_test ran the unprivileged tier, and only that.
if grep -q '^PASS: tests/unit/test_packet$' "$tmp/build.log" &&
	grep -q '^PASS: man/test_man.sh$' "$tmp/build.log"; then
	ok "the package build ran the unit and man page tests"
else
	fail "the package build did not run the unit tests"
fi
ran=$(grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS): ' "$tmp/build.log" |
	grep -E 'tests/integration/|tests/vm/|tests/e2e/|nft/test_firewall|contrib/test_deb|_ambient' || true)
if [ -z "$ran" ]; then
	ok "the package build ran no namespace, VM or package test ($(grep -c '^PASS: ' "$tmp/build.log") tests passed)"
else
	fail "the package build ran tests that need root: $ran"
fi
# nocheck: no test at all (the .deb of this build is set aside).
mkdir "$tmp/nocheck"
if (cd "$tmp/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) \
	>"$tmp/nocheck/build.log" 2>&1; then
	if grep -q -E '^(PASS|FAIL|SKIP): |make.* check' "$tmp/nocheck/build.log"; then
		fail "DEB_BUILD_OPTIONS=nocheck: tests ran anyway"
	else
		ok "DEB_BUILD_OPTIONS=nocheck: built, no test ran"
	fi
else
	tail -20 "$tmp/nocheck/build.log"
	fail "DEB_BUILD_OPTIONS=nocheck: dpkg-buildpackage failed"
fi

# --- lintian -----------------------------------------------------------------
lintian --fail-on error \
	"$tmp"/btblockd_"$version"_*.changes >"$tmp/lintian" 2>&1 && lint=0 || lint=$?
sed 's/^/    lintian: /' "$tmp/lintian"
if [ "$lint" = 0 ]; then
	ok "lintian: no errors ($(grep -c '^W:' "$tmp/lintian" || true) warnings, listed above)"
else
	fail "lintian reports errors"
fi
lintian --pedantic --fail-on error,warning,pedantic "$deb" >"$tmp/pedantic" 2>&1 && lint=0 || lint=$?
sed 's/^/    lintian --pedantic: /' "$tmp/pedantic"
if [ "$lint" = 0 ]; then
	ok "lintian --pedantic: clean"
else
	fail "lintian --pedantic reports problems (above)"
fi

# --- install -------------------------------------------------------------------
# With systemd running, postinst would start the service (and load the
# ruleset into the host's firewall): forbid that for this install.
if [ -d /run/systemd/system ]; then
	if [ -e /usr/sbin/policy-rc.d ]; then
		skip "test_deb.sh: systemd is running and /usr/sbin/policy-rc.d exists: cannot keep the service from starting"
	fi
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
fi
installed=yes
if dpkg -i "$deb" >"$tmp/install.log" 2>&1; then
	ok "dpkg -i $(basename "$deb")"
else
	cat "$tmp/install.log"
	fail "dpkg -i failed"
	exit 1
fi

for f in /usr/sbin/btblockd /usr/sbin/btblockd-firewall /usr/bin/btblockctl; do
	check "installed, executable: $f" test -x "$f"
done
for f in /usr/share/man/man8/btblockd.8.gz /usr/share/man/man8/btblockctl.8.gz \
	/usr/share/man/man8/btblockd-firewall.8.gz /usr/share/man/man5/btblockd.conf.5.gz \
	/usr/share/btblockd/btblockd.nft /usr/share/btblockd/btblockd-firewall-xtables.sh \
	/etc/btblockd.conf /etc/default/btblockd \
	/lib/systemd/system/btblockd.service /usr/share/doc/btblockd/copyright \
	/etc/logrotate.d/btblockd; do
	check "installed: $f" test -f "$f"
done
conffiles=$(dpkg-query -W -f='${Conffiles}\n' btblockd)
for f in /usr/lib/sysusers.d/btblockd.conf /usr/lib/tmpfiles.d/btblockd.conf \
	/usr/share/man/man7/btblockd-stats.7.gz; do
	check "installed: $f" test -f "$f"
done
# The user the daemon drops to, and its log directory.
pw=$(getent passwd btblockd || true)
case $pw in
btblockd:*:/usr/sbin/nologin) ok "user btblockd: $pw" ;;
*) fail "user btblockd: '$pw'" ;;
esac
logdir=$(stat -c '%U:%G %a' /var/log/btblockd 2>&1 || true)
check "/var/log/btblockd: $logdir" test "$logdir" = "btblockd:adm 750"
statedir=$(stat -c '%U:%G %a' /var/lib/btblockd 2>&1 || true)
check "/var/lib/btblockd: $statedir" test "$statedir" = "btblockd:btblockd 750"
for f in /etc/btblockd.conf /etc/default/btblockd /etc/logrotate.d/btblockd; do
	if printf '%s\n' "$conffiles" | grep -q "^ $f "; then
		ok "conffile: $f"
	else
		fail "not a conffile: $f"
	fi
done
check "/etc/btblockd.conf is contrib/btblockd.conf" \
	cmp -s /etc/btblockd.conf "$srcdir/contrib/btblockd.conf"
check "the unit is contrib/systemd/btblockd.service" \
	cmp -s /lib/systemd/system/btblockd.service "$srcdir/contrib/systemd/btblockd.service"
check "/etc/logrotate.d/btblockd is contrib/debian/btblockd.logrotate" \
	cmp -s /etc/logrotate.d/btblockd "$srcdir/contrib/debian/btblockd.logrotate"
# The rule parses, and rotates: a copy aimed at a temporary directory, its
# reload command replaced by a marker, moves the log and runs the reload.
if command -v logrotate >/dev/null 2>&1; then
	if logrotate -d /etc/logrotate.d/btblockd >"$tmp/lr-debug" 2>&1 &&
		! grep -qi '^error' "$tmp/lr-debug"; then
		ok "logrotate -d /etc/logrotate.d/btblockd: no errors"
	else
		fail "logrotate -d /etc/logrotate.d/btblockd:"
		cat "$tmp/lr-debug"
	fi
	mkdir "$tmp/logs"
	echo '{"detector":"bt-handshake"}' >"$tmp/logs/detections.log"
	sed -e "s|/var/log/btblockd/|$tmp/logs/|" \
		-e "s|systemctl reload btblockd.service.*|echo reloaded >>$tmp/reloads|" \
		/etc/logrotate.d/btblockd >"$tmp/logrotate.conf"
	if grep -q "^$tmp/logs/\*.log {" "$tmp/logrotate.conf" &&
		logrotate -f -s "$tmp/logrotate.state" "$tmp/logrotate.conf" >"$tmp/lr-run" 2>&1 &&
		[ ! -e "$tmp/logs/detections.log" ] &&
		ls "$tmp/logs"/detections.log-* >/dev/null 2>&1 &&
		[ "$(cat "$tmp/reloads" 2>/dev/null)" = reloaded ]; then
		ok "logrotate moves *.log (dateext, apart from the daemon's NAME.1) and reloads once"
	else
		fail "logrotate run on a copy of the rule: $(cat "$tmp/lr-run"; ls "$tmp/logs")"
	fi
else
	fail "logrotate is not installed (contrib/install-deps.sh installs it)"
fi

out=$(/usr/sbin/btblockd --version 2>&1) || true
check "btblockd --version: $out" test "$out" = "btblockd $version"
out=$(/usr/bin/btblockctl --version 2>&1) || true
check "btblockctl --version: $out" test "$out" = "btblockctl $version"
# Not running: the sentence, and status 1.
if /usr/bin/btblockctl -s "$tmp/none.sock" stats >"$tmp/out" 2>&1; then
	fail "btblockctl stats without a daemon succeeded"
else
	check "installed btblockctl: $(cat "$tmp/out")" grep -q "is btblockd running?" "$tmp/out"
fi
# The helper finds the installed ruleset (dry run, in a namespace of its own).
ns=btbdeb-$$
ip netns add "$ns"
if ip netns exec "$ns" /usr/sbin/btblockd-firewall up --dry-run >"$tmp/dry" 2>&1 &&
	grep -q 'table inet btblockd' "$tmp/dry"; then
	ok "btblockd-firewall up --dry-run renders /usr/share/btblockd/btblockd.nft"
else
	fail "btblockd-firewall up --dry-run: $(head -5 "$tmp/dry")"
fi
# ... and its installed xtables backend.
if ip netns exec "$ns" /usr/sbin/btblockd-firewall up --dry-run --backend xt >"$tmp/dry" 2>&1 &&
	grep -q -e '-j NFQUEUE' "$tmp/dry"; then
	ok "btblockd-firewall up --dry-run --backend xt reads /usr/share/btblockd/btblockd-firewall-xtables.sh"
else
	fail "btblockd-firewall up --dry-run --backend xt: $(head -5 "$tmp/dry")"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	# Documentation= is checked with man(1) when it is installed.
	systemd-analyze verify /lib/systemd/system/btblockd.service >"$tmp/verify" 2>&1 || true
	if grep -v -e "Command 'man " -e '^$' "$tmp/verify" | grep -q .; then
		fail "systemd-analyze verify:"
		cat "$tmp/verify"
	else
		ok "systemd-analyze verify btblockd.service"
	fi
	if command -v systemd-analyze >/dev/null 2>&1 &&
		systemd-analyze security --offline=yes /lib/systemd/system/btblockd.service >"$tmp/security" 2>&1; then
		echo "    $(grep -i 'overall exposure' "$tmp/security")"
	fi
fi

# The unit: ordered like a firewall, tied to nftables.service, sandboxed.
unit=/lib/systemd/system/btblockd.service
for line in Before=network-pre.target Wants=network-pre.target After=nftables.service \
	PartOf=nftables.service WatchdogSec=30s Type=notify UMask=0077 PrivateMounts=yes \
	NoNewPrivileges=yes LogsDirectory=btblockd; do
	check "unit: $line" grep -qx "$line" "$unit"
done
check "unit: the daemon drops to btblockd" grep -q '^ExecStart=/usr/sbin/btblockd .*--user btblockd' "$unit"
check "unit: the state file in /var/lib/btblockd, writable in the sandbox" sh -c \
	"grep -q '^ExecStart=/usr/sbin/btblockd .*--state-file /var/lib/btblockd/state' $unit &&
	grep -qx 'ReadWritePaths=-/var/lib/btblockd' $unit && ! grep -q '^StateDirectory' $unit"
# The rules outlive a restart: ExecStopPost removes them on a real stop
# only, the bans saved to the state directory.
check "unit: ExecStopPost keeps the rules on a restart" \
	grep -qx 'ExecStopPost=+/usr/sbin/btblockd-firewall down --keep-on-restart %n' "$unit"
check "unit: no AmbientCapabilities (the daemon drops root itself)" \
	sh -c "! grep -q '^AmbientCapabilities' $unit"
check "unit: no queues in /etc/default/btblockd" sh -c "! grep -q -e '^[^#]*--queues' /etc/default/btblockd"
if command -v systemd-analyze >/dev/null 2>&1; then
	# Without nftables.service (not installed, or masked): PartOf= and
	# After= name a unit that does not exist, which must not be an error.
	mkdir "$tmp/units"
	cp "$unit" "$tmp/units/"
	SYSTEMD_UNIT_PATH="$tmp/units:" systemd-analyze verify "$tmp/units/btblockd.service" \
		>"$tmp/verify2" 2>&1 || true
	if grep -v -e "Command 'man " -e '^$' "$tmp/verify2" | grep -q .; then
		fail "systemd-analyze verify without nftables.service:"
		cat "$tmp/verify2"
	else
		ok "systemd-analyze verify without nftables.service: no complaint"
	fi
fi

# The installed daemon as the unit starts it: the unit's bounding set and
# umask, --user btblockd, in a namespace of its own (queue 50).
capset=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr '[:upper:]' '[:lower:]' | sed 's/cap_/+/g; s/ /,/g')
mkdir -m 0755 "$tmp/run"
ns2=btbdeb2-$$
ip netns add "$ns2"
ns="$ns $ns2"
log=/var/log/btblockd/test-deb-$$.log
state=/var/lib/btblockd/test-deb-$$.state
ip netns exec "$ns2" setpriv --bounding-set "-all,$capset" sh -c \
	'umask 0077; exec "$@"' sh /usr/sbin/btblockd --foreground -c /dev/null --queues 50 \
	--control "$tmp/run/btblockd.sock" --pidfile "$tmp/run/btblockd.pid" --user btblockd \
	--detect-log "$log" --state-file "$state" >"$tmp/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 1 50); do
	/usr/bin/btblockctl -s "$tmp/run/btblockd.sock" stats >"$tmp/stats" 2>/dev/null && break
	sleep 0.1
done
if [ -s "$tmp/stats" ]; then
	ok "root's btblockctl reads the stats of btblockd running as btblockd (bounding set $capset)"
	status=/proc/$daemon/status
	uid=$(awk '/^Uid:/ { print $2 }' "$status")
	check "daemon uid $uid is btblockd's" test "$uid" = "$(id -u btblockd)"
	for c in CapEff CapPrm CapBnd; do
		v=$(awk -v c="$c:" '$1 == c { print $2 }' "$status")
		check "daemon $c $v: CAP_NET_ADMIN only" test "$v" = 0000000000001000
	done
	check "stats: schema 2" grep -q '"schema": 2' "$tmp/stats"
	check "stats: the kernel's queue counters (opened before dropping root)" \
		grep -q '"queue_total"' "$tmp/stats"
	sock=$(stat -c '%U:%G %a' "$tmp/run/btblockd.sock")
	check "control socket $sock" test "$sock" = "root:root 660"
	perms=$(stat -c '%U %a' "$log" 2>&1 || true)
	check "detection log $perms: btblockd's, mode 600 (UMask=0077)" test "$perms" = "btblockd 600"
	# A rotation: the daemon, as btblockd, opens a new file on SIGHUP.
	mv "$log" "$log.1"
	kill -HUP "$daemon"
	for _ in $(seq 1 50); do
		[ -e "$log" ] && break
		sleep 0.1
	done
	perms=$(stat -c '%U %a' "$log" 2>&1 || true)
	check "detection log reopened by btblockd after a rotation: $perms" test "$perms" = "btblockd 600"
	rm -f "$log" "$log.1"
else
	fail "the daemon as the unit starts it did not answer: $(cat "$tmp/daemon.log")"
fi
if kill "$daemon" 2>/dev/null; then
	wait "$daemon" 2>/dev/null || true
fi
daemon=
# Saved at exit by btblockd in the package's directory, as the unit runs it.
perms=$(stat -c '%U %a' "$state" 2>&1 || true)
check "state file saved at exit by btblockd in /var/lib/btblockd: $perms" test "$perms" = "btblockd 600"
rm -f "$state"

# --- purge -------------------------------------------------------------------
if dpkg --purge btblockd >"$tmp/purge.log" 2>&1; then
	installed=no
	ok "dpkg --purge btblockd"
else
	cat "$tmp/purge.log"
	fail "dpkg --purge failed"
fi
left=
for f in /usr/sbin/btblockd /usr/sbin/btblockd-firewall /usr/bin/btblockctl /etc/btblockd.conf \
	/etc/default/btblockd /lib/systemd/system/btblockd.service /usr/share/btblockd \
	/etc/logrotate.d/btblockd /var/log/btblockd /var/lib/btblockd /usr/lib/sysusers.d/btblockd.conf \
	/usr/lib/tmpfiles.d/btblockd.conf \
	/etc/systemd/system/multi-user.target.wants/btblockd.service; do
	[ -e "$f" ] && left="$left $f"
done
status=$(dpkg-query -W -f='${Status}' btblockd 2>/dev/null || true)
if [ -z "$left" ] && { [ -z "$status" ] || [ "${status%not-installed}" != "$status" ]; }; then
	ok "purged: nothing left"
else
	fail "left after purge:$left ($status)"
fi

echo "time: build $((built - started)) s, total $(($(date +%s) - started)) s"
if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
