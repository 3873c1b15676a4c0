#!/bin/sh
# contrib/cross-check.sh: btblockd on other CPUs: built for s390x (big-endian, 64-bit) and armhf (32-bit), every unit test program and the offline verdicts over the labelled corpus run under qemu-user, the verdicts compared with the native build's.
#
#   sh contrib/cross-check.sh [TARGET...]      (TARGETs: s390x armhf; default both)
#
# For each target: unpacks the target's libraries (downloaded by
# contrib/install-deps.sh into $BTBLOCKD_CROSS_CACHE/ARCH, default
# /var/cache/btblockd-cross/ARCH) into a root of its own in the build
# directory, configures with --host and --enable-werror against it, builds
# the daemon and every unit test program (tests/unit/), runs each program
# under qemu-user with that root, then runs `btblockd --read-pcap` over
# the labelled corpus (../shared/corpus next to the source tree), with the
# endpoint cache and without, exactly as the native daemon does, and
# compares the two outputs capture by capture: every JSON line (flow and
# verdict), the error messages and the exit status must be identical.
# Without the corpus, the unit tests still run and the comparison is
# reported as skipped, loudly.
#
# Environment: CROSS_DIR (build directory, default ./build-cross from the
# source tree; recreated each run), BTBLOCKD (the native daemon to compare
# with; default: one built natively in $CROSS_DIR/native), JOBS (default 2),
# BTBLOCKD_CROSS_CACHE. Exit status 0 only when every check passed.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${CROSS_DIR:-$top/build-cross}
jobs=${JOBS:-2}
cache=${BTBLOCKD_CROSS_CACHE:-/var/cache/btblockd-cross}
corpus=$top/../shared/corpus
targets=${*:-s390x armhf}
# shellcheck source-path=SCRIPTDIR source=../tests/lib.sh
. "$top/tests/lib.sh"

say() {
	printf '%s\n' "$*"
}

# target TARGET: its GNU triplet in $tri, its qemu-user program in $qemu.
target() {
	case $1 in
	s390x) tri=s390x-linux-gnu qemu=qemu-s390x ;;
	armhf) tri=arm-linux-gnueabihf qemu=qemu-arm ;;
	*) return 1 ;;
	esac
}

for t in $targets; do
	target "$t" || { say "cross-check: unknown target $t (s390x, armhf)" >&2; exit 2; }
	for tool in "$tri-gcc" "$qemu"; do
		command -v "$tool" >/dev/null 2>&1 ||
			{ say "cross-check: $tool missing: run contrib/install-deps.sh" >&2; exit 1; }
	done
	ls "$cache/$t/"*.deb >/dev/null 2>&1 ||
		{ say "cross-check: no target libraries in $cache/$t: run contrib/install-deps.sh" >&2; exit 1; }
done
if [ -f "$top/config.status" ]; then
	say "cross-check: $top is configured in-tree, which forbids builds elsewhere (run 'make distclean' there)" >&2
	exit 1
fi
# The directory is emptied: refuse one this script did not make.
if [ -e "$dir" ] && [ ! -f "$dir/.cross-check" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
	say "cross-check: refusing to empty $dir: not made by cross-check.sh" >&2
	exit 1
fi
rm -rf "$dir"
mkdir -p "$dir"
: >"$dir/.cross-check"

if [ ! -f "$top/configure" ]; then
	(cd "$top" && autoreconf -fi) || exit 1
fi

have_corpus=1
if [ ! -d "$corpus/pcap" ]; then
	have_corpus=0
elif ! command -v python3 >/dev/null 2>&1; then
	have_corpus=0
	corpus="$corpus (python3 missing, needed to compare)"
fi

native=${BTBLOCKD:-}
if [ "$have_corpus" = 1 ] && [ -z "$native" ]; then
	say "building the native daemon in $dir/native"
	mkdir "$dir/native"
	if ! (cd "$dir/native" && "$top/configure" --enable-werror >configure.log 2>&1 &&
	      make -j"$jobs" src/btblockd >build.log 2>&1); then
		tail -n 30 "$dir/native/configure.log" "$dir/native/build.log" || true
		say "FAIL: the native build failed"
		exit 1
	fi
	native=$dir/native/src/btblockd
fi
if [ "$have_corpus" = 1 ] && [ ! -x "$native" ]; then
	say "cross-check: the native daemon $native is not an executable" >&2
	exit 1
fi

# build TRIPLET ROOT BUILDDIR: configure and build against ROOT; the unit
# test programs (tests/unit/ in check_PROGRAMS) listed in unit-programs.
build() {
	libdir=$2/usr/lib/$1
	cd "$3" || return 1
	"$top/configure" --host="$1" --enable-werror \
		PKG_CONFIG=pkg-config \
		PKG_CONFIG_LIBDIR="$libdir/pkgconfig:$2/usr/share/pkgconfig" \
		PKG_CONFIG_SYSROOT_DIR="$2" \
		CPPFLAGS="-I$2/usr/include -I$2/usr/include/$1" \
		LDFLAGS="-L$libdir -L$2/lib/$1 -Wl,-rpath-link,$2/lib/$1:$libdir" \
		>configure.log 2>&1 || return 1
	make -j"$jobs" >build.log 2>&1 || return 1
	# shellcheck disable=SC2016 # for make to expand
	printf 'print-unit:\n\t@echo $(filter tests/unit/%%,$(check_PROGRAMS))\n' |
		make -s -f Makefile -f - print-unit >unit-programs || return 1
	# shellcheck disable=SC2046 # one word per program
	make -j"$jobs" $(cat unit-programs) >>build.log 2>&1
}

# unit BUILDDIR ROOT: runs every unit test program under qemu-user.
unit() {
	passed=0 ufailed=0 skipped=0 names=
	programs=$(cat "$1/unit-programs")
	for prog in $programs; do
		log=$1/$prog.cross.log
		rc=0
		(cd "$1" && BTBLOCKD_SRCDIR=$top BTBLOCKD_BUILDDIR=$1 \
			timeout 600 "$qemu" -L "$2" "./$prog" >"$log" 2>&1) || rc=$?
		case $rc in
		0) passed=$((passed + 1)) ;;
		77) skipped=$((skipped + 1)); say "SKIPPED: $t: $prog: $(tail -n 1 "$log")" ;;
		*)
			ufailed=$((ufailed + 1))
			names="$names ${prog#tests/unit/}"
			say "--- $t: $prog exited $rc; its output ends:"
			tail -n 25 "$log"
			;;
		esac
	done
	say "$t: unit test programs: $passed passed, $ufailed failed, $skipped skipped${names:+ (failed:$names)}"
	[ "$passed" -gt 0 ] || fail "$t: no unit test program ran"
	[ "$ufailed" = 0 ] || fail "$t: unit test programs failed:$names"
}

