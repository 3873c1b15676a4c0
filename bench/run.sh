#!/bin/bash
# bench/run.sh: the whole benchmark suite (pipeline through a namespace router, DPI, memory, latency) in one command, one table.
#
# Run as root from the build tree (after `make bench/nfq-floor bench/udpperf
# bench/flow_mem bench/dpi_bench src/btblockd nft/btblockd-firewall`):
#   sudo /path/to/src/bench/run.sh            # or BENCH_REPS=3 BENCH_SECONDS=3 ...
# Environment: BTBLOCKD_BUILDDIR (default .), BENCH_REPS (3), BENCH_SECONDS (3),
# BENCH_GEN_CPU (0), BENCH_SINK_CPU (1), BENCH_Q1_CPU (1), BENCH_Q2_CPUS (0,1),
# BENCH_PING_RATE (5000), BENCH_CONFIGS (all), BENCH_CORPUS (srcdir/../shared/corpus/pcap),
# BTBLOCKD_FIREWALL / BTBLOCKD_RULESET (default: the build's and the source's),
# BENCH_ALT_FIREWALL + BENCH_ALT_RULESET (another btblockd-firewall and ruleset,
# e.g. an older release's, run as config btb1offalt next to btb1off).
# BENCH_RESULTS=FILE keeps the raw measurements ("config metric rep value" lines).
# The RSS soak is bench/soak.sh.
#
# Every measurement is repeated BENCH_REPS times, round-robin over the
# configurations (so a burst of load from elsewhere hits all of them
# alike); the table shows medians and ratios to the same run's baseline,
# and the 1-minute load average seen during each configuration.
set -eu

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
REPS="${BENCH_REPS:-3}"
DUR="${BENCH_SECONDS:-3}"
SINK_CPU="${BENCH_SINK_CPU:-1}"
Q2_CPUS="${BENCH_Q2_CPUS:-0,1}"
PING_RATE="${BENCH_PING_RATE:-5000}"
CORPUS="${BENCH_CORPUS:-$SRCDIR/../shared/corpus/pcap}"

FLOOR="$BUILDDIR/bench/nfq-floor"
UDPPERF="$BUILDDIR/bench/udpperf"
FLOW_MEM="$BUILDDIR/bench/flow_mem"
DPI_BENCH="$BUILDDIR/bench/dpi_bench"

bench_require "$BTBLOCKD" "$BTBLOCKD_FIREWALL" "$FLOOR" "$UDPPERF" "$FLOW_MEM" "$DPI_BENCH" \
	-- iperf3 ethtool iptables taskset python3
bench_lab

RES="$LAB_TMP/results"	# lines: config metric rep value
LOADS="$LAB_TMP/loads"	# lines: config load1
FLOOR_PID=""
UDP_SRCS="" TCP_SRC0="" TCP_SRC1=""
ROUTER_MAC="$(ip netns exec "$LAB_ROUTER" cat /sys/class/net/r0/address)"
PING_SRCS="$(echo "$LAB_CLIENT4" | tr ' ' ',')"

load1() { cut -d' ' -f1 /proc/loadavg; }

# TSO/GSO/GRO on every veth of the lab: on (default) or off.
offloads() {
	local i
	for i in "$LAB_CLIENT:c0" "$LAB_ROUTER:r0" "$LAB_ROUTER:r1" "$LAB_SERVER:s0"; do
		in_ns "${i%%:*}" ethtool -K "${i#*:}" tso "$1" gso "$1" gro "$1" 2>/dev/null || true
	done
}

# ---- queue consumers --------------------------------------------------------

floor_start() {	# floor_start QUEUES CPUS
	ip netns exec "$LAB_ROUTER" "$FLOOR" -C -q "$1" -c "$2" >"$LAB_TMP/floor.log" 2>&1 &
	FLOOR_PID=$!
	LAB_PIDS="$LAB_PIDS $FLOOR_PID"
	lab_wait_file "$LAB_TMP/floor.log" '^ready' 5 "$FLOOR_PID"
}

