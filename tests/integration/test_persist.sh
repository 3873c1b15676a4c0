#!/bin/bash
# tests/integration/test_persist.sh: bans across up, down and restarts; the daemon noticing a lost table.
#
# In namespaces this script creates and always removes, with
# btblockd-firewall and btblockd (--seccomp) in the router:
#   1. Started before any rules, the daemon says the table is absent and
#      waits for it, past the grace a lost table gets; "up" makes it ok.
#   2. A blocked BitTorrent handshake bans its pair; with pairs added by
#      hand (one with a short timeout of its own) they survive "up" run
#      again with other options (hooks, ban time, set size): the same
#      elements, no more time left than before, the element's own timeout
#      kept, UDP between the daemon's pair still dropped.  A damaged table
#      (chain forward_verdict and set ban6 deleted) is rebuilt by "up",
#      the bans of ban4 kept.
#   3. "down" saves them to the state file (mode 0600) and removes the
#      rules; "up" puts back what has not expired, with the time left
#      shortened by the time the rules were down; the short one, expired
#      meanwhile, is not restored; the file is consumed.  A corrupt or
#      foreign state file is reported and set aside, "up" succeeds.
#   4. "nft flush ruleset" in the router: the daemon's stats say
#      "missing" (time measured, bounded) and its log "firewall lost"; it
#      exits with status 3 no sooner than 5 s after the flush.  "up"
#      loads the rules again.
#   5. With --firewall-lost log: one base chain deleted, then the
#      xtables jump (the xt backend here): "damaged", naming what is
#      missing; the daemon stays up past the grace; "up" makes it ok, the
#      bans the kernel kept still there.
#   6. The systemd unit's ExecStopPost, as the unit file has it, run with
#      the environment systemd passes (SERVICE_RESULT) and a stand-in
#      systemctl listing the unit's job: a restart job or a failure keeps
#      the rules (bans saved), a stop job or a clean exit removes them.
# Each step prints RESULT lines with what it measured.
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

UNIT=${BTBLOCKD_SRCDIR:-$here/../..}/contrib/systemd/btblockd.service
BT_PORT=6881
OTHER_PORT=6882
DETECT_BOUND_S=10	# a lost table must show in the stats within this
GRACE_MS=5000		# btblockd's grace before it exits (RULESET_GRACE_MS)
EXIT_BOUND_S=20		# ... and it must have exited this long after the loss
failures=0
srv4=10.71.2.2

fw() {
	lab_exec router "$BTBLOCKD_FIREWALL" "$@" --config /dev/null
}

rnft() {
	lab_exec router nft "$@"
}

now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# rstate: the daemon's ruleset state and what it misses, "state|a, b".
rstate() {
	lab_stats 2>/dev/null | "$LAB_PYTHON" -c '
import json, sys
r = json.load(sys.stdin).get("ruleset", {})
print("%s|%s" % (r.get("state"), ", ".join(r.get("missing", []))))' 2>/dev/null || echo "no-answer|"
}

# wait_state STATE SECONDS: until the daemon's ruleset state is STATE
# (bounded); prints the milliseconds it took.
wait_state() {
	local t0 n
	t0=$(now_ms)
	for n in $(seq 1 $(( $2 * 20 ))); do
		case $(rstate) in
		"$1|"*)
			echo $(( $(now_ms) - t0 ))
			return 0
			;;
		esac
		kill -0 "$LAB_DAEMON_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo $(( $(now_ms) - t0 ))
	return 1
}

# elements SET: "A . B remaining_s timeout_s|-" per element, sorted.
elements() {
	rnft -j list set inet btblockd "$1" 2>/dev/null | "$LAB_PYTHON" -c '
import json, sys
doc = json.load(sys.stdin)
for o in doc["nftables"]:
    s = o.get("set")
    if not s:
        continue
    for e in s.get("elem", []):
        if isinstance(e, dict) and "elem" in e:
            e = e["elem"]
            key, left, tmo = e["val"]["concat"], e.get("expires", 0), e.get("timeout", "-")
        else:
            key, left, tmo = e["concat"], 0, "-"
        print("%s . %s %s %s" % (key[0], key[1], left, tmo))' | sort
}

