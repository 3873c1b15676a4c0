#!/bin/bash
# bench/soak.sh: btblockd's RSS over a long run with constant flow churn (the soak), in the namespace lab.
#
# Run as root from the build tree (after `make src/btblockd`):
#   sudo BTBLOCKD_BUILDDIR=. /path/to/src/bench/soak.sh
# Environment: BTBLOCKD_BUILDDIR (default .), BENCH_SOAK_SECONDS (600),
# BENCH_SOAK_FLOW_CAPACITY (4096), BENCH_SOAK_UDP_RATE (500 new UDP flows/s),
# BENCH_SOAK_TCP_RATE (100 new TCP connections/s), BENCH_GEN_CPU (0),
# BENCH_Q1_CPU (1). Not a test (not in make check): it prints the samples
# and the slope of VmRSS, and judging them is the reader's part.
set -eu

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SOAK_SECONDS="${BENCH_SOAK_SECONDS:-600}"
SOAK_CAPACITY="${BENCH_SOAK_FLOW_CAPACITY:-4096}"
SOAK_UDP_RATE="${BENCH_SOAK_UDP_RATE:-500}"
SOAK_TCP_RATE="${BENCH_SOAK_TCP_RATE:-100}"

# churn udp|tcp RATE SECONDS: a new 5-tuple RATE times a second, from every
# client address in turn, to the lab server (TCP sink, UDP echo): 200 random
# bytes per flow, so that every flow reaches the detectors and stays
# undecided. Prints "flows N failed F".
churn() {
	# shellcheck disable=SC2086 # the candidate addresses, one argument each
	in_ns "$LAB_CLIENT" taskset -c "$GEN_CPU" python3 - "$1" "$2" "$3" "$SRV4" "$LAB_PORT" $CANDIDATES <<'EOF'
import collections, os, socket, sys, time
proto, rate, secs, dst, port = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
srcs = sys.argv[6:]
recent = collections.deque()   # UDP sockets kept open a moment for their replies
n = failed = 0
start = time.monotonic()
while time.monotonic() - start < secs:
    due = start + n / rate
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    src = srcs[n % len(srcs)]
    n += 1
    try:
        if proto == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((src, 0))
            s.sendto(os.urandom(200), (dst, port))
            recent.append(s)
            if len(recent) > 256:
                recent.popleft().close()
        else:
            with socket.create_connection((dst, port), timeout=2, source_address=(src, 0)) as s:
                s.sendall(os.urandom(200))
    except OSError:
        failed += 1
print("flows %d failed %d" % (n, failed))
EOF
}

# soak: btblockd on 1 queue, every packet queued, flows churning for
# SOAK_SECONDS (more flows than the table holds, with short idle timeouts so
# that both eviction and expiry run); VmRSS and the flow counters sampled
# every 10 s. Prints the samples, start / end / max and the least-squares
# slope of VmRSS over the whole run and over its second half.
soak() {
	local t t0 pu pt
	lab_server_start
	rules_queue_all "--queue-num 0"
	lab_daemon_start --queues 0 --cpus "$Q1_CPU" --flow-capacity "$SOAK_CAPACITY" \
		--udp-timeout 5 --tcp-timeout 30 >/dev/null
	log "soak: ${SOAK_SECONDS} s, flow capacity $SOAK_CAPACITY, $SOAK_UDP_RATE UDP + $SOAK_TCP_RATE TCP new flows/s from $(echo "$CANDIDATES" | wc -w) addresses"
	churn udp "$SOAK_UDP_RATE" "$SOAK_SECONDS" >"$LAB_TMP/churn-udp.out" &
	pu=$!
	churn tcp "$SOAK_TCP_RATE" "$SOAK_SECONDS" >"$LAB_TMP/churn-tcp.out" &
	pt=$!
	LAB_PIDS="$LAB_PIDS $pu $pt"
	t0=$(date +%s)
	for t in $(seq 0 10 "$SOAK_SECONDS"); do
		[ "$t" = 0 ] || sleep 10
		t=$(( $(date +%s) - t0 ))	# the real time of the sample: stats take a while too
		lab_stats | python3 -c '
import json, sys
d = json.load(sys.stdin)["queues"][0]
f = d["flows"]
print(sys.argv[1], sys.argv[2], d["packets"], f["active"], f["inserted"], f["evicted"], f["timed_out"], d["endpoint_cache_size"])
' "$t" "$(rss_daemon)" >>"$LAB_TMP/soak" || echo "$t $(rss_daemon) 0 0 0 0 0 0" >>"$LAB_TMP/soak"
		log "soak $(tail -n 1 "$LAB_TMP/soak")"
	done
	wait "$pu" "$pt" || true
	python3 - "$LAB_TMP/soak" "$(cat "$LAB_TMP/churn-udp.out")" "$(cat "$LAB_TMP/churn-tcp.out")" "$SOAK_CAPACITY" <<'EOF'
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
def slope(rs):   # KiB per minute, least squares
    n = len(rs)
    if n < 2:
        return float("nan")
    mt = sum(r[0] for r in rs) / n
    mr = sum(r[1] for r in rs) / n
    num = sum((r[0] - mt) * (r[1] - mr) for r in rs)
    den = sum((r[0] - mt) ** 2 for r in rs)
    return num / den * 60 if den else float("nan")
print("soak: %d s, flow capacity %s; churn udp: %s; churn tcp: %s" % (rows[-1][0], sys.argv[4], sys.argv[2], sys.argv[3]))
print("| t s | VmRSS KiB | packets | flows active | inserted | evicted | timed out | endpoint cache |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(str(x) for x in r) + " |")
rss = [r[1] for r in rows]
print("VmRSS KiB: start %d, end %d, max %d (end - start %+d); slope %.1f KiB/min over the run, %.1f KiB/min over its second half"
      % (rss[0], rss[-1], max(rss), rss[-1] - rss[0], slope(rows), slope(rows[len(rows) // 2:])))
EOF
}

bench_require "$BTBLOCKD" -- iptables taskset python3
bench_lab
log "machine: $(nproc) CPUs, $(uname -r), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
log "pinning: generator CPU $GEN_CPU, 1 queue on CPU $Q1_CPU"
soak