floor_stop() {
	local n
	[ -n "$FLOOR_PID" ] || return 0
	kill -TERM "$FLOOR_PID" 2>/dev/null || true
	for n in $(seq 1 50); do
		kill -0 "$FLOOR_PID" 2>/dev/null || break
		[ "$n" = 50 ] || sleep 0.1
	done
	kill -KILL "$FLOOR_PID" 2>/dev/null || true
	wait "$FLOOR_PID" 2>/dev/null || true
	FLOOR_PID=""
	grep '^queue' "$LAB_TMP/floor.log" | tr '\n' ' ' >&2 || true
	echo >&2
}

# CPU time (user + system, ns) of process $1 so far.
cpu_ns() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat"; }
CPU0=0
CSW0=0

# Context switches (voluntary + involuntary) of every thread of process $1.
ctxsw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'; }

# ---- rulesets in the router -----------------------------------------------------

rules_clear() {
	in_ns "$LAB_ROUTER" "$BTBLOCKD_FIREWALL" down >/dev/null 2>&1 || true
	in_ns "$LAB_ROUTER" iptables -t mangle -F FORWARD 2>/dev/null || true
}

# Every packet queued: rules_queue_all in common.sh.

# The shipped ruleset: only the first --queue-packets per direction are
# queued, decided flows carry a conntrack mark and leave the queue.
rules_shipped() {
	in_ns "$LAB_ROUTER" "$BTBLOCKD_FIREWALL" up --queues "$1" --backend xt >/dev/null
}

# The same with another ruleset, to compare two in one run.
rules_alt() {
	if [ -z "${BENCH_ALT_FIREWALL:-}" ] || [ -z "${BENCH_ALT_RULESET:-}" ]; then
		log "btb1offalt needs BENCH_ALT_FIREWALL and BENCH_ALT_RULESET"
		exit 1
	fi
	in_ns "$LAB_ROUTER" env BTBLOCKD_RULESET="$BENCH_ALT_RULESET" \
		"$BENCH_ALT_FIREWALL" up --queues "$1" --backend xt >/dev/null
}

# Conntrack with accounting on every packet, nothing queued: the part of
# the shipped ruleset's cost that any stateful router already pays.
rules_conntrack() {
	in_ns "$LAB_ROUTER" sh -c 'echo 1 > /proc/sys/net/netfilter/nf_conntrack_acct' 2>/dev/null || true
	in_ns "$LAB_ROUTER" iptables -t mangle -A FORWARD -m conntrack --ctstate INVALID -j DROP
}

# config NAME: set up rules and consumer; config_end: tear down.
config_begin() {
	rules_clear
	case "$1" in
	noqueue) ;;
	ct) rules_conntrack ;;
	floor1) rules_queue_all "--queue-num 0"; floor_start 0 "$Q1_CPU" ;;
	floor2) rules_queue_all "--queue-balance 0:1"; floor_start 0-1 "$Q2_CPUS" ;;
	btb1) rules_queue_all "--queue-num 0"; lab_daemon_start --fail-closed --queues 0 --cpus "$Q1_CPU" >/dev/null ;;
	btb2) rules_queue_all "--queue-balance 0:1"; lab_daemon_start --fail-closed --queues 0-1 --cpus "$Q2_CPUS" >/dev/null ;;
	btb1off) rules_shipped 0; lab_daemon_start --fail-closed --queues 0 --cpus "$Q1_CPU" >/dev/null ;;
	btb1offalt) rules_alt 0; lab_daemon_start --fail-closed --queues 0 --cpus "$Q1_CPU" >/dev/null ;;
	esac
	# Start-up work (tables faulted in) is not the cost of a packet.
	CPU0=0
	if [ -n "$LAB_DAEMON_PID" ]; then
		echo "$1 rss_start $(rss_daemon)" >>"$LAB_TMP/rss"
		CPU0=$(cpu_ns "$LAB_DAEMON_PID")
		CSW0=$(ctxsw "$LAB_DAEMON_PID")
	elif [ -n "$FLOOR_PID" ]; then
		CPU0=$(cpu_ns "$FLOOR_PID")
		CSW0=$(ctxsw "$FLOOR_PID")
	fi
}

