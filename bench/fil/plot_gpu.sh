#!/usr/bin/env bash
# figure: the plot of bench/fil/gpu.sh's run (GB/s against the host-to-GPU ceiling, CPU s/GiB) per backend and
# dataset, drawn where gnuplot is (the GPU machine has none): bench/fil/plot_gpu.sh RESULTS_DIR
# writes RESULTS_DIR/fil_gpu_backends.png from RESULTS_DIR/*.json.
set -euo pipefail
dir=${1:?RESULTS_DIR}
command -v gnuplot >/dev/null || { echo "plot_gpu: no gnuplot (apt-get install gnuplot-nox)"; exit 1; }
python3 - "$dir" >"$dir/plot.dat" <<'PY'
import glob, json, os, sys
rows = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    j = json.load(open(path))
    name = os.path.basename(path)[:-5]
    rows.append((name, j["bytes"] / j["seconds"] / 1e9, j["cpu_s_per_gib"], j["h2d_ceiling_gb_per_s"]))
order = {"posix-cuda-1t": 0, "posix-cuda-16t": 1, "gds-16t": 2, "aisio-gpu": 3, "aisio-gpu-4t": 4}
rows.sort(key=lambda r: (r[0].split("-")[0], order.get(r[0].split("-", 1)[1], 9)))
for name, gbs, cpu, ceil in rows:
    print(f"{name} {gbs:.3f} {cpu:.4f} {ceil:.2f}")
PY
ceiling=$(awk '{s += $4; n++} END {printf "%.1f", s / n}' "$dir/plot.dat")
gnuplot <<GP
set terminal pngcairo size 1100,520 noenhanced
set output "$dir/fil_gpu_backends.png"
set multiplot layout 1,2 title "fil into GPU memory (NVIDIA H200 machine, bench/fil/gpu.sh)"
set style data histograms
set style fill solid 0.8
set boxwidth 0.8
set xtics rotate by -50 font ",8"
set grid ytics
set title "GB/s into GPU memory (line: host-to-GPU copy ceiling, $ceiling GB/s)"
set yrange [0:$(awk -v c="$ceiling" "BEGIN {print c * 1.2}")]
plot "$dir/plot.dat" using 2:xtic(1) notitle lc rgb "#3060a0", $ceiling with lines lc rgb "#202020" dt 2 notitle
set title "CPU seconds per GiB (log scale, lower is better)"
set logscale y
set yrange [*:*]
plot "$dir/plot.dat" using 3:xtic(1) notitle lc rgb "#a04030"
unset multiplot
GP
echo "plot: $dir/fil_gpu_backends.png"
