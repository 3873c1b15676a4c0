#!/bin/sh
# test_seccomp_arch.sh: the --seccomp allowlist holds every system call glibc makes for the running daemon on armhf, mips o32, i386 and x86_64.
#
# For each target, seccomp_arch.c (which includes src/privs.c and links
# the daemon's logging, detection log and config modules) is built with
# the target's compiler, twice on 32-bit targets (default, and 64-bit
# time_t and file offsets, as Debian builds armhf now). It does what the
# daemon does once the filter is in place (see seccomp_arch.c), and:
# - armhf, mips: under qemu-user, which cannot install a seccomp filter,
#   with -strace; every system call between the program's two markers is
#   looked up by name in the target's <sys/syscall.h> and must be in the
#   allowlist as compiled for the target ("seccomp_arch table");
# - i386 (the IA-32 ABI of this kernel, with the cross C library) and
#   x86_64: natively with the filter installed, so that a missing call
#   kills it with SIGSYS (i386 is left out, with a note, on a kernel
#   without IA-32 support).
# On every target the calls glibc chooses among at run time by what the
# kernel offers (time64 or not, stat variants, send or sendto...) must be
# allowed wherever the target defines them.
#
# Skipped (77), loudly, only when a compiler or qemu-user is missing
# (contrib/install-deps.sh installs them).
set -eu

srcdir=${BTBLOCKD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${BTBLOCKD_BUILDDIR:-.}
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$srcdir/tests/lib.sh"

# name  compiler  how it runs  C library root  extra link flags
TARGETS="
armhf arm-linux-gnueabihf-gcc qemu-arm /usr/arm-linux-gnueabihf -
mips mips-linux-gnu-gcc qemu-mips /usr/mips-linux-gnu -latomic
i386 i686-linux-gnu-gcc native /usr/i686-linux-gnu -Wl,--dynamic-linker=/usr/i686-linux-gnu/lib/ld-linux.so.2,-rpath=/usr/i686-linux-gnu/lib
x86_64 gcc native / -
"

# Calls glibc picks among at run time (ENOSYS fallbacks, kernel features)
# that one kernel cannot all show: each one the target defines must be
# allowed.
ALTERNATIVES="send recv sendto recvfrom socketcall
clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 nanosleep
recvmmsg recvmmsg_time64 rt_sigtimedwait rt_sigtimedwait_time64
futex futex_time64 poll ppoll ppoll_time64
fcntl fcntl64 lseek _llseek statx fstat fstat64 fstatat64 newfstatat
rename renameat renameat2 mmap mmap2 rt_sigreturn sigreturn clone clone3 rseq"

if [ ! -f "$builddir/autoconf.h" ]; then
	echo "test_seccomp_arch.sh: $builddir/autoconf.h not found: run from the build directory" >&2
	exit 1
fi
missing=
for tool in $(echo "$TARGETS" | awk 'NF { print $2; if ($3 != "native") print $3 }'); do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	skip "test_seccomp_arch.sh: missing$missing (contrib/install-deps.sh installs the cross compilers and qemu-user)"
fi

tmpdir_trap :

# numbers CC NAME...: "NAME NUMBER" for each NAME the target defines.
numbers() {
	cc=$1
	shift
	{
		echo '#include <sys/syscall.h>'
		for n in "$@"; do echo "@@ $n __NR_$n"; done
	} >"$tmp/nr.c"
	"$cc" -E -P "$tmp/nr.c" | sed -n 's/^@@ //p' | while read -r n expr; do
		case $expr in
		__NR_*) ;;
		*) echo "$n $(($(echo "$expr" | tr -d '()L'| sed 's/ //g')))" ;;
		esac
	done
}

# allowed NAME FILE: fail for each "call number" line of FILE whose number
# is not in the table; the count of lines checked in $count.
allowed() {
	count=0
	bad=
	while read -r call nr; do
		count=$((count + 1))
		grep -qx -- "$nr" "$dir/table" || bad="$bad $call($nr)"
	done <"$2"
	[ -z "$bad" ] || fail "$1: not allowed:$bad"
}

