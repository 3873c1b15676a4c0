#!/usr/bin/env python3
"""gen_seeds.py - writes the seed corpora of the libFuzzer harnesses.

Usage: gen_seeds.py OUTDIR [--srcdir DIR] [--pcaps DIR]

Every seed is built here from protocol descriptions (BitTorrent handshake,
DHT, uTP, UDP and HTTP trackers, TLS, LSD, SOCKS5, plain HTTP, and QUIC,
STUN, DTLS, SSH, SMTP), in the input format of each harness (see the
comment at the top of each tests/fuzz/fuzz_*.c). With --srcdir, the example
config file of the tree seeds the config parser. With --pcaps DIR (a
directory of captures), the
first packets of a few real captures are cut into small extra seeds at run
time; nothing from there is kept in the tree. Inputs that found bugs are
not generated here: they are files in tests/fuzz/regress/.
"""
import os
import struct
import sys
import zlib


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


A4, B4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
A6 = bytes.fromhex("20010db8000000000000000000000001")
B6 = bytes.fromhex("20010db8000000000000000000000002")


def ip4(proto, payload, src=A4, dst=B4, frag=0, ident=1):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64,
                    proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6(proto, payload, src=A6, dst=B6, hbh=False):
    if hbh:  # a hop-by-hop header in front of the transport
        payload = bytes([proto, 0, 1, 4, 0, 0, 0, 0]) + payload
        proto = 0
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), proto, 64, src, dst) + payload


def tcp(sport, dport, seq, ack, flags, data=b"", opts=b""):
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0,
                       0) + opts + data


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def tcp_flow(c2s, s2c, v6=False, sport=51413, dport=6881, handshake=True):
    """Packets of a TCP flow: optional 3-way handshake, then the payloads
    of c2s and s2c interleaved (client first)."""
    ip = (lambda p, rev=False: ip6(6, p, B6, A6) if rev else ip6(6, p)) if v6 else \
         (lambda p, rev=False: ip4(6, p, B4, A4) if rev else ip4(6, p))
    cs, ss = 1000, 5000
    out = []
    if handshake:
        out.append(ip(tcp(sport, dport, cs - 1, 0, SYN, opts=b"\x02\x04\x05\xb4")))
        out.append(ip(tcp(dport, sport, ss - 1, cs, SYN | ACK), True))
        out.append(ip(tcp(sport, dport, cs, ss, ACK)))
    for i in range(max(len(c2s), len(s2c))):
        if i < len(c2s):
            out.append(ip(tcp(sport, dport, cs, ss, PSH | ACK, c2s[i])))
            cs += len(c2s[i])
        if i < len(s2c):
            out.append(ip(tcp(dport, sport, ss, cs, PSH | ACK, s2c[i]), True))
            ss += len(s2c[i])
    out.append(ip(tcp(sport, dport, cs, ss, FIN | ACK)))
    return out


def udp_flow(c2s, s2c, v6=False, sport=6881, dport=6881):
    out = []
    for i in range(max(len(c2s), len(s2c))):
        if i < len(c2s):
            u = udp(sport, dport, c2s[i])
            out.append(ip6(17, u) if v6 else ip4(17, u))
        if i < len(s2c):
            u = udp(dport, sport, s2c[i])
            out.append(ip6(17, u, B6, A6) if v6 else ip4(17, u, B4, A4))
    return out


INFOHASH = bytes(range(20))
PEERID = b"-qB4500-" + b"abcdefghijkl"
BT_HS = b"\x13BitTorrent protocol" + b"\0\0\0\0\0\x10\0\x05" + INFOHASH + PEERID
EXT_HS = struct.pack("!IBB", 2 + 40, 20, 0) + b"d1:md11:ut_metadatai1e6:ut_pexi2ee1:pi6881ee"
BITFIELD = struct.pack("!IB", 3, 5) + b"\xff\xf0"
DHT_PING = b"d1:ad2:id20:" + b"A" * 20 + b"e1:q4:ping1:t2:aa1:y1:qe"
DHT_GETPEERS = b"d1:ad2:id20:" + b"A" * 20 + b"9:info_hash20:" + INFOHASH + \
    b"e1:q9:get_peers1:t2:ab1:y1:qe"
DHT_REPLY = b"d1:rd2:id20:" + b"B" * 20 + b"5:nodes26:" + b"C" * 20 + \
    bytes([81, 2, 3, 4, 0x1a, 0xe1]) + b"6:valuesl6:" + bytes([82, 1, 1, 1, 0x1a, 0xe2]) + \
    b"ee1:t2:ab1:y1:re"
