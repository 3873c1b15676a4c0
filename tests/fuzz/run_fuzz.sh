#!/bin/sh
# tests/fuzz/run_fuzz.sh: runs the libFuzzer harnesses, open-ended ("make fuzz") or as a fixed, repeatable check ("make fuzz-check"); fails on any crash, leak or sanitizer report.
#
# Usage (from the build tree; the make targets do this):
#   FUZZ_SECONDS=60 run_fuzz.sh tests/fuzz/fuzz_packet ...     (make fuzz)
#   run_fuzz.sh --check tests/fuzz/fuzz_packet ...             (make fuzz-check)
#
# Inputs of a harness NAME: the regression inputs committed in
# tests/fuzz/regress/NAME (every input that ever found a bug, named for
# it) and the seeds that gen_seeds.py writes into the build tree.
#
# --check: the same work every run. Each harness starts from the
# regression inputs and the generated seeds (never outside captures),
# runs them all first (so every regression input is replayed), then
# exactly its number of runs below of mutations with -seed=FUZZ_CHECK_SEED
# (default 1). Inputs are handed over as one sorted list, not as a
# directory whose listing order depends on the file system. The fuzzer's
# compare tables hold pointer values, which steer the mutations, so the
# addresses must repeat too: address space randomisation is off for the
# harness (setarch -R), and so is ASan's timed release of free memory to
# the kernel. For a given binary, two runs
# execute the same inputs and end with the same coverage; the per-input
# timeout is generous, for a loaded machine. Nothing is written to a
# corpus. Logs in tests/fuzz/check-logs/NAME.log, crash inputs in
# tests/fuzz/check-artifacts/.
#
# Without --check (make fuzz): each harness for FUZZ_SECONDS, random
# seed, to find new bugs. Extra seeds are cut from the captures in
# BTBLOCKD_SHARED_CORPUS (or the tree's ../shared/corpus/pcap) when that
# directory exists; new inputs found are kept in tests/fuzz/corpus/NAME
# for the next run, crash inputs in tests/fuzz/artifacts/, each run's
# output in tests/fuzz/logs/NAME.log. A crash input, once the bug is
# fixed, belongs in tests/fuzz/regress/NAME (see HACKING).
#
# FUZZ_JOBS harnesses run side by side (default: the number of CPUs).
# Prints one line per harness: executions, seconds, exec/s, coverage.
set -eu

check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
seconds=${FUZZ_SECONDS:-60}
fuzz_seed=${FUZZ_CHECK_SEED:-1}
jobs=${FUZZ_JOBS:-}
[ -n "$jobs" ] || jobs=$(nproc 2>/dev/null || echo 1)
srcdir=${BTBLOCKD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
here=$(cd "$(dirname "$0")" && pwd)
regress=$here/regress
shared=${BTBLOCKD_SHARED_CORPUS:-$srcdir/../shared/corpus/pcap}

if [ $# -eq 0 ]; then
	echo "usage: $0 [--check] HARNESS..." >&2
	exit 2
fi
case $seconds in
''|*[!0-9]*) echo "run_fuzz: FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;;
esac
case $fuzz_seed in
''|*[!0-9]*|0) echo "run_fuzz: FUZZ_CHECK_SEED must be a positive number" >&2; exit 2 ;;
esac

out=tests/fuzz
if [ "$check" = 1 ]; then
	seeds=$out/check-seeds
	logs=$out/check-logs
	artifacts=$out/check-artifacts
	rm -rf "$seeds" "$logs" "$artifacts"
	mkdir -p "$seeds" "$logs" "$artifacts"
	python3 "$here/gen_seeds.py" "$seeds" --srcdir "$srcdir"
	# The fixed runs need a fixed address space; where the kernel or a
	# sandbox refuses, the check still runs, only not repeatably.
	norandom="setarch $(uname -m) -R"
	if ! $norandom true 2>/dev/null; then
		echo "run_fuzz: setarch -R failed: address space randomisation stays on," \
			"so runs may differ in what they cover" >&2
		norandom=""
	fi
else
	seeds=$out/seeds
	logs=$out/logs
	artifacts=$out/artifacts
	rm -rf "$seeds" "$logs"
	mkdir -p "$seeds" "$logs" "$artifacts" "$out/corpus"
	if [ -d "$shared" ]; then
		python3 "$here/gen_seeds.py" "$seeds" --srcdir "$srcdir" --pcaps "$shared"
	else
		python3 "$here/gen_seeds.py" "$seeds" --srcdir "$srcdir"
	fi
fi

# The sanitizers stop at the first report; leaks are reported (LSan runs
# at the end of each input batch and at exit); UBSan's reports are fatal
# by construction (-fno-sanitize-recover=all).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "$check" = 1 ]; then
	# ASan hands freed memory back to the kernel on a timer, which
	# changes which addresses later allocations get: off, so the
	# addresses, and with them the mutations, are the same every run.
	ASAN_OPTIONS=$ASAN_OPTIONS:allocator_release_to_os_interval_ms=-1
fi
export ASAN_OPTIONS UBSAN_OPTIONS

