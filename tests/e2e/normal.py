#!/usr/bin/env python3
# tests/e2e/normal.py: the e2e lab's long-lived TCP connection and UDP bulk transfer, each checked end to end.
"""Two normal-traffic tools of the e2e lab (stdlib only).

echo      TCP line echo server on --bind:--port (one thread per connection).
longlived connects once from --source and, every --interval seconds until
          --stop-file exists (or --max-seconds pass), sends one text line of
          seeded data and checks that the echo is exactly that line. Any
          mismatch, reset, close or missed deadline ends it as a failure.
udprecv   receives one UDP bulk transfer on --bind:--port: checks every
          datagram against the seeded content, counts losses and
          duplicates, and prints the result when the sender's end marker
          arrives (or --timeout passes).
udpsend   sends --bytes of seeded data in numbered datagrams from --source
          at --rate-mbit, then the end marker (repeated, it is UDP).
dns       sends one A query for every "address name" line of --hosts to
          --dest:--port at --rate queries per second, each from a new socket
          (a new source port, a new flow, as a stub resolver does), and
          checks that every answer carries exactly the listed address.

Every tool prints one "key=value" line and exits 0 only when all data
arrived intact. Every wait has a deadline, so nothing can hang a test run.
"""

import argparse
import hashlib
import os
import random
import selectors
import socket
import struct
import sys
import threading
import time

