#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""homi suite: the homid daemon (build/daemon/homid) against real client processes (build/tools/aisio) and
raw protocol clients (SOCK_SEQPACKET, the layouts of include/aisio/homi_proto.h through struct).

Each scenario starts its own daemon with its own configuration and socket in a temporary directory, and
stops it with SIGTERM at the end (exit 0, socket removed). Scenarios:
  ready          READY=1 / STOPPING=1 through NOTIFY_SOCKET; --check on good and bad configurations (the
                 line named); systemd-analyze verify of daemon/homid.service
  two-clients    two `aisio perf verify` processes at once on disjoint ranges of one device
  kill9-reclaim  kill -9 of `aisio perf run` mid-I/O: its queues taken back, the same qids granted again
  cycles         100 x (a client gets a queue, kill -9): no fd, memory or qid leaked by the daemon
  bad-messages   malformed and refused requests answered with HOMI_MSG_ERROR, the connection still usable,
                 while `aisio perf verify` runs in another process
  credentials    per-device users= and namespaces= policy; a client as nobody (root only, else 77)
  restart        SIGTERM with a client doing I/O: the client fails in bounded time; restart on the same
                 socket; a second daemon on a live socket refuses; a stale socket is replaced

usage: homi_test.py SCENARIO   (binaries from $AISIO_BUILD_ROOT, default ./build; exit 77: cannot run here;
                               HOMI_LOG_LEVEL=debug for the daemons' logs, shown when a scenario fails)
"""
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("AISIO_BUILD_ROOT", "build")
SOURCE = os.environ.get("AISIO_SOURCE_ROOT",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HOMID = os.path.abspath(os.path.join(BUILD, "daemon", "homid"))
AISIO = os.path.abspath(os.path.join(BUILD, "tools", "aisio"))

# include/aisio/homi_proto.h
MAGIC, VERSION, REPLY = 0x494D4F48, 1, 0x8000
HELLO, LIST, REG_MEM, UNREG_MEM, GRANT_QP, RELEASE_QP, STATUS = 1, 2, 3, 4, 5, 6, 7
ERROR, SHUTDOWN = 0x7FF0, 0x7FF1
MSG_MAX = 65536
HDR = struct.Struct("<IHHII")            # magic, version, type, len, seq
ERR = struct.Struct("<i124s")
HELLO_RQ = struct.Struct("<HHI56s")      # min_version, max_version, pid, client
HELLO_RP = struct.Struct("<HHI56s")      # version, reserved, client_id, daemon
DEV = struct.Struct("<64sIHHIIIIII")     # name, index, kind, flags, dma_kind, max_xfer, max_qpairs, free, qdepth, nns
NS = struct.Struct("<IIQII")             # nsid, lba_shift, nlba, max_lbas, reserved
DEV_SIZE = DEV.size + 16 * NS.size
REG_RQ = struct.Struct("<IIQ")           # dev, reserved, len
REG_RP = struct.Struct("<IIQ")           # mem_id, reserved, iova
GRANT_RQ = struct.Struct("<IIIIQQ")      # dev, nsid, entries, mem_id, sq_off, cq_off
GRANT_RP = struct.Struct("<HHIQQII")     # qid, flags, dstrd, db_map_off, db_map_len, sq_db_off, cq_db_off
RELEASE_RQ = struct.Struct("<IHH")       # dev, qid, reserved
ST = struct.Struct("<IIIIQQ")            # ndev, nclients, nqps, reserved, reclaimed_qps, clients_served
# name, target, kind, flags, max_qpairs, used_qpairs, nns; SR-IOV: holder, cntlid, vfn, vq, vi, ns_mask, resets, pf_dev
ST_DEV = struct.Struct("<64s96sHHIIIIHHHHIII")
ST_CL = struct.Struct("<IIIIIIQ56s")     # client_id, pid, uid, gid, nqueues, nmems, mem_bytes, name
ST_QP = struct.Struct("<IIHHIII")        # dev, client_id, qid, reserved, entries, nsid, reserved2
assert (HDR.size, ERR.size, HELLO_RQ.size, DEV_SIZE, GRANT_RQ.size, GRANT_RP.size, ST.size, ST_DEV.size,
        ST_CL.size, ST_QP.size) == (16, 128, 64, 480, 32, 32, 32, 200, 88, 24)


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def ok(cond, what):
    if not cond:
        raise Fail(what)
    print(f"  ok: {what}", flush=True)


def cstr(b):
    return b.split(b"\0", 1)[0].decode(errors="replace")


def wait_until(pred, timeout, what, step=0.02):
    """pred() until it returns something true, at most timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise Fail(f"not within {timeout} s: {what}")
        time.sleep(step)


class HomiError(Exception):
    def __init__(self, err, msg):
        super().__init__(f"{err} ({msg})")
        self.err, self.msg = err, msg


class Conn:
    """A raw protocol client: one SOCK_SEQPACKET connection, one request and one reply at a time."""

    def __init__(self, path, hello=True, name="homi_test"):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(5)
        self.s.connect(path)
        self.seq = 100
        self.client_id = None
        if hello:
            self.hello(name=name)

    def close(self):
        self.s.close()

    def send_raw(self, data, fds=()):
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))] if fds else []
        self.s.sendmsg([data], anc)

    def send(self, mtype, body=b"", fds=(), version=VERSION, length=None):
        self.seq += 1
        self.send_raw(HDR.pack(MAGIC, version, mtype, len(body) if length is None else length, self.seq) + body,
                      fds)
        return self.seq

    def recv(self):
        """One packet: (type, seq, body, fds)."""
        data, anc, flags, _ = self.s.recvmsg(MSG_MAX, socket.CMSG_SPACE(4 * 4))
        fds = []
        for level, kind, d in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += struct.unpack(f"{len(d) // 4}i", d[:len(d) - len(d) % 4])
        if not data:
            raise Fail("the daemon closed the connection")
        if len(data) < HDR.size:
            raise Fail(f"a {len(data)}-byte packet from the daemon")
        magic, version, mtype, length, seq = HDR.unpack_from(data)
        if magic != MAGIC or version != VERSION or length != len(data) - HDR.size:
            raise Fail(f"a malformed packet from the daemon: {data[:16].hex()}")
        return mtype, seq, data[HDR.size:], fds

    def answer(self, seq, want):
        """The reply to request seq (seq None: any): its body and fds, or HomiError for HOMI_MSG_ERROR."""
        mtype, rseq, body, fds = self.recv()
        if seq is not None and rseq != seq:
            raise Fail(f"reply seq {rseq}, the request's was {seq}")
        if mtype == ERROR:
            for f in fds:
                os.close(f)
            if len(body) != ERR.size:
                raise Fail(f"an error of {len(body)} bytes")
            err, msg = ERR.unpack(body)
            if b"\0" not in msg or not -4095 <= err < 0:
                raise Fail(f"bad error record: {err} {msg!r}")
            raise HomiError(err, cstr(msg))
        if mtype != (want | REPLY):
            raise Fail(f"reply type {mtype:#x} to {want}")
        return body, fds

    def call(self, mtype, body=b"", fds=()):
        return self.answer(self.send(mtype, body, fds), mtype)

    def hello(self, lo=VERSION, hi=VERSION, name="homi_test"):
        body, _ = self.call(HELLO, HELLO_RQ.pack(lo, hi, os.getpid(), name.encode()))
        version, _, self.client_id, daemon = HELLO_RP.unpack(body)
        return version, cstr(daemon)

    def list(self):
        body, _ = self.call(LIST)
        ndev, _ = struct.unpack_from("<II", body)
        if len(body) != 8 + ndev * DEV_SIZE:
            raise Fail(f"LIST reply of {len(body)} bytes for {ndev} devices")
        devs = []
        for i in range(ndev):
            off = 8 + i * DEV_SIZE
            name, index, kind, flags, dma_kind, max_xfer, max_qpairs, free_qpairs, max_qdepth, nns = \
                DEV.unpack_from(body, off)
            ns = [NS.unpack_from(body, off + DEV.size + k * NS.size)[0] for k in range(nns)]
            devs.append(dict(name=cstr(name), index=index, max_qpairs=max_qpairs, free_qpairs=free_qpairs,
                             max_qdepth=max_qdepth, nsids=ns))
        return devs

    def status(self):
        body, _ = self.call(STATUS)
        ndev, ncl, nqp, _, reclaimed, served = ST.unpack_from(body)
        off = ST.size
        devs, clients, qps = [], [], []
        for _ in range(ndev):
            name, target, kind, flags, max_qpairs, used, nns = ST_DEV.unpack_from(body, off)[:7]
            devs.append(dict(name=cstr(name), max_qpairs=max_qpairs, used_qpairs=used))
            off += ST_DEV.size
        for _ in range(ncl):
            cid, pid, uid, gid, nq, nmems, mem_bytes, name = ST_CL.unpack_from(body, off)
            clients.append(dict(id=cid, pid=pid, uid=uid, qpairs=nq, memory_regions=nmems, name=cstr(name)))
            off += ST_CL.size
        for _ in range(nqp):
            dev, cid, qid, _, entries, nsid, _ = ST_QP.unpack_from(body, off)
            qps.append(dict(device=devs[dev]["name"], client=cid, qid=qid, entries=entries, nsid=nsid))
            off += ST_QP.size
        return dict(devices=devs, clients=clients, qpairs=qps, reclaimed_qpairs=reclaimed, clients_served=served)

    def reg_mem(self, dev, fd, length):
        body, _ = self.call(REG_MEM, REG_RQ.pack(dev, 0, length), fds=[fd] if fd is not None else [])
        return REG_RP.unpack(body)[0]

    def grant(self, dev, nsid, entries, mem_id, sq_off, cq_off):
        """A queue pair: (qid, doorbell fd)."""
        body, fds = self.call(GRANT_QP, GRANT_RQ.pack(dev, nsid, entries, mem_id, sq_off, cq_off))
        if len(fds) != 1:
            raise Fail(f"GRANT_QP answered with {len(fds)} fds")
        return GRANT_RP.unpack(body)[0], fds[0]

    def release(self, dev, qid):
        self.call(RELEASE_QP, RELEASE_RQ.pack(dev, qid, 0))