# element_field SET PAIR FIELD: remaining (4) or timeout (5) of "A . B".
element_field() {
	elements "$1" | awk -v a="${2% . *}" -v b="${2#* . }" -v f="$3" '$1 == a && $3 == b { print $f }'
}

udp_flow() {
	if lab_udp "$2" "$1" 2 --port "$OTHER_PORT" --timeout 2 --retries 2 --wait 0.4 >/dev/null; then
		echo passed
	else
		echo dropped
	fi
}

lab_require_kernel || exit $?
lab_require_binaries || exit 1
[ -r "$UNIT" ] || fail "the unit file $UNIT is missing"

lab_trap
start=$(date +%s)
lab_create
lab_sink_start "$BT_PORT" "$OTHER_PORT"
lab_server_start
state_file=$BTBLOCKD_STATE_DIR/bans

# ---- 1. no rules at start: waited for ------------------------------------------------
lab_daemon_start --queues 0-1 --seccomp --endpoint-capacity 0 || fail "btblockd did not start"
t0=$(now_ms)
st=$(rstate)
# Past the grace a lost table gets (5 s), bounded: a daemon that wrongly
# took the missing table for a loss would be gone by then.
while [ $(( $(now_ms) - t0 )) -lt $(( GRACE_MS + 1500 )) ] && kill -0 "$LAB_DAEMON_PID" 2>/dev/null; do
	sleep 0.2
done
alive=no
kill -0 "$LAB_DAEMON_PID" 2>/dev/null && alive=yes
st2=$(rstate)
fw up --queues 0-1 >/dev/null || fail "btblockd-firewall up failed"
ok_ms=$(wait_state ok "$DETECT_BOUND_S") || check_fail "after up the daemon's ruleset state is $(rstate), not ok"
echo "RESULT start without rules: state ${st%%|*}, after $(( GRACE_MS + 1500 )) ms still ${st2%%|*}, daemon alive: $alive; after up: ok in $ok_ms ms"
[ "${st%%|*}" = absent ] || check_fail "without rules the state is '${st%%|*}', not absent"
[ "$alive" = yes ] || check_fail "the daemon exited while waiting for its rules"
grep -q 'table inet btblockd is not loaded: .*watching for it' "$LAB_TMP/btblockd.log" ||
	check_fail "no warning that the table is not loaded"

# ---- 2. bans survive up ---------------------------------------------------------------
a1=$(lab_client_addr 1 4)
lab_bt 1 4 "$BT_PORT" --hold 1 >/dev/null || fail "handshake client failed"
for n in $(seq 1 50); do
	[ -n "$(element_field ban4 "$a1 . $srv4" 4)" ] && break
	sleep 0.1
done
[ -n "$(element_field ban4 "$a1 . $srv4" 4)" ] || fail "the blocked handshake did not ban $a1 . $srv4"
rnft add element inet btblockd ban4 '{ 192.0.2.1 . 198.51.100.1 timeout 10m }'
rnft add element inet btblockd ban6 '{ 2001:db8::1 . 2001:db8::2 timeout 20m }'
before4=$(elements ban4)
before6=$(elements ban6)
fw up --queues 0-1 --hooks forward,input --ban-time 2h --ban-set-size 1024 >"$LAB_TMP/up.out" ||
	fail "btblockd-firewall up (again) failed"
