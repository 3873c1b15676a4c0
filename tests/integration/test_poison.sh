#!/bin/bash
# tests/integration/test_poison.sh: unsolicited DHT from outside cannot get a DNS server blocked.
#
# Through the real kernel, in namespaces this script creates and always
# removes, with btblockd-firewall up and btblockd in the router:
#   1. A DNS responder in the server namespace, on a public-looking address
#      (DNS_ADDR, routed by the router), answers on port 53 and on a high
#      port (DNS_HIGH). Two client addresses send QUERIES queries each to
#      both ports, every query on a new flow: every answer arrives
#      (the baseline).
#   2. Outside hosts (OUTSIDE_QUERY, OUTSIDE_REPLY, also in the server
#      namespace) send two client addresses an unsolicited DHT find_node
#      query and an unsolicited DHT reply, their nodes and values naming
#      DNS_ADDR:53 and DNS_ADDR:DNS_HIGH. They cross the router's forward
#      path, so the daemon inspects them; two senders, so that a flow or
#      pair blocked by the first datagram cannot keep the second from the
#      daemon.
#   3. The same DNS series again: every answer arrives; no detection and no
#      ban names the DNS server; the daemon's stats show an empty endpoint
#      cache (nothing was learned from the noise).
#   4. A real BitTorrent handshake from a third client address is still
#      blocked: the server receives none of it.
#   5. The protected side by interface: with --protected-interface naming
#      the router's server-side link, a client's handshake (from outside,
#      as seen from there) is blocked without a ban; naming the client-side
#      link, it is blocked and its address pair banned.
# One queue, one worker: the noise and the DNS flows meet the same engine
# (each worker keeps its own endpoint cache).
# Each check prints a RESULT line with its figures; every check runs before
# the test fails, so one run shows them all.
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

POISON="$here/poison.py"
DNS_ADDR=198.51.100.53       # documentation range: public-looking, never routed outside
OUTSIDE_QUERY=203.0.113.66
OUTSIDE_REPLY=203.0.113.67
DNS_HIGH=5300
QUERIES=${QUERIES:-10}       # per client address and port
QUERY_TIMEOUT=${QUERY_TIMEOUT:-1}
BT_PORT=6881
DAEMON_OPTS=${DAEMON_OPTS:-}
FIREWALL_OPTS=${FIREWALL_OPTS:-}

failures=0

# dns_round LABEL: QUERIES queries from client addresses 0 and 1 to both
# ports; every answer must arrive.
dns_round() {
	local label="$1" idx port out addr
	for idx in 0 1; do
		addr=$(lab_client_addr "$idx" 4)
		for port in 53 "$DNS_HIGH"; do
			out=$(lab_exec client "$LAB_PYTHON" "$POISON" dns-client --source "$addr" \
				--dest "$DNS_ADDR" --port "$port" --count "$QUERIES" \
				--timeout "$QUERY_TIMEOUT") || true
			echo "RESULT $label: $out"
			[ "$(echo "$out" | field answered)" = "$QUERIES" ] ||
				check_fail "$label: $addr -> $DNS_ADDR:$port: $(echo "$out" | field answered) of $QUERIES queries answered"
		done
	done
}

lab_require_kernel || exit $?
lab_require_binaries || exit 1
command -v nft >/dev/null 2>&1 || fail "nft not found (needed to read the ban sets)"

lab_trap
start=$(date +%s)
lab_create
# The DNS server and the outside host: public-looking addresses in the
# server namespace, routed there by the router.
for a in "$DNS_ADDR" "$OUTSIDE_QUERY" "$OUTSIDE_REPLY"; do
	lab_exec server ip addr add "$a/32" dev s0
	lab_exec router ip route add "$a/32" via "$LAB_SERVER4"
done
lab_sink_start "$BT_PORT"
# ip netns exec execs the command: $! is the responder's own pid.
ip netns exec "$LAB_SERVER" "$LAB_PYTHON" "$POISON" dns-server --bind "$DNS_ADDR" --port 53 \
	--port "$DNS_HIGH" --lifetime 900 >>"$LAB_TMP/dns.log" 2>&1 &
dns_pid=$!
LAB_PIDS="$LAB_PIDS $dns_pid"
lab_wait_file "$LAB_TMP/dns.log" '^dns-server ready' 5 "$dns_pid" || fail "the DNS responder did not start"

# shellcheck disable=SC2086 # word splitting of the option strings is intended
lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0 $FIREWALL_OPTS || fail "btblockd-firewall up --queues 0 failed"
# shellcheck disable=SC2086
lab_daemon_start --queues 0 $DAEMON_OPTS --detect-log "$LAB_TMP/detect.log" || fail "btblockd did not start"

# ---- 1. baseline ----------------------------------------------------------------
dns_round "baseline"
[ "$failures" = 0 ] || fail "DNS does not work before the attack: the lab is broken, not the engine"

