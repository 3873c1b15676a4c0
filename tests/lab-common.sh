# tests/lab-common.sh: the namespace lab's topology, traffic and daemon queries (sourced, POSIX sh).
# shellcheck shell=sh disable=SC2153 # LAB_CLIENT, LAB_ROUTER, LAB_SERVER: set by the sourcing script
#
# Shared by tests/integration/lab.sh (bash, on the host) and the test VM's
# /init (tests/vm/guest-init.sh, busybox ash), so that both build the same
# lab and talk to it alike.  The sourcing script names the namespaces
# (LAB_CLIENT, LAB_ROUTER, LAB_SERVER) and sets LAB_TRAFFIC (traffic.py),
# LAB_PYTHON, and where the lab's files are: LAB_SOCK (the daemon's control
# socket) and LAB_SINK_LOG (traffic.py sink's log), by default in $LAB_TMP.
# No `local` (POSIX sh): the functions' own variables start with _l.
#
# Topology:
#
#   client ns                 router ns                    server ns
#   c0: 10.71.1.10-13/24  <-> r0: 10.71.1.1/24  r1: 10.71.2.1/24 <-> s0: 10.71.2.2/24
#       fd00:71:1::10-13/64     fd00:71:1::1/64  fd00:71:2::1/64      fd00:71:2::2/64
#
# The addresses are namespace internal (RFC 1918 and ULA), so they can never
# collide with the host's. The client has several addresses because the xt
# NFQUEUE balance hashes addresses and protocol only, not ports.

LAB_CLIENT4="10.71.1.10 10.71.1.11 10.71.1.12 10.71.1.13"
LAB_CLIENT6="fd00:71:1::10 fd00:71:1::11 fd00:71:1::12 fd00:71:1::13"
LAB_SERVER4="10.71.2.2"
LAB_SERVER6="fd00:71:2::2"
LAB_PORT=5201
LAB_NS_CREATED=""
LAB_CTL_TIMEOUT=${LAB_CTL_TIMEOUT:-2.0}	# seconds for one control command
LAB_LINK_WAIT=${LAB_LINK_WAIT:-5}	# seconds lab_wait_links waits at most

lab_log() {
	printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# lab_topology: the three namespaces with their links, addresses and routes.
lab_topology() {
	for _l_ns in "$LAB_CLIENT" "$LAB_ROUTER" "$LAB_SERVER"; do
		ip netns add "$_l_ns" || return 1
		LAB_NS_CREATED="$LAB_NS_CREATED $_l_ns"
		ip -n "$_l_ns" link set lo up
		# No duplicate address detection on any interface created from
		# now on, link-local addresses included: IPv6 works at once.
		ip netns exec "$_l_ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
	done
	# Created straight inside the namespaces: no interface name ever
	# appears in the host namespace, so parallel labs cannot clash.
	ip -n "$LAB_CLIENT" link add c0 type veth peer name r0 netns "$LAB_ROUTER" || return 1
	ip -n "$LAB_SERVER" link add s0 type veth peer name r1 netns "$LAB_ROUTER" || return 1

	# nodad: IPv6 addresses are usable at once instead of after ~2 s of DAD.
	ip -n "$LAB_ROUTER" addr add 10.71.1.1/24 dev r0
	ip -n "$LAB_ROUTER" addr add fd00:71:1::1/64 dev r0 nodad
	ip -n "$LAB_ROUTER" addr add 10.71.2.1/24 dev r1
	ip -n "$LAB_ROUTER" addr add fd00:71:2::1/64 dev r1 nodad
	for _l_a in $LAB_CLIENT4; do
		ip -n "$LAB_CLIENT" addr add "$_l_a/24" dev c0
	done
	for _l_a in $LAB_CLIENT6; do
		ip -n "$LAB_CLIENT" addr add "$_l_a/64" dev c0 nodad
	done
	ip -n "$LAB_SERVER" addr add "$LAB_SERVER4/24" dev s0
	ip -n "$LAB_SERVER" addr add "$LAB_SERVER6/64" dev s0 nodad

	for _l_i in "$LAB_CLIENT:c0" "$LAB_ROUTER:r0" "$LAB_ROUTER:r1" "$LAB_SERVER:s0"; do
		ip -n "${_l_i%%:*}" link set "${_l_i#*:}" up
	done
	ip -n "$LAB_CLIENT" route add default via 10.71.1.1
	ip -n "$LAB_CLIENT" -6 route add default via fd00:71:1::1
	ip -n "$LAB_SERVER" route add default via 10.71.2.1
	ip -n "$LAB_SERVER" -6 route add default via fd00:71:2::1

	ip netns exec "$LAB_ROUTER" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$LAB_ROUTER" sysctl -qw net.ipv6.conf.all.forwarding=1

	lab_wait_links
}

# The kernel reports a veth's carrier through linkwatch, up to a second
# late, and IPv6 ignores neighbour solicitations until then: wait (bounded)
# for every link to be UP with no tentative address, so that the first
# packets of a test are not lost to neighbour discovery.
lab_wait_links() {
	_l_max=$((LAB_LINK_WAIT * 10))
	for _l_n in $(seq 1 "$_l_max"); do
		_l_ready=1
		for _l_i in "$LAB_CLIENT:c0" "$LAB_ROUTER:r0" "$LAB_ROUTER:r1" "$LAB_SERVER:s0"; do
			if ! ip -n "${_l_i%%:*}" -o link show dev "${_l_i#*:}" | grep -q 'state UP' ||
			   [ -n "$(ip -n "${_l_i%%:*}" -6 -o addr show dev "${_l_i#*:}" tentative)" ]; then
				_l_ready=0
				break
			fi
		done
		[ "$_l_ready" = 1 ] && return 0
		[ "$_l_n" = "$_l_max" ] || sleep 0.1
	done
	lab_log "links not ready after $LAB_LINK_WAIT s; continuing"
}

# Runs a command inside one of the namespaces: lab_exec client|router|server CMD...
lab_exec() {
	case "$1" in
	client) _l_ns="$LAB_CLIENT" ;;
	router) _l_ns="$LAB_ROUTER" ;;
	server) _l_ns="$LAB_SERVER" ;;
	*) lab_log "lab_exec: unknown namespace '$1'"; return 2 ;;
	esac
	shift
	ip netns exec "$_l_ns" "$@"
}

