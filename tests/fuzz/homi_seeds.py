#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Makes the seed corpus of the homi fuzz target: one valid packet of every message type (requests,
each request's reply, ERROR and SHUTDOWN), the LIST and STATUS replies also empty and at their
bounds (16 devices of 16 namespaces; 16 devices, 256 clients, 1024 queues).

A seed is the target's input: a selector byte (0: checked as a request, 1..8: as the reply to that
request type) and the packet. The layouts are those of include/aisio/homi_proto.h; run the replay
program with HOMI_FUZZ_VERBOSE=1 over the output to see that each one passes.

usage: homi_seeds.py OUT_DIR
"""
import os
import struct
import sys

MAGIC, VERSION, REPLY = 0x494D4F48, 1, 0x8000
HELLO, LIST, REG_MEM, UNREG_MEM, GRANT_QP, RELEASE_QP, STATUS, EXTENTS = range(1, 9)
ERROR, SHUTDOWN = 0x7FF0, 0x7FF1
MAX_DEVS, MAX_NS, MAX_CLIENTS, MAX_STATUS_QPS = 16, 16, 256, 1024


def name(s, cap):
    b = s.encode()
    assert len(b) < cap
    return b + b"\0" * (cap - len(b))


def packet(selector, type_, body, version=VERSION, seq=7):
    return bytes([selector]) + struct.pack("<IHHII", MAGIC, version, type_, len(body), seq) + body


def ns(nsid):
    return struct.pack("<IIQII", nsid, 9, 1 << 21, 256, 0)


def dev(i, nns):
    nss = b"".join(ns(k + 1) for k in range(nns)) + b"\0" * (24 * (MAX_NS - nns))
    return name(f"dev{i}", 64) + struct.pack("<IHHIIIIII", i, 1, 1, 1, 1 << 20, 16, 15, 1024, nns) + nss


def status_dev(i):
    return name(f"dev{i}", 64) + name(f"emu:ram:1G,qpairs={i + 2}", 96) + struct.pack("<HHIII", 1, 1, 16, 1, 1)


def status_client(i):
    return struct.pack("<IIIIIIQ", i + 1, 1000 + i, 1000, 1000, 1, 1, 1 << 20) + name(f"client{i}", 56)


def status_qp(i, ndev):
    return struct.pack("<IIHHIII", i % max(ndev, 1), i + 1, i % 1024 + 1, 0, 64, 1, 0)


def status(ndev, nclients, nqps):
    head = struct.pack("<IIIIQQ", ndev, nclients, nqps, 0, 3, 42)
    return (head + b"".join(status_dev(i) for i in range(ndev)) +
            b"".join(status_client(i) for i in range(nclients)) + b"".join(status_qp(i, ndev) for i in range(nqps)))


def seeds():
    hello = struct.pack("<HHI", 1, 1, 4242) + name("aisio", 56)
    yield "req-hello", packet(0, HELLO, hello)
    # HELLO is the one message of any version: a client newer than the daemon says hello first
    yield "req-hello-v2", packet(0, HELLO, struct.pack("<HHI", 1, 2, 4242) + name("newer", 56), version=2)
    yield "req-list", packet(0, LIST, b"")
    yield "req-reg-mem", packet(0, REG_MEM, struct.pack("<IIQ", 0, 0, 1 << 21))
    yield "req-unreg-mem", packet(0, UNREG_MEM, struct.pack("<II", 1, 0))
    yield "req-grant-qp", packet(0, GRANT_QP, struct.pack("<IIIIQQ", 0, 1, 64, 1, 0, 4096))
    yield "req-release-qp", packet(0, RELEASE_QP, struct.pack("<IHH", 0, 1, 0))
    yield "req-status", packet(0, STATUS, b"")
    yield "req-extents", packet(0, EXTENTS, struct.pack("<II", 0, 0))

    yield "rep-hello", packet(HELLO, HELLO | REPLY, struct.pack("<HHI", 1, 0, 1) + name("homid 0.1.0", 56))
    yield "rep-list-0", packet(LIST, LIST | REPLY, struct.pack("<II", 0, 0))
    yield "rep-list-2", packet(LIST, LIST | REPLY, struct.pack("<II", 2, 0) + dev(0, 1) + dev(1, 3))
    yield "rep-list-max", packet(LIST, LIST | REPLY,
                                 struct.pack("<II", MAX_DEVS, 0) + b"".join(dev(i, MAX_NS) for i in range(MAX_DEVS)))
    yield "rep-reg-mem", packet(REG_MEM, REG_MEM | REPLY, struct.pack("<IIQ", 1, 0, 0x100000000))
    yield "rep-unreg-mem", packet(UNREG_MEM, UNREG_MEM | REPLY, b"")
    yield "rep-grant-qp", packet(GRANT_QP, GRANT_QP | REPLY, struct.pack("<HHIQQII", 1, 1, 0, 0, 4096, 8, 12))
    yield "rep-release-qp", packet(RELEASE_QP, RELEASE_QP | REPLY, b"")
    yield "rep-status-0", packet(STATUS, STATUS | REPLY, status(0, 0, 0))
    yield "rep-status-small", packet(STATUS, STATUS | REPLY, status(2, 3, 4))
    yield "rep-status-max", packet(STATUS, STATUS | REPLY, status(MAX_DEVS, MAX_CLIENTS, MAX_STATUS_QPS))
    yield "rep-extents", packet(EXTENTS, EXTENTS | REPLY,
                                name("/aisio-homid-xal-dev0", 64) + name("/mnt/data", 128) + struct.pack("<II", 1, 0))
    yield "rep-error", packet(GRANT_QP, ERROR, struct.pack("<i", -16) + name("no free queue pair on dev0", 124))
    yield "rep-shutdown", packet(STATUS, SHUTDOWN, b"", seq=0)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for n, data in seeds():
        with open(os.path.join(out, n + ".seed"), "wb") as f:
            f.write(data)
        print(f"{n}.seed: {len(data)} bytes")


if __name__ == "__main__":
    main()
