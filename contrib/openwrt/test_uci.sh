#!/bin/sh
# test_uci.sh: checks the OpenWrt package as far as this machine allows: init script, UCI defaults, fw4 include.
#
# 1. shellcheck on the init script (ash dialect) and the render script.
# 2. files/btblockd.nft is what render-fw4.sh makes of nft/btblockd.nft.
# 3. The init script, sourced with the OpenWrt functions stubbed
#    (uci_load_validate type-checks /etc/config/btblockd against the
#    script's own specs), turns the shipped defaults into the expected
#    btblockd command line (detections to syslog, not to a file on flash);
#    changed and invalid values too; the policy (list exempt,
#    exempt_remote, schedule, option action) becomes the policy file the
#    fw4 include loads, checked by btblockd-firewall: bad values are
#    named and change nothing.
# 4. As root, in a throw-away network namespace: btblockd starts with
#    exactly those arguments (only --control moved to a temporary path)
#    and serves queues 0-3; the fw4 include passes "nft -c" with its queue
#    statement stripped (this kernel lacks nft queue) and loads twice in a
#    row inside an fw4-like ruleset, leaving one table and applying the
#    policy file after it.
# Part 4 is skipped with BTBLOCKD_SKIP_KERNEL_TESTS=1 and fails without root.
set -eu

srcdir=${BTBLOCKD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
owrt=$srcdir/contrib/openwrt
BTBLOCKD=${BTBLOCKD:-src/btblockd}
BTBLOCKCTL=${BTBLOCKCTL:-${BTBLOCKD_BUILDDIR:-.}/src/btblockctl}
RULESET=${BTBLOCKD_RULESET:-$srcdir/nft/btblockd.nft}
fails=0
tmp=$(mktemp -d)
ns=
daemon_pid=

cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok: $*"; }
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# --- 1. shellcheck ----------------------------------------------------------
if command -v shellcheck >/dev/null 2>&1; then
	if shellcheck "$owrt/files/btblockd.init" && shellcheck "$owrt/render-fw4.sh" "$0"; then
		ok "shellcheck: init script (ash), render-fw4.sh, this test"
	else
		fail "shellcheck"
	fi
else
	fail "shellcheck is not installed (contrib/install-deps.sh installs it)"
fi

# --- 2. the fw4 include is in sync with the ruleset ------------------------
sh "$owrt/render-fw4.sh" "$RULESET" >"$tmp/rendered.nft"
if cmp -s "$tmp/rendered.nft" "$owrt/files/btblockd.nft"; then
	ok "files/btblockd.nft matches render-fw4.sh nft/btblockd.nft"
else
	fail "files/btblockd.nft is out of date: run sh contrib/openwrt/render-fw4.sh nft/btblockd.nft >contrib/openwrt/files/btblockd.nft"
	diff "$owrt/files/btblockd.nft" "$tmp/rendered.nft" | head -20 || true
fi
if grep -v '^[[:space:]]*#' "$owrt/files/btblockd.nft" | grep -q '\$'; then
	fail "files/btblockd.nft still uses nft variables"
fi

# --- 3. UCI defaults -> command line -------------------------------------
# The stubs stand in for /lib/functions.sh and /lib/functions/procd.sh.

# uci_value FILE SECTION OPTION: the option's value in an /etc/config file.
uci_value() {
	awk -v sec="$2" -v opt="$3" '
		$1 == "config" { gsub(/\047/, "", $3); insec = ($3 == sec) }
		insec && $1 == "option" && $2 == opt {
			v = $0
			sub(/^[[:space:]]*option[[:space:]]+[^[:space:]]+[[:space:]]+/, "", v)
			gsub(/^\047|\047$/, "", v)
			print v
			found = 1
		}
		END { exit found ? 0 : 1 }
	' "$1"
}

# valid TYPE VALUE: the subset of ubox validate types the init script uses.
valid() {
	case $1 in
	bool)
		case $2 in 0 | 1 | yes | no | on | off | true | false) return 0 ;; esac
		return 1
		;;
	string | 'list(string)') return 0 ;;
	portrange)
		lo=${2%%-*}
		hi=${2#*-}
		for p in "$lo" "$hi"; do
			case $p in '' | *[!0-9]*) return 1 ;; esac
			[ "$p" -le 65535 ] || return 1
		done
		[ "$lo" -le "$hi" ]
		;;
	range\(*)
		r=${1#range(}
		r=${r%)}
		case $2 in '' | *[!0-9]*) return 1 ;; esac
		[ "$2" -ge "${r%,*}" ] && [ "$2" -le "${r#*,}" ]
		;;
	or\(*)
		case ",${1#or(}" in *",\"$2\""[,\)]*) return 0 ;; esac
		return 1
		;;
	*)
		echo "test_uci.sh: no stub for validation type $1" >&2
		return 1
		;;
	esac
}

