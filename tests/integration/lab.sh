# tests/integration/lab.sh: the client/router/server namespace lab (sourced bash library).
# shellcheck shell=bash
#
# Usage (from a bash script running as root, with `set -eu`):
#   . tests/integration/lab.sh
#   lab_trap                           # cleanup on EXIT and signals
#   lab_require_kernel || exit $?      # loud reason; 77 if BTBLOCKD_SKIP_KERNEL_TESTS=1
#   lab_create
#   lab_server_start
#   lab_daemon_start --queues 0-1      # btblockd in the router, foreground, background job
#   lab_tcp 0 4 1000000                # client addr index, family, bytes
#   lab_stats                          # stats JSON on stdout
#   lab_sink_start 6881                # logs every TCP/UDP arrival (server ns)
#   lab_bt 0 4 6881 --hold 3           # BitTorrent handshake, connection held
#   lab_sink_bytes tcp 10.71.1.10      # bytes that really arrived from a peer
#   lab_daemon_kill -9
#
# The topology, the addresses and the functions the test VM shares are in
# tests/lab-common.sh; every namespace name here carries $LAB_ID so that
# parallel runs never clash.

LAB_ID="btb$$"
LAB_CLIENT="$LAB_ID-client"
LAB_ROUTER="$LAB_ID-router"
LAB_SERVER="$LAB_ID-server"
LAB_TMP=""
LAB_DAEMON_PID=""
LAB_DAEMON_STATUS=0
LAB_SERVER_PID=""
LAB_PIDS=""
LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_TRAFFIC="$LAB_DIR/traffic.py"
# The uninstalled btblockd-firewall reads its xtables backend from the source tree.
BTBLOCKD_FIREWALL_LIB="${BTBLOCKD_FIREWALL_LIB:-$(cd "$LAB_DIR/../../nft" && pwd)}"
export BTBLOCKD_FIREWALL_LIB
LAB_PYTHON="${PYTHON:-python3}"
# shellcheck source-path=SCRIPTDIR/.. source-path=SCRIPTDIR/../tests source=lab-common.sh
. "$LAB_DIR/../lab-common.sh"

# The test helpers (die, check_fail, field...) for the scripts that source
# this library.
# shellcheck source-path=SCRIPTDIR/.. source-path=SCRIPTDIR/../tests source=lib.sh
. "$LAB_DIR/../lib.sh"

# fail MSG: in the lab's scripts the test cannot go on: die (a script may
# define its own after sourcing).
fail() {
	die "$@"
}

# Prints a loud reason and returns 1, or 77 when BTBLOCKD_SKIP_KERNEL_TESTS=1.
lab_unavailable() {
	if [ "${BTBLOCKD_SKIP_KERNEL_TESTS:-0}" = 1 ]; then
		printf '\n*** SKIP: %s (BTBLOCKD_SKIP_KERNEL_TESTS=1) ***\n\n' "$*" >&2
		return 77
	fi
	printf '\n*** FAIL: %s ***\n' "$*" >&2
	printf '*** This test needs root and network namespaces; set BTBLOCKD_SKIP_KERNEL_TESTS=1 to skip it. ***\n\n' >&2
	return 1
}

# Checks that BTBLOCKD and BTBLOCKD_FIREWALL name executables (make check
# exports them) and defaults BTBLOCKD_RULESET to the source tree's ruleset.
lab_require_binaries() {
	local var path
	for var in BTBLOCKD BTBLOCKD_FIREWALL; do
		path=${!var:-}
		if [ -z "$path" ] || [ ! -x "$path" ]; then
			printf '\n*** FAIL: %s is not set to an executable (got %s); run through make check or export it ***\n\n' \
				"$var" "'$path'" >&2
			return 1
		fi
	done
	if [ -z "${BTBLOCKD_RULESET:-}" ] && [ -n "${BTBLOCKD_SRCDIR:-}" ]; then
		BTBLOCKD_RULESET="$BTBLOCKD_SRCDIR/nft/btblockd.nft"
		export BTBLOCKD_RULESET
	fi
}

# Checks that this process can build the lab at all.
lab_require_kernel() {
	local probe="$LAB_ID-probe" tool
	if [ "$(id -u)" != 0 ]; then
		lab_unavailable "not running as root (uid $(id -u))"
		return
	fi
	for tool in ip "$LAB_PYTHON"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			lab_unavailable "required tool '$tool' not found"
			return
		fi
	done
	if ! ip netns add "$probe" 2>/dev/null; then
		lab_unavailable "cannot create a network namespace (ip netns add failed)"
		return
	fi
	ip netns del "$probe"
	return 0
}

