# tests/e2e/bt.sh: the BitTorrent cases of the e2e lab (sourced bash library).
# shellcheck shell=bash
#
# Sourced by tests/e2e/test_e2e.sh after tests/integration/lab.sh, once the
# lab exists (lab_create). Real Debian clients move a fresh random payload
# from a seeder in the server namespace to a leecher in the client
# namespace, through the router:
#
#   bt_setup              addresses, payloads, .torrent files, trackers,
#                         DHT node and seeders (once, after lab_create)
#   bt_run CASE LIMIT     one fetch with fresh client state, prints
#                         "case=<name> bytes=<N> completed=<0|1> seconds=<S>"
#   bt_case_addrs CASE    the addresses the case uses, one per line
#
# Every case has its own client address, seeder address and tracker or DHT
# node address (never the lab's default addresses, which the normal cases
# use): a block bans the (client, remote) pair for an hour, as it would for
# a real BitTorrent peer, without touching the other cases. Ports, config
# dirs and nft tables are per case too, so cases can run concurrently.
#
# Case               client        seeder        tracker / DHT node
# tcp_http_tracker   transmission  transmission  opentracker HTTP, server ns
# udp_tracker        transmission  transmission  opentracker UDP, server ns
# mse_required       aria2c        transmission  opentracker HTTP, router
# utp                transmission  transmission  opentracker HTTP, router
# dht_only           aria2c        aria2c        DHT node (aria2c), server ns
# magnet_metadata    transmission  transmission  opentracker HTTP, router
# ipv6               transmission  transmission  static HTTP tracker, router (IPv6)
#
# Where the tracker sits decides what a case proves. The two tracker cases
# reach their tracker across the router, so the tracker detectors are what
# must stop them (the client never learns a peer). The other cases must be
# stopped by the detector of their own transport, so their tracker sits in
# the ROUTER namespace on a router address: the client reaches it through
# the router's input path, which the shipped ruleset does not queue, and
# only the peer traffic crosses the forward path. dht_only has no tracker
# at all and its DHT node is across the router: DHT is what it is about.
#
# Debian's opentracker is built for IPv4 only ("-i ::1" exits with "V4
# Tracker is V4 only!"), so the ipv6 case gets its peer list from
# a static announce reply ("peers6", BEP 7) served over IPv6 by python's
# http.server in the router. Its peer traffic is IPv6 end to end.
#
# Encryption: aria2c always opens with the MSE key exchange when it may
# (only --bt-require-crypto changes anything, and only towards more), and
# transmission's default is "encryption preferred". The cases about
# something else than MSE use transmission with "encryption": 0 (clear
# preferred) on both ends, so their peer wire is in the clear, as the case
# names say; mse_required requires encryption on both ends (aria2c
# --bt-require-crypto --bt-min-crypto-level=arc4, transmission
# "encryption": 2). dht_only's aria2c peers would use MSE, but the case is
# about their DHT traffic, which comes first.
#
# Expected detectors with btblockd (detection log "detector" field):
# tcp_http_tracker http-tracker, udp_tracker udp-tracker, utp utp, dht_only
# dht, magnet_metadata and ipv6 bt-handshake, mse_required mse. Its
# tracker is not seen and the peer is not known beforehand: the mse
# detector has to recognise the encrypted exchange itself (random key
# exchange, then the lengths RC4 keeps of the 68-byte handshake inside).

BT_CASES="tcp_http_tracker udp_tracker mse_required utp dht_only magnet_metadata ipv6"
BT_PAYLOAD_MIN=${BT_PAYLOAD_MIN:-20000000}   # bytes; each payload is random
BT_PAYLOAD_SPREAD=${BT_PAYLOAD_SPREAD:-4000000}  # in [MIN, MIN + SPREAD)
BT_DIR=""
BT_TRACKER_PORT=6969
BT_DHT_PORT=6881      # the lab DHT node's port (UDP), on its own address
BT_SEED_RATE_KBPS=""  # the seeders' upload limit (KB/s) when set (phase late)