# dict_of NAME: the harness's dictionary, or nothing.
dict_of() {
	case $1 in
	fuzz_control) echo "$here/control.dict" ;;
	fuzz_config) echo "$here/config.dict" ;;
	fuzz_bencode|fuzz_dpi) echo "$here/bencode.dict" ;;
	esac
}

# runs_of NAME: the executions of a --check run of the harness, about
# 20 s each on an idle core of a small machine (ASan makes them slow).
runs_of() {
	case $1 in
	fuzz_packet) echo 800000 ;;
	fuzz_dpi) echo 400000 ;;
	fuzz_bencode) echo 800000 ;;
	fuzz_control) echo 150000 ;;
	fuzz_config) echo 200000 ;;
	fuzz_pcap) echo 200000 ;;
	fuzz_check) echo 50000 ;;
	*) echo 100000 ;;
	esac
}

# inputs_of NAME: its regression inputs and seeds, one path a line, in
# a fixed order.
inputs_of() {
	for dir in "$regress/$1" "$seeds/$1"; do
		[ -d "$dir" ] || continue
		find "$dir" -type f -size +0 | LC_ALL=C sort
	done
}

# run_one HARNESS: one harness; its exit status.
run_one() {
	name=$(basename "$1")
	rc=0
	dict=$(dict_of "$name")
	date +%s >"$logs/$name.start"
	# -close_fd_mask=3: the code under test may print (the offline mode's
	# errors); libFuzzer's and the sanitizers' reports still show.
	if [ "$check" = 1 ]; then
		inputs_of "$name" >"$logs/$name.inputs"
		# comma-separated, no newline (it would end the last path)
		paste -s -d , "$logs/$name.inputs" | tr -d '\n' >"$logs/$name.list"
		# -timeout: a hang is a finding, a slow machine is not: one
		# input gets a minute, thousands of times its usual time.
		$norandom "$1" -seed="$fuzz_seed" -runs="$(runs_of "$name")" \
			-timeout=60 -rss_limit_mb=2048 \
			-print_final_stats=1 -close_fd_mask=3 \
			-artifact_prefix="$artifacts/$name-" \
			${dict:+-dict="$dict"} \
			-seed_inputs=@"$logs/$name.list" >"$logs/$name.log" 2>&1 || rc=$?
	else
		mkdir -p "$out/corpus/$name"
		old=""
		[ -d "$regress/$name" ] && old=$regress/$name
		# new inputs go to the first directory only
		"$1" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -close_fd_mask=3 \
			-artifact_prefix="$artifacts/$name-" \
			${dict:+-dict="$dict"} \
			"$out/corpus/$name" "$seeds/$name" ${old:+"$old"} \
			>"$logs/$name.log" 2>&1 || rc=$?
	fi
	echo $(($(date +%s) - $(cat "$logs/$name.start"))) >"$logs/$name.seconds"
	return "${rc:-0}"
}

# verdict HARNESS STATUS: ok, or why not. Beyond the exit status, a
# sanitizer report that did not stop the harness fails it too, and in
# --check every input listed must have been run.
verdict() {
	name=$(basename "$1")
	log=$logs/$name.log
	if [ "$2" != 0 ]; then
		echo "FAILED (exit $2, see $log)"
	elif grep -q -E '==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer' "$log"; then
		echo "FAILED (a report in $log)"
	elif [ "$check" = 1 ] &&
	     ! grep -q "seed corpus: files: $(wc -l <"$logs/$name.inputs") " "$log"; then
		echo "FAILED (not every input of $logs/$name.inputs was run, see $log)"
	else
		echo ok
	fi
}

# summary HARNESS RESULT: one line from the log.
summary() {
	name=$(basename "$1")
	log=$logs/$name.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	done_s=$(cat "$logs/$name.seconds" 2>/dev/null || true)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | sed 's/ft: //')
	if [ "$check" = 1 ]; then
		corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | sed 's/corp: //')
	else
		corpus=$(find "$out/corpus/$name" -type f | wc -l)
	fi
	printf '%-14s %10s execs %5s s %8s exec/s  cov %6s  ft %6s  corpus %5s  %s\n' "$name" \
		"${execs:-?}" "${done_s:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corpus:-?}" "$2"
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
		result=$(verdict "${job#*:}" "$status")
		summary "${job#*:}" "$result"
		if [ "$result" != ok ]; then
			failed=$((failed + 1))
			echo "---- ${job#*:}: end of its log ----"
			tail -n 60 "$logs/$(basename "${job#*:}").log"
		fi
	done
done
if [ "$failed" != 0 ]; then
	echo "run_fuzz: $failed harness(es) failed; crash inputs in $artifacts/;" \
		"replay one with: tests/fuzz/fuzz_NAME $artifacts/FILE" \
		"(fuzz_packet: after the inputs before it, its state carries)" >&2
	exit 1
fi
if [ "$check" = 1 ]; then
	echo "run_fuzz: every harness ran its regression inputs, seeds and fixed" \
		"mutations (-seed=$fuzz_seed) without a report"
else
	echo "run_fuzz: every harness ran ${seconds} s without a report"
fi
