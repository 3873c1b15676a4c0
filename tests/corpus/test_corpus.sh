#!/bin/sh
# test_corpus.sh - the offline mode over the shared labelled corpus
# (../shared/corpus from the source tree): fails if BitTorrent recall drops
# below the level reached, or if any non-BitTorrent flow is blocked, or if
# a capture without BitTorrent gets a blocked flow. Skips (77) loudly when
# the corpus is absent.
set -eu

: "${BTBLOCKD:?BTBLOCKD must name the built daemon}"
: "${BTBLOCKD_SRCDIR:?BTBLOCKD_SRCDIR must name the source tree}"

# Reached on the corpus of 2026-11: 149 of 149 BitTorrent flows, and also
# with the endpoint cache turned off (detectors alone).
MIN_RECALL=149
MIN_RECALL_NO_CACHE=149

# The offline mode needs libpcap; a build configured with --disable-pcap
# has none: skipped (77), loudly.
if [ "${BTBLOCKD_HAVE_PCAP:-yes}" = no ]; then
	printf '\n*** SKIP: this build has no --read-pcap (configured with --disable-pcap): %s did NOT run ***\n\n' "$(basename "$0")" >&2
	exit 77
fi

corpus="$BTBLOCKD_SRCDIR/../shared/corpus"
if [ ! -d "$corpus/pcap" ] || [ ! -f "$corpus/labels.jsonl" ] || [ ! -f "$corpus/score.py" ]; then
	echo "SKIP: no labelled corpus at $corpus: the DPI accuracy test did NOT run" >&2
	exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 is needed to score the corpus: the DPI accuracy test did NOT run" >&2
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
for mode in cache no-cache; do
	if [ "$mode" = cache ]; then
		opts=""
		min=$MIN_RECALL
	else
		opts="--endpoint-capacity 0"
		min=$MIN_RECALL_NO_CACHE
	fi
	# Corrupt captures in the corpus make the exit status 1 on purpose;
	# the verdicts of every readable file are still written.
	# shellcheck disable=SC2086
	"$BTBLOCKD" $opts --read-pcap "$corpus"/pcap/* >"$tmp/verdicts.jsonl" 2>"$tmp/stderr" || true
	if [ ! -s "$tmp/verdicts.jsonl" ]; then
		echo "FAIL ($mode): no verdicts; stderr:" >&2
		cat "$tmp/stderr" >&2
		exit 1
	fi
	python3 "$corpus/score.py" "$corpus/labels.jsonl" "$tmp/verdicts.jsonl" --json >"$tmp/summary.json"
	python3 "$corpus/score.py" "$corpus/labels.jsonl" "$tmp/verdicts.jsonl" | sed -n '1,12p'
	if ! python3 - "$tmp/summary.json" "$min" "$mode" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
minimum, mode = int(sys.argv[2]), sys.argv[3]
blocked, fp = s['bt_blocked'], s['fp_blocked']
fp_pcaps, clean = s['fp_pcaps'], s['non_bt_pcaps_with_any_block']
print(f"{mode}: blocked BitTorrent flows {blocked}/{s['bt_true']} (minimum {minimum}), "
      f"false positives {fp}/{s['bt_false']} in {fp_pcaps} captures, "
      f"captures without BitTorrent with a blocked flow: {clean}")
sys.exit(1 if blocked < minimum or fp or fp_pcaps or clean else 0)
PY
	then
		echo "FAIL ($mode): accuracy on the corpus regressed" >&2
		status=1
	fi
done
exit $status
