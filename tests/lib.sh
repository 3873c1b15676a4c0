# tests/lib.sh: the helpers every shell test shares (sourced, POSIX sh).
# shellcheck shell=sh
#
# Usage:
#   srcdir=${BTBLOCKD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
#   . "$srcdir/tests/lib.sh"
#   tmpdir_trap cleanup        # $tmp, removed on exit after running cleanup
#   ok "what held"             # "ok: ..." on stdout
#   fail "what did not"        # "FAIL: ..." on stdout, counted in $fails
#   [ "$fails" = 0 ]           # the script's status
#
# The messages are part of the interface: the logs of make check and the
# callers' own summaries read them.

checks=${checks:-0}
fails=${fails:-0}

# ok MSG: a check that held.
ok() {
	checks=$((checks + 1))
	echo "ok: $*"
}

# fail MSG: a check that did not hold; the script goes on and fails at the
# end when $fails is not 0.
fail() {
	checks=$((checks + 1))
	fails=$((fails + 1))
	echo "FAIL: $*"
}

# die MSG: the test cannot go on: loud reason, exit 1.
die() {
	printf '\n*** FAIL: %s ***\n\n' "$*" >&2
	exit 1
}

# skip MSG: the test cannot run here: loud reason, exit 77 (automake SKIP).
skip() {
	printf '*** SKIP: %s ***\n' "$*" >&2
	exit 77
}

# check_fail MSG: a failed measurement, reported at once; the script goes
# on and fails at the end when $failures is not 0.
check_fail() {
	printf '*** CHECK FAILED: %s ***\n' "$*" >&2
	failures=$((${failures:-0} + 1))
}

# field KEY: the value of " KEY=value" in a result line on stdin.
field() {
	sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p"
}

# tmpdir_trap [HOOK [MKTEMP-ARGS...]]: makes the temporary directory $tmp
# and removes it on EXIT, after running the command HOOK (the script's own
# cleanup: daemons, namespaces); INT, TERM and HUP exit 1 through it.
tmpdir_trap() {
	lib_hook=${1:-:}
	lib_status=0
	[ $# -gt 0 ] && shift
	tmp=$(mktemp -d "$@") || die "mktemp -d failed"
	trap 'lib_status=$?; $lib_hook || :; rm -rf "$tmp"; exit $lib_status' EXIT
	trap 'exit 1' INT TERM HUP
}