bt_log() {
	printf '[bt %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# The case's number (1-7): the last byte of each of its addresses and the
# last digit of each of its ports derive from it.
bt_index() {
	local i=1 c
	for c in $BT_CASES; do
		if [ "$c" = "$1" ]; then
			echo "$i"
			return 0
		fi
		i=$((i + 1))
	done
	bt_log "unknown case '$1'"
	return 1
}

# bt_conf CASE: sets the case's variables:
#   bt_fam         4 or 6 (family of the peer traffic)
#   bt_client      aria2 | transmission
#   bt_seeder      transmission | aria2
#   bt_tracker     http-server | udp-server | http-router | static6-router | dht-server
#   bt_crypto      transmission "encryption" of both ends: 0 clear preferred, 2 required
#   bt_utp         true if uTP is on (and TCP between the peers is refused)
#   bt_magnet      1 if the client starts from a magnet link (BEP 9 metadata)
#   bt_client4/6, bt_seed4/6, bt_aux (tracker or DHT node address),
#   bt_aux_ns (server | router), bt_seed_port, bt_client_port, bt_seed_rpc,
#   bt_client_rpc, bt_case_dir
bt_conf() {
	local i
	i=$(bt_index "$1") || return 1
	bt_fam=4 bt_client=aria2 bt_seeder=transmission bt_crypto=0 bt_utp=false bt_magnet=0
	bt_client4="10.71.1.2$i" bt_client6="fd00:71:1::2$i"
	bt_seed4="10.71.2.2$i" bt_seed6="fd00:71:2::2$i"
	bt_seed_port="5140$i" bt_client_port="5150$i"
	bt_seed_rpc="914$i" bt_client_rpc="915$i"
	bt_case_dir="$BT_DIR/$1"
	case "$1" in
	tcp_http_tracker)
		bt_tracker=http-server bt_client=transmission ;;
	udp_tracker)
		bt_tracker=udp-server bt_client=transmission ;;
	mse_required)
		bt_tracker=http-router bt_crypto=2 ;;
	utp)
		bt_tracker=http-router bt_client=transmission bt_utp=true ;;
	dht_only)
		# aria2c on all three nodes: transmission 3.00 neither
		# announces nor searches while its routing table holds
		# fewer than 4 good nodes ("IPv4 DHT not ready (broken,
		# 2 nodes)"), which a three-node lab DHT never reaches.
		bt_tracker=dht-server bt_seeder=aria2 bt_magnet=1 ;;
	magnet_metadata)
		bt_tracker=http-router bt_client=transmission bt_magnet=1 ;;
	ipv6)
		bt_tracker=static6-router bt_client=transmission bt_fam=6 ;;
	esac
	case "$bt_tracker" in
	*-server) bt_aux_ns=server bt_aux="10.71.2.4$i" ;;
	static6-router) bt_aux_ns=router bt_aux="fd00:71:1::4$i" ;;
	*) bt_aux_ns=router bt_aux="10.71.1.4$i" ;;
	esac
}

bt_case_addrs() {
	bt_conf "$1" || return 1
	if [ "$bt_fam" = 6 ]; then
		printf '%s\n' "$bt_client6" "$bt_seed6" "$bt_aux"
	else
		printf '%s\n' "$bt_client4" "$bt_seed4" "$bt_aux"
	fi
}

# bt_announce_url: the URL put into the .torrent / magnet (empty for DHT).
bt_announce_url() {
	case "$bt_tracker" in
	http-server | http-router) echo "http://$bt_aux:$BT_TRACKER_PORT/announce" ;;
	udp-server) echo "udp://$bt_aux:$BT_TRACKER_PORT/announce" ;;
	static6-router) echo "http://[$bt_aux]:$BT_TRACKER_PORT/announce" ;;
	*) echo "" ;;
	esac
}

