#!/bin/bash
# tests/integration/test_check.sh: btblockctl check through the real kernel.
#
# In namespaces this script creates and always removes, with
# btblockd-firewall (the xt or nft backend, whichever the kernel has) and
# btblockd in the router:
#   1. A working lab: "btblockctl check" exits 0 and every one of its ten
#      lines passes; --json says "pass".
#   2. Each thing check names is broken in turn and must give a FAIL (or
#      WARN) line naming it, with the exit status that goes with it;
#      everything is put back and check must pass again in between:
#      the table deleted (nft delete table inet btblockd); the NFQUEUE
#      rules deleted (xt backend: both families' chain BTBLOCKD flushed);
#      a hook the rules do not cover (--hooks forward,input); other marks
#      in the ruleset than the daemon's; the daemon stopped; the daemon
#      serving fewer queues than the ruleset's range; flow offloading of
#      every flow in another table (only on kernels with flowtables: the
#      test says loudly when this one has none); conntrack accounting
#      off; a ban set nearly full (WARN, exit 3) and full (FAIL); a
#      stalled worker (test hook BTBLOCKD_TEST_STALL_QUEUE); a bridge
#      without an address that br_netfilter does not hand to the IP
#      hooks (WARN); and check run as an unprivileged user.
# Each step prints a RESULT line; all run before the test fails.
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

BTBLOCKCTL=${BTBLOCKCTL:-${BTBLOCKD_BUILDDIR:-.}/src/btblockctl}
# A stall timeout no busy neighbour reaches: a worker kept off its CPU
# for seconds must not turn the working lab's check into a failure.
DAEMON_OPTS="--queues 0-1 --stall-timeout 60"
CHECKS="daemon ruleset marks queues binding offload bridge conntrack bansets workers"
failures=0

# indent LABEL: stdin, each line under LABEL.
indent() {
	sed "s/^/  $1 /"
}

fw() {
	lab_exec router "$BTBLOCKD_FIREWALL" "$@" --config /dev/null >/dev/null
}

# check [ARGS]: run btblockctl check in the router; its output in $out,
# its exit status in $rc.
check() {
	rc=0
	out=$(lab_exec router "$BTBLOCKCTL" -s "$LAB_TMP/btblockd.sock" check "$@" 2>&1) || rc=$?
}

# expect_pass STEP: check exits 0 with one PASS line per check.
expect_pass() {
	local name
	check
	for name in $CHECKS; do
		if ! echo "$out" | grep -q "^PASS  $name "; then
			check_fail "$1: no PASS line for $name"
		fi
	done
	if [ "$rc" != 0 ] || echo "$out" | grep -q -e '^FAIL' -e '^WARN'; then
		check_fail "$1: check exited $rc, expected 0, every line passing"
		indent "|" <<<"$out"
	fi
	echo "RESULT $1: exit $rc, $(echo "$out" | tail -n 1)"
}

# expect STEP STATUS VERDICT NAME PATTERN: check exits STATUS with a line
# "VERDICT  NAME  ..." that matches PATTERN (grep -E) and gives a fix
# (unless its text says "not checked").
expect() {
	local line
	line=$(echo "$out" | grep "^$3  $4 " | grep -E -- "$5" | head -n 1 || true)
	echo "RESULT $1: exit $rc: ${line:-no $3 $4 line matching /$5/}"
	if [ -z "$line" ]; then
		check_fail "$1: no $3 line for $4 matching /$5/"
		indent "|" <<<"$out"
	elif ! echo "$line" | grep -q -e ' -- fix: ' -e 'not checked'; then
		check_fail "$1: the $4 line says nothing to do"
	fi
	[ "$rc" = "$2" ] || check_fail "$1: check exited $rc, expected $2"
}

# restore STEP [OPTION...]: btblockd-firewall up again (with OPTIONs), a
# fresh daemon (one that saw its table go may have exited, and must not
# exit during the next step), and check must pass.
restore() {
	local step=$1
	shift
	fw up --queues 0-1 "$@" || fail "$step: btblockd-firewall up failed"
	lab_daemon_kill -TERM
	# shellcheck disable=SC2086 # word splitting of the option string is intended
	lab_daemon_start $DAEMON_OPTS || fail "$step: btblockd did not start again"
	expect_pass "$step"
}

lab_require_kernel || exit $?
lab_require_binaries || exit 1
[ -x "$BTBLOCKCTL" ] || fail "btblockctl not found at $BTBLOCKCTL"