UTP_SYN = struct.pack("!BBHIIIHH", 0x41, 0, 0x1234, 1000000, 0, 0x100000, 1, 0)
UTP_STATE = struct.pack("!BBHIIIHH", 0x21, 0, 0x1234, 1000500, 500, 0x100000, 77, 1)
UTP_DATA = struct.pack("!BBHIIIHH", 0x01, 0, 0x1235, 1001000, 500, 0x100000, 2, 77) + b"x" * 32
TRK_CONNECT = struct.pack("!QII", 0x41727101980, 0, 0xdeadbeef)
TRK_CONN_REPLY = struct.pack("!IIQ", 0, 0xdeadbeef, 0x1122334455667788)
TRK_ANNOUNCE = struct.pack("!QII", 0x1122334455667788, 1, 0xcafe) + INFOHASH + PEERID + \
    struct.pack("!QQQIIIiH", 0, 1000, 0, 2, 0, 0, -1, 6881)
TRK_ANN_REPLY = struct.pack("!IIIII", 1, 0xcafe, 1800, 1, 2) + bytes([81, 2, 3, 4, 0x1a, 0xe1]) * 2
HTTP_ANNOUNCE = (b"GET /announce?info_hash=%00%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f"
                 b"%10%11%12%13&peer_id=-qB4500-abcdefghijkl&port=6881&uploaded=0&downloaded=0"
                 b"&left=0&compact=1 HTTP/1.1\r\nHost: tracker.example.org\r\n"
                 b"User-Agent: qBittorrent/4.5.0\r\n\r\n")
HTTP_ANN_REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + \
    b"d8:intervali1800e5:peers12:" + bytes([81, 2, 3, 4, 0x1a, 0xe1]) * 2 + b"e"
HTTP_PLAIN = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/7.88\r\n\r\n"
HTTP_PLAIN_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"
MAGNET = b"POST /x HTTP/1.1\r\nHost: a\r\n\r\nmagnet:?xt=urn:btih:" + b"0123456789abcdef" * 2 + \
    b"01234567"
WEBSEED = b"GET /file.iso HTTP/1.1\r\nHost: mirror\r\nRange: bytes=0-16383\r\n" + \
    b"User-Agent: Transmission/3.00\r\n\r\n"
LSD = (b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n"
       b"Infohash: " + INFOHASH.hex().encode() + b"\r\ncookie: x\r\n\r\n\r\n")
SOCKS_DHT = b"\0\0\0\x01" + bytes([81, 2, 3, 4]) + struct.pack("!H", 6881) + DHT_PING


def client_hello(sni):
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    body = b"\x03\x03" + b"R" * 32 + b"\0" + struct.pack("!H", 2) + b"\x13\x01" + b"\x01\0" + \
        struct.pack("!H", len(sni_ext)) + sni_ext
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def dtls_client_hello():
    body = b"\xfe\xfd" + b"R" * 32 + b"\0\0" + struct.pack("!H", 2) + b"\xc0\x2b" + b"\x01\0"
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + b"\0\0" + b"\0\0\0" + \
        struct.pack("!I", len(body))[1:] + body
    return b"\x16\xfe\xfd" + b"\0" * 8 + struct.pack("!H", len(hs)) + hs


def ws_frame(text, key=None, first=0x81):
    """A WebSocket frame (RFC 6455 5.2): masked with key when given."""
    n = len(text)
    head = bytes([first]) + (bytes([n]) if n < 126 else struct.pack("!BH", 126, n) if n < 65536
                             else struct.pack("!BQ", 127, n))
    if key is None:
        return head + text
    return bytes([head[0], head[1] | 0x80]) + head[2:] + key + \
        bytes(b ^ key[i & 3] for i, b in enumerate(text))