# The consumer's CPU time per packet it handled over the whole config
# (every workload): the cost of the consumer itself, free of the
# generator's limits. Kernel work done in its verdict calls (reinject,
# forwarding) is included, alike for the floor and btblockd.
config_end() {	# config rep
	local cpu pk csw
	if [ -n "$LAB_DAEMON_PID" ]; then
		echo "$1 rss_end $(rss_daemon)" >>"$LAB_TMP/rss"
		cpu=$(cpu_ns "$LAB_DAEMON_PID")
		csw=$(ctxsw "$LAB_DAEMON_PID")
		pk=$(lab_stats | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(q["packets"] for q in d["queues"]))
print("  btblockd queues:", " ".join("q%s=%s" % (q["queue"], q["packets"]) for q in d["queues"]), file=sys.stderr)' || echo 0)
		lab_daemon_kill -TERM
	elif [ -n "$FLOOR_PID" ]; then
		cpu=$(cpu_ns "$FLOOR_PID")
		csw=$(ctxsw "$FLOOR_PID")
		floor_stop
		pk=$(awk '/^queue/ { n += $4 } END { print n + 0 }' "$LAB_TMP/floor.log")
	fi
	if [ -n "${cpu:-}" ] && [ "${pk:-0}" -gt 0 ]; then
		{
			echo "$1 cpu_ns_per_pkt $2 $(((cpu - CPU0) / pk))"
			echo "$1 queued_pkts $2 $pk"
			echo "$1 ctxsw_per_kpkt $2 $(((csw - CSW0) * 1000 / pk))"
		} >>"$RES"
	fi
	rules_clear
}

# ---- measurements -----------------------------------------------------------------

measure_udp() {	# config rep
	local out sink
	ip netns exec "$LAB_SERVER" taskset -c "$SINK_CPU" "$UDPPERF" sink -d "$SRV4" -p 9000 -t $((DUR + 10)) \
		>"$LAB_TMP/sink.out" 2>&1 &
	sink=$!
	lab_wait_file "$LAB_TMP/sink.out" '^ready' 5 "$sink"
	# Raw frames (no UDP stack in the generator): 4 addresses x 4 ports.
	in_ns "$LAB_CLIENT" taskset -c "$GEN_CPU" "$UDPPERF" gen -s "$UDP_SRCS" -d "$SRV4" -p 9000 \
		-t "$DUR" -f 4 -R c0 -M "$ROUTER_MAC" >"$LAB_TMP/gen.out"
	wait "$sink" || true
	out=$(awk '/^received/ { printf "%.1f", $4 / 1000 }' "$LAB_TMP/sink.out")
	echo "$1 udp_kpps $2 ${out:-0}" >>"$RES"
	out=$(awk '/^sent/ { printf "%.1f", $4 / 1000 }' "$LAB_TMP/gen.out")
	echo "$1 udp_sent_kpps $2 ${out:-0}" >>"$RES"
}

# Two iperf3 streams from two client addresses that hash to different
# queues (so that 2 queues both work), summed at the receivers.
measure_tcp() {	# config rep metric
	local i total=0 bps p0 p1
	ip netns exec "$LAB_CLIENT" taskset -c "$GEN_CPU" iperf3 -c "$SRV4" -p 5201 \
		-B "$TCP_SRC0" -t "$DUR" -J >"$LAB_TMP/iperf0.json" 2>&1 &
	p0=$!
	ip netns exec "$LAB_CLIENT" taskset -c "$GEN_CPU" iperf3 -c "$SRV4" -p 5202 \
		-B "$TCP_SRC1" -t "$DUR" -J >"$LAB_TMP/iperf1.json" 2>&1 &
	p1=$!
	wait "$p0" "$p1" || true
	for i in 0 1; do
		bps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"])' \
			"$LAB_TMP/iperf$i.json" 2>/dev/null || echo 0)
		total=$(python3 -c "print($total + $bps)")
	done
	echo "$1 $3 $2 $(python3 -c "print('%.2f' % ($total / 1e9))")" >>"$RES"
}

