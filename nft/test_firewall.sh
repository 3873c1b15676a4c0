#!/bin/sh
# test_firewall.sh: btblockd-firewall and btblockd.nft against the real kernel, inside a private network namespace.
#
# Needs root.  Everything happens in a namespace created here and removed
# on exit; the host's own ruleset is never read or changed.
# Environment: BTBLOCKD_FIREWALL (the built helper), BTBLOCKD_RULESET (the
# ruleset file); BTBLOCKD_SKIP_KERNEL_TESTS=1 turns "not root" into a skip.

set -eu

: "${BTBLOCKD_FIREWALL:?set BTBLOCKD_FIREWALL to the built nft/btblockd-firewall}"
: "${BTBLOCKD_RULESET:?set BTBLOCKD_RULESET to nft/btblockd.nft}"
export BTBLOCKD_RULESET

if [ "$(id -u)" -ne 0 ]; then
	if [ "${BTBLOCKD_SKIP_KERNEL_TESTS:-0}" = 1 ]; then
		echo "*** SKIP: test_firewall.sh needs root (BTBLOCKD_SKIP_KERNEL_TESTS=1) ***" >&2
		exit 77
	fi
	echo "*** FAIL: test_firewall.sh needs root to create a network namespace." >&2
	echo "*** Run make check as root, or set BTBLOCKD_SKIP_KERNEL_TESTS=1 to skip it. ***" >&2
	exit 1
fi

for tool in ip nft iptables ip6tables; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "FAIL: $tool not found (needed by this test)" >&2
		exit 1
	}
done

NS=btbfw-test-$$
TMP=$(mktemp -d /tmp/btbfw-test.XXXXXX)
cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
ip netns add "$NS"

failures=0
checks=0

pass() {
	checks=$((checks + 1))
	echo "ok   $*"
}

fail() {
	checks=$((checks + 1))
	failures=$((failures + 1))
	echo "FAIL $*"
}

# Run a command inside the namespace.
inns() {
	ip netns exec "$NS" "$@"
}

# Run the helper inside the namespace; stdout, stderr and status land in
# $TMP/out, $TMP/err and $rc.
fw() {
	rc=0
	inns "$BTBLOCKD_FIREWALL" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
}

# expect_rc WANT DESCRIPTION
expect_rc() {
	if [ "$rc" -eq "$1" ]; then
		pass "$2 (exit $rc)"
	else
		fail "$2: exit $rc, expected $1"
		sed 's/^/     | /' "$TMP/out" "$TMP/err"
	fi
}

# expect_in FILE PATTERN DESCRIPTION (grep -E pattern)
expect_in() {
	if grep -qE -e "$2" "$1"; then
		pass "$3"
	else
		fail "$3: /$2/ not found in:"
		sed 's/^/     | /' "$1"
	fi
}

expect_not_in() {
	if grep -qE -e "$2" "$1"; then
		fail "$3: /$2/ found in:"
		sed 's/^/     | /' "$1"
	else
		pass "$3"
	fi
}

# The ruleset, table by table in a fixed order (reloading a table moves
# it to the end of "nft list ruleset"), without counter values, which
# traffic could change.  iptables-nft tables come with a "do not touch"
# warning on stderr.
ruleset() {
	inns nft list tables | sort | while read -r _ family name; do
		inns nft list table "$family" "$name" 2>/dev/null
	done | sed 's/packets [0-9]* bytes [0-9]*/packets - bytes -/'
}

expect_same_ruleset() {
	ruleset >"$TMP/now"
	if cmp -s "$1" "$TMP/now"; then
		pass "$2"
	else
		fail "$2: the ruleset differs:"
		diff "$1" "$TMP/now" | sed 's/^/     | /' || true
	fi
}

# count_xt TOOL CHAIN PATTERN: rules in mangle CHAIN matching PATTERN.
count_xt() {
	inns "$1" -w -t mangle -S "$2" 2>/dev/null | grep -cE -e "$3" || true
}

expect_count() {
	if [ "$1" -eq "$2" ]; then
		pass "$3"
	else
		fail "$3: $1, expected $2"
	fi
}

echo "# namespace $NS, helper $BTBLOCKD_FIREWALL, ruleset $BTBLOCKD_RULESET"

# Does this kernel have the nft queue expression?  Decides what "auto"
# must pick and whether "--backend nft" can work here.
printf 'table inet btbfw_probe {\nchain c {\ntype filter hook forward priority 0; policy accept;\nmeta l4proto tcp queue num 0 bypass\n}\n}\n' >"$TMP/probe.nft"
if inns nft -c -f "$TMP/probe.nft" 2>/dev/null; then
	kernel_backend=nft
else
	kernel_backend=xt
fi
echo "# kernel nft queue support: $([ "$kernel_backend" = nft ] && echo yes || echo no)"

