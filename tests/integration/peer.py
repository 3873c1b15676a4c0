#!/usr/bin/env python3
# tests/integration/peer.py: a uTP peer that answers SYNs, a uTP SYN, and opaque UDP datagrams for test_state.sh.
"""Peer tools for the namespace lab (stdlib only).

peer  binds UDP --port on each --bind address; answers a uTP SYN
      (BEP 29) with the STATE a real peer sends (same connection id, its
      ack the SYN's sequence number), and logs every datagram as
      "recv src=ADDR:PORT bytes=N kind=syn|data" to --log.
syn   sends one uTP SYN from --source:--sport to --dest:--port, the way a
      BitTorrent client opens a uTP connection. Prints one result line.
send  sends --count datagrams of --size opaque bytes (no protocol, as an
      encrypted stream looks) from --source:--sport to --dest:--port, one
      every --gap seconds. Prints one result line.

Every wait has a deadline, so nothing can hang a test run.
"""

import argparse
import random
import select
import socket
import struct
import sys
import time

ST_DATA, ST_FIN, ST_STATE, ST_RESET, ST_SYN = 0, 1, 2, 3, 4


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def utp_header(kind, conn_id, seq, ack, ts_diff=0):
    """A 20-byte uTP header, version 1, no extensions."""
    ts = int(time.monotonic() * 1e6) & 0xFFFFFFFF
    return struct.pack("!BBHIIIHH", kind << 4 | 1, 0, conn_id, ts, ts_diff, 1 << 20, seq, ack)


def cmd_peer(args):
    socks = []
    for addr in args.bind:
        s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
        s.bind((addr, args.port))
        socks.append(s)
    log = open(args.log, "a", buffering=1)
    log.write("peer ready port=%d\n" % args.port)
    rng = random.Random(args.port)
    end = time.monotonic() + args.lifetime
    while time.monotonic() < end:
        ready, _, _ = select.select(socks, [], [], max(0.0, min(1.0, end - time.monotonic())))
        for s in ready:
            data, src = s.recvfrom(65535)
            kind = "data"
            if len(data) >= 20 and data[0] == (ST_SYN << 4 | 1):
                kind = "syn"
                conn_id, seq = struct.unpack("!H", data[2:4])[0], struct.unpack("!H", data[16:18])[0]
                s.sendto(utp_header(ST_STATE, conn_id, rng.randrange(1, 65535), seq, 1000), src)
            log.write("recv src=%s:%d bytes=%d kind=%s\n" % (src[0], src[1], len(data), kind))
    return 0


def client_socket(args):
    s = socket.socket(family_of(args.dest), socket.SOCK_DGRAM)
    s.bind((args.source, args.sport))
    return s


def cmd_syn(args):
    s = client_socket(args)
    rng = random.Random(args.sport)
    conn_id = rng.randrange(1, 65535)
    s.sendto(utp_header(ST_SYN, conn_id, rng.randrange(1, 65535), 0), (args.dest, args.port))
    # The answer, when the router lets it through (it should not: the
    # STATE is what shows both ends speak uTP).
    s.settimeout(args.timeout)
    try:
        data, _ = s.recvfrom(65535)
        answered = len(data)
    except socket.timeout:
        answered = 0
    s.close()
    print("syn src=%s:%d dst=%s:%d ok sent=20 answer_bytes=%d" % (
        args.source, args.sport, args.dest, args.port, answered), flush=True)
    return 0


def cmd_send(args):
    s = client_socket(args)
    rng = random.Random(args.sport)
    for i in range(args.count):
        # 0x8e first: no uTP header (its low nibble is not 1), no bencode,
        # no text; the rest random, as an encrypted stream is.
        payload = bytes([0x8E]) + bytes(rng.randrange(256) for _ in range(args.size - 1))
        s.sendto(payload, (args.dest, args.port))
        if i + 1 < args.count:
            time.sleep(args.gap)
    s.close()
    print("send src=%s:%d dst=%s:%d ok sent=%d bytes=%d" % (
        args.source, args.sport, args.dest, args.port, args.count, args.size), flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("peer")
    k.add_argument("--bind", action="append", required=True)
    k.add_argument("--port", type=int, required=True)
    k.add_argument("--log", required=True)
    k.add_argument("--lifetime", type=float, default=600.0)
    for name in ("syn", "send"):
        c = sub.add_parser(name)
        c.add_argument("--source", required=True)
        c.add_argument("--sport", type=int, required=True)
        c.add_argument("--dest", required=True)
        c.add_argument("--port", type=int, required=True)
        if name == "syn":
            c.add_argument("--timeout", type=float, default=1.0)
        else:
            c.add_argument("--count", type=int, default=5)
            c.add_argument("--size", type=int, default=64)
            c.add_argument("--gap", type=float, default=0.02)
    args = p.parse_args()
    return {"peer": cmd_peer, "syn": cmd_syn, "send": cmd_send}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
