# bench/common.sh: what bench/run.sh and bench/soak.sh share (sourced bash):
# the build's programs, the CPU pinning, the namespace lab with its extra
# client addresses, and the helpers both use.
# shellcheck shell=bash disable=SC2034 # its variables are for the scripts that source it

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_NAME="bench/$(basename "$0")"
SRCDIR="$(cd "$BENCH_DIR/.." && pwd)"
BUILDDIR="$(cd "${BTBLOCKD_BUILDDIR:-.}" && pwd)"
GEN_CPU="${BENCH_GEN_CPU:-0}"
Q1_CPU="${BENCH_Q1_CPU:-1}"

BTBLOCKD="$BUILDDIR/src/btblockd"
BTBLOCKD_FIREWALL="${BTBLOCKD_FIREWALL:-$BUILDDIR/nft/btblockd-firewall}"
BTBLOCKD_RULESET="${BTBLOCKD_RULESET:-$SRCDIR/nft/btblockd.nft}"
export BTBLOCKD BTBLOCKD_FIREWALL BTBLOCKD_RULESET

# bench_require PROGRAM... -- TOOL...: the built programs and the tools
# from PATH the script needs; exits with the reason when one is missing.
bench_require() {
	local f
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		if [ ! -x "$1" ]; then
			echo "$BENCH_NAME: $1 is missing; build it first (see the header of this script)" >&2
			exit 1
		fi
		shift
	done
	[ $# -gt 0 ] && shift
	for f in "$@"; do
		command -v "$f" >/dev/null || { echo "$BENCH_NAME: needs $f (apt-get install $f)" >&2; exit 1; }
	done
}

# shellcheck source-path=SCRIPTDIR source=../tests/integration/lab.sh
. "$SRCDIR/tests/integration/lab.sh"

# bench_lab: the namespace lab (removed on exit), with 12 more client
# addresses in CANDIDATES next to the lab's 4.
bench_lab() {
	local i
	lab_trap
	lab_require_kernel
	lab_create
	SRV4="$LAB_SERVER4"
	CANDIDATES="$LAB_CLIENT4"
	for i in $(seq 20 31); do
		ip -n "$LAB_CLIENT" addr add "10.71.1.$i/24" dev c0
		CANDIDATES="$CANDIDATES 10.71.1.$i"
	done
}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
in_ns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }
rss_daemon() { awk '/^VmRSS/ { print $2 }' "/proc/$LAB_DAEMON_PID/status" 2>/dev/null || echo 0; }

# Consumers run fail-closed: under overload a full queue drops instead of
# letting packets pass uninspected, so what the sink receives is what the
# consumer really handled (fail-open would count bypassed packets too).
#
# Every TCP and UDP packet to the queue(s): what the floor serves, and
# btblockd's worst case (no flow ever leaves the queue).
rules_queue_all() {	# rules_queue_all "--queue-num 0" | "--queue-balance 0:1"
	local p
	for p in tcp udp; do
		# shellcheck disable=SC2086 # the queue option is two words
		in_ns "$LAB_ROUTER" iptables -t mangle -A FORWARD -p "$p" -j NFQUEUE $1 --queue-bypass
	done
}