UCI_CONFIG=$owrt/files/btblockd.config
SPECS=
uci_load_validate() {
	_pkg=$1 _type=$2 _name=$3 _cb=$4
	shift 4
	_result=0
	SPECS=
	for _spec in "$@"; do
		_opt=${_spec%%:*}
		_rest=${_spec#*:}
		# the type may contain ':'-free parentheses and quotes; the
		# default is what follows the last ':'
		case $_rest in
		*:*) _t=${_rest%:*} _def=${_rest##*:} ;;
		*) _t=$_rest _def= ;;
		esac
		SPECS="$SPECS $_opt"
		if _val=$(uci_value "$UCI_CONFIG" "$_name" "$_opt"); then
			if ! valid "$_t" "$_val"; then
				echo "validation: $_pkg.$_name.$_opt='$_val' is not $_t" >&2
				_result=1
			fi
		else
			_val=$_def
		fi
		eval "$_opt=\$_val"
	done
	[ "$_type" = btblockd ] || _result=1
	"$_cb" "$_name" "$_result"
}
config_load() { :; }
# config_list_foreach SECTION OPTION CALLBACK: the "list" lines.
config_list_foreach() {
	awk -v sec="$1" -v opt="$2" '
		$1 == "config" { gsub(/\047/, "", $3); insec = ($3 == sec) }
		insec && $1 == "list" && $2 == opt {
			v = $0
			sub(/^[[:space:]]*list[[:space:]]+[^[:space:]]+[[:space:]]+/, "", v)
			gsub(/^\047|\047$/, "", v)
			print v
		}' "$UCI_CONFIG" >"$tmp/list"
	while IFS= read -r _item; do
		"$3" "$_item"
	done <"$tmp/list"
}
# The table is not loaded here (the host's ruleset is never touched).
nft() {
	echo "nft $*" >>"$tmp/nft"
	return 1
}
# A firewall with a lan zone (networks lan and guest, the latter down, and
# the device wg0) and a wan zone, as uci and netifd would show it.
uci() {
	[ "$1" = -q ] && shift
	[ "$1" = get ] || return 1
	case $2 in
	'firewall.@zone[0]' | 'firewall.@zone[1]') echo zone ;;
	'firewall.@zone[0].name') echo lan ;;
	'firewall.@zone[0].network') echo lan guest ;;
	'firewall.@zone[0].device') echo wg0 ;;
	'firewall.@zone[1].name') echo wan ;;
	'firewall.@zone[1].network') echo wan wan6 ;;
	*) return 1 ;;
	esac
}
network_get_device() {
	case $2 in
	lan) eval "$1=br-lan" ;;
	guest) eval "$1=" && return 1 ;;
	*) eval "$1=eth-$2" ;;
	esac
}
logger() { echo "logger: $*" >>"$tmp/logger"; }
procd_open_instance() { : >"$tmp/cmd"; }
procd_set_param() {
	[ "$1" = command ] || return 0
	shift
	printf '%s\n' "$@" >"$tmp/cmd"
}
procd_append_param() {
	[ "$1" = command ] || return 0
	shift
	printf '%s\n' "$@" >>"$tmp/cmd"
}
procd_close_instance() { cp "$tmp/cmd" "$tmp/instance"; }

