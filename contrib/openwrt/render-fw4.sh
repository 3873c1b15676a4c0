#!/bin/sh
# render-fw4.sh: turns nft/btblockd.nft into the fw4 include of the OpenWrt package.
#
# Usage: sh render-fw4.sh RULESET [QUEUES] > btblockd.nft
#
# fw4 includes every file of /usr/share/nftables.d/ruleset-post/ at the
# top level of the ruleset it loads on each start and reload.  The output
# is the shipped ruleset with its defines replaced by their values (nft
# defines are global to the whole fw4 run, so ours must not leak into, or
# clash with, those of other includes) and the queue range set to QUEUES
# (default 0-3, the default of /etc/config/btblockd).  The ruleset's own
# add-then-delete header makes the include idempotent: every fw4 reload
# deletes table inet btblockd and defines it again in the same
# transaction.  Last comes the include of the policy the init script
# renders (see there).  files/btblockd.nft is this script's output for the
# defaults; contrib/openwrt/test_uci.sh checks that they agree.
set -eu

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
	echo "usage: $0 RULESET [QUEUES]" >&2
	exit 2
fi
ruleset=$1
queues=${2:-0-3}
case $queues in
'' | *[!0-9-]* | -* | *- | *-*-*)
	echo "$0: invalid queue range '$queues'" >&2
	exit 2
	;;
esac

cat <<HEADER
# btblockd.nft: fw4 include (ruleset-post) that queues TCP and UDP to btblockd.
#
# Generated from btblockd's nft/btblockd.nft by contrib/openwrt/render-fw4.sh
# (queues $queues, default marks): do not edit, regenerate.  The queue
# range must match option queues in /etc/config/btblockd.
#
HEADER
awk -v queues="$queues" '
	# $NAME of a known define replaced by its value; anything else kept.
	function expand(line,    out, i, name) {
		out = ""
		while ((i = index(line, "$")) > 0) {
			out = out substr(line, 1, i - 1)
			line = substr(line, i + 1)
			name = ""
			if (match(line, /^[A-Za-z_][A-Za-z_0-9]*/))
				name = substr(line, 1, RLENGTH)
			if (name != "" && (name in defs)) {
				out = out defs[name]
				line = substr(line, RLENGTH + 1)
			} else {
				out = out "$"
			}
		}
		return out line
	}
	# define NAME = VALUE: remembered, not printed.
	/^define [A-Za-z_][A-Za-z_0-9]* = / {
		defs[$2] = ($2 == "BTBLOCKD_QUEUES") ? queues : $4
		next
	}
	{ print expand($0) }
' "$ruleset"
cat <<'POLICY'

# The policy of /etc/config/btblockd (exempt, exempt_remote, schedule,
# action): /etc/init.d/btblockd writes it as nft commands into
# /var/run/btblockd/ (RAM) and applies it at once; fw4 applies it again
# after the table above on each of its reloads.  No file there: the
# table's own policy (nothing exempt, always on, block).
include "/var/run/btblockd/*.nft"
POLICY