# bt_transmission_config DIR ADDR4 ADDR6 PORT RPC ENCRYPTION UTP DHT:
# an isolated transmission-daemon config dir. Every network knob a test
# does not want is off: no LPD or PEX (peers come only from the case's
# tracker or DHT), no NAT-PMP/UPnP, no blocklist, no speed or ratio limit.
bt_transmission_config() {
	mkdir -p "$1/downloads"
	cat >"$1/settings.json" <<EOF
{
    "bind-address-ipv4": "$2",
    "bind-address-ipv6": "$3",
    "peer-port": $4,
    "peer-port-random-on-start": false,
    "port-forwarding-enabled": false,
    "rpc-enabled": true,
    "rpc-bind-address": "127.0.0.1",
    "rpc-port": $5,
    "rpc-authentication-required": false,
    "rpc-whitelist-enabled": false,
    "rpc-host-whitelist-enabled": false,
    "encryption": $6,
    "utp-enabled": $7,
    "dht-enabled": $8,
    "lpd-enabled": false,
    "pex-enabled": false,
    "blocklist-enabled": false,
    "speed-limit-down-enabled": false,
    "speed-limit-up-enabled": $([ -n "$BT_SEED_RATE_KBPS" ] && echo true || echo false),
    "speed-limit-up": ${BT_SEED_RATE_KBPS:-0},
    "alt-speed-enabled": false,
    "ratio-limit-enabled": false,
    "idle-seeding-limit-enabled": false,
    "download-queue-enabled": false,
    "seed-queue-enabled": false,
    "queue-stalled-enabled": false,
    "start-added-torrents": true,
    "incomplete-dir-enabled": false,
    "rename-partial-files": false,
    "download-dir": "$1/downloads",
    "watch-dir-enabled": false,
    "message-level": 2,
    "cache-size-mb": 4,
    "peer-limit-global": 50,
    "peer-limit-per-torrent": 20,
    "umask": 18
}
EOF
}

# bt_transmission_start NS DIR: transmission-daemon in namespace NS with
# config dir DIR, in the foreground as a background job of this shell (the
# lab kills it with the namespace); waits (bounded) until its RPC answers.
# Its pid is left in bt_pid: ip netns exec execs the daemon, so $! is the
# daemon itself (lab_exec would put a subshell in between).
bt_transmission_start() {
	local ns="$1" dir="$2" rpc netns=$LAB_CLIENT
	[ "$ns" = server ] && netns=$LAB_SERVER
	rpc=$(sed -n 's/.*"rpc-port": \([0-9]*\).*/\1/p' "$dir/settings.json")
	ip netns exec "$netns" transmission-daemon --foreground --config-dir "$dir" \
		--pid-file "$dir/daemon.pid" --logfile "$dir/daemon.log" \
		>>"$dir/stdout.log" 2>&1 &
	bt_pid=$!
	LAB_PIDS="$LAB_PIDS $bt_pid"
	# Out of the job table: bash would report each deliberate kill.
	disown "$bt_pid"
	for _ in $(seq 1 100); do
		if lab_exec "$ns" transmission-remote "127.0.0.1:$rpc" -l >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$bt_pid" 2>/dev/null || break
		sleep 0.1
	done
	bt_log "transmission-daemon in $ns ($dir) did not answer on RPC port $rpc:"
	tail -n 20 "$dir/daemon.log" "$dir/stdout.log" >&2 2>/dev/null
	return 1
}

# bt_remote NS RPC ARGS...: transmission-remote against one instance.
bt_remote() {
	local ns="$1" rpc="$2"
	shift 2
	lab_exec "$ns" transmission-remote "127.0.0.1:$rpc" "$@"
}

# bt_percent NS RPC: percent done of torrent 1 (integer, 0 if unknown).
bt_percent() {
	bt_remote "$1" "$2" -t 1 -i 2>/dev/null |
		sed -n 's/^ *Percent Done: \([0-9]*\).*/\1/p' | head -n 1 | grep . || echo 0
}

# bt_opentracker NS ADDR DIR INFOHASH: opentracker on ADDR (HTTP and UDP,
# port BT_TRACKER_PORT) in namespace NS. Debian builds it with a whitelist
# of info hashes; it chroots into DIR and reads the whitelist from there.
bt_opentracker() {
	local pid
	mkdir -p "$3"
	chmod 755 "$3"
	printf '%s\n' "$4" >"$3/whitelist"
	lab_exec "$1" opentracker -i "$2" -p "$BT_TRACKER_PORT" -P "$BT_TRACKER_PORT" \
		-d "$3" -w whitelist >>"$3/opentracker.log" 2>&1 &
	pid=$!
	LAB_PIDS="$LAB_PIDS $pid"
}

