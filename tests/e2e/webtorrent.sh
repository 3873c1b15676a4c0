# tests/e2e/webtorrent.sh: the e2e lab's WebTorrent cases, and the WebRTC call and WebSocket application that must pass beside them (sourced bash library).
# shellcheck shell=bash
#
# Sourced by tests/e2e/test_e2e.sh after tests/integration/lab.sh, once the
# lab exists (lab_create). Real browsers: headless Chromium (Debian's) runs
# the webtorrent browser bundle (npm, pinned), the call, and pages of the
# lab's own (tests/e2e/webtorrent/www); Node.js runs bittorrent-tracker's
# WebSocket tracker (npm, pinned) and the lab's small WebSocket servers
# (tests/e2e/webtorrent/servers.mjs). contrib/install-deps.sh installs all
# of it; what is missing fails the test by name.
#
#   wt_setup              addresses, browser routing, payloads, certificate,
#                         page servers, trackers, signalling and echo server
#   wt_run CASE LIMIT     one run with fresh browsers; prints
#                         "case=<name> bytes=<N> completed=<0|1> seconds=<S> ..."
#   wt_case_addrs CASE    the addresses the case uses, one per line
#   wt_assert             the pass cases: complete in both phases, and no
#                         detection names their addresses
#
# Cases, each on addresses of its own (as in bt.sh: a ban of one case's
# pair never touches another's), client namespace / server namespace:
#
#   WT_CASES: btblockd must stop them (asserted with the BitTorrent cases)
#   wt_ws     a page in the server namespace seeds a 20 MB random file, a
#             page in the client namespace downloads it; tracker
#             ws://10.71.2.71:8000 (bittorrent-tracker) in the server
#             namespace. btblockd reads the tracker's WebSocket frames.
#   wt_wss    the same through wss://tracker.openwebtorrent.com, a name of
#             btblockd's list of public WebTorrent trackers: Chromium maps
#             it to the lab's tracker at 10.71.2.72:443 (--host-resolver-
#             rules; the lab's self-signed certificate is accepted with
#             --ignore-certificate-errors). What stops it is the server
#             name in the ClientHello; a wss:// tracker under any other
#             name is encrypted signalling btblockd cannot read, and its
#             peers' data channels are shaped like a call's: not covered
#             (README, Known limits), and not pretended here.
#   WT_PASS_CASES: must complete in both phases, and no detection may name
#   their addresses
#   call      a WebRTC call between a page in each namespace: the fake
#             camera and microphone, audio and video for WT_CALL_SECONDS,
#             signalled (offer, answer, trickled candidates) through the
#             lab's WebSocket server at 10.71.2.73:8100; success is what
#             getStats counts received on both ends
#   wsapp     a chat-like WebSocket application: WT_WSAPP_MESSAGES JSON
#             messages of about 1.5 KB from the client namespace, each
#             echoed by the lab's server at 10.71.2.74:8200 and compared
#
# Every browser runs as a user id of its own, with no passwd entry: a
# routing rule per user id (ip rule uidrange) sends its connections out
# of the case's address, and WebRTC is told to use the default route's
# address only (the profile's "webrtc.ip_handling_policy" preference), so
# its ICE candidates carry the case's address and never another case's or
# the normal cases'. IPv6 is unreachable for these user ids: the cases are
# IPv4. Chromium's mDNS host candidates are off
# (--disable-features=WebRtcHideLocalIpsWithMdns), so the SDP names the
# real address, as it does for srflx candidates on the Internet. No STUN
# server: the peers meet on their host candidates. Every other host name
# resolves to nothing (--host-resolver-rules: the rule for every name
# covers address literals too, so the lab's 10.71.* is excluded from it),
# so the browsers reach nothing outside the lab.
#
# The pages report to a page server in each namespace (127.0.0.1:8090,
# tests/e2e/webtorrent/pages.py), whose files this library reads: the
# seeder its magnet link, the leecher the SHA-256 of what it downloaded
# (compared with the payload's), the call's ends their getStats. "bytes"
# of the browser cases is the IP length of the packets that reached the
# client from the case's server-side peer (nft counter), an upper bound of
# the payload; wsapp's is the echoed bytes.

