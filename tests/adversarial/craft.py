"""craft.py - packets for the adversarial tests, written into pcap files.

Standard library only. A Capture collects IPv4/IPv6 packets (TCP, UDP) with
increasing timestamps and writes a classic pcap file (raw IP or Ethernet
link layer). Tcp follows one connection's sequence and acknowledgement
numbers so that a test says "client sends" and gets the numbers right, or
overrides them on purpose (a blind spoofer's wrong ACK). The rest builds
protocol messages: bencode and KRPC, the peer wire handshake and messages
(BEP 10 extended, ut_pex), uTP headers, the UDP tracker protocol, local
service discovery, TLS ClientHello/ServerHello/alert, DNS, OpenVPN's hard
reset, HTTP, and random bytes from a seeded PRNG.

Nothing here sends a packet: the bytes only ever go to files.
"""

import ipaddress
import random
import struct

DLT_EN10MB = 1
DLT_RAW = 101

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

UTP_DATA, UTP_FIN, UTP_STATE, UTP_RESET, UTP_SYN = 0, 1, 2, 3, 4

# ---------------------------------------------------------------- IP layer


def _addr(a):
    return ipaddress.ip_address(a)


def family(a):
    return _addr(a).version


def _sum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _csum(data):
    return (~_sum16(data)) & 0xFFFF


def _l4_csum(src, dst, proto, seg):
    s, d = _addr(src), _addr(dst)
    if s.version == 4:
        pseudo = s.packed + d.packed + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = s.packed + d.packed + struct.pack("!IxxxB", len(seg), proto)
    c = _csum(pseudo + seg)
    # UDP sends a computed 0 as 0xffff (0 means "no checksum")
    return c if c or proto != 17 else 0xFFFF


def ip_packet(src, dst, proto, seg, ttl=64, ident=0):
    """An IPv4 or IPv6 packet (by the addresses' family) around seg."""
    s, d = _addr(src), _addr(dst)
    if s.version != d.version:
        raise ValueError("mixed families: %s %s" % (src, dst))
    if s.version == 4:
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident & 0xFFFF,
                          0x4000, ttl, proto, 0, s.packed, d.packed)
        hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
        return hdr + seg
    return struct.pack("!IHBB16s16s", 0x60000000, len(seg), proto, ttl,
                       s.packed, d.packed) + seg


def tcp_packet(src, sport, dst, dport, seq, ack, flags, payload=b"", window=64240):
    off = 5 << 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off, flags, window, 0, 0) + payload
    c = _l4_csum(src, dst, 6, seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return ip_packet(src, dst, 6, seg)


def udp_packet(src, sport, dst, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = _l4_csum(src, dst, 17, seg)
    seg = seg[:6] + struct.pack("!H", c) + seg[8:]
    return ip_packet(src, dst, 17, seg)


# ---------------------------------------------------------------- pcap


class Capture:
    """Packets in time order, written as a classic pcap (microseconds)."""

    def __init__(self, linktype=DLT_RAW, start=1700000000.0, step=0.001):
        if linktype not in (DLT_RAW, DLT_EN10MB):
            raise ValueError("linktype %d" % linktype)
        self.linktype = linktype
        self.t = start
        self.step = step
        self.frames = []

    def add(self, ip, gap=None):
        self.t += self.step if gap is None else gap
        if self.linktype == DLT_EN10MB:
            etype = 0x0800 if ip[0] >> 4 == 4 else 0x86DD
            ip = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + struct.pack("!H", etype) + ip
        self.frames.append((self.t, ip))

    def wait(self, seconds):
        self.t += seconds

    def udp(self, src, sport, dst, dport, payload, gap=None):
        self.add(udp_packet(src, sport, dst, dport, payload), gap)

    def tcp(self, src, sport, dst, dport, seq, ack, flags, payload=b"", gap=None):
        self.add(tcp_packet(src, sport, dst, dport, seq, ack, flags, payload), gap)

    def data(self):
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, self.linktype)]
        for t, frame in self.frames:
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
        return b"".join(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.data())


