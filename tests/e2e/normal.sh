# tests/e2e/normal.sh: the e2e lab's normal traffic: real services through the router, checked end to end (sourced bash library).
# shellcheck shell=bash
#
# Sourced by tests/e2e/test_e2e.sh after tests/integration/lab.sh. Uses only
# the lab's default addresses (client 10.71.1.10-13 / fd00:71:1::10-13,
# server 10.71.2.2 / fd00:71:2::2): the BitTorrent cases use addresses of
# their own, so a ban of a BitTorrent pair can never hit a normal case.
#
#   normal_setup            link shaping, payload, certificate, nginx, sshd,
#                           dnsmasq, the echo server (all in $LAB_TMP)
#   normal_run CASE         NORMAL_REPEATS runs of one case; prints one line:
#     case=<name> bytes=<N> completed=<0|1> seconds=<S> rate=<value><unit> checksum=<ok|bad|n/a> runs=<r1/r2/..>
#   normal_longlived_start  opens the long-lived TCP connection
#   normal_longlived_stop   closes it; prints its result line (same keys)
#
# Cases and families:
#   http      20 MB from nginx, IPv4, curl, sha256 compared
#   https     the same over TLS, IPv6, certificate verified against the
#             lab's own self-signed CA certificate (made by openssl at setup)
#   scp       20 MB from sshd (own config, host key, authorized key), IPv4,
#             the runs of a phase over one new SSH connection
#   dns       500 queries to dnsmasq (own port, 500 local records), IPv6,
#             at 250 per second; every answer compared with its record
#   udp_bulk  10 MB in 1400-byte datagrams at a fixed rate, IPv4; every
#             datagram checked, loss counted, sha256 over the whole stream
#   long_tcp  (separate) one connection over IPv6 echoing a line every
#             second from before phase "off" until the end
#
# Throughput: the router's two interfaces are shaped to $E2E_LINK_RATE
# (htb, default 100 Mbit/s, a WAN line) in both phases, so every transfer
# is bound by the link, not by a CPU that three other jobs share. Each
# case runs NORMAL_REPEATS (3) times per phase and reports the median.
# Comparing the two medians then asks one question and nothing
# else: does btblockd make the link slower? (It only sees the first
# packets of each flow, so a decided download must run at link speed.)
# Unshaped, the figures would measure the machine's load at that moment.

NORMAL_CASES="http https scp dns udp_bulk"
NORMAL_BYTES=${NORMAL_BYTES:-20000000}
NORMAL_REPEATS=${NORMAL_REPEATS:-3}
NORMAL_DNS_QUERIES=${NORMAL_DNS_QUERIES:-500}
NORMAL_DNS_RATE=${NORMAL_DNS_RATE:-250}
NORMAL_UDP_BYTES=${NORMAL_UDP_BYTES:-10000000}
NORMAL_UDP_MBIT=${NORMAL_UDP_MBIT:-50}
E2E_LINK_RATE=${E2E_LINK_RATE:-100mbit}
NORMAL_HTTP_PORT=8080
NORMAL_HTTPS_PORT=8443
NORMAL_SSH_PORT=2222
NORMAL_DNS_PORT=5353
NORMAL_UDP_PORT=7002
NORMAL_ECHO_PORT=7001
NORMAL_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/normal.py"
NORMAL_DIR=""
NORMAL_SHA256=""
NORMAL_LL_PID=""
# The daemons live in sbin, which a non-login root shell may not search.
case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH="$PATH:/usr/sbin:/sbin" ;;
esac

normal_log() {
	printf '[normal %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# The programs the cases run, with the Debian package that has each: a
# missing one fails the run loudly (contrib/install-deps.sh installs them).
normal_require() {
	local pair missing=""
	for pair in nginx:nginx sshd:openssh-server ssh:openssh-client scp:openssh-client \
		ssh-keygen:openssh-client dnsmasq:dnsmasq curl:curl \
		openssl:openssl sha256sum:coreutils tc:iproute2; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}(${pair%%:*})"
	done
	if [ -n "$missing" ]; then
		printf '\n*** FAIL: e2e needs the Debian packages:%s; run contrib/install-deps.sh ***\n\n' "$missing" >&2
		return 1
	fi
}

