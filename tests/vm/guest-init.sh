#!/bin/sh
# tests/vm/guest-init.sh: /init of the test VM: the nft queue ruleset and btblockd on a stock Debian kernel.
#
# Runs as PID 1 from the initramfs that build-image.sh makes (busybox sh).
# It loads veth (the kernel autoloads the netfilter modules), builds
# client/router/server network namespaces joined by veth, loads the
# production ruleset with btblockd-firewall (backend auto, then nft) and
# runs btblockd on queues 0-1 in the router, then checks:
#   backend   "--backend auto" chooses nft, status says so; the rules load
#             on every hook (--hooks forward,input,output)
#   spread    TCP and UDP from four client addresses, both families,
#             intact, and both queues saw packets
#   block     a BitTorrent handshake never reaches the server, its address
#             pair is in ban4 / ban6 in both orders, and a later UDP flow
#             between the pair is dropped in the kernel
#   offload   a large TCP transfer arrives intact while the daemon sees only
#             its first packets
#   bypass    kill -9 of the daemon during a transfer: that transfer and new
#             flows complete (fail-open), no queue stays bound
#   closed    with --fail-closed and no daemon new flows stop; a restarted
#             daemon lets them through; "down" leaves an empty ruleset
# Every figure is a "VMRESULT key=value" line and every check a "VMCHECK
# name ok|FAIL ..." line on the console; "VMRESULT end" comes last, then
# the VM powers off.  A watchdog powers it off if anything hangs.

# shellcheck disable=SC2016 # check's conditions are single-quoted on purpose: evaluated by check
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
BTBLOCKD_RULESET=/usr/share/btblockd/btblockd.nft
export PATH BTBLOCKD_RULESET

WATCHDOG=${btbvm_watchdog:-300}     # seconds; the kernel passes btbvm_* from the command line
TRAFFIC=/test/traffic.py
PY=py3                              # python3 -I -S, see setup_system
CLIENT4="10.71.1.10 10.71.1.11 10.71.1.12 10.71.1.13"
CLIENT6="fd00:71:1::10 fd00:71:1::11 fd00:71:1::12 fd00:71:1::13"
SERVER4=10.71.2.2
SERVER6=fd00:71:2::2
PORT=5201
BT_PORT=6881
OTHER_PORT=6882
SOCK=/run/btblockd.sock
QUEUE_PACKETS=16
checks=0
failures=0
daemon_pid=""

result() {
	echo "VMRESULT $*"
}

ok() {
	checks=$((checks + 1))
	echo "VMCHECK $1 ok${2:+ $2}"
}

bad() {
	checks=$((checks + 1))
	failures=$((failures + 1))
	echo "VMCHECK $1 FAIL${2:+ $2}"
}

# check NAME DETAIL CONDITION: ok when the shell condition (one string,
# evaluated now) holds.
check() {
	if eval "$3"; then ok "$1" "$2"; else bad "$1" "$2"; fi
}

# busybox sh runs its own applets before PATH (standalone shell): the
# "ip" here must be iproute2's, for "ip netns".
ip() {
	/usr/sbin/ip "$@"
}