class Tcp:
    """One TCP connection in a capture. c = client (sends the SYN), s =
    server. Each side's next sequence number and what it has received are
    tracked; send() acknowledges everything received unless ack= says
    otherwise."""

    def __init__(self, cap, client, cport, server, sport, isn_c=1000, isn_s=500000):
        self.cap = cap
        self.ep = {"c": (client, cport), "s": (server, sport)}
        self.seq = {"c": isn_c, "s": isn_s}
        self.rcv = {"c": 0, "s": 0}	# next byte expected from the other side

    def _other(self, side):
        return "s" if side == "c" else "c"

    def _emit(self, side, flags, payload=b"", ack=None, seq=None, gap=None):
        (src, sp), (dst, dp) = self.ep[side], self.ep[self._other(side)]
        s = self.seq[side] if seq is None else seq
        a = self.rcv[side] if ack is None else ack
        self.cap.tcp(src, sp, dst, dp, s, a if flags & ACK else 0, flags, payload, gap)
        used = len(payload) + (1 if flags & (SYN | FIN) else 0)
        if seq is None:
            self.seq[side] = (s + used) & 0xFFFFFFFF
        self.rcv[self._other(side)] = (s + used) & 0xFFFFFFFF

    def syn(self, gap=None):
        self._emit("c", SYN, gap=gap)

    def synack(self, gap=None):
        self._emit("s", SYN | ACK, gap=gap)

    def ack(self, side="c", gap=None):
        self._emit(side, ACK, gap=gap)

    def handshake(self):
        self.syn()
        self.synack()
        self.ack()

    def send(self, side, payload, ack=None, flags=PSH | ACK, gap=None):
        self._emit(side, flags, payload, ack=ack, gap=gap)

    def c(self, payload, **kw):
        self.send("c", payload, **kw)

    def s(self, payload, **kw):
        self.send("s", payload, **kw)

    def resend(self, side, payload, seq, gap=None):
        """The same bytes again at an earlier sequence (a retransmission)."""
        self._emit(side, PSH | ACK, payload, seq=seq, gap=gap)


# ---------------------------------------------------------------- bencode


def bencode(v):
    if isinstance(v, bool):
        raise TypeError("bool")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return b"%d:%s" % (len(v), bytes(v))
    if isinstance(v, (list, tuple)):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(type(v))


# ---------------------------------------------------------------- DHT


def compact_peer(ip, port):
    return _addr(ip).packed + struct.pack("!H", port)


def compact_node(node_id, ip, port):
    return node_id + compact_peer(ip, port)


def node_id(rng):
    return rand_bytes(rng, 20)


def krpc_query(t, q, args):
    return bencode({"t": t, "y": "q", "q": q, "a": args})


def krpc_reply(t, r):
    return bencode({"t": t, "y": "r", "r": r})


def dht_ping(rng, t=b"pn"):
    return krpc_query(t, "ping", {"id": node_id(rng)})


def dht_get_peers(rng, t, info_hash=None):
    return krpc_query(t, "get_peers", {"id": node_id(rng),
                                      "info_hash": info_hash or rand_bytes(rng, 20)})


def dht_values_reply(rng, t, peers, nodes=()):
    """A get_peers answer: values = compact peers, nodes = (ip, port)s."""
    r = {"id": node_id(rng), "token": rand_bytes(rng, 8),
         "values": [compact_peer(ip, p) for ip, p in peers]}
    v4 = [n for n in nodes if family(n[0]) == 4]
    v6 = [n for n in nodes if family(n[0]) == 6]
    if v4:
        r["nodes"] = b"".join(compact_node(node_id(rng), ip, p) for ip, p in v4)
    if v6:
        r["nodes6"] = b"".join(compact_node(node_id(rng), ip, p) for ip, p in v6)
    return krpc_reply(t, r)


