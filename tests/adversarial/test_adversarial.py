#!/usr/bin/env python3
"""test_adversarial.py - captures in which a stranger tries to turn
btblockd's decisions against the network, replayed with --read-pcap.

The protected side is the private address space (192.168.1.x, fd00:1::x
here); remote hosts have public-looking addresses. What the engine must
hold to:

  proof     bytes the protected side's own flow carried in a shape only
            BitTorrent has: the flow is blocked; a ban of the address pair
            only when the protected side took part in a genuine two-way
            exchange (a TCP segment acknowledging the other side's SYN, or
            BitTorrent from both directions).
  evidence  what a remote party said in answer to what the protected side
            asked (a DHT reply matching its query, a tracker's peer list on
            the flow that asked, PEX inside a flow that is BitTorrent both
            ways): may make a later flow to that exact ip:port (>= 1024)
            suspicious; blocks it only when its payload is not another
            known protocol, and never bans.
  noise     anything unsolicited or spoofable: never learned, never a ban.

Each scenario is one capture (the engine starts afresh per file) holding
the attack, the flows it aims at, and real BitTorrent that must still be
blocked. Every assertion prints one line naming its scenario; a summary
follows. Exit status 0 when all pass, 1 otherwise.

Usage: BTBLOCKD=path/to/btblockd test_adversarial.py [NAME-SUBSTRING...]
  ADVERSARIAL_KEEP=DIR keeps the captures and the engine's output in DIR.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True	# the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from craft import (  # noqa: E402
    DLT_EN10MB, DLT_RAW, Capture, Tcp, UTP_DATA, UTP_STATE, UTP_SYN, ACK, PSH, SYN, bencode, bt_handshake,
    compact_node, compact_peer, dht_get_peers, dht_ping, dht_values_reply, dns_query,
    dns_response, ext_handshake, http_get, http_response, krpc_query,
    lsd_announce, node_id, openvpn_control, openvpn_hard_reset_client,
    openvpn_hard_reset_server, pw_have, rand_bytes, random_stream, rng_for,
    ssh_banner, tls_alert, tls_app_data, tls_client_hello, tls_server_hello,
    tracker_announce, tracker_announce_reply, tracker_connect, tracker_connect_reply,
    ut_pex, utp_packet,
)

# The protected side.
A, B, C = "192.168.1.10", "192.168.1.11", "192.168.1.12"
WEB = "192.168.1.20"		# a port-forwarded server
NEIGHBOUR = "192.168.1.30"	# whose address a LAN host forges
TORRENT = "192.168.1.50"	# the host really running a client
# SLAAC-style (EUI-64) addresses of one fd00:1::/64
A6, B6 = "fd00:1::5054:ff:fe12:3410", "fd00:1::5054:ff:fe12:3411"
C6, TORRENT6 = "fd00:1::21a:2bff:fe3c:4d12", "fd00:1::21a:2bff:fe3c:4d50"

# Public-looking remote hosts.
DNS4, DNS6 = "8.8.8.8", "2001:4860:4860::8888"
PEER4, PEER4_UTP = "198.51.100.200", "198.51.100.201"
PEER6, PEER6_UTP = "2001:db8::200", "2001:db8::201"


def ep(addr, port):
    return "%s:%d" % (addr, port)


class Expect:
    """What one flow must come out as. kind: "block", "allow" or "noban"
    (allowed, or blocked without a ban)."""

    def __init__(self, l4, a, b, label, kind, reasons=(), ban=None, once=False,
                 decided=False):
        self.l4 = l4
        self.a, self.b = ep(*a), ep(*b)
        self.label = label
        self.kind = kind
        self.reasons = reasons
        self.ban = ban
        self.once = once
        self.decided = decided

    def key(self):
        return (self.l4, frozenset((self.a, self.b)))

    def flow(self):
        return "%s %s -> %s" % (self.l4, self.a, self.b)


class Scenario:
    def __init__(self, name, attack, args=(), linktype=DLT_RAW):
        self.name = name
        self.attack = attack	# one line: what the stranger tries
        self.args = list(args)
        self.cap = Capture(linktype)
        self.rng = rng_for(name)
        self.expects = []

    def block(self, l4, a, b, label, reasons, ban=None, once=False):
        if isinstance(reasons, str):
            reasons = (reasons,)
        self.expects.append(Expect(l4, a, b, label, "block", reasons, ban, once))

    def allow(self, l4, a, b, label, once=False, decided=False):
        self.expects.append(Expect(l4, a, b, label, "allow", once=once, decided=decided))

    def noban(self, l4, a, b, label):
        self.expects.append(Expect(l4, a, b, label, "noban"))


# ------------------------------------------------------------ flows


def real_bt(sc, v6=False, sport=51001):
    """Real BitTorrent from the protected side, answered: a TCP peer wire
    handshake after a correct three-way handshake, and a uTP SYN answered
    by STATE. Both blocked with a ban."""
    lan, peer, upeer = (TORRENT6, PEER6, PEER6_UTP) if v6 else (TORRENT, PEER4, PEER4_UTP)
    t = Tcp(sc.cap, lan, sport, peer, 6881, isn_c=0x11223344, isn_s=0x55667788)
    t.handshake()
    t.c(bt_handshake(sc.rng))
    t.s(bt_handshake(sc.rng))
    t.ack()
    sc.block("tcp", (lan, sport), (peer, 6881), "real BitTorrent: LAN peer wire handshake, "
             "answered", "bt-handshake", ban=True)
    conn = 0x3A5C
    sc.cap.udp(lan, sport + 1, upeer, 6881, utp_packet(UTP_SYN, conn, 100, 0, ts=123456789))
    sc.cap.udp(upeer, 6881, lan, sport + 1, utp_packet(UTP_STATE, conn, 7000, 100,
                                                       ts=987654321, ts_diff=1200))
    sc.block("udp", (lan, sport + 1), (upeer, 6881), "real BitTorrent: LAN uTP SYN answered "
             "by STATE", "utp", ban=True)


def dns_exchange(sc, client, cport, server, sport, label, name="www.example.com"):
    qid = sc.rng.getrandbits(16)
    sc.cap.udp(client, cport, server, sport, dns_query(qid, name))
    sc.cap.udp(server, sport, client, cport, dns_response(qid, name))
    sc.allow("udp", (client, cport), (server, sport), label)


def tls_exchange(sc, client, cport, server, sport, label, sni="www.example.com",
                 expect=True):
    """A full TLS connection: three-way handshake, ClientHello,
    ServerHello flight, application data both ways (6 payload packets)."""
    t = Tcp(sc.cap, client, cport, server, sport, isn_c=sc.rng.getrandbits(32),
            isn_s=sc.rng.getrandbits(32))
    t.handshake()
    t.c(tls_client_hello(sc.rng, sni))
    t.s(tls_server_hello(sc.rng))
    t.c(tls_app_data(sc.rng, 80))
    t.c(tls_app_data(sc.rng, 420))
    t.s(tls_app_data(sc.rng, 1300))
    t.s(tls_app_data(sc.rng, 900))
    t.ack()
    if expect:
        sc.allow("tcp", (client, cport), (server, sport), label)


# lengths that are not the ones MSE gives a BitTorrent handshake (68, 82, 124)
RANDOM_LENGTHS = (300, 220, 700, 900, 400, 1100)


def random_tcp(sc, client, cport, server, sport, label, expect="allow", reasons=(),
               ban=None):
    """An encrypted-looking TCP connection: random bytes both ways."""
    t = Tcp(sc.cap, client, cport, server, sport, isn_c=sc.rng.getrandbits(32),
            isn_s=sc.rng.getrandbits(32))
    t.handshake()
    for i, n in enumerate(RANDOM_LENGTHS):
        (t.c if i % 2 == 0 else t.s)(random_stream(sc.rng, n))
    t.ack()
    if expect == "allow":
        sc.allow("tcp", (client, cport), (server, sport), label)
    else:
        sc.block("tcp", (client, cport), (server, sport), label, reasons, ban=ban)


def openvpn_udp(sc, client, cport, server, sport, label):
    hr = openvpn_hard_reset_client(sc.rng)
    sess = hr[1:9]
    sc.cap.udp(client, cport, server, sport, hr)
    sc.cap.udp(server, sport, client, cport, openvpn_hard_reset_server(sc.rng, sess))
    sc.cap.udp(client, cport, server, sport,
               openvpn_control(sc.rng, sess, 1, tls_client_hello(sc.rng, "vpn.example.net")))
    sc.cap.udp(server, sport, client, cport, openvpn_control(sc.rng, rand_bytes(sc.rng, 8), 1,
                                                             rand_bytes(sc.rng, 1100)))
    sc.allow("udp", (client, cport), (server, sport), label)


# ------------------------------------------------------------ 1. DHT to a DNS server


def s1_dht_ping_dns(v6, port):
    fam = "ipv6" if v6 else "ipv4"
    a, b, c, dns = (A6, B6, C6, DNS6) if v6 else (A, B, C, DNS4)
    sc = Scenario("1-dht-ping-to-dns%d-%s" % (port, fam),
                  "one DHT ping from LAN host A to a DNS server's port %d, so that the "
                  "server's ip:port gets learned and everyone's DNS blocked" % port)
    sc.cap.udp(a, 40001, dns, port, dht_ping(sc.rng))
    sc.block("udp", (a, 40001), (dns, port), "the DHT ping itself (a single, unanswered "
             "query)", "dht", ban=False)
    dns_exchange(sc, b, 40100, dns, port, "DNS from host B afterwards")
    dns_exchange(sc, c, 40200, dns, port, "DNS from host C afterwards")
    dns_exchange(sc, a, 40002, dns, port, "DNS from host A itself, another port")
    dns_exchange(sc, b, 40101, dns, port, "DNS from host B again, new port")
    real_bt(sc, v6)
    return sc


# ------------------------------------------------------------ 2. BT to a forwarded server


def s2_forwarded(port, answered):
    kind = ("answered-" + ("tls-alert" if port == 443 else "http400")) if answered \
        else "syn-only"
    sc = Scenario("2-bt-to-forwarded-%d-%s" % (port, kind),
                  "a remote sends a peer wire handshake to the LAN's port-forwarded "
                  "server %s:%d so that the server gets learned as a peer" % (WEB, port))
    attacker = "203.0.113.66"
    t = Tcp(sc.cap, attacker, 51000, WEB, port, isn_c=0x0BAD0000, isn_s=0x600D0000)
    if answered:
        t.handshake()
        t.c(bt_handshake(sc.rng))
        t.s(tls_alert() if port == 443 else
            http_response(400, b"<html><body>400 Bad Request</body></html>\n"))
    else:
        t.syn()
        t.c(bt_handshake(sc.rng), ack=0x12345678)
    sc.block("tcp", (attacker, 51000), (WEB, port), "the attack flow (the server never "
             "spoke BitTorrent)", "bt-handshake", ban=False)
    for i, client in enumerate(("198.51.100.10", "198.51.100.11", "198.51.100.12")):
        tls_exchange(sc, client, 52000 + i, WEB, port, "TLS client %s to the server "
                     "afterwards" % client)
    real_bt(sc)
    return sc


# ------------------------------------------------------------ 3. poisoning by noise

# The services named by the poisoned lists (distinct per scenario below).
def services(base):
    return {"tls": ("198.51.100.%d" % base, 5228), "ovpn": ("198.51.100.%d" % (base + 1), 1194),
            "alt": ("198.51.100.%d" % (base + 2), 8443),
            "bt": ("198.51.100.%d" % (base + 3), 51413)}


def victims(sc, svc):
    tls_exchange(sc, B, 53001, svc["tls"][0], svc["tls"][1],
                 "TLS to %s named by the attacker" % ep(*svc["tls"]), sni="mtalk.google.com")
    openvpn_udp(sc, B, 53002, svc["ovpn"][0], svc["ovpn"][1],
                "OpenVPN/UDP to %s named by the attacker" % ep(*svc["ovpn"]))
    random_tcp(sc, B, 53003, svc["alt"][0], svc["alt"][1],
               "random-bytes TCP to %s named by the attacker" % ep(*svc["alt"]))
    random_tcp(sc, B, 53004, svc["bt"][0], svc["bt"][1],
               "random-bytes TCP to %s named by the attacker" % ep(*svc["bt"]))


def s3_unsolicited_query():
    sc = Scenario("3-unsolicited-dht-query-names-services",
                  "an outside host sends the LAN an unsolicited DHT query whose "
                  "arguments carry nodes and values naming ordinary services")
    svc = services(30)
    ev = sc.rng
    args = {"id": node_id(ev), "target": node_id(ev),
            "nodes": b"".join(compact_node(node_id(ev), ip, p) for ip, p in svc.values()),
            "values": [compact_peer(ip, p) for ip, p in svc.values()]}
    sc.cap.udp("203.0.113.5", 6881, A, 6881, krpc_query(b"fn", "find_node", args))
    sc.noban("udp", ("203.0.113.5", 6881), (A, 6881), "the unsolicited inbound query")
    victims(sc, svc)
    real_bt(sc)
    return sc


def s3_unsolicited_reply():
    sc = Scenario("3-unsolicited-dht-reply-names-services",
                  "an outside host sends the LAN a DHT reply (y=r) that answers no "
                  "query, its nodes and values naming ordinary services")
    svc = services(40)
    sc.cap.udp("203.0.113.6", 6881, A, 6882,
               dht_values_reply(sc.rng, b"aa", list(svc.values()), nodes=list(svc.values())))
    sc.noban("udp", ("203.0.113.6", 6881), (A, 6882), "the unsolicited reply")
    victims(sc, svc)
    real_bt(sc)
    return sc


def s3_reply_wrong_t():
    sc = Scenario("3-dht-reply-wrong-t",
                  "the LAN queries a DHT node; the reply's transaction id is not the "
                  "query's, its values naming ordinary services")
    svc = services(50)
    node = "203.0.113.7"
    sc.cap.udp(A, 6883, node, 6881, dht_get_peers(sc.rng, b"gp"))
    sc.cap.udp(node, 6881, A, 6883,
               dht_values_reply(sc.rng, b"zz", list(svc.values()), nodes=list(svc.values())))
    sc.block("udp", (A, 6883), (node, 6881), "the LAN's query (answered by nothing that "
             "matches)", "dht", ban=False)
    victims(sc, svc)
    real_bt(sc)
    return sc


def s3_pex_garbage():
    sc = Scenario("3-pex-midstream-then-garbage",
                  "a mid-stream TCP segment with a ut_pex message naming X:6000, followed "
                  "by bytes the peer wire framing rejects")
    x = ("198.51.100.60", 6000)
    attacker = "203.0.113.8"
    garbage = bytes(b | 0x80 for b in rand_bytes(sc.rng, 300))	# no zero byte: no resync
    seg = ut_pex(1, [x]) + b"\xff\xff\xff\xf0\x63" + garbage
    sc.cap.tcp(attacker, 6881, B, 50010, 0x70000000, 0x71000000, PSH | ACK, seg)
    sc.noban("tcp", (attacker, 6881), (B, 50010), "the mid-stream segment")
    random_tcp(sc, C, 53010, x[0], x[1], "random-bytes TCP to X:6000 afterwards")
    real_bt(sc)
    return sc


def s3_pex_one_direction():
    sc = Scenario("3-pex-one-direction-midstream",
                  "a TCP flow (no SYN seen) in which only the remote's direction is "
                  "peer wire: extension handshake and ut_pex naming X:6000")
    x = ("198.51.100.61", 6000)
    attacker = "203.0.113.9"
    sc.cap.tcp(B, 50011, attacker, 6881, 0x10000000, 0x20000000, PSH | ACK,
               random_stream(sc.rng, 300))
    sc.cap.tcp(attacker, 6881, B, 50011, 0x20000000, 0x10000000 + 300, PSH | ACK,
               ext_handshake() + ut_pex(1, [x]) + pw_have(3) + pw_have(9))
    sc.cap.tcp(B, 50011, attacker, 6881, 0x10000000 + 300, 0x20000400, PSH | ACK,
               random_stream(sc.rng, 500))
    sc.noban("tcp", (B, 50011), (attacker, 6881), "the one-sided flow")
    random_tcp(sc, C, 53011, x[0], x[1], "random-bytes TCP to X:6000 afterwards")
    real_bt(sc)
    return sc


def s3_pex_one_direction_syn():
    sc = Scenario("3-pex-one-direction-with-syn",
                  "a LAN host's TCP connection to the attacker, which answers random "
                  "bytes with a handshake, extension handshake and ut_pex naming X:6000")
    x = ("198.51.100.62", 6000)
    attacker = "203.0.113.9"
    t = Tcp(sc.cap, B, 50012, attacker, 6881, isn_c=0x31000000, isn_s=0x32000000)
    t.handshake()
    t.c(random_stream(sc.rng, 300))
    t.s(bt_handshake(sc.rng) + ext_handshake() + ut_pex(1, [x]))
    t.s(pw_have(1) + pw_have(2) + pw_have(3))
    t.c(random_stream(sc.rng, 400))
    sc.noban("tcp", (B, 50012), (attacker, 6881), "the one-sided flow")
    random_tcp(sc, C, 53012, x[0], x[1], "random-bytes TCP to X:6000 afterwards")
    real_bt(sc)
    return sc


def s3_tracker_reply_plain_get():
    sc = Scenario("3-tracker-reply-to-plain-get",
                  "a web server answers a LAN host's plain GET with a tracker-shaped "
                  "bencoded body of compact peers (sent twice, as a retransmission)")
    x, y = ("198.51.100.63", 6000), ("198.51.100.64", 6881)
    server = "203.0.113.10"
    t = Tcp(sc.cap, B, 50013, server, 80, isn_c=0x41000000, isn_s=0x42000000)
    t.handshake()
    t.c(http_get("news.example.com", "/index.html"))
    body = bencode({"interval": 1800, "peers": compact_peer(*x) + compact_peer(*y)})
    resp = http_response(200, body, "text/plain")
    seq = t.seq["s"]
    t.s(resp)
    t.resend("s", resp, seq)
    t.ack()
    sc.noban("tcp", (B, 50013), (server, 80), "the plain GET flow")
    random_tcp(sc, C, 53013, x[0], x[1], "random-bytes TCP to %s afterwards" % ep(*x))
    random_tcp(sc, C, 53014, y[0], y[1], "random-bytes TCP to %s afterwards" % ep(*y))
    real_bt(sc)
    return sc


def s3_udp_tracker(wrong_tid):
    name = "3-udp-tracker-announce-reply-" + ("wrong-tid" if wrong_tid else "no-announce")
    sc = Scenario(name, "a UDP tracker answers an announce the LAN host never made%s, "
                  "its peers naming X:6000" % (" (transaction id not the LAN's)"
                                                if wrong_tid else ""))
    x = ("198.51.100.65", 6000)
    trk = "203.0.113.11"
    conn = 0x0123456789ABCDEF
    sc.cap.udp(B, 50014, trk, 6969, tracker_connect(0x1111))
    sc.cap.udp(trk, 6969, B, 50014, tracker_connect_reply(0x1111, conn))
    tid = 0x3333
    if wrong_tid:
        sc.cap.udp(B, 50014, trk, 6969, tracker_announce(sc.rng, conn, 0x2222))
    sc.cap.udp(trk, 6969, B, 50014, tracker_announce_reply(tid, [x]))
    sc.block("udp", (B, 50014), (trk, 6969), "the LAN's tracker flow", "udp-tracker")
    random_tcp(sc, C, 53015, x[0], x[1], "random-bytes TCP to X:6000 afterwards")
    real_bt(sc)
    return sc


# ------------------------------------------------------------ 4. evidence is not a verdict


def s4_values():
    sc = Scenario("4-solicited-values-evidence-only",
                  "a DHT node the LAN asked names P:51413 in a matching reply; the "
                  "learned endpoint must not reach P's other ports or other protocols")
    node, p = "203.0.113.20", "198.51.100.44"
    sc.cap.udp(A, 6890, node, 6881, dht_get_peers(sc.rng, b"gp"))
    sc.cap.udp(node, 6881, A, 6890, dht_values_reply(sc.rng, b"gp", [(p, 51413)]))
    sc.block("udp", (A, 6890), (node, 6881), "the LAN's get_peers", "dht")
    random_tcp(sc, B, 50020, p, 8388, "random bytes (Shadowsocks-like) to P:8388: no "
               "bare host is learned")
    tls_exchange(sc, C, 50022, p, 51413, "TLS to P:51413 (evidence, not a verdict)")
    dns_exchange(sc, B, 40300, p, 51413, "DNS over UDP to P:51413")
    random_tcp(sc, B, 50021, p, 51413, "random bytes to P:51413", expect="block",
               reasons="endpoint-cache", ban=False)
    real_bt(sc)
    return sc


# ------------------------------------------------------------ 5. eviction


def learn_p(sc, p, node="203.0.113.20"):
    sc.cap.udp(A, 6891, node, 6881, dht_get_peers(sc.rng, b"p0"))
    sc.cap.udp(node, 6881, A, 6891, dht_values_reply(sc.rng, b"p0", [(p, 51413)]))


def peers(sc, n):
    out = []
    for _ in range(n):
        ip = "%d.%d.%d.%d" % (sc.rng.choice((23, 31, 45, 62, 77, 81, 88, 91, 109, 185)),
                              sc.rng.randrange(256), sc.rng.randrange(256),
                              sc.rng.randrange(1, 255))
        out.append((ip, sc.rng.randrange(1024, 65536)))
    return out


def s5_evict(kind):
    p = "198.51.100.45"
    what = {"unsolicited": "200 unsolicited DHT replies from 200 addresses, 50 values each",
            "one-node": "40 solicited replies from one DHT node, 20 values each",
            "many-nodes": "60 solicited replies from 60 DHT nodes, 20 values each",
            "control": None}[kind]
    sc = Scenario("5-evict-" + kind, "after P:51413 is learned honestly: " + what +
                  ", to push P out of a small endpoint cache" if what else
                  "the control: P:51413 learned honestly, nothing else",
                  args=["--endpoint-capacity", "64"])
    learn_p(sc, p)
    if kind == "unsolicited":
        for i in range(200):
            src = "203.0.%d.%d" % (113 if i < 100 else 114, i % 100 + 1)
            sc.cap.udp(src, 6881, A, 6881 if i % 2 else 6889,
                       dht_values_reply(sc.rng, rand_bytes(sc.rng, 2), peers(sc, 50)))
    elif kind == "one-node":
        node = "203.0.113.21"
        for i in range(40):
            t = b"q" + bytes([i])
            sc.cap.udp(A, 6892, node, 6881, dht_get_peers(sc.rng, t))
            sc.cap.udp(node, 6881, A, 6892, dht_values_reply(sc.rng, t, peers(sc, 20)))
    elif kind == "many-nodes":
        for i in range(60):
            node = "203.0.114.%d" % (i + 1)
            sc.cap.udp(A, 7000 + i, node, 6881, dht_get_peers(sc.rng, b"mn"))
            sc.cap.udp(node, 6881, A, 7000 + i, dht_values_reply(sc.rng, b"mn", peers(sc, 20)))
    random_tcp(sc, B, 50025, p, 51413, "random bytes to P:51413 afterwards", expect="block",
               reasons="endpoint-cache", ban=False)
    real_bt(sc)
    return sc


# ------------------------------------------------------------ 6. single spoofable packets


def s6_single(v6):
    fam = "ipv6" if v6 else "ipv4"
    a = A6 if v6 else A
    r = (lambda n: "2001:db8::%x" % n) if v6 else (lambda n: "198.51.100.%d" % n)
    lsd = ("ff15::efc0:988f", "[ff15::efc0:988f]:6771") if v6 else \
        ("239.192.152.143", "239.192.152.143:6771")
    sc = Scenario("6-single-spoofable-packets-" + fam,
                  "one packet each, forgeable by anyone, to get LAN host A banned")
    sc.cap.udp(a, 6900, r(160), 6881, dht_get_peers(sc.rng, b"g1"))
    sc.block("udp", (a, 6900), (r(160), 6881), "DHT query, no answer", "dht", ban=False)
    sc.cap.udp(a, 6771, lsd[0], 6771, lsd_announce(sc.rng, host=lsd[1]))
    sc.block("udp", (a, 6771), (lsd[0], 6771), "LSD announce", "lsd", ban=False)
    sc.cap.udp(a, 6901, r(161), 6969, tracker_connect(0x5151))
    sc.block("udp", (a, 6901), (r(161), 6969), "UDP tracker connect, no answer",
             "udp-tracker", ban=False)
    sc.cap.udp(a, 6902, r(162), 6881,
               utp_packet(UTP_DATA, 0x4242, 5, 77, ts=1000, payload=bt_handshake(sc.rng)))
    sc.block("udp", (a, 6902), (r(162), 6881), "uTP DATA carrying a handshake, one packet",
             "utp", ban=False)
    sc.cap.tcp(a, 50050, r(163), 6881, 0x51000000, 0x52000000, PSH | ACK, ext_handshake())
    sc.block("tcp", (a, 50050), (r(163), 6881), "mid-stream extension handshake (no SYN "
             "seen)", "bt-extension", ban=False)
    t = Tcp(sc.cap, a, 50051, r(164), 6881, isn_c=0x61000000, isn_s=0x62000000)
    t.syn()
    t.synack()
    t.c(bt_handshake(sc.rng), ack=0x62000000 + 1 + 0x00100000)
    sc.block("tcp", (a, 50051), (r(164), 6881), "blind spoof: handshake whose ACK does "
             "not acknowledge the SYN-ACK", "bt-handshake", ban=False)
    real_bt(sc, v6)
    return sc


def s6_neighbour():
    sc = Scenario("6-lan-host-forges-neighbour",
                  "a LAN host sends a DHT ping \"from\" its neighbour %s to "
                  "93.184.216.34:6881 to get the neighbour banned from that server"
                  % NEIGHBOUR)
    web = "93.184.216.34"
    sc.cap.udp(NEIGHBOUR, 6881, web, 6881, dht_ping(sc.rng, b"nb"))
    sc.block("udp", (NEIGHBOUR, 6881), (web, 6881), "the forged ping, no answer", "dht",
             ban=False)
    tls_exchange(sc, NEIGHBOUR, 52010, web, 443, "the neighbour's TLS to %s:443" % web)
    dns_exchange(sc, NEIGHBOUR, 40400, DNS4, 53, "the neighbour's DNS to 8.8.8.8:53")
    real_bt(sc)
    return sc


# ------------------------------------------------------------ 7. flow table flood


def flood(sc, n):
    """n one-packet flows from outside, spoofed sources: TCP SYNs and single
    UDP datagrams to LAN addresses."""
    rng = sc.rng
    for i in range(n):
        src = "%d.%d.%d.%d" % (rng.choice((23, 31, 45, 62, 77, 81, 88, 91, 109, 185)),
                               rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
        dst = "192.168.1.%d" % rng.randrange(100, 200)
        if i % 2:
            sc.cap.tcp(src, rng.randrange(1024, 65536), dst, rng.randrange(1, 65536),
                       rng.getrandbits(32), 0, SYN, gap=0.0001)
        else:
            sc.cap.udp(src, rng.randrange(1024, 65536), dst, rng.randrange(1, 65536),
                       rand_bytes(rng, rng.randrange(20, 200)), gap=0.0001)


def s7_flood(confirm):
    control = confirm.startswith("control")
    sc = Scenario("7-flow-flood-mse-" + confirm,
                  ("the control: no flood; " if control else
                   "1000 one-packet flows from spoofed outside sources flood a 64-flow "
                   "table while ") + "an MSE key exchange, a long exchange and a split "
                  "handshake wait for their decision", args=["--flow-capacity", "64"])
    peer = "198.51.100.70"
    mse = Tcp(sc.cap, A, 50030, peer, 6881, isn_c=0x71000000, isn_s=0x72000000)
    mse.handshake()
    mse.c(random_stream(sc.rng, 96 + 150))
    mse.s(random_stream(sc.rng, 96 + 80))
    ssh = Tcp(sc.cap, B, 50031, "198.51.100.71", 2222, isn_c=0x73000000, isn_s=0x74000000)
    ssh.handshake()
    ssh.c(ssh_banner("OpenSSH_9.6p1"))
    ssh.s(ssh_banner("OpenSSH_8.9p1 Ubuntu-3"))
    ssh.c(b"\x00\x00\x05\xdc\x07\x14" + rand_bytes(sc.rng, 1494))	# KEXINIT
    split = Tcp(sc.cap, C, 50032, "198.51.100.72", 6881, isn_c=0x75000000, isn_s=0x76000000)
    split.handshake()
    hs = bt_handshake(sc.rng)
    split.c(hs[:10])
    if not control:
        flood(sc, 1000)
    if confirm != "responder-82":
        mse.c(random_stream(sc.rng, 124))
    else:
        mse.s(random_stream(sc.rng, 82))
    after = "" if control else ", after the flood"
    sc.block("tcp", (A, 50030), (peer, 6881), "the MSE flow, confirmed" + after, "mse",
             once=True)
    ssh.s(b"\x00\x00\x04\x4c\x06\x14" + rand_bytes(sc.rng, 1098))
    ssh.c(b"\x00\x00\x00\x2c\x06\x1e" + rand_bytes(sc.rng, 42))
    ssh.s(b"\x00\x00\x01\xfc\x08\x1f" + rand_bytes(sc.rng, 506))
    sc.allow("tcp", (B, 50031), ("198.51.100.71", 2222), "an SSH exchange decided (allowed) "
             "at its 6th payload packet" + after, once=True, decided=True)
    split.c(hs[10:])
    sc.block("tcp", (C, 50032), ("198.51.100.72", 6881), "a handshake in two segments" + after,
             "bt-handshake", ban=True, once=True)
    real_bt(sc)
    return sc


# ------------------------------------------------------------ 8. well-known ports


def s8_ports():
    sc = Scenario("8-bt-on-ports-53-80-443",
                  "BitTorrent from the LAN on ports 53, 80 and 443 must still be caught "
                  "(an Ethernet capture)", linktype=DLT_EN10MB)
    for port, sp, n in ((443, 50060, 80), (80, 50061, 82)):
        peer = "198.51.100.%d" % n
        t = Tcp(sc.cap, A, sp, peer, port, isn_c=0x81000000 + n, isn_s=0x82000000 + n)
        t.handshake()
        t.c(bt_handshake(sc.rng))
        t.s(bt_handshake(sc.rng))
        t.c(ext_handshake() + pw_message_interested())
        sc.block("tcp", (A, sp), (peer, port), "peer wire to port %d" % port, "bt-handshake",
                 ban=True)
    sc.cap.udp(A, 6960, "198.51.100.81", 53, dht_get_peers(sc.rng, b"53"))
    sc.block("udp", (A, 6960), ("198.51.100.81", 53), "DHT query to port 53", "dht", ban=False)
    sc.cap.udp(A, 6961, "198.51.100.83", 443, utp_packet(UTP_SYN, 0x7777, 300, 0, ts=42))
    sc.cap.udp("198.51.100.83", 443, A, 6961, utp_packet(UTP_STATE, 0x7777, 9, 300, ts=99))
    sc.block("udp", (A, 6961), ("198.51.100.83", 443), "uTP to UDP port 443, answered",
             "utp", ban=True)
    real_bt(sc)
    return sc


def pw_message_interested():
    return b"\x00\x00\x00\x01\x02"


def scenarios():
    out = []
    for v6 in (False, True):
        for port in (53, 5353):
            out.append(s1_dht_ping_dns(v6, port))
    for port in (443, 8443):
        for answered in (False, True):
            out.append(s2_forwarded(port, answered))
    out += [s3_unsolicited_query(), s3_unsolicited_reply(), s3_reply_wrong_t(),
            s3_pex_garbage(), s3_pex_one_direction(), s3_pex_one_direction_syn(),
            s3_tracker_reply_plain_get(), s3_udp_tracker(False), s3_udp_tracker(True),
            s4_values()]
    out += [s5_evict(k) for k in ("control", "unsolicited", "one-node", "many-nodes")]
    out += [s6_single(False), s6_single(True), s6_neighbour()]
    out += [s7_flood(k) for k in ("control-no-flood", "initiator-124", "responder-82")]
    out.append(s8_ports())
    return out


# ------------------------------------------------------------ checking


def describe(line):
    if line["verdict"] != "block":
        return "allow" + ("" if line.get("decided_at") is not None else " (undecided)")
    ban = line.get("ban", "missing")
    return "block/%s at packet %s, ban %s" % (line["reason"], line.get("decided_at"),
                                              json.dumps(ban) if ban != "missing" else
                                              "field missing")


def check(sc, lines):
    """Returns a list of (ok, kind, text): kind "verdict" or "ban"."""
    flows = {}
    for ln in lines:
        flows.setdefault((ln["l4"], frozenset((ln["src"], ln["dst"]))), []).append(ln)
    results = []
    for e in sc.expects:
        got = flows.get(e.key(), [])
        head = "%s: %s (%s)" % (sc.name, e.label, e.flow())
        seen = "; ".join(describe(ln) for ln in got) or "no line for this flow"
        if not got:
            results.append((False, "verdict", "%s: no output line for the flow" % head))
            continue
        if e.once and len(got) != 1:
            results.append((False, "verdict", "%s: want one line (the flow kept until its "
                            "decision), got %d: %s" % (head, len(got), seen)))
            continue
        if e.kind == "allow":
            ok = all(ln["verdict"] != "block" for ln in got)
            if ok and e.decided:
                ok = all(ln.get("decided_at") is not None for ln in got)
            why = ""
            if not ok:
                reasons = {ln["reason"] for ln in got if ln["verdict"] == "block"}
                why = " -- the attack worked" if reasons & {"endpoint-cache", "mse"} else ""
            results.append((ok, "verdict", "%s: want allow%s, got %s%s" % (
                head, " (decided)" if e.decided else "", seen, why)))
        elif e.kind == "block":
            ok = all(ln["verdict"] == "block" and ln["reason"] in e.reasons for ln in got)
            results.append((ok, "verdict", "%s: want block/%s, got %s" % (
                head, "|".join(e.reasons), seen)))
        if e.kind == "noban" or (e.kind == "block" and e.ban is not None):
            want = False if e.kind == "noban" else e.ban
            bad = []
            for ln in got:
                if ln["verdict"] != "block":
                    if e.kind == "block":
                        bad.append("not blocked")
                    continue
                if "ban" not in ln:
                    bad.append("no \"ban\" field (this engine bans the pair of every "
                               "blocked flow)")
                elif ln["ban"] is not want:
                    bad.append("ban %s" % json.dumps(ln["ban"]))
            results.append((not bad, "ban", "%s: want %s, got %s%s" % (
                head, "ban %s" % json.dumps(want) if e.kind == "block" else
                "no ban (allowed, or blocked with ban false)", seen,
                "" if not bad else " -- " + ", ".join(sorted(set(bad))))))
    return results


def run(btblockd, sc, tmp):
    path = os.path.join(tmp, sc.name + ".pcap")
    sc.cap.write(path)
    cmd = [btblockd] + sc.args + ["--read-pcap", path]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    with open(os.path.join(tmp, sc.name + ".jsonl"), "wb") as f:
        f.write(p.stdout)
    if p.returncode != 0:
        raise RuntimeError("%s exited with %d: %s" % (" ".join(cmd), p.returncode,
                                                      p.stderr.decode(errors="replace")))
    return [json.loads(ln) for ln in p.stdout.decode().splitlines() if ln.strip()]


def main(argv):
    btblockd = os.environ.get("BTBLOCKD", "")
    if not btblockd or not os.access(btblockd, os.X_OK):
        print("\n*** FAIL: BTBLOCKD is not set to an executable (got %r); run through "
              "make check or export it ***\n" % btblockd, file=sys.stderr)
        return 1
    keep = os.environ.get("ADVERSARIAL_KEEP", "")
    tmp = keep or tempfile.mkdtemp(prefix="btb-adversarial.")
    os.makedirs(tmp, exist_ok=True)
    selected = [sc for sc in scenarios() if not argv[1:] or any(a in sc.name for a in argv[1:])]
    if not selected:
        print("*** FAIL: no scenario matches %s ***" % " ".join(argv[1:]), file=sys.stderr)
        return 1
    summary = []
    try:
        for sc in selected:
            print("== %s: %s (%d packets%s)" % (sc.name, sc.attack, len(sc.cap.frames),
                                                ", " + " ".join(sc.args) if sc.args else ""))
            try:
                res = check(sc, run(btblockd, sc, tmp))
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                res = [(False, "verdict", "%s: the replay failed: %s" % (sc.name, e))]
            for ok, kind, text in res:
                print("%s %s" % ("PASS" if ok else "FAIL", text))
            summary.append((sc.name, res))
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n== summary (verdict: the flow's block/allow and reason; ban: the \"ban\" field)")
    print("%-48s %9s %9s" % ("scenario", "verdict", "ban"))
    npass = nfail = 0
    worked = []
    for name, res in summary:
        cols = []
        for kind in ("verdict", "ban"):
            k = [ok for ok, kd, _ in res if kd == kind]
            cols.append("%d/%d" % (sum(k), len(k)) if k else "-")
        print("%-48s %9s %9s" % (name, cols[0], cols[1]))
        npass += sum(ok for ok, _, _ in res)
        nfail += sum(not ok for ok, _, _ in res)
        if any(not ok for ok, kd, _ in res if kd == "verdict"):
            worked.append(name)
    print("assertions: %d passed, %d failed, in %d scenarios" % (npass, nfail, len(summary)))
    if worked:
        print("scenarios with a wrong verdict: %s" % ", ".join(worked))
    if nfail:
        print("\n*** FAIL: %d adversarial assertion(s) failed (see FAIL lines above) ***"
              % nfail, file=sys.stderr)
        return 1
    print("PASS: every adversarial scenario")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