WT_CASES="wt_ws wt_wss"
WT_PASS_CASES="call wsapp"
WT_PAYLOAD=${WT_PAYLOAD:-20000000}
WT_CALL_SECONDS=${WT_CALL_SECONDS:-20}
WT_WSAPP_MESSAGES=${WT_WSAPP_MESSAGES:-2000}
WT_NODE=${BTBLOCKD_E2E_NODE:-/opt/btblockd-e2e}
WT_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/webtorrent"
WT_UID_BASE=64160            # browser user ids: base + 10 + n (client), + 20 + n (server)
WT_PAGES_PORT=8090
WT_WSS_NAME=tracker.openwebtorrent.com
WT_DIR=""

wt_log() {
	printf '[wt %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# wt_conf CASE: sets wt_n (1-4), wt_cli (client namespace address), wt_srv
# (the server-side browser's address), wt_aux (tracker, signalling or echo
# server), wt_cli_uid, wt_srv_uid and wt_url (tracker or server URL).
wt_conf() {
	case "$1" in
	wt_ws) wt_n=1 wt_url="ws://10.71.2.71:8000" ;;
	wt_wss) wt_n=2 wt_url="wss://$WT_WSS_NAME" ;;
	call) wt_n=3 wt_url="ws://10.71.2.73:8100" ;;
	wsapp) wt_n=4 wt_url="ws://10.71.2.74:8200" ;;
	*) wt_log "unknown case '$1'"; return 1 ;;
	esac
	wt_cli="10.71.1.6$wt_n" wt_srv="10.71.2.6$wt_n" wt_aux="10.71.2.7$wt_n"
	wt_cli_uid=$((WT_UID_BASE + 10 + wt_n)) wt_srv_uid=$((WT_UID_BASE + 20 + wt_n))
}

wt_case_addrs() {
	wt_conf "$1" || return 1
	if [ "$1" = wsapp ]; then
		printf '%s\n' "$wt_cli" "$wt_aux"
	else
		printf '%s\n' "$wt_cli" "$wt_srv" "$wt_aux"
	fi
}

# wt_json FILE KEY: one field of a page's result (empty when absent).
wt_json() {
	"$LAB_PYTHON" -c '
import json, sys
try:
    v = json.load(open(sys.argv[1])).get(sys.argv[2], "")
except (OSError, ValueError):
    v = ""
print(str(v).lower() if isinstance(v, bool) else v)
' "$1" "$2"
}

# wt_wait_result NAME SECONDS: waits (bounded) for the page result NAME.
wt_wait_result() {
	local n
	for n in $(seq 1 "$(($2 * 5))"); do
		[ -s "$WT_DIR/results/$1.json" ] && return 0
		[ "$n" = "$(($2 * 5))" ] || sleep 0.2
	done
	return 1
}

# wt_uid_route NS UID SRC GW: the connections of user id UID in namespace
# NS leave from SRC through GW; IPv6 is unreachable for it.
wt_uid_route() {
	lab_exec "$1" ip rule add uidrange "$2-$2" lookup "$2" priority 100
	lab_exec "$1" ip -6 rule add uidrange "$2-$2" lookup "$2" priority 100
	lab_exec "$1" ip route add default via "$4" src "$3" table "$2"
	lab_exec "$1" ip -6 route add unreachable default table "$2"
}