# ---------------------------------------------------------------- peer wire

PSTR = b"\x13BitTorrent protocol"


def bt_handshake(rng, info_hash=None, peer_id=None):
    reserved = b"\0\0\0\0\0\x10\0\x05"	# extension protocol, DHT, fast
    return PSTR + reserved + (info_hash or rand_bytes(rng, 20)) + \
        (peer_id or b"-qB4630-" + rand_bytes(rng, 12))


def pw_message(msg_id, payload=b""):
    return struct.pack("!IB", 1 + len(payload), msg_id) + payload


def pw_have(index):
    return pw_message(4, struct.pack("!I", index))


def pw_request(index, begin, length=16384):
    return pw_message(6, struct.pack("!III", index, begin, length))


def extended(ext_id, body):
    return pw_message(20, bytes([ext_id]) + body)


def ext_handshake(m=None):
    return extended(0, bencode({"m": m or {"ut_pex": 1, "ut_metadata": 2},
                                "v": "qBittorrent/4.6.3", "reqq": 500}))


def ut_pex(ext_id, added):
    peers4 = [p for p in added if family(p[0]) == 4]
    peers6 = [p for p in added if family(p[0]) == 6]
    d = {"added": b"".join(compact_peer(ip, p) for ip, p in peers4),
         "added.f": b"\x10" * len(peers4), "dropped": b""}
    if peers6:
        d["added6"] = b"".join(compact_peer(ip, p) for ip, p in peers6)
        d["added6.f"] = b"\x10" * len(peers6)
    return extended(ext_id, bencode(d))


# ---------------------------------------------------------------- uTP


def utp_packet(ptype, conn_id, seq, ack, ts=0, ts_diff=0, wnd=1048576, payload=b""):
    return struct.pack("!BBHIIIHH", ptype << 4 | 1, 0, conn_id, ts & 0xFFFFFFFF,
                       ts_diff & 0xFFFFFFFF, wnd, seq & 0xFFFF, ack & 0xFFFF) + payload


# ---------------------------------------------------------------- UDP tracker

TRACKER_MAGIC = 0x41727101980


def tracker_connect(tid):
    return struct.pack("!QII", TRACKER_MAGIC, 0, tid)


def tracker_connect_reply(tid, conn_id):
    return struct.pack("!IIQ", 0, tid, conn_id)


def tracker_announce(rng, conn_id, tid, port=6881, info_hash=None):
    return struct.pack("!QII", conn_id, 1, tid) + (info_hash or rand_bytes(rng, 20)) + \
        b"-qB4630-" + rand_bytes(rng, 12) + struct.pack("!QQQIIIiH", 0, 1 << 30, 0, 2, 0,
                                                         rng.getrandbits(32), 200, port)


def tracker_announce_reply(tid, peers, interval=1800):
    return struct.pack("!IIIII", 1, tid, interval, 3, len(peers)) + \
        b"".join(compact_peer(ip, p) for ip, p in peers)


# ---------------------------------------------------------------- LSD


def lsd_announce(rng, port=6881, host="239.192.152.143:6771"):
    ih = rand_bytes(rng, 20).hex()
    return ("BT-SEARCH * HTTP/1.1\r\nHost: %s\r\nPort: %d\r\nInfohash: %s\r\n"
            "cookie: %s\r\n\r\n\r\n" % (host, port, ih, rand_bytes(rng, 4).hex())).encode()


# ---------------------------------------------------------------- TLS


def _tls_ext(etype, body):
    return struct.pack("!HH", etype, len(body)) + body


