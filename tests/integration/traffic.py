#!/usr/bin/env python3
# tests/integration/traffic.py: bounded TCP/UDP traffic with end-to-end integrity checks.
"""Traffic generator and checker for the namespace lab (stdlib only).

server  listens on TCP and UDP on every --bind address. TCP: reads a
        length-prefixed stream and answers with the byte count and sha256 of
        what arrived. UDP: echoes every datagram whose checksum is intact.
tcp     sends N bytes of seeded pseudo-random data from --source, optionally
        rate limited, and compares the server's sha256 with its own.
udp     sends K numbered, checksummed datagrams from --source, retransmits
        the unanswered ones a bounded number of times, and verifies every echo.
sink    listens on TCP and UDP on every --bind address and --port and prints
        one line per arrival (peer, bytes): what really got through. UDP
        datagrams are echoed unchanged, so "udp" clients work against it.
bt      opens a TCP connection from --source, sends a 68-byte BitTorrent
        handshake, and holds the connection open for --hold seconds (the
        kernel retransmits the handshake while it is unacknowledged). With
        --pure-acks N it first sends N bare ACKs on the connection through
        a raw socket, with the connection's own sequence numbers (read from
        the SYN-ACK), as a peer does before an encrypted handshake.
http    fetches one URL path from --dest over HTTP/1.1 from --source and
        prints its size and sha256 (checked against --expect-sha256).

Every client prints one "key=value" result line and exits 0 only when all data
arrived intact. Every wait has a deadline, so nothing can hang a test run.
"""

import argparse
import hashlib
import http.client
import random
import select
import socket
import struct
import sys
import threading
import time

TCP_MAGIC = b"BTBT"
TCP_HDR = struct.Struct("!4sQ")          # magic, payload length
TCP_REPLY = struct.Struct("!4sQ32s")     # magic, bytes received, sha256
UDP_MAGIC = b"BTBU"
UDP_HDR = struct.Struct("!4sIH8s")       # magic, sequence, payload length, checksum
CHUNK = 64 * 1024
# A sender that stops mid-stream must not pin a server thread forever.
SERVER_IO_TIMEOUT = 30.0


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += part
    return bytes(buf)


def udp_checksum(payload):
    return hashlib.sha256(payload).digest()[:8]


def udp_payload(seed, seq, max_size):
    # Sizes vary so that both tiny and near-MTU datagrams are exercised.
    rng = random.Random(seed * 1000003 + seq)
    size = 1 + rng.randrange(max_size)
    return rng.randbytes(size)


def udp_datagram(seed, seq, max_size):
    payload = udp_payload(seed, seq, max_size)
    return UDP_HDR.pack(UDP_MAGIC, seq, len(payload), udp_checksum(payload)) + payload


def udp_valid(data):
    """Returns the sequence number of an intact datagram, None otherwise."""
    if len(data) < UDP_HDR.size:
        return None
    magic, seq, length, csum = UDP_HDR.unpack_from(data)
    payload = data[UDP_HDR.size:]
    if magic != UDP_MAGIC or length != len(payload) or udp_checksum(payload) != csum:
        return None
    return seq


# ---------------------------------------------------------------- server

def serve_tcp_conn(conn):
    try:
        conn.settimeout(SERVER_IO_TIMEOUT)
        magic, length = TCP_HDR.unpack(recv_exact(conn, TCP_HDR.size))
        if magic != TCP_MAGIC:
            return
        digest = hashlib.sha256()
        received = 0
        while received < length:
            part = conn.recv(min(CHUNK, length - received))
            if not part:
                break
            digest.update(part)
            received += len(part)
        conn.sendall(TCP_REPLY.pack(TCP_MAGIC, received, digest.digest()))
    except (OSError, ConnectionError, struct.error):
        pass
    finally:
        conn.close()


def serve_tcp(lsock):
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True).start()


def serve_udp(usock):
    while True:
        try:
            data, peer = usock.recvfrom(65535)
        except OSError:
            return
        # Corrupted datagrams are not echoed: the client then counts them lost.
        if udp_valid(data) is not None:
            try:
                usock.sendto(data, peer)
            except OSError:
                pass