# The queue balance hashes addresses and protocol with a per-boot seed:
# find, for each protocol, which candidate source address lands in which
# of 2 queues (one probe flow each, counted by the queues' id sequence).
qseq() {	# qseq QUEUE: packets ever queued on QUEUE in the router
	awk -v q="$1" '$1 == q { print $8 }' "/proc/$FLOOR_PID/net/netfilter/nfnetlink_queue"
}

pick_sources() {
	local a proto q0 q1 u0="" u1="" t0="" t1=""
	rules_clear
	rules_queue_all "--queue-balance 0:1"
	floor_start 0-1 "$Q2_CPUS"
	for a in $CANDIDATES; do
		for proto in udp tcp; do
			q0=$(qseq 0); q1=$(qseq 1)
			if [ "$proto" = udp ]; then
				in_ns "$LAB_CLIENT" "$UDPPERF" ping -s "$a" -d "$SRV4" -p 9001 -r 100 -t 0.02 >/dev/null
			else
				in_ns "$LAB_CLIENT" python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(1); s.bind((sys.argv[1], 0)); s.connect((sys.argv[2], 5201)); s.close()' \
					"$a" "$SRV4" 2>/dev/null || true
			fi
			if [ "$(qseq 0)" != "$q0" ]; then
				[ "$proto" = udp ] && u0="$u0 $a" || t0="$t0 $a"
			elif [ "$(qseq 1)" != "$q1" ]; then
				[ "$proto" = udp ] && u1="$u1 $a" || t1="$t1 $a"
			fi
		done
	done
	floor_stop
	rules_clear
	# shellcheck disable=SC2086 # lists of addresses
	set -- $u0; u0="${1:-}${2:+,$2}"
	# shellcheck disable=SC2086
	set -- $u1; u1="${1:-}${2:+,$2}"
	# shellcheck disable=SC2086
	set -- $t0; TCP_SRC0="${1:-}"
	# shellcheck disable=SC2086
	set -- $t1; TCP_SRC1="${1:-}"
	UDP_SRCS="$u0${u0:+${u1:+,}}$u1"
	if [ -z "$TCP_SRC0" ] || [ -z "$TCP_SRC1" ] || [ -z "$u0" ] || [ -z "$u1" ]; then
		log "could not find sources for both queues (udp '$u0' / '$u1', tcp '$TCP_SRC0' / '$TCP_SRC1')"
		exit 1
	fi
	log "sources: UDP $UDP_SRCS (2 per queue), TCP $TCP_SRC0 (queue 0) and $TCP_SRC1 (queue 1)"
}

measure_ping() {	# config rep
	local out
	out=$(in_ns "$LAB_CLIENT" taskset -c "$GEN_CPU" "$UDPPERF" ping -s "$PING_SRCS" -d "$SRV4" -p 9001 \
		-r "$PING_RATE" -t "$DUR" -f 4)
	{
		echo "$1 p50_us $2 $(echo "$out" | awk '{ print $6 }')"
		echo "$1 p99_us $2 $(echo "$out" | awk '{ print $8 }')"
		echo "$1 ping_lost $2 $(echo "$out" | awk '{ print $2 - $4 }')"
	} >>"$RES"
}

# ---- the run ------------------------------------------------------------------------

