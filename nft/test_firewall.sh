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
# No policy from the host's /etc/btblockd.conf: the default config file
# of btblockd-firewall, where a check does not name one.
BTBLOCKD_CONFIG=/dev/null
export BTBLOCKD_CONFIG

srcdir=${BTBLOCKD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source-path=SCRIPTDIR source=../tests/lib.sh
. "$srcdir/tests/lib.sh"
# The xtables backend of the uninstalled helper: the source tree's.
BTBLOCKD_FIREWALL_LIB=${BTBLOCKD_FIREWALL_LIB:-$srcdir/nft}
export BTBLOCKD_FIREWALL_LIB

if [ "$(id -u)" -ne 0 ]; then
	if [ "${BTBLOCKD_SKIP_KERNEL_TESTS:-0}" = 1 ]; then
		skip "test_firewall.sh needs root (BTBLOCKD_SKIP_KERNEL_TESTS=1)"
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
cleanup() {
	ip netns del "$NS" 2>/dev/null || true
}
tmpdir_trap cleanup /tmp/btbfw-test.XXXXXX
TMP=$tmp
# The bans down saves and up reads: here, not in the host's /var/lib.
BTBLOCKD_STATE_DIR=$TMP/state
export BTBLOCKD_STATE_DIR
ip netns add "$NS"

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
		ok "$2 (exit $rc)"
	else
		fail "$2: exit $rc, expected $1"
		sed 's/^/     | /' "$TMP/out" "$TMP/err"
	fi
}

# expect_in FILE PATTERN DESCRIPTION (grep -E pattern)
expect_in() {
	if grep -qE -e "$2" "$1"; then
		ok "$3"
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
		ok "$3"
	fi
}

# The ruleset, table by table in a fixed order (reloading a table moves
# it to the end of "nft list ruleset"), without counter values, which
# traffic could change.  iptables-nft tables come with a "do not touch"
# warning on stderr.
ruleset() {
	inns nft list tables | sort | while read -r _ family name; do
		inns nft list table "$family" "$name" 2>/dev/null
	done | sed -e 's/packets [0-9]* bytes [0-9]*/packets - bytes -/' -e 's/ expires [0-9a-z]*//g'
}

expect_same_ruleset() {
	ruleset >"$TMP/now"
	if cmp -s "$1" "$TMP/now"; then
		ok "$2"
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
		ok "$3"
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
expect_in "$TMP/out" '^Usage: btblockd-firewall up\|down\|save\|restore\|status' "--help prints the usage"

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
	"up --ban-time 90|--ban-time" \
	"up --ban-time 1ms|--ban-time" \
	"up --ban-time 0s|--ban-time" \
	"up --ban-time 1h2d|--ban-time" \
	"up --ban-time 123456h|--ban-time" \
	"up --ban-time=1h;e|--ban-time" \
	"up --ban-set-size 1|--ban-set-size" \
	"down --state-dir relative/dir|--state-dir" \
	"save --state-dir=|--state-dir" \
	"down --keep-on-restart bad;unit|--keep-on-restart" \
	"up --keep-on-restart btblockd.service|--keep-on-restart" \
	"up --ban-set-size 16777217|--ban-set-size" \
	"up --ban-set-size 2k|--ban-set-size" \
	"up --mark-block-flow 0x01b30000|--mark-block-flow" \
	"up --mark-reject-flow 0x00b10000|the mark values must differ" \
	"up --mark-block-flow 0x00c10000|the mark values must differ" \
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
		ok "bad arguments '${args%|*}': short message"
	else
		fail "bad arguments '${args%|*}': message too long"
	fi
done

# Values that no single-line check may let through: each must be refused
# before anything is rendered (a newline in a sed script starts a command
# of its own; "e" runs a shell command).
nl='
'
for val in "1h${nl}e" "${nl}1h" "1h${nl}" "" "$(printf '%040d' 1)h" "1h${nl}s/.*/x/e"; do
	shown=$(printf '%s' "$val" | tr '\n' '|')
	fw up --dry-run --backend xt --ban-time "$val"
	expect_rc 2 "--ban-time '$shown' is refused"
	expect_in "$TMP/err" 'invalid --ban-time value' "--ban-time '$shown': message names --ban-time"
	if [ -s "$TMP/out" ]; then
		fail "--ban-time '$shown': something was rendered"
	else
		ok "--ban-time '$shown': nothing rendered"
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
		ok "$opt is documented in btblockd-firewall.8"
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

# A kernel without the payload test (the inner header base): an nft
# that refuses any transaction using "@ih", as such a kernel does.
mkdir "$TMP/bin-no-ih"
for tool in sed grep awk tr head cat getconf nproc iptables ip6tables; do
	p=$(command -v "$tool" 2>/dev/null) || continue
	ln -s "$p" "$TMP/bin-no-ih/$tool"
done
cat >"$TMP/bin-no-ih/nft" <<'EOF'
#!/bin/sh
case " $* " in
*' -f - '*)
	input=$(cat)
	case $input in
	*'@ih,'*)
		echo "Error: Could not process rule: Operation not supported" >&2
		exit 1
		;;
	esac
	printf '%s\n' "$input" | exec "$REAL_NFT" "$@"
	;;
esac
exec "$REAL_NFT" "$@"
EOF
chmod +x "$TMP/bin-no-ih/nft"
rc=0
inns env PATH="$TMP/bin-no-ih" REAL_NFT="$(command -v nft)" "$BTBLOCKD_FIREWALL" up --backend xt \
	>"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 1 "up on a kernel without the payload test"
expect_in "$TMP/err" 'lacks the payload test' "up without the payload test: message names it"
expect_same_ruleset "$TMP/empty" "up without the payload test: nothing loaded"

# --- the shipped file and its nft rendering --------------------------------

