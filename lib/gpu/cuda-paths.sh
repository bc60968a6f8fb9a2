#!/bin/sh
# Prints the CUDA include and library folders (one per line) that the given nvcc itself uses, as
# reported by `nvcc --dryrun`: nvcc may be reached through a symlink or a wrapper in /usr/local/bin or
# /usr/bin, so its own path says nothing about where the headers are. Exits 1 with a reason on
# stderr when the headers or the static runtime are not where nvcc says.
nvcc=${1:?usage: cuda-paths.sh NVCC}
dry=$("$nvcc" --dryrun -c aisio-probe.cu -o aisio-probe.o 2>&1) || true
inc=$(printf '%s\n' "$dry" | sed -n 's/^#\$ INCLUDES="-I\([^"]*\)".*/\1/p' | head -n1)
lib=$(printf '%s\n' "$dry" | sed -n 's/^#\$ LIBRARIES=.*"-L\([^"]*\)" *$/\1/p' | head -n1)
if [ -z "$inc" ] || [ ! -f "$inc/cuda_runtime_api.h" ]; then
    echo "cuda-paths: $nvcc reports no include folder with cuda_runtime_api.h (got '$inc')" >&2
    exit 1
fi
if [ -z "$lib" ] || [ ! -f "$lib/libcudart_static.a" ]; then
    echo "cuda-paths: $nvcc reports no library folder with libcudart_static.a (got '$lib')" >&2
    exit 1
fi
printf '%s\n%s\n' "$(cd "$inc" && pwd -P)" "$(cd "$lib" && pwd -P)"