in_ns() {
	ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# field KEY: value of " KEY=value" in the line on stdin.
field() {
	sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p"
}

addr_of() {
	# addr_of INDEX FAMILY
	# shellcheck disable=SC2086 # the address lists are split on purpose
	if [ "$2" = 6 ]; then set -- "$1" $CLIENT6; else set -- "$1" $CLIENT4; fi
	shift "$(( $1 + 1 ))"
	echo "$1"
}

server_of() {
	if [ "$1" = 6 ]; then echo "$SERVER6"; else echo "$SERVER4"; fi
}

# tcp INDEX FAMILY BYTES [options]: one checked transfer, result line on stdout.
tcp() {
	idx=$1
	fam=$2
	bytes=$3
	shift 3
	in_ns client "$PY" "$TRAFFIC" tcp --source "$(addr_of "$idx" "$fam")" \
		--dest "$(server_of "$fam")" --port "$PORT" --bytes "$bytes" \
		--seed "$((idx * 10 + fam))" "$@"
}

udp() {
	idx=$1
	fam=$2
	count=$3
	shift 3
	in_ns client "$PY" "$TRAFFIC" udp --source "$(addr_of "$idx" "$fam")" \
		--dest "$(server_of "$fam")" --port "$PORT" --count "$count" \
		--seed "$((idx * 10 + fam))" "$@"
}

# ctl COMMAND: the daemon's one-line reply on its control socket.
ctl() {
	"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5.0)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while b"\n" not in buf:
    part = s.recv(65536)
    if not part:
        break
    buf += part
line = buf.split(b"\n", 1)[0].decode()
if not line:
    sys.exit(1)
print(line)
' "$SOCK" "$1"
}

# stats_get KEY...: a value from the stats JSON (0 if absent); QUEUES:
# "queue packets" lines.
stats_get() {
	ctl stats | "$PY" -c '
import json, sys
doc = json.loads(sys.stdin.read())
if sys.argv[1] == "QUEUES":
    for q in doc.get("queues", []):
        print(q.get("queue"), q.get("packets"))
    sys.exit(0)
v = doc
for k in sys.argv[1:]:
    v = v.get(k, 0) if isinstance(v, dict) else 0
print(v)
' "$@"
}

nft_counter() {
	in_ns router nft list counter inet btblockd "$1" |
		sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p'
}

# Elements of a ban set, one "a . b" per line.
ban_pairs() {
	in_ns router nft list set inet btblockd "$1" |
		awk '{ gsub(/[,{}]/, "\n"); print }' | sed -n 's/^[[:space:]]*\([0-9a-f:.]* \. [0-9a-f:.]*\).*/\1/p'
}

# sink_bytes PROTO PEER: payload bytes the sink got from PEER.
sink_bytes() {
	awk -v proto="proto=$1" -v peer="peer=$2" '
		$1 == "recv" && $2 == proto && $3 == peer { sub("bytes=", "", $5); n += $5 }
		END { print n + 0 }' /tmp/sink.log
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s, bounded; gives
# up at once when COMMAND returns 2 (will never succeed).
wait_for() {
	n=$(( $1 * 10 ))
	shift
	while [ "$n" -gt 0 ]; do
		wrc=0
		"$@" >/dev/null 2>&1 || wrc=$?
		[ "$wrc" = 0 ] && return 0
		[ "$wrc" = 2 ] && return 1
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

setup_system() {
	/usr/bin/busybox --install -s /usr/bin
	# Isolated and without site: only the stdlib modules the image has.
	mkdir -p /usr/local/bin
	printf '#!/bin/sh\nexec /usr/bin/python3 -I -S "$@"\n' >/usr/local/bin/py3
	chmod 755 /usr/local/bin/py3
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mount -t tmpfs tmpfs /run
	mount -t tmpfs tmpfs /tmp
	# The watchdog: a hung step must not hang the host's test.
	( sleep "$WATCHDOG"; echo "VMRESULT watchdog=fired after ${WATCHDOG}s"
	  echo o >/proc/sysrq-trigger ) &
	result "kernel=$(uname -r)"
	result "cpus=$(nproc)"
	result "nft_version=$(nft --version 2>&1 | tr ' ' '_')"
}

# Only veth is loaded by hand: the netfilter modules are left to the
# kernel's autoloader (/sbin/modprobe), so lsmod shows what the ruleset and
# the daemon really pulled in.
load_modules() {
	modprobe veth || bad module_veth "modprobe veth failed"
	result "modules_available=$(find /lib/modules/*/kernel -name '*.ko' | sed 's|.*/||; s|\.ko$||' | sort | paste -sd, -)"
}

# modules_loaded KEY: the loaded modules as a result line.
modules_loaded() {
	result "$1=$(cut -d' ' -f1 /proc/modules | sort | paste -sd, -)"
}

lab_create() {
	for ns in client router server; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		in_ns "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
	done
	ip -n client link add c0 type veth peer name r0 netns router || return 1
	ip -n server link add s0 type veth peer name r1 netns router || return 1
	ip -n router addr add 10.71.1.1/24 dev r0
	ip -n router addr add fd00:71:1::1/64 dev r0 nodad
	ip -n router addr add 10.71.2.1/24 dev r1
	ip -n router addr add fd00:71:2::1/64 dev r1 nodad
	for a in $CLIENT4; do ip -n client addr add "$a/24" dev c0; done
	for a in $CLIENT6; do ip -n client addr add "$a/64" dev c0 nodad; done
	ip -n server addr add "$SERVER4/24" dev s0
	ip -n server addr add "$SERVER6/64" dev s0 nodad
	ip -n client link set c0 up
	ip -n router link set r0 up
	ip -n router link set r1 up
	ip -n server link set s0 up
	ip -n client route add default via 10.71.1.1
	ip -n client -6 route add default via fd00:71:1::1
	ip -n server route add default via 10.71.2.1
	ip -n server -6 route add default via fd00:71:2::1
	in_ns router sysctl -qw net.ipv4.ip_forward=1
	in_ns router sysctl -qw net.ipv6.conf.all.forwarding=1
	wait_for 10 links_up || echo "links not all up after 10 s; continuing"
}

links_up() {
	for i in client:c0 router:r0 router:r1 server:s0; do
		ip -n "${i%%:*}" -o link show dev "${i#*:}" | grep -q 'state UP' || return 1
	done
}

start_servers() {
	/usr/sbin/ip netns exec server "$PY" "$TRAFFIC" server --bind "$SERVER4" --bind "$SERVER6" \
		--port "$PORT" --ready-file /tmp/server.ready --lifetime 600 \
		>/tmp/server.log 2>&1 &
	server_pid=$!
	/usr/sbin/ip netns exec server "$PY" "$TRAFFIC" sink --bind "$SERVER4" --bind "$SERVER6" \
		--port "$BT_PORT" --port "$OTHER_PORT" --ready-file /tmp/sink.ready \
		--lifetime 600 >/tmp/sink.log 2>&1 &
	sink_pid=$!
	wait_for 60 servers_ready
}

# Both ready files written; fails at once when a server died.
servers_ready() {
	kill -0 "$server_pid" && kill -0 "$sink_pid" || return 2
	test -s /tmp/server.ready && test -s /tmp/sink.ready
}

# ---- backend ---------------------------------------------------------
test_backend() {
	out=$(in_ns router btblockd-firewall up --backend auto --queues 0-1 2>&1)
	echo "$out"
	st=$(in_ns router btblockd-firewall status 2>&1)
	echo "$st" | sed 's/^/  status| /'
	auto=$(echo "$st" | sed -n 's/^backend: //p')
	result "backend_auto=${auto:-none}"
	check backend_auto "btblockd-firewall up --backend auto chose '${auto:-none}'" '[ "$auto" = nft ]'
	in_ns router btblockd-firewall down

	out=$(in_ns router btblockd-firewall up --backend nft --queues 0-1 2>&1)
	rc=$?
	echo "$out"
	check firewall_up_nft "up --backend nft: exit $rc" '[ "$rc" = 0 ]'
	st=$(in_ns router btblockd-firewall status 2>&1)
	echo "$st" | sed 's/^/  status| /'
	qline=$(in_ns router nft list chain inet btblockd decide |
		grep -E '(^|[[:space:]])queue (num|flags|to) ' | sed 's/^[[:space:]]*//')
	result "queue_rule=$(echo "$qline" | tr ' ' '_')"
	result "backend=$(echo "$st" | sed -n 's/^backend: //p') queues=$(echo "$st" | sed -n 's/^queues: //p') mode=$(echo "$st" | sed -n 's/^mode: //p')"
	modules_loaded modules_after_firewall
	# Every hook loads with the queue statement on this kernel; then back
	# to forward only (each "up" replaces the table in one transaction).
	in_ns router btblockd-firewall up --backend nft --queues 0-1 --hooks forward,input,output >/dev/null 2>&1
	rc=$?
	hooks=$(in_ns router btblockd-firewall status 2>&1 | sed -n 's/^hooks: //p')
	in_ns router btblockd-firewall up --backend nft --queues 0-1 >/dev/null 2>&1
	hooks2=$(in_ns router btblockd-firewall status 2>&1 | sed -n 's/^hooks: //p')
	check hooks_all "up --hooks forward,input,output: exit $rc, hooks '$hooks'; then '$hooks2'" \
		'[ "$rc" = 0 ] && [ "$hooks" = forward,input,output ] && [ "$hooks2" = forward ]'
	check status_nft "status: $(echo "$st" | head -n 4 | tr '\n' ' ')" \
		'echo "$st" | grep -qx "backend: nft" && echo "$st" | grep -qx "queues: 0-1" && echo "$st" | grep -qx "mode: fail-open"'
}

start_daemon() {
	# Not through the ip() function: that would put a subshell between
	# $! and the daemon; ip netns exec execs, so $! is btblockd itself.
	/usr/sbin/ip netns exec router btblockd --queues 0-1 -f --control "$SOCK" \
		--pidfile /run/btblockd.pid >/tmp/btblockd.log 2>&1 &
	daemon_pid=$!
	if wait_for 30 ctl stats; then
		ok daemon_start "pid $daemon_pid"
		return 0
	fi
	bad daemon_start "no answer on $SOCK within 30 s"
	sed 's/^/  btblockd| /' /tmp/btblockd.log
	return 1
}

# ---- spread ----------------------------------------------------------
test_spread() {
	flows=0
	broken=0
	for idx in 0 1 2 3; do
		for fam in 4 6; do
			out=$(tcp "$idx" "$fam" 300000 --timeout 30) || broken=$((broken + 1))
			echo "$out"
			out=$(udp "$idx" "$fam" 30 --timeout 20) || broken=$((broken + 1))
			echo "$out"
			flows=$((flows + 2))
		done
	done
	check spread_intact "$flows flows, $broken broken" '[ "$broken" = 0 ]'
	qs=$(stats_get QUEUES)
	empty=0
	nq=0
	while read -r q p; do
		[ -n "$q" ] || continue
		result "queue${q}_packets=$p"
		nq=$((nq + 1))
		[ "$p" -gt 0 ] || empty=$((empty + 1))
	done <<EOF
$qs
EOF
	in_ns router cat /proc/net/netfilter/nfnetlink_queue | sed 's/^/  nfnetlink_queue| /'
	check spread_queues "$nq queues, $empty without packets" '[ "$nq" = 2 ] && [ "$empty" = 0 ]'
	blocked=$(stats_get totals marked_block)
	result "spread_marked_block=$blocked"
	check spread_no_drops "daemon marked $blocked packets of plain traffic to block" '[ "$blocked" = 0 ]'
}

# ---- block -----------------------------------------------------------
test_block() {
	for fam in 4 6; do
		src=$(addr_of 3 "$fam")
		dst=$(server_of "$fam")
		out=$(in_ns client "$PY" "$TRAFFIC" bt --source "$src" --dest "$dst" \
			--port "$BT_PORT" --hold 3 --timeout 15 2>&1)
		echo "$out"
		got=$(sink_bytes tcp "$src")
		result "blocked_flow_ipv$fam=$src->$dst:$BT_PORT sink_bytes=$got"
		check "block_ipv$fam" "handshake bytes at the server: $got" '[ "$got" = 0 ]'
		set=ban4
		[ "$fam" = 4 ] || set=ban6
		pairs=$(ban_pairs "$set")
		result "ban_set_$set=$(echo "$pairs" | tr ' ' '_' | paste -sd, -)"
		check "ban_pair_ipv$fam" "$set has '$src . $dst' and '$dst . $src'" \
			'echo "$pairs" | grep -qx "$src \. $dst" && echo "$pairs" | grep -qx "$dst \. $src"'
		# Another protocol and port between the banned pair: dropped.
		out=$(in_ns client "$PY" "$TRAFFIC" udp --source "$src" --dest "$dst" \
			--port "$OTHER_PORT" --count 3 --timeout 3 --retries 1 2>&1)
		echo "$out"
		got=$(sink_bytes udp "$src")
		check "ban_udp_ipv$fam" "UDP bytes at the server from the banned pair: $got" '[ "$got" = 0 ]'
	done
	in_ns router nft list set inet btblockd ban4 | sed 's/^/  ban4| /'
	blocked=$(nft_counter blocked)
	banned=$(nft_counter banned)
	bans=$(nft_counter bans)
	decided=$(stats_get totals flows_decided_block)
	result "nft_blocked=$blocked nft_banned=$banned nft_bans=$bans daemon_flows_blocked=$decided"
	check block_counters "kernel blocked=$blocked banned=$banned bans=$bans, daemon blocked flows=$decided" \
		'[ "${blocked:-0}" -gt 0 ] && [ "${bans:-0}" -ge 2 ] && [ "${decided:-0}" -ge 2 ]'
}

# ---- offload ---------------------------------------------------------
test_offload() {
	bytes=${btbvm_offload_bytes:-16000000}
	p0=$(stats_get totals packets)
	q0=$(nft_counter queued)
	f0=$(nft_counter forward)
	out=$(tcp 1 4 "$bytes" --timeout 90)
	rc=$?
	echo "$out"
	p1=$(stats_get totals packets)
	q1=$(nft_counter queued)
	f1=$(nft_counter forward)
	dp=$((p1 - p0))
	dq=$((q1 - q0))
	df=$((f1 - f0))
	result "offload_bytes=$(echo "$out" | field bytes) offload_seconds=$(echo "$out" | field seconds) offload_sha256=$(echo "$out" | field sha256)"
	result "offload_forward_packets=$df offload_queued_packets=$dq offload_daemon_packets=$dp"
	check offload_intact "transfer of $bytes bytes: exit $rc" '[ "$rc" = 0 ]'
	# First QUEUE_PACKETS per direction, plus a few in flight.
	max=$((2 * QUEUE_PACKETS + 8))
	check offload_queued "daemon saw $dp and the kernel queued $dq of $df packets (max $max)" \
		'[ "$dp" -le "$max" ] && [ "$dq" -le "$max" ] && [ "$df" -gt $((4 * max)) ]'
}

# ---- bypass ----------------------------------------------------------
test_bypass() {
	tcp 2 4 6000000 --rate 1500000 --timeout 60 >/tmp/slow.out 2>&1 &
	slow=$!
	sleep 1
	if ! kill -0 "$slow" 2>/dev/null; then
		bad bypass_setup "the slow transfer ended before the kill: $(cat /tmp/slow.out)"
	fi
	kill -9 "$daemon_pid"
	wait "$daemon_pid"
	st=$?
	check bypass_killed "daemon exit status $st (137: SIGKILL)" '[ "$st" = 137 ]'
	daemon_pid=""
	bound=$(in_ns router cat /proc/net/netfilter/nfnetlink_queue | wc -l)
	check bypass_unbound "$bound queues still bound" '[ "$bound" = 0 ]'
	q0=$(nft_counter queued)
	newbad=0
	for fam in 4 6; do
		out=$(tcp 0 "$fam" 1000000 --timeout 30) || newbad=$((newbad + 1))
		echo "$out"
		out=$(udp 1 "$fam" 20 --timeout 20) || newbad=$((newbad + 1))
		echo "$out"
	done
	q1=$(nft_counter queued)
	wait "$slow"
	sst=$?
	cat /tmp/slow.out
	result "bypass_slow_transfer=$(field bytes </tmp/slow.out)_bytes_exit_$sst bypass_new_flows_failed=$newbad bypass_queued_while_dead=$((q1 - q0))"
	check bypass_running_flow "transfer across kill -9: exit $sst" '[ "$sst" = 0 ]'
	check bypass_new_flows "4 new flows after kill -9, $newbad failed; $((q1 - q0)) packets hit the unbound queues" \
		'[ "$newbad" = 0 ] && [ $((q1 - q0)) -gt 0 ]'
}

# ---- fail-closed and down --------------------------------------------
test_fail_closed() {
	in_ns router btblockd-firewall up --backend nft --queues 0-1 --fail-closed
	mode=$(in_ns router btblockd-firewall status 2>&1 | sed -n 's/^mode: //p')
	check fail_closed_status "status mode '$mode'" '[ "$mode" = fail-closed ]'
	# No daemon bound: new flows must not pass.
	out=$(udp 0 4 3 --timeout 3 --retries 1 2>&1)
	urc=$?
	out2=$(tcp 0 6 100000 --timeout 4 2>&1)
	trc=$?
	echo "$out"
	echo "$out2"
	result "fail_closed_udp_exit=$urc fail_closed_tcp_exit=$trc"
	check fail_closed_drops "with no daemon: UDP exit $urc, TCP exit $trc (both must fail)" \
		'[ "$urc" != 0 ] && [ "$trc" != 0 ]'
	# The daemon back (stale control socket of the killed one in place).
	if start_daemon; then
		out=$(tcp 0 4 200000 --timeout 20 2>&1)
		trc=$?
		echo "$out"
		check fail_closed_restart "new TCP flow with the daemon restarted: exit $trc" '[ "$trc" = 0 ]'
		kill "$daemon_pid"
		wait "$daemon_pid"
		result "daemon_sigterm_exit=$?"
		daemon_pid=""
	fi
	in_ns router btblockd-firewall down
	left=$(in_ns router nft list ruleset 2>&1 | wc -l)
	in_ns router btblockd-firewall status >/dev/null 2>&1
	src=$?
	check down_clean "after down: $left ruleset lines, status exit $src (3: not loaded)" \
		'[ "$left" = 0 ] && [ "$src" = 3 ]'
}

# phase NAME: prints the seconds since the previous phase.
phase() {
	now=$(date +%s)
	result "phase_$1_seconds=$((now - phase_start))"
	phase_start=$now
}

diagnostics() {
	echo "---- diagnostics ----"
	in_ns router btblockd-firewall status 2>&1 | sed 's/^/  status| /'
	in_ns router nft list ruleset 2>&1 | sed 's/^/  ruleset| /'
	sed 's/^/  btblockd| /' /tmp/btblockd.log 2>/dev/null
	sed 's/^/  server| /' /tmp/server.log 2>/dev/null
	sed 's/^/  sink| /' /tmp/sink.log 2>/dev/null
	dmesg | tail -n 30 | sed 's/^/  dmesg| /'
}

main() {
	start=$(date +%s)
	phase_start=$start
	setup_system
	load_modules
	if ! lab_create; then
		bad lab "namespaces could not be created"
		return
	fi
	if ! start_servers; then
		bad servers "traffic server did not start"
		return
	fi
	out=$(udp 0 4 1 --timeout 20 --wait 0.5) && out6=$(udp 0 6 1 --timeout 20 --wait 0.5)
	check lab_routes "client to server without btblockd: $out ${out6:-}" '[ -n "${out6:-}" ]'
	phase setup
	test_backend
	start_daemon || return
	modules_loaded modules_after_daemon
	phase backend
	test_spread
	phase spread
	test_block
	phase block
	test_offload
	phase offload
	test_bypass
	phase bypass
	test_fail_closed
	phase fail_closed
	result "guest_seconds=$(( $(date +%s) - start ))"
}

main
if [ "$failures" != 0 ]; then
	diagnostics
fi
result "checks=$checks failed=$failures"
if [ "$failures" = 0 ] && [ "$checks" -gt 0 ]; then result "status=pass"; else result "status=fail"; fi
result end
sync
poweroff -f
sleep 2
echo o >/proc/sysrq-trigger
