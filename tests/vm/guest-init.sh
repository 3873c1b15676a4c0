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
BTBLOCKD_FIREWALL_LIB=/usr/share/btblockd
export PATH BTBLOCKD_RULESET BTBLOCKD_FIREWALL_LIB

# The lab of the integration tests (build-image.sh copies it to /test),
# with plain namespace names: the VM is the lab's alone.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /test/lib.sh
# shellcheck source-path=SCRIPTDIR/.. source=lab-common.sh
. /test/lab-common.sh
LAB_CLIENT=client
LAB_ROUTER=router
LAB_SERVER=server
LAB_TRAFFIC=/test/traffic.py
LAB_PYTHON=py3                      # python3 -I -S, see setup_system
LAB_SOCK=/run/btblockd.sock
LAB_SINK_LOG=/tmp/sink.log
LAB_CTL_TIMEOUT=5.0
LAB_LINK_WAIT=10

WATCHDOG=${btbvm_watchdog:-300}     # seconds; the kernel passes btbvm_* from the command line
BT_PORT=6881
OTHER_PORT=6882
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

# Elements of a ban set, one "a . b" per line.
ban_pairs() {
	lab_exec router nft list set inet btblockd "$1" |
		awk '{ gsub(/[,{}]/, "\n"); print }' | sed -n 's/^[[:space:]]*\([0-9a-f:.]* \. [0-9a-f:.]*\).*/\1/p'
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

start_servers() {
	/usr/sbin/ip netns exec server "$LAB_PYTHON" "$LAB_TRAFFIC" server --bind "$LAB_SERVER4" --bind "$LAB_SERVER6" \
		--port "$LAB_PORT" --ready-file /tmp/server.ready --lifetime 600 \
		>/tmp/server.log 2>&1 &
	server_pid=$!
	/usr/sbin/ip netns exec server "$LAB_PYTHON" "$LAB_TRAFFIC" sink --bind "$LAB_SERVER4" --bind "$LAB_SERVER6" \
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
	out=$(lab_exec router btblockd-firewall up --backend auto --queues 0-1 2>&1)
	echo "$out"
	st=$(lab_exec router btblockd-firewall status 2>&1)
	echo "$st" | sed 's/^/  status| /'
	auto=$(echo "$st" | sed -n 's/^backend: //p')
	result "backend_auto=${auto:-none}"
	check backend_auto "btblockd-firewall up --backend auto chose '${auto:-none}'" '[ "$auto" = nft ]'
	lab_exec router btblockd-firewall down

	out=$(lab_exec router btblockd-firewall up --backend nft --queues 0-1 2>&1)
	rc=$?
	echo "$out"
	check firewall_up_nft "up --backend nft: exit $rc" '[ "$rc" = 0 ]'
	st=$(lab_exec router btblockd-firewall status 2>&1)
	echo "$st" | sed 's/^/  status| /'
	qline=$(lab_exec router nft list chain inet btblockd decide |
		grep -E '(^|[[:space:]])queue (num|flags|to) ' | sed 's/^[[:space:]]*//')
	result "queue_rule=$(echo "$qline" | tr ' ' '_')"
	result "backend=$(echo "$st" | sed -n 's/^backend: //p') queues=$(echo "$st" | sed -n 's/^queues: //p') mode=$(echo "$st" | sed -n 's/^mode: //p')"
	modules_loaded modules_after_firewall
	# Every hook loads with the queue statement on this kernel; then back
	# to forward only (each "up" replaces the table in one transaction).
	lab_exec router btblockd-firewall up --backend nft --queues 0-1 --hooks forward,input,output >/dev/null 2>&1
	rc=$?
	hooks=$(lab_exec router btblockd-firewall status 2>&1 | sed -n 's/^hooks: //p')
	lab_exec router btblockd-firewall up --backend nft --queues 0-1 >/dev/null 2>&1
	hooks2=$(lab_exec router btblockd-firewall status 2>&1 | sed -n 's/^hooks: //p')
	check hooks_all "up --hooks forward,input,output: exit $rc, hooks '$hooks'; then '$hooks2'" \
		'[ "$rc" = 0 ] && [ "$hooks" = forward,input,output ] && [ "$hooks2" = forward ]'
	check status_nft "status: $(echo "$st" | head -n 4 | tr '\n' ' ')" \
		'echo "$st" | grep -qx "backend: nft" && echo "$st" | grep -qx "queues: 0-1" && echo "$st" | grep -qx "mode: fail-open"'
}

start_daemon() {
	# Not through the ip() function: that would put a subshell between
	# $! and the daemon; ip netns exec execs, so $! is btblockd itself.
	/usr/sbin/ip netns exec router btblockd --queues 0-1 -f --control "$LAB_SOCK" \
		--pidfile /run/btblockd.pid >/tmp/btblockd.log 2>&1 &
	daemon_pid=$!
	if wait_for 30 lab_ctl stats; then
		ok daemon_start "pid $daemon_pid"
		return 0
	fi
	bad daemon_start "no answer on $LAB_SOCK within 30 s"
	sed 's/^/  btblockd| /' /tmp/btblockd.log
	return 1
}

# ---- spread ----------------------------------------------------------
test_spread() {
	flows=0
	broken=0
	for idx in 0 1 2 3; do
		for fam in 4 6; do
			out=$(lab_tcp "$idx" "$fam" 300000 --timeout 30) || broken=$((broken + 1))
			echo "$out"
			out=$(lab_udp "$idx" "$fam" 30 --timeout 20) || broken=$((broken + 1))
			echo "$out"
			flows=$((flows + 2))
		done
	done
	check spread_intact "$flows flows, $broken broken" '[ "$broken" = 0 ]'
	qs=$(lab_stats | lab_stats_queues)
	empty=0
	nq=0
	while read -r q p _; do
		[ -n "$q" ] || continue
		result "queue${q}_packets=$p"
		nq=$((nq + 1))
		[ "$p" -gt 0 ] || empty=$((empty + 1))
	done <<EOF
$qs
EOF
	lab_exec router cat /proc/net/netfilter/nfnetlink_queue | sed 's/^/  nfnetlink_queue| /'
	check spread_queues "$nq queues, $empty without packets" '[ "$nq" = 2 ] && [ "$empty" = 0 ]'
	blocked=$(lab_stats | lab_jget totals marked_block)
	result "spread_marked_block=$blocked"
	check spread_no_drops "daemon marked $blocked packets of plain traffic to block" '[ "$blocked" = 0 ]'
}

# ---- block -----------------------------------------------------------
test_block() {
	for fam in 4 6; do
		src=$(lab_client_addr 3 "$fam")
		dst=$(lab_server_addr "$fam")
		out=$(lab_exec client "$LAB_PYTHON" "$LAB_TRAFFIC" bt --source "$src" --dest "$dst" \
			--port "$BT_PORT" --hold 3 --timeout 15 2>&1)
		echo "$out"
		got=$(lab_sink_bytes tcp "$src")
		result "blocked_flow_ipv$fam=$src->$dst:$BT_PORT sink_bytes=$got"
		check "block_ipv$fam" "handshake bytes at the server: $got" '[ "$got" = 0 ]'
		set=ban4
		[ "$fam" = 4 ] || set=ban6
		pairs=$(ban_pairs "$set")
		result "ban_set_$set=$(echo "$pairs" | tr ' ' '_' | paste -sd, -)"
		check "ban_pair_ipv$fam" "$set has '$src . $dst' and '$dst . $src'" \
			'echo "$pairs" | grep -qx "$src \. $dst" && echo "$pairs" | grep -qx "$dst \. $src"'
		# Another protocol and port between the banned pair: dropped.
		out=$(lab_exec client "$LAB_PYTHON" "$LAB_TRAFFIC" udp --source "$src" --dest "$dst" \
			--port "$OTHER_PORT" --count 3 --timeout 3 --retries 1 2>&1)
		echo "$out"
		got=$(lab_sink_bytes udp "$src")
		check "ban_udp_ipv$fam" "UDP bytes at the server from the banned pair: $got" '[ "$got" = 0 ]'
	done
	lab_exec router nft list set inet btblockd ban4 | sed 's/^/  ban4| /'
	blocked=$(lab_nft_counter blocked)
	banned=$(lab_nft_counter banned)
	bans=$(lab_nft_counter bans)
	decided=$(lab_stats | lab_jget totals flows_decided_block)
	result "nft_blocked=$blocked nft_banned=$banned nft_bans=$bans daemon_flows_blocked=$decided"
	check block_counters "kernel blocked=$blocked banned=$banned bans=$bans, daemon blocked flows=$decided" \
		'[ "${blocked:-0}" -gt 0 ] && [ "${bans:-0}" -ge 2 ] && [ "${decided:-0}" -ge 2 ]'
}

# ---- offload ---------------------------------------------------------
test_offload() {
	bytes=${btbvm_offload_bytes:-16000000}
	p0=$(lab_stats | lab_jget totals packets)
	q0=$(lab_nft_counter queued)
	f0=$(lab_nft_counter forward)
	out=$(lab_tcp 1 4 "$bytes" --timeout 90)
	rc=$?
	echo "$out"
	p1=$(lab_stats | lab_jget totals packets)
	q1=$(lab_nft_counter queued)
	f1=$(lab_nft_counter forward)
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
	lab_tcp 2 4 6000000 --rate 1500000 --timeout 60 >/tmp/slow.out 2>&1 &
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
	bound=$(lab_exec router cat /proc/net/netfilter/nfnetlink_queue | wc -l)
	check bypass_unbound "$bound queues still bound" '[ "$bound" = 0 ]'
	q0=$(lab_nft_counter queued)
	newbad=0
	for fam in 4 6; do
		out=$(lab_tcp 0 "$fam" 1000000 --timeout 30) || newbad=$((newbad + 1))
		echo "$out"
		out=$(lab_udp 1 "$fam" 20 --timeout 20) || newbad=$((newbad + 1))
		echo "$out"
	done
	q1=$(lab_nft_counter queued)
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
	lab_exec router btblockd-firewall up --backend nft --queues 0-1 --fail-closed
	mode=$(lab_exec router btblockd-firewall status 2>&1 | sed -n 's/^mode: //p')
	check fail_closed_status "status mode '$mode'" '[ "$mode" = fail-closed ]'
	# No daemon bound: new flows must not pass.
	out=$(lab_udp 0 4 3 --timeout 3 --retries 1 2>&1)
	urc=$?
	out2=$(lab_tcp 0 6 100000 --timeout 4 2>&1)
	trc=$?
	echo "$out"
	echo "$out2"
	result "fail_closed_udp_exit=$urc fail_closed_tcp_exit=$trc"
	check fail_closed_drops "with no daemon: UDP exit $urc, TCP exit $trc (both must fail)" \
		'[ "$urc" != 0 ] && [ "$trc" != 0 ]'
	# The daemon back (stale control socket of the killed one in place).
	if start_daemon; then
		out=$(lab_tcp 0 4 200000 --timeout 20 2>&1)
		trc=$?
		echo "$out"
		check fail_closed_restart "new TCP flow with the daemon restarted: exit $trc" '[ "$trc" = 0 ]'
		kill "$daemon_pid"
		wait "$daemon_pid"
		result "daemon_sigterm_exit=$?"
		daemon_pid=""
	fi
	lab_exec router btblockd-firewall down
	left=$(lab_exec router nft list ruleset 2>&1 | wc -l)
	lab_exec router btblockd-firewall status >/dev/null 2>&1
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
	lab_exec router btblockd-firewall status 2>&1 | sed 's/^/  status| /'
	lab_exec router nft list ruleset 2>&1 | sed 's/^/  ruleset| /'
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
	if ! lab_topology; then
		bad lab "namespaces could not be created"
		return
	fi
	if ! start_servers; then
		bad servers "traffic server did not start"
		return
	fi
	out=$(lab_udp 0 4 1 --timeout 20 --wait 0.5) && out6=$(lab_udp 0 6 1 --timeout 20 --wait 0.5)
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