# wt_browser NS UID NAME URL: headless Chromium in namespace NS as user id
# UID, a fresh profile $WT_DIR/browser-NAME, loading URL. Its pid is left
# in wt_pid (ip netns exec, setpriv, env and Debian's wrapper all exec).
wt_browser() {
	local ns="$1" uid="$2" prof="$WT_DIR/browser-$3" netns=$LAB_CLIENT
	[ "$ns" = server ] && netns=$LAB_SERVER
	rm -rf "$prof"
	mkdir -p "$prof/Default"
	printf '{"webrtc":{"ip_handling_policy":"default_public_and_private_interfaces"}}\n' \
		>"$prof/Default/Preferences"
	chown -R "$uid:$uid" "$prof"
	ip netns exec "$netns" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		env HOME="$prof" chromium --headless=new --no-sandbox --disable-gpu \
		--no-first-run --no-default-browser-check --disable-background-networking \
		--disable-component-update --disable-default-apps --disable-extensions --disable-sync \
		--disable-breakpad --no-pings --mute-audio --disable-background-timer-throttling \
		--disable-renderer-backgrounding --disable-backgrounding-occluded-windows \
		--disable-features=WebRtcHideLocalIpsWithMdns \
		--host-resolver-rules="MAP $WT_WSS_NAME 10.71.2.72, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 10.71.*" \
		--ignore-certificate-errors \
		--use-fake-ui-for-media-stream --use-fake-device-for-media-stream \
		--user-data-dir="$prof" "$4" >"$prof.log" 2>&1 &
	wt_pid=$!
	disown "$wt_pid"
}

# wt_browser_stop PID UID NS: stops a browser and whatever it started
# (processes of its user id in its namespace), waits (bounded) for them.
wt_browser_stop() {
	local pid netns=$LAB_CLIENT p left uid key val
	[ "$3" = server ] && netns=$LAB_SERVER
	kill "$1" 2>/dev/null || true
	for _ in $(seq 1 50); do
		left=""
		for p in $(ip netns pids "$netns"); do
			# the real user id (the owner of /proc/PID is root for a
			# process that made itself not dumpable); no fork per pid
			uid=""
			{
				while read -r key val _; do
					[ "$key" = Uid: ] && { uid=$val; break; }
				done <"/proc/$p/status"
			} 2>/dev/null || true
			[ "$uid" = "$2" ] && left="$left $p"
		done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	for pid in $left; do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# wt_server NAME READY ARGS...: servers.mjs ARGS in the server namespace,
# logging to $WT_DIR/NAME.log; waits (bounded, 10 s) for its ready line.
wt_server() {
	local name="$1" pid
	shift
	ip netns exec "$LAB_SERVER" env BTBLOCKD_E2E_NODE="$WT_NODE" node "$WT_SRC/servers.mjs" "$@" \
		>>"$WT_DIR/$name.log" 2>&1 &
	pid=$!
	LAB_PIDS="$LAB_PIDS $pid"
	lab_wait_file "$WT_DIR/$name.log" '^ready' 10 "$pid"
}

wt_setup() {
	local tool c ns pid
	for tool in chromium node setpriv openssl nft; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			printf '\n*** FAIL: %s not found (install the e2e packages: contrib/install-deps.sh) ***\n\n' "$tool" >&2
			return 1
		fi
	done
	for tool in node_modules/bittorrent-tracker/server.js node_modules/ws/package.json \
		webtorrent/webtorrent.min.js; do
		if [ ! -f "$WT_NODE/$tool" ]; then
			printf '\n*** FAIL: %s missing (the e2e npm packages: contrib/install-deps.sh) ***\n\n' "$WT_NODE/$tool" >&2
			return 1
		fi
	done
	for c in $WT_CASES $WT_PASS_CASES; do
		wt_conf "$c"
		for tool in "$wt_cli_uid" "$wt_srv_uid"; do
			if getent passwd "$tool" >/dev/null; then
				printf '\n*** FAIL: user id %s (a browser of the lab) belongs to a user here ***\n\n' "$tool" >&2
				return 1
			fi
		done
	done
	WT_DIR="$LAB_TMP/wt"
	# The browsers run as other user ids: they must reach their profiles.
	chmod 711 "$LAB_TMP"
	mkdir -p "$WT_DIR/www" "$WT_DIR/results"
	cp "$WT_SRC"/www/* "$WT_NODE/webtorrent/webtorrent.min.js" "$WT_DIR/www/"
	for c in $WT_CASES; do
		head -c "$WT_PAYLOAD" /dev/urandom >"$WT_DIR/www/payload-$c.bin"
		sha256sum "$WT_DIR/www/payload-$c.bin" | cut -d' ' -f1 >"$WT_DIR/$c.sha256"
	done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=$WT_WSS_NAME" -addext "subjectAltName=DNS:$WT_WSS_NAME" \
		-keyout "$WT_DIR/key.pem" -out "$WT_DIR/cert.pem" 2>"$WT_DIR/openssl.log" || return 1

	for c in $WT_CASES $WT_PASS_CASES; do
		wt_conf "$c"
		lab_exec client ip addr add "$wt_cli/24" dev c0
		lab_exec server ip addr add "$wt_srv/24" dev s0
		lab_exec server ip addr add "$wt_aux/24" dev s0
		wt_uid_route client "$wt_cli_uid" "$wt_cli" 10.71.1.1
		wt_uid_route server "$wt_srv_uid" "$wt_srv" 10.71.2.1
	done
	for ns in client server; do
		lab_exec "$ns" "$LAB_PYTHON" -u "$WT_SRC/pages.py" "$WT_DIR/www" "$WT_DIR/results" \
			"$WT_PAGES_PORT" >>"$WT_DIR/pages-$ns.log" 2>&1 &
		pid=$!
		LAB_PIDS="$LAB_PIDS $pid"
		lab_wait_file "$WT_DIR/pages-$ns.log" '^ready' 5 "$pid" || return 1
	done
	wt_server tracker-ws tracker 10.71.2.71 8000 || return 1
	wt_server tracker-wss tracker 10.71.2.72 443 "$WT_DIR/cert.pem" "$WT_DIR/key.pem" || return 1
	wt_server signal signal 10.71.2.73 8100 || return 1
	wt_server echo echo 10.71.2.74 8200 || return 1
	wt_log "page servers, trackers, signalling and echo servers ready: $WT_CASES $WT_PASS_CASES"
}

# wt_counters_add CASE: the case's nft table in the client namespace,
# replaced at each run, counting what reaches the client from its peer.
wt_counters_add() {
	lab_exec client nft delete table inet "wt_$1" 2>/dev/null || true
	lab_exec client nft -f - <<EOF
table inet wt_$1 {
	counter in { }
	chain count_in {
		type filter hook input priority -10; policy accept;
		ip saddr $wt_srv ip daddr $wt_cli counter name in
	}
}
EOF
}

wt_counter() {
	lab_exec client nft list counter inet "wt_$1" in | sed -n 's/.*packets [0-9]* bytes \([0-9]*\).*/\1/p'
}

# wt_num FILE KEY: a number of a page's result, 0 when absent.
wt_num() {
	local v
	v=$(wt_json "$1" "$2")
	case "$v" in
	'' | *[!0-9]*) echo 0 ;;
	*) echo "$v" ;;
	esac
}