def tls_client_hello(rng, sni):
    name = sni.encode()
    exts = _tls_ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    exts += _tls_ext(10, bytes.fromhex("0006001d00170018"))		# groups
    exts += _tls_ext(13, bytes.fromhex("00080403050308040401"))	# signature algs
    exts += _tls_ext(16, b"\x00\x0c\x02h2\x08http/1.1")			# ALPN
    exts += _tls_ext(43, b"\x04\x03\x04\x03\x03")			# versions
    exts += _tls_ext(51, struct.pack("!HHH", 36, 0x001D, 32) + rand_bytes(rng, 32))
    suites = bytes.fromhex("130113021303c02bc02fc02cc030cca9cca8")
    body = b"\x03\x03" + rand_bytes(rng, 32) + b"\x20" + rand_bytes(rng, 32) + \
        struct.pack("!H", len(suites)) + suites + b"\x01\x00" + \
        struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_hello(rng):
    exts = _tls_ext(43, b"\x03\x04") + _tls_ext(51, struct.pack("!HH", 0x001D, 32) +
                                                  rand_bytes(rng, 32))
    body = b"\x03\x03" + rand_bytes(rng, 32) + b"\x20" + rand_bytes(rng, 32) + \
        b"\x13\x01\x00" + struct.pack("!H", len(exts)) + exts
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    rec = b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs
    rec += b"\x14\x03\x03\x00\x01\x01"				# change cipher spec
    app = rand_bytes(rng, 1200)					# encrypted flight
    return rec + b"\x17\x03\x03" + struct.pack("!H", len(app)) + app


def tls_app_data(rng, n):
    return b"\x17\x03\x03" + struct.pack("!H", n) + rand_bytes(rng, n)


def tls_alert(desc=50):
    """A fatal alert (50: decode_error), what a TLS server answers to junk."""
    return b"\x15\x03\x01\x00\x02\x02" + bytes([desc])


# ---------------------------------------------------------------- DNS


def _qname(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_query(qid, name, qtype=1):
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _qname(name) + \
        struct.pack("!HH", qtype, 1)


def dns_response(qid, name, ip="93.184.216.34"):
    q = _qname(name) + struct.pack("!HH", 1, 1)
    ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + _addr(ip).packed
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + ans


# ---------------------------------------------------------------- OpenVPN


def openvpn_hard_reset_client(rng):
    """P_CONTROL_HARD_RESET_CLIENT_V2, key id 0, no tls-auth."""
    return b"\x38" + rand_bytes(rng, 8) + b"\x00" + struct.pack("!I", 0)


def openvpn_hard_reset_server(rng, client_session):
    return b"\x40" + rand_bytes(rng, 8) + b"\x01" + struct.pack("!I", 0) + \
        client_session + struct.pack("!I", 0)


def openvpn_control(rng, session, pid, tls):
    return b"\x20" + session + b"\x00" + struct.pack("!I", pid) + tls


# ---------------------------------------------------------------- HTTP, SSH


def http_get(host, path="/"):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)"
            "\r\nAccept: */*\r\n\r\n" % (path, host)).encode()


def http_response(status, body, ctype="text/html"):
    reason = {200: "OK", 400: "Bad Request"}.get(status, "Status")
    return ("HTTP/1.1 %d %s\r\nServer: nginx\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (status, reason, ctype, len(body))).encode() + body


def ssh_banner(who="OpenSSH_9.6"):
    return ("SSH-2.0-%s\r\n" % who).encode()


# ---------------------------------------------------------------- random


def rng_for(name):
    """A PRNG seeded by a name: every capture is the same on every run."""
    seed = 0
    for ch in name.encode():
        seed = (seed * 131 + ch) & 0xFFFFFFFFFFFF
    return random.Random(seed)


def rand_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def random_stream(rng, n):
    """n random bytes with nothing of a header about them: no zero among
    the first eight, no TLS record type first, no length prefix matching
    n. What an encrypted stream (MSE, Shadowsocks) looks like."""
    while True:
        b = rand_bytes(rng, n)
        if 0 in b[:8] or b[0] in (0x14, 0x15, 0x16, 0x17) or (b[0] << 8 | b[1]) + 2 == n:
            continue
        if len(set(b[:96])) < 70:
            continue
        return b