after4=$(elements ban4)
after6=$(elements ban6)
keys() { awk '{ print $1, $2, $3 }'; }
echo "RESULT up again (hooks forward,input, ban time 2h, set size 1024): ban4 $(echo "$before4" | wc -l) -> $(echo "$after4" | wc -l) elements, ban6 $(echo "$before6" | wc -l) -> $(echo "$after6" | wc -l); $(sed 's/.*bans kept/bans kept/' "$LAB_TMP/up.out")"
[ "$(keys <<<"$before4")" = "$(keys <<<"$after4")" ] || check_fail "ban4 changed across up: [$before4] -> [$after4]"
[ "$(keys <<<"$before6")" = "$(keys <<<"$after6")" ] || check_fail "ban6 changed across up: [$before6] -> [$after6]"
while read -r a _ b left _; do
	was=$(awk -v a="$a" -v b="$b" '$1 == a && $3 == b { print $4 }' <<<"$before4"$'\n'"$before6")
	if [ -z "$was" ] || [ "$left" -gt "$was" ] || [ "$left" -lt $(( was - 3 )) ]; then
		check_fail "$a . $b: $left s left after up, ${was:-none} before"
	fi
done <<<"$after4"$'\n'"$after6"
[ "$(element_field ban4 "192.0.2.1 . 198.51.100.1" 5)" = 600 ] ||
	check_fail "the element's own timeout (10m) was not kept: $(element_field ban4 "192.0.2.1 . 198.51.100.1" 5)"
flow=$(udp_flow 4 1)
echo "RESULT UDP between the daemon's banned pair after up: $flow"
[ "$flow" = dropped ] || check_fail "UDP between the banned pair passed after up"
rnft list chain inet btblockd input_decide >/dev/null 2>&1 || check_fail "up --hooks forward,input: no input chain"

# A damaged table: a base chain, the rules of chains decide and ban and
# the set ban6 (which those rules used) gone; up rebuilds it.
rnft delete chain inet btblockd forward_verdict
rnft flush chain inet btblockd decide
rnft flush chain inet btblockd ban
rnft delete set inet btblockd ban6
before4=$(elements ban4)
fw up --queues 0-1 >/dev/null || fail "btblockd-firewall up on a damaged table failed"
after4=$(elements ban4)
echo "RESULT damaged table (forward_verdict, rules of decide and ban, ban6 deleted) rebuilt by up: ban4 $(keys <<<"$before4" | wc -l) -> $(keys <<<"$after4" | wc -l) elements, ban6 $(elements ban6 | wc -l)"
rnft list chain inet btblockd forward_verdict >/dev/null 2>&1 || check_fail "up did not bring chain forward_verdict back"
rnft list set inet btblockd ban6 >/dev/null 2>&1 || check_fail "up did not bring set ban6 back"
[ "$(keys <<<"$before4")" = "$(keys <<<"$after4")" ] || check_fail "ban4 changed across up of a damaged table"
ok_ms=$(wait_state ok "$DETECT_BOUND_S") || check_fail "after up of the damaged table the state is $(rstate)"

# ---- 3. down saves, up restores ----------------------------------------------------
rnft add element inet btblockd ban6 '{ 2001:db8::1 . 2001:db8::2 timeout 20m }'
lab_daemon_kill -TERM
# A ban that ends while the rules are down.
rnft add element inet btblockd ban4 '{ 192.0.2.2 . 198.51.100.2 timeout 3s }'
left_before=$(element_field ban4 "192.0.2.1 . 198.51.100.1" 4)
t_down=$(date +%s)
fw down >"$LAB_TMP/down.out" || fail "btblockd-firewall down failed"
mode=$(stat -c '%a' "$state_file" 2>/dev/null || echo none)
gone=no
rnft list table inet btblockd >/dev/null 2>&1 || gone=yes
saved=$(grep -c '^ban[46] ' "$state_file" || true)
# The element of 3 s: wait (bounded) until its end in the file is past.
ends=$(awk '$2 == "192.0.2.2" { print $4 }' "$state_file")
for n in $(seq 1 100); do
	[ -n "$ends" ] && [ "$(date +%s)" -gt "$ends" ] && break
	sleep 0.1
