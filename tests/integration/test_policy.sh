#!/bin/bash
# tests/integration/test_policy.sh: exemptions, schedules, actions and reload of the kernel policy, through the real kernel.
#
# In namespaces this script creates and always removes, with
# btblockd-firewall (xt or nft backend, whichever the kernel has) and
# btblockd in the router:
#   1. An exempt LAN host (--exempt, its IPv4 and IPv6 addresses): its
#      BitTorrent handshakes reach the server and no ban names it, while
#      the same handshake from a host that is not exempt is blocked and
#      banned.
#   2. reload: a MAC exemption (the client's MAC) lets a handshake
#      through; a remote exemption (--exempt-remote, the server's
#      prefix) too; reload back to no exemption blocks the host that
#      was exempt at "up".  The daemon's pid never changes and the ban
#      sets keep their elements over every reload.
#   3. Schedules (the firewall in time zone Asia/Kolkata, +05:30, so that
#      the conversion to UTC is exercised): a window that excludes now
#      (tomorrow, all day) leaves BitTorrent through unbanned; one that
#      includes now (the current hour and the next, every day) blocks it.
#   4. --action throttle: a BitTorrent transfer is held to RATE +-15 %
#      (bytes counted at the receiver), while a plain TCP transfer runs
#      far faster; the detection log says "throttle".
#   5. --action monitor: a BitTorrent handshake passes and is counted.
# Each check prints a RESULT line with its figures; all checks run before
# the test fails.
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

HOLD=${HOLD:-2}                  # seconds a handshake is held open
# No endpoint cache: a blocked handshake would make the server a known
# endpoint and the next connection to it would die at its SYN.
DAEMON_OPTS="--queues 0-1 --endpoint-capacity 0"
BT_PORT=6881
STREAM_PORT=6882
RATE_MBIT=4                      # low enough for a loaded machine to reach
STREAM_SECONDS=9                 # BitTorrent transfer under throttle
MEASURE_FROM=3                   # seconds into it: past the burst and ramp-up
MEASURE_TO=8
BULK_BYTES=20000000              # the plain transfer beside it
ZONE=Asia/Kolkata
failures=0

fw() {
	lab_exec router env TZ="$ZONE" "$BTBLOCKD_FIREWALL" "$@" --config /dev/null
}

# ban_has FAMILY ADDR: elements of the ban set of FAMILY that name ADDR.
ban_has() {
	lab_exec router nft list set inet btblockd "ban$1" | tr ',' '\n' |
		grep -c -e "$2 \\." -e "\\. $2\\( \\|\$\\)" || true
}

ban_elements() {
	lab_exec router nft list set inet btblockd "ban$1" | tr ',' '\n' | grep -v 'type ' | grep -c ' \. ' || true
}

# handshake FAMILY INDEX LABEL: a BitTorrent handshake from client address
# INDEX; sets $got (bytes the server received from that address).
handshake() {
	local fam="$1" idx="$2" label="$3" out
	out=$(lab_bt "$idx" "$fam" "$BT_PORT" --hold "$HOLD") || fail "$label: handshake client: $out"
	got=$(lab_sink_bytes tcp "$(lab_client_addr "$idx" "$fam")" "$BT_PORT")
}

# Waits (bounded) until the server received more than $2 bytes from $1 on
# the stream port; prints the count.
wait_bytes() {
	local n v=0
	for n in $(seq 1 100); do
		v=$(lab_sink_bytes tcp "$1" "$STREAM_PORT")
		[ "$v" -gt "$2" ] && break
		[ "$n" = 100 ] || sleep 0.05
	done
	echo "$v"
}

now() {
	date +%s.%N
}

lab_require_kernel || exit $?
lab_require_binaries || exit 1
command -v nft >/dev/null 2>&1 || fail "nft not found (needed to read the ban sets)"
[ -e "/usr/share/zoneinfo/$ZONE" ] || fail "time zone $ZONE missing (tzdata)"

lab_trap
start=$(date +%s)
lab_create
lab_sink_start "$BT_PORT" "$STREAM_PORT"
lab_server_start
a0=$(lab_client_addr 0 4)
a0v6=$(lab_client_addr 0 6)
mac=$(lab_exec client cat /sys/class/net/c0/address)
fw up --queues 0-1 --exempt "$a0,$a0v6" || fail "btblockd-firewall up --exempt failed"
# shellcheck disable=SC2086 # word splitting of the option string is intended
lab_daemon_start $DAEMON_OPTS --action "throttle ${RATE_MBIT}mbit" --detect-log "$LAB_TMP/detect.log" ||
	fail "btblockd did not start"
pid=$LAB_DAEMON_PID