# shellcheck disable=SC1091 # checked on its own above
. "$owrt/files/btblockd.init"
# shellcheck disable=SC2034 # used by the init script's functions
CONNTRACK_ACCT=$tmp/acct	# not the host's
# shellcheck disable=SC2034
FW4_INCLUDE=$owrt/files/btblockd.nft
# shellcheck disable=SC2034
FIREWALL=${BTBLOCKD_FIREWALL:-${BTBLOCKD_BUILDDIR:-.}/nft/btblockd-firewall}
# shellcheck disable=SC2034
POLICY_DIR=$tmp/policy

# Every validated option is in the shipped config, and the reverse.
rm -f "$tmp/instance"
start_service
for opt in $SPECS; do
	case $opt in
	exempt | exempt_remote | schedule)
		# lists, shown commented out
		grep -q "^[[:space:]]*#list $opt '" "$UCI_CONFIG" ||
			fail "list $opt is validated but missing from files/btblockd.config"
		continue
		;;
	esac
	uci_value "$UCI_CONFIG" main "$opt" >/dev/null ||
		fail "option $opt is validated but missing from files/btblockd.config"
done
if grep -q '^add rule inet btblockd blocked counter name "blocked" drop$' "$tmp/policy/policy.nft" 2>/dev/null &&
	! grep -q 'goto exempt\|meta day' "$tmp/policy/policy.nft"; then
	ok "UCI defaults: the policy file holds action block, no exemption, no schedule"
else
	fail "UCI defaults: unexpected policy file"
	cat "$tmp/policy/policy.nft" 2>/dev/null || true
fi
awk '$1 == "option" { print $2 }' "$UCI_CONFIG" >"$tmp/options"
while read -r opt; do
	case " $SPECS " in
	*" $opt "*) ;;
	*) fail "option $opt of files/btblockd.config is not validated by the init script" ;;
	esac
done <"$tmp/options"

cat >"$tmp/expected" <<'EOF'
/usr/sbin/btblockd
-f
--queues
0-3
--control
/var/run/btblockd.sock
--pidfile
/var/run/btblockd.pid
--log-level
notice
--flow-capacity
16384
--tcp-timeout
300
--udp-timeout
60
--stream-prefix
1024
--allow-after
6
--endpoint-capacity
16384
--endpoint-ttl
3600
--copy-range
2048
--queue-maxlen
4096
--rcvbuf
4194304
--detect-log-rate
50
--detect-log-max-size
1048576
--fail-open
--detect-syslog
--protected-interface
br-lan,wg0
EOF
if [ -f "$tmp/instance" ] && cmp -s "$tmp/expected" "$tmp/instance"; then
	ok "UCI defaults render the expected btblockd command line"
else
	fail "UCI defaults: unexpected command line"
	diff "$tmp/expected" "$tmp/instance" || true
fi
if [ ! -s "$tmp/logger" ]; then
	ok "UCI defaults: queues agree with the fw4 include (no warning)"
else
	fail "UCI defaults: warning $(cat "$tmp/logger")"
fi

# Changed values, the bool spellings and a path with a space.
sed -e "s/option monitor '0'/option monitor 'yes'/" \
	-e "s/option fail_open '1'/option fail_open 'off'/" \
	-e "s/option cpus ''/option cpus '0,2-3'/" \
	-e "s|option detect_log ''|option detect_log '/tmp/bt log.json'|" \
	-e "s/option queues '0-3'/option queues '4-5'/" \
	-e "s/option detect_syslog '1'/option detect_syslog 'off'/" \
	-e "s/option detect_log_max_size '1048576'/option detect_log_max_size '0'/" \
	-e "s/option protected_interface ''/option protected_interface 'eth1,wlan0'/" \
	-e "s|option protected_prefix ''|option protected_prefix '192.168.1.0/24,2001:db8::/48'|" \
	-e "s|option dhcp_leases ''|option dhcp_leases '/tmp/dhcp.leases'|" \
	-e "s|option detect_exec ''|option detect_exec '/usr/bin/notify'|" \
	-e "s/option detect_exec_rate '30'/option detect_exec_rate '5'/" \
	"$owrt/files/btblockd.config" >"$tmp/changed"
