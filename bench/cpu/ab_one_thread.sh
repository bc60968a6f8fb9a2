#!/usr/bin/env bash
# figure: one-thread IOPS of two builds of aisio, alternated round by round so both see the same machine state
# usage: bench/cpu/ab_one_thread.sh OUTDIR AISIO_A AISIO_B [ROUNDS]
# Runs iops_one_thread.sh with each binary in turn (A B A B ...); each round's JSON
# lines land in OUTDIR/a-N and OUTDIR/b-N, and the table goes to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?OUTDIR}; a=${2:?AISIO_A}; b=${3:?AISIO_B}; rounds=${4:-2}
for ((r = 1; r <= rounds; r++)); do
  for side in a b; do
    bin=$a; [ "$side" = b ] && bin=$b
    echo "== round $r, build $side ($bin)"
    AISIO=$bin "$here/bench/cpu/iops_one_thread.sh" "$out/$side-$r"
  done
done
