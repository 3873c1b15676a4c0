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
[ "$fail" -eq 0 ] && echo "PASS: $(echo "$options" | wc -l) options documented, pages lint clean"
exit "$fail"