UDP_HDR = struct.Struct("!4sII")        # magic, sequence, total datagrams
UDP_MAGIC = b"E2EU"
UDP_END = b"E2EE"
UDP_PAYLOAD = 1400


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def seeded_block(seed, seq, size):
    """Deterministic bytes for datagram/line `seq`: both ends compute it."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d:%d:%d" % (seed, seq, counter)).digest()
        counter += 1
    return out[:size]


# --- long-lived TCP connection ------------------------------------------------

def echo_conn(conn):
    with conn:
        conn.settimeout(None)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def cmd_echo(args):
    lsock = socket.socket(family_of(args.bind), socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.bind, args.port))
    lsock.listen(16)
    print("echo ready", flush=True)
    deadline = time.monotonic() + args.lifetime
    lsock.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            conn, _ = lsock.accept()
        except socket.timeout:
            continue
        threading.Thread(target=echo_conn, args=(conn,), daemon=True).start()
    return 0


def read_line(sock, buf, deadline):
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no echo within the deadline")
        sock.settimeout(left)
        part = sock.recv(65536)
        if not part:
            raise ConnectionError("connection closed by the peer")
        buf += part
    line, rest = buf.split(b"\n", 1)
    return line, rest


def cmd_longlived(args):
    start = time.monotonic()
    exchanges = 0
    echoed = 0
    max_gap = 0.0
    error = ""
    sock = socket.socket(family_of(args.dest), socket.SOCK_STREAM)
    try:
        sock.bind((args.source, 0))
        sock.settimeout(5.0)
        sock.connect((args.dest, args.port))
        print("longlived connected", flush=True)
        buf = b""
        last_ok = time.monotonic()
        while time.monotonic() - start < args.max_seconds:
            if os.path.exists(args.stop_file):
                break
            line = b"seq=%d data=%s" % (exchanges, seeded_block(args.seed, exchanges, 256).hex().encode())
            sock.sendall(line + b"\n")
            reply, buf = read_line(sock, buf, time.monotonic() + args.echo_timeout)
            if reply != line:
                raise ValueError("echo %d differs from what was sent" % exchanges)
            now = time.monotonic()
            max_gap = max(max_gap, now - last_ok)
            last_ok = now
            exchanges += 1
            echoed += len(line) + 1
            time.sleep(max(0.0, args.interval - (time.monotonic() - now)))
    except (OSError, ValueError, TimeoutError, ConnectionError) as e:
        error = "%s: %s" % (type(e).__name__, e)
    finally:
        sock.close()
    seconds = time.monotonic() - start
    ok = not error and exchanges > 0
    # rate: exchanges per second, the connection's heartbeat.
    print("case=long_tcp bytes=%d completed=%d seconds=%.2f rate=%.2fx/s checksum=%s "
          "exchanges=%d max_gap=%.2f%s" %
          (echoed, int(ok), seconds, exchanges / seconds if seconds else 0.0,
           "ok" if ok else "bad", exchanges, max_gap,
           (" error=" + error.replace(" ", "_")) if error else ""), flush=True)
    return 0 if ok else 1


# --- UDP bulk transfer ------------------------------------------------------

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESPEC = struct.Struct("@qq")


def cmd_udprecv(args):
    sock = socket.socket(family_of(args.bind), socket.SOCK_DGRAM)
    # The whole transfer fits in the buffer, and each datagram carries the
    # kernel's arrival time: when this process is scheduled late on a busy
    # machine, neither loss nor the measured rate changes. Datagrams are
    # checked after the end marker, not while they arrive.
    sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 32 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind((args.bind, args.port))
    print("udprecv ready", flush=True)
    arrivals = []
    total = 0
    deadline = time.monotonic() + args.timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data, anc, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(TIMESPEC.size))
        except socket.timeout:
            break
        if len(data) >= UDP_HDR.size and data[:4] == UDP_END:
            total = UDP_HDR.unpack_from(data)[2]
            break
        stamp = None
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= TIMESPEC.size:
                sec, nsec = TIMESPEC.unpack_from(value)
                stamp = sec + nsec / 1e9
        arrivals.append((stamp if stamp is not None else time.time(), data))
    seen = {}
    bad = dups = 0
    first = last = None
    for stamp, data in arrivals:
        if len(data) < UDP_HDR.size:
            bad += 1
            continue
        magic, seq, count = UDP_HDR.unpack_from(data)
        if magic != UDP_MAGIC or count == 0 or seq >= count:
            bad += 1
            continue
        first = stamp if first is None else min(first, stamp)
        last = stamp if last is None else max(last, stamp)
        total = total or count
        if seq in seen:
            dups += 1
            continue
        payload = data[UDP_HDR.size:]
        if not payload or payload != seeded_block(args.seed, seq, len(payload)):
            bad += 1
            continue
        seen[seq] = payload
    lost = total - len(seen)
    received = sum(len(p) for p in seen.values())
    digest = hashlib.sha256()
    for seq in sorted(seen):
        digest.update(seen[seq])
    seconds = (last - first) if first is not None and last > first else 0.0
    ok = total > 0 and lost == 0 and bad == 0 and digest.hexdigest() == args.expect_sha256
    print("case=udp_bulk bytes=%d completed=%d seconds=%.3f rate=%.1fMbit/s checksum=%s "
          "datagrams=%d lost=%d loss=%.2f%% bad=%d dup=%d" %
          (received, int(total > 0 and lost == 0), seconds,
           received * 8 / seconds / 1e6 if seconds else 0.0,
           "ok" if ok else "bad", total, lost, 100.0 * lost / total if total else 100.0,
           bad, dups), flush=True)
    return 0 if ok else 1


def udp_plan(total_bytes):
    return (total_bytes + UDP_PAYLOAD - 1) // UDP_PAYLOAD


def udp_sizes(total_bytes):
    count = udp_plan(total_bytes)
    return [min(UDP_PAYLOAD, total_bytes - i * UDP_PAYLOAD) for i in range(count)]


def cmd_udpsend(args):
    sizes = udp_sizes(args.bytes)
    count = len(sizes)
    if args.print_sha256:
        digest = hashlib.sha256()
        for seq, size in enumerate(sizes):
            digest.update(seeded_block(args.seed, seq, size))
        print(digest.hexdigest())
        return 0
    # Built before the clock starts: the loop below only sends and sleeps.
    datagrams = [UDP_HDR.pack(UDP_MAGIC, seq, count) + seeded_block(args.seed, seq, size)
                 for seq, size in enumerate(sizes)]
    sock = socket.socket(family_of(args.dest), socket.SOCK_DGRAM)
    sock.bind((args.source, 0))
    dest = (args.dest, args.port)
    # Paced in 2 ms slots: the link sees a steady stream, not bursts that a
    # router queue would have to absorb.
    per_second = args.rate_mbit * 1e6 / 8 / UDP_PAYLOAD
    slot = 0.002
    start = time.monotonic()
    for seq, datagram in enumerate(datagrams):
        due = start + seq / per_second
        wait = due - time.monotonic()
        if wait > slot:
            time.sleep(wait)
        sock.sendto(datagram, dest)
    seconds = time.monotonic() - start
    time.sleep(0.2)  # let the tail drain before the end marker
    for _ in range(5):
        sock.sendto(UDP_HDR.pack(UDP_END, 0, count), dest)
        time.sleep(0.05)
    print("udpsend datagrams=%d bytes=%d seconds=%.2f" % (count, args.bytes, seconds), flush=True)
    return 0


# --- DNS queries ----------------------------------------------------------

def dns_query(qid, name):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", 1, 1)


def dns_skip_name(msg, off):
    """Offset after the (possibly compressed) name at off; hostile input safe."""
    for _ in range(128):
        if off >= len(msg):
            raise ValueError("name runs past the message")
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n
    raise ValueError("name too long")


def dns_answer(msg, qid):
    """The A addresses of a reply to query qid (ValueError if malformed)."""
    if len(msg) < 12:
        raise ValueError("short reply")
    rid, flags, qd, an, _, _ = struct.unpack_from("!HHHHHH", msg)
    if rid != qid or not flags & 0x8000 or flags & 0x000F:
        raise ValueError("reply id/flags/rcode %04x/%04x" % (rid, flags))
    off = 12
    for _ in range(qd):
        off = dns_skip_name(msg, off) + 4
    addrs = []
    for _ in range(an):
        off = dns_skip_name(msg, off)
        if off + 10 > len(msg):
            raise ValueError("truncated answer")
        rtype, _, _, rdlen = struct.unpack_from("!HHIH", msg, off)
        off += 10
        if off + rdlen > len(msg):
            raise ValueError("truncated rdata")
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    return addrs


def cmd_dns(args):
    records = []
    with open(args.hosts) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                records.append((parts[1], parts[0]))
    sel = selectors.DefaultSelector()
    family = family_of(args.dest)
    pending = {}
    answered = wrong = reply_bytes = 0
    latencies = []
    start = time.monotonic()

    def drain(until, return_when_done=False):
        """Collects answers until `until` (paces the queries), or sooner
        when nothing is pending and return_when_done."""
        nonlocal answered, wrong, reply_bytes
        while time.monotonic() < until:
            if not pending:
                if return_when_done:
                    return
                time.sleep(max(0.0, until - time.monotonic()))
                return
            for key, _ in sel.select(max(0.0, until - time.monotonic())):
                sock = key.fileobj
                qid, expect, sent = pending.pop(sock)
                sel.unregister(sock)
                try:
                    reply = sock.recv(4096)
                    reply_bytes += len(reply)
                    ok = dns_answer(reply, qid) == [expect]
                except (OSError, ValueError):
                    ok = False
                sock.close()
                if ok:
                    answered += 1
                    latencies.append(time.monotonic() - sent)
                else:
                    wrong += 1

    for i, (name, expect) in enumerate(records):
        drain(start + i / args.rate)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((args.source, 0))
        sock.setblocking(False)
        qid = random.randrange(65536)
        sock.sendto(dns_query(qid, name), (args.dest, args.port))
        pending[sock] = (qid, expect, time.monotonic())
        sel.register(sock, selectors.EVENT_READ)
    drain(time.monotonic() + args.timeout, return_when_done=True)
    seconds = time.monotonic() - start
    for sock in pending:
        sock.close()
    latencies.sort()
    median_ms = 1000 * latencies[len(latencies) // 2] if latencies else 0.0
    ok = answered == len(records) and len(records) > 0
    print("case=dns bytes=%d completed=%d seconds=%.3f rate=%.1fq/s checksum=%s "
          "queries=%d answered=%d wrong=%d unanswered=%d median_ms=%.3f" %
          (reply_bytes, int(ok), seconds, answered / seconds if seconds else 0.0,
           "ok" if ok else "bad", len(records), answered, wrong, len(pending), median_ms),
          flush=True)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--bind", required=True)
    e.add_argument("--port", type=int, required=True)
    e.add_argument("--lifetime", type=float, default=900)
    ll = sub.add_parser("longlived")
    ll.add_argument("--source", required=True)
    ll.add_argument("--dest", required=True)
    ll.add_argument("--port", type=int, required=True)
    ll.add_argument("--stop-file", required=True)
    ll.add_argument("--interval", type=float, default=1.0)
    ll.add_argument("--echo-timeout", type=float, default=5.0)
    ll.add_argument("--max-seconds", type=float, default=900)
    ll.add_argument("--seed", type=int, default=1)
    r = sub.add_parser("udprecv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--seed", type=int, required=True)
    r.add_argument("--expect-sha256", required=True)
    r.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("udpsend")
    s.add_argument("--source", default="")
    s.add_argument("--dest", default="")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--bytes", type=int, required=True)
    s.add_argument("--rate-mbit", type=float, default=40)
    s.add_argument("--print-sha256", action="store_true",
                   help="print the sha256 of the whole transfer and exit")
    d = sub.add_parser("dns")
    d.add_argument("--hosts", required=True, help='"address name" lines, as dnsmasq reads them')
    d.add_argument("--source", required=True)
    d.add_argument("--dest", required=True)
    d.add_argument("--port", type=int, required=True)
    d.add_argument("--rate", type=float, default=250)
    d.add_argument("--timeout", type=float, default=3.0,
                   help="seconds to wait for the last answers")
    args = p.parse_args()
    if args.cmd == "udpsend" and not args.print_sha256 and not (args.source and args.dest and args.port):
        p.error("udpsend needs --source, --dest and --port")
    return {"echo": cmd_echo, "longlived": cmd_longlived,
            "udprecv": cmd_udprecv, "udpsend": cmd_udpsend, "dns": cmd_dns}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