WS_KEY = b"\x37\xfa\x21\x3d"
WS_UPGRADE = (b"GET /announce HTTP/1.1\r\nHost: tracker.example.org\r\nConnection: Upgrade\r\n"
              b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
WS_SWITCHED = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
WS_IH = b"\\u0000\\u0001abc\xc2\x80\xc3\xbf\\\\\\\"defghijklmn"
WS_SDP = (b"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n"
          b"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\\r\\nc=IN IP4 0.0.0.0\\r\\n"
          b"a=candidate:1 1 udp 2113937151 10.0.0.9 50000 typ host\\r\\n"
          b"a=candidate:2 1 UDP 1677729535 2001:db8::9 50001 typ srflx\\r\\n")
WS_ANNOUNCE = (b'{"numwant":5,"uploaded":0,"downloaded":0,"left":1000,"event":"started",'
               b'"action":"announce","info_hash":"' + WS_IH + b'","peer_id":"-WW0207-abcdefghijkl",'
               b'"offers":[{"offer":{"type":"offer","sdp":"' + WS_SDP + b'"},"offer_id":"abcdefghij"}]}')
WS_RELAYED = (b'{"action":"announce","answer":{"type":"answer","sdp":"' + WS_SDP + b'"},'
              b'"offer_id":"abcdefghij","peer_id":"-WW0207-zyxwvutsrqpo","info_hash":"' + WS_IH + b'"}')
WS_CHAT = b'{"type":"message","room":"general","text":"hello"}'


def long_client_hello(sni):
    """Chrome's shape: a ClientHello of about 2 KB, the name after a
    big key share."""
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    exts = struct.pack("!HH", 51, 1500) + b"K" * 1500 + sni_ext
    body = b"\x03\x03" + b"R" * 32 + b"\0" + struct.pack("!H", 2) + b"\x13\x01" + b"\x01\0" + \
        struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


TLS_WEBTORRENT = long_client_hello("tracker.openwebtorrent.com")

# other protocols, for the recogniser that spares them the endpoint cache
QUIC_INITIAL = b"\xc3\0\0\0\x01\x08" + b"D" * 8 + b"\0\0" + struct.pack("!H", 0x4000 | 1182) + \
    bytes((i * 37 + 11) & 0xFF for i in range(1182))
STUN_BINDING = struct.pack("!HHI", 1, 8, 0x2112A442) + b"T" * 12 + struct.pack("!HHI", 0x8028, 4, 0x1234)
DTLS_HELLO = dtls_client_hello()
SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"
TLS_TRACKER = client_hello("tracker.opentrackr.org")
TLS_PLAIN = client_hello("www.example.com")
RANDOMISH = bytes((i * 151 + 7) & 0xFF for i in range(96))

# (name, l4, client payloads, server payloads, sport, dport)
FLOWS = [
    ("bt_handshake", "tcp", [BT_HS, EXT_HS + BITFIELD], [BT_HS, EXT_HS], 51413, 6881),
    ("bt_midstream", "tcp", [BITFIELD, struct.pack("!IBIII", 13, 6, 0, 0, 16384)],
     [struct.pack("!IB", 1, 1)], 51413, 6881),
    ("http_announce", "tcp", [HTTP_ANNOUNCE], [HTTP_ANN_REPLY], 40000, 80),
    ("http_plain", "tcp", [HTTP_PLAIN], [HTTP_PLAIN_REPLY], 40001, 80),
    ("magnet", "tcp", [MAGNET], [], 40002, 8080),
    ("webseed", "tcp", [WEBSEED], [HTTP_PLAIN_REPLY], 40003, 80),
    ("tls_tracker", "tcp", [TLS_TRACKER], [], 40004, 443),
    ("tls_plain", "tcp", [TLS_PLAIN], [], 40005, 443),
    ("mse", "tcp", [RANDOMISH], [RANDOMISH[::-1]], 51413, 6881),
    ("dht", "udp", [DHT_PING, DHT_GETPEERS], [DHT_REPLY], 6881, 6881),
    ("utp", "udp", [UTP_SYN, UTP_DATA], [UTP_STATE], 6881, 6882),
    ("udp_tracker", "udp", [TRK_CONNECT, TRK_ANNOUNCE], [TRK_CONN_REPLY, TRK_ANN_REPLY], 40010, 6969),
    ("lsd", "udp", [LSD], [], 6771, 6771),
    ("socks5", "udp", [SOCKS_DHT], [], 40011, 1080),
    ("dns_like", "udp", [b"\x12\x34\x01\x00\x00\x01" + b"\0" * 6 + b"\x07example\x03com\0\0\1\0\1"],
     [], 40012, 53),
    ("other_udp", "udp", [STUN_BINDING, QUIC_INITIAL], [DTLS_HELLO], 40013, 443),
    ("other_tcp", "tcp", [SSH_BANNER], [SSH_BANNER, b"220 mx.example.org ESMTP\r\n"], 40014, 22),
    ("websocket_tracker", "tcp", [WS_UPGRADE, ws_frame(WS_ANNOUNCE, WS_KEY)],
     [WS_SWITCHED + ws_frame(WS_RELAYED)], 40015, 8000),
    ("websocket_chat", "tcp", [WS_UPGRADE + ws_frame(WS_CHAT, WS_KEY)], [WS_SWITCHED + ws_frame(WS_CHAT)],
     40016, 8080),
    ("tls_webtorrent", "tcp", [TLS_WEBTORRENT[:1448], TLS_WEBTORRENT[1448:]], [], 40017, 443),
]


def records(pkts, ctl=1):
    return b"".join(struct.pack("!BH", ctl, len(p)) + p for p in pkts)


def flow_packets(f, v6):
    name, l4, c2s, s2c, sp, dp = f
    if l4 == "tcp":
        return tcp_flow(c2s, s2c, v6, sp, dp)
    return udp_flow(c2s, s2c, v6, sp, dp)


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as fh:
        fh.write(data)


def pcap_file(pkts, linktype=101, prefix=b""):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for i, p in enumerate(pkts):
        p = prefix + p
        out += struct.pack("<IIII", 1700000000 + i, i * 1000, len(p), len(p)) + p
    return out


def pcapng_file(pkts):
    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", t, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 101, 0, 65535))
    for i, p in enumerate(pkts):
        ts = (1700000000 + i) * 1000000
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(p), len(p)) + p)
    return out