def cmd_server(args):
    socks = []
    for addr in args.bind:
        fam = family_of(addr)
        lsock = socket.socket(fam, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((addr, args.port))
        lsock.listen(64)
        usock = socket.socket(fam, socket.SOCK_DGRAM)
        usock.bind((addr, args.port))
        socks += [lsock, usock]
        threading.Thread(target=serve_tcp, args=(lsock,), daemon=True).start()
        threading.Thread(target=serve_udp, args=(usock,), daemon=True).start()
    if args.ready_file:
        with open(args.ready_file, "w", encoding="ascii") as f:
            f.write("ready\n")
    print("server ready port=%d bind=%s" % (args.port, ",".join(args.bind)), flush=True)
    # The server is killed by the lab cleanup; the lifetime bound is a backstop.
    time.sleep(args.lifetime)
    for s in socks:
        s.close()
    return 0


# ---------------------------------------------------------------- sink

class SinkLog:
    """One line per event on stdout, whole lines even from many threads."""

    def __init__(self):
        self.lock = threading.Lock()

    def __call__(self, line):
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


def sink_tcp_conn(conn, peer, port, log):
    total = 0
    log("accept proto=tcp peer=%s port=%d" % (peer[0], port))
    try:
        conn.settimeout(SERVER_IO_TIMEOUT)
        while True:
            part = conn.recv(CHUNK)
            if not part:
                break
            total += len(part)
            log("recv proto=tcp peer=%s port=%d bytes=%d total=%d" % (
                peer[0], port, len(part), total))
    except OSError:
        pass
    finally:
        log("close proto=tcp peer=%s port=%d total=%d" % (peer[0], port, total))
        conn.close()


def sink_tcp(lsock, port, log):
    while True:
        try:
            conn, peer = lsock.accept()
        except OSError:
            return
        threading.Thread(target=sink_tcp_conn, args=(conn, peer, port, log),
                         daemon=True).start()


def sink_udp(usock, port, log):
    while True:
        try:
            data, peer = usock.recvfrom(65535)
        except OSError:
            return
        log("recv proto=udp peer=%s port=%d bytes=%d" % (peer[0], port, len(data)))
        try:
            usock.sendto(data, peer)
        except OSError:
            pass


def cmd_sink(args):
    log = SinkLog()
    socks = []
    for addr in args.bind:
        for port in args.port:
            fam = family_of(addr)
            lsock = socket.socket(fam, socket.SOCK_STREAM)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind((addr, port))
            lsock.listen(64)
            usock = socket.socket(fam, socket.SOCK_DGRAM)
            usock.bind((addr, port))
            socks += [lsock, usock]
            threading.Thread(target=sink_tcp, args=(lsock, port, log), daemon=True).start()
            threading.Thread(target=sink_udp, args=(usock, port, log), daemon=True).start()
    if args.ready_file:
        with open(args.ready_file, "w", encoding="ascii") as f:
            f.write("ready\n")
    log("sink ready ports=%s bind=%s" % (",".join(map(str, args.port)), ",".join(args.bind)))
    time.sleep(args.lifetime)
    for s in socks:
        s.close()
    return 0


# ---------------------------------------------------------------- clients

def cmd_tcp(args):
    start = time.monotonic()
    deadline = start + args.timeout
    rng = random.Random(args.seed)
    digest = hashlib.sha256()
    sent = 0
    result = "tcp src=%s dst=%s port=%d" % (args.source, args.dest, args.port)
    try:
        sock = socket.socket(family_of(args.dest), socket.SOCK_STREAM)
        sock.bind((args.source, 0))
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        sock.connect((args.dest, args.port))
        sock.sendall(TCP_HDR.pack(TCP_MAGIC, args.bytes))
        while sent < args.bytes:
            chunk = rng.randbytes(min(CHUNK, args.bytes - sent))
            digest.update(chunk)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline reached while sending")
            sock.settimeout(remaining)
            sock.sendall(chunk)
            sent += len(chunk)
            if args.rate:
                # Sleep until the average rate is back under the limit.
                ahead = sent / args.rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(min(ahead, max(0.0, deadline - time.monotonic())))
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        magic, received, remote = TCP_REPLY.unpack(recv_exact(sock, TCP_REPLY.size))
        sock.close()
    except (OSError, ConnectionError, TimeoutError, struct.error) as e:
        print("%s FAIL sent=%d error=%r" % (result, sent, str(e)), flush=True)
        return 1
    secs = time.monotonic() - start
    ok = magic == TCP_MAGIC and received == args.bytes and remote == digest.digest()
    print("%s %s bytes=%d received=%d seconds=%.2f sha256=%s%s" % (
        result, "ok" if ok else "FAIL", sent, received, secs, digest.hexdigest(),
        "" if ok else " remote_sha256=" + remote.hex()), flush=True)
    return 0 if ok else 1


def cmd_udp(args):
    start = time.monotonic()
    deadline = start + args.timeout
    sock = socket.socket(family_of(args.dest), socket.SOCK_DGRAM)
    sock.bind((args.source, 0))
    sock.connect((args.dest, args.port))
    sent = {seq: udp_datagram(args.seed, seq, args.size) for seq in range(args.count)}
    pending = set(sent)
    tries = dict.fromkeys(sent, 0)
    transmissions = 0
    corrupt = 0
    nbytes = 0
    while pending and time.monotonic() < deadline:
        # Bounded window per round so that the socket buffers never overflow;
        # a datagram sent retries+1 times without an answer is given up.
        window = [s for s in sorted(pending) if tries[s] <= args.retries][:args.window]
        if not window:
            break
        for seq in window:
            tries[seq] += 1
            transmissions += 1
            try:
                sock.send(sent[seq])
            except OSError:
                pass
        outstanding = set(window)
        round_end = min(deadline, time.monotonic() + args.wait)
        while outstanding:
            left = round_end - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                break
            try:
                data = sock.recv(65535)
            except OSError:
                continue
            seq = udp_valid(data)
            if seq is None or sent.get(seq) != data:
                corrupt += 1
                continue
            outstanding.discard(seq)
            if seq in pending:
                pending.discard(seq)
                nbytes += len(data)
    sock.close()
    ok = not pending and corrupt == 0
    print("udp src=%s dst=%s port=%d %s datagrams=%d received=%d bytes=%d "
          "transmissions=%d corrupt=%d seconds=%.2f" % (
              args.source, args.dest, args.port, "ok" if ok else "FAIL",
              args.count, args.count - len(pending), nbytes, transmissions,
              corrupt, time.monotonic() - start), flush=True)
    return 0 if ok else 1


def bt_handshake(seed):
    """A BitTorrent peer-wire handshake as a real client sends it."""
    rng = random.Random(seed)
    # Reserved bits of a typical client: extension protocol, DHT, fast.
    reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x05])
    alnum = b"0123456789abcdefghijklmnopqrstuvwxyz"
    peer_id = b"-qB4250-" + bytes(rng.choice(alnum) for _ in range(12))
    return b"\x13BitTorrent protocol" + reserved + rng.randbytes(20) + peer_id