# bt_static_tracker6: the ipv6 case's tracker, a file named "announce"
# holding a bencoded reply whose compact peers6 list is the seeder
# (http.server ignores the query string). Served on [bt_aux] in the router.
bt_static_tracker6() {
	local dir="$bt_case_dir/tracker" pid
	mkdir -p "$dir"
	"$LAB_PYTHON" - "$bt_seed6" "$bt_seed_port" "$dir/announce" <<'EOF'
import ipaddress, struct, sys
peer = ipaddress.IPv6Address(sys.argv[1]).packed + struct.pack(">H", int(sys.argv[2]))
body = b"d8:intervali1800e5:peers0:6:peers6" + str(len(peer)).encode() + b":" + peer + b"e"
open(sys.argv[3], "wb").write(body)
EOF
	lab_exec router "$LAB_PYTHON" -u -m http.server --bind "$bt_aux" \
		--directory "$dir" "$BT_TRACKER_PORT" >>"$bt_case_dir/tracker.log" 2>&1 &
	pid=$!
	LAB_PIDS="$LAB_PIDS $pid"
	lab_wait_file "$bt_case_dir/tracker.log" '^Serving HTTP' 5 "$pid"
}

# bt_setup_case CASE: payload, torrent, tracker or DHT node, seeder.
bt_setup_case() {
	local c="$1" url size dir hash aux_dev=s0
	bt_conf "$c" || return 1
	mkdir -p "$bt_case_dir"
	size=$((BT_PAYLOAD_MIN + (RANDOM * 32768 + RANDOM) % BT_PAYLOAD_SPREAD))
	head -c "$size" /dev/urandom >"$bt_case_dir/$c.bin"
	url=$(bt_announce_url)
	# 256 KiB pieces: ~80 pieces, a realistic piece count for the size.
	if ! mktorrent -l 18 ${url:+-a "$url"} -o "$bt_case_dir/$c.torrent" \
		"$bt_case_dir/$c.bin" >"$bt_case_dir/mktorrent.log" 2>&1; then
		bt_log "$c: mktorrent failed:"
		cat "$bt_case_dir/mktorrent.log" >&2
		return 1
	fi
	hash=$(transmission-show "$bt_case_dir/$c.torrent" | sed -n 's/^ *Hash: //p')
	transmission-show -m "$bt_case_dir/$c.torrent" >"$bt_case_dir/magnet"

	# Router-side trackers sit on the router's client-facing link.
	[ "$bt_aux_ns" = router ] && aux_dev=r0
	case "$bt_aux" in
	*:*) lab_exec "$bt_aux_ns" ip addr add "$bt_aux/64" dev "$aux_dev" nodad ;;
	*) lab_exec "$bt_aux_ns" ip addr add "$bt_aux/24" dev "$aux_dev" ;;
	esac
	lab_exec client ip addr add "$bt_client4/24" dev c0
	lab_exec client ip addr add "$bt_client6/64" dev c0 nodad
	lab_exec server ip addr add "$bt_seed4/24" dev s0
	lab_exec server ip addr add "$bt_seed6/64" dev s0 nodad

	case "$bt_tracker" in
	http-* | udp-*)
		bt_opentracker "$bt_aux_ns" "$bt_aux" "$bt_case_dir/opentracker" "$hash" ;;
	static6-router)
		bt_static_tracker6 || return 1 ;;
	dht-server)
		# The lab's DHT bootstrap node: an aria2c whose only job is
		# a magnet of a random hash (its DHT runs while a BitTorrent
		# download does). Seeder and client know only this node.
		dir="$bt_case_dir/dhtnode"
		mkdir -p "$dir"
		lab_exec server aria2c --dir="$dir" --interface="$bt_aux" \
			--listen-port="$BT_DHT_PORT" --dht-listen-port="$BT_DHT_PORT" \
			--enable-dht=true --enable-dht6=false --bt-enable-lpd=false \
			--enable-peer-exchange=false --dht-file-path="$dir/dht.dat" --disable-ipv6=true \
			--summary-interval=0 --log="$dir/aria2.log" --log-level=info \
			"magnet:?xt=urn:btih:$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
			>"$dir/aria2.out" 2>&1 &
		LAB_PIDS="$LAB_PIDS $!" ;;
	esac

	bt_seeder_start "$c"
}