# check_nft FILE DESCRIPTION: "nft -c" must accept FILE, or, where the
# kernel lacks the queue expression, reject nothing but the queue
# statement (a syntax error in the shipped file fails here).
check_nft() {
	if inns nft -c -f "$1" 2>"$TMP/nfterr"; then
		if [ "$kernel_backend" = nft ]; then
			ok "$2: nft -c accepts it"
		else
			fail "$2: nft -c accepted a queue rule on a kernel without nft queue"
		fi
	elif [ "$kernel_backend" = xt ] &&
		grep -q 'No such file or directory' "$TMP/nfterr" &&
		! grep -q 'syntax error' "$TMP/nfterr" &&
		[ "$(grep -c 'Error:' "$TMP/nfterr")" -eq "$(grep -c '^[^#]*queue num' "$1")" ]; then
		ok "$2: nft -c parses it and rejects only the queue statement"
	else
		fail "$2: nft -c rejects it:"
		sed 's/^/     | /' "$TMP/nfterr"
	fi
	sed '/^[[:space:]]*#/!s/[[:space:]]*queue num .*$//' "$1" >"$TMP/noqueue.nft"
	if inns nft -c -f "$TMP/noqueue.nft" 2>"$TMP/nfterr"; then
		ok "$2: nft -c accepts it without the queue statement"
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

# The marks, the queue budget and the ban sets as rendered.
expect_in "$TMP/render1.nft" '^define MARK_BLOCK_FLOW = 0x00b30000$' "rendering: default block-flow mark"
expect_in "$TMP/render1.nft" '^define MARK_REJECT_FLOW = 0x00b40000$' "rendering: default reject-flow mark"
expect_in "$TMP/render1.nft" 'update @backstop { ct id limit rate over 1/hour burst 128 packets } return' "rendering: default backstop 8 x 16"
expect_in "$TMP/render1.nft" '^[^#]*update @budget .* burst 16 packets \} return$' "rendering: default budget 16"
# shellcheck disable=SC2016 # literal $ in the pattern
expect_in "$TMP/render1.nft" '^[^#]*\$MARK_BLOCK_FLOW : goto verdict_block_flow, \$MARK_REJECT_FLOW : goto verdict_reject_flow' \
	"rendering: the verdict map holds the flow-only marks"
expect_count "$(grep -c '^[[:space:]]*jump ban$' "$TMP/render1.nft")" 2 "rendering: block and reject jump to the ban chain"
expect_count "$(sed -n '/chain verdict_[a-z]*_flow {/,/^[[:space:]]*}$/p' "$TMP/render1.nft" | grep -c 'jump ban')" 0 \
	"rendering: the flow-only chains do not ban"
expect_count "$(sed -n '/chain ban {/,/^[[:space:]]*}$/p' "$TMP/render1.nft" | grep -c 'add @ban[46] .* add @ban[46] .* counter name "bans" return$')" 2 \
	"rendering: each ban rule adds both orders, then counts"
expect_in "$TMP/render1.nft" '^[[:space:]]*counter name "bans_failed"$' "rendering: failed bans are counted"

fw up --backend nft --dry-run --queue-packets 5 --ban-time 1h30m --ban-set-size 1000 \
	--mark-mask 0x0000ff00 --mark-allow 0x100 --mark-block 0x200 --mark-reject 0x300 \
	--mark-block-flow 0x400 --mark-reject-flow 0x500 --mark-queue 0x600
expect_rc 0 "up --dry-run with every new option"
cp "$TMP/out" "$TMP/render3.nft"
expect_in "$TMP/render3.nft" '^define MARK_BLOCK_FLOW = 0x00000400$' "rendering: --mark-block-flow"
expect_in "$TMP/render3.nft" '^define MARK_REJECT_FLOW = 0x00000500$' "rendering: --mark-reject-flow"
expect_in "$TMP/render3.nft" '^define MARK_KEEP = 0xffff00ff$' "rendering: --mark-mask and its complement"
expect_in "$TMP/render3.nft" 'update @backstop { ct id limit rate over 1/hour burst 40 packets } return' "rendering: --queue-packets 5 gives a backstop of 40"
expect_in "$TMP/render3.nft" '^[^#]*update @budget .* burst 5 packets \} return$' "rendering: --queue-packets 5 is the burst"
expect_count "$(sed -n '/set ban[46] {/,/^[[:space:]]*}$/p' "$TMP/render3.nft" | grep -c '^[[:space:]]*size 1000$')" 2 \
	"rendering: --ban-set-size in both ban sets"
expect_count "$(sed -n '/set ban[46] {/,/^[[:space:]]*}$/p' "$TMP/render3.nft" | grep -c '^[[:space:]]*timeout 1h30m$')" 2 \
	"rendering: --ban-time in both ban sets"
expect_count "$(sed -n '/set budget {/,/^[[:space:]]*}$/p' "$TMP/render3.nft" | grep -c '^[[:space:]]*size 65536$')" 1 \
	"rendering: the budget set keeps its own size"
check_nft "$TMP/render3.nft" "rendering with every new option"

fw up --backend nft --dry-run --ban-scope none
expect_rc 0 "up --dry-run --ban-scope none"
cp "$TMP/out" "$TMP/render4.nft"
expect_not_in "$TMP/render4.nft" 'jump ban' "rendering: --ban-scope none: no jump to the ban chain"
expect_in "$TMP/render4.nft" '^[[:space:]]*chain verdict_block \{' "rendering: --ban-scope none: blocks stay"
check_nft "$TMP/render4.nft" "rendering for --ban-scope none"

# A ruleset file that lost the budget rule is refused, not loaded half.
sed '/update @budget/d' "$BTBLOCKD_RULESET" >"$TMP/nobudget.nft"
rc=0
inns env BTBLOCKD_RULESET="$TMP/nobudget.nft" "$BTBLOCKD_FIREWALL" up --dry-run --backend xt \
	>"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 1 "a ruleset without the budget rule"
expect_in "$TMP/err" 'update @budget' "a ruleset without the budget rule: message names it"
expect_same_ruleset "$TMP/empty" "--dry-run changes nothing"

# --- policy: exemptions, schedules, actions, reload ---------------------------

# bad_policy CMD OPTION VALUE: refused with status 2, the message names
# the option and the value, nothing rendered.
bad_policy() {
	shown=$(printf '%s' "$3" | tr '\n' '|')
	fw "$1" --dry-run "$2" "$3"
	expect_rc 2 "$1 $2 '$shown' is refused"
	if grep -qF -e "invalid $2 value '${3%%"$nl"*}" "$TMP/err"; then
		ok "$1 $2 '$shown': message names option and value"
	else
		fail "$1 $2 '$shown': message does not name option and value:"
		sed 's/^/     | /' "$TMP/err"
	fi
	if [ -s "$TMP/out" ]; then
		fail "$1 $2 '$shown': something was rendered"
	fi
}
for cmd in up reload; do
	for bad in "--action|drop" "--action|throttle" "--action|throttle 0mbit" \
		"--action|throttle 7bit" "--action|throttle 5mbits" "--action|throttle 2 mbit" \
		"--action|block${nl}flush ruleset" "--action|" \
		"--schedule|Mon 25:00-26:00" "--schedule|Mox 08:00-09:00" "--schedule|" \
		"--schedule|Mon 08:00-08:00" "--schedule|Mon 8:00-9:00" "--schedule|Mon-Fri" \
		"--schedule|Mon 08:00-09:00 10:00-11:00" "--schedule|Mon,,Tue 08:00-09:00" \
		"--schedule|Mon 08:00-09:00${nl}flush ruleset" "--schedule|Mon 24:00-01:00" \
		"--exempt|1.2.3.256" "--exempt|10.0.0.0/33" "--exempt|010.0.0.1" \
		"--exempt|fd00::1::1" "--exempt|fd00::/129" "--exempt|1:2:3:4:5:6:7" \
		"--exempt|02:00:00:00:00" "--exempt|iface:" "--exempt|iface:abcdefghijklmnop" \
		"--exempt|iface:a/b" "--exempt|eth0" "--exempt|" "--exempt|1.2.3.4${nl}flush ruleset" \
		"--exempt|1.2.3.4;flush ruleset" "--exempt-remote|iface:eth0" \
		"--exempt-remote|02:00:00:00:00:01"; do
		bad_policy "$cmd" "${bad%%|*}" "${bad#*|}"
	done
done
fw reload --dry-run --queues 1 --fail-closed
expect_rc 0 "reload takes up's options (one option list for both)"
fw reload --dry-run --queues abc
expect_rc 2 "reload checks up's options too"
fw reload --config "$TMP/nonexistent"
expect_rc 2 "reload --config of a missing file"
expect_in "$TMP/err" "invalid --config value '$TMP/nonexistent'" "missing --config file: message names it"
expect_same_ruleset "$TMP/empty" "refused policy values change nothing"

# The config file: the firewall's keys, repeated and as lists; btblockd's
# keys skipped; the command line adds to the lists and its --action wins.
cat >"$TMP/policy.conf" <<'CONF'
# btblockd's keys are not the firewall's business
queues 0-3
reject yes
exempt 192.168.1.10, 192.168.1.11   # two hosts
exempt = fd00:1::/64
exempt	aa:bb:cc:dd:ee:ff iface:wlan1
exempt-remote 203.0.113.0/24,2001:db8::/32
schedule Mon-Fri 08:00-17:30
schedule = Sat,Sun 22:00-06:00
action throttle 2mbit
CONF
rc=0
inns env TZ=UTC0 "$BTBLOCKD_FIREWALL" up --dry-run --backend nft --config "$TMP/policy.conf" \
	--exempt 10.9.9.9 >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "up --dry-run --config with the policy keys"
cp "$TMP/out" "$TMP/policy1.nft"
expect_in "$TMP/policy1.nft" '^add element inet btblockd exempt4 \{ 192\.168\.1\.10, 192\.168\.1\.11, 203\.0\.113\.0/24, 10\.9\.9\.9 \}$' \
	"config: exempt and exempt-remote lists, command line added"
expect_in "$TMP/policy1.nft" '^add element inet btblockd exempt6 \{ fd00:1::/64, 2001:db8::/32 \}$' "config: IPv6 exemptions"
expect_in "$TMP/policy1.nft" '^add element inet btblockd exempt_mac \{ aa:bb:cc:dd:ee:ff \}$' "config: MAC exemption"
expect_in "$TMP/policy1.nft" '^add element inet btblockd exempt_if \{ "wlan1" \}$' "config: interface exemption"
expect_in "$TMP/policy1.nft" '^add rule inet btblockd scope ether saddr @exempt_mac goto exempt$' "config: the MAC rule"
expect_in "$TMP/policy1.nft" '^add rule inet btblockd scope oifname @exempt_if goto exempt$' "config: the interface rules"
expect_in "$TMP/policy1.nft" 'throttled counter name "throttled" limit rate over 250000 bytes/second burst 131072 bytes' \
	"config: action throttle 2mbit = 250000 bytes/s"
expect_count "$(grep -c '^add rule .* meta day' "$TMP/policy1.nft")" 9 "config: 5 + 2 windows, the night ones split at midnight"
check_nft "$TMP/policy1.nft" "rendering with the policy of the config file"
rc=0
inns "$BTBLOCKD_FIREWALL" up --dry-run --backend nft --config "$TMP/policy.conf" --action monitor \
	>"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "up --dry-run --config --action monitor"
expect_in "$TMP/out" '^add rule inet btblockd blocked counter name "monitored" accept$' "the command line's --action wins"
expect_not_in "$TMP/out" '^add rule inet btblockd ban ' "action monitor: no bans"
# The queues and the marks come from the same file as btblockd's, so that
# /etc/default/btblockd need not repeat them; the command line wins.
expect_in "$TMP/policy1.nft" '^define BTBLOCKD_QUEUES = 0-3$' "config: queues 0-3 from the file"
printf 'queues 4-6\nmark-mask 0x0000ff00\nmark-allow 0x00000a00\nmark-block 0x00000b00\nmark-reject 0x00000c00\nmark-block-flow 0x00000d00\nmark-reject-flow 0x00000e00\n' \
	>"$TMP/marks.conf"
rc=0
inns "$BTBLOCKD_FIREWALL" up --dry-run --backend nft --config "$TMP/marks.conf" --mark-queue 0x00000f00 \
	>"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "up --dry-run --config with queues and marks"
expect_in "$TMP/out" '^define BTBLOCKD_QUEUES = 4-6$' "config: queues 4-6"
expect_in "$TMP/out" '^define MARK_MASK = 0x0000ff00$' "config: mark-mask"
expect_in "$TMP/out" '^define MARK_ALLOW = 0x00000a00$' "config: mark-allow"
expect_in "$TMP/out" '^define MARK_REJECT_FLOW = 0x00000e00$' "config: mark-reject-flow"
rc=0
inns "$BTBLOCKD_FIREWALL" up --dry-run --backend nft --config "$TMP/marks.conf" --mark-queue 0x00000f00 \
	--queues=9 --mark-allow 0x00000900 >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "up --dry-run --config --queues --mark-allow"
expect_in "$TMP/out" '^define BTBLOCKD_QUEUES = 9$' "the command line's --queues wins over the file"
expect_in "$TMP/out" '^define MARK_ALLOW = 0x00000900$' "the command line's --mark-allow wins over the file"
printf '# range\nqueues 6-2\n' >"$TMP/badq.conf"
rc=0
inns "$BTBLOCKD_FIREWALL" up --dry-run --config "$TMP/badq.conf" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 2 "up: a bad queues value in the config file"
expect_in "$TMP/err" "invalid $TMP/badq.conf:2: queues value '6-2'" "bad queues in the file: message names file, line, key and value"
printf 'mark-allow 0x00b10000\n' >"$TMP/badm.conf"
rc=0
inns "$BTBLOCKD_FIREWALL" up --dry-run --config "$TMP/badm.conf" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 2 "up: a mark of the file equal to another"
expect_in "$TMP/err" "the mark values must differ: 0x00b10000" "marks of the file are checked like options"
printf 'queues 0-1\nschedule Mon 08:00-09:00\nexempt 10.0.0.1 10.0.0.300\n' >"$TMP/bad.conf"
for cmd in up reload; do
	rc=0
	inns "$BTBLOCKD_FIREWALL" "$cmd" --dry-run --config "$TMP/bad.conf" >"$TMP/out" 2>"$TMP/err" || rc=$?
	expect_rc 2 "$cmd: a bad value in the config file"
	expect_in "$TMP/err" "invalid $TMP/bad.conf:3: exempt value '10.0.0.1 10.0.0.300'" \
		"$cmd: bad config value: message names file, line, key and value"
done

# Schedules are converted to UTC from the local time of the helper (here
# +05:30, no daylight saving time) and nft runs with TZ=UTC0.
rc=0
inns env TZ=Asia/Kolkata "$BTBLOCKD_FIREWALL" up --dry-run --backend nft \
	--schedule 'Mon-Fri 08:00-17:30' --schedule 'Sat,Sun 22:00-06:00' >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "up --dry-run with schedules in Asia/Kolkata"
cp "$TMP/out" "$TMP/sched.nft"
expect_in "$TMP/sched.nft" '^# TZ=UTC0 nft -f -' "schedules: nft runs in UTC"
# Hours in seconds of the UTC day: 02:30 is 9000, 11:59:59 is 43199.
for rule in '"Monday" meta hour 9000-43199' '"Friday" meta hour 9000-43199' \
	'"Saturday" meta hour 59400-86399' '"Sunday" meta hour 0-1799' \
	'"Sunday" meta hour 59400-86399' '"Monday" meta hour 0-1799'; do
	expect_in "$TMP/sched.nft" "^add rule inet btblockd scope meta day $rule return\$" "schedules in UTC: $rule"
done
expect_in "$TMP/sched.nft" 'off_schedule" accept comment "schedule in local time UTC\+0530"$' "schedules: the offset is recorded"
# Loaded by an nft in another time zone, the hours stay UTC.
sed -n '/^add rule inet btblockd scope meta day "Monday" meta hour 9000/p' "$TMP/sched.nft" >"$TMP/rule"
printf 'table inet btbfw_tz {\nchain scope {\n}\n}\n%s\n' "$(sed 's/btblockd/btbfw_tz/' "$TMP/rule")" >"$TMP/tz.nft"
inns env TZ=America/New_York nft -f "$TMP/tz.nft"
inns env TZ=UTC0 nft list chain inet btbfw_tz scope >"$TMP/chain"
expect_in "$TMP/chain" 'meta day "Monday" meta hour "02:30"-"11:59:59" return' "schedules: nft in New York loads the hours as UTC"
inns nft delete table inet btbfw_tz
check_nft "$TMP/sched.nft" "rendering with schedules"
rc=0
inns env TZ=America/St_Johns "$BTBLOCKD_FIREWALL" reload --dry-run --schedule 'Sun 23:00-24:00' \
	>"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "reload --dry-run with a schedule at UTC-03:30"
expect_in "$TMP/out" '^add rule inet btblockd scope meta day "Monday" meta hour 9000-12599 return$' \
	"a negative offset moves Sunday night to Monday UTC"

# Loaded: up with a policy, bans added, reload changes the policy and
# keeps the bans; a refused reload changes nothing.
fw up --backend xt --queues 0-1 --exempt 10.1.1.1 --exempt fd00::1 --action reject
expect_rc 0 "up --backend xt with a policy"
expect_in "$TMP/out" 'action reject, exempt: 2 addresses' "up reports the policy"
inns nft add element inet btblockd ban4 '{ 10.2.2.2 . 10.3.3.3 }'
inns nft add element inet btblockd ban6 '{ fd00::2 . fd00::3 }'
fw status
expect_in "$TMP/out" '^action: reject$' "status: action reject"
expect_in "$TMP/out" '^exempt set exempt4: 1 elements$' "status: exempt4"
expect_in "$TMP/out" '^schedule: always$' "status: schedule always"
inns nft list chain inet btblockd blocked >"$TMP/chain"
expect_in "$TMP/chain" 'reject with tcp reset' "action reject: blocked flows are reset"
ruleset >"$TMP/loaded"
fw reload --action bogus
expect_rc 2 "reload with a bad action"
expect_same_ruleset "$TMP/loaded" "a refused reload changes nothing"
rc=0
inns env TZ=Asia/Kolkata "$BTBLOCKD_FIREWALL" reload --exempt 10.4.4.0/24 --exempt 02:00:00:00:00:01 \
	--schedule 'Mon-Sun 00:00-24:00' --action throttle 4mbit >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "reload with a new policy"
inns nft list set inet btblockd exempt4 >"$TMP/set"
expect_in "$TMP/set" 'elements = \{ 10\.4\.4\.0/24 \}' "reload: exempt4 replaced"
inns nft list set inet btblockd exempt6 >"$TMP/set"
expect_not_in "$TMP/set" 'elements' "reload: exempt6 emptied"
expect_count "$(inns nft list set inet btblockd ban4 | grep -c '10\.2\.2\.2 \. 10\.3\.3\.3' || true)" 1 "reload: ban4 kept"
expect_count "$(inns nft list set inet btblockd ban6 | grep -c 'fd00::2 \. fd00::3' || true)" 1 "reload: ban6 kept"
inns nft list chain inet btblockd throttled >"$TMP/chain"
expect_in "$TMP/chain" 'limit rate over 500000 bytes/second burst 250000 bytes' "reload: throttle 4mbit"
rc=0
inns env TZ=UTC0 "$BTBLOCKD_FIREWALL" status >"$TMP/out" 2>&1 || rc=$?
expect_in "$TMP/out" '^action: throttle 4mbit$' "status: action throttle 4mbit"
expect_in "$TMP/out" '^exempt set exempt_mac: 1 elements$' "status: exempt_mac"
expect_in "$TMP/out" '^schedule: 14 UTC day windows, converted from local time UTC\+0530$' "status: the schedule"
expect_in "$TMP/out" '^warning: the local time is now UTC\+0000, the schedule was converted for UTC\+0530' \
	"status warns when the offset changed since"
rc=0
inns env TZ=Asia/Kolkata "$BTBLOCKD_FIREWALL" status >"$TMP/out" 2>&1 || rc=$?
expect_not_in "$TMP/out" '^warning' "status in the same zone does not warn"
fw reload --action monitor
expect_rc 0 "reload --action monitor"
inns nft list chain inet btblockd ban >"$TMP/chain"
expect_not_in "$TMP/chain" 'add @ban' "action monitor: the ban chain adds nothing"
fw reload
expect_rc 0 "reload to the defaults"
inns nft list chain inet btblockd scope >"$TMP/chain"
expect_not_in "$TMP/chain" 'goto exempt|meta day' "defaults: no exemption, no schedule"
inns nft list chain inet btblockd ban >"$TMP/chain"
expect_in "$TMP/chain" 'add @ban4' "defaults: bans again"
fw down
expect_rc 0 "down after the policy checks"
expect_same_ruleset "$TMP/empty" "down after the policy checks leaves nothing behind"
fw reload
expect_rc 1 "reload with nothing loaded"
expect_in "$TMP/err" 'not loaded' "reload with nothing loaded: message"

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

# --- traffic: the queue budget counts payload packets -------------------------

# fwtraffic.py, loopback traffic for the checks below (one process is
# both ends, so every packet crosses the output hook once):
#   tcp FAMILY PORT N_CLIENT_ACKS  the server sends 1 + N_CLIENT_ACKS
#       small segments, each acknowledged by a bare ACK of the client
#       (quick ACKs), then client and server send 10 segments each
#   udp FAMILY PORT N              N datagrams each way, plus 5 empty ones
#       from the client before the server's
#   send SRC DST PORT [N]          N UDP datagrams (default 1) from one
#       socket, 0.1 s apart: how many arrived
#   connect SRC DST PORT           a TCP connection: "connected", "reset"
#       or "timeout"
cat >"$TMP/fwtraffic.py" <<'EOF'
import socket, sys, time
cmd = sys.argv[1]
def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET
if cmd in ("tcp", "udp"):
    host = "::1" if sys.argv[2] == "6" else "127.0.0.1"
    port = int(sys.argv[3])
if cmd == "tcp":
    l = socket.socket(fam(host), socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port)); l.listen(1)
    c = socket.socket(fam(host), socket.SOCK_STREAM)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.connect((host, port)); s, _ = l.accept()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.settimeout(5); s.settimeout(5)
    for i in range(1 + int(sys.argv[4])):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        s.send(b"s"); c.recv(16); time.sleep(0.01)
    for i in range(10):
        c.send(b"c" * 8); s.recv(64); time.sleep(0.01)
        s.send(b"s" * 8); c.recv(64); time.sleep(0.01)
    c.close(); s.close(); l.close()
