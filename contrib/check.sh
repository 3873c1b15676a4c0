#!/bin/sh
# contrib/check.sh: the test command: dependencies, -Werror build, the test tiers, make distcheck, sanitizers, fuzzing, one summary line.
#
# Run as root from anywhere on Debian 12 (the root tier needs root):
#   sh contrib/check.sh
# Builds out of tree in $BUILD_DIR (default ./build-check, recreated each
# run). The last line printed is "N passed, N failed": the automake test
# results of the three test stages, plus one failure for every stage that
# failed (so a broken build can never print "0 failed"). Exit status 0
# only when every stage passed.
#
# The test tiers (HACKING), each a stage, each test run once: "check"
# (`make check`: the unprivileged, offline tier), "check-root" (`make
# check-root`: namespaces, kernel rules, the VM, the package) and "e2e"
# (`make check-e2e`: the end-to-end lab, real BitTorrent clients and
# services through the router, a few minutes).
#
# After distcheck (the unprivileged tier again, from the tarball), two
# more builds, each in a directory of its own next to $BUILD_DIR:
# $BUILD_DIR-san (--enable-sanitizers --enable-root-tests: `make check`
# of both tiers with ASan and UBSan in every program, the daemon of the
# kernel tests included; a
# sanitizer report from any process, leaks at exit included, fails the
# stage) and $BUILD_DIR-fuzz (--enable-fuzzing: `make fuzz-check`, every
# libFuzzer harness over its committed regression inputs and generated
# seeds plus a fixed number of mutations from a fixed seed: the same
# executions on every run, about two minutes; the open-ended `make fuzz`
# is for developers, see HACKING). Each stage prints its time.
#
# The "cross" stage (contrib/cross-check.sh, in $BUILD_DIR-cross) builds
# for s390x (big-endian) and armhf (32-bit) with --enable-werror, runs
# every unit test program under qemu-user and compares the offline
# verdicts over the labelled corpus with those of the daemon built here,
# line by line; about two minutes.
#
# Environment: BUILD_DIR, JOBS (default 2), SKIP_DEPS=1 (no apt step),
# SKIP_ROOT=1, SKIP_E2E=1, SKIP_DISTCHECK=1, SKIP_CROSS=1, SKIP_SANITIZERS=1,
# SKIP_FUZZ=1.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
build=${BUILD_DIR:-$top/build-check}
jobs=${JOBS:-2}
stage_failed=0
failed_stages=""
checked=0

say() {
	printf '\n==> %s\n' "$*"
}

# stage_time NAME T0: prints how long the stage that began at T0 took.
stage_time() {
	echo "stage $1: $(($(date +%s) - $2)) s"
}

# stage NAME CMD...: runs one stage, prints its time, records its failure.
stage() {
	name=$1
	shift
	say "$name"
	t0=$(date +%s)
	if "$@"; then
		stage_time "$name" "$t0"
		return 0
	fi
	stage_time "$name" "$t0"
	stage_failed=$((stage_failed + 1))
	failed_stages="$failed_stages $name"
	printf '*** stage "%s" FAILED ***\n' "$name" >&2
	return 1
}

# tests_stage NAME TARGET: runs one test tier (make TARGET) as a stage and
# prints its time. Its results (.trs files) count in finish(); a failure
# counts once: as the failed tests, or as the stage when none of its
# results failed (e.g. a test program that did not compile).
tests_stage() {
	say "$1"
	t0=$(date +%s)
	mark=$(mktemp)	# older than the stage's results
	checked=1
	if make -j"$jobs" "$2"; then
		stage_time "$1" "$t0"
		rm -f "$mark"
		return 0
	fi
	stage_time "$1" "$t0"
	failed_stages="$failed_stages $1"
	printf '*** stage "%s" FAILED ***\n' "$1" >&2
	if [ -f test-suite.log ]; then
		say "test-suite.log"
		cat test-suite.log
	fi
	if [ -z "$(find "$build" -name '*.trs' -newer "$mark" ! -path "$build/btblockd-*" \
		-exec grep -l -E '^:test-result: *(FAIL|XPASS|ERROR)' {} + 2>/dev/null)" ]; then
		stage_failed=$((stage_failed + 1))
	fi
	rm -f "$mark"
	return 1
}

# Counts the test tiers' results from the .trs files of the build (not
# those of distcheck's own copy), then prints the summary and exits. A
# test of both tiers (root_part_tests) has one .trs: its root run's.
finish() {
	passed=0
	failed=0
	skipped=0
	if [ "$checked" = 1 ]; then
		results=$(find "$build" -name '*.trs' ! -path "$build/btblockd-*" \
			-exec sed -n 's/^:test-result: *//p' {} + 2>/dev/null || true)
		passed=$(printf '%s\n' "$results" | grep -c '^PASS' || true)
		failed=$(printf '%s\n' "$results" | grep -c -E '^(FAIL|XPASS|ERROR)' || true)
		skipped=$(printf '%s\n' "$results" | grep -c -E '^(SKIP|XFAIL)' || true)
	fi
	failed=$((failed + stage_failed))
	echo
	if [ -n "$failed_stages" ]; then
		echo "failed stages:$failed_stages"
	fi
	echo "tests skipped or expected to fail: $skipped"
	echo "$passed passed, $failed failed"
	if [ "$failed" = 0 ]; then
		exit 0
	fi
	exit 1
}

if [ "${SKIP_DEPS:-0}" != 1 ]; then
	stage deps sh "$top/contrib/install-deps.sh" || finish
fi
stage autoreconf autoreconf -fi "$top" || finish