# normal_start NAME READY-CHECK CMD...: starts CMD in the server namespace
# as a lab job logging to $LAB_TMP/NAME.log, then waits (bounded, 5 s) for
# READY-CHECK (a shell command) to succeed.
normal_start() {
	local name="$1" check="$2" pid n
	shift 2
	ip netns exec "$LAB_SERVER" "$@" >>"$LAB_TMP/$name.log" 2>&1 &
	pid=$!
	LAB_PIDS="$LAB_PIDS $pid"
	for n in $(seq 1 100); do
		if eval "$check" >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	normal_log "$name did not start:"
	sed 's/^/  | /' "$LAB_TMP/$name.log" >&2
	return 1
}

# True when something in the server namespace listens on PROTO port PORT.
normal_listening() {
	ip netns exec "$LAB_SERVER" ss -Hln"$1" "sport = :$2" | grep -q .
}

normal_shape() {
	local dev
	for dev in r0 r1; do
		ip netns exec "$LAB_ROUTER" tc qdisc replace dev "$dev" root handle 1: htb default 1
		ip netns exec "$LAB_ROUTER" tc class replace dev "$dev" parent 1: classid 1:1 \
			htb rate "$E2E_LINK_RATE" ceil "$E2E_LINK_RATE"
	done
	normal_log "router links shaped to $E2E_LINK_RATE each way"
}

normal_setup_www() {
	local www="$NORMAL_DIR/www" tls="$NORMAL_DIR/tls"
	mkdir -p "$www" "$tls" "$NORMAL_DIR/nginx"
	head -c "$NORMAL_BYTES" /dev/urandom >"$www/payload.bin"
	NORMAL_SHA256=$(sha256sum "$www/payload.bin" | cut -d' ' -f1)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=btblockd e2e lab" -addext "subjectAltName=IP:$LAB_SERVER6,IP:$LAB_SERVER4" \
		-keyout "$tls/key.pem" -out "$tls/cert.pem" 2>"$LAB_TMP/openssl.log"
	# Every path nginx writes is under $NORMAL_DIR; the workers run as
	# root because the lab's temporary directory is private to root.
	cat >"$NORMAL_DIR/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $NORMAL_DIR/nginx/nginx.pid;
error_log $LAB_TMP/nginx.log;
events { worker_connections 64; }
http {
	access_log off;
	sendfile on;
	default_type application/octet-stream;
	client_body_temp_path $NORMAL_DIR/nginx/body;
	proxy_temp_path $NORMAL_DIR/nginx/proxy;
	fastcgi_temp_path $NORMAL_DIR/nginx/fastcgi;
	uwsgi_temp_path $NORMAL_DIR/nginx/uwsgi;
	scgi_temp_path $NORMAL_DIR/nginx/scgi;
	server {
		listen $LAB_SERVER4:$NORMAL_HTTP_PORT;
		listen [$LAB_SERVER6]:$NORMAL_HTTPS_PORT ssl;
		ssl_certificate $tls/cert.pem;
		ssl_certificate_key $tls/key.pem;
		root $www;
	}
}
EOF
	normal_start nginx "normal_listening t $NORMAL_HTTPS_PORT" \
		nginx -e "$LAB_TMP/nginx.log" -p "$NORMAL_DIR/nginx" -c "$NORMAL_DIR/nginx/nginx.conf"
}