done
fw up --queues 0-1 >"$LAB_TMP/up.out" || fail "btblockd-firewall up after down failed"
down_s=$(( $(date +%s) - t_down ))
left_after=$(element_field ban4 "192.0.2.1 . 198.51.100.1" 4)
short=$(element_field ban4 "192.0.2.2 . 198.51.100.2" 4)
daemon_pair=$(element_field ban4 "$a1 . $srv4" 4)
v6=$(element_field ban6 "2001:db8::1 . 2001:db8::2" 4)
echo "RESULT down: $(cat "$LAB_TMP/down.out"); file mode $mode, table gone: $gone; up $down_s s later: $(sed 's/.*bans kept/bans kept/' "$LAB_TMP/up.out"); 10m element ${left_before} s -> ${left_after:-absent} s left, 3 s element: ${short:-absent}, daemon's pair: ${daemon_pair:-absent} s, IPv6: ${v6:-absent} s; state file left: $([ -e "$state_file" ] && echo yes || echo no)"
[ "$mode" = 600 ] || check_fail "state file mode $mode, not 600"
[ "$gone" = yes ] || check_fail "down left the table"
[ "$saved" -ge 5 ] || check_fail "down saved $saved elements, expected at least 5"
[ -n "$ends" ] || check_fail "down did not save the 3 s ban"
if [ -z "$left_after" ] || [ "$left_after" -gt $(( left_before - down_s + 1 )) ] ||
	[ "$left_after" -lt $(( left_before - down_s - 3 )) ]; then
	check_fail "10m element: $left_before s left before down, ${left_after:-none} after $down_s s down"
fi
[ -z "$short" ] || check_fail "the element that expired while down was restored ($short s)"
[ -n "$daemon_pair" ] || check_fail "the daemon's ban was not restored"
[ -n "$v6" ] || check_fail "the IPv6 ban was not restored"
[ ! -e "$state_file" ] || check_fail "up did not consume the state file"

# A corrupt and a foreign state file: reported, set aside, up goes on.
for bad in 'ban4 192.0.2.1 198.51.100.1; 99999999999 -' 'not a ban file'; do
	mkdir -p "$BTBLOCKD_STATE_DIR"
	if [ "$bad" = 'not a ban file' ]; then
		printf '%s\n' "$bad" >"$state_file"
	else
		printf 'btblockd-bans 1\n%s\n' "$bad" >"$state_file"
	fi
	rc=0
	fw up --queues 0-1 >"$LAB_TMP/up.out" 2>"$LAB_TMP/up.err" || rc=$?
	echo "RESULT state file '$bad': up exit $rc: $(cat "$LAB_TMP/up.err")"
	[ "$rc" = 0 ] || check_fail "up failed on a bad state file"
	grep -q 'ban state file .* ignored: .*set aside' "$LAB_TMP/up.err" || check_fail "a bad state file was not reported"
	if [ ! -e "$state_file.corrupt" ] || [ -e "$state_file" ]; then
		check_fail "the bad state file was not set aside"
	fi
	rm -f "$state_file.corrupt"
done

# ---- 4. nft flush ruleset: the daemon exits -------------------------------------------
asan_saved=${ASAN_OPTIONS-}
if [ -n "${BTBLOCKD_SANITIZERS:-}" ]; then
	# LeakSanitizer's tracer needs system calls --seccomp denies: a
	# sanitizer build would hang in its leak check at this exit.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	echo "NOTE: leak check off for the daemon that exits on its own ($BTBLOCKD_SANITIZERS with --seccomp)"
fi
lab_daemon_start --queues 0-1 --seccomp --endpoint-capacity 0 || fail "btblockd did not start"
export ASAN_OPTIONS="$asan_saved"
[ -n "$asan_saved" ] || unset ASAN_OPTIONS
wait_state ok "$DETECT_BOUND_S" >/dev/null || fail "the daemon does not see its table: $(rstate)"
t0=$(now_ms)
rnft flush ruleset
seen_ms=$(wait_state missing "$DETECT_BOUND_S") || check_fail "nft flush ruleset: the stats say $(rstate) after $seen_ms ms"
status=none
for n in $(seq 1 $(( EXIT_BOUND_S * 20 ))); do
	kill -0 "$LAB_DAEMON_PID" 2>/dev/null || break
	sleep 0.05