# ---- 1. an exempt host and one that is not -----------------------------------------
handshake 4 0 "exempt IPv4"
got0=$got
handshake 6 0 "exempt IPv6"
got0v6=$got
handshake 4 1 "not exempt"
got1=$got
a1=$(lab_client_addr 1 4)
echo "RESULT exempt host $a0: server received $got0 bytes (IPv6 $a0v6: $got0v6), ban entries $(ban_has 4 "$a0")+$(ban_has 6 "$a0v6"); host $a1 not exempt: $got1 bytes, ban entries $(ban_has 4 "$a1"); kernel counter exempted $(lab_nft_counter exempted)"
[ "$got0" -gt 0 ] || check_fail "exempt IPv4 host: its handshake did not reach the server"
[ "$got0v6" -gt 0 ] || check_fail "exempt IPv6 host: its handshake did not reach the server"
[ "$(ban_has 4 "$a0")" = 0 ] || check_fail "exempt host $a0 was banned"
[ "$(ban_has 6 "$a0v6")" = 0 ] || check_fail "exempt host $a0v6 was banned"
[ "$got1" = 0 ] || check_fail "host $a1 is not exempt, yet $got1 bytes of its handshake arrived"
[ "$(ban_has 4 "$a1")" = 2 ] || check_fail "host $a1 was not banned"

# ---- 2. reload: MAC, remote, none; no restart, bans kept --------------------------------
bans_before=$(ban_elements 4)
fw reload --exempt "$mac" || fail "reload --exempt $mac failed"
handshake 4 2 "MAC exempt"
got_mac=$got
a2=$(lab_client_addr 2 4)
fw reload --exempt-remote "$LAB_SERVER4/24" || fail "reload --exempt-remote failed"
handshake 4 3 "remote exempt"
got_remote=$got
a3=$(lab_client_addr 3 4)
fw reload || fail "reload without exemptions failed"
lab_exec router nft list set inet btblockd exempt4 | grep -q elements &&
	check_fail "reload without exemptions left elements in exempt4"
before=$(lab_sink_bytes tcp "$a0" "$BT_PORT")
handshake 4 0 "no longer exempt"
got0_after=$(( got - before ))
bans_after=$(ban_elements 4)
echo "RESULT reload: MAC $mac exempt: $a2 sent $got_mac bytes, ban entries $(ban_has 4 "$a2"); remote $LAB_SERVER4/24 exempt: $a3 sent $got_remote bytes, ban entries $(ban_has 4 "$a3"); no exemption: $a0 sent $got0_after bytes; daemon pid $pid -> $LAB_DAEMON_PID (alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo no)); ban4 elements $bans_before before the reloads, $bans_after after"
[ "$got_mac" -gt 0 ] || check_fail "MAC exemption: the handshake from $a2 did not arrive"
[ "$(ban_has 4 "$a2")" = 0 ] || check_fail "MAC exemption: $a2 was banned"
[ "$got_remote" -gt 0 ] || check_fail "remote exemption: the handshake from $a3 did not arrive"
[ "$(ban_has 4 "$a3")" = 0 ] || check_fail "remote exemption: $a3 was banned"
[ "$got0_after" = 0 ] || check_fail "reload without exemptions: $a0 still got $got0_after bytes through"
kill -0 "$pid" 2>/dev/null || check_fail "the daemon (pid $pid) is gone after the reloads"
[ "$bans_before" -ge 2 ] || check_fail "no bans before the reloads ($bans_before)"
[ "$bans_after" -ge "$bans_before" ] || check_fail "the reloads lost bans: $bans_before -> $bans_after"