UCI_CONFIG=$tmp/changed
rm -f "$tmp/instance"
start_service
if [ -f "$tmp/instance" ] && grep -qx -- --monitor "$tmp/instance" &&
	grep -qx -- --fail-closed "$tmp/instance" && ! grep -qx -- --fail-open "$tmp/instance" &&
	grep -A1 -x -- --cpus "$tmp/instance" | grep -qx '0,2-3' &&
	grep -A1 -x -- --detect-log "$tmp/instance" | grep -qx '/tmp/bt log.json' &&
	grep -A1 -x -- --queues "$tmp/instance" | grep -qx '4-5' &&
	! grep -qx -- --detect-syslog "$tmp/instance" &&
	grep -A1 -x -- --detect-log-max-size "$tmp/instance" | grep -qx '0' &&
	grep -A1 -x -- --protected-interface "$tmp/instance" | grep -qx 'eth1,wlan0' &&
	grep -A1 -x -- --protected-prefix "$tmp/instance" | grep -qx '192.168.1.0/24,2001:db8::/48' &&
	grep -A1 -x -- --dhcp-leases "$tmp/instance" | grep -qx '/tmp/dhcp.leases' &&
	grep -A1 -x -- --detect-exec "$tmp/instance" | grep -qx '/usr/bin/notify' &&
	grep -A1 -x -- --detect-exec-rate "$tmp/instance" | grep -qx '5'; then
	ok "changed UCI values: --monitor, --fail-closed, --cpus, --detect-log with a space, --queues, no --detect-syslog, --detect-log-max-size 0, --protected-interface, --protected-prefix, --dhcp-leases, --detect-exec, --detect-exec-rate"
else
	fail "changed UCI values: unexpected command line"
	cat "$tmp/instance" 2>/dev/null || true
fi
if grep -q "queues '4-5' differs from the queues of .* ('0-3')" "$tmp/logger" 2>/dev/null; then
	ok "queues other than the fw4 include's: warning logged"
else
	fail "queues other than the fw4 include's: no warning"
fi

# The policy lists and action: rendered into the policy file, the action
# passed to the daemon.
sed -e "s/option action 'block'/option action 'throttle 2mbit'/" \
	-e "s/#list exempt '192.168.1.10'/list exempt '192.168.1.10'/" \
	-e "s/#list exempt 'aa:bb:cc:dd:ee:ff'/list exempt 'aa:bb:cc:dd:ee:ff'/" \
	-e "s/#list exempt 'iface:guest'/list exempt 'iface:guest'/" \
	-e "s|#list exempt_remote '203.0.113.0/24'|list exempt_remote '203.0.113.0/24'|" \
	-e "s/#list schedule 'Mon-Fri 08:00-17:30'/list schedule 'Mon-Fri 08:00-17:30'/" \
	-e "s/#list schedule 'Sat,Sun 22:00-06:00'/list schedule 'Sat,Sun 22:00-06:00'/" \
	"$owrt/files/btblockd.config" >"$tmp/policy.config"
UCI_CONFIG=$tmp/policy.config
rm -f "$tmp/instance"
TZ=UTC0 start_service
policy_file=$tmp/policy/policy.nft
if [ -f "$tmp/instance" ] && grep -A1 -x -- --action "$tmp/instance" | grep -qx 'throttle 2mbit' &&
	grep -q '^add element inet btblockd exempt4 { 192\.168\.1\.10, 203\.0\.113\.0/24 }$' "$policy_file" &&
	grep -q '^add element inet btblockd exempt_mac { aa:bb:cc:dd:ee:ff }$' "$policy_file" &&
	grep -q '^add element inet btblockd exempt_if { "guest" }$' "$policy_file" &&
	[ "$(grep -c 'meta day' "$policy_file")" = 9 ] &&
	grep -q 'limit rate over 250000 bytes/second' "$policy_file"; then
	ok "UCI policy: exemptions, 7 windows (9 UTC pieces), throttle 2mbit in the policy file and --action for the daemon"
else
	fail "UCI policy: unexpected policy file or command line"
	cat "$policy_file" "$tmp/instance" 2>/dev/null || true