def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def bare_ack(src, dst, sport, dport, seq, ack):
    """A TCP header with only ACK set and no payload, checksum included."""
    fam = family_of(dst)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x10, 502, 0, 0)
    if fam == socket.AF_INET:
        pseudo = socket.inet_pton(fam, src) + socket.inet_pton(fam, dst) + struct.pack("!BBH", 0, 6, len(hdr))
    else:
        pseudo = socket.inet_pton(fam, src) + socket.inet_pton(fam, dst) + struct.pack("!I3xB", len(hdr), 6)
    return hdr[:16] + struct.pack("!H", inet_checksum(pseudo + hdr)) + hdr[18:]


def synack_numbers(raw, fam, dst, dport, sport, deadline):
    """(seq, ack) of the SYN-ACK from dst:dport to our sport, seen on a raw
    TCP socket (IPv4 copies come with their IP header, IPv6 ones without)."""
    while time.monotonic() < deadline:
        raw.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, peer = raw.recvfrom(65535)
        except socket.timeout:
            break
        if peer[0] != dst:
            continue
        if fam == socket.AF_INET:
            data = data[(data[0] & 0x0F) * 4:]
        if len(data) < 20:
            continue
        sp, dp, seq, ack, _, flags = struct.unpack("!HHIIBB", data[:14])
        if sp == dport and dp == sport and flags & 0x12 == 0x12:
            return seq, ack
    raise TimeoutError("no SYN-ACK seen on the raw socket")


def stream_for(sock, seconds):
    """Send as fast as the connection takes it for this many seconds
    (what a peer sends after the handshake); returns the bytes sent."""
    block = bytes(CHUNK)
    sent = 0
    end = time.monotonic() + seconds
    sock.setblocking(False)
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            _, ready, _ = select.select([], [sock], [], left)
            if ready:
                try:
                    sent += sock.send(block)
                except BlockingIOError:
                    pass
    finally:
        sock.setblocking(True)
    return sent


def cmd_bt(args):
    start = time.monotonic()
    result = "bt src=%s dst=%s port=%d" % (args.source, args.dest, args.port)
    hello = bt_handshake(args.seed)
    received = 0
    streamed = 0
    fam = family_of(args.dest)
    raw = None
    try:
        if args.pure_acks:
            # Opened before the connection, so that it sees the SYN-ACK.
            raw = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
            raw.bind((args.source, 0))
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.bind((args.source, 0))
        sock.settimeout(args.timeout)
        sock.connect((args.dest, args.port))
        if raw:
            sport = sock.getsockname()[1]
            seq, ack = synack_numbers(raw, fam, args.dest, args.port, sport,
                                      time.monotonic() + args.timeout)
            for _ in range(args.pure_acks):
                raw.sendto(bare_ack(args.source, args.dest, sport, args.port, ack, seq + 1),
                           (args.dest, 0))
                time.sleep(0.002)
            raw.close()
    except (OSError, TimeoutError) as e:
        print("%s FAIL connected=0 sent=0 error=%r" % (result, str(e)), flush=True)
        return 1
    try:
        sock.sendall(hello)
        if args.stream:
            streamed = stream_for(sock, args.stream)
        # Hold the connection: while the handshake is unacknowledged the
        # kernel keeps retransmitting it.  Whatever the peer answers is
        # counted, not parsed.
        end = time.monotonic() + args.hold
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                continue
            part = sock.recv(CHUNK)
            if not part:
                break
            received += len(part)
        state = "held"
    except OSError as e:
        state = "error:" + type(e).__name__
    # A reset on close: no FIN_WAIT socket outlives the client.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    print("%s ok connected=1 pure_acks=%d sent=%d streamed=%d received=%d state=%s seconds=%.2f" % (
        result, args.pure_acks, len(hello), streamed, received, state,
        time.monotonic() - start), flush=True)
    return 0


