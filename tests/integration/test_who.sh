#!/bin/bash
# tests/integration/test_who.sh: a detection names the LAN device behind a masquerading router, and `btblockctl who` finds it from the public address.
#
# Through the real kernel, in namespaces this script creates and always
# removes: the router masquerades the LAN (nft nat table) towards the
# server; the LAN host has a known MAC and a dnsmasq-format lease names
# it. btblockd runs with --seccomp, --protected-interface r0, the lease
# file and a detect-exec hook. A BitTorrent handshake from the LAN host
# to the server must give:
#   1. a detection log line naming the LAN address, the MAC (from the
#      packet), the host name, the interfaces r0 -> r1 and the public
#      (translated) address 10.71.2.1 with a port of the masquerade's
#      range;
#   2. the same in `btblockctl detections --json`, and a table row;
#   3. `btblockctl who PUBLIC:PORT --at TIME` naming the device (exit 0),
#      with the log path from the daemon and with --log; a port nobody
#      had gives exit 1, a malformed one exit 2;
#   4. the hook's standard input holding the detection as one JSON
#      object, the hook running without the seccomp filter and without
#      CAP_NET_ADMIN; stats count the run.
#   5. a forwarded port (DNAT to the LAN host): a handshake from the WAN
#      names the LAN host as the destination, its MAC from the neighbour
#      table (the packet's own is the router's peer on the WAN side) and
#      the public end as the router's forwarded port.
# Each check prints a RESULT line.
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

BTBLOCKCTL=${BTBLOCKCTL:-${BTBLOCKD_BUILDDIR:-.}/src/btblockctl}
BT_PORT=6881
LAN_MAC=02:00:5e:71:01:10
LAN_HOST=lanbox-1
PUBLIC=10.71.2.1          # the router's WAN address: the masquerade's source
# The masquerade's ports, outside the client's ephemeral range: the public
# port is a translation, never the LAN port by chance.
NAT_PORT_MIN=20000
NAT_PORT_MAX=20099
# Section 5: forwarded to the LAN host's second address (the pair of its
# first and the server is banned by section 1), which has a lease too.
FWD_PORT=6889
FWD_HOST=lanbox-2

failures=0

lab_require_binaries || exit $?
lab_require_kernel || exit $?
command -v nft >/dev/null 2>&1 || { lab_unavailable "nft not found"; exit $?; }
lab_trap
lab_create
lab_server_start || fail "traffic server did not start"
lab_sink_start "$BT_PORT" || fail "sink did not start"

ip -n "$LAB_CLIENT" link set c0 address "$LAN_MAC"
lab_exec router nft -f - <<NFT || fail "cannot set up the masquerade"
table ip lab_nat {
	chain pre {
		type nat hook prerouting priority dstnat;
		iifname "r1" tcp dport $FWD_PORT dnat to $(lab_client_addr 1 4)
	}
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "r1" meta l4proto { tcp, udp } masquerade to :$NAT_PORT_MIN-$NAT_PORT_MAX
		oifname "r1" masquerade
	}
}
NFT
lab_probe || fail "no route from client to server"

addr=$(lab_client_addr 0 4)
printf '%s %s %s %s 01:%s\n' "$(( $(date +%s) + 3600 ))" "$LAN_MAC" "$addr" "$LAN_HOST" "$LAN_MAC" \
	>"$LAB_TMP/dhcp.leases"
printf '%s %s %s %s *\n' "$(( $(date +%s) + 3600 ))" "$LAN_MAC" "$(lab_client_addr 1 4)" "$FWD_HOST" \
	>>"$LAB_TMP/dhcp.leases"
# A line for another device, with the first address: the MAC decides.
printf '%s 02:00:5e:71:01:99 %s otherbox *\n' "$(( $(date +%s) + 60 ))" "$addr" >>"$LAB_TMP/dhcp.leases"
cat >"$LAB_TMP/hook.sh" <<HOOK
#!/bin/sh
cat >>"$LAB_TMP/hook.out"
grep -E '^(CapEff|Seccomp):' /proc/\$\$/status >>"$LAB_TMP/hook.status"
HOOK
chmod 755 "$LAB_TMP/hook.sh"

lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0 || fail "btblockd-firewall up failed"
lab_daemon_start --queues 0 --seccomp --protected-interface r0 \
	--dhcp-leases "$LAB_TMP/dhcp.leases" --detect-exec "$LAB_TMP/hook.sh" \
	--detect-log "$LAB_TMP/detect.log" || fail "btblockd did not start"

out=$(lab_bt 0 4 "$BT_PORT" --hold 1) || fail "handshake client: $out"
echo "$out"
lab_wait_file "$LAB_TMP/detect.log" '"action":"block"' 10 "$LAB_DAEMON_PID" ||
	fail "no detection logged"