# sshd needs its privilege separation directory /run/sshd, which only the
# host's service would create: the lab's sshd gets an empty tmpfs on /run
# in its own mount namespace (ip netns exec makes one), the host's /run is
# never touched.
normal_setup_ssh() {
	local ssh="$NORMAL_DIR/ssh"
	mkdir -p "$ssh"
	ssh-keygen -q -t ed25519 -N '' -C e2e-host -f "$ssh/host_key"
	ssh-keygen -q -t ed25519 -N '' -C e2e-client -f "$ssh/id"
	cp "$ssh/id.pub" "$ssh/authorized_keys"
	printf '[%s]:%s %s\n' "$LAB_SERVER4" "$NORMAL_SSH_PORT" "$(cut -d' ' -f1-2 "$ssh/host_key.pub")" \
		>"$ssh/known_hosts"
	cat >"$ssh/sshd_config" <<EOF
ListenAddress $LAB_SERVER4:$NORMAL_SSH_PORT
ListenAddress [$LAB_SERVER6]:$NORMAL_SSH_PORT
HostKey $ssh/host_key
PidFile $ssh/sshd.pid
AuthorizedKeysFile $ssh/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp internal-sftp
EOF
	# -D: foreground, -e: log to stderr (our log file); sshd re-executes
	# itself for every connection, so it needs its absolute path.
	normal_start sshd "normal_listening t $NORMAL_SSH_PORT" \
		sh -c 'mount -t tmpfs -o mode=0755 lab-run /run && mkdir -m 0755 /run/sshd && exec "$@"' sshd \
		"$(command -v sshd)" -D -e -f "$ssh/sshd_config"
}

# 500 local records h<i>.e2e.lab -> 10.200.<i/250>.<i%250+1>, served from a
# hosts file only: no upstream, no system files, no DHCP.
normal_setup_dns() {
	local dns="$NORMAL_DIR/dns" i
	mkdir -p "$dns"
	for i in $(seq 0 $((NORMAL_DNS_QUERIES - 1))); do
		printf '10.200.%d.%d h%d.e2e.lab\n' $((i / 250)) $((i % 250 + 1)) "$i"
	done >"$dns/hosts"
	normal_start dnsmasq "normal_listening u $NORMAL_DNS_PORT" \
		dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root --group=root \
		--pid-file="$dns/dnsmasq.pid" --port="$NORMAL_DNS_PORT" \
		--listen-address="$LAB_SERVER4" --listen-address="$LAB_SERVER6" --bind-interfaces \
		--no-resolv --no-hosts --no-poll --addn-hosts="$dns/hosts" --local=/e2e.lab/ \
		--cache-size=1000 --log-facility=-
}

normal_setup() {
	normal_require || return 1
	NORMAL_DIR="$LAB_TMP/normal"
	mkdir -p "$NORMAL_DIR"
	normal_shape
	normal_setup_www
	normal_setup_ssh
	normal_setup_dns
	normal_start echo "normal_listening t $NORMAL_ECHO_PORT" \
		"$LAB_PYTHON" -u "$NORMAL_PY" echo --bind "$LAB_SERVER6" --port "$NORMAL_ECHO_PORT"
	normal_log "nginx, sshd, dnsmasq and the echo server up; payload sha256 ${NORMAL_SHA256:0:16}..."
}

# --- one run of each case: prints "bytes seconds rate checksum completed" --

# normal_fetched FILE STATUS T0 T1: the run's figures from the fetched copy
# of the payload (removed), the client's exit status and the wall clock.
normal_fetched() {
	local size sum secs completed=0
	size=$(stat -c %s "$1" 2>/dev/null || echo 0)
	sum=$(sha256sum "$1" 2>/dev/null | cut -d' ' -f1)
	rm -f "$1"
	if [ "$sum" = "$NORMAL_SHA256" ]; then sum=ok; else sum=bad; fi
	[ "$2" = 0 ] && [ "$sum" = ok ] && completed=1
	secs=$(normal_elapsed "$3" "$4")
	echo "$size $secs $(normal_mbit "$size" "$secs") $sum $completed"
}

# normal_mbit BYTES SECONDS
normal_mbit() {
	awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? b * 8 / s / 1e6 : 0) }'
}

normal_now() {
	date +%s.%N
}

normal_elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

normal_once_curl() {
	local url="$1" out="$NORMAL_DIR/fetched.bin" t0 rc=0
	shift
	t0=$(normal_now)
	ip netns exec "$LAB_CLIENT" curl --silent --show-error --fail --max-time 60 \
		"$@" -o "$out" "$url" 2>>"$LAB_TMP/curl.log" || rc=$?
	normal_fetched "$out" "$rc" "$t0" "$(normal_now)"
}