def cmd_http(args):
    start = time.monotonic()
    result = "http src=%s dst=%s port=%d path=%s" % (args.source, args.dest, args.port, args.path)
    digest = hashlib.sha256()
    nbytes = 0
    status = 0
    try:
        # port given explicitly: an IPv6 literal host is then taken whole.
        conn = http.client.HTTPConnection(args.dest, args.port, timeout=args.timeout,
                                          source_address=(args.source, 0))
        conn.request("GET", args.path)
        resp = conn.getresponse()
        status = resp.status
        deadline = start + args.timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("deadline reached while reading")
            part = resp.read(CHUNK)
            if not part:
                break
            digest.update(part)
            nbytes += len(part)
        conn.close()
    except (OSError, http.client.HTTPException, TimeoutError) as e:
        print("%s FAIL status=%d bytes=%d error=%r" % (result, status, nbytes, str(e)), flush=True)
        return 1
    ok = status == 200 and (not args.expect_sha256 or digest.hexdigest() == args.expect_sha256)
    print("%s %s status=%d bytes=%d seconds=%.2f sha256=%s" % (
        result, "ok" if ok else "FAIL", status, nbytes, time.monotonic() - start,
        digest.hexdigest()), flush=True)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("server", help="TCP sha256 sink and UDP echo")
    s.add_argument("--bind", action="append", required=True, help="address (repeatable)")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--ready-file", help="written once every socket is bound")
    s.add_argument("--lifetime", type=float, default=600.0, help="exit after this many seconds")

    for name in ("tcp", "udp"):
        c = sub.add_parser(name)
        c.add_argument("--source", required=True, help="local address to send from")
        c.add_argument("--dest", required=True)
        c.add_argument("--port", type=int, required=True)
        c.add_argument("--seed", type=int, default=1)
        c.add_argument("--timeout", type=float, default=20.0, help="overall deadline (s)")
        if name == "tcp":
            c.add_argument("--bytes", type=int, default=1 << 20)
            c.add_argument("--rate", type=float, default=0.0,
                           help="limit to this many bytes/s (0: unlimited)")
        else:
            c.add_argument("--count", type=int, default=200)
            c.add_argument("--size", type=int, default=1200, help="max payload bytes")
            c.add_argument("--retries", type=int, default=5)
            c.add_argument("--window", type=int, default=64)
            c.add_argument("--wait", type=float, default=0.5,
                           help="seconds to wait for echoes per round")

    k = sub.add_parser("sink", help="log every TCP and UDP arrival; echo UDP")
    k.add_argument("--bind", action="append", required=True, help="address (repeatable)")
    k.add_argument("--port", action="append", type=int, required=True, help="port (repeatable)")
    k.add_argument("--ready-file", help="written once every socket is bound")
    k.add_argument("--lifetime", type=float, default=600.0, help="exit after this many seconds")

    for name in ("bt", "http"):
        c = sub.add_parser(name)
        c.add_argument("--source", required=True, help="local address to connect from")
        c.add_argument("--dest", required=True)
        c.add_argument("--port", type=int, required=True)
        c.add_argument("--timeout", type=float, default=10.0,
                       help="connect timeout (bt), overall deadline (http)")
        if name == "bt":
            c.add_argument("--seed", type=int, default=1)
            c.add_argument("--hold", type=float, default=3.0,
                           help="seconds to keep the connection open after sending")
            c.add_argument("--stream", type=float, default=0.0,
                           help="seconds of bulk data sent after the handshake")
            c.add_argument("--pure-acks", type=int, default=0,
                           help="bare ACKs sent on the connection before the handshake")
        else:
            c.add_argument("--path", default="/")
            c.add_argument("--expect-sha256", default="", help="sha256 the body must have")
    args = p.parse_args()
    return {"server": cmd_server, "tcp": cmd_tcp, "udp": cmd_udp, "sink": cmd_sink,
            "bt": cmd_bt, "http": cmd_http}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