if [ -f "$top/config.status" ]; then
	# configure refuses a VPATH build of an already configured tree.
	echo "note: $top is configured in-tree; building there instead of $build"
	build=$top
elif [ -e "$build" ] && [ ! -f "$build/config.status" ] &&
     [ -n "$(ls -A "$build" 2>/dev/null)" ]; then
	echo "refusing to reuse $build: not empty and not a build directory" >&2
	stage_failed=$((stage_failed + 1))
	failed_stages="$failed_stages configure"
	finish
else
	rm -rf "$build"
	mkdir -p "$build"
fi
cd "$build"
stage configure "$top/configure" --enable-werror || finish

stage build make -j"$jobs" || finish

tests_stage check check || finish
if [ "${SKIP_ROOT:-0}" != 1 ]; then
	tests_stage check-root check-root || true
fi
if [ "${SKIP_E2E:-0}" != 1 ]; then
	tests_stage e2e check-e2e || true
fi

if [ "${SKIP_DISTCHECK:-0}" != 1 ]; then
	if ! stage distcheck make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror; then
		for log in btblockd-*/_build/sub/test-suite.log; do
			[ -f "$log" ] || continue
			say "$log"
			cat "$log"
		done
	fi
fi

# fresh_dir DIR: an empty directory for a build of its own; refuses to
# empty one that holds something other than a build.
# shellcheck disable=SC2317 # called through stage
fresh_dir() {
	if [ -e "$1" ] && [ ! -f "$1/config.status" ] && [ -n "$(ls -A "$1" 2>/dev/null)" ]; then
		echo "refusing to reuse $1: not empty and not a build directory" >&2
		return 1
	fi
	rm -rf "$1"
	mkdir -p "$1"
}

# The sanitizer build: configure, build, make check of both tiers (the
# daemon meets the kernel under ASan). Every process writes
# its ASan/LSan/UBSan reports to files in $san/sanitizer-reports (the
# daemon runs in the background of the kernel tests, where a report on
# stderr would go unseen), and any report fails the stage. The directory
# is world-writable because the daemon may drop to another --user.
# shellcheck disable=SC2317 # called through stage
sanitizers() {
	san=$1
	fresh_dir "$san" || return 1
	cd "$san" || return 1
	mkdir -p sanitizer-reports
	chmod 1777 sanitizer-reports
	ASAN_OPTIONS="log_path=$san/sanitizer-reports/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
	UBSAN_OPTIONS="log_path=$san/sanitizer-reports/ubsan:print_stacktrace=1:halt_on_error=1"
	# Tests that bound memory (RSS) read this: ASan's quarantine and
	# shadow memory make RSS grow by design, so they check such bounds
	# only when it is empty, and everything else in both builds (HACKING).
	BTBLOCKD_SANITIZERS=address,undefined
	# The Debian package test builds its own, unsanitized binaries: it
	# ran in the check stage already.
	BTBLOCKD_SKIP_DEB_TEST=1
	export ASAN_OPTIONS UBSAN_OPTIONS BTBLOCKD_SANITIZERS BTBLOCKD_SKIP_DEB_TEST
	rc=0
	if ! "$top/configure" --enable-werror --enable-sanitizers --enable-root-tests \
		>configure.log 2>&1 ||
	   ! make -j"$jobs" >build.log 2>&1; then
		cat configure.log build.log >&2
		rc=1
	fi
	if [ "$rc" = 0 ] && ! make -j"$jobs" check; then
		rc=1
		[ -f test-suite.log ] && cat test-suite.log
	fi
	unset ASAN_OPTIONS UBSAN_OPTIONS BTBLOCKD_SANITIZERS BTBLOCKD_SKIP_DEB_TEST
	for report in sanitizer-reports/*; do
		[ -f "$report" ] || continue
		say "sanitizer report $report"
		cat "$report"
		rc=1
	done
	cd "$build"
	return "$rc"
}

# The fuzzing build: clang, libFuzzer, make fuzz-check (repeatable: no
# time limit, no random seed, no inputs from outside the tree).
# shellcheck disable=SC2317 # called through stage
fuzzing() {
	fz=$1
	fresh_dir "$fz" || return 1
	cd "$fz" || return 1
	rc=0
	"$top/configure" --enable-werror --enable-fuzzing >configure.log 2>&1 ||
		{ cat configure.log >&2; rc=1; }
	if [ "$rc" = 0 ]; then
		make -j"$jobs" fuzz-check || rc=1
	fi
	cd "$build"
	return "$rc"
}

if [ "$build" = "$top" ]; then
	# configure refuses the VPATH builds below in a configured tree
	if [ "${SKIP_CROSS:-0}" != 1 ] || [ "${SKIP_SANITIZERS:-0}" != 1 ] ||
	   [ "${SKIP_FUZZ:-0}" != 1 ]; then
		echo "note: $top is configured in-tree: no cross, sanitizer or fuzzing build" \
			"(run 'make distclean' there first)" >&2
		stage_failed=$((stage_failed + 1))
		failed_stages="$failed_stages cross/sanitizers/fuzz"
	fi
else
	if [ "${SKIP_CROSS:-0}" != 1 ]; then
		stage cross env CROSS_DIR="$build-cross" BTBLOCKD="$build/src/btblockd" \
			JOBS="$jobs" sh "$top/contrib/cross-check.sh" || true
	fi
	if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
		stage sanitizers sanitizers "$build-san" || true
	fi
	if [ "${SKIP_FUZZ:-0}" != 1 ]; then
		stage fuzz fuzzing "$build-fuzz" || true
	fi
fi
finish