line=$(grep -m1 '"action":"block"' "$LAB_TMP/detect.log")
echo "RESULT detection log line: $line"

# check_detection LABEL: the JSON object on stdin names the device.
check_detection() {
	local doc
	doc=$(cat)
	"$LAB_PYTHON" - "$1" "$addr" "$LAN_MAC" "$LAN_HOST" "$PUBLIC" "$NAT_PORT_MIN" "$NAT_PORT_MAX" "$doc" <<'PY'
import json, sys
label, addr, mac, host, public, pmin, pmax, doc = sys.argv[1:]
d = json.loads(doc)
bad = []
def want(key, ok, what):
    if not ok:
        bad.append("%s is %r, expected %s" % (key, d.get(key), what))
want("lan", str(d.get("lan", "")).startswith(addr + ":"), addr + ":PORT")
want("mac", d.get("mac") == mac, mac)
want("mac_from", d.get("mac_from") == "packet", "packet")
want("host", d.get("host") == host, host)
want("in", d.get("in") == "r0", "r0")
want("out", d.get("out") == "r1", "r1")
want("remote", str(d.get("remote", "")).startswith("10.71.2.2:"), "10.71.2.2:PORT")
nat = d.get("nat") or {}
pub = str(nat.get("public", ""))
want("nat", pub.startswith(public + ":") and pub.rsplit(":", 1)[1].isdigit() and
     int(pmin) <= int(pub.rsplit(":", 1)[1]) <= int(pmax), "%s:%s-%s" % (public, pmin, pmax))
want("nat_status", d.get("nat_status") == "translated", "translated")
want("detector", bool(d.get("detector")), "a detector")
for b in bad:
    print("FAIL: %s: %s" % (label, b))
print("RESULT %s: lan=%s mac=%s host=%s in=%s out=%s nat=%s" % (label, d.get("lan"),
      d.get("mac"), d.get("host"), d.get("in"), d.get("out"), nat.get("public")))
sys.exit(1 if bad else 0)
PY
}

# ---- 1. the detection log ----------------------------------------------------
echo "$line" | check_detection "detection log" || failures=$((failures + 1))
public=$(echo "$line" | lab_jget nat public)
when=$(echo "$line" | lab_jget time)
lanport=$(echo "$line" | lab_jget lan)

# ---- 2. btblockctl detections ------------------------------------------------
json=$("$BTBLOCKCTL" -s "$LAB_TMP/btblockd.sock" detections --json) || fail "btblockctl detections --json failed"
echo "$json" | "$LAB_PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["detections"][-1]))' |
	check_detection "btblockctl detections --json" || failures=$((failures + 1))
table=$("$BTBLOCKCTL" -s "$LAB_TMP/btblockd.sock" detections) || fail "btblockctl detections failed"
echo "$table"
echo "$table" | grep -F "$lanport" | grep -F "$LAN_MAC" | grep -F "$LAN_HOST" | grep -qF "$public" ||
	check_fail "btblockctl detections: no row with $lanport, $LAN_MAC, $LAN_HOST and $public"

# ---- 3. btblockctl who ---------------------------------------------------------
# The notice's time: the detection's second, as an abuse desk writes it.
notice_at="${when%%.*}Z"
st=0
who=$("$BTBLOCKCTL" -s "$LAB_TMP/btblockd.sock" who "$public" --at "$notice_at") || st=$?
echo "$who"
echo "RESULT who $public --at $notice_at (log path from the daemon): exit $st"
[ "$st" = 0 ] || check_fail "who $public --at $notice_at: exit $st, expected 0"
echo "$who" | grep -F "$lanport" | grep -F "$LAN_MAC" | grep -qF "$LAN_HOST" ||
	check_fail "who $public: the answer does not name $lanport, $LAN_MAC, $LAN_HOST"
st=0
"$BTBLOCKCTL" who "$public" --at "$(date -u -d "$notice_at" +%s)" --log "$LAB_TMP/detect.log" >/dev/null || st=$?
echo "RESULT who $public --at UNIX --log FILE: exit $st"
[ "$st" = 0 ] || check_fail "who --log: exit $st, expected 0"
st=0
"$BTBLOCKCTL" who "$public" --at "$(date -u -d "$notice_at 1 hour ago" +%Y-%m-%dT%H:%M:%SZ)" \
	--log "$LAB_TMP/detect.log" >/dev/null 2>&1 || st=$?