elif cmd == "udp":
    s = socket.socket(fam(host), socket.SOCK_DGRAM); s.bind((host, port))
    c = socket.socket(fam(host), socket.SOCK_DGRAM)
    c.bind((host, int(sys.argv[5]) if len(sys.argv) > 5 else 0))
    c.connect((host, port)); s.settimeout(5); c.settimeout(5)
    for i in range(int(sys.argv[4])):
        c.send(b"c" * 8); s.recvfrom(64)
    for i in range(5):
        c.send(b""); s.recvfrom(64)
    for i in range(int(sys.argv[6]) if len(sys.argv) > 6 else int(sys.argv[4])):
        s.sendto(b"s" * 8, c.getsockname()); c.recv(64)
elif cmd == "send":
    src, dst, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
    r = socket.socket(fam(dst), socket.SOCK_DGRAM); r.bind((dst, port)); r.settimeout(0.3)
    c = socket.socket(fam(dst), socket.SOCK_DGRAM); c.bind((src, 0))
    got = 0
    for i in range(int(sys.argv[5]) if len(sys.argv) > 5 else 1):
        try:
            c.sendto(b"btblockd", (dst, port))
            r.recv(64)
            got += 1
        except (socket.timeout, PermissionError):
            pass    # a drop in the output hook is EPERM for the sender
        time.sleep(0.1)
    print(got)