ruleset >"$TMP/empty"

# --- arguments -----------------------------------------------------------

fw --help
expect_rc 0 "--help"
expect_in "$TMP/out" '^Usage: btblockd-firewall up\|down\|status' "--help prints the usage"

fw
expect_rc 2 "no command"
expect_in "$TMP/err" 'no command' "no command: message"

for args in \
	"up --queues 5-2|--queues" \
	"up --queues abc|--queues" \
	"up --queues 70000|--queues" \
	"up --queues=1-|--queues" \
	"up --queues|--queues" \
	"up --hooks prerouting|--hooks" \
	"up --hooks forward,,input|--hooks" \
	"up --hooks=|--hooks" \
	"up --backend bogus|--backend" \
	"up --bogus|--bogus" \
	"up --fail-closed=yes|--fail-closed" \
	"frobnicate|frobnicate" \
	"up down|more than one" \
	"status --dry-run|--dry-run"; do
	opt=${args#*|}
	# shellcheck disable=SC2086 # word splitting is the point
	fw ${args%|*}
	expect_rc 2 "bad arguments '${args%|*}'"
	expect_in "$TMP/err" "$opt" "bad arguments '${args%|*}': message names $opt"
	if [ "$(wc -l <"$TMP/err")" -le 2 ]; then
		pass "bad arguments '${args%|*}': short message"
	else
		fail "bad arguments '${args%|*}': message too long"
	fi
done
expect_same_ruleset "$TMP/empty" "bad arguments change nothing"

# Every option of --help has an entry in the manual page.
man_page=${BTBLOCKD_SRCDIR:-$(dirname "$0")/..}/man/btblockd-firewall.8
fw --help
grep -o -e '--[a-z][a-z-]*' "$TMP/out" | sort -u >"$TMP/options"
while read -r opt; do
	# mdoc: ".It Fl \-queues ..." renders as --queues.
	if grep -e '^\.It ' "$man_page" | grep -qF -e "Fl \\${opt#-}"; then
		pass "$opt is documented in btblockd-firewall.8"
	else
		fail "$opt is in --help but has no .It entry in $man_page"
	fi
done <"$TMP/options"

# --- nothing loaded ------------------------------------------------------

fw status
expect_rc 3 "status with nothing loaded"
expect_in "$TMP/out" '^backend: none$' "status with nothing loaded: backend none"

fw down
expect_rc 0 "down with nothing loaded"
expect_same_ruleset "$TMP/empty" "down with nothing loaded changes nothing"

# --- missing tools -------------------------------------------------------

# A PATH holding the helper's usual tools but not the one under test.
mkdir "$TMP/bin-no-nft" "$TMP/bin-no-xt"
for tool in sed grep awk tr head cat getconf nproc nft; do
	p=$(command -v "$tool" 2>/dev/null) || continue
	[ "$tool" = nft ] || ln -s "$p" "$TMP/bin-no-nft/$tool"
	ln -s "$p" "$TMP/bin-no-xt/$tool"
done
rc=0
inns env PATH="$TMP/bin-no-nft" "$BTBLOCKD_FIREWALL" up >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 1 "up without nft"
expect_in "$TMP/err" '\bnft not found' "up without nft: message names nft"
rc=0
inns env PATH="$TMP/bin-no-xt" "$BTBLOCKD_FIREWALL" up --backend xt >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 1 "up --backend xt without iptables"
expect_in "$TMP/err" 'ip6?tables not found' "up --backend xt without iptables: message names iptables"
expect_same_ruleset "$TMP/empty" "missing tools: nothing loaded"

# --- the shipped file and its nft rendering --------------------------------

# check_nft FILE DESCRIPTION: "nft -c" must accept FILE, or, where the
# kernel lacks the queue expression, reject nothing but the queue
# statement (a syntax error in the shipped file fails here).
check_nft() {
	if inns nft -c -f "$1" 2>"$TMP/nfterr"; then
		if [ "$kernel_backend" = nft ]; then
			pass "$2: nft -c accepts it"
		else
			fail "$2: nft -c accepted a queue rule on a kernel without nft queue"
		fi
	elif [ "$kernel_backend" = xt ] &&
		grep -q 'No such file or directory' "$TMP/nfterr" &&
		! grep -q 'syntax error' "$TMP/nfterr" &&
		[ "$(grep -c 'Error:' "$TMP/nfterr")" -eq "$(grep -c '^[^#]*queue num' "$1")" ]; then
		pass "$2: nft -c parses it and rejects only the queue statement"
	else
		fail "$2: nft -c rejects it:"
		sed 's/^/     | /' "$TMP/nfterr"
	fi
	sed '/^[[:space:]]*#/!s/[[:space:]]*queue num .*$//' "$1" >"$TMP/noqueue.nft"
	if inns nft -c -f "$TMP/noqueue.nft" 2>"$TMP/nfterr"; then
		pass "$2: nft -c accepts it without the queue statement"
	else
		fail "$2: nft -c rejects it without the queue statement:"
		sed 's/^/     | /' "$TMP/nfterr"
	fi
}

check_nft "$BTBLOCKD_RULESET" "the shipped ruleset on its own"
cp "$BTBLOCKD_RULESET" "$TMP/shipped.nft"
# shellcheck disable=SC2016 # a literal $ in the pattern
expect_in "$TMP/shipped.nft" '^[^#]*queue num \$BTBLOCKD_QUEUES bypass' "the shipped ruleset is fail-open"
expect_not_in "$TMP/shipped.nft" '^[^#]*fanout' "the shipped ruleset does not use fanout"

fw up --backend nft --dry-run --queues 2-5 --hooks output,forward
expect_rc 0 "up --backend nft --dry-run"
cp "$TMP/out" "$TMP/render1.nft"
expect_in "$TMP/render1.nft" '^define BTBLOCKD_QUEUES = 2-5$' "rendering: --queues 2-5"
# shellcheck disable=SC2016 # a literal $ in the pattern
expect_in "$TMP/render1.nft" '^[^#]*queue num \$BTBLOCKD_QUEUES bypass$' "rendering: fail-open by default"
expect_in "$TMP/render1.nft" '^[[:space:]]*type filter hook forward ' "rendering: forward hook"
expect_in "$TMP/render1.nft" '^[[:space:]]*type filter hook output ' "rendering: output hook"
expect_not_in "$TMP/render1.nft" '^[[:space:]]*type filter hook input ' "rendering: no input hook"
check_nft "$TMP/render1.nft" "rendering for nft, queues 2-5, hooks forward,output"

fw up --backend nft --dry-run --queues=3 --hooks=input --fail-closed
expect_rc 0 "up --backend nft --dry-run --fail-closed"
cp "$TMP/out" "$TMP/render2.nft"
expect_in "$TMP/render2.nft" '^define BTBLOCKD_QUEUES = 3$' "rendering: --queues 3"
# shellcheck disable=SC2016 # a literal $ in the pattern
expect_in "$TMP/render2.nft" '^[^#]*queue num \$BTBLOCKD_QUEUES$' "rendering: --fail-closed drops bypass"
expect_not_in "$TMP/render2.nft" '^[[:space:]]*type filter hook (forward|output) ' "rendering: only the input hook"
check_nft "$TMP/render2.nft" "rendering for nft, queue 3, hook input, fail-closed"
expect_same_ruleset "$TMP/empty" "--dry-run changes nothing"

# --- the nft backend -------------------------------------------------------

fw up --backend nft --queues 0-1
if [ "$kernel_backend" = xt ]; then
	expect_rc 1 "up --backend nft on a kernel without nft queue"
	expect_in "$TMP/err" 'nft queue support' "up --backend nft: message names the missing nft queue support"
	expect_same_ruleset "$TMP/empty" "failed up --backend nft: nothing loaded"
else
	expect_rc 0 "up --backend nft"
	fw status
	expect_rc 0 "status after up --backend nft"
	expect_in "$TMP/out" '^backend: nft$' "status: backend nft"
	expect_in "$TMP/out" '^queues: 0-1$' "status: queues 0-1"
	fw down
	expect_rc 0 "down after up --backend nft"
	expect_same_ruleset "$TMP/empty" "down after nft leaves nothing behind"
fi

# --- the xt backend, chosen and automatic -------------------------------------

for backend in xt auto; do
	t="[$backend]"
	fw up --backend "$backend" --queues 0-1 --hooks forward
	expect_rc 0 "$t up"
	if [ "$kernel_backend" = nft ] && [ "$backend" = auto ]; then
		expect_in "$TMP/out" 'backend nft' "$t auto picks nft on this kernel"
		fw down
		continue
	fi
	expect_in "$TMP/out" 'backend xt' "$t up reports backend xt"
	ruleset >"$TMP/up1"

	fw status
	expect_rc 0 "$t status"
	expect_in "$TMP/out" '^backend: xt$' "$t status: backend xt"
	expect_in "$TMP/out" '^queues: 0-1$' "$t status: queues 0-1"
	expect_in "$TMP/out" '^hooks: forward$' "$t status: hooks forward"
	expect_in "$TMP/out" '^mode: fail-open$' "$t status: fail-open"
	expect_in "$TMP/out" '^counter queued: packets [0-9]+ bytes [0-9]+$' "$t status: nft counters"

	for tool in iptables ip6tables; do
		expect_count "$(count_xt "$tool" BTBLOCKD -- '-p (tcp|udp) .*-j NFQUEUE --queue-balance 0:1 --queue-bypass$')" 2 \
			"$t $tool: tcp and udp queued to 0:1 with bypass"
		expect_count "$(count_xt "$tool" FORWARD -- '-j BTBLOCKD$')" 1 "$t $tool: one jump from FORWARD"
		expect_count "$(count_xt "$tool" INPUT -- '-j BTBLOCKD$')" 0 "$t $tool: no jump from INPUT"
	done
	inns nft list table inet btblockd >"$TMP/table" 2>&1 || true
	expect_in "$TMP/table" 'type filter hook forward ' "$t table inet btblockd hooks forward"
	expect_not_in "$TMP/table" 'type filter hook (input|output) ' "$t table inet btblockd: no other hooks"
	expect_not_in "$TMP/table" '[[:space:]]queue ' "$t table inet btblockd: no nft queue statement"

	fw up --backend "$backend" --queues 0-1 --hooks forward
	expect_rc 0 "$t up again"
	expect_same_ruleset "$TMP/up1" "$t up again leaves one copy"

	fw up --backend "$backend" --queues 3 --hooks input,output --fail-closed
	expect_rc 0 "$t up with other options"
	for tool in iptables ip6tables; do
		expect_count "$(count_xt "$tool" BTBLOCKD -- '-j NFQUEUE')" 2 "$t $tool: still two queue rules"
		expect_count "$(count_xt "$tool" BTBLOCKD -- '-j NFQUEUE --queue-num 3$')" 2 \
			"$t $tool: queue 3 without bypass"
		expect_count "$(count_xt "$tool" FORWARD -- '-j BTBLOCKD$')" 0 "$t $tool: FORWARD jump removed"
		expect_count "$(count_xt "$tool" INPUT -- '-j BTBLOCKD$')" 1 "$t $tool: one jump from INPUT"
		expect_count "$(count_xt "$tool" OUTPUT -- '-j BTBLOCKD$')" 1 "$t $tool: one jump from OUTPUT"
	done
	fw status
	expect_rc 0 "$t status after the change"
	expect_in "$TMP/out" '^queues: 3$' "$t status: queues 3"
	expect_in "$TMP/out" '^hooks: input,output$' "$t status: hooks input,output"
	expect_in "$TMP/out" '^mode: fail-closed$' "$t status: fail-closed"
	inns nft list table inet btblockd >"$TMP/table" 2>&1 || true
	expect_in "$TMP/table" 'type filter hook input ' "$t table inet btblockd hooks input"
	expect_in "$TMP/table" 'type filter hook output ' "$t table inet btblockd hooks output"
	expect_not_in "$TMP/table" 'type filter hook forward ' "$t table inet btblockd: forward gone"

	fw down
	expect_rc 0 "$t down"
	expect_same_ruleset "$TMP/empty" "$t down leaves nothing behind"
	fw status
	expect_rc 3 "$t status after down"
	expect_in "$TMP/out" '^backend: none$' "$t status after down: backend none"
	fw down
	expect_rc 0 "$t down again"
	expect_same_ruleset "$TMP/empty" "$t down again changes nothing"
done

# --- traffic: fail-open passes, fail-closed drops, counters count ------------

# One UDP datagram over loopback through the input and output hooks, with
# no daemon bound to the queue.  Prints "passed" or "dropped".
udp_roundtrip() {
	inns python3 -c '
import socket
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(("127.0.0.1", 0))
r.settimeout(1.0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"btblockd", r.getsockname())
try:
    r.recv(64)
    print("passed")
except socket.timeout:
    print("dropped")
'
}

if command -v python3 >/dev/null 2>&1; then
	inns ip link set lo up
	fw up --queues 7 --hooks input,output
	expect_rc 0 "[traffic] up fail-open"
	result=$(udp_roundtrip)
	expect_count "$([ "$result" = passed ] && echo 1 || echo 0)" 1 \
		"[traffic] fail-open: a datagram passes with no daemon bound ($result)"
	fw status
	expect_in "$TMP/out" '^counter queued: packets [1-9]' "[traffic] the queued counter counts"
	fw up --queues 7 --hooks input,output --fail-closed
	expect_rc 0 "[traffic] up fail-closed"
	result=$(udp_roundtrip)
	expect_count "$([ "$result" = dropped ] && echo 1 || echo 0)" 1 \
		"[traffic] fail-closed: a datagram is dropped with no daemon bound ($result)"
	fw down
	expect_rc 0 "[traffic] down"
	inns ip link set lo down
	expect_same_ruleset "$TMP/empty" "[traffic] down leaves nothing behind"
else
	echo "# python3 not found: traffic checks not run"
fi

echo "# $checks checks, $failures failed"
[ "$failures" -eq 0 ]