log "machine: $(nproc) CPUs, $(uname -r), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
log "pinning: generator CPU $GEN_CPU, sink CPU $SINK_CPU, 1 queue on CPU $Q1_CPU, 2 queues on CPUs $Q2_CPUS"
for i in 0 1; do
	ip netns exec "$LAB_SERVER" taskset -c "$SINK_CPU" iperf3 -s -B "$SRV4" -p $((5201 + i)) >/dev/null 2>&1 &
	LAB_PIDS="$LAB_PIDS $!"
done
ip netns exec "$LAB_SERVER" taskset -c "$SINK_CPU" "$UDPPERF" echo -d "$SRV4" -p 9001 >/dev/null 2>&1 &
LAB_PIDS="$LAB_PIDS $!"
sleep 0.5
# Warm-up: ARP, neighbour entries, iperf3 servers.
in_ns "$LAB_CLIENT" "$UDPPERF" ping -s "$PING_SRCS" -d "$SRV4" -p 9001 -r 1000 -t 0.5 >/dev/null
pick_sources

CONFIGS="${BENCH_CONFIGS:-noqueue ct floor1 floor2 btb1 btb2 btb1off}"
for rep in $(seq 1 "$REPS"); do
	for cfg in $CONFIGS; do
		log "rep $rep/$REPS: $cfg (load $(load1))"
		echo "$cfg $(load1)" >>"$LOADS"
		config_begin "$cfg"
		measure_udp "$cfg" "$rep"
		measure_tcp "$cfg" "$rep" tcp_gbps
		offloads off
		measure_tcp "$cfg" "$rep" tcp_nooff_gbps
		offloads on
		case "$cfg" in
		noqueue|btb1|btb1off|btb1offalt) measure_ping "$cfg" "$rep" ;;
		esac
		echo "$cfg $(load1)" >>"$LOADS"
		config_end "$cfg" "$rep"
	done
done