elif cmd == "connect":
    src, dst, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
    l = socket.socket(fam(dst), socket.SOCK_STREAM); l.bind((dst, port)); l.listen(1)
    c = socket.socket(fam(dst), socket.SOCK_STREAM); c.bind((src, 0)); c.settimeout(1.5)
    try:
        c.connect((dst, port)); print("connected")
    except ConnectionRefusedError:
        print("reset")
    except (socket.timeout, PermissionError):
        print("timeout")
EOF

# What the output hook sends on after table inet btblockd's decide chain
# (and the xtables queue rule, priority mangle): per direction, queued
# packets with payload, queued packets with neither payload nor SYN, FIN,
# RST (bare ACKs), and bare ACKs that were not queued.  No daemon is
# bound, so "bypass" lets queued packets go on with the queue mark.
cat >"$TMP/observe.nft" <<'EOF'
table inet btbfw_observe
delete table inet btbfw_observe
table inet btbfw_observe {
	counter q_orig { }
	counter q_reply { }
	counter q_bare { }
	counter bare_orig { }
	counter bare_reply { }
	chain out {
		type filter hook output priority mangle + 5; policy accept;
		meta l4proto { tcp, udp } th dport != 7000-7099 th sport != 7000-7099 jump observe
	}
	chain observe {
		meta mark & 0x00ff0000 == 0x00c10000 @ih,0,8 >= 0 ct direction original counter name "q_orig" return
		meta mark & 0x00ff0000 == 0x00c10000 @ih,0,8 >= 0 ct direction reply counter name "q_reply" return
		@ih,0,8 >= 0 return
		tcp flags & (fin | syn | rst) != 0 return
		meta mark & 0x00ff0000 == 0x00c10000 counter name "q_bare" return
		ct direction original counter name "bare_orig" return
		counter name "bare_reply"
	}
}
EOF