normal_once_http() {
	normal_once_curl "http://$LAB_SERVER4:$NORMAL_HTTP_PORT/payload.bin"
}

normal_once_https() {
	normal_once_curl "https://[$LAB_SERVER6]:$NORMAL_HTTPS_PORT/payload.bin" \
		--cacert "$NORMAL_DIR/tls/cert.pem"
}

# The client's ssh options: the lab's key, known_hosts and port only (no
# user or system configuration), and one multiplexing socket.
normal_ssh() {
	local prog="$1" ssh="$NORMAL_DIR/ssh"
	shift
	ip netns exec "$LAB_CLIENT" timeout 60 "$prog" -F /dev/null -i "$ssh/id" \
		-o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$ssh/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o ConnectTimeout=10 -o Port="$NORMAL_SSH_PORT" -o ControlPath="$ssh/mux" "$@"
}

# scp's runs of a phase share one SSH connection, opened here: a new TCP
# flow through the router (and btblockd) in every phase, but its key
# exchange, CPU bound, and the noise of a shared machine, stays out of the
# timed transfers, which are then bound by the link like the downloads.
normal_begin_scp() {
	normal_ssh ssh -o ControlMaster=yes -o ControlPersist=no -fN "root@$LAB_SERVER4" \
		2>>"$LAB_TMP/scp.log"
}

normal_end_scp() {
	normal_ssh ssh -O exit "root@$LAB_SERVER4" 2>>"$LAB_TMP/scp.log" || true
}

normal_once_scp() {
	local out="$NORMAL_DIR/fetched.bin" t0 rc=0
	t0=$(normal_now)
	normal_ssh scp -q -o ControlMaster=no "root@$LAB_SERVER4:$NORMAL_DIR/www/payload.bin" "$out" \
		2>>"$LAB_TMP/scp.log" || rc=$?
	normal_fetched "$out" "$rc" "$t0" "$(normal_now)"
}

# NORMAL_DNS_RATE queries per second, each from a new socket as a stub
# resolver sends them: a fixed offered load, like udp_bulk's fixed rate.
# Timing queries back to back instead would measure the lab's 0.1 ms RTT,
# where the daemon's few microseconds per new flow weigh 30 % (a router's
# clients see milliseconds to any DNS server); median_ms in the log shows
# that per-query difference anyway.
normal_once_dns() {
	local line
	line=$(ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" "$NORMAL_PY" dns --hosts "$NORMAL_DIR/dns/hosts" \
		--source "$(lab_client_addr 0 6)" --dest "$LAB_SERVER6" --port "$NORMAL_DNS_PORT" \
		--rate "$NORMAL_DNS_RATE" 2>>"$LAB_TMP/dns.log") || true
	normal_summary "$line" dns
}

# The receiver in the server namespace reports what really arrived.
normal_once_udp_bulk() {
	local log="$NORMAL_DIR/udprecv.log" seed expect pid
	seed=$(( $(date +%s) % 100000 ))
	expect=$("$LAB_PYTHON" "$NORMAL_PY" udpsend --seed "$seed" --bytes "$NORMAL_UDP_BYTES" --print-sha256)
	: >"$log"
	ip netns exec "$LAB_SERVER" "$LAB_PYTHON" -u "$NORMAL_PY" udprecv --bind "$LAB_SERVER4" \
		--port "$NORMAL_UDP_PORT" --seed "$seed" --expect-sha256 "$expect" --timeout 60 >"$log" 2>&1 &
	pid=$!
	LAB_PIDS="$LAB_PIDS $pid"
	lab_wait_file "$log" '^udprecv ready' 5 "$pid" || return 1
	ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" "$NORMAL_PY" udpsend --source "$(lab_client_addr 1 4)" \
		--dest "$LAB_SERVER4" --port "$NORMAL_UDP_PORT" --seed "$seed" --bytes "$NORMAL_UDP_BYTES" \
		--rate-mbit "$NORMAL_UDP_MBIT" >>"$LAB_TMP/udpsend.log" 2>&1 || true
	normal_reap "$pid"
	cat "$log" >>"$LAB_TMP/udprecv.log"
	normal_summary "$(grep '^case=udp_bulk' "$log" || true)" udp_bulk
}

# normal_reap PID: gives a job that finishes on its own 10 s, then kills it.
normal_reap() {
	local n
	for n in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || break
		[ "$n" = 100 ] || sleep 0.1
	done
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# normal_summary LINE CASE: "bytes seconds rate checksum completed" of a
# normal.py result line; its details (loss, latency) go to the log.
normal_summary() {
	local line="$1"
	if [ -z "$line" ]; then
		normal_log "$2: no result"
		echo "0 0 0 bad 0"
		return 0
	fi
	normal_log "$2: ${line#case=* }"
	echo "$(normal_field bytes "$line") $(normal_field seconds "$line")" \
		"$(normal_field rate "$line" | sed 's/[^0-9.].*//') $(normal_field checksum "$line")" \
		"$(normal_field completed "$line")"
}

# normal_field KEY LINE: the value of key=value field KEY.
normal_field() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1
}

normal_unit() {
	case "$1" in
	dns) echo "q/s" ;;
	*) echo "Mbit/s" ;;
	esac
}

