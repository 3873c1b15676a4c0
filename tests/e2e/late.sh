# tests/e2e/late.sh: the e2e lab's phase "late": btblockd arrives while transfers run (sourced bash library).
# shellcheck shell=bash
#
# Sourced by tests/e2e/test_e2e.sh after normal.sh and bt.sh. The phase
# runs with no btblockd and no ruleset at its start, as on a router where
# btblockd is installed while its users are busy:
#
#   1. The router's links are shaped to LATE_RATE. Normal connections open
#      and keep going for the whole phase (LATE_NORMAL_SECONDS): an HTTPS
#      download at a fixed rate, an SSH session printing a line a second,
#      a UDP stream at a fixed rate (every datagram checked); the lab's
#      long-lived TCP connection runs on from before phase "off".
#   2. Every BitTorrent case starts at once (each up to LATE_BT_LIMIT s).
#   3. Once every case has received LATE_AFTER bytes (bounded wait), the
#      daemon starts, then `btblockd-firewall up`: time T0.
#   4. T0 + LATE_STOP_WITHIN: each case's byte count is taken.
#   5. The daemon is restarted (stopped, started again; the table stays, as
#      its service does on a restart).
#   6. The firewall drops out: `nft flush ruleset` in the router; the
#      daemon notices and exits with status 3, and is brought back the way
#      its service manager would (btblockd-firewall up, then the daemon):
#      time T1.
#   7. The cases run to their limit; byte counts at T1 + LATE_STOP_WITHIN
#      and at the end.
#
# late_assert then checks what must hold every run: every case ran and
# reported its bytes at each step, btblockd left with status 0 on TERM
# and 3 after the flush (checked in late_run), and every normal
# connection of step 1 completed intact: btblockd arriving in the middle
# of a router's traffic harms nothing.  How well the transfers were
# stopped is measured, not checked: a flow met in its middle is judged
# from whatever its next packets happen to be (btblockd(8), TRANSFERS
# ALREADY RUNNING), and with real clients that differs from run to run,
# so a bound on it would make the check's answer change between runs of
# the same code.  late_summary prints the measurement (cases quiet from
# T0 + LATE_STOP_WITHIN s through the restart, from T0 itself, after the
# reload; cases completed) and the report has the byte table; the
# mechanisms behind it have deterministic tests of their own
# (nft/test_firewall.sh: budgets from first sight and after up; the unit
# tests of the mid-stream detectors and of the engine).

LATE_RATE=${E2E_LATE_RATE:-16mbit}
LATE_AFTER=${E2E_LATE_AFTER:-1000000}    # bytes each case has before T0
LATE_BT_LIMIT=${E2E_LATE_BT_LIMIT:-150}
LATE_SEED_KBPS=${E2E_LATE_SEED_KBPS:-200}   # each seeder's upload: 20 MB in ~100 s
LATE_STOP_WITHIN=30
LATE_MAX_BYTES=65536
LATE_NORMAL_SECONDS=${E2E_LATE_NORMAL_SECONDS:-110}
LATE_UDP_PORT=7003
LATE_PIDS=""         # background jobs of the phase (pid:name)
LATE_SUMMARY=""      # the measurement, for the report (late_summary)
LATE_NOT_STARTED=""  # cases below LATE_AFTER bytes at T0 (late_wait_started)