# obs NAME: packets of an observer counter.
obs() {
	inns nft list counter inet btbfw_observe "$1" | sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p'
}

if command -v python3 >/dev/null 2>&1; then
	inns ip link set lo up
	fw up --queues 7 --hooks output --queue-packets 4
	expect_rc 0 "[budget] up --queue-packets 4 --hooks output"
	inns nft -f "$TMP/observe.nft" || fail "[budget] the observer table does not load"
	for fam in 4 6; do
		# TCP: the server's 7 segments draw 7 bare ACKs from the client
		# before the client's first payload (8 with the handshake's); with
		# ACKs counted, the client direction's budget of 4 would be gone
		# before its payload.  (Few enough that the flow stays below the
		# backstop, 32 packets, until the client has sent its payload.)
		inns nft -f "$TMP/observe.nft"
		inns python3 "$TMP/fwtraffic.py" tcp "$fam" 5201 6 ||
			fail "[budget] IPv$fam TCP traffic failed"
		q_orig=$(obs q_orig) q_reply=$(obs q_reply) q_bare=$(obs q_bare)
		bare_orig=$(obs bare_orig)
		echo "# [budget] IPv$fam TCP: queued with payload: original $q_orig, reply $q_reply; bare ACKs queued $q_bare, passed unqueued from the client $bare_orig"
		[ "$bare_orig" -ge 7 ] || fail "[budget] IPv$fam TCP: only $bare_orig bare ACKs from the client: the test did not make them"
		# The client's SYN and 3 payload segments; the server's SYN-ACK and 3.
		expect_count "$q_orig" 3 "[budget] IPv$fam TCP: the client direction queues 3 payload packets after its SYN, ACKs not counted"
		expect_count "$q_reply" 3 "[budget] IPv$fam TCP: the server direction has its own budget of 4 (SYN-ACK + 3)"
		expect_count "$q_bare" 0 "[budget] IPv$fam TCP: no bare ACK is queued"

		inns nft -f "$TMP/observe.nft"
		inns python3 "$TMP/fwtraffic.py" udp "$fam" 5202 10 || fail "[budget] IPv$fam UDP traffic failed"
		q_orig=$(obs q_orig) q_reply=$(obs q_reply) q_bare=$(obs q_bare)
		echo "# [budget] IPv$fam UDP: queued with payload: original $q_orig, reply $q_reply; empty datagrams queued $q_bare"
		expect_count "$q_orig" 4 "[budget] IPv$fam UDP: 4 of the client's 10 datagrams queued"
		expect_count "$q_reply" 4 "[budget] IPv$fam UDP: 4 of the server's 10 datagrams queued"
		expect_count "$q_bare" 0 "[budget] IPv$fam UDP: no empty datagram is queued"
	done
	n=$(inns nft list set inet btblockd budget | grep -c ' \. \(original\|reply\) ' || true)
	echo "# [budget] elements in the budget set: $n"
	expect_count "$n" 8 "[budget] one budget element per flow and direction"

	# The backstop: a budget set that is full makes the budget rule fail
	# and the packet go to the queue; the backstop (8 x 4 = 32 queued
	# packets of the flow) still ends it.  With room for one element, the
	# client direction gets its budget (4 of 40 datagrams queued, the rest
	# leave at the budget and are not counted) and the server direction
	# none: its datagrams are queued until the flow's 32nd queued packet
	# (the client's 4, then 28 of the server's 40).
	sed '/set budget {/,/^[[:space:]]*}$/s/size 65536/size 1/' "$BTBLOCKD_RULESET" >"$TMP/tinybudget.nft"
	rc=0
	inns env BTBLOCKD_RULESET="$TMP/tinybudget.nft" "$BTBLOCKD_FIREWALL" up --queues 7 \
		--hooks output --queue-packets 4 >"$TMP/out" 2>"$TMP/err" || rc=$?
	expect_rc 0 "[budget] up with a budget set of one element"
	inns nft -f "$TMP/observe.nft"
	inns python3 "$TMP/fwtraffic.py" udp 4 5203 40 || fail "[budget] UDP traffic failed"
	q_orig=$(obs q_orig) q_reply=$(obs q_reply)
	echo "# [budget] budget set full: queued client datagrams $q_orig of 40, server datagrams $q_reply of 40"
	expect_count "$q_orig" 4 "[budget] budget set full: the direction with an element keeps its budget"
	expect_count "$q_reply" 28 "[budget] budget set full: the backstop ends queueing at the flow's 32nd queued packet"
	inns nft delete table inet btbfw_observe
	fw down
	expect_rc 0 "[budget] down"

	# One direction's bulk, long past its budget, leaves the other
	# direction's budget alone: 200 client datagrams, then the server's
	# 10 still get their 4 (the backstop counts only queued packets).
	fw up --queues 7 --hooks output --queue-packets 4
	expect_rc 0 "[budget] up for the one-sided bulk"
	inns nft -f "$TMP/observe.nft"
	inns python3 "$TMP/fwtraffic.py" udp 4 5205 200 40205 10 || fail "[budget] one-sided UDP traffic failed"
	q_orig=$(obs q_orig) q_reply=$(obs q_reply)
	echo "# [budget] one-sided bulk: queued client datagrams $q_orig of 200, server datagrams $q_reply of 10"
	expect_count "$q_orig" 4 "[budget] one-sided bulk: the client direction spends its budget"
	expect_count "$q_reply" 4 "[budget] one-sided bulk: the server direction keeps its own"
	inns nft delete table inet btbfw_observe
	fw down

	# Counted from first sight: a flow that ran before the ruleset was
	# loaded (200 datagrams each way, far past the backstop of 32) gets
	# the budget of a new flow once the ruleset sees it.
	inns python3 "$TMP/fwtraffic.py" udp 4 5204 200 40204 || fail "[budget] UDP traffic before up failed"
	fw up --queues 7 --hooks output --queue-packets 4
	expect_rc 0 "[budget] up after a flow started"
	inns nft -f "$TMP/observe.nft"
	inns python3 "$TMP/fwtraffic.py" udp 4 5204 20 40204 || fail "[budget] UDP traffic after up failed"
	q_orig=$(obs q_orig) q_reply=$(obs q_reply)
	echo "# [budget] a flow older than the ruleset: queued client datagrams $q_orig of 20, server datagrams $q_reply of 20"
	expect_count "$q_orig" 4 "[budget] a flow older than the ruleset: the client direction gets a full budget"
	expect_count "$q_reply" 4 "[budget] a flow older than the ruleset: the server direction gets a full budget"
	inns nft delete table inet btbfw_observe
	fw down
	expect_rc 0 "[budget] down"

	# xt: until its NFQUEUE rules are in place the table counts packets
	# against budgets that nothing queues.  An iptables that sends a
	# flow's traffic once the table is loaded puts that traffic in the
	# gap (20 datagrams each way, more than the budget of 4); up must
	# empty the budgets after the xtables rules, so the same flow's next
	# datagrams are queued.
	mkdir "$TMP/bin-gap"
	for tool in iptables ip6tables; do
		cat >"$TMP/bin-gap/$tool" <<EOF