ETH4 = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
ETH6 = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x86\xdd"
VLAN4 = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x81\x00\x00\x05\x08\x00"


def nla(t, data):
    """A netlink attribute, padded to 4 bytes."""
    raw = struct.pack("=HH", 4 + len(data), t) + data
    return raw + b"\0" * (-len(raw) % 4)


def nlmsg(msg_type, body, seq=77, pid=4242, flags=2):
    """A netlink message (host byte order header; flags 2: NLM_F_MULTI)."""
    return struct.pack("=IHHII", 16 + len(body), msg_type, flags, seq, pid) + body


def nft_msg(nft_type, attrs, family=1):
    """An nf_tables message of a dump (family 1: inet)."""
    return nlmsg((10 << 8) | nft_type, struct.pack("!BBH", family, 0, 0) + b"".join(attrs))


def ruleset_replies():
    """Dump replies about table inet btblockd, as the daemon reads them."""
    NEWSET, NEWOBJ = 9, 18
    strz = lambda s: s.encode() + b"\0"
    sets = [nft_msg(NEWSET, [nla(1, strz("btblockd")), nla(2, strz(name)),
                             nla(3, struct.pack("!I", 0x14)),
                             nla(9, nla(1, struct.pack("!I", size))),
                             nla(11, struct.pack("!Q", timeout))])
            for name, size, timeout in (("ban4", 65536, 3600000), ("ban6", 3, 90000),
                                        ("budget", 65536, 60000))]
    counters = [nft_msg(NEWOBJ, [nla(1, strz("btblockd")), nla(2, strz(name)),
                                 nla(3, struct.pack("!I", 1)),
                                 nla(4 | 0x8000, nla(1, struct.pack("!Q", pk * 70)) +
                                     nla(2, struct.pack("!Q", pk))),
                                 nla(5, struct.pack("!I", 1))])
                for name, pk in (("queued", 1500), ("bans", 40), ("bans_failed", 3))]
    NEWTABLE, NEWCHAIN, NEWRULE, NESTED = 0, 3, 6, 0x8000
    tables = [nft_msg(NEWTABLE, [nla(1, strz(name)), nla(2, struct.pack("!I", 0)),
                                 nla(4, struct.pack("!Q", handle))])
              for name, handle in (("fw4", 3), ("btblockd", 41))]
    chains = [nft_msg(NEWCHAIN, [nla(1, strz("btblockd")), nla(3, strz(name))] +
                      ([nla(4 | NESTED, nla(1, struct.pack("!I", 2)) +
                                        nla(2, struct.pack("!i", -160)))] if base else []))
              for name, base in (("decide", 0), ("forward_decide", 1), ("forward_verdict", 1))]

    def rule(family, table, chain, exprs):
        return nft_msg(NEWRULE, [nla(1, strz(table)), nla(2, strz(chain)),
                                 nla(4 | NESTED, b"".join(nla(1 | NESTED, e) for e in exprs))],
                       family=family)

    def jump(target):
        verdict = nla(1, struct.pack("!i", -3)) + nla(2, strz(target))
        return nla(1, strz("immediate")) + nla(2 | NESTED, nla(1, struct.pack("!I", 0)) +
                                               nla(2 | NESTED, nla(2 | NESTED, verdict)))
    queue = nla(1, strz("queue")) + nla(2 | NESTED, nla(1, struct.pack("!H", 0)))
    rules = [rule(1, "btblockd", "forward_decide", [jump("decide")]),
             rule(1, "btblockd", "budget", [queue])]
    xt_rules = [rule(2, "mangle", "BTBLOCKD", [nla(1, strz("target"))]),
                rule(2, "mangle", "FORWARD", [jump("BTBLOCKD")]),
                rule(10, "mangle", "FORWARD", [jump("BTBLOCKD")])]
    done = nlmsg(3, struct.pack("=i", 0))
    enoent = nlmsg(2, struct.pack("=i", -2) + struct.pack("=IHHII", 36, (10 << 8) | 10, 0x301, 77, 0))
    return [("tables", b"".join(tables) + done), ("chains", b"".join(chains) + done),
            ("rules", b"".join(rules) + done), ("xt_rules", b"".join(xt_rules) + done),
            ("sets", b"".join(sets) + done), ("counters", b"".join(counters) + done),
            ("enoent", enoent), ("one_set", sets[0]), ("one_counter", counters[2]),
            ("stale_then_done", nlmsg(3, struct.pack("=i", 0), seq=76) + done)]


