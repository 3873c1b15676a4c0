#!/bin/bash
# contrib/demo.sh: builds btblockd and shows it at work on a router made of network namespaces.
#
# Run as root on Debian 12:   bash contrib/demo.sh
# It installs the dependencies (SKIP_DEPS=1 skips that), builds in
# $BUILD_DIR (default ./build-demo, reused when present), creates a
# client / router / server lab in throw-away network namespaces, loads the
# shipped ruleset in the router with btblockd-firewall, runs btblockd with
# two queues there, sends traffic through it and prints what the daemon
# saw. Everything it creates is removed at the end, also on failure or ^C;
# the host's own firewall is never touched.
#
# Each part of the show is a function demo_step_<name>, run in the order of
# DEMO_STEPS, so a new scenario is one function and one word.
# The lab library is bash: re-run under bash when started as "sh demo.sh".
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
build=${BUILD_DIR:-$top/build-demo}
jobs=${JOBS:-2}
DEMO_STEPS=${DEMO_STEPS:-"normal bittorrent"}

if [ -t 1 ]; then bold=$(printf '\033[1m'); plain=$(printf '\033[0m'); else bold=""; plain=""; fi

say() {
	printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"
}

explain() {
	printf '    %s\n' "$@"
}

quit() {
	printf '\ndemo: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || quit "must run as root (it creates network namespaces and loads firewall rules in them)"

# ---- dependencies and build --------------------------------------------
if [ "${SKIP_DEPS:-0}" != 1 ]; then
	say "Installing build dependencies"
	sh "$top/contrib/install-deps.sh"
fi

say "Building btblockd in $build"
if [ ! -x "$top/configure" ]; then
	(cd "$top" && autoreconf -fi)
fi
if [ -f "$top/config.status" ]; then
	build=$top    # configured in-tree already: configure refuses VPATH then
fi
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
	(cd "$build" && "$top/configure" -q) >"$build/demo-configure.log" 2>&1 ||
		{ tail -n 30 "$build/demo-configure.log"; quit "configure failed (see $build/demo-configure.log)"; }
fi
make -C "$build" -j"$jobs" >"$build/demo-build.log" 2>&1 ||
	{ tail -n 30 "$build/demo-build.log"; quit "build failed (see $build/demo-build.log)"; }
explain "built $build/src/btblockd and $build/nft/btblockd-firewall"

BTBLOCKD="$build/src/btblockd"
BTBLOCKD_FIREWALL="$build/nft/btblockd-firewall"
BTBLOCKD_RULESET="$top/nft/btblockd.nft"
export BTBLOCKD BTBLOCKD_FIREWALL BTBLOCKD_RULESET

# ---- the lab -----------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=../tests/integration/lab.sh
. "$top/tests/integration/lab.sh"
lab_trap
lab_require_kernel || exit 1

say "Creating the lab: client -- router -- server, in network namespaces"
lab_create
lab_server_start
lab_probe
explain "client $LAB_CLIENT: IPv4 $LAB_CLIENT4" \
	"                     IPv6 $LAB_CLIENT6" \
	"router $LAB_ROUTER forwards between the client and the server" \
	"server $LAB_SERVER: $LAB_SERVER4 and $LAB_SERVER6, TCP sink + UDP echo on port $LAB_PORT"

say "Loading the ruleset in the router: btblockd-firewall up --queues 0-1"
lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0-1
explain "forwarded TCP and UDP now goes to NFQUEUE 0 or 1, picked by a hash of the" \
	"addresses, so both directions of a flow meet the same worker thread."

say "Starting btblockd in the router: btblockd --queues 0-1 --foreground --detect-log ..."
lab_daemon_start --queues 0-1 --detect-log "$LAB_TMP/detect.log"
explain "pid $LAB_DAEMON_PID, control socket $LAB_TMP/btblockd.sock"

# ---- the steps ---------------------------------------------------------
demo_step_normal() {
	local idx fam out tcp=0 udp=0 n=0
	say "Normal traffic: TCP and UDP over IPv4 and IPv6 from four client addresses"
	for idx in 0 1 2 3; do
		for fam in 4 6; do
			out=$(lab_tcp "$idx" "$fam" 4000000 --timeout 15) || quit "TCP failed: $out"
			tcp=$((tcp + $(echo "$out" | sed -n 's/.* bytes=\([0-9]*\).*/\1/p')))
			explain "$out"
			out=$(lab_udp "$idx" "$fam" 100 --timeout 10) || quit "UDP failed: $out"
			udp=$((udp + 100))
			explain "$out"
			n=$((n + 2))
		done
	done
	explain "" "$n flows, $tcp TCP bytes and $udp UDP datagrams: every byte arrived intact" \
		"(TCP: sha256 compared end to end; UDP: every datagram echoed and checked)."
}

demo_step_bittorrent() {
	local before got
	say "BitTorrent: a peer-wire handshake from client $(lab_client_addr 1 4) to the server, port 6881"
	lab_sink_start 6881 6882
	before=$(lab_stats | "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["totals"]["packets"])')
	lab_bt 1 4 6881 --hold 2 || true
	got=$(lab_sink_bytes tcp "$(lab_client_addr 1 4)" 6881)
	explain "the server received $got of the 68 handshake bytes: btblockd recognised the" \
		"handshake, marked the flow blocked, and the kernel dropped it and its retransmits."
	lab_udp_to_banned_pair
	explain "btblockd saw $(( $(lab_stats | "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["totals"]["packets"])') - before )) packets in all for these flows."
	say "The ban set in the router (nft list set inet btblockd ban4)"
	lab_exec router nft list set inet btblockd ban4 | sed -n '/elements/,/}/p'
	say "The detection log ($LAB_TMP/detect.log)"
	cat "$LAB_TMP/detect.log"
}

# A UDP datagram between the banned pair, to another port: dropped in the
# kernel, it never reaches btblockd.
lab_udp_to_banned_pair() {
	ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" - "$(lab_client_addr 1 4)" "$LAB_SERVER4" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for _ in range(3):
    s.sendto(b"hello after the ban", (sys.argv[2], 6882))
PY
	sleep 0.5
	explain "then 3 UDP datagrams between the same two hosts, to port 6882: the server" \
		"received $(lab_sink_bytes udp "$(lab_client_addr 1 4)" 6882) bytes (the address pair is banned for an hour)."
}

for step in $DEMO_STEPS; do
	"demo_step_$step"
done

# ---- what the daemon saw -----------------------------------------------
say "btblockd statistics (echo stats | socat - UNIX-CONNECT:$LAB_TMP/btblockd.sock)"
stats=$(lab_stats)
echo "$stats" | "$LAB_PYTHON" -m json.tool

say "Firewall status in the router (btblockd-firewall status)"
lab_exec router "$BTBLOCKD_FIREWALL" status || true

say "What this shows"
while read -r q packets bytes; do
	explain "queue $q: its worker thread judged $packets packets ($bytes bytes)"
done <<EOF
$(echo "$stats" | lab_stats_queues)
EOF
echo "$stats" | "$LAB_PYTHON" -c '
import json, sys
t = json.load(sys.stdin)["totals"]
print("    all queues: %d packets; flows decided allow %d, block %d; bans requested %d"
      % (t["packets"], t["flows_decided_allow"], t["flows_decided_block"], t["bans_requested"]))
'
explain "The router forwarded thousands of packets (counter forward) but queued only" \
	"the first packets of each flow (counter queued): once btblockd decides a flow," \
	"its verdict mark becomes the conntrack mark and the kernel carries on alone:" \
	"allowed flows leave the queue, blocked flows and banned pairs are dropped." \
	"Both queues carry traffic because the kernel spreads flows over them by" \
	"address hash; the \"kernel\" block of each queue is the kernel's own view" \
	"(queue_dropped/user_dropped stay 0 when nothing was lost on the way)." \
	"Stopping btblockd (SIGTERM) or killing it leaves traffic flowing: the rules" \
	"bypass the queues when no daemon listens (fail-open)."

say "Stopping btblockd and removing the lab"
lab_daemon_kill -TERM
explain "btblockd exited with status $LAB_DAEMON_STATUS"
lab_cleanup
trap - EXIT
explain "namespaces removed; nothing is left behind"