done
exit_ms=$(( $(now_ms) - t0 ))
if ! kill -0 "$LAB_DAEMON_PID" 2>/dev/null; then
	status=0
	wait "$LAB_DAEMON_PID" || status=$?
	LAB_DAEMON_PID=
fi
logged=$(grep -c 'firewall lost: table inet btblockd is gone' "$LAB_TMP/btblockd.log" || true)
echo "RESULT nft flush ruleset: stats say missing after $seen_ms ms (bound $DETECT_BOUND_S s); daemon exited with status $status after $exit_ms ms (grace $GRACE_MS ms); error logged $logged time(s)"
[ "$status" = 3 ] || check_fail "the daemon's exit status is $status, not 3"
[ "$exit_ms" -ge $(( GRACE_MS - 100 )) ] || check_fail "the daemon exited $exit_ms ms after the loss, before its grace"
[ "$logged" = 1 ] || check_fail "the loss was logged $logged times, not once"
[ -z "$LAB_DAEMON_PID" ] || lab_daemon_kill -KILL
fw up --queues 0-1 >/dev/null || fail "btblockd-firewall up after the flush failed"

# ---- 5. --firewall-lost log: damaged, reported, up again ------------------------------
rnft add element inet btblockd ban4 '{ 192.0.2.7 . 198.51.100.7 timeout 10m }'
: >"$LAB_TMP/btblockd.log"
lab_daemon_start --queues 0-1 --seccomp --firewall-lost log || fail "btblockd --firewall-lost log did not start"
wait_state ok "$DETECT_BOUND_S" >/dev/null || fail "the daemon does not see its table: $(rstate)"
pid=$LAB_DAEMON_PID
t0=$(now_ms)
rnft delete chain inet btblockd forward_verdict
seen_ms=$(wait_state damaged "$DETECT_BOUND_S") || check_fail "deleted base chain: the stats say $(rstate) after $seen_ms ms"
st=$(rstate)
# Past the grace, bounded: the daemon must still be there.
while [ $(( $(now_ms) - t0 )) -lt $(( GRACE_MS + 1500 )) ] && kill -0 "$pid" 2>/dev/null; do
	sleep 0.2
done
alive=no
kill -0 "$pid" 2>/dev/null && alive=yes
echo "RESULT base chain forward_verdict deleted (--firewall-lost log): stats '${st%%|*}' after $seen_ms ms, missing: ${st#*|}; alive after $(( $(now_ms) - t0 )) ms: $alive"
case ${st#*|} in
*"base chain forward_verdict"*) ;;
*) check_fail "the stats do not name base chain forward_verdict: ${st#*|}" ;;
esac
[ "$alive" = yes ] || check_fail "with --firewall-lost log the daemon exited"
grep -q 'firewall lost: table inet btblockd is damaged, missing: .*forward_verdict' "$LAB_TMP/btblockd.log" ||
	check_fail "the damage was not logged"
fw up --queues 0-1 >/dev/null || fail "btblockd-firewall up failed"
ok_ms=$(wait_state ok "$DETECT_BOUND_S") || check_fail "after up the state is $(rstate)"
kept=$(element_field ban4 "192.0.2.7 . 198.51.100.7" 4)
echo "RESULT up again: ok after $ok_ms ms; ban kept through the damage: ${kept:-no} s left"
[ -n "$kept" ] || check_fail "the ban the kernel kept is gone after up"
# The xtables backend: its jump in ip mangle removed.
if lab_exec router iptables -t mangle -S FORWARD 2>/dev/null | grep -q -- '-j BTBLOCKD'; then
	lab_exec router iptables -t mangle -D FORWARD 1
	seen_ms=$(wait_state damaged "$DETECT_BOUND_S") || check_fail "xtables jump removed: the stats say $(rstate)"
	st=$(rstate)
	echo "RESULT xtables jump to BTBLOCKD removed: stats '${st%%|*}' after $seen_ms ms, missing: ${st#*|}"
	case ${st#*|} in
	*"ip mangle jump to BTBLOCKD"*) ;;
	*) check_fail "the stats do not name the xtables jump: ${st#*|}" ;;
	esac
	fw up --queues 0-1 >/dev/null || fail "btblockd-firewall up failed"
	wait_state ok "$DETECT_BOUND_S" >/dev/null || check_fail "after up the state is $(rstate)"
