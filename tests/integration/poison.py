#!/usr/bin/env python3
# tests/integration/poison.py: a DNS responder, a DNS client and unsolicited DHT datagrams for test_poison.sh.
"""Poisoning tools for the namespace lab (stdlib only).

dns-server  answers every DNS query on each --bind address and --port
            with one A record, and logs each query.
dns-client  sends --count queries from --source to --dest:--port, each from
            a new socket (a new flow), and waits for each answer; one
            retransmission on the same socket (the same flow) after half
            the timeout. Prints one result line; exit 0 only if every
            query was answered.
dht-noise   sends, unasked, a DHT find_node query (--kind query) or a DHT
            reply (y=r, answering nothing; --kind reply) from
            --source:--sport to --dest:--dport, its nodes and values
            naming every --name ip:port. Prints one result line.

Every wait has a deadline, so nothing can hang a test run.
"""

import argparse
import os
import random
import select
import socket
import struct
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


# ---------------------------------------------------------------- DNS

def qname(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_query(qid, name):
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname(name) + \
        struct.pack("!HH", 1, 1)


def dns_answer(query):
    """The answer to a one-question query, or None when it is not one."""
    if len(query) < 17:
        return None
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qd != 1:
        return None
    end = 12
    while end < len(query) and query[end] != 0:
        end += 1 + query[end]
    end += 5
    if end > len(query):
        return None
    question = query[12:end]
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr


def cmd_dns_server(args):
    socks = {}
    for addr in args.bind:
        for port in args.port:
            s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
            s.bind((addr, port))
            socks[s] = port
    if args.ready_file:
        with open(args.ready_file, "w", encoding="ascii") as f:
            f.write("ready\n")
    print("dns-server ready ports=%s bind=%s" % (",".join(map(str, args.port)),
                                                 ",".join(args.bind)), flush=True)
    end = time.monotonic() + args.lifetime
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return 0
        ready, _, _ = select.select(list(socks), [], [], left)
        for s in ready:
            data, peer = s.recvfrom(4096)
            ans = dns_answer(data)
            print("query peer=%s sport=%d port=%d answered=%d" % (
                peer[0], peer[1], socks[s], ans is not None), flush=True)
            if ans is not None:
                s.sendto(ans, peer)


def cmd_dns_client(args):
    answered = 0
    retransmits = 0
    for i in range(args.count):
        qid = (os.getpid() + i * 7919) & 0xFFFF
        q = dns_query(qid, "host%d.example.net" % i)
        s = socket.socket(family_of(args.dest), socket.SOCK_DGRAM)
        try:
            s.bind((args.source, 0))
            got = False
            for attempt in (0, 1):
                if attempt:
                    retransmits += 1
                s.sendto(q, (args.dest, args.port))
                deadline = time.monotonic() + args.timeout / 2
                while not got:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    ready, _, _ = select.select([s], [], [], left)
                    if ready:
                        data = s.recv(4096)
                        got = len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid
                if got:
                    answered += 1
                    break
        except OSError as e:
            print("dns-client query %d: %s" % (i, e), file=sys.stderr)
        finally:
            s.close()
    ok = answered == args.count
    print("dns src=%s dst=%s port=%d %s sent=%d answered=%d retransmits=%d" % (
        args.source, args.dest, args.port, "ok" if ok else "FAIL", args.count, answered,
        retransmits), flush=True)
    return 0 if ok else 1


# ---------------------------------------------------------------- DHT

def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(type(v))


def compact(endpoint):
    ip, port = endpoint.rsplit(":", 1)
    return socket.inet_pton(family_of(ip), ip.strip("[]")) + struct.pack("!H", int(port))


def cmd_dht_noise(args):
    rng = random.Random(args.seed)
    rid = lambda n: bytes(rng.getrandbits(8) for _ in range(n))  # noqa: E731
    v4 = [n for n in args.name if family_of(n.rsplit(":", 1)[0]) == socket.AF_INET]
    v6 = [n for n in args.name if n not in v4]
    body = {"id": rid(20), "values": [compact(n) for n in args.name]}
    if v4:
        body["nodes"] = b"".join(rid(20) + compact(n) for n in v4)
    if v6:
        body["nodes6"] = b"".join(rid(20) + compact(n) for n in v6)
    query = bencode({"t": rid(2), "y": "q", "q": "find_node",
                     "a": dict(body, target=rid(20))})
    reply = bencode({"t": rid(2), "y": "r", "r": dict(body, token=rid(8))})
    s = socket.socket(family_of(args.dest), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.source, args.sport))
    s.sendto(query if args.kind == "query" else reply, (args.dest, args.dport))
    s.close()
    print("dht-noise kind=%s src=%s:%d dst=%s:%d names=%s" % (
        args.kind, args.source, args.sport, args.dest, args.dport, ",".join(args.name)),
        flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("dns-server")
    s.add_argument("--bind", action="append", required=True)
    s.add_argument("--port", action="append", type=int, required=True)
    s.add_argument("--ready-file")
    s.add_argument("--lifetime", type=float, default=600.0)
    c = sub.add_parser("dns-client")
    c.add_argument("--source", required=True)
    c.add_argument("--dest", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--count", type=int, default=10)
    c.add_argument("--timeout", type=float, default=2.0, help="seconds per query")
    d = sub.add_parser("dht-noise")
    d.add_argument("--source", required=True)
    d.add_argument("--sport", type=int, default=6881)
    d.add_argument("--dest", required=True)
    d.add_argument("--dport", type=int, default=6881)
    d.add_argument("--kind", choices=("query", "reply"), required=True)
    d.add_argument("--name", action="append", required=True, help="ip:port to name")
    d.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    return {"dns-server": cmd_dns_server, "dns-client": cmd_dns_client,
            "dht-noise": cmd_dht_noise}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