def sealed_memfd(length):
    fd = os.memfd_create("homi_test", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, length)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
    return fd


def refused(err, fn, *args):
    """fn(*args) must fail with HomiError -err; returns the daemon's message."""
    try:
        fn(*args)
    except HomiError as e:
        if e.err != -err:
            raise Fail(f"refused with {e.err} ({e.msg}), not -{errno.errorcode[err]}")
        return e.msg
    raise Fail(f"accepted, not refused with -{errno.errorcode[err]}")


class Scenario:
    """What one scenario started: its temporary directory, daemons and client processes."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="homi-test-")
        self.procs = []
        self.daemons = []

    def cleanup(self):
        for p in self.procs + [d.proc for d in self.daemons if d.proc]:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def daemon(self, name, devices, homid_extra=""):
        d = Daemon(self, name, devices, homid_extra)
        self.daemons.append(d)
        return d

    def client(self, name, args, preexec=None, wrap=()):
        """An aisio process; its output in NAME.out / NAME.err."""
        out = open(self.path(name + ".out"), "w")
        err = open(self.path(name + ".err"), "w")
        p = subprocess.Popen(list(wrap) + [AISIO] + args, stdout=out, stderr=err)
        out.close()
        err.close()
        p.log_name = name
        self.procs.append(p)
        return p

    def output(self, p):
        with open(self.path(p.log_name + ".out")) as o, open(self.path(p.log_name + ".err")) as e:
            return o.read() + e.read()

    def aisio(self, name, args, timeout=60, wrap=()):
        """Run aisio to the end: (exit status, stdout + stderr)."""
        p = self.client(name, args, wrap=wrap)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Fail(f"aisio {' '.join(args)} still running after {timeout} s")
        return p.returncode, self.output(p)


class Daemon:
    def __init__(self, sc, name, devices, homid_extra=""):
        """devices: [(name, device string, extra lines)]"""
        self.sc, self.name = sc, name
        self.socket = sc.path(name, "homid.sock")
        self.conf = sc.path(name + ".conf")
        self.log = sc.path(name + ".log")
        self.proc = None
        text = f"[homid]\nsocket = {self.socket}\nlog_level = {os.environ.get('HOMI_LOG_LEVEL', 'info')}\n{homid_extra}\n"
        for dev, target, extra in devices:
            text += f"[device {dev}]\ndevice = {target}\n{extra}\n"
        with open(self.conf, "w") as f:
            f.write(text)

    def dev(self, name):
        return f"homi:{name},socket={self.socket}"

    def start(self, env=None, wait=True):
        log = open(self.log, "a")
        self.proc = subprocess.Popen([HOMID, "--config", self.conf], stdout=log, stderr=subprocess.STDOUT,
                                     env=env)
        log.close()
        if wait:
            self.wait_ready()
        return self.proc

    def wait_ready(self):
        def up():
            if self.proc.poll() is not None:
                raise Fail(f"homid exited with {self.proc.returncode} while starting:\n{self.log_text()}")
            try:
                Conn(self.socket, hello=False).close()
                return True
            except OSError:
                return False
        wait_until(up, 15, "homid listens")

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        """SIGTERM: exit 0 within 20 s and the socket removed."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            raise Fail("homid still running 20 s after SIGTERM")
        ok(rc == 0, f"homid ({self.name}) stopped by SIGTERM with exit 0")
        ok(not os.path.exists(self.socket), "its socket removed")
        log = self.log_text()
        if "runtime error:" in log or "Sanitizer" in log:  # a build with -Db_sanitize
            raise Fail("the sanitizers reported on homid")

    def status(self):
        """`aisio homi status --json` of this daemon."""
        r = subprocess.run([AISIO, "homi", "status", "--json", "--socket", self.socket], capture_output=True,
                           text=True, timeout=10)
        if r.returncode != 0:
            raise Fail(f"aisio homi status: exit {r.returncode}: {r.stderr}")
        return json.loads(r.stdout)

    def fds(self, sockets=1):
        """The daemon's open fds once it holds this many sockets (its listening one and the connections
        still open): a connection just closed may not be handled yet."""
        def count():
            fd_dir = f"/proc/{self.proc.pid}/fd"
            links = []
            for f in os.listdir(fd_dir):
                try:
                    links.append(os.readlink(os.path.join(fd_dir, f)))
                except FileNotFoundError:
                    pass
            return len(links) if sum(x.startswith("socket:") for x in links) == sockets else None
        return wait_until(count, 5, f"the daemon holds {sockets} socket(s)")

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise Fail("no VmRSS")