wt_seconds() {
	awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'
}

# A WebTorrent case: seeder, then leecher, for at most LIMIT seconds.
wt_run_torrent() {
	local c="$1" limit="$2" seeder leecher magnet start completed=0 res
	res="$WT_DIR/results"
	rm -f "$res/$c"-*.json
	wt_counters_add "$c" || return 1
	wt_browser server "$wt_srv_uid" "$c-seed" \
		"http://127.0.0.1:$WT_PAGES_PORT/seed.html?case=$c&tracker=$wt_url"
	seeder=$wt_pid
	if ! wt_wait_result "$c-seed" 90 || [ -z "$(wt_json "$res/$c-seed.json" magnet)" ]; then
		wt_log "$c: the seeder did not seed: $(cat "$res/$c-seed.json" 2>/dev/null)"
		tail -n 5 "$WT_DIR/browser-$c-seed.log" >&2
		wt_browser_stop "$seeder" "$wt_srv_uid" server
		return 1
	fi
	magnet=$("$LAB_PYTHON" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' \
		"$(wt_json "$res/$c-seed.json" magnet)")
	start=$(date +%s.%N)
	wt_browser client "$wt_cli_uid" "$c-fetch" \
		"http://127.0.0.1:$WT_PAGES_PORT/fetch.html?case=$c&magnet=$magnet"
	leecher=$wt_pid
	if wt_wait_result "$c-fetch" "$limit" &&
		[ "$(wt_json "$res/$c-fetch.json" sha256)" = "$(cat "$WT_DIR/$c.sha256")" ]; then
		completed=1
	fi
	if [ "$completed" = 0 ]; then
		wt_log "$c: not complete (expected with btblockd); last progress: $(cat "$res/$c-progress.json" 2>/dev/null)" \
			"$(cat "$res/$c-fetch.json" 2>/dev/null)"
	fi
	printf 'case=%s bytes=%s completed=%s seconds=%s\n' "$c" "$(wt_counter "$c")" "$completed" \
		"$(wt_seconds "$start")"
	wt_browser_stop "$leecher" "$wt_cli_uid" client
	wt_browser_stop "$seeder" "$wt_srv_uid" server
}

# The call: both ends at once; complete when each end received video
# frames and audio all along, the last 5 seconds included.
wt_run_call() {
	local start callee caller completed=1 f role url frames=""
	rm -f "$WT_DIR/results"/call-*.json
	wt_counters_add call || return 1
	start=$(date +%s.%N)
	url="http://127.0.0.1:$WT_PAGES_PORT/call.html?signal=$wt_url&seconds=$WT_CALL_SECONDS&role"
	wt_browser server "$wt_srv_uid" call-callee "$url=callee"
	callee=$wt_pid
	wt_browser client "$wt_cli_uid" call-caller "$url=caller"
	caller=$wt_pid
	for role in caller callee; do
		f="$WT_DIR/results/call-$role.json"
		if ! wt_wait_result "call-$role" $((WT_CALL_SECONDS + 60)) ||
			[ "$(wt_json "$f" connected)" != true ] ||
			[ "$(wt_num "$f" video_frames)" -lt $((WT_CALL_SECONDS * 3)) ] ||
			[ "$(wt_num "$f" audio_packets)" -lt $((WT_CALL_SECONDS * 10)) ] ||
			[ "$(wt_num "$f" last5_video_frames)" -lt 1 ] ||
			[ "$(wt_num "$f" last5_audio_packets)" -lt 1 ]; then
			completed=0
		fi
		wt_log "call: $role received $(cat "$f" 2>/dev/null || echo nothing)"
		frames="$frames${frames:+/}$(wt_num "$f" video_frames)"
	done
	printf 'case=call bytes=%s completed=%s seconds=%s video_frames=%s\n' "$(wt_counter call)" \
		"$completed" "$(wt_seconds "$start")" "$frames"
	wt_browser_stop "$caller" "$wt_cli_uid" client
	wt_browser_stop "$callee" "$wt_srv_uid" server
}

# wt_run CASE LIMIT: prints one result line; non-zero only on a lab error.
# LIMIT bounds the WebTorrent download; the pass cases take their own time.
wt_run() {
	wt_conf "$1" || return 1
	case "$1" in
	wt_*) wt_run_torrent "$1" "$2" ;;
	call) wt_run_call ;;
	wsapp)
		lab_exec client env BTBLOCKD_E2E_NODE="$WT_NODE" node "$WT_SRC/servers.mjs" echo-client \
			"$wt_cli" "$wt_url" "$WT_WSAPP_MESSAGES" ;;
	esac
}

wt_assert() {
	local c phase line
	for c in $WT_PASS_CASES; do
		for phase in off on; do
			line=$(result "$phase" "$c")
			if [ "$(normal_field completed "$line")" != 1 ]; then
				check_fail "$c did not complete in phase $phase: ${line:-no result}"
			fi
		done
		# shellcheck disable=SC2046 # one argument per address
		if [ "$(detectors $(wt_case_addrs "$c"))" != - ]; then
			check_fail "detections name the addresses of $c (false positives): $(detectors $(wt_case_addrs "$c"))"
		fi
	done
}
