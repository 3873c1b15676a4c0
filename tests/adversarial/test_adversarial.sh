#!/bin/sh
# tests/adversarial/test_adversarial.sh: crafted captures in which a stranger
# tries to turn btblockd's decisions against the network, replayed with
# btblockd --read-pcap (see test_adversarial.py for the scenarios).
#
# The captures are written by a standard-library Python script: without
# python3 the test is skipped (77), loudly.
# The offline mode needs libpcap; a build configured with --disable-pcap
# has none: skipped (77), loudly.
if [ "${BTBLOCKD_HAVE_PCAP:-yes}" = no ]; then
	printf '\n*** SKIP: this build has no --read-pcap (configured with --disable-pcap): %s did NOT run ***\n\n' "$(basename "$0")" >&2
	exit 77
fi
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-python3}"
if ! command -v "$py" >/dev/null 2>&1; then
	printf '\n*** SKIP: %s not found: the adversarial captures cannot be written; install python3 ***\n\n' "$py" >&2
	exit 77
fi
exec "$py" "$here/test_adversarial.py" "$@"