def bans_replies():
    """Ban set and conntrack dumps, as btblockctl bans and unban read them."""
    NEWSETELEM, NESTED = 13, 0x8000
    strz = lambda s: s.encode() + b"\0"

    def elem(key, timeout=None, expires=None):
        body = nla(1 | NESTED, nla(1, key))
        if timeout is not None:
            body += nla(4, struct.pack("!Q", timeout))
        if expires is not None:
            body += nla(5, struct.pack("!Q", expires))
        return nla(1 | NESTED, body)

    def elems(set_name, items):
        return nft_msg(NEWSETELEM, [nla(1, strz("btblockd")), nla(2, strz(set_name)),
                                    nla(3 | NESTED, b"".join(items))])
    a, b = bytes([10, 0, 0, 2]), bytes([192, 0, 2, 9])
    a6, b6 = bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [1]), bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [2])
    ban4 = elems("ban4", [elem(a + b, expires=3500000), elem(b + a, expires=3500100),
                          elem(a + bytes([198, 51, 100, 1]), 30000, 29000)])
    ban6 = elems("ban6", [elem(a6 + b6, 60000, 1000), elem(b6 + a6, 60000, 1000)])
    done = nlmsg(3, struct.pack("=i", 0))

    def tuple_(t, src, dst, sport, dport):
        ip = nla(1 if len(src) == 4 else 3, src) + nla(2 if len(src) == 4 else 4, dst)
        proto = nla(1, bytes([6])) + nla(2, struct.pack("!H", sport)) + nla(3, struct.pack("!H", dport))
        return nla(t | NESTED, nla(1 | NESTED, ip) + nla(2 | NESTED, proto))

    def ct(family, orig, reply, mark):
        body = struct.pack("!BBH", family, 0, 0) + orig + reply + nla(8, struct.pack("!I", mark)) + \
            nla(12, struct.pack("!I", 4242))
        return nlmsg(1 << 8, body)
    cts = ct(2, tuple_(1, a, b, 40000, 6881), tuple_(2, b, bytes([203, 0, 113, 1]), 6881, 61000),
             0x00b10000) + \
        ct(2, tuple_(1, a, b, 40001, 443), tuple_(2, b, a, 443, 40001), 0x00a10000) + \
        ct(10, tuple_(1, a6, b6, 1, 2), tuple_(2, b6, a6, 2, 1), 0x00b20000)
    return [("ban4", ban4 + done), ("ban6", ban6 + done), ("one_ban4", ban4),
            ("conntrack", cts + done)]