# ---- 3. schedules ---------------------------------------------------------------------
# Bans of the steps above would decide the next flows: start clean.
lab_exec router nft flush set inet btblockd ban4
tomorrow=$(TZ="$ZONE" date -d tomorrow +%a)
fw reload --schedule "$tomorrow 00:00-24:00" || fail "reload --schedule $tomorrow failed"
status_here=$(lab_exec router env TZ="$ZONE" "$BTBLOCKD_FIREWALL" status || true)
status_utc=$(lab_exec router env TZ=UTC0 "$BTBLOCKD_FIREWALL" status || true)
handshake 4 2 "outside the schedule"
got_out=$got
bans_out=$(ban_has 4 "$a2")
mins=$(( 10#$(TZ="$ZONE" date +%H) * 60 + 10#$(TZ="$ZONE" date +%M) ))
from=$(( (mins + 1440 - 60) % 1440 ))
to=$(( (mins + 120) % 1440 ))
window=$(printf '%02d:%02d-%02d:%02d' $((from / 60)) $((from % 60)) $((to / 60)) $((to % 60)))
fw reload --schedule "$window" || fail "reload --schedule $window failed"
before=$(lab_sink_bytes tcp "$a2" "$BT_PORT")
handshake 4 2 "inside the schedule"
got_in=$(( got - before ))
echo "RESULT schedule (local time $ZONE $(TZ="$ZONE" date +%a\ %H:%M)): '$tomorrow 00:00-24:00' excludes now: $a2 sent $got_out bytes, ban entries $bans_out; '$window' includes now: $got_in bytes, ban entries $(ban_has 4 "$a2"); off_schedule counter $(lab_nft_counter off_schedule)"
lab_exec router env TZ=UTC0 nft list chain inet btblockd scope | grep 'meta day' | sed 's/^[[:space:]]*/  UTC rule: /'
[ "$got_out" -gt 0 ] || check_fail "outside the schedule the handshake was blocked"
[ "$bans_out" = 0 ] || check_fail "outside the schedule $a2 was banned"
[ "$(lab_nft_counter off_schedule)" -gt 0 ] || check_fail "off_schedule counted nothing"
[ "$got_in" = 0 ] || check_fail "inside the schedule $got_in bytes of the handshake arrived"
[ "$(ban_has 4 "$a2")" = 2 ] || check_fail "inside the schedule $a2 was not banned"
printf '%s\n' "$status_here" | grep -q '^warning' &&
	check_fail "status in $ZONE warns: $status_here"
printf '%s\n' "$status_utc" | grep -q '^warning: the local time is now UTC+0000' ||
	check_fail "status in UTC does not warn of the offset change: $status_utc"

# ---- 4. throttle --------------------------------------------------------------------------
lab_exec router nft flush set inet btblockd ban4
fw reload --action throttle "${RATE_MBIT}mbit" || fail "reload --action throttle failed"
lab_exec router "$BTBLOCKD_FIREWALL" status | grep '^action'
a1=$(lab_client_addr 1 4)
lab_bt 1 4 "$STREAM_PORT" --stream "$STREAM_SECONDS" --hold 0 >"$LAB_TMP/stream.out" 2>&1 &
stream_pid=$!
LAB_PIDS="$LAB_PIDS $stream_pid"
wait_bytes "$a1" 0 >/dev/null
t0=$(now)
sleep "$MEASURE_FROM"
b1=$(lab_sink_bytes tcp "$a1" "$STREAM_PORT")
t1=$(now)
sleep $(( MEASURE_TO - MEASURE_FROM ))
b2=$(lab_sink_bytes tcp "$a1" "$STREAM_PORT")
t2=$(now)
wait "$stream_pid" || check_fail "BitTorrent stream client: $(cat "$LAB_TMP/stream.out")"
rate=$(awk -v b="$(( b2 - b1 ))" -v t1="$t1" -v t2="$t2" 'BEGIN { printf "%.2f", b * 8 / (t2 - t1) / 1e6 }')
out=$(lab_tcp 3 4 "$BULK_BYTES" --timeout 60) || check_fail "plain transfer failed: $out"
secs=$(echo "$out" | field seconds)
plain=$(awk -v b="$BULK_BYTES" -v s="$secs" 'BEGIN { printf "%.1f", b * 8 / s / 1e6 }')
echo "RESULT throttle ${RATE_MBIT}mbit: BitTorrent stream from $a1: $(( b2 - b1 )) bytes at the receiver in $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }') s (from $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a + 0 }') s after its first bytes) = $rate Mbit/s; plain TCP from $(lab_client_addr 3 4): $BULK_BYTES bytes in $secs s = $plain Mbit/s; counters throttled $(lab_nft_counter throttled), throttle_dropped $(lab_nft_counter throttle_dropped); client: $(cat "$LAB_TMP/stream.out")"
awk -v r="$rate" -v want="$RATE_MBIT" 'BEGIN { exit !(r >= want * 0.85 && r <= want * 1.15) }' ||
	check_fail "throttle: BitTorrent ran at $rate Mbit/s, not ${RATE_MBIT} +-15 %"
awk -v p="$plain" -v want="$RATE_MBIT" 'BEGIN { exit !(p >= want * 3) }' ||
	check_fail "throttle: the plain transfer ran at only $plain Mbit/s"
[ "$(lab_nft_counter throttle_dropped)" -gt 0 ] || check_fail "throttle: nothing was dropped over the rate"
grep -q '"action":"throttle"' "$LAB_TMP/detect.log" ||
	check_fail "throttle: the detection log has no \"action\":\"throttle\" line: $(tail -n 2 "$LAB_TMP/detect.log")"

# ---- 5. monitor -------------------------------------------------------------------------
lab_exec router nft flush set inet btblockd ban4
fw reload --action monitor || fail "reload --action monitor failed"
before=$(lab_sink_bytes tcp "$a2" "$BT_PORT")
handshake 4 2 "monitor"
got_mon=$(( got - before ))
echo "RESULT monitor: $a2 sent $got_mon bytes, ban entries $(ban_has 4 "$a2"), counter monitored $(lab_nft_counter monitored)"
[ "$got_mon" -gt 0 ] || check_fail "monitor: the handshake was blocked"
[ "$(ban_has 4 "$a2")" = 0 ] || check_fail "monitor: $a2 was banned"
[ "$(lab_nft_counter monitored)" -gt 0 ] || check_fail "monitor: nothing counted"
if [ "$LAB_DAEMON_PID" != "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
	check_fail "the daemon was restarted or died"
fi

lab_daemon_kill -TERM
lab_exec router "$BTBLOCKD_FIREWALL" down || fail "btblockd-firewall down failed"
[ "$failures" = 0 ] || fail "$failures check(s) failed (see above)"
echo "PASS: exemptions, schedules, actions and reload in $(( $(date +%s) - start )) s"