lab_trap
lab_create
fw up --queues 0-1 || fail "btblockd-firewall up failed"
backend=$(lab_exec router "$BTBLOCKD_FIREWALL" status | sed -n 's/^backend: //p')
# shellcheck disable=SC2086 # word splitting of the option string is intended
lab_daemon_start $DAEMON_OPTS || fail "btblockd did not start"
echo "RESULT lab: backend $backend"

# ---- 1. a working lab ----------------------------------------------------------------
expect_pass "working lab"
indent check: <<<"$out"
check --json
result=$(echo "$out" | lab_jget result)
n=$(echo "$out" | "$LAB_PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)["checks"]))')
echo "RESULT working lab, --json: exit $rc, result $result, $n checks"
if [ "$rc" != 0 ] || [ "$result" != pass ] || [ "$n" != 10 ]; then
	check_fail "check --json: exit $rc, result $result, $n checks"
fi

# ---- 2. rules missing ---------------------------------------------------------------
lab_exec router nft delete table inet btblockd
check
expect "table deleted" 1 FAIL ruleset "table inet btblockd is not loaded"
restore "table restored"

if [ "$backend" = xt ]; then
	for t in iptables ip6tables; do
		lab_exec router "$t" -w -t mangle -F BTBLOCKD
	done
	check
	expect "NFQUEUE rules deleted" 1 FAIL queues "no NFQUEUE rule in chain BTBLOCKD, so IPv4 is not queued"
	echo "$out" | grep "^FAIL  queues " | grep -q "IPv6 is not queued" ||
		check_fail "NFQUEUE rules deleted: IPv6 not named"
else
	# Every rule with a queue statement, wherever the ruleset puts it.
	lab_exec router nft -a list table inet btblockd |
		awk '$1 == "chain" { chain = $2 }
			/^[[:space:]]*[^#]*[[:space:]]queue (num|flags|to) / { print chain, $NF }' |
		while read -r chain handle; do
			lab_exec router nft delete rule inet btblockd "$chain" handle "$handle"
		done
	check
	expect "queue statement deleted" 1 FAIL queues "nothing queues to btblockd"
fi
restore "NFQUEUE rules restored"

check --hooks forward,input
expect "hook input not covered" 1 FAIL ruleset "no base chain on hook input jumps to chain decide"

fw up --queues 0-1 --mark-allow 0x00a20000
check
expect "other marks in the ruleset" 1 FAIL marks "no element for btblockd's allow mark 0x00a10000"
restore "marks restored"

# ---- 3. queues not bound ------------------------------------------------------------
lab_daemon_kill -TERM
check
expect "daemon stopped" 1 FAIL daemon "btblockd does not answer"
expect "daemon stopped" 1 FAIL binding "queues 0, 1 are bound by no program"
lab_daemon_start --queues 0-0 --stall-timeout 60 || fail "btblockd --queues 0-0 did not start"
check
expect "daemon on fewer queues" 1 FAIL binding "queue 1 is bound by no program: its packets pass uninspected"
restore "daemon restarted"

# ---- 4. offloading ------------------------------------------------------------------
offload_table='table inet btb_offload {
	flowtable ft { hook ingress priority 0; devices = { r0, r1 }; }
	chain fwd { type filter hook forward priority filter; policy accept;
		meta l4proto { tcp, udp } flow add @ft
	}
}'
if printf '%s\n' "$offload_table" | lab_exec router nft -c -f - 2>/dev/null; then
	printf '%s\n' "$offload_table" | lab_exec router nft -f -
	check
	expect "offloading every flow" 1 FAIL offload "table inet btb_offload, chain fwd .* without requiring btblockd's allow mark"
	lab_exec router nft flush chain inet btb_offload fwd
	lab_exec router nft add rule inet btb_offload fwd meta l4proto '{ tcp, udp }' \
		ct mark and 0x00ff0000 == 0x00a10000 flow add @ft
	check
	echo "$out" | grep -q "^PASS  offload .*only flows btblockd allowed" ||
		check_fail "offloading allowed flows only: $(echo "$out" | grep offload)"
	echo "RESULT offloading allowed flows only: $(echo "$out" | grep ' offload ')"
	lab_exec router nft delete table inet btb_offload
	expect_pass "offloading removed"
else
	echo "RESULT offloading: NOT RUN: this kernel has no flowtables (CONFIG_NF_FLOW_TABLE), so no rule can offload here; tests/unit/test_nft_view and test_selfcheck judge offload rules as the kernel lists them"
	echo "*** NOTE: the offload step did not run on this kernel (no flowtables) ***" >&2
fi

# ---- 5. conntrack accounting ----------------------------------------------------------
lab_exec router sysctl -qw net.netfilter.nf_conntrack_acct=0
check
expect "conntrack accounting off" 1 FAIL conntrack "conntrack accounting is off"
lab_exec router sysctl -qw net.netfilter.nf_conntrack_acct=1
expect_pass "conntrack accounting on"

# ---- 6. ban sets --------------------------------------------------------------------
fw up --queues 0-1 --ban-set-size 10
elems=
for i in 1 2 3 4 5 6 7 8 9; do
	elems="$elems${elems:+, }10.99.0.$i . 10.98.0.$i"
done
lab_exec router nft add element inet btblockd ban4 "{ $elems }"
check
expect "ban set 9 of 10" 3 WARN bansets "ban4 9 of 10 elements"
lab_exec router nft add element inet btblockd ban4 '{ 10.99.0.10 . 10.98.0.10 }'
check
expect "ban set full" 1 FAIL bansets "ban4 is full: 10 of 10 elements"
lab_exec router nft flush set inet btblockd ban4
restore "ban set emptied"

# ---- 7. a stalled worker ------------------------------------------------------------
lab_daemon_kill -TERM
BTBLOCKD_TEST_STALL_QUEUE=1 lab_daemon_start --queues 0-1 --stall-timeout 1 ||
	fail "btblockd with BTBLOCKD_TEST_STALL_QUEUE=1 did not start"
lab_server_start
# The xt balance hashes addresses: of the four client addresses some
# reach queue 1, whose worker stops after its first batch.
stalled=false
for _ in $(seq 1 50); do
	for i in 0 1 2 3; do
		lab_udp "$i" 4 1 --timeout 0.2 --retries 0 >/dev/null 2>&1 || true
	done
	stalled=$(lab_stats | lab_jget queues 1 stalled)
	[ "$stalled" = true ] && break
	sleep 0.2
done
[ "$stalled" = true ] || fail "the worker of queue 1 never stalled"
check
expect "stalled worker" 1 FAIL workers "stalled worker of queue .*1 \\(no progress for [0-9]+ ms\\)"
restore "worker healthy"

# ---- 8. a bridge --------------------------------------------------------------------
lab_exec router ip link add btbbr0 type bridge
for p in a b; do
	lab_exec router ip link add "btbp$p" type veth peer name "btbq$p"
	lab_exec router ip link set "btbp$p" master btbbr0
done
lab_exec router ip link set btbbr0 up
if lab_exec router sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null; then
	lab_exec router sysctl -qw net.bridge.bridge-nf-call-ip6tables=0
	check
	expect "bridge without address, br_netfilter off" 3 WARN bridge "bridge btbbr0: it has no address"
	lab_exec router sysctl -qw net.bridge.bridge-nf-call-iptables=1
	lab_exec router sysctl -qw net.bridge.bridge-nf-call-ip6tables=1
	check
	echo "$out" | grep -q "^PASS  bridge .*br_netfilter hands bridged IPv4 and IPv6" ||
		check_fail "bridge with br_netfilter on: $(echo "$out" | grep bridge)"
	echo "RESULT bridge with br_netfilter on: exit $rc"
else
	check
	expect "bridge without address, no br_netfilter" 3 WARN bridge "br_netfilter is not loaded"
fi
lab_exec router ip addr add 10.71.9.1/24 dev btbbr0
check
echo "$out" | grep -q "^PASS  bridge .*bridge btbbr0 is routed" ||
	check_fail "routed bridge: $(echo "$out" | grep bridge)"
echo "RESULT routed bridge: exit $rc"
lab_exec router ip link del btbbr0
for p in a b; do
	lab_exec router ip link del "btbp$p"
done
expect_pass "bridge removed"

# ---- 9. not root ----------------------------------------------------------------------
if command -v setpriv >/dev/null 2>&1; then
	rc=0
	out=$(lab_exec router setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$BTBLOCKCTL" -s "$LAB_TMP/btblockd.sock" check 2>&1) || rc=$?
	expect "as nobody" 1 FAIL ruleset "cannot read the ruleset"
	echo "$out" | grep "^FAIL  ruleset " | grep -q "run btblockctl check as root" ||
		check_fail "as nobody: the ruleset line does not say to run as root"
	if echo "$out" | grep -q '^PASS  \(ruleset\|marks\|queues\|binding\|offload\|bansets\) '; then
		check_fail "as nobody: a check that needs root passed"
	fi
else
	echo "RESULT as nobody: NOT RUN: setpriv is not installed"
	check_fail "setpriv (util-linux) is needed to run check unprivileged"
fi

[ "$failures" = 0 ] || fail "$failures checks failed"
echo "PASS: check passes on a working lab and names each broken part"