# trace NAME CC QEMU ROOT: run under qemu -strace, check the calls made.
trace() {
	name=$1 cc=$2 qemu=$3 root=$4
	if ! QEMU_LD_PREFIX=$root "$qemu" -strace -D "$dir/trace" "$dir/seccomp_arch" run "$dir/run" \
		>"$dir/run.out" 2>&1; then
		fail "$name: seccomp_arch run failed: $(tail -5 "$dir/run.out")"
		return
	fi
	# The daemon's process (a control client runs in a child).
	pid=$(grep -m1 -o -E '[0-9]+ getppid\(' "$dir/trace" | cut -d' ' -f1)
	if [ -z "$pid" ]; then
		fail "$name: no start marker in the trace"
		return
	fi
	# Lines of several threads interleave: take every "PID name(".
	grep -o -E "(^|[^0-9])$pid (Unknown syscall [0-9]+|[A-Za-z_][A-Za-z0-9_]*\\()" "$dir/trace" |
		sed -E "s/^[^0-9]*$pid //; s/\\($//; s/^Unknown syscall /#/" |
		awk '$0 == "getppid" { n++; next } n == 1' >"$dir/calls"
	if [ ! -s "$dir/calls" ]; then
		fail "$name: no system calls between the markers"
		return
	fi
	# Capitals: qemu's names for the sub-calls of i386's socketcall.
	sed -e 's/^[A-Z][A-Z_]*$/socketcall/' "$dir/calls" | sort -u >"$dir/names"
	# shellcheck disable=SC2046 # one word per name
	numbers "$cc" $(grep -v '^#' "$dir/names") >"$dir/numbers"
	sed -n 's/^#\(.*\)/unknown \1/p' "$dir/names" >>"$dir/numbers"
	grep -v '^#' "$dir/names" | while read -r call; do
		grep -q "^$call " "$dir/numbers" || echo "$call"
	done >"$dir/nameless"
	[ ! -s "$dir/nameless" ] ||
		fail "$name: traced, but no number in <sys/syscall.h>: $(tr '\n' ' ' <"$dir/nameless")"
	allowed "$name (traced)" "$dir/numbers"
	traced="$count distinct calls traced ($(wc -l <"$dir/calls") in all)"
	# What the daemon relies on most: its control socket and syslog.
	for call in send recv; do
		grep -qx "$call" "$dir/names" || fail "$name: glibc made no $call call: the trace misses the point"
	done
}

# enforce NAME: run natively with the filter installed.
enforce() {
	name=$1
	"$dir/seccomp_arch" enforce "$dir/run" >"$dir/run.out" 2>&1 && status=0 || status=$?
	case $status in
	0) traced="ran with the filter installed" ;;
	159) fail "$name: killed by SIGSYS: a system call is missing ($(tail -3 "$dir/run.out"))" ;;
	*) fail "$name: seccomp_arch enforce exited $status: $(tail -5 "$dir/run.out")" ;;
	esac
}

# check NAME CC HOW ROOT LIBS FLAGS: build, table, run, compare.
check() {
	name=$1 cc=$2 how=$3 root=$4 libs=$5 flags=$6
	dir=$tmp/$name
	before=$fails
	mkdir -p "$dir/run"
	[ "$libs" = - ] && libs=
	# RUNSTATEDIR as make passes it to every compile (only config.c's
	# defaults use it; seccomp_arch runs in its own directory).
	# shellcheck disable=SC2086 # word lists
	if ! "$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -pthread $flags \
		-DRUNSTATEDIR='"/run"' \
		-I"$srcdir/src" -I"$builddir" -o "$dir/seccomp_arch" \
		"$srcdir/tests/unit/seccomp_arch.c" "$srcdir/src/config.c" "$srcdir/src/log.c" \
		"$srcdir/src/detect_log.c" "$srcdir/src/protect.c" "$srcdir/src/leases.c" \
		"$srcdir/src/statefile.c" $libs 2>"$dir/cc.log"; then
		fail "$name: cannot build seccomp_arch: $(head -5 "$dir/cc.log")"
		return
	fi
	if [ "$how" = native ]; then
		if ! "$dir/seccomp_arch" table >"$dir/table" 2>"$dir/table.err"; then
			echo "note: $name: not checked: this machine cannot run its programs ($(head -1 "$dir/table.err"))"
			return
		fi
	elif ! QEMU_LD_PREFIX=$root "$how" "$dir/seccomp_arch" table >"$dir/table" 2>"$dir/table.err"; then
		fail "$name: seccomp_arch table: $(cat "$dir/table.err")"
		return
	fi
	if grep -qx 'arch 0' "$dir/table"; then
		fail "$name: --seccomp is not supported (no audit architecture)"
		return
	fi
	traced=
	if [ "$how" = native ]; then enforce "$name"; else trace "$name" "$cc" "$how" "$root"; fi
	# shellcheck disable=SC2086 # one word per name
	numbers "$cc" $ALTERNATIVES >"$dir/alternatives"
	allowed "$name (run-time alternatives)" "$dir/alternatives"
	[ "$fails" = "$before" ] &&
		echo "ok: $name: $traced; $count run-time alternatives allowed ($(($(wc -l <"$dir/table") - 1)) calls in the list)"
	return 0
}

while read -r name cc how root libs; do
	[ -n "$name" ] || continue
	check "$name" "$cc" "$how" "$root" "$libs" ""
	[ "$name" = x86_64 ] ||
		check "$name-time64" "$cc" "$how" "$root" "$libs" "-D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64"
done <<EOF
$TARGETS
EOF

if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
