#!/usr/bin/env python3
# tests/integration/flood.py: bounded UDP floods and a counting receiver for the fault tests.
"""UDP load for the namespace lab (stdlib only).

send   sends numbered datagrams from every --source to --dest:--port, round
       robin, at --rate datagrams per second in total (0: as fast as it
       can) for --seconds or until SIGTERM/SIGINT, then prints "sent=N
       seconds=S rate=R".
recv   counts the datagrams that arrive on --bind:--port until --seconds
       pass or SIGTERM/SIGINT, then prints "received=N" and, per source,
       the sequence numbers missing below the highest one seen. With
       --count-file, the count so far is also written there (replaced
       at most every 50 ms), so that a test can wait for the last
       datagrams instead of sleeping a fixed time.

Every run is bounded in time: nothing here can hang a test.
"""

import argparse
import os
import signal
import socket
import struct
import sys
import time

HDR = struct.Struct("!4sQ")      # magic, sequence number per source
MAGIC = b"BTBF"


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def cmd_send(args):
    socks = []
    for src in args.source:
        s = socket.socket(family_of(src), socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        socks.append(s)
    dest = (args.dest, args.port)
    pad = b"\0" * max(0, args.size - HDR.size)
    seq = [0] * len(socks)
    sent = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    start = time.monotonic()
    end = start + args.seconds
    burst = 64
    while not stop:
        now = time.monotonic()
        if now >= end:
            break
        if args.rate > 0:
            due = int((now - start) * args.rate)
            if sent >= due:
                time.sleep(min(0.002, end - now))
                continue
            n = min(burst, due - sent)
        else:
            n = burst
        for _ in range(n):
            i = sent % len(socks)
            try:
                socks[i].sendto(HDR.pack(MAGIC, seq[i]) + pad, dest)
            except OSError:
                # ENOBUFS / EAGAIN under overload: the datagram is lost,
                # which is what a flood is for; keep going.
                pass
            seq[i] += 1
            sent += 1
    took = time.monotonic() - start
    print("sent=%d seconds=%.2f rate=%.0f" % (sent, took, sent / took if took > 0 else 0))
    return 0


def cmd_recv(args):
    s = socket.socket(family_of(args.bind), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((args.bind, args.port))
    s.settimeout(0.2)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("ready\n")
    seen = {}
    received = 0
    written = -1
    next_write = 0.0
    end = time.monotonic() + args.seconds
    while not stop and time.monotonic() < end:
        if args.count_file and received != written and time.monotonic() >= next_write:
            with open(args.count_file + ".tmp", "w") as f:
                f.write("%d\n" % received)
            os.replace(args.count_file + ".tmp", args.count_file)
            written = received
            next_write = time.monotonic() + 0.05
        try:
            data, peer = s.recvfrom(65536)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if len(data) < HDR.size:
            continue
        magic, seq = HDR.unpack_from(data)
        if magic != MAGIC:
            continue
        received += 1
        entry = seen.setdefault(peer[0], [0, -1])
        entry[0] += 1
        entry[1] = max(entry[1], seq)
    missing = sum(top + 1 - count for count, top in seen.values())
    print("received=%d sources=%d missing=%d" % (received, len(seen), missing))
    sys.stdout.flush()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--source", action="append", required=True, help="address (repeatable)")
    s.add_argument("--dest", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--rate", type=float, default=0.0, help="datagrams per second, 0: unlimited")
    s.add_argument("--seconds", type=float, default=5.0)
    s.add_argument("--size", type=int, default=64, help="payload bytes")
    r = sub.add_parser("recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--seconds", type=float, default=30.0)
    r.add_argument("--ready-file")
    r.add_argument("--count-file", help="kept up to date with the count so far")
    args = p.parse_args()
    if args.cmd == "send":
        return cmd_send(args)
    return cmd_recv(args)


if __name__ == "__main__":
    sys.exit(main())