fi
mkdir "$tmp/fw4policy"
cp "$policy_file" "$tmp/fw4policy/policy.nft"	# for part 4
for bad in "s/option action 'block'/option action 'drop'/" \
	"s/option action 'block'/option action 'throttle 0kbit'/" \
	"s/#list exempt '192.168.1.10'/list exempt '192.168.1.300'/" \
	"s/#list exempt 'iface:guest'/list exempt 'iface:gu est;x'/" \
	"s|#list exempt_remote '203.0.113.0/24'|list exempt_remote 'aa:bb:cc:dd:ee:ff'|" \
	"s/#list schedule 'Mon-Fri 08:00-17:30'/list schedule 'Mon-Fri 25:00-26:00'/"; do
	sed -e "$bad" "$owrt/files/btblockd.config" >"$tmp/bad"
	UCI_CONFIG=$tmp/bad
	rm -f "$tmp/instance"
	cp "$policy_file" "$tmp/policy.before"
	if start_service 2>"$tmp/err" || [ -f "$tmp/instance" ]; then
		fail "invalid policy accepted: $bad"
	elif ! grep -q 'invalid policy in /etc/config/btblockd: .*invalid --' "$tmp/err"; then
		fail "invalid policy: no message naming it: $(cat "$tmp/err")"
	elif ! cmp -s "$policy_file" "$tmp/policy.before"; then
		fail "invalid policy: the policy file changed: $bad"
	else
		ok "invalid policy refused, named, nothing changed: $bad"
	fi
done

# Invalid values: no instance.
for bad in "s/option log_level 'notice'/option log_level 'loud'/" \
	"s/option queues '0-3'/option queues '3-1'/" \
	"s/option flow_capacity '16384'/option flow_capacity '8'/" \
	"s/option monitor '0'/option monitor 'maybe'/" \
	"s/option cpus ''/option cpus '0;reboot'/" \
	"s|option control '/var/run/btblockd.sock'|option control 'btblockd.sock'|" \
	"s/option detect_log_max_size '1048576'/option detect_log_max_size '2147483648'/" \
	"s/option detect_syslog '1'/option detect_syslog 'often'/" \
	"s/option protected_interface ''/option protected_interface 'br-lan;reboot'/" \
	"s|option protected_prefix ''|option protected_prefix 'lan net'|" \
	"s|option detect_exec ''|option detect_exec 'notify'|" \
	"s/option detect_exec_rate '30'/option detect_exec_rate '0'/"; do
	sed -e "$bad" "$owrt/files/btblockd.config" >"$tmp/bad"
	UCI_CONFIG=$tmp/bad
	rm -f "$tmp/instance"
	if start_service 2>/dev/null || [ -f "$tmp/instance" ]; then
		fail "invalid value accepted: $bad"
	else
		ok "invalid value refused: $bad"
	fi
done
# A zone without devices: no interface, a warning, the private ranges.
sed -e "s/option protected_zone 'lan'/option protected_zone 'wan'/" \
	"$owrt/files/btblockd.config" >"$tmp/zone"
UCI_CONFIG=$tmp/zone
rm -f "$tmp/instance" "$tmp/logger"
start_service
if grep -A1 -x -- --protected-interface "$tmp/instance" | grep -qx 'eth-wan,eth-wan6'; then
	ok "protected_zone 'wan': that zone's devices"
else
	fail "protected_zone 'wan': unexpected command line"
	cat "$tmp/instance" 2>/dev/null || true
fi
sed -e "s/option protected_zone 'lan'/option protected_zone 'dmz'/" \
	"$owrt/files/btblockd.config" >"$tmp/zone"
rm -f "$tmp/instance" "$tmp/logger"
start_service
if [ -f "$tmp/instance" ] && ! grep -qx -- --protected-interface "$tmp/instance" &&
	grep -q "zone 'dmz' has no device" "$tmp/logger" 2>/dev/null; then
	ok "protected_zone without devices: no --protected-interface, a warning"
else
	fail "protected_zone without devices: unexpected command line or no warning"
	cat "$tmp/instance" "$tmp/logger" 2>/dev/null || true
fi
UCI_CONFIG=$owrt/files/btblockd.config
sed -e "s/option enabled '1'/option enabled '0'/" "$owrt/files/btblockd.config" >"$tmp/off"
UCI_CONFIG=$tmp/off
rm -f "$tmp/instance"
start_service
if [ ! -f "$tmp/instance" ]; then
	ok "enabled '0': no instance"
else
	fail "enabled '0' started an instance"
