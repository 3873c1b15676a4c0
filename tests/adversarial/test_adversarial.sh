#!/bin/sh
# tests/adversarial/test_adversarial.sh: crafted captures in which a stranger
# tries to turn btblockd's decisions against the network, replayed with
# btblockd --read-pcap (see test_adversarial.py for the scenarios).
#
# The captures are written by a standard-library Python script: without
# python3 the test is skipped (77), loudly.
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-python3}"
if ! command -v "$py" >/dev/null 2>&1; then
	printf '\n*** SKIP: %s not found: the adversarial captures cannot be written; install python3 ***\n\n' "$py" >&2
	exit 77
fi
exec "$py" "$here/test_adversarial.py" "$@"