# normal_run CASE: NORMAL_REPEATS runs; the line reports the run with the
# median rate (its bytes and seconds), completed/checksum over all runs.
normal_run() {
	local c="$1" i res runs="" all="" completed=1 checksum=ok med
	case " $NORMAL_CASES " in
	*" $c "*) ;;
	*) normal_log "unknown normal case '$c'"; return 2 ;;
	esac
	if declare -F "normal_begin_$c" >/dev/null && ! "normal_begin_$c"; then
		normal_log "$c: setting up the runs failed"
		return 1
	fi
	for i in $(seq 1 "$NORMAL_REPEATS"); do
		res=$("normal_once_$c") || return 1
		# shellcheck disable=SC2086 # the five figures, one per word
		set -- $res
		[ "$5" = 1 ] || completed=0
		[ "$4" = ok ] || checksum=bad
		runs="$runs${runs:+/}$3"
		all="$all$3 $1 $2
"
	done
	if declare -F "normal_end_$c" >/dev/null; then
		"normal_end_$c"
	fi
	med=$(printf '%s' "$all" | sort -g | sed -n "$(( (NORMAL_REPEATS + 1) / 2 ))p")
	# shellcheck disable=SC2086 # rate bytes seconds
	set -- $med
	printf 'case=%s bytes=%s completed=%s seconds=%s rate=%s%s checksum=%s runs=%s\n' \
		"$c" "$2" "$completed" "$3" "$1" "$(normal_unit "$c")" "$checksum" "$runs"
}

normal_longlived_start() {
	: >"$LAB_TMP/longlived.log"
	rm -f "$NORMAL_DIR/longlived.stop"
	ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" -u "$NORMAL_PY" longlived \
		--source "$(lab_client_addr 2 6)" --dest "$LAB_SERVER6" --port "$NORMAL_ECHO_PORT" \
		--stop-file "$NORMAL_DIR/longlived.stop" >"$LAB_TMP/longlived.log" 2>&1 &
	NORMAL_LL_PID=$!
	LAB_PIDS="$LAB_PIDS $NORMAL_LL_PID"
	lab_wait_file "$LAB_TMP/longlived.log" '^longlived connected' 10 "$NORMAL_LL_PID"
}

# Prints the long-lived connection's result line (completed=0 if it died).
normal_longlived_stop() {
	local line
	touch "$NORMAL_DIR/longlived.stop"
	normal_reap "$NORMAL_LL_PID"
	line=$(grep '^case=long_tcp' "$LAB_TMP/longlived.log" || true)
	printf '%s\n' "${line:-case=long_tcp bytes=0 completed=0 seconds=0 rate=0x/s checksum=bad error=no_result}"
}