#!/bin/sh
if [ ! -e "$TMP/gap.done" ] && nft list table inet btblockd >/dev/null 2>&1; then
	: >"$TMP/gap.done"
	python3 "$TMP/fwtraffic.py" udp 4 5206 20 40206 >/dev/null || echo failed >"$TMP/gap.done"
fi
exec "$(command -v "$tool")" "\$@"
EOF
		chmod +x "$TMP/bin-gap/$tool"
	done
	rc=0
	inns env PATH="$TMP/bin-gap:$PATH" "$BTBLOCKD_FIREWALL" up --queues 7 --hooks output \
		--queue-packets 4 --backend xt >"$TMP/out" 2>"$TMP/err" || rc=$?
	expect_rc 0 "[budget] up --backend xt with traffic between the table and its xtables rules"
	if [ ! -e "$TMP/gap.done" ] || [ -s "$TMP/gap.done" ]; then
		fail "[budget] the traffic between the table and its xtables rules did not run"
	fi
	inns nft -f "$TMP/observe.nft"
	inns python3 "$TMP/fwtraffic.py" udp 4 5206 20 40206 || fail "[budget] UDP traffic after up failed"
	q_orig=$(obs q_orig) q_reply=$(obs q_reply)
	echo "# [budget] xt, a flow that ran while up added its xtables rules: queued client datagrams $q_orig of 20, server datagrams $q_reply of 20"
	expect_count "$q_orig" 4 "[budget] xt: the client direction has a budget after up"
	expect_count "$q_reply" 4 "[budget] xt: the server direction has a budget after up"
	inns nft delete table inet btbfw_observe
	fw down
	expect_rc 0 "[budget] down after the xt budgets"

	# --- traffic: the verdict marks, bans and a full ban set ---------------
	# A stand-in for the daemon: between the decide and the verdict chains
	# it writes a verdict mark on packets to ports 7001-7004, as btblockd
	# does on its verdicts (on port 7002 from the flow's second packet:
	# a flow dropped on its first packet never gets a conntrack entry to
	# keep the mark in).  Before the decide chain it counts packets to
	# port 7002 whose conntrack mark holds the block value.
	cat >"$TMP/verdicts.nft" <<'EOF'
