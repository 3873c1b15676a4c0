#!/bin/sh
# contrib/check.sh: the test command: dependencies, -Werror build, make check, make distcheck, one summary line.
#
# Run as root from anywhere on Debian 12 (the namespace tests need root):
#   sh contrib/check.sh
# Builds out of tree in $BUILD_DIR (default ./build-check, recreated each
# run). The last line printed is "N passed, N failed": the automake test
# results of `make check`, plus one failure for every stage that failed
# (so a broken build can never print "0 failed"). Exit status 0 only when
# every stage passed.
#
# Environment: BUILD_DIR, JOBS (default 2), SKIP_DEPS=1 (no apt step),
# SKIP_DISTCHECK=1.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
build=${BUILD_DIR:-$top/build-check}
jobs=${JOBS:-2}
stage_failed=0
failed_stages=""
checked=0
check_failed=0

say() {
	printf '\n==> %s\n' "$*"
}

# stage NAME CMD...: runs one stage, records its failure.
stage() {
	name=$1
	shift
	say "$name"
	if "$@"; then
		return 0
	fi
	stage_failed=$((stage_failed + 1))
	failed_stages="$failed_stages $name"
	printf '*** stage "%s" FAILED ***\n' "$name" >&2
	return 1
}

# Counts `make check` results from the .trs files of the build (not those of
# distcheck's own copy), then prints the summary and exits.
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
	# A failing test already counts once; the check stage adds a failure
	# only when it failed without any failed test result (e.g. a test
	# program that did not compile).
	if [ "$check_failed" = 1 ] && [ "$failed" = 0 ]; then
		failed=1
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

checked=1
say check
if ! make -j"$jobs" check; then
	check_failed=1
	failed_stages="$failed_stages check"
	printf '*** stage "check" FAILED ***\n' >&2
	if [ -f test-suite.log ]; then
		say "test-suite.log"
		cat test-suite.log
	fi
	finish
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
finish