# Creates the temporary directory and the three namespaces with their links.
lab_create() {
	LAB_TMP="$(mktemp -d "${TMPDIR:-/tmp}/$LAB_ID.XXXXXX")"
	# The bans btblockd-firewall down saves (and up reads) stay in the
	# lab, never in the host's /var/lib/btblockd.
	BTBLOCKD_STATE_DIR="$LAB_TMP/state"
	export BTBLOCKD_STATE_DIR
	lab_topology
	lab_log "namespaces $LAB_CLIENT $LAB_ROUTER $LAB_SERVER up (tmp $LAB_TMP)"
}

# Starts the traffic server (TCP sink + UDP echo) in the server namespace.
lab_server_start() {
	local ready="$LAB_TMP/server.ready" n
	ip netns exec "$LAB_SERVER" "$LAB_PYTHON" "$LAB_TRAFFIC" server \
		--bind "$LAB_SERVER4" --bind "$LAB_SERVER6" --port "$LAB_PORT" \
		--ready-file "$ready" --lifetime 900 >"$LAB_TMP/server.log" 2>&1 &
	LAB_SERVER_PID=$!
	for n in $(seq 1 100); do
		[ -s "$ready" ] && return 0
		if ! kill -0 "$LAB_SERVER_PID" 2>/dev/null; then
			break
		fi
		[ "$n" = 100 ] || sleep 0.05
	done
	lab_log "traffic server did not start:"
	cat "$LAB_TMP/server.log" >&2
	return 1
}

# Checks (bounded) that both families route from the client to the server.
lab_probe() {
	local fam
	for fam in 4 6; do
		if ! lab_udp 0 "$fam" 1 --timeout 5 --wait 0.2 >/dev/null; then
			lab_log "server not reachable over IPv$fam from the client"
			return 1
		fi
	done
}

# lab_wait_file FILE PATTERN SECONDS PID: waits (bounded) until FILE has a
# line matching PATTERN; fails early when process PID is gone.
lab_wait_file() {
	local file="$1" pattern="$2" n
	for n in $(seq 1 "$(( $3 * 20 ))"); do
		grep -q -e "$pattern" "$file" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || break
		sleep 0.05
	done
	lab_log "no /$pattern/ in $(basename "$file") after $3 s:"
	sed 's/^/  | /' "$file" >&2
	return 1
}

# lab_sink_start PORT...: starts traffic.py sink on both server addresses
# and every PORT (TCP and UDP); it logs each arrival to $LAB_TMP/sink.log.
lab_sink_start() {
	local args="" port pid
	for port in "$@"; do
		args="$args --port $port"
	done
	# shellcheck disable=SC2086 # word splitting of the port options is intended
	ip netns exec "$LAB_SERVER" "$LAB_PYTHON" "$LAB_TRAFFIC" sink \
		--bind "$LAB_SERVER4" --bind "$LAB_SERVER6" $args \
		--lifetime 900 >>"$LAB_TMP/sink.log" 2>&1 &
	pid=$!
	LAB_PIDS="$LAB_PIDS $pid"
	lab_wait_file "$LAB_TMP/sink.log" '^sink ready' 5 "$pid"
}

# lab_bt INDEX FAMILY PORT [traffic.py bt options...]: a BitTorrent
# handshake from client address INDEX to the server, connection held.
lab_bt() {
	local idx="$1" fam="$2" port="$3"
	shift 3
	ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" "$LAB_TRAFFIC" bt \
		--source "$(lab_client_addr "$idx" "$fam")" --dest "$(lab_server_addr "$fam")" \
		--port "$port" --seed "$(( idx * 10 + fam ))" "$@"
}

# lab_http_start PORT DIR: python3 -m http.server serving DIR on PORT of
# both server addresses (one dual-stack socket), logging to http.log.
lab_http_start() {
	local pid
	# -u: the "Serving HTTP" line is not held back in a buffer.
	ip netns exec "$LAB_SERVER" "$LAB_PYTHON" -u -m http.server --bind :: \
		--directory "$2" "$1" >>"$LAB_TMP/http.log" 2>&1 &
	pid=$!
	LAB_PIDS="$LAB_PIDS $pid"
	lab_wait_file "$LAB_TMP/http.log" '^Serving HTTP' 5 "$pid"
}

# lab_http_get INDEX FAMILY PORT PATH [traffic.py http options...]
lab_http_get() {
	local idx="$1" fam="$2" port="$3" path="$4"
	shift 4
	ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" "$LAB_TRAFFIC" http \
		--source "$(lab_client_addr "$idx" "$fam")" --dest "$(lab_server_addr "$fam")" \
		--port "$port" --path "$path" "$@"
}

# The router's ruleset, table by table in a fixed order, counter values
# masked: comparable before and after a load (iptables-nft tables add a
# "do not touch" warning on stderr, dropped here).
lab_ruleset() {
	ip netns exec "$LAB_ROUTER" nft list tables | sort | while read -r _ family name; do
		ip netns exec "$LAB_ROUTER" nft list table "$family" "$name" 2>/dev/null
	done | sed 's/packets [0-9]* bytes [0-9]*/packets - bytes -/'
}

