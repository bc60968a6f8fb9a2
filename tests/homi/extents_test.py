#!/usr/bin/env python3
"""homi extent service, end to end (root: loop mount).

An XFS image is loop-mounted (the kernel's view) and served by homid as an emulated file namespace (the same
bytes, the daemon's view), with `extents = MOUNT`. A client asks the daemon's shared index for a file's LBA
runs (`aisio homi extents --json`), reads those LBAs through homi: (homi-read) and must get the file's bytes
as the kernel reads them; after files are appended and created, the watched index must show the new layout.
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time

SKIP = 77
build = os.environ.get("AISIO_BUILD_ROOT") or sys.exit("AISIO_BUILD_ROOT not set")
homid = os.path.join(build, "daemon", "homid")
aisio = os.path.join(build, "tools", "aisio")
reader = os.path.join(build, "tests", "homi", "homi-read")


def skip(why):
    print(f"skipped: {why}")
    sys.exit(SKIP)


def run(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}: {r.returncode}\n{r.stdout}{r.stderr}")
    return r


if os.geteuid() != 0:
    skip("needs root (loop mount)")
for tool in ("mkfs.xfs", "mount", "umount"):
    if not shutil.which(tool):
        skip(f"{tool} not installed")

tmp = tempfile.mkdtemp(prefix="homi-extents.")
img, mnt, sock = os.path.join(tmp, "fs.img"), os.path.join(tmp, "mnt"), os.path.join(tmp, "homid.sock")
os.mkdir(mnt)
with open(img, "wb") as f:
    f.truncate(512 << 20)
run("mkfs.xfs", "-q", img)
if run("mount", "-o", "loop", img, mnt, check=False).returncode != 0:
    skip("loop mount not possible here")
daemon = None
try:
    files = {"f1": os.urandom(1 << 20), "d/f2": os.urandom(12288), "d/e/f3": os.urandom(3 * 65536 + 4096)}
    for p, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(mnt, p)), exist_ok=True)
        with open(os.path.join(mnt, p), "wb") as f:
            f.write(data)
    os.sync()
    conf = os.path.join(tmp, "homid.conf")
    with open(conf, "w") as f:
        f.write(f"[homid]\nsocket = {sock}\n\n[device img0]\ndevice = emu:file:{img},qpairs=4,threads=1\n"
                f"extents = {mnt}\n")
    daemon = subprocess.Popen([homid, "--config", conf], stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    else:
        sys.exit("FAILED: homid did not start: " + daemon.stderr.read())

    def check(path, want):
        out = json.loads(run(aisio, "homi", "extents", "--json", "--socket", sock, "img0", path).stdout)
        f = out["files"][0]
        assert f["size"] == len(want), (path, f["size"], len(want))
        args = [f"{r['slba']}:{r['nlb']}" for r in f["runs"]]
        got = subprocess.run([reader, f"homi:img0,socket={sock}"] + args, capture_output=True, timeout=60)
        if got.returncode != 0:
            sys.exit(f"FAILED: homi-read {path}: {got.stderr.decode()}")
        # runs are in file order and cover the file (no holes were written)
        data = got.stdout[: len(want)]
        assert data == want, f"{path}: the LBAs the index names do not hold the file's bytes"
        print(f"ok: {path}: {len(want)} bytes in {len(f['runs'])} run(s) read through homi: match the file")
        return f

    for p, data in files.items():
        check(p, data)
    r = run(aisio, "homi", "extents", "--socket", sock, "img0", "nope", check=False)
    assert r.returncode != 0 and "No such file" in r.stderr, r.stderr
    print("ok: a missing file is refused")

    # the watch: an appended file and a new one show up in the shared index
    more = os.urandom(8192)
    with open(os.path.join(mnt, "d/f2"), "ab") as f:
        f.write(more)
    files["d/f2"] += more
    files["new"] = os.urandom(40960)
    with open(os.path.join(mnt, "new"), "wb") as f:
        f.write(files["new"])
    os.sync()
    deadline = time.time() + 20
    while True:
        r = run(aisio, "homi", "extents", "--json", "--socket", sock, "img0", "d/f2", "new", check=False)
        if r.returncode == 0:
            sizes = [f["size"] for f in json.loads(r.stdout)["files"]]
            if sizes == [len(files["d/f2"]), len(files["new"])]:
                break
        if time.time() > deadline:
            sys.exit(f"FAILED: the index did not follow the changes within 20 s: {r.stdout}{r.stderr}")
        time.sleep(0.2)
    check("d/f2", files["d/f2"])
    check("new", files["new"])
    print("ok: after a watch update the index names the new layout")
finally:
    if daemon and daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            rc = daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            rc = "hung"
        if rc != 0:
            print(f"homid exited {rc}: {daemon.stderr.read()}")
            sys.exit(1)
    subprocess.run(["umount", mnt])
    shutil.rmtree(tmp, ignore_errors=True)
print("extents: passed")