late_log() {
	printf '[late %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# late_bytes CASE: bytes the case's client has received from its seeder.
late_bytes() {
	local tcp udp
	tcp=$(bt_counter "$1" tcp_in 2>/dev/null)
	udp=$(bt_counter "$1" udp_in 2>/dev/null)
	echo $(( ${tcp:-0} + ${udp:-0} ))
}

# The normal connections of step 1, in the background; each writes one
# result line "case=... bytes=... completed=... seconds=... checksum=..."
# to $LAB_TMP/late-<name>.out.
late_https_start() {
	local out="$LAB_TMP/late-https.bin" rate
	# the payload over LATE_NORMAL_SECONDS
	rate=$(( NORMAL_BYTES / LATE_NORMAL_SECONDS ))
	(
		t0=$(normal_now) rc=0
		ip netns exec "$LAB_CLIENT" curl --silent --show-error --fail \
			--max-time $(( LATE_NORMAL_SECONDS + 60 )) --limit-rate "$rate" \
			--cacert "$NORMAL_DIR/tls/cert.pem" -o "$out" \
			"https://[$LAB_SERVER6]:$NORMAL_HTTPS_PORT/payload.bin" 2>>"$LAB_TMP/curl.log" || rc=$?
		# shellcheck disable=SC2046 # the five figures
		set -- $(normal_fetched "$out" "$rc" "$t0" "$(normal_now)")
		printf 'case=late_https bytes=%s completed=%s seconds=%s checksum=%s\n' "$1" "$5" "$2" "$4"
	) >"$LAB_TMP/late-https.out" 2>>"$LAB_TMP/late.log" &
	LATE_PIDS="$LATE_PIDS $!:https"
}

# An SSH session (its own connection, no multiplexing) that prints a
# numbered line every second; complete when every line arrived in order.
late_ssh_start() {
	local n=$LATE_NORMAL_SECONDS ssh="$NORMAL_DIR/ssh"
	(
		t0=$(normal_now)
		ip netns exec "$LAB_CLIENT" timeout $(( n + 60 )) ssh -F /dev/null -i "$ssh/id" \
			-o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
			-o UserKnownHostsFile="$ssh/known_hosts" -o GlobalKnownHostsFile=/dev/null \
			-o ConnectTimeout=10 -o Port="$NORMAL_SSH_PORT" -o ControlPath=none \
			-o ServerAliveInterval=0 "root@$LAB_SERVER4" \
			"i=1; while [ \$i -le $n ]; do echo tick \$i; i=\$((i + 1)); sleep 1; done" \
			>"$LAB_TMP/late-ssh.txt" 2>>"$LAB_TMP/late.log" || true
		want=$(seq 1 "$n" | sed 's/^/tick /')
		ok=bad completed=0
		if [ "$(cat "$LAB_TMP/late-ssh.txt")" = "$want" ]; then
			ok=ok completed=1
		fi
		printf 'case=late_ssh bytes=%s completed=%s seconds=%s checksum=%s\n' \
			"$(wc -c <"$LAB_TMP/late-ssh.txt")" "$completed" "$(normal_elapsed "$t0" "$(normal_now)")" "$ok"
	) >"$LAB_TMP/late-ssh.out" &
	LATE_PIDS="$LATE_PIDS $!:ssh"
}

# A UDP stream at a fixed rate for the phase; udprecv checks every datagram.
late_udp_start() {
	local seed bytes expect log="$LAB_TMP/late-udprecv.log" pid rate_mbit=1
	seed=$(( $(date +%s) % 100000 + 7 ))
	bytes=$(( LATE_NORMAL_SECONDS * rate_mbit * 1000000 / 8 ))
	expect=$("$LAB_PYTHON" "$NORMAL_PY" udpsend --seed "$seed" --bytes "$bytes" --print-sha256)
	: >"$log"
	ip netns exec "$LAB_SERVER" "$LAB_PYTHON" -u "$NORMAL_PY" udprecv --bind "$LAB_SERVER4" \
		--port "$LATE_UDP_PORT" --seed "$seed" --expect-sha256 "$expect" \
		--timeout $(( LATE_NORMAL_SECONDS + 60 )) >"$log" 2>&1 &
	pid=$!
	LAB_PIDS="$LAB_PIDS $pid"
	lab_wait_file "$log" '^udprecv ready' 5 "$pid" || return 1
	(
		ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" "$NORMAL_PY" udpsend --source "$(lab_client_addr 3 4)" \
			--dest "$LAB_SERVER4" --port "$LATE_UDP_PORT" --seed "$seed" --bytes "$bytes" \
			--rate-mbit "$rate_mbit" >>"$LAB_TMP/late.log" 2>&1 || true
		normal_reap "$pid"
		line=$(grep '^case=udp_bulk' "$log" || true)
		printf '%s\n' "${line:-case=udp_bulk bytes=0 completed=0 seconds=0 checksum=bad}" |
			sed 's/^case=udp_bulk/case=late_udp/'
	) >"$LAB_TMP/late-udp.out" &
	LATE_PIDS="$LATE_PIDS $!:udp"
}

# late_wait_started: until every case has LATE_AFTER bytes (at most
# LATE_BT_LIMIT / 2 s); 0 if they all did.  The cases that did not are in
# LATE_NOT_STARTED: a client that stalls on its own with no rules loaded
# (a lab client's quirk, not btblockd's doing) says nothing about
# stopping a running transfer, so the measurement leaves it out and says
# so.
late_wait_started() {
	local deadline c short
	deadline=$(( $(date +%s) + LATE_BT_LIMIT / 2 ))
	while :; do
		short=""
		for c in $BT_CASES; do
			[ "$(late_bytes "$c")" -ge "$LATE_AFTER" ] || short="$short $c"
		done
		[ -n "$short" ] || return 0
		if [ "$(date +%s)" -ge "$deadline" ]; then
			late_log "cases below $LATE_AFTER bytes before the start:$short"
			LATE_NOT_STARTED=$short
			return 1
		fi
		sleep 0.5
	done
}

# late_snapshot KEY: "case=<c> KEY=<bytes>" appended for every case.
late_snapshot() {
	local c
	for c in $BT_CASES; do
		LATE_SNAP="${LATE_SNAP}case=$c $1=$(late_bytes "$c")
"
	done
}

late_snap_get() {
	printf '%s' "$LATE_SNAP" | sed -n "s/^case=$1 $2=//p" | tail -n 1
}

# The phase's daemon: its own detection log (the table's detectors of
# phase late come from it) and a state file, as the packages give it, so
# that what it learned outlives its restarts. $queues: test_e2e.sh's
# queue range.
late_daemon_start() {
	# shellcheck disable=SC2154 # set by test_e2e.sh
	lab_daemon_start --config "$LAB_TMP/btblockd.conf" --queues "$queues" \
		--detect-log "$LAB_TMP/detect-late.jsonl" --state-file "$LAB_TMP/late.state"
}

# late_shape RATE: the router's links shaped anew (htb cannot change its
# root qdisc in place).
late_shape() {
	local dev
	for dev in r0 r1; do
		ip netns exec "$LAB_ROUTER" tc qdisc del dev "$dev" root 2>/dev/null || true
	done
	E2E_LINK_RATE=$1 normal_shape
}

# late_up: the daemon, then the rules, as its service starts them.
late_up() {
	late_daemon_start || return 1
	lab_exec router "$BTBLOCKD_FIREWALL" up --queues "$queues" >>"$LAB_TMP/firewall.log" 2>&1
}

# late_run: the whole phase; records its result lines with `record late`.
late_run() {
	local c pid line t0 t1 bt_pids="" status rc
	LATE_SNAP=""
	late_shape "$LATE_RATE"
	# Seeders limited to LATE_SEED_KBPS each: no case may finish before
	# the slowest has started (bt_run then keeps them, see seeder.used).
	# shellcheck disable=SC2034 # read by bt.sh
	BT_SEED_RATE_KBPS=$LATE_SEED_KBPS
	for c in $BT_CASES; do
		bt_seeder_stop "$c" || fail "phase late: case $c: the seeder did not stop"
		bt_seeder_start "$c" || fail "phase late: case $c: the seeder did not start"
	done
	for c in $BT_CASES; do
		bt_wait_seeded "$c" || fail "phase late: case $c: the seeder is not ready"
		bt_conf "$c"
		# shellcheck disable=SC2154 # set by bt_conf
		rm -f "$bt_case_dir/seeder.used"
	done
	# shellcheck disable=SC2034 # read by bt.sh
	BT_SEED_RATE_KBPS=""
	late_https_start
	late_ssh_start
	late_udp_start || fail "phase late: the UDP receiver did not start"
	for c in $BT_CASES; do
		status_to "$LAB_TMP/bt-late-$c.rc" bt_run "$c" "$LATE_BT_LIMIT" \
			>"$LAB_TMP/bt-late-$c.out" 2>>"$LAB_TMP/bt-late-$c.log" &
		bt_pids="$bt_pids $!:$c"
	done
	BG_PIDS="$BG_PIDS $bt_pids $LATE_PIDS"
	late_wait_started || lab_log "phase late: not running before btblockd started, left out of the measurement:$LATE_NOT_STARTED"
	late_snapshot before
	t0=$(date +%s)
	late_up || fail "phase late: btblockd or its ruleset did not start"
	lab_log "phase late: btblockd and its ruleset up while the transfers run (T0)"
	late_snapshot t0
	sleep $(( t0 + LATE_STOP_WITHIN - $(date +%s) ))
	late_snapshot stopped

	lab_log "phase late: btblockd restarted (the ruleset stays)"
	lab_daemon_kill -TERM
	[ "$LAB_DAEMON_STATUS" = 0 ] || check_fail "phase late: btblockd exited with status $LAB_DAEMON_STATUS on TERM"
	late_daemon_start || fail "phase late: btblockd did not start again"
	sleep 10
	late_snapshot preflush

	lab_log "phase late: nft flush ruleset in the router"
	lab_exec router nft flush ruleset
	# The daemon notices and exits (status 3, after its grace time for a
	# reload); its service manager loads the rules and starts it again.
	for _ in $(seq 1 150); do
		kill -0 "$LAB_DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$LAB_DAEMON_PID" 2>/dev/null; then
		check_fail "phase late: btblockd still runs 15 s after its ruleset was flushed"
		lab_daemon_kill -TERM
	else
		status=0
		wait "$LAB_DAEMON_PID" || status=$?
		LAB_DAEMON_PID=""
		lab_log "phase late: btblockd exited with status $status after the flush"
		[ "$status" = 3 ] || check_fail "phase late: btblockd exited with status $status after the flush (3 expected)"
	fi
	lab_exec router "$BTBLOCKD_FIREWALL" up --queues "$queues" >>"$LAB_TMP/firewall.log" 2>&1 ||
		fail "phase late: btblockd-firewall up after the flush failed"
	late_daemon_start || fail "phase late: btblockd did not start after the flush"
	t1=$(date +%s)
	late_snapshot reloaded
	sleep $(( t1 + LATE_STOP_WITHIN - $(date +%s) ))
	late_snapshot settled

	for pid in $bt_pids; do
		c=${pid#*:}
		wait "${pid%%:*}" 2>/dev/null || true
		rc=$(case_status "$LAB_TMP/bt-late-$c.rc")
		[ "$rc" = 0 ] || check_fail "phase late: BitTorrent case $c: lab error (bt_run failed, status $rc)"
		line=$(grep '^case=' "$LAB_TMP/bt-late-$c.out" | tail -n1 || true)
		[ -n "$line" ] || { check_fail "phase late: BitTorrent case $c printed no result"; continue; }
		record late "$line before=$(late_snap_get "$c" before) t0=$(late_snap_get "$c" t0) stopped=$(late_snap_get "$c" stopped) preflush=$(late_snap_get "$c" preflush) reloaded=$(late_snap_get "$c" reloaded) settled=$(late_snap_get "$c" settled)"
	done
	for pid in $LATE_PIDS; do
		c=${pid#*:}
		wait "${pid%%:*}" 2>/dev/null || true
		line=$(head -n 1 "$LAB_TMP/late-$c.out" 2>/dev/null)
		record late "${line:-case=late_$c bytes=0 completed=0 seconds=0 checksum=bad}"
	done
	BG_PIDS=""
	late_shape "$E2E_LINK_RATE"
}

late_assert() {
	local c line k
	for c in $BT_CASES; do
		line=$(result late "$c")
		[ -n "$line" ] || { check_fail "phase late: BitTorrent case $c has no result"; continue; }
		for k in t0 stopped preflush reloaded settled; do
			[ -n "$(normal_field "$k" "$line")" ] || { check_fail "phase late: case $c lacks $k=: $line"; continue 2; }
		done
	done
	for c in https ssh udp; do
		line=$(result late "late_$c")
		if [ "$(normal_field completed "$line")" != 1 ] || [ "$(normal_field checksum "$line")" != ok ]; then
			check_fail "phase late: the $c connection that predates btblockd did not survive intact: $line"
		fi
	done
	late_summary
}

# late_quiet LINE FROM TO: whether the case of result LINE received less
# than LATE_MAX_BYTES between snapshots FROM and TO (TO empty: its end).
late_quiet() {
	local from to
	from=$(normal_field "$2" "$1")
	to=$(normal_field "${3:-bytes}" "$1")
	[ $(( to - from )) -lt "$LATE_MAX_BYTES" ]
}

# late_summary: the measurement of phase late, one line on stderr.
late_summary() {
	local c line n=0 stopped=0 at_t0=0 after=0 completed=0 missed=""
	for c in $BT_CASES; do
		line=$(result late "$c")
		[ -n "$line" ] || continue
		case " $LATE_NOT_STARTED " in *" $c "*) continue ;; esac
		n=$((n + 1))
		if late_quiet "$line" stopped preflush; then
			stopped=$((stopped + 1))
		else
			missed="$missed $c"
		fi
		if late_quiet "$line" t0 preflush; then at_t0=$((at_t0 + 1)); fi
		if late_quiet "$line" settled ""; then after=$((after + 1)); fi
		if [ "$(normal_field completed "$line")" = 1 ]; then completed=$((completed + 1)); fi
	done
	LATE_SUMMARY="of $n BitTorrent cases${LATE_NOT_STARTED:+ (left out, not running before T0:$LATE_NOT_STARTED)}, $stopped received < $LATE_MAX_BYTES bytes from T0 + $LATE_STOP_WITHIN s to the flush, restart included${missed:+ (not:$missed)}; $at_t0 from T0 itself; $after from T1 + $LATE_STOP_WITHIN s to the end; $completed completed"
	lab_log "phase late, measured (not a pass/fail check): $LATE_SUMMARY"
}

# late_report: the byte counts of phase late, a markdown table.
late_report() {
	local c line k
	echo "| case (phase late) | at T0 | T0 + ${LATE_STOP_WITHIN}s | before the flush | T1 (reloaded) | T1 + ${LATE_STOP_WITHIN}s | end | completed |"
	echo "|---|---:|---:|---:|---:|---:|---:|:---:|"
	for c in $BT_CASES; do
		line=$(result late "$c")
		[ -n "$line" ] || continue
		printf '| %s |' "$c"
		for k in t0 stopped preflush reloaded settled bytes completed; do
			printf ' %s |' "$(normal_field "$k" "$line")"
		done
		echo
	done
	echo
	echo "Measured, not a pass/fail check: $LATE_SUMMARY."
}