# bt_seeder_start CASE: a seeder with fresh state in a new directory (its
# path and pid are kept in files: bt_run may run in a subshell). Every
# bt_run starts a new one: a seeder that saw the client's address complete
# in a previous run remembers it as a seed and hangs up on it (transmission
# "we are both seeds"), which would pass for a block.
bt_seeder_start() {
	local c="$1" dir addr4
	bt_conf "$c" || return 1
	dir=$(mktemp -d "$bt_case_dir/seeder.XXXXXX")
	echo "$dir" >"$bt_case_dir/seeder.dir"
	mkdir -p "$dir/downloads"
	cp "$bt_case_dir/$c.bin" "$dir/downloads/"
	if [ "$bt_seeder" = aria2 ]; then
		# --seed-ratio=0.0: seed forever; the data is checked first.
		ip netns exec "$LAB_SERVER" aria2c --dir="$dir/downloads" --interface="$bt_seed4" \
			--listen-port="$bt_seed_port" --dht-listen-port="$bt_seed_port" \
			--enable-dht=true --enable-dht6=false --dht-entry-point="$bt_aux:$BT_DHT_PORT" \
			--dht-file-path="$dir/dht.dat" --bt-enable-lpd=false \
			--enable-peer-exchange=false --check-integrity=true --seed-ratio=0.0 --disable-ipv6=true \
			--max-overall-upload-limit="${BT_SEED_RATE_KBPS:-0}K" \
			--summary-interval=0 --log="$dir/aria2.log" --log-level=info \
			"$bt_case_dir/$c.torrent" >"$dir/aria2.out" 2>&1 &
		bt_pid=$!
		LAB_PIDS="$LAB_PIDS $bt_pid"
		disown "$bt_pid"
	else
		addr4=$bt_seed4
		[ "$bt_fam" = 6 ] && addr4=0.0.0.0    # see bt_fetch_transmission
		bt_transmission_config "$dir" "$addr4" "$bt_seed6" "$bt_seed_port" "$bt_seed_rpc" \
			"$bt_crypto" "$bt_utp" false
		bt_transmission_start server "$dir" || return 1
		bt_remote server "$bt_seed_rpc" -a "$bt_case_dir/$c.torrent" >/dev/null || return 1
		bt_remote server "$bt_seed_rpc" -t 1 -v >/dev/null || return 1
	fi
	echo "$bt_pid" >"$bt_case_dir/seeder.pid"
}

# bt_seeder_stop CASE: kills the case's seeder (no goodbye to the tracker
# needed: the next one announces the same address and port).
bt_seeder_stop() {
	local pid
	bt_conf "$1" || return 1
	pid=$(cat "$bt_case_dir/seeder.pid")
	kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	{ wait "$pid"; } 2>/dev/null || true
	rm -rf "$(cat "$bt_case_dir/seeder.dir")"
}

# bt_wait_seeded CASE: waits (bounded, 30 s) until the seeder has verified
# its data and announced it: to its tracker (the seeder's own view of the
# announce: a scrape's seed count also counts a previous run's client that
# finished and was killed without a "stopped" announce), or to the DHT node.
bt_wait_seeded() {
	local c="$1" dir
	bt_conf "$c" || return 1
	dir=$(cat "$bt_case_dir/seeder.dir")
	for _ in $(seq 1 300); do
		if [ "$bt_seeder" = aria2 ]; then
			# Data checked and announced to the lab's DHT node.
			grep -q 'dht response announce_peer' "$dir/aria2.log" 2>/dev/null && return 0
		elif [ "$(bt_percent server "$bt_seed_rpc")" = 100 ]; then
			# The static tracker lists the seeder without an announce.
			[ "$bt_tracker" = static6-router ] && return 0
			bt_remote server "$bt_seed_rpc" -t 1 -it 2>/dev/null |
				grep -q 'Got a list of' && return 0
		fi
		sleep 0.1
	done
	bt_log "$c: seeder not ready after 30 s (percent $(bt_percent server "$bt_seed_rpc"))"
	tail -n 20 "$dir/daemon.log" "$dir/aria2.log" >&2 2>/dev/null
	return 1
}