def qids_of(st, pid, min_entries=8):
    """qids the client with this pid holds, from status. Only queues of min_entries or more: bio reads the
    device's first 68 KiB through a queue of 2 entries that it releases before the I/O queues are made."""
    ids = {c["id"] for c in st["clients"] if c["pid"] == pid}
    return sorted(q["qid"] for q in st["qpairs"] if q["client"] in ids and q["entries"] >= min_entries)


def verify_passed(rc, out):
    """An `aisio perf verify` that exited 0 with nothing wrong; else its output is shown."""
    if rc == 0 and "mismatches 0, failed 0" in out:
        return True
    print(f"  aisio perf verify: exit {rc}:\n    " + "\n    ".join(out.strip().splitlines()))
    return False


# ------------------------------------------------------------------------------------------------ scenarios

def s_ready(sc):
    print("readiness through NOTIFY_SOCKET")
    d = sc.daemon("ready", [("ram0", "emu:ram:16M,qpairs=2,threads=1", "")])
    notify_path = sc.path("notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(notify_path)
    listener.settimeout(0.2)
    d.start(env=dict(os.environ, NOTIFY_SOCKET=notify_path), wait=False)

    def notified(what):
        try:
            msg = listener.recv(4096).decode()
        except socket.timeout:
            if d.proc.poll() is not None:
                raise Fail(f"homid exited with {d.proc.returncode}:\n{d.log_text()}")
            return False
        return what in msg.split("\n")
    wait_until(lambda: notified("READY=1"), 15, "READY=1 on NOTIFY_SOCKET", step=0)
    ok(True, "READY=1 arrived")
    c = Conn(d.socket)  # no retry: ready means listening
    ok([x["name"] for x in c.list()] == ["ram0"], "the socket answers at once after READY=1: LIST shows ram0")
    c.close()
    d.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: notified("STOPPING=1"), 15, "STOPPING=1 on NOTIFY_SOCKET", step=0)
    ok(True, "STOPPING=1 arrived after SIGTERM")
    ok(d.proc.wait(20) == 0 and not os.path.exists(d.socket), "homid exited 0, socket removed")
    listener.close()

    print("homid --check")
    r = subprocess.run([HOMID, "--check", "--config", d.conf], capture_output=True, text=True, timeout=10)
    ok(r.returncode == 0 and "1 device(s)" in r.stdout, f"a good configuration passes: {r.stdout.strip()}")
    ok(not os.path.exists(d.socket), "--check creates no socket")
    good = "[homid]\nsocket = /tmp/x.sock\n\n[device a]\ndevice = emu:ram:16M\n"
    bad = [
        ("unknown key", "[homid]\nsocket = /tmp/x.sock\nsocket_bogus = 1\n[device a]\ndevice = emu:ram:16M\n", 3),
        ("bad socket_mode", "[homid]\nsocket_mode = 0999\n[device a]\ndevice = emu:ram:16M\n", 2),
        ("socket_mode not octal", "[homid]\n\nsocket_mode = rw-rw----\n[device a]\ndevice = emu:ram:16M\n", 3),
        ("device section without device", good + "\n[device b]\nusers = 0\n", 8),  # its first key's line
        ("empty device section", good + "\n[device b]\n", 7),
        ("bad device string", good + "[device b]\ndevice = nvme:thing\n", 7),
        ("device string of a kernel path", good + "[device b]\ndevice = /dev/nvme0n1\n", 7),
        ("serial=", good + "[device b]\ndevice = emu:ram:1M\nserial = S3EWNX0K\n", 8),
        ("unknown key in a device section", good + "qpairs = 4\n", 6),
        ("bad namespaces", good + "namespaces = 0\n", 6),
        ("unknown section", good + "[devices]\n", 6),
        ("bad device name", good + "[device a/b]\ndevice = emu:ram:1M\n", 7),
    ]
    for i, (what, text, line) in enumerate(bad):
        path = sc.path(f"bad{i}.conf")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([HOMID, "--check", "--config", path], capture_output=True, text=True, timeout=10)
        msg = r.stderr.strip().replace("\n", " | ")
        ok(r.returncode != 0 and f"line {line}:" in r.stderr, f"{what}: refused at line {line}: {msg}")
    r = subprocess.run([HOMID, "--check", "--config", sc.path("missing.conf")], capture_output=True, timeout=10)
    ok(r.returncode != 0, "a missing configuration file is refused")

    print("systemd-analyze verify of daemon/homid.service")
    sa = shutil.which("systemd-analyze")
    if not sa:
        raise Skip("systemd-analyze is missing (the daemon checks above passed)")
    with open(os.path.join(SOURCE, "daemon", "homid.service")) as f:
        unit = f.read()
    lines = []
    for ln in unit.splitlines():
        if ln.startswith("ExecStartPre="):
            ln = f"ExecStartPre={HOMID} --check --config {d.conf}"
        elif ln.startswith("ExecStart="):
            ln = f"ExecStart={HOMID} --config {d.conf}"
        lines.append(ln)
    ok(any(x.startswith("ExecStart=" + HOMID) for x in lines), "ExecStart rewritten to the build's homid")
    unit_dir = sc.path("unit")
    os.mkdir(unit_dir)
    with open(os.path.join(unit_dir, "homid.service"), "w") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run([sa, "verify", os.path.join(unit_dir, "homid.service")], capture_output=True, text=True,
                       timeout=60)
    out = (r.stdout + r.stderr).strip()
    if out:
        print("    systemd-analyze: " + out.replace("\n", "\n    systemd-analyze: "))
    ok(r.returncode == 0 and "homid.service" not in out, "systemd-analyze verify passes, nothing said of the unit")