# compare MODE NATIVE_DIR CROSS_DIR: the two --read-pcap runs, capture by
# capture. Each directory holds out (JSON lines), err and rc.
compare() {
	python3 - "$t" "$1" "$2" "$3" "$corpus/pcap" <<'EOF'
import json, os, sys
target, mode, nd, cd, pcaps = sys.argv[1:]

def lines(d):
    byfile = {}
    for n, line in enumerate(open(os.path.join(d, "out"), encoding="utf-8"), 1):
        try:
            name = json.loads(line)["pcap"]
        except (ValueError, KeyError, TypeError):
            name = "(line %d, not a verdict)" % n
        byfile.setdefault(name, []).append(line.rstrip("\n"))
    return byfile

native, cross = lines(nd), lines(cd)
files = sorted(set(os.listdir(pcaps)) | set(native) | set(cross))
flows = sum(len(v) for v in native.values())
bad = []
for f in files:
    a, b = native.get(f, []), cross.get(f, [])
    if a == b:
        continue
    bad.append(f)
    if len(bad) == 1:
        i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        print("%s (%s): %s: %d native lines, %d %s lines; first difference at line %d:"
              % (target, mode, f, len(a), len(b), target, i + 1))
        print("  native: %s" % (a[i] if i < len(a) else "(none)"))
        print("  %s: %s" % (target, b[i] if i < len(b) else "(none)"))
read = lambda d, n: open(os.path.join(d, n), encoding="utf-8", errors="replace").read()
same_err = read(nd, "err") == read(cd, "err")
same_rc = read(nd, "rc") == read(cd, "rc")
print("%s: corpus (%s): %d captures compared, %s; error messages %s, exit status %s"
      % (target, mode, len(files),
         "all %d flow/verdict lines identical" % flows if not bad
         else "%d captures DIFFER (%s%s)" % (len(bad), ", ".join(bad[:10]),
                                              ", ..." if len(bad) > 10 else ""),
         "identical (%d)" % len(read(nd, "err").splitlines()) if same_err else "DIFFER",
         "identical (%s)" % read(nd, "rc").strip() if same_rc else
         "DIFFERS (native %s, %s %s)" % (read(nd, "rc").strip(), target, read(cd, "rc").strip())))
if not same_err:
    print("  native stderr:\n" + read(nd, "err") + "  %s stderr:\n" % target + read(cd, "err"))
if not flows:
    print("%s (%s): the native daemon wrote no verdicts: nothing was compared" % (target, mode))
sys.exit(1 if bad or not flows or not same_err or not same_rc else 0)
EOF
}

# readpcap DIR CMD...: runs CMD --read-pcap over the corpus into DIR.
readpcap() {
	out=$1
	shift
	mkdir -p "$out"
	# Corrupt captures in the corpus make the exit status 1 on purpose.
	rc=0
	"$@" --read-pcap "$corpus"/pcap/* >"$out/out" 2>"$out/err" || rc=$?
	echo "$rc" >"$out/rc"
}

for t in $targets; do
	target "$t"
	say "== $t ($tri, under $qemu)"
	t0=$(date +%s)
	root=$dir/$t/root
	bdir=$dir/$t/build
	mkdir -p "$root" "$bdir"
	for deb in "$cache/$t"/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	if ! (build "$tri" "$root" "$bdir"); then
		tail -n 40 "$bdir/configure.log" "$bdir/build.log" || true
		fail "$t: the build failed (logs: $bdir/configure.log, $bdir/build.log)"
		continue
	fi
	unit "$bdir" "$root"
	if [ "$have_corpus" = 1 ]; then
		for mode in cache no-cache; do
			opts=
			[ "$mode" = cache ] || opts="--endpoint-capacity 0"
			# shellcheck disable=SC2086 # opts: words
			readpcap "$dir/$t/$mode-native" "$native" $opts
			# shellcheck disable=SC2086
			readpcap "$dir/$t/$mode-cross" "$qemu" -L "$root" "$bdir/src/btblockd" $opts
			compare "$mode" "$dir/$t/$mode-native" "$dir/$t/$mode-cross" ||
				fail "$t: verdicts over the corpus ($mode) differ from the native build's"
		done
	else
		say "*** $t: NO corpus at $corpus: the verdict comparison with the native build did NOT run ***"
	fi
	say "$t: $(($(date +%s) - t0)) s"
done

if [ "$have_corpus" != 1 ]; then
	say "*** corpus comparison SKIPPED: no corpus at $corpus ***"
fi
if [ "$fails" != 0 ]; then
	say "cross-check: $fails check(s) failed"
	exit 1
fi
say "cross-check: all checks passed on $targets"