bt_setup() {
	local c tool
	for tool in opentracker transmission-daemon transmission-remote transmission-show \
		aria2c mktorrent nft; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			printf '\n*** FAIL: %s not found (install the e2e packages: contrib/install-deps.sh) ***\n\n' "$tool" >&2
			return 1
		fi
	done
	BT_DIR="$LAB_TMP/bt"
	mkdir -p "$BT_DIR"
	for c in $BT_CASES; do
		bt_setup_case "$c" || return 1
	done
	for c in $BT_CASES; do
		bt_wait_seeded "$c" || return 1
	done
	bt_log "seeders ready: $BT_CASES"
}

# bt_counters_add CASE: the case's nft table in the client namespace,
# replaced at each run. It counts every packet arriving at the client from
# the seeder, by protocol: "bytes" in bt_run is the IP length of those
# packets (payload plus headers, so an upper bound of the payload received
# from the case's peer). For the utp case it also refuses TCP between the
# two peers in both directions, so uTP is the only transport left.
bt_counters_add() {
	local ip=ip saddr daddr tcp_rules=""
	saddr="$bt_seed4" daddr="$bt_client4"
	if [ "$bt_fam" = 6 ]; then
		ip=ip6 saddr="$bt_seed6" daddr="$bt_client6"
	fi
	if [ "$bt_utp" = true ]; then
		tcp_rules="
		chain refuse_tcp_in {
			type filter hook input priority 0; policy accept;
			$ip saddr $saddr $ip daddr $daddr meta l4proto tcp counter name tcp_refused reject with tcp reset
		}
		chain refuse_tcp_out {
			type filter hook output priority 0; policy accept;
			$ip saddr $daddr $ip daddr $saddr meta l4proto tcp counter name tcp_refused reject with tcp reset
		}"
	fi
	lab_exec client nft delete table inet "bt_$1" 2>/dev/null || true
	lab_exec client nft -f - <<EOF
table inet bt_$1 {
	counter tcp_in { }
	counter udp_in { }
	counter tcp_refused { }
	chain count_in {
		type filter hook input priority -10; policy accept;
		$ip saddr $saddr $ip daddr $daddr meta l4proto tcp counter name tcp_in
		$ip saddr $saddr $ip daddr $daddr meta l4proto udp counter name udp_in
	}$tcp_rules
}
EOF
}

# bt_counter CASE NAME: bytes of one counter of the case's table.
bt_counter() {
	lab_exec client nft list counter inet "bt_$1" "$2" |
		sed -n 's/.*packets [0-9]* bytes \([0-9]*\).*/\1/p'
}

# bt_fetch_aria2 DIR LIMIT: aria2c in the foreground until it completes
# (it exits after the download: --seed-time=0) or LIMIT seconds.
bt_fetch_aria2() {
	local dir="$1" limit="$2" src crypto="" bind dht="--enable-dht=false"
	# The magnet link carries the torrent's tracker (tr=), if it has one.
	src="$bt_case_dir/$bt_case.torrent"
	[ "$bt_magnet" = 1 ] && src=$(cat "$bt_case_dir/magnet")
	[ "$bt_crypto" = 2 ] && crypto="--bt-require-crypto=true --bt-min-crypto-level=arc4"
	[ "$bt_tracker" = dht-server ] &&
		dht="--enable-dht=true --dht-entry-point=$bt_aux:$BT_DHT_PORT --dht-listen-port=$bt_client_port"
	bind="$bt_client4"
	[ "$bt_fam" = 6 ] && bind="$bt_client6"
	# --interface binds every socket, DHT included, to the case's address.
	# shellcheck disable=SC2086 # crypto and dht hold options or nothing
	lab_exec client timeout -k 3 "$limit" aria2c --dir="$dir/downloads" \
		--interface="$bind" --listen-port="$bt_client_port" \
		$dht --enable-dht6=false --bt-enable-lpd=false \
		--enable-peer-exchange=false --seed-time=0 --file-allocation=none \
		--bt-save-metadata=false --bt-tracker-connect-timeout=5 --bt-tracker-timeout=5 \
		--disable-ipv6="$([ "$bt_fam" = 6 ] && echo false || echo true)" \
		--summary-interval=0 --console-log-level=warn --log="$dir/aria2.log" --log-level=info \
		--dht-file-path="$dir/dht.dat" --dht-file-path6="$dir/dht6.dat" \
		$crypto "$src" >"$dir/aria2.out" 2>&1 || true
}