else
	echo "RESULT the nft backend is in use: no xtables jump to remove"
fi
lost=$(lab_stats | lab_jget ruleset lost)
[ "$lost" -ge 1 ] || check_fail "ruleset.lost is $lost"
lab_daemon_kill -TERM

# ---- 6. the systemd unit's ExecStopPost ---------------------------------------------
stop_post=$(sed -n 's/^ExecStopPost=+//p' "$UNIT")
[ -n "$stop_post" ] || fail "no ExecStopPost=+ line in $UNIT"
case $stop_post in
/usr/sbin/btblockd-firewall\ *) ;;
*) fail "ExecStopPost runs something else than btblockd-firewall: $stop_post" ;;
esac
# The unit's words, with the built helper and %n as systemd expands it.
read -r -a stop_args <<<"${stop_post#/usr/sbin/btblockd-firewall }"
stop_args=("${stop_args[@]//%n/btblockd.service}")
mkdir -p "$LAB_TMP/bin"
cat >"$LAB_TMP/bin/systemctl" <<'EOF'
#!/bin/sh
# A stand-in for "systemctl list-jobs ... -- UNIT": the jobs of $FAKE_JOBS.
case " $* " in
*" list-jobs "*) ;;
*) exit 1 ;;
esac
[ -n "$FAKE_JOBS" ] && printf '%s\n' "$FAKE_JOBS"
exit "${FAKE_RC:-0}"
EOF
chmod +x "$LAB_TMP/bin/systemctl"
# case: jobs|rc|SERVICE_RESULT|kept or removed
while IFS='|' read -r jobs rc result want; do
	fw up --queues 0-1 >/dev/null || fail "btblockd-firewall up failed"
	rnft add element inet btblockd ban4 '{ 192.0.2.9 . 198.51.100.9 timeout 10m }'
	rm -f "$state_file"
	lab_exec router env PATH="$LAB_TMP/bin:$PATH" FAKE_JOBS="$jobs" FAKE_RC="$rc" \
		SERVICE_RESULT="$result" "$BTBLOCKD_FIREWALL" "${stop_args[@]}" >"$LAB_TMP/stop.out" 2>&1 ||
		check_fail "ExecStopPost failed: $(cat "$LAB_TMP/stop.out")"
	got=removed
	rnft list table inet btblockd >/dev/null 2>&1 && got=kept
	saved=$(grep -c '^ban4 192.0.2.9 ' "$state_file" 2>/dev/null || true)
	echo "RESULT ExecStopPost with job '${jobs:-none}' (systemctl exit $rc), SERVICE_RESULT=$result: rules $got, ban saved: $saved; $(tr '\n' ' ' <"$LAB_TMP/stop.out")"
	[ "$got" = "$want" ] || check_fail "ExecStopPost with job '${jobs:-none}', SERVICE_RESULT=$result: rules $got, want $want"
	[ "$saved" = 1 ] || check_fail "ExecStopPost did not save the bans"
done <<'EOF'
42 btblockd.service restart running|0|success|kept
|0|signal|kept
|0|exit-code|kept
|0|watchdog|kept
42 btblockd.service stop running|0|success|removed
42 btblockd.service stop running|0|exit-code|removed
|0|success|removed
|1|success|removed
EOF
fw down >/dev/null 2>&1 || true

[ "$failures" = 0 ] || fail "$failures check(s) failed (see above)"
echo "PASS: bans across up, down and restarts, a lost table noticed, in $(( $(date +%s) - start )) s"