table inet btbfw_sim {
	counter ct_block { }
	chain pre {
		type filter hook output priority mangle - 20; policy accept;
		udp dport 7002 ct mark & 0x00ff0000 == 0x00b10000 counter name "ct_block"
	}
	chain out {
		type filter hook output priority mangle + 5; policy accept;
		udp dport 7001 meta mark set meta mark & 0xff00ffff | 0x00b10000
		udp dport 7002 ct original packets > 1 meta mark set meta mark & 0xff00ffff | 0x00b30000
		tcp dport 7004 meta mark set meta mark & 0xff00ffff | 0x00b40000
		udp dport 7005 limit rate 1/hour burst 1 packets meta mark set meta mark & 0xff00ffff | 0x00b30000
	}
}
EOF
	fw up --queues 7 --hooks output --ban-set-size 3
	expect_rc 0 "[verdicts] up --ban-set-size 3 --hooks output"
	inns nft -f "$TMP/verdicts.nft" || fail "[verdicts] the stand-in table does not load"
	before_blocked=$(inns nft list counter inet btblockd blocked | sed -n 's/.*packets \([0-9]*\) .*/\1/p')

	# Block: the pair is banned in both orders, a new flow between it dies.
	r1=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.11 127.0.0.2 7001)
	r2=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.11 127.0.0.2 7003)
	pairs=$(inns nft list set inet btblockd ban4 | tr ',' '\n' | grep -c '127\.0\.0\.\(11 \. 127\.0\.0\.2\|2 \. 127\.0\.0\.11\)' || true)
	echo "# [verdicts] block: $r1 of 1 datagram arrived, ban4 holds the pair in $pairs orders, new flow to another port: $r2 of 1 arrived"
	expect_count "$([ "$r1" = 0 ] && echo 1 || echo 0)" 1 "[verdicts] block: the marked datagram is dropped"
	expect_count "$pairs" 2 "[verdicts] block: the pair is banned in both orders"
	expect_count "$([ "$r2" = 0 ] && echo 1 || echo 0)" 1 "[verdicts] block: a new flow between the banned pair is dropped"

	# Flow-only block: dropped, no ban; the next flow between the pair
	# passes.  Of 3 datagrams the first passes, the second is blocked and
	# the third dropped by its conntrack mark.
	r1=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.12 127.0.0.2 7002 3)
	r2=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.12 127.0.0.2 7003)
	n=$(inns nft list set inet btblockd ban4 | grep -c '127\.0\.0\.12' || true)
	echo "# [verdicts] block-flow: $r1 of 3 datagrams arrived, ban4 entries for the pair $n, new flow to another port: $r2 of 1 arrived"
	expect_count "$r1" 1 "[verdicts] block-flow: the flow is dropped from its blocked packet on"
	expect_count "$n" 0 "[verdicts] block-flow: the pair is not banned"
	expect_count "$([ "$r2" = 1 ] && echo 1 || echo 0)" 1 "[verdicts] block-flow: a new flow between the pair passes"
	ctmark=$(inns nft list counter inet btbfw_sim ct_block | sed -n 's/.*packets \([0-9]*\) .*/\1/p')
	expect_count "$ctmark" 1 "[verdicts] block-flow: the flow's second packet carries the block value in its conntrack mark"

	# A flow blocked on its first packet (port 7005: only the first is
	# given the block-flow verdict, as by a daemon that then restarted
	# and forgot it) keeps no conntrack entry; held4 keeps the block:
	# none of 4 datagrams arrives, the flow is in held4 in both orders,
	# and another flow between the pair passes.
	r1=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.14 127.0.0.2 7005 4)
	r2=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.14 127.0.0.2 7003)
	n=$(inns nft list set inet btblockd held4 | tr ',' '\n' |
		grep -c '127\.0\.0\.\(14 \. 127\.0\.0\.2 \. udp \. [0-9]* \. 7005\|2 \. 127\.0\.0\.14 \. udp \. 7005 \. [0-9]*\)' || true)
	udp_timeouts=$(inns nft list set inet btblockd held4 | tr ',' '\n' | grep ' 7005 ' |
		sed -n 's/.* timeout \([0-9a-z]*\) .*/\1/p' | sort -u | tr '\n' ' ')
	echo "# [verdicts] held: $r1 of 4 datagrams arrived, held4 holds the flow in $n orders (timeout $udp_timeouts), another flow: $r2 of 1 arrived"
	expect_count "$r1" 0 "[verdicts] held: a flow blocked on its first packet stays blocked without the daemon"
	expect_count "$n" 2 "[verdicts] held: the flow is held in both orders"
	if [ "$udp_timeouts" = "1m " ]; then
		ok "[verdicts] held: a UDP flow is held for the daemon's idle time of a UDP flow (1m)"
	else
		fail "[verdicts] held: the held UDP flow's timeouts are '$udp_timeouts', expected 1m"
	fi
	expect_count "$([ "$r2" = 1 ] && echo 1 || echo 0)" 1 "[verdicts] held: another flow between the pair passes"

	# Reject-flow: the SYN is answered with a reset, no ban.
	r1=$(inns python3 "$TMP/fwtraffic.py" connect 127.0.0.13 127.0.0.2 7004)
	n=$(inns nft list set inet btblockd ban4 | grep -c '127\.0\.0\.13' || true)
	echo "# [verdicts] reject-flow: connect $r1, ban4 entries for the pair $n"
	expect_count "$([ "$r1" = reset ] && echo 1 || echo 0)" 1 "[verdicts] reject-flow: the connection is reset"
	expect_count "$n" 0 "[verdicts] reject-flow: the pair is not banned"

	# The ban set holds 3 elements: the first pair took 2; the next block
	# fills it and fails, the one after fails at once.  Both flows are
	# still dropped; the failures are counted and "status" says so.
	r1=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.14 127.0.0.2 7001)
	r2=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.15 127.0.0.2 7001)
	bans=$(inns nft list counter inet btblockd bans | sed -n 's/.*packets \([0-9]*\) .*/\1/p')
	failed=$(inns nft list counter inet btblockd bans_failed | sed -n 's/.*packets \([0-9]*\) .*/\1/p')
	blocked=$(( $(inns nft list counter inet btblockd blocked | sed -n 's/.*packets \([0-9]*\) .*/\1/p') - before_blocked ))
	echo "# [verdicts] full ban set (size 3): datagrams arrived $r1 of 1, $r2 of 1; counters bans $bans, bans_failed $failed; blocked +$blocked"
	expect_count "$([ "$r1/$r2" = 0/0 ] && echo 1 || echo 0)" 1 "[verdicts] full ban set: the blocked flows are still dropped"
	expect_count "$bans" 1 "[verdicts] full ban set: one ban counted"
	expect_count "$failed" 2 "[verdicts] full ban set: two failed bans counted"
	fw status
	expect_rc 0 "[verdicts] status"
	expect_in "$TMP/out" '^counter bans_failed: packets 2 ' "[verdicts] status shows bans_failed"
	expect_in "$TMP/out" '^note: 2 bans could not be added because a ban set was full' "[verdicts] status notes the full ban set"
	expect_in "$TMP/out" '^ban set ban4: 3 elements of 3$' "[verdicts] status: ban4 is full"

	# --ban-scope none: a block drops the flow and bans nothing.
	fw up --queues 7 --hooks output --ban-scope none
	expect_rc 0 "[verdicts] up --ban-scope none"
	r1=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.16 127.0.0.2 7001)
	r2=$(inns python3 "$TMP/fwtraffic.py" send 127.0.0.16 127.0.0.2 7003)
	n=$(inns nft list set inet btblockd ban4 | grep -c '127\.0\.0\.16' || true)
	echo "# [verdicts] ban-scope none: $r1 of 1 datagram arrived, ban4 entries $n, new flow: $r2 of 1 arrived"
	expect_count "$([ "$r1/$r2/$n" = 0/1/0 ] && echo 1 || echo 0)" 1 \
		"[verdicts] ban-scope none: the flow is dropped, the pair not banned"
	fw status
	expect_not_in "$TMP/out" '^note: ' "[verdicts] ban-scope none: status has no note"
	inns nft delete table inet btbfw_sim
	fw down
	expect_rc 0 "[verdicts] down"
	inns ip link set lo down
	expect_same_ruleset "$TMP/empty" "[verdicts] down leaves nothing behind"