def s_two_clients(sc):
    # completions 1.5 ms late: each verify takes about a second, so both are connected at once
    d = sc.daemon("two", [("ram0", "emu:ram:16M,qpairs=4,threads=1,delay=0-32767:1500", "")])
    d.start()
    nlba = 32768
    a = sc.client("verify-a", ["perf", "verify", d.dev("ram0"), "--offset", "0", "--size", str(nlba // 2),
                               "--qdepth", "8", "--iosize", "4096"])
    b = sc.client("verify-b", ["perf", "verify", d.dev("ram0"), "--offset", str(nlba // 2), "--size",
                               str(nlba // 2), "--qdepth", "8", "--iosize", "4096"])

    def both():
        st = d.status()
        return st if qids_of(st, a.pid) and qids_of(st, b.pid) else None
    st = wait_until(both, 20, "both verify clients hold a queue pair")
    io_clients = [c for c in st["clients"] if c["pid"] in (a.pid, b.pid)]
    ok(len(io_clients) == 2 and st["devices"][0]["used_qpairs"] >= 2,
       f"status shows 2 clients at once (pids {a.pid}, {b.pid}), {st['devices'][0]['used_qpairs']} qpairs used")
    ok(set(qids_of(st, a.pid)).isdisjoint(qids_of(st, b.pid)), "their qids differ")
    for p, rng in ((a, f"0..{nlba // 2 - 1}"), (b, f"{nlba // 2}..{nlba - 1}")):
        p.wait(60)
        out = sc.output(p)
        ok(verify_passed(p.returncode, out), f"verify of LBAs {rng} passed: {out.strip().splitlines()[-1]}")
    st = wait_until(lambda: (lambda s: s if not s["qpairs"] else None)(d.status()), 5, "no queue pairs left")
    ok(st["devices"][0]["used_qpairs"] == 0 and st["reclaimed_qpairs"] == 0,
       "afterwards no queue pairs in use; none needed reclaiming (both released theirs)")
    d.stop()


def s_kill9_reclaim(sc):
    nq = 3
    d = sc.daemon("kill9", [("ram0", f"emu:ram:16M,qpairs={nq},threads=1", "")])
    d.start()
    base = d.status()["reclaimed_qpairs"]
    p = sc.client("run1", ["perf", "run", d.dev("ram0"), "--runtime", "30", "--nqueues", str(nq), "--qdepth", "16"])
    st = wait_until(lambda: (lambda s: s if len(qids_of(s, p.pid)) == nq else None)(d.status()), 20,
                    f"the client holds {nq} queue pairs")
    first = qids_of(st, p.pid)
    ok(True, f"aisio perf run (pid {p.pid}) holds qids {first} of the device's {nq}")
    time.sleep(0.3)  # let it get well into its I/O
    ok(p.poll() is None, "it is still doing I/O")
    p.kill()
    p.wait()
    st = wait_until(lambda: (lambda s: s if not s["qpairs"] and all(c["pid"] != p.pid for c in s["clients"])
                             else None)(d.status()), 5, "the killed client's queue pairs gone")
    ok(True, "after kill -9: the client and its queue pairs are gone from status")
    ok(st["reclaimed_qpairs"] == base + nq, f"reclaimed_qpairs {base} -> {st['reclaimed_qpairs']} (+{nq})")
    ok(st["devices"][0]["used_qpairs"] == 0, "used_qpairs 0")
    q = sc.client("run2", ["perf", "run", d.dev("ram0"), "--runtime", "1", "--nqueues", str(nq), "--qdepth", "16"])
    st = wait_until(lambda: (lambda s: s if len(qids_of(s, q.pid)) == nq else None)(d.status()), 20,
                    f"a new client holds {nq} queue pairs")
    ok(qids_of(st, q.pid) == first, f"a new client is granted the same qids {first}")
    q.wait(30)
    out = sc.output(q)
    ok(q.returncode == 0 and "Failed" in out, "its run completes (exit 0)")
    d.stop()


def take_all_qids(d, dev_index, nq, nsid=1):
    """A raw client takes every queue pair; one more is refused; all released again. Returns the qids."""
    c = Conn(d.socket)
    fd = sealed_memfd(1 << 20)
    mem = c.reg_mem(dev_index, fd, 1 << 20)
    qids = []
    for i in range(nq):
        qid, dbfd = c.grant(dev_index, nsid, 16, mem, i * 8192, i * 8192 + 4096)
        os.close(dbfd)
        qids.append(qid)
    refused(errno.ENOSPC, c.grant, dev_index, nsid, 16, mem, 0x80000, 0x81000)
    for qid in qids:
        c.release(dev_index, qid)
    c.call(UNREG_MEM, struct.pack("<II", mem, 0))
    c.close()
    os.close(fd)
    return sorted(qids)


def s_cycles(sc):
    nq, cycles = 2, 100
    d = sc.daemon("cycles", [("ram0", f"emu:ram:16M,qpairs={nq},threads=1", "")])
    d.start()
    mon = Conn(d.socket, name="monitor")
    # a first client that takes every qid: the emulator keeps one doorbell memfd per qid ever used
    take_all_qids(d, 0, nq)
    fds0, rss0 = d.fds(sockets=2), d.rss_kib()  # the listening socket and the monitor
    base = mon.status()["reclaimed_qpairs"]
    print(f"  before: {fds0} open fds, VmRSS {rss0} KiB; {cycles} cycles of a client granted a queue, then kill -9")
    t0 = time.monotonic()
    for i in range(cycles):
        p = sc.client(f"c{i}", ["perf", "run", d.dev("ram0"), "--runtime", "30", "--qdepth", "8"])
        try:
            wait_until(lambda: qids_of(mon.status(), p.pid), 20, f"cycle {i}: the client holds its I/O queue pair",
                       step=0.005)
        except Fail:
            p.kill()
            p.wait()
            raise Fail(f"cycle {i}: the client got no queue pair: {sc.output(p)}")
        if i % 2:
            time.sleep(0.02)  # every other one killed in the middle of its I/O, not just after the grant
        p.kill()
        p.wait()
        sc.procs.remove(p)
        os.unlink(sc.path(f"c{i}.out"))
        os.unlink(sc.path(f"c{i}.err"))
    ok(True, f"{cycles} clients granted a queue and killed in {time.monotonic() - t0:.1f} s")
    st = wait_until(lambda: (lambda s: s if len(s["clients"]) == 1 and not s["qpairs"] else None)(mon.status()),
                    10, "every killed client gone")
    ok(st["reclaimed_qpairs"] - base == cycles, f"reclaimed_qpairs +{st['reclaimed_qpairs'] - base}")
    ok(st["devices"][0]["used_qpairs"] == 0, "no queue pairs in use")
    fds1 = d.fds(sockets=2)
    ok(fds1 == fds0, f"open fds {fds0} -> {fds1}")
    rss1 = d.rss_kib()
    ok(rss1 - rss0 < 16 * 1024, f"VmRSS {rss0} -> {rss1} KiB (growth {rss1 - rss0} KiB < 16 MiB)")
    qids = take_all_qids(d, 0, nq)
    ok(qids == list(range(1, nq + 1)), f"every qid free: a client takes {qids}, one more is refused (-ENOSPC)")
    mon.close()
    ok(d.fds() == fds0 - 1, "and with the monitor connection closed one fd less")
    d.stop()


def s_bad_messages(sc):
    # completions 1 ms late: the verify runs for a few seconds next to the bad clients
    d = sc.daemon("bad", [("ram0", "emu:ram:16M,qpairs=4,threads=1,delay=0-32767:1000", "")])
    d.start()
    # every qid granted once first: the emulator keeps one doorbell memfd per qid that was ever used
    take_all_qids(d, 0, 4)
    fds0 = d.fds()
    v = sc.client("verify", ["perf", "verify", d.dev("ram0"), "--size", "16384", "--qdepth", "4", "--iosize", "4096"])
    wait_until(lambda: qids_of(d.status(), v.pid), 20, "the verify client holds its queue pair")
    ok(True, f"aisio perf verify (pid {v.pid}) running")

    def still_usable(c, what, err, fn, *args):
        msg = refused(err, fn, *args)
        devs = c.list()
        ok(devs and devs[0]["name"] == "ram0",
           f"{what}: -{errno.errorcode[err]} ({msg}); LIST works after")

    print("before HELLO, versions")
    c = Conn(d.socket, hello=False)
    refused(errno.EPROTO, c.call, LIST)
    ok(True, "a request before HELLO: -EPROTO")
    refused(errno.EPROTONOSUPPORT, c.hello, 2, 5)
    ok(True, "HELLO for versions 2..5 only: -EPROTONOSUPPORT")
    version, daemon = c.hello()
    ok(version == VERSION and daemon.startswith("homid"), f"then HELLO works ({daemon}, version {version})")
    still_usable(c, "a second HELLO", errno.EPROTO, c.hello)

    print("malformed packets")
    raw = Conn(d.socket)

    def send_raw_then_read(data, fds=()):
        raw.send_raw(data, fds)
        return raw.answer(None, 0)
    garbage = bytes((i * 37 + 11) & 0xFF for i in range(64))
    still_usable(raw, "64 bytes of garbage", errno.EPROTO, send_raw_then_read, garbage)
    still_usable(raw, "an empty packet", errno.EMSGSIZE, send_raw_then_read, b"")
    still_usable(raw, "a truncated header (10 bytes)", errno.EMSGSIZE, send_raw_then_read,
                 HDR.pack(MAGIC, VERSION, LIST, 0, 1)[:10])
    still_usable(raw, "header len 8, no body", errno.EMSGSIZE,
                 lambda: raw.answer(raw.send(LIST, length=8), LIST))
    still_usable(raw, "header len 0, an 8-byte body", errno.EMSGSIZE,
                 lambda: raw.answer(raw.send(LIST, b"\0" * 8, length=0), LIST))
    still_usable(raw, "LIST with a body", errno.EMSGSIZE, raw.call, LIST, b"\0" * 8)
    still_usable(raw, "RELEASE_QP with a short body", errno.EMSGSIZE, raw.call, RELEASE_QP, b"\0" * 4)
    still_usable(raw, "a 70000-byte packet", errno.EMSGSIZE, send_raw_then_read,
                 HDR.pack(MAGIC, VERSION, LIST, 70000 - 16, 1) + b"\0" * (70000 - 16))
    still_usable(raw, "unknown type 99", errno.EPROTO, raw.call, 99)
    still_usable(raw, "a reply type (HELLO|REPLY)", errno.EPROTO,
                 lambda: raw.answer(raw.send(HELLO | REPLY, HELLO_RP.pack(1, 0, 1, b"x")), HELLO | REPLY))
    still_usable(raw, "an ERROR from the client", errno.EPROTO,
                 lambda: raw.answer(raw.send(ERROR, ERR.pack(-5, b"x")), ERROR))
    still_usable(raw, "a SHUTDOWN from the client", errno.EPROTO,
                 lambda: raw.answer(raw.send(SHUTDOWN), SHUTDOWN))
    still_usable(raw, "LIST of version 2", errno.EPROTONOSUPPORT,
                 lambda: raw.answer(raw.send(LIST, version=2), LIST))
    still_usable(raw, "HELLO with an unterminated name", errno.EPROTO, raw.call, HELLO,
                 HELLO_RQ.pack(1, 1, 0, b"n" * 56))

    print("file descriptors")
    rfd, wfd = os.pipe()
    still_usable(raw, "an fd attached to LIST", errno.EINVAL, raw.call, LIST, b"", [rfd])
    still_usable(raw, "an fd attached to STATUS", errno.EINVAL, raw.call, STATUS, b"", [rfd])
    still_usable(raw, "REG_MEM without an fd", errno.EBADF, raw.reg_mem, 0, None, 65536)
    still_usable(raw, "REG_MEM of a pipe", errno.EBADF, raw.reg_mem, 0, rfd, 65536)
    unsealed = os.memfd_create("unsealed", os.MFD_CLOEXEC)
    os.ftruncate(unsealed, 65536)
    still_usable(raw, "REG_MEM of an unsealed memfd", errno.EPERM, raw.reg_mem, 0, unsealed, 65536)
    memfd = sealed_memfd(65536)
    still_usable(raw, "REG_MEM longer than the memfd", errno.EINVAL, raw.reg_mem, 0, memfd, 131072)
    still_usable(raw, "REG_MEM of 1000 bytes (not pages)", errno.EINVAL, raw.reg_mem, 0, memfd, 1000)
    still_usable(raw, "REG_MEM for device 7", errno.ENODEV, raw.reg_mem, 7, memfd, 65536)
    for n in (2, 8, 20):  # 20: more than the daemon's receive buffer holds (MSG_CTRUNC)
        still_usable(raw, f"REG_MEM with {n} fds", errno.EINVAL, raw.call, REG_MEM, REG_RQ.pack(0, 0, 65536),
                     [memfd] * n)
    mem = raw.reg_mem(0, memfd, 65536)
    ok(mem > 0, f"REG_MEM of a sealed 64 KiB memfd: region {mem}")

    print("GRANT_QP with bad rings (region of 64 KiB)")
    g = raw.grant
    still_usable(raw, "SQ offset out of the region", errno.EINVAL, g, 0, 1, 16, mem, 1 << 20, 0)
    still_usable(raw, "CQ reaching past the region's end", errno.EINVAL, g, 0, 1, 512, mem, 0, 61440)
    still_usable(raw, "SQ reaching past the region's end", errno.EINVAL, g, 0, 1, 512, mem, 36864, 0)
    still_usable(raw, "offset near 2^64 (wraps)", errno.EINVAL, g, 0, 1, 16, mem, 0, (1 << 64) - 4096)
    still_usable(raw, "unaligned SQ", errno.EINVAL, g, 0, 1, 16, mem, 100, 8192)
    still_usable(raw, "unaligned CQ", errno.EINVAL, g, 0, 1, 16, mem, 0, 4100)
    still_usable(raw, "SQ and CQ at one offset", errno.EINVAL, g, 0, 1, 16, mem, 4096, 4096)
    still_usable(raw, "SQ of 128 entries over the CQ", errno.EINVAL, g, 0, 1, 128, mem, 0, 4096)
    still_usable(raw, "48 entries (not a power of two)", errno.EINVAL, g, 0, 1, 48, mem, 0, 8192)
    still_usable(raw, "1 entry", errno.EINVAL, g, 0, 1, 1, mem, 0, 8192)
    still_usable(raw, "65536 entries (over max_qdepth)", errno.EINVAL, g, 0, 1, 65536, mem, 0, 8192)
    still_usable(raw, "an unknown region", errno.ENOENT, g, 0, 1, 16, mem + 100, 0, 8192)
    still_usable(raw, "namespace 0", errno.ENODEV, g, 0, 0, 16, mem, 0, 8192)
    still_usable(raw, "namespace 9", errno.ENODEV, g, 0, 9, 16, mem, 0, 8192)
    still_usable(raw, "device 5", errno.ENODEV, g, 5, 1, 16, mem, 0, 8192)
    qid, dbfd = g(0, 1, 16, mem, 0, 8192)
    os.close(dbfd)
    ok(qid > 0, f"then a good GRANT_QP: qid {qid}")
    still_usable(raw, "UNREG_MEM of a region with rings in it", errno.EBUSY, raw.call, UNREG_MEM,
                 struct.pack("<II", mem, 0))

    print("RELEASE_QP of a queue not theirs")
    other = Conn(d.socket, name="other")
    ofd = sealed_memfd(65536)
    omem = other.reg_mem(0, ofd, 65536)
    oqid, odb = other.grant(0, 1, 16, omem, 0, 4096)
    os.close(odb)
    still_usable(raw, f"RELEASE_QP of another client's qid {oqid}", errno.ENOENT, raw.release, 0, oqid)
    still_usable(raw, f"RELEASE_QP of the verify client's qids {qids_of(d.status(), v.pid)}", errno.ENOENT,
                 lambda: [raw.release(0, q) for q in qids_of(d.status(), v.pid)] or raw.release(0, 0))
    still_usable(raw, "RELEASE_QP of qid 0", errno.ENOENT, raw.release, 0, 0)
    still_usable(raw, "RELEASE_QP of qid 65535", errno.ENOENT, raw.release, 0, 65535)
    still_usable(raw, "RELEASE_QP on device 9", errno.ENOENT, raw.release, 9, qid)
    st = raw.status()
    owner = {q["qid"]: q["client"] for q in st["qpairs"]}
    ok(owner.get(oqid) == other.client_id and owner.get(qid) == raw.client_id,
       "status: each queue still with its owner")
    raw.release(0, qid)
    still_usable(raw, f"RELEASE_QP of qid {qid} twice", errno.ENOENT, raw.release, 0, qid)
    other.close()
    raw.close()
    c.close()
    for f in (rfd, wfd, unsealed, memfd, ofd):
        os.close(f)
    ok(v.poll() is None, "the verify client still running through all of it")
    v.wait(60)
    out = sc.output(v)
    ok(verify_passed(v.returncode, out), f"and it passed: {out.strip().splitlines()[-1]}")
    st = wait_until(lambda: (lambda s: s if len(s["clients"]) == 1 and not s["qpairs"] else None)(d.status()),
                    5, "every bad client gone")
    ok(d.fds() == fds0, f"the daemon holds {fds0} fds again: none of the passed ones kept")
    d.stop()


def as_nobody(fn):
    """fn() in a child process with uid and gid 65534 and no groups; its return value (JSON) or Fail."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            res = {"ok": fn()}
        except BaseException as e:  # noqa: B902 - the parent reports it
            res = {"error": f"{type(e).__name__}: {e}"}
        os.write(wr, json.dumps(res).encode())
        os._exit(0)
    os.close(wr)
    data = b""
    while True:
        b = os.read(rd, 65536)
        if not b:
            break
        data += b
    os.close(rd)
    os.waitpid(pid, 0)
    res = json.loads(data)
    if "error" in res:
        raise Fail(f"the client as nobody: {res['error']}")
    return res["ok"]


def s_credentials(sc):
    if os.geteuid() != 0:
        raise Skip("needs root (a client as uid 65534)")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        raise Skip("setpriv is missing")
    os.chmod(sc.tmp, 0o755)
    d = sc.daemon("cred", [("rootonly", "emu:ram:16M,qpairs=2,threads=1", ""),
                           ("open", "emu:ram:16M,qpairs=2,threads=1", "users = 65534"),
                           ("ns2", "emu:ram:16M,ns=2,qpairs=2,threads=1", "namespaces = 2\nmax_queues = 1")],
                  homid_extra="socket_mode = 0666")
    d.start()
    ok(os.stat(d.socket).st_mode & 0o777 == 0o666, "socket mode 0666")

    print("a raw client as nobody")

    def probe():
        c = Conn(d.socket, name="nobody")
        names = [x["name"] for x in c.list()]
        out = {"list": names}
        for what, fn in (("grant", lambda: c.grant(0, 1, 16, 1, 0, 4096)),
                         ("reg_mem", lambda: c.reg_mem(0, sealed_memfd(65536), 65536)),
                         ("grant_open", lambda: c.grant(1, 1, 16, 1, 0, 4096))):
            try:
                fn()
                out[what] = 0
            except HomiError as e:
                out[what] = e.err
        out["status_uid"] = [x["uid"] for x in c.status()["clients"] if x["id"] == c.client_id]
        c.close()
        return out
    r = as_nobody(probe)
    ok(r["status_uid"] == [65534], "the daemon sees uid 65534 (SO_PEERCRED)")
    ok(r["list"] == ["open"], f"LIST as nobody shows only the allowed device: {r['list']}")
    ok(r["grant"] == -errno.EACCES, f"GRANT_QP on rootonly refused: {r['grant']} (-EACCES)")
    ok(r["reg_mem"] == -errno.EACCES, f"REG_MEM on rootonly refused: {r['reg_mem']} (-EACCES)")
    ok(r["grant_open"] == -errno.ENOENT, "GRANT_QP on open passes the policy (refused only for its region: -ENOENT)")
    c = Conn(d.socket)
    ok([x["name"] for x in c.list()] == ["rootonly", "open", "ns2"], "LIST as root shows all three")

    print("aisio as nobody (setpriv)")
    wrap = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    rc, out = sc.aisio("nobody-open", ["perf", "verify", d.dev("open"), "--size", "4096"], wrap=wrap)
    ok(verify_passed(rc, out), f"verify of homi:open as nobody passes: {out.strip().splitlines()[-1]}")
    rc, out = sc.aisio("nobody-root", ["perf", "verify", d.dev("rootonly"), "--size", "4096"], wrap=wrap)
    ok(rc != 0, f"verify of homi:rootonly as nobody fails (exit {rc}): {out.strip().splitlines()[0]}")
    st = d.status()
    ok(not st["qpairs"] and len(st["clients"]) == 2, "nothing left behind (the root client and status remain)")

    print("namespaces = 2 on a device with two namespaces")
    ns2 = [x for x in c.list() if x["name"] == "ns2"][0]
    ok(ns2["nsids"] == [2], f"LIST shows namespace 2 only: {ns2['nsids']}")
    fd = sealed_memfd(65536)
    mem = c.reg_mem(ns2["index"], fd, 65536)
    msg = refused(errno.EACCES, c.grant, ns2["index"], 1, 16, mem, 0, 4096)
    ok(True, f"GRANT_QP for nsid 1 refused: -EACCES ({msg})")
    qid, dbfd = c.grant(ns2["index"], 2, 16, mem, 0, 4096)
    os.close(dbfd)
    ok(qid > 0, f"GRANT_QP for nsid 2 granted: qid {qid}")
    msg = refused(errno.EDQUOT, c.grant, ns2["index"], 2, 16, mem, 8192, 12288)
    ok(True, f"max_queues = 1: a second GRANT_QP refused: -EDQUOT ({msg})")
    c.close()
    os.close(fd)
    rc, out = sc.aisio("ns1", ["perf", "verify", d.dev("ns2"), "--nsid", "1", "--size", "4096"])
    ok(rc != 0, f"aisio perf verify --nsid 1 fails (exit {rc}): {out.strip().splitlines()[0]}")
    rc, out = sc.aisio("ns2", ["perf", "verify", d.dev("ns2"), "--nsid", "2", "--size", "4096"])
    ok(verify_passed(rc, out), "aisio perf verify --nsid 2 passes")
    d.stop()

    print("the default socket_mode (0600)")
    d = sc.daemon("cred600", [("open", "emu:ram:16M,qpairs=2,threads=1", "users = 65534")])
    d.start()
    ok(os.stat(d.socket).st_mode & 0o777 == 0o600, "socket mode 0600")

    def connect():
        try:
            Conn(d.socket).close()
            return "connected"
        except PermissionError:
            return "EACCES"
    r = as_nobody(connect)
    ok(r == "EACCES", "nobody cannot connect at all, users= notwithstanding")
    d.stop()


def s_restart(sc):
    d = sc.daemon("restart", [("ram0", "emu:ram:16M,qpairs=4,threads=1", "")])
    d.start()
    p = sc.client("run", ["perf", "run", d.dev("ram0"), "--runtime", "60", "--qdepth", "16"])
    wait_until(lambda: qids_of(d.status(), p.pid), 20, "the client holds its queue pair")
    time.sleep(0.2)
    ok(p.poll() is None, f"aisio perf run --runtime 60 (pid {p.pid}) doing I/O")
    t0 = time.monotonic()
    d.stop()
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        raise Fail("the client still running 20 s after the daemon stopped")
    out = sc.output(p)
    ok(p.returncode not in (0, None) and p.returncode > 0,
       f"the client exited {p.returncode} after {time.monotonic() - t0:.1f} s, not killed, not hung")
    ok("gone" in out or "error" in out.lower(), "with an error message: " +
       next((ln for ln in out.splitlines() if "gone" in ln or "error" in ln.lower()), "").strip())
    rc, out = sc.aisio("nodaemon", ["perf", "verify", d.dev("ram0"), "--size", "1024"], timeout=20)
    ok(rc != 0 and "no homid daemon answers" in out, f"with no daemon a client fails at once (exit {rc})")

    print("restart on the same socket")
    d.start()
    rc, out = sc.aisio("verify", ["perf", "verify", d.dev("ram0"), "--size", "4096"])
    ok(verify_passed(rc, out), "the daemon started again: a new client's verify passes")

    print("a second daemon on the live socket")
    d2 = sc.daemon("restart", [("ram0", "emu:ram:16M,qpairs=4,threads=1", "")])
    d2.log = sc.path("second.log")
    d2.start(wait=False)
    try:
        rc = d2.proc.wait(20)
    except subprocess.TimeoutExpired:
        raise Fail("a second daemon on a live socket still running after 20 s")
    log = d2.log_text()
    ok(rc != 0 and "already listens" in log, f"refuses to start (exit {rc}): {log.strip().splitlines()[-1]}")
    ok(" up: " not in log, "without bringing up its devices")
    ok(os.path.exists(d.socket) and d.status()["devices"][0]["name"] == "ram0",
       "the first daemon's socket is left alone and still answers")

    print("a stale socket (kill -9 of the daemon)")
    d.proc.kill()
    d.proc.wait()
    ok(os.path.exists(d.socket), "homid killed with SIGKILL leaves its socket behind")
    rc, out = sc.aisio("stale", ["perf", "verify", d.dev("ram0"), "--size", "1024"], timeout=20)
    ok(rc != 0, f"a client on the stale socket fails (exit {rc})")
    d.start()
    rc, out = sc.aisio("verify2", ["perf", "verify", d.dev("ram0"), "--size", "4096"])
    ok(verify_passed(rc, out), "a daemon started on the stale socket replaces it: verify passes")
    d.stop()


SCENARIOS = {
    "ready": s_ready,
    "two-clients": s_two_clients,
    "kill9-reclaim": s_kill9_reclaim,
    "cycles": s_cycles,
    "bad-messages": s_bad_messages,
    "credentials": s_credentials,
    "restart": s_restart,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(__doc__.split("\n\n")[-1].strip(), "\nscenarios:", ", ".join(SCENARIOS), file=sys.stderr)
        return 2
    name = sys.argv[1]
    for b in (HOMID, AISIO):
        if not os.access(b, os.X_OK):
            print(f"SKIP: {b} is not built")
            return 77
    return run_scenario(name, SCENARIOS[name])


def run_scenario(name, fn):
    """fn(Scenario()) as one test: PASS, SKIP, or FAIL with the daemons' logs; returns the exit status."""
    sc = Scenario()
    print(f"homi {name}", flush=True)
    t0 = time.monotonic()
    try:
        fn(sc)
    except Skip as e:
        print(f"SKIP: {e}")
        return 77
    except (Fail, OSError, subprocess.SubprocessError) as e:
        print(f"FAIL: {type(e).__name__ + ': ' if not isinstance(e, Fail) else ''}{e}")
        for d in sc.daemons:
            if os.path.exists(d.log):
                print(f"--- {d.log}\n{d.log_text()}")
        return 1
    finally:
        sc.cleanup()
    print(f"PASS ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