log "DPI over $CORPUS"
if ls "$CORPUS"/*.pcap >/dev/null 2>&1; then
	"$DPI_BENCH" -r "$REPS" -w "$CORPUS"/*.pcap* >"$LAB_TMP/dpi.out" 2>&1 || true
else
	echo "corpus not found at $CORPUS: worst cases only" >"$LAB_TMP/dpi.out"
	"$DPI_BENCH" -r "$REPS" -w >>"$LAB_TMP/dpi.out" 2>&1 || true
fi
log "memory per flow"
"$FLOW_MEM" >"$LAB_TMP/mem.out" 2>&1 || true

# ---- the table ------------------------------------------------------------------------

[ -z "${BENCH_RESULTS:-}" ] || cp "$RES" "$BENCH_RESULTS"

PING_RATE="$PING_RATE" python3 - "$RES" "$LOADS" "$LAB_TMP/rss" "$LAB_TMP/dpi.out" "$LAB_TMP/mem.out" "$REPS" "$DUR" <<'EOF'
import collections, statistics, sys, time, os, platform
res, loads, rss, dpi, mem, reps, dur = sys.argv[1:8]
v = collections.defaultdict(list)
for line in open(res):
    c, m, _, x = line.split()
    v[(c, m)].append(float(x))
ld = collections.defaultdict(list)
for line in open(loads):
    c, x = line.split()
    ld[c].append(float(x))
med = lambda c, m: statistics.median(v[(c, m)]) if v[(c, m)] else float("nan")
def ratio(a, b):
    return a / b if b else float("nan")
names = {
    "noqueue": "no queue rule",
    "ct": "conntrack + acct only, no queue",
    "floor1": "floor, 1 queue (queue all)",
    "floor2": "floor, 2 queues (queue all)",
    "btb1": "btblockd, 1 queue (queue all)",
    "btb2": "btblockd, 2 queues (queue all)",
    "btb1off": "btblockd, 1 queue, shipped ruleset (flow offload)",
    "btb1offalt": "btblockd, 1 queue, BENCH_ALT_RULESET (flow offload)",
}
print("date %s, %s, %d CPUs, kernel %s; medians of %s runs of %s s; load1 min-max per config (the suite itself keeps both CPUs busy: above ~2.5 means outside load)"
      % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), platform.processor() or platform.machine(),
         os.cpu_count(), platform.release(), reps, dur))
print()
print("| configuration | UDP kpps (sent) | x no-queue | x floor | TCP Gbit/s | x no-queue | x floor | TCP offloads off Gbit/s | x no-queue | x floor | load1 |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for c in ["noqueue", "ct", "floor1", "floor2", "btb1", "btb2", "btb1off", "btb1offalt"]:
    fl = "floor2" if c in ("floor2", "btb2") else "floor1"
    row = [names[c]]
    if not v[(c, "udp_kpps")]:
        continue
    for m in ("udp_kpps", "tcp_gbps", "tcp_nooff_gbps"):
        x = med(c, m)
        row += ["%.1f (%.0f)" % (x, med(c, "udp_sent_kpps")) if m == "udp_kpps" else "%.2f" % x,
                "%.2f" % ratio(x, med("noqueue", m)),
                "-" if c == "noqueue" else "%.2f" % ratio(x, med(fl, m))]
    row.append("%.2f-%.2f" % (min(ld[c]), max(ld[c])) if ld[c] else "-")
    print("| " + " | ".join(row) + " |")
print()
print("| consumer CPU per queued packet (all workloads) | ns | x floor | context switches per 1000 packets | packets queued per run |")
print("|---|---|---|---|---|")
for c in ("floor1", "floor2", "btb1", "btb2", "btb1off", "btb1offalt"):
    fl = "floor2" if c in ("floor2", "btb2") else "floor1"
    if not v[(c, "queued_pkts")]:
        continue
    if med(c, "queued_pkts") < 100000:
        print("| %s | n/a (too few packets queued) | - | - | %.0f |" % (names[c], med(c, "queued_pkts")))
        continue
    print("| %s | %.0f | %.2f | %.1f | %.0f |" % (names[c], med(c, "cpu_ns_per_pkt"), ratio(med(c, "cpu_ns_per_pkt"), med(fl, "cpu_ns_per_pkt")),
          med(c, "ctxsw_per_kpkt"), med(c, "queued_pkts")))
print()
for m, label in (("udp_kpps", "UDP"), ("tcp_nooff_gbps", "TCP offloads off"), ("tcp_gbps", "TCP")):
    print("2-queue gain (%s): floor %.2fx, btblockd %.2fx" % (label, ratio(med("floor2", m), med("floor1", m)),
          ratio(med("btb2", m), med("btb1", m))))
print()
print("| latency (UDP echo, %s req/s) | p50 us | p99 us | added p99 us | lost |" % os.environ.get("PING_RATE", ""))
print("|---|---|---|---|---|")
for c in ("noqueue", "btb1", "btb1off", "btb1offalt"):
    if not v[(c, "p50_us")]:
        continue
    print("| %s | %.1f | %.1f | %s | %d |" % (names[c], med(c, "p50_us"), med(c, "p99_us"),
          "-" if c == "noqueue" else "%.1f" % (med(c, "p99_us") - med("noqueue", "p99_us")),
          sum(v[(c, "ping_lost")])))
print()
if os.path.exists(rss):
    r = collections.defaultdict(list)
    for line in open(rss):
        c, k, x = line.split()
        r[(c, k)].append(int(x))
    print("btblockd RSS (KiB) at start / end of each config run: " + "; ".join(
        "%s %s" % (c, ",".join("%d/%d" % (a, b) for a, b in zip(r[(c, "rss_start")], r[(c, "rss_end")])))
        for c in ("btb1", "btb2", "btb1off")))
    print()
print("DPI (bench/dpi_bench):")
print("".join("    " + l for l in open(dpi)))
print("Memory (bench/flow_mem):")
print("".join("    " + l for l in open(mem)))
EOF
