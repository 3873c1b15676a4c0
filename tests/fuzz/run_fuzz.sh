#!/bin/sh
# tests/fuzz/run_fuzz.sh: runs each libFuzzer harness for FUZZ_SECONDS and fails on any crash, leak or sanitizer report.
#
# Usage (from the build tree; "make fuzz" does this):
#   FUZZ_SECONDS=60 run_fuzz.sh tests/fuzz/fuzz_packet ...
# Seeds are generated first by gen_seeds.py into tests/fuzz/seeds/NAME
# (plus cuts of ../shared/corpus/pcap when BTBLOCKD_SHARED_CORPUS or the
# tree's ../shared/corpus/pcap exists); new inputs found are kept in
# tests/fuzz/corpus/NAME for the next run, crash inputs in
# tests/fuzz/artifacts/, each run's output in tests/fuzz/logs/NAME.log.
# FUZZ_JOBS harnesses run side by side (default: the number of CPUs).
# Prints one line per harness: executions, seconds, exec/s, coverage.
set -eu

seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-}
[ -n "$jobs" ] || jobs=$(nproc 2>/dev/null || echo 1)
srcdir=${BTBLOCKD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
here=$(cd "$(dirname "$0")" && pwd)
shared=${BTBLOCKD_SHARED_CORPUS:-$srcdir/../shared/corpus/pcap}

if [ $# -eq 0 ]; then
	echo "usage: $0 HARNESS..." >&2
	exit 2
fi
case $seconds in
''|*[!0-9]*) echo "run_fuzz: FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;;
esac

out=tests/fuzz
rm -rf "$out/seeds" "$out/logs"
mkdir -p "$out/seeds" "$out/logs" "$out/artifacts" "$out/corpus"
if [ -d "$shared" ]; then
	python3 "$here/gen_seeds.py" "$out/seeds" --srcdir "$srcdir" --pcaps "$shared"
else
	python3 "$here/gen_seeds.py" "$out/seeds" --srcdir "$srcdir"
fi

# The sanitizers stop at the first report; leaks are reported (LSan runs
# at the end of each input batch and at exit); UBSan's reports are fatal
# by construction (-fno-sanitize-recover=all).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

# run_one HARNESS: one harness for $seconds; its exit status.
run_one() {
	name=$(basename "$1")
	rc=0
	dict=""
	case $name in
	fuzz_control) dict=$here/control.dict ;;
	fuzz_config) dict=$here/config.dict ;;
	fuzz_bencode|fuzz_dpi) dict=$here/bencode.dict ;;
	esac
	mkdir -p "$out/corpus/$name"
	date +%s >"$out/logs/$name.start"
	# -close_fd_mask=3: the code under test may print (the offline mode's
	# errors); libFuzzer's and the sanitizers' reports still show.
	"$1" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -close_fd_mask=3 \
		-artifact_prefix="$out/artifacts/$name-" \
		${dict:+-dict="$dict"} \
		"$out/corpus/$name" "$out/seeds/$name" >"$out/logs/$name.log" 2>&1 || rc=$?
	echo $(($(date +%s) - $(cat "$out/logs/$name.start"))) >"$out/logs/$name.seconds"
	return "${rc:-0}"
}

# summary HARNESS STATUS: one line from the log.
summary() {
	name=$(basename "$1")
	log=$out/logs/$name.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	done_s=$(cat "$out/logs/$name.seconds" 2>/dev/null || true)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
	corpus=$(find "$out/corpus/$name" -type f | wc -l)
	if [ "$2" = 0 ]; then
		result=ok
	else
		result="FAILED (exit $2, see $log)"
	fi
	printf '%-14s %10s execs %5s s %8s exec/s  cov %6s  corpus %5s  %s\n' "$name" \
		"${execs:-?}" "${done_s:-?}" "${rate:-?}" "${cov:-?}" "$corpus" "$result"
}

failed=0
while [ $# -gt 0 ]; do
	# a batch of up to $jobs harnesses, as "pid:harness" words
	batch=""
	while [ $# -gt 0 ] && [ "$(echo "$batch" | wc -w)" -lt "$jobs" ]; do
		run_one "$1" &
		batch="$batch $!:$1"
		shift
	done
	for job in $batch; do
		status=0
		wait "${job%%:*}" || status=$?
		summary "${job#*:}" "$status"
		if [ "$status" != 0 ]; then
			failed=$((failed + 1))
			echo "---- ${job#*:}: end of its log ----"
			tail -n 60 "$out/logs/$(basename "${job#*:}").log"
		fi
	done
done
if [ "$failed" != 0 ]; then
	echo "run_fuzz: $failed harness(es) failed; crash inputs in $out/artifacts/;" \
		"replay one with: tests/fuzz/fuzz_NAME $out/artifacts/FILE" \
		"(fuzz_packet: with its corpus directory first, its state carries)" >&2
	exit 1
fi
echo "run_fuzz: every harness ran ${seconds} s without a report"