# bt_fetch_transmission DIR LIMIT: a fresh transmission-daemon in the client
# namespace, polled until the torrent is complete or LIMIT seconds, then
# stopped.
bt_fetch_transmission() {
	local dir="$1" limit="$2" src start pid addr4="$bt_client4"
	# IPv6 case: no IPv4 bind address, because transmission binds its
	# tracker requests (libcurl) to the IPv4 one, even towards IPv6.
	[ "$bt_fam" = 6 ] && addr4=0.0.0.0
	bt_transmission_config "$dir" "$addr4" "$bt_client6" "$bt_client_port" \
		"$bt_client_rpc" "$bt_crypto" "$bt_utp" false
	# The magnet link carries the torrent's tracker (tr=), if it has one.
	src="$bt_case_dir/$bt_case.torrent"
	[ "$bt_magnet" = 1 ] && src=$(cat "$bt_case_dir/magnet")
	start=$(date +%s.%N)
	bt_transmission_start client "$dir" || return 1
	pid=$bt_pid
	bt_remote client "$bt_client_rpc" -a "$src" >/dev/null || return 1
	while :; do
		[ "$(bt_percent client "$bt_client_rpc")" = 100 ] && break
		awk -v s="$start" -v l="$limit" -v now="$(date +%s.%N)" 'BEGIN { exit !(now - s >= l) }' && break
		sleep 0.25
	done
	{
		bt_remote client "$bt_client_rpc" -t 1 -i
		bt_remote client "$bt_client_rpc" -t 1 -it
	} >"$dir/final-info.txt" 2>&1 || true
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# bt_run CASE LIMIT: prints one result line; non-zero only on a lab error.
bt_run() {
	local bt_case="$1" limit="$2" dir start end got completed=0 tcp udp
	bt_conf "$bt_case" || return 1
	dir=$(mktemp -d "$bt_case_dir/run.XXXXXX")
	if [ -s "$bt_case_dir/seeder.used" ]; then
		bt_seeder_stop "$bt_case" || return 1
		bt_seeder_start "$bt_case" || return 1
		bt_wait_seeded "$bt_case" || return 1
	fi
	echo "$dir" >"$bt_case_dir/seeder.used"
	bt_counters_add "$bt_case" || return 1
	start=$(date +%s.%N)
	case "$bt_client" in
	aria2) bt_fetch_aria2 "$dir" "$limit" ;;
	transmission) bt_fetch_transmission "$dir" "$limit" || return 1 ;;
	esac
	end=$(date +%s.%N)
	# Completed only if the client wrote the payload, byte for byte.
	got="$dir/downloads/$bt_case.bin"
	if [ -f "$got" ] && cmp -s "$got" "$bt_case_dir/$bt_case.bin"; then
		completed=1
	fi
	tcp=$(bt_counter "$bt_case" tcp_in)
	udp=$(bt_counter "$bt_case" udp_in)
	bt_log "$bt_case: bytes from the seeder: tcp $tcp, udp $udp;" \
		"TCP refused (utp case): $(bt_counter "$bt_case" tcp_refused) bytes"
	if [ "$completed" = 0 ]; then
		# Expected with btblockd; without, the reason is in here.
		bt_log "$bt_case: not complete; the client's last words:"
		# (|| true: one of the two files does not exist, and the
		# caller may run with set -e.)
		{
			tail -n 5 "$dir/aria2.out" || true
			grep -i -E 'state:|percent done:|peers:|error|announce|got a list|tracker' "$dir/final-info.txt" || true
		} 2>/dev/null | sed 's/^/  | /' >&2
	fi
	# The uTP case must really have moved its payload over UDP.
	if [ "$bt_utp" = true ] && [ "$completed" = 1 ] && [ "$tcp" -gt "$udp" ]; then
		bt_log "utp: more TCP ($tcp) than UDP ($udp) bytes from the seeder: not a uTP transfer"
		completed=0
	fi
	printf 'case=%s bytes=%s completed=%s seconds=%s\n' "$bt_case" "$((tcp + udp))" "$completed" \
		"$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')"
}