def check_inputs():
    """What btblockctl check reads, behind fuzz_check's selector byte: an
    nftables dump of table inet btblockd's chains, maps and rules (nft
    backend queue, mark lookups, an offload rule with and one without the
    allowed-mark test), nfnetlink_queue, iptables -S, the route tables and
    a stats document."""
    NEWCHAIN, NEWSET, NEWSETELEM, NEWRULE, NESTED = 3, 9, 12, 6, 0x8000
    strz = lambda s: s.encode() + b"\0"
    be32 = lambda v: struct.pack("!I", v & 0xffffffff)
    mark = lambda v: struct.pack("=I", v)

    def chain(name, hook, prio):
        return nft_msg(NEWCHAIN, [nla(1, strz("btblockd")), nla(3, strz(name)),
                                  nla(4 | NESTED, nla(1, be32(hook)) + nla(2, be32(prio)))])

    def data(v):
        return nla(1, v)

    def expr(name, attrs):
        return nla(1 | NESTED, nla(1, strz(name)) + nla(2 | NESTED, b"".join(attrs)))

    def rule(chain_name, exprs, table="btblockd", family=1):
        return nft_msg(NEWRULE, [nla(1, strz(table)), nla(2, strz(chain_name)),
                                 nla(3, struct.pack("!Q", 5)),
                                 nla(4 | NESTED, b"".join(exprs))], family)
    load = lambda what, key: expr(what, [nla(1, be32(1)), nla(2, be32(key))])
    masked = expr("bitwise", [nla(1, be32(1)), nla(2, be32(1)), nla(3, be32(4)),
                              nla(4 | NESTED, data(mark(0x00ff0000))),
                              nla(5 | NESTED, data(mark(0))), nla(6, be32(0))])
    vmap = lambda s: expr("lookup", [nla(1, strz(s)), nla(2, be32(1)), nla(3, be32(0)),
                                     nla(5, be32(0))])
    cmp_allow = expr("cmp", [nla(1, be32(1)), nla(2, be32(0)),
                             nla(3 | NESTED, data(mark(0x00a10000)))])
    jump = expr("immediate", [nla(1, be32(0)),
                              nla(2 | NESTED, nla(2 | NESTED, nla(1, be32(-3)) +
                                                   nla(2, strz("decide"))))])
    queue = expr("queue", [nla(1, struct.pack("!H", 0)), nla(2, struct.pack("!H", 2)),
                           nla(3, struct.pack("!H", 1))])
    offload = expr("flow_offload", [nla(1, strz("ft"))])
    keys = [0x00c10000, 0x00a10000, 0x00b10000, 0x00b20000, 0x00b30000, 0x00b40000]
    elems = nft_msg(NEWSETELEM, [nla(1, strz("btblockd")), nla(2, strz("verdicts")),
                                 nla(3 | NESTED, b"".join(nla(1 | NESTED, nla(1 | NESTED,
                                                                             data(mark(k))))
                                                          for k in keys))])
    sets = b"".join(nft_msg(NEWSET, [nla(1, strz("btblockd")), nla(2, strz(n)),
                                     nla(3, be32(f)), nla(5, be32(kl)),
                                     nla(9 | NESTED, nla(1, be32(size)))])
                    for n, f, kl, size in (("decided", 8, 4, 0), ("verdicts", 8, 4, 0),
                                           ("ban4", 0x10, 8, 65536), ("ban6", 0x10, 32, 65536)))
    done = nlmsg(3, struct.pack("=i", 0))
    ruleset = (chain("forward_decide", 2, -160) + chain("forward_verdict", 2, -140) + sets +
               elems + rule("forward_decide", [jump]) +
               rule("forward_verdict", [load("meta", 3), masked, vmap("verdicts")]) +
               rule("decide", [load("ct", 3), masked, vmap("decided")]) +
               rule("budget", [queue]) +
               rule("offload", [load("ct", 3), masked, cmp_allow, offload]) +
               rule("forward", [offload], table="fw4") + done)
    nfqueue = (b"    0   4242     0 2  2048     0     0        6  1\n"
               b"    1 3000000001    3 2  2048    17     4     1000  1\n")
    xt = (b"-P FORWARD ACCEPT\n-N BTBLOCKD\n"
          b"-A FORWARD -m mark --mark 0xc10000/0xff0000 -m comment --comment btblockd -j BTBLOCKD\n"
          b"-A BTBLOCKD -p tcp -m comment --comment btblockd -m mark --mark 0xc10000/0xff0000 "
          b"-j NFQUEUE --queue-balance 0:1 --queue-bypass\n"
          b"-A BTBLOCKD -p udp -m comment --comment \"a b\" -j NFQUEUE --queue-num 1\n")
    route4 = (b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
              b"wan\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
    route6 = (b"00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
              b"fe800000000000000000000000000001 00000400 00000001 00000000 00000003  br-wan\n")
    stats = (b'{"version":"0.1.0","mode":"enforce","queues":[{"queue":0,"portid":10,'
             b'"stalled":false,"last_progress_ms":5},{"queue":1,"portid":11,"stalled":true,'
             b'"last_progress_ms":9000}],"marks":{"mask":16711680,"allow":10551296,'
             b'"block":11599872,"reject":11665408,"block_flow":11730944,'
             b'"reject_flow":11796480},"protected_interfaces":["br-lan"]}')
    return [("ruleset", b"\0" + ruleset), ("nfqueue", b"\1" + nfqueue), ("xt", b"\2" + xt),
            ("route4", b"\3" + route4), ("route6", b"\4" + route6), ("stats", b"\5" + stats),
            ("all_text", b"\6" + nfqueue + xt + route4)]


def lease_files():
    """Lease files in each format fuzz_leases reads, and shapes at their edges."""
    dnsmasq = (b"1796292900 02:00:5e:00:01:10 192.168.1.10 laptop 01:02:00:5e:00:01:10\n"
               b"0 02:00:5e:00:01:11 192.168.1.11 * *\n"
               b"duid 00:01:00:01:2c:4f:aa:bb:02:00:5e:00:00:01\n"
               b"1796292900 4660 fd00:1::10 laptop 00:01:00:01:2c:4f:aa:bb\n")
    odhcpd = (b"# br-lan 2:0:5e:0:1:10 ipv4 laptop 1796292900 c0a8010a 32 192.168.1.10/32\n"
              b"# br-lan 000100012c4faabb 1234 phone 1796292900 10 128 fd00:1::10/128 "
              b"2001:db8::10/128\n"
              b"# br-lan 000100012c4faabb 1235 broken\\x20name -1 11 64 2001:db8:1::/64\n")
    hosts = b"fd00:1::10\tlaptop.lan\tlaptop\n192.168.1.11\tphone\n"
    return [("dnsmasq", dnsmasq), ("odhcpd", odhcpd), ("hosts", hosts),
            ("mixed", dnsmasq + odhcpd + hosts), ("no_newline", dnsmasq.rstrip(b"\n")),
            ("long_line", b"1 02:00:5e:00:01:10 192.168.1.10 " + b"a" * 1100 + b"\n" + dnsmasq),
            ("crlf", dnsmasq.replace(b"\n", b"\r\n")), ("nul", b"1 02:00:5e:00:01:10 1\x0092.168.1.1 x\n")]


def state_file(endpoints, hosts, version=1, first=0, last=3, saved=1795740721):
    """A state file (src/statefile.h): header, records, CRC-32."""
    boot = bytes.fromhex("6b113bfdb874480e39544929bf2b6581")
    out = b"BTBSTATE" + struct.pack("!IIQ", version, 64, saved) + boot
    out += struct.pack("!HHII", first, last, len(endpoints), len(hosts)) + bytes(12)
    for fam, tier, port, queue, source, ttl, addr in endpoints:
        out += struct.pack("!BBHHBBII", fam, tier, port, queue, 1, 0, source, ttl)
        out += addr.ljust(16, b"\0")
    for fam, age, addr in hosts:
        out += struct.pack("!B3xI", fam, age) + addr.ljust(16, b"\0")
    return out + struct.pack("!I", zlib.crc32(out) & 0xFFFFFFFF)


def state_files():
    """State files as a daemon writes them, and at their edges."""
    eps = [(4, 1, 6881, 0, 0x12345679, 3599, bytes([203, 0, 113, 7])),
           (6, 2, 51413, 3, 0xdeadbeef, 604800, B6),
           (4, 2, 6881, 0, 0x12345679, 10, bytes([203, 0, 113, 7]))]
    hosts = [(4, 12, bytes([192, 168, 1, 10])), (6, 86000, A6)]
    full = state_file(eps, hosts)
    many = state_file([(4, 1, 1024 + i, i % 4, i, 60, bytes([10, 1, i >> 8 & 255, i & 255]))
                       for i in range(300)], hosts * 3)
    return [("two_of_each", full), ("empty", state_file([], [])),
            ("endpoints_only", state_file(eps, [])), ("hosts_only", state_file([], hosts)),
            ("many", many), ("version_2", state_file(eps, hosts, version=2)),
            ("one_queue", state_file([e[:3] + (5,) + e[4:] for e in eps], [], first=5, last=5)),
            ("truncated", full[:len(full) - 9]), ("header_only", full[:64])]


def gen(out, srcdir, pcaps):
    seeds = {k: os.path.join(out, k) for k in
             ("fuzz_packet", "fuzz_dpi", "fuzz_bencode", "fuzz_control", "fuzz_config", "fuzz_pcap",
              "fuzz_ruleset", "fuzz_bans", "fuzz_leases", "fuzz_check", "fuzz_state")}
    for f in FLOWS:
        name, l4, c2s, s2c, sp, dp = f
        for v6 in (False, True):
            pkts = flow_packets(f, v6)
            tag = "%s_%s" % (name, "v6" if v6 else "v4")
            write(seeds["fuzz_packet"], tag, records(pkts))
            write(seeds["fuzz_packet"], tag + "_single", pkts[3 if l4 == "tcp" else 0])
            flags = (1 if l4 == "udp" else 0) | (2 if name != "bt_midstream" else 0) | (4 if v6 else 0)
            payloads = []
            for i in range(max(len(c2s), len(s2c))):
                if i < len(c2s):
                    payloads.append((0, c2s[i]))
                if i < len(s2c):
                    payloads.append((1, s2c[i]))
            head = struct.pack("!BHH", flags, sp, dp)
            write(seeds["fuzz_dpi"], tag, head + b"".join(
                struct.pack("!BH", d | 4, len(p)) + p for d, p in payloads))
        pkts = flow_packets(f, False)
        write(seeds["fuzz_pcap"], name + "_raw.pcap", pcap_file(pkts, 101))
    # link layers, fragments, IPv6 extension headers, a capture cut short
    allp = [p for f in FLOWS[:4] + FLOWS[9:12] for p in flow_packets(f, False)]
    write(seeds["fuzz_pcap"], "eth.pcap", pcap_file(allp[:12], 1, ETH4))
    write(seeds["fuzz_pcap"], "vlan.pcap", pcap_file(allp[:12], 1, VLAN4))
    write(seeds["fuzz_pcap"], "sll.pcap", pcap_file(allp[:8], 113, b"\0\0\0\1\0\6" + b"\0" * 8 + b"\x08\x00"))
    write(seeds["fuzz_pcap"], "null.pcap", pcap_file(allp[:8], 0, b"\2\0\0\0"))
    write(seeds["fuzz_pcap"], "eth6.pcapng", pcapng_file(
        [ETH6 + p for p in flow_packets(FLOWS[0], True)]))
    cut = pcap_file(allp[:6], 101)
    write(seeds["fuzz_pcap"], "truncated.pcap", cut[:len(cut) - 17])
    frag_payload = udp(6881, 6881, DHT_GETPEERS)
    frags = [ip4(17, frag_payload[:24], frag=0x2000, ident=7), ip4(17, frag_payload[24:], frag=3, ident=7)]
    write(seeds["fuzz_packet"], "fragments_v4", records(frags))
    write(seeds["fuzz_packet"], "hbh_v6", records(
        [ip6(17, udp(6881, 6881, DHT_PING), hbh=True)]))
    write(seeds["fuzz_packet"], "timeouts", records(flow_packets(FLOWS[9], False)[:1], 0x80 | 63) +
          records(flow_packets(FLOWS[0], False), 0x41))
    # bencode: the DHT and extension payloads, plus edge shapes
    for i, b in enumerate([DHT_PING, DHT_GETPEERS, DHT_REPLY, EXT_HS[6:], HTTP_ANN_REPLY[46:],
                           b"i-42e", b"i0e", b"le", b"de", b"4:spam", b"l" * 24 + b"e" * 24,
                           b"d1:ad1:bd1:cleeee", b"0:", b"d3:cow3:moo4:spam4:eggse"]):
        write(seeds["fuzz_bencode"], "b%02d" % i, b)
    for i, c in enumerate([b"stats\n", b"version\n", b"help\n", b"detections\n",
                           b"stats\r\nversion\r\nhelp\r\n",
                           b"nonsense\n", b"\x00\xff\x1b[2J\n", b"s" * 600 + b"\n", b"\n\n\nstats",
                           b"forget 10.0.0.2\nforget 2001:db8::/32\nforget x\n"]):
        write(seeds["fuzz_control"], "c%02d" % i, c)
    conf = [b"queues 0-1\ncontrol /run/x.sock\nflow-capacity 4096\n",
            b"# comment\n\nmonitor\nreject yes\nmark-mask 0x00ff0000\nmark-allow 0x00a10000\n",
            b"cpus 0,2-3\nlog-level debug\ndetect-log /tmp/d.log\ndetect-log-rate 10\n",
            b"tcp-timeout = 60\nudp-timeout=30\nstream-prefix 2048\nallow-after 4\n",
            b"fail-closed\nendpoint-capacity 0\nendpoint-ttl 600\ncopy-range 512\n",
            b"queue-maxlen 1024\nrcvbuf 1048576\nforeground no\npidfile /run/b.pid\n",
            b"dhcp-leases /tmp/dhcp.leases,/tmp/odhcpd.leases\ndetect-exec /usr/bin/true\n"
            b"detect-exec-rate 5\n",
            b"bogus-option 1\n", b"flow-capacity 99999999999\n", b"queues 5-2\n"]
    for name, datagram in ruleset_replies():
        write(seeds["fuzz_ruleset"], name, datagram)
    for name, datagram in bans_replies():
        write(seeds["fuzz_bans"], name, datagram)
    for name, raw in check_inputs():
        write(seeds["fuzz_check"], name, raw)
    for name, text in lease_files():
        write(seeds["fuzz_leases"], name, text)
    for name, blob in state_files():
        write(seeds["fuzz_state"], name, blob)
    if srcdir and os.path.exists(os.path.join(srcdir, "contrib", "btblockd.conf")):
        with open(os.path.join(srcdir, "contrib", "btblockd.conf"), "rb") as fh:
            conf.append(fh.read())
    for i, c in enumerate(conf):
        write(seeds["fuzz_config"], "conf%02d" % i, c)
    if pcaps and os.path.isdir(pcaps):
        from_pcaps(pcaps, seeds)


def from_pcaps(pcaps, seeds, nfiles=40, npkts=24, snap=600):
    """The first npkts packets (cut to snap bytes) of up to nfiles classic
    pcap captures of raw IP or Ethernet: one small capture and one packet
    record series each, written to the build tree only."""
    done = 0
    for fn in sorted(os.listdir(pcaps)):
        if done >= nfiles:
            break
        try:
            with open(os.path.join(pcaps, fn), "rb") as fh:
                raw = fh.read(1 << 20)
        except OSError:
            continue
        if len(raw) < 24 or raw[:4] not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"):
            continue
        e = "<" if raw[:4] == b"\xd4\xc3\xb2\xa1" else ">"
        link = struct.unpack(e + "I", raw[20:24])[0]
        if link not in (1, 101):
            continue
        off, frames = 24, []
        while off + 16 <= len(raw) and len(frames) < npkts:
            incl = struct.unpack(e + "I", raw[off + 8:off + 12])[0]
            frames.append(raw[off + 16:off + 16 + min(incl, snap)])
            off += 16 + incl
        ips = [f[14:] if link == 1 else f for f in frames]
        ips = [p for p in ips if p and p[0] >> 4 in (4, 6)]
        if not ips:
            continue
        tag = "shared_%08x" % zlib.crc32(fn.encode())
        write(seeds["fuzz_pcap"], tag + ".pcap", pcap_file(frames, link))
        write(seeds["fuzz_packet"], tag, records(ips))
        done += 1


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    out, srcdir, pcaps = args[0], None, None
    i = 1
    while i < len(args):
        if args[i] == "--srcdir" and i + 1 < len(args):
            srcdir = args[i + 1]
        elif args[i] == "--pcaps" and i + 1 < len(args):
            pcaps = args[i + 1]
        else:
            sys.exit(__doc__)
        i += 2
    gen(out, srcdir, pcaps)


if __name__ == "__main__":
    main()