else
	echo "# python3 not found: budget and verdict checks not run"
fi

# --- the ban state file: read as hostile input -----------------------------
# Each bad file is reported, set aside as bans.corrupt and ignored;
# nothing of it reaches nft, the table stays as it was.
state=$BTBLOCKD_STATE_DIR/bans
fw up --queues 0 --backend "$kernel_backend"
expect_rc 0 "[state] up"
ruleset >"$TMP/state.before"
ends=$(( $(date +%s) + 600 ))
n=0
while IFS= read -r body; do
	n=$((n + 1))
	mkdir -p "$BTBLOCKD_STATE_DIR"
	printf '%b' "$body" >"$state"
	fw restore
	expect_rc 0 "[state] bad file $n: restore does not fail"
	expect_in "$TMP/err" 'ban state file .* ignored: ' "[state] bad file $n reported: $(head -c 60 "$state.corrupt" 2>/dev/null | tr '\n' '|')"
	if [ -e "$state.corrupt" ] && [ ! -e "$state" ]; then
		ok "[state] bad file $n set aside"
	else
		fail "[state] bad file $n not set aside"
	fi
	rm -f "$state.corrupt"
done <<EOF
not a ban file\n
btblockd-bans 2\nban4 192.0.2.1 198.51.100.1 $ends -\n
btblockd-bans 1\nban4 192.0.2.1 198.51.100.1 $ends\n
btblockd-bans 1\nban5 192.0.2.1 198.51.100.1 $ends -\n
btblockd-bans 1\nban4 192.0.2.300 198.51.100.1 $ends -\n
btblockd-bans 1\nban4 192.0.2.1 2001:db8::1 $ends -\n
btblockd-bans 1\nban6 2001:db8::1 2001:db8::g $ends -\n
btblockd-bans 1\nban4 192.0.2.1 198.51.100.1 -5 -\n
btblockd-bans 1\nban4 192.0.2.1 198.51.100.1 $ends 0\n
btblockd-bans 1\nban4 192.0.2.1 198.51.100.1 1234567890123 -\n
btblockd-bans 1\nban4 192.0.2.1 198.51.100.1}; flush ruleset; { $ends -\n
btblockd-bans 1\nban4 192.0.2.1 . 198.51.100.1 $ends -\n
btblockd-bans 1\nban4 192.0.2.1 198.51.100.1 $ends - extra\n
\n
EOF
ruleset >"$TMP/state.after"
if cmp -s "$TMP/state.before" "$TMP/state.after"; then
	ok "[state] the bad files changed nothing in the kernel"
else
	fail "[state] the bad files changed the ruleset"
fi
# A good file: IPv4, IPv6 (with an embedded IPv4 address), an element
# with a timeout of its own, one already over; restore adds what is not
# over and removes the file.
printf 'btblockd-bans 1\nban4 192.0.2.1 198.51.100.1 %s -\nban6 2001:db8::1 ::ffff:192.0.2.7 %s 900\nban4 192.0.2.2 198.51.100.2 %s -\n' \
	"$ends" "$ends" "$(( $(date +%s) - 1 ))" >"$state"
fw restore
expect_rc 0 "[state] restore of a good file"
expect_in "$TMP/out" 'restore: 2 bans restored \(1 expired\)' "[state] restore: 2 restored, 1 expired"
inns nft list set inet btblockd ban4 >"$TMP/set4"
inns nft list set inet btblockd ban6 >"$TMP/set6"
expect_in "$TMP/set4" '192\.0\.2\.1 \. 198\.51\.100\.1 expires' "[state] the IPv4 ban is back"
expect_not_in "$TMP/set4" '192\.0\.2\.2 ' "[state] the ban already over is not"
expect_in "$TMP/set6" '2001:db8::1 \. ::ffff:192\.0\.2\.7 timeout 15m expires' "[state] the IPv6 ban is back with its own timeout"
if [ ! -e "$state" ]; then
	ok "[state] restore removed the file"
else
	fail "[state] restore left the file"
fi
fw down
expect_rc 0 "[state] down"
mode=$(stat -c '%a' "$state" 2>/dev/null || echo none)
expect_count "$(grep -c -e '^ban4 192\.0\.2\.1 198\.51\.100\.1 [0-9]* -$' \
	-e '^ban6 2001:db8::1 ::ffff:192\.0\.2\.7 [0-9]* 900$' "$state" 2>/dev/null || echo 0)" 2 \
	"[state] down saved the 2 restored bans"
expect_count "$([ "$mode" = 600 ] && echo 1 || echo 0)" 1 "[state] the state file has mode 600 ($mode)"
rm -f "$state"

echo "# $checks checks, $fails failed"
[ "$fails" -eq 0 ]