# Starts $BTBLOCKD in the router namespace in the foreground as a background
# job with its control socket, pid file and log in the lab's temp dir, then
# waits (bounded) until `stats` answers. Extra arguments go to the daemon.
lab_daemon_start() {
	local n
	: "${BTBLOCKD:?BTBLOCKD must point to the btblockd binary}"
	# ip netns exec execs the command, so $! is the daemon's own pid.
	ip netns exec "$LAB_ROUTER" "$BTBLOCKD" --foreground \
		--control "$LAB_TMP/btblockd.sock" --pidfile "$LAB_TMP/btblockd.pid" \
		"$@" >>"$LAB_TMP/btblockd.log" 2>&1 &
	LAB_DAEMON_PID=$!
	for n in $(seq 1 50); do
		if lab_stats >/dev/null 2>&1; then
			lab_log "btblockd running (pid $LAB_DAEMON_PID)"
			return 0
		fi
		if ! kill -0 "$LAB_DAEMON_PID" 2>/dev/null; then
			LAB_DAEMON_STATUS=0
			wait "$LAB_DAEMON_PID" || LAB_DAEMON_STATUS=$?
			lab_log "btblockd exited during start-up (status $LAB_DAEMON_STATUS); log:"
			sed 's/^/  | /' "$LAB_TMP/btblockd.log" >&2
			LAB_DAEMON_PID=""
			return 1
		fi
		sleep 0.1
	done
	lab_log "btblockd control socket did not answer 'stats' within 5 s; log:"
	sed 's/^/  | /' "$LAB_TMP/btblockd.log" >&2
	return 1
}

# Stops the daemon: lab_daemon_kill [-SIGNAL] (default TERM); waits up to
# 5 s, then kills it. Its exit status is left in LAB_DAEMON_STATUS.
lab_daemon_kill() {
	local sig="${1:--TERM}" n
	LAB_DAEMON_STATUS=0
	[ -n "$LAB_DAEMON_PID" ] || return 0
	kill "$sig" "$LAB_DAEMON_PID" 2>/dev/null || true
	for n in $(seq 1 50); do
		kill -0 "$LAB_DAEMON_PID" 2>/dev/null || break
		[ "$n" = 50 ] || sleep 0.1
	done
	if kill -0 "$LAB_DAEMON_PID" 2>/dev/null; then
		lab_log "btblockd did not stop on $sig within 5 s; killing it"
		kill -KILL "$LAB_DAEMON_PID" 2>/dev/null || true
	fi
	{ wait "$LAB_DAEMON_PID"; } 2>/dev/null || LAB_DAEMON_STATUS=$?
	LAB_DAEMON_PID=""
}

lab_daemon_log() {
	[ -n "$LAB_TMP" ] && [ -f "$LAB_TMP/btblockd.log" ] && sed 's/^/  | /' "$LAB_TMP/btblockd.log" >&2
	return 0
}

# Removes everything the lab made. Safe to call twice and from a trap.
lab_cleanup() {
	local status=$? ns pid f
	# On failure, show what the lab's processes said before it all goes.
	if [ "$status" != 0 ] && [ -n "$LAB_TMP" ] && [ -d "$LAB_TMP" ]; then
		for f in "$LAB_TMP"/*.log; do
			[ -s "$f" ] || continue
			lab_log "last lines of $(basename "$f"):"
			tail -n 40 "$f" | sed 's/^/  | /' >&2
		done
	fi
	# stderr off for the whole block: bash reports killed jobs ("Killed")
	# whenever it reaps them, which is noise here.
	{
		if [ -n "$LAB_DAEMON_PID" ]; then
			kill -KILL "$LAB_DAEMON_PID" || true
		fi
		for ns in $LAB_NS_CREATED; do
			# Every process still living in the namespace (servers,
			# clients, daemons of a failed step) dies with it.
			for pid in $(ip netns pids "$ns"); do
				kill -KILL "$pid" || true
			done
		done
		# Reap our own killed jobs (never a bare `wait`: the caller may
		# have unrelated jobs running).
		for pid in $LAB_DAEMON_PID $LAB_SERVER_PID $LAB_PIDS; do
			wait "$pid" || true
		done
		for ns in $LAB_NS_CREATED; do
			ip netns del "$ns" || true
		done
	} 2>/dev/null
	LAB_NS_CREATED=""
	LAB_DAEMON_PID=""
	LAB_SERVER_PID=""
	LAB_PIDS=""
	if [ -n "$LAB_TMP" ] && [ -d "$LAB_TMP" ]; then
		rm -rf "$LAB_TMP"
	fi
	LAB_TMP=""
}

# Installs the cleanup: on EXIT, and on HUP/INT/PIPE/TERM by exiting (which
# runs the EXIT trap once) with the conventional status. An untrapped signal
# would kill bash without running the EXIT trap, e.g. `demo.sh | head`.
lab_trap() {
	trap lab_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 141' PIPE
	trap 'exit 143' TERM
}