echo "RESULT who an hour before: exit $st"
[ "$st" = 1 ] || check_fail "who an hour before the detection: exit $st, expected 1"
other="$PUBLIC:$(( ${public##*:} + 1 ))"
st=0
"$BTBLOCKCTL" who "$other" --log "$LAB_TMP/detect.log" >/dev/null 2>&1 || st=$?
echo "RESULT who $other: exit $st"
[ "$st" = 1 ] || check_fail "who $other: exit $st, expected 1"
# The LAN address and port were never seen outside: no match either.
st=0
"$BTBLOCKCTL" who "$lanport" --log "$LAB_TMP/detect.log" >/dev/null 2>&1 || st=$?
echo "RESULT who $lanport (the LAN end of a translated flow): exit $st"
[ "$st" = 1 ] || check_fail "who $lanport: exit $st, expected 1"
st=0
"$BTBLOCKCTL" who "$PUBLIC" --log "$LAB_TMP/detect.log" >/dev/null 2>&1 || st=$?
echo "RESULT who without a port: exit $st"
[ "$st" = 2 ] || check_fail "who without a port: exit $st, expected 2"

# ---- 4. the detect-exec hook ---------------------------------------------------
lab_wait_file "$LAB_TMP/hook.status" '^Seccomp:' 10 "$LAB_DAEMON_PID" || fail "the hook did not run"
hook=$(head -n 1 "$LAB_TMP/hook.out")
echo "RESULT hook stdin: $hook"
echo "$hook" | check_detection "detect-exec stdin" || failures=$((failures + 1))
seccomp=$(sed -n 's/^Seccomp:[[:space:]]*//p' "$LAB_TMP/hook.status" | head -n 1)
capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' "$LAB_TMP/hook.status" | head -n 1)
echo "RESULT hook: Seccomp $seccomp, CapEff $capeff"
[ "$seccomp" = 0 ] || check_fail "the hook runs under a seccomp filter (Seccomp: $seccomp)"
# CAP_NET_ADMIN is bit 12.
[ $(( 0x$capeff >> 12 & 1 )) = 0 ] || check_fail "the hook has CAP_NET_ADMIN (CapEff $capeff)"
stats=$(lab_stats)
runs=$(echo "$stats" | lab_jget detections exec runs)
echo "RESULT stats detections: $(echo "$stats" | "$LAB_PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["detections"]))')"
[ "$runs" -ge 1 ] || check_fail "stats detections.exec.runs is $runs"

# ---- 5. a forwarded port: the LAN end is the destination -----------------------
addr=$(lab_client_addr 1 4)
ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" "$LAB_TRAFFIC" sink --bind "$addr" --port "$FWD_PORT" \
	--lifetime 900 >>"$LAB_TMP/lansink.log" 2>&1 &
LAB_PIDS="$LAB_PIDS $!"
lab_wait_file "$LAB_TMP/lansink.log" '^sink ready' 5 "$!" || fail "LAN sink did not start"
out=$(ip netns exec "$LAB_SERVER" "$LAB_PYTHON" "$LAB_TRAFFIC" bt --source "$LAB_SERVER4" \
	--dest "$PUBLIC" --port "$FWD_PORT" --seed 7 --hold 1) || fail "forwarded handshake client: $out"
echo "$out"
lab_wait_file "$LAB_TMP/detect.log" "\"lan\":\"$addr:$FWD_PORT\"" 10 "$LAB_DAEMON_PID" ||
	fail "no detection of the forwarded handshake"
fwd=$(grep -m1 "\"lan\":\"$addr:$FWD_PORT\"" "$LAB_TMP/detect.log")
echo "RESULT forwarded port: $fwd"
"$LAB_PYTHON" - "$fwd" "$addr:$FWD_PORT" "$LAN_MAC" "$FWD_HOST" "$PUBLIC:$FWD_PORT" <<'PY' ||
import json, sys
d = json.loads(sys.argv[1])
want = {"lan": sys.argv[2], "mac": sys.argv[3], "mac_from": "neighbour", "host": sys.argv[4],
        "in": "r1", "out": "r0", "nat_status": "translated"}
bad = ["%s is %r, expected %r" % (k, d.get(k), v) for k, v in want.items() if d.get(k) != v]
if (d.get("nat") or {}).get("public") != sys.argv[5]:
    bad.append("nat is %r, expected public %s" % (d.get("nat"), sys.argv[5]))
for b in bad:
    print("FAIL: forwarded port: " + b)
sys.exit(1 if bad else 0)
PY
	failures=$((failures + 1))
st=0
"$BTBLOCKCTL" who "$PUBLIC:$FWD_PORT" --log "$LAB_TMP/detect.log" | grep -F "$addr:$FWD_PORT" |
	grep -qF "$FWD_HOST" || st=$?
echo "RESULT who $PUBLIC:$FWD_PORT (forwarded): $st"
[ "$st" = 0 ] || check_fail "who $PUBLIC:$FWD_PORT does not name $addr:$FWD_PORT and $FWD_HOST"

lab_daemon_kill -TERM
lab_exec router "$BTBLOCKD_FIREWALL" down || check_fail "btblockd-firewall down failed"
[ "$failures" = 0 ] || fail "$failures check(s) failed"
echo "PASS"