fi

# --- 4. the kernel: daemon with these options, nft -c of the include -------
if [ "${BTBLOCKD_SKIP_KERNEL_TESTS:-0}" = 1 ]; then
	echo "*** SKIP: daemon and nft checks (BTBLOCKD_SKIP_KERNEL_TESTS=1) ***" >&2
elif [ "$(id -u)" != 0 ]; then
	fail "the daemon and nft checks need root; run make check as root, or set BTBLOCKD_SKIP_KERNEL_TESTS=1"
else
	ns=btbuci-$$
	ip netns add "$ns"
	sock=$tmp/btblockd.sock
	# The default command line with only the control socket moved.
	sed -e '1,2d' -e "s|^/var/run/btblockd.sock\$|$sock|" \
		-e "s|^/var/run/btblockd.pid\$|$tmp/btblockd.pid|" "$tmp/expected" >"$tmp/args"
	set -f
	old_ifs=$IFS
	IFS='
'
	# shellcheck disable=SC2046 # one argument per line
	set -- $(cat "$tmp/args")
	IFS=$old_ifs
	set +f
	ip netns exec "$ns" "$BTBLOCKD" -f -c /dev/null "$@" >"$tmp/daemon.log" 2>&1 &
	daemon_pid=$!
	i=0
	while [ ! -S "$sock" ] && [ "$i" -lt 50 ] && kill -0 "$daemon_pid" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ -S "$sock" ] && "$BTBLOCKCTL" -s "$sock" stats >"$tmp/stats" 2>&1 &&
		grep -q '"queue": 3' "$tmp/stats" && grep -q '"fail_open": true' "$tmp/stats"; then
		ok "btblockd starts with the UCI default options and serves queues 0-3"
	else
		fail "btblockd did not start with the UCI default options:"
		cat "$tmp/daemon.log" "$tmp/stats" 2>/dev/null || true
	fi
	kill "$daemon_pid" 2>/dev/null || true
	wait "$daemon_pid" 2>/dev/null || true
	daemon_pid=

	# The policy include points at the policy rendered above instead of
	# /var/run/btblockd.
	sed -e 's/[[:space:]]*queue num .*$//' \
		-e "s|^include \"/var/run/btblockd/\\*.nft\"\$|include \"$tmp/fw4policy/*.nft\"|" \
		"$owrt/files/btblockd.nft" >"$tmp/noqueue.nft"
	grep -q "^include \"$tmp/fw4policy/" "$tmp/noqueue.nft" ||
		fail "the fw4 include does not end in the include of /var/run/btblockd/*.nft"
	if ip netns exec "$ns" nft -c -f "$tmp/noqueue.nft"; then
		ok "nft -c accepts the fw4 include (queue statement stripped: no nft queue here)"
	else
		fail "nft -c rejects the fw4 include"
	fi
	# What fw4 does on start and on every reload: its own table flushed
	# and redefined, then the ruleset-post includes.
	printf '%s\n' 'table inet fw4' 'flush table inet fw4' 'table inet fw4 {' \
		'	chain forward { type filter hook forward priority filter; policy accept; }' \
		'}' "include \"$tmp/noqueue.nft\"" >"$tmp/fw4.nft"
	if ip netns exec "$ns" nft -f "$tmp/fw4.nft" && ip netns exec "$ns" nft -f "$tmp/fw4.nft" &&
		[ "$(ip netns exec "$ns" nft list tables | grep -c 'table inet btblockd')" = 1 ] &&
		[ "$(ip netns exec "$ns" nft list chain inet btblockd decide | grep -c 'jump\|drop\|return\|mark set')" -gt 0 ]; then
		ok "fw4-like reload twice: one btblockd table, redefined"
	else
		fail "fw4-like reload of the include failed"
	fi
	if ip netns exec "$ns" nft list set inet btblockd exempt4 | grep -q '192\.168\.1\.10' &&
		ip netns exec "$ns" nft list chain inet btblockd throttled | grep -q 'limit rate over 250000 bytes/second'; then
		ok "fw4-like reload: the policy file of the init script is applied after the table"
	else
		fail "fw4-like reload: the policy was not applied"
	fi
fi

if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
