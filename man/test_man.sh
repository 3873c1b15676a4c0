#!/bin/sh
# Every option that --help lists is documented in btblockd.8 and in
# btblockd.conf.5 (when it is a config file key), and the pages lint clean.
set -eu
: "${BTBLOCKD:?run from make check}"
: "${BTBLOCKD_SRCDIR:?run from make check}"
man8="$BTBLOCKD_SRCDIR/man/btblockd.8"
man5="$BTBLOCKD_SRCDIR/man/btblockd.conf.5"
fail=0

options=$("$BTBLOCKD" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
[ -n "$options" ] || { echo "FAIL: no options found in --help"; exit 1; }
for opt in $options; do
	name=${opt#--}
	if ! grep -q -- "^\.It Fl.* Fl -$name\b\|^\.It Fl -$name\b" "$man8"; then
		echo "FAIL: $opt is in --help but has no .It entry in btblockd.8"
		fail=1
	fi
	case $name in
	config|read-pcap|help|version) ;;
	*)
		if ! grep -q "^\.It Cm $name\b" "$man5"; then
			echo "FAIL: $opt is a config key but has no entry in btblockd.conf.5"
			fail=1
		fi
		;;
	esac
done

# The stats document: every member the daemon writes (the keys of
# src/stats.c from kernel_json on, of the ruleset and of the control
# socket, of the detections, of the state file) has an entry in btblockd-stats.7, whose schema is the code's.
stats7="$BTBLOCKD_SRCDIR/man/btblockd-stats.7"
src="$BTBLOCKD_SRCDIR/src"
keys=$({
	sed -n '/^static json_t \*kernel_json/,$p' "$src/stats.c"
	sed -n '/^json_t \*ruleset_json/,/^}/p; /^static json_t \*set_json/,/^}/p' "$src/ruleset.c"
	sed -n '/^static void watch_json/,/^}/p' "$src/ruleset.c"
	sed -n '/"control",/,/timeouts/p' "$src/control.c"
	sed -n '/^json_t \*detection_sink_stats/,/^}/p' "$src/detection.c"
	sed -n '/^json_t \*state_json/,/^}/p' "$src/state.c"
} | grep -o '"[a-z][a-z0-9_]*"' | tr -d '"' | grep -v -x -e enforce -e monitor -e control | sort -u)
nkeys=$(echo "$keys" | wc -l)
[ "$nkeys" -ge 50 ] || { echo "FAIL: only $nkeys stats members found in the sources"; fail=1; }
for key in $keys; do
	if ! grep -q "^\.It Li $key\$" "$stats7"; then
		echo "FAIL: stats member $key has no .It Li entry in btblockd-stats.7"
		fail=1
	fi
done
schema=$(sed -n 's/^#define STATS_SCHEMA \([0-9]*\)$/\1/p' "$src/stats.h")
if ! grep -q "^\.Nd .*schema $schema\$" "$stats7"; then
	echo "FAIL: btblockd-stats.7 does not describe schema $schema (STATS_SCHEMA)"
	fail=1
fi

if command -v mandoc >/dev/null 2>&1; then
	for page in "$BTBLOCKD_SRCDIR"/man/*.[0-9]; do
		# -Wwarning: style notes (pages not installed yet) do not count.
		if ! mandoc -Tlint -Wwarning "$page"; then
			echo "FAIL: mandoc -Tlint reports problems in $page"
			fail=1
		fi
	done
else
	echo "FAIL: mandoc is not installed (contrib/install-deps.sh installs it)"
	fail=1
fi
[ "$fail" -eq 0 ] && echo "PASS: $(echo "$options" | wc -l) options and $nkeys stats members documented, pages lint clean"
exit "$fail"
