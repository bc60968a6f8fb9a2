#!/usr/bin/env python3
"""aisio fil perf end to end (any user): a small generated dataset read through each posix backend, one and
two epochs, in verify mode; the JSON summary counts every file and byte once per epoch, with no error; bad
flags are refused."""
import json, os, subprocess, sys, tempfile

aisio = os.path.join(os.environ["AISIO_BUILD_ROOT"], "tools", "aisio")
with tempfile.TemporaryDirectory(prefix="fil-perf.") as tmp:
    d = os.path.join(tmp, "ds")
    subprocess.run([aisio, "fil", "gen", "--shape", "imagenetish", "--scale", "0.0002", "--seed", "7", d],
                   check=True, capture_output=True)
    files = [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs]
    nbytes = sum(os.path.getsize(f) for f in files)
    for backend in ("posix", "posix-direct") + (() if os.environ.get("AISIO_HAVE_URING") == "0" else ("posix-uring",)):
        for epochs in (1, 2):
            r = subprocess.run([aisio, "fil", "perf", "--json", "--verify", "--backend", backend, "--batch-size", "16",
                                "--epochs", str(epochs), "--threads", "2", d], capture_output=True, text=True,
                               timeout=120)
            assert r.returncode == 0, (backend, r.stderr)
            j = json.loads(r.stdout)
            assert j["error"] == 0 and j["files"] == epochs * len(files) and j["bytes"] == epochs * nbytes, j
            assert j["files_per_s"] > 0 and j["cpu_s_per_gib"] >= 0 and j["iops"] > 0, j
            print(f"ok: {backend}, {epochs} epoch(s): {j['files']} files, {j['bytes']} bytes, verified")
    r = subprocess.run([aisio, "fil", "perf", "--batch-size", "x", d], capture_output=True, text=True)
    assert r.returncode == 2 and "needs a number" in r.stderr, r.stderr
    r = subprocess.run([aisio, "fil", "perf", "--backend", "nope", d], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown backend" in r.stderr, r.stderr
    r = subprocess.run([aisio, "fil", "perf", os.path.join(tmp, "missing")], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot open the dataset" in r.stderr, r.stderr
    print("ok: bad flags and a missing dataset refused")
print("fil-perf: passed")