# Prints the client address with index $1 (0-3) of family $2 (4 or 6).
lab_client_addr() {
	if [ "$2" = 6 ]; then _l_list="$LAB_CLIENT6"; else _l_list="$LAB_CLIENT4"; fi
	# shellcheck disable=SC2086 # word splitting of the address list is intended
	set -- "$1" $_l_list
	shift "$(( $1 + 1 ))"
	printf '%s\n' "$1"
}

lab_server_addr() {
	if [ "$1" = 6 ]; then echo "$LAB_SERVER6"; else echo "$LAB_SERVER4"; fi
}

# lab_tcp INDEX FAMILY BYTES [traffic.py tcp options...]: one checked transfer.
lab_tcp() {
	_l_idx="$1" _l_fam="$2" _l_bytes="$3"
	shift 3
	ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" "$LAB_TRAFFIC" tcp \
		--source "$(lab_client_addr "$_l_idx" "$_l_fam")" --dest "$(lab_server_addr "$_l_fam")" \
		--port "$LAB_PORT" --bytes "$_l_bytes" --seed "$(( _l_idx * 10 + _l_fam ))" "$@"
}

# lab_udp INDEX FAMILY COUNT [traffic.py udp options...]: checked echo exchange.
lab_udp() {
	_l_idx="$1" _l_fam="$2" _l_count="$3"
	shift 3
	ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" "$LAB_TRAFFIC" udp \
		--source "$(lab_client_addr "$_l_idx" "$_l_fam")" --dest "$(lab_server_addr "$_l_fam")" \
		--port "$LAB_PORT" --count "$_l_count" --seed "$(( _l_idx * 10 + _l_fam ))" "$@"
}

# lab_sink_bytes PROTO PEER [PORT]: payload bytes the sink received from
# address PEER over PROTO (tcp or udp), on PORT or on any port.
lab_sink_bytes() {
	awk -v proto="proto=$1" -v peer="peer=$2" -v port="${3:+port=$3}" '
		$1 == "recv" && $2 == proto && $3 == peer && (port == "" || $4 == port) {
			sub("bytes=", "", $5); n += $5
		}
		END { print n + 0 }' "${LAB_SINK_LOG:-$LAB_TMP/sink.log}"
}

# lab_nft_counter NAME: packets of the named counter of table inet btblockd.
lab_nft_counter() {
	ip netns exec "$LAB_ROUTER" nft list counter inet btblockd "$1" |
		sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p'
}

# Sends one control command to the daemon's socket and prints the reply line.
lab_ctl() {
	"$LAB_PYTHON" - "${LAB_SOCK:-$LAB_TMP/btblockd.sock}" "$1" "$LAB_CTL_TIMEOUT" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
try:
    s.connect(sys.argv[1])
    s.sendall(sys.argv[2].encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        part = s.recv(65536)
        if not part:
            break
        buf += part
except OSError as e:
    sys.stderr.write("control socket %s: %s\n" % (sys.argv[1], e))
    sys.exit(1)
line = buf.split(b"\n", 1)[0].decode()
if not line:
    sys.exit(1)
print(line)
EOF
}

lab_stats() {
	lab_ctl stats
}

# Prints "queue packets bytes" per queue from a stats JSON document on stdin.
lab_stats_queues() {
	"$LAB_PYTHON" -c '
import json, sys
doc = json.load(sys.stdin)
for q in doc["queues"]:
    print(q["queue"], q["packets"], q["bytes"])
'
}

# lab_jget KEY...: the value at that path in the JSON document on stdin:
# object keys, or list indexes; 0 where the path leads nowhere; booleans
# as true/false and null as null, as the shell compares them.
lab_jget() {
	"$LAB_PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    if isinstance(v, list):
        v = v[int(k)] if k.isdigit() and int(k) < len(v) else 0
    elif isinstance(v, dict):
        v = v.get(k, 0)
    else:
        v = 0
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
' "$@"
}
