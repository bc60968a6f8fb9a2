#!/usr/bin/env python3
"""Print a bench/gpu JSONL file as a table: label, IOPS, GB/s, p50/p99 us, failed, extra columns."""
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{'label':46} {'MIOPS':>9} {'GB/s':>7} {'%ceil':>6} {'p50us':>7} {'p99us':>7} {'cmd/db':>6} {'failed':>6}")
for r in rows:
    if "error" in r:
        print(f"{r['label']:46} ERROR {r['error'][:80]}")
        continue
    t = r["result"]["total"]
    q = r["result"].get("queues_stats", {})
    ceil = r["result"].get("ceiling_gb_s")
    pc = f"{100 * t['gb_s'] / ceil:5.1f}%" if ceil else ""
    print(f"{r['label']:46} {t['iops'] / 1e6:9.2f} {t['gb_s']:7.2f} {pc:>6} {t['lat_us']['p50']:7.2f} "
          f"{t['lat_us']['p99']:7.2f} {q.get('cmds_per_sq_doorbell', 0):6.1f} {t['failed']:6d}")