# ---- 2. the noise -------------------------------------------------------------------
before=$(lab_stats | lab_jget totals packets)
for idx in 0 1; do
	for kind in query reply; do
		if [ "$kind" = query ]; then src=$OUTSIDE_QUERY; else src=$OUTSIDE_REPLY; fi
		out=$(lab_exec server "$LAB_PYTHON" "$POISON" dht-noise --kind "$kind" \
			--source "$src" --dest "$(lab_client_addr "$idx" 4)" --seed "$idx" \
			--name "$DNS_ADDR:53" --name "$DNS_ADDR:$DNS_HIGH") || fail "dht-noise: $out"
		echo "RESULT noise: $out"
	done
done
# The datagrams are queued on their way through the router: wait (bounded)
# until the daemon has seen all four.
for n in $(seq 1 50); do
	seen=$(( $(lab_stats | lab_jget totals packets) - before ))
	[ "$seen" -ge 4 ] && break
	[ "$n" = 50 ] || sleep 0.1
done
echo "RESULT noise: the daemon saw $seen packets of the 4 unsolicited DHT datagrams"
[ "$seen" -ge 4 ] || check_fail "the daemon saw $seen of the 4 DHT datagrams: were they routed through the router?"

# ---- 3. DNS after the noise ------------------------------------------------------------
dns_round "after the noise"
stats=$(lab_stats)
cache=$(echo "$stats" | lab_jget totals endpoint_cache_size)
named=$(grep -cF "\"$DNS_ADDR:" "$LAB_TMP/detect.log" || true)
banned=$(lab_exec router nft list set inet btblockd ban4 | grep -cF "$DNS_ADDR" || true)
echo "RESULT after the noise: endpoint_cache_size=$cache; detections naming $DNS_ADDR: $named; ban4 lines naming it: $banned; detections: $(wc -l <"$LAB_TMP/detect.log") lines, dht=$(echo "$stats" | lab_jget detectors dht) endpoint-cache=$(echo "$stats" | lab_jget detectors endpoint-cache)"
[ "$cache" = 0 ] || check_fail "the endpoint cache holds $cache entries after unsolicited DHT noise and DNS"
[ "$named" = 0 ] || {
	grep -F "\"$DNS_ADDR:" "$LAB_TMP/detect.log" | head -5 | sed 's/^/  | /' >&2
	check_fail "$named detection(s) name the DNS server $DNS_ADDR"
}
[ "$banned" = 0 ] || check_fail "the DNS server $DNS_ADDR is in ban4"

# ---- 4. real BitTorrent is still blocked ------------------------------------------------
addr=$(lab_client_addr 2 4)
out=$(lab_bt 2 4 "$BT_PORT" --hold 2) || fail "handshake client: $out"
echo "$out"
got=$(lab_sink_bytes tcp "$addr" "$BT_PORT")
hs=$(grep -F "\"src\":\"$addr:" "$LAB_TMP/detect.log" | grep -c '"detector":"bt-handshake"' || true)
echo "RESULT BitTorrent from $addr: server received $got of $(echo "$out" | field sent) bytes; bt-handshake detections from it: $hs"
[ "$got" = 0 ] || check_fail "the server received $got bytes of a BitTorrent handshake"
[ "$hs" -ge 1 ] || check_fail "no bt-handshake detection for $addr"

# ---- 5. the protected side by interface ----------------------------------------------
# side IFACE INDEX WANT_BANS: restart the daemon with only IFACE protected,
# send a handshake from client address INDEX, count its ban4 entries.
side() {
	local iface="$1" idx="$2" want="$3" addr out got bans
	lab_daemon_kill -TERM
	# shellcheck disable=SC2086
	lab_daemon_start --queues 0 $DAEMON_OPTS --protected-interface "$iface" \
		--detect-log "$LAB_TMP/detect.log" || fail "btblockd did not start with --protected-interface $iface"
	addr=$(lab_client_addr "$idx" 4)
	out=$(lab_bt "$idx" 4 "$BT_PORT" --hold 2) || fail "handshake client: $out"
	got=$(lab_sink_bytes tcp "$addr" "$BT_PORT")
	bans=$(lab_exec router nft list set inet btblockd ban4 | grep -oF "$addr " | wc -l)
	echo "RESULT protected-interface $iface: handshake from $addr: server received $got bytes; ban4 elements naming it: $bans (want $want)"
	[ "$got" = 0 ] || check_fail "protected-interface $iface: the server received $got bytes of a handshake"
	[ "$bans" = "$want" ] || check_fail "protected-interface $iface: $bans ban4 elements name $addr, want $want"
}
# client addresses 0 and 1 sent only DNS, 2 was banned in step 4
side r1 3 0
side r0 1 2

lab_daemon_kill -TERM
lab_exec router "$BTBLOCKD_FIREWALL" down || check_fail "btblockd-firewall down failed"

[ "$failures" = 0 ] || fail "$failures check(s) failed (see above)"
echo "PASS: unsolicited DHT did not poison the engine in $(( $(date +%s) - start )) s"
