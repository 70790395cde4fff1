#!/usr/bin/env bash
# The one prepared GPU check (issue 10; docs/gpu.md): at most 8 minutes on a machine with an NVIDIA GPU,
# every figure written under $OUT (7 files: log.txt, devices.txt, nvidia-smi.csv, figures.md, figures.json,
# dashboard.txt, gpu_metrics.log):
#   - `virnucpro devices`: which providers start, and why not;
#   - PyTorch on the GPU, first (so its figures exist whatever happens next): ESM-2 3B-shaped (36 layers)
#     and DNABERT-S-shaped encoders, fp16 and fp32, on the batches the ONNX Runtime side runs, and a large
#     MatMul as the ceiling (scripts/gpu-check-torch.py);
#   - ONNX Runtime on each GPU provider that starts (WebGPU; CUDA where its provider is installed):
#     embeddings against the CPU at 31, 32, 64 and 1024 tokens, the same throughput figures, a MatMul chain
#     (scripts/gpu-check.ts);
#   - `predict` on WebGPU and the CPU with the live dashboard (in a pseudo-terminal), gpu_metrics.log, and
#     nvidia-smi sampled every 500 ms all along.
# Each step has a time limit inside the whole budget (GPU_CHECK_BUDGET_S, default 450 s) and prints its exit
# code; a failing step never stops the others.
#
# On the device tool's machine (no Node.js, no node_modules, no Vulkan loader), after
# `bash scripts/prepare-device-carry.sh` here:
#   run(command="bash scripts/gpu-check.sh", carry=[".device"], timeout_s=540)
# Here, to see that every part runs (CPU, WebGPU on lavapipe, stand-in shapes; figures mean nothing):
#   OUT=/tmp/gpu-check-out bash scripts/gpu-check.sh --small
set -u
SMALL=""
[ "${1:-}" = "--small" ] && SMALL=--small
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-${TMPDIR:-/tmp}/virnucpro-gpu-check-out}
mkdir -p "$OUT"
WORK=${GPU_CHECK_WORK:-${TMPDIR:-/tmp}/virnucpro-gpu-check}
rm -rf "$WORK"
mkdir -p "$WORK"
BUDGET=${GPU_CHECK_BUDGET_S:-450}
START=$(date +%s)
exec > >(tee "$OUT/log.txt") 2>&1

left() { echo $((BUDGET - ($(date +%s) - START))); }
# step SECONDS COMMAND...: runs COMMAND with at most SECONDS (less if the budget is nearly spent).
step() {
  local limit=$1 remaining
  shift
  remaining=$(left)
  if [ "$remaining" -lt 15 ]; then
    echo "== skipped (time budget spent): $*"
    return 0
  fi
  [ "$limit" -gt "$remaining" ] && limit=$remaining
  echo
  echo "== $* (at most ${limit} s, $(date +%T))"
  timeout -k 5 "$limit" "$@"
  echo "-> exit $?"
}

# --- Node.js, the CLI and the production node_modules: carried in .device/ where the machine has none.
NODE=$(command -v node || true)
if [ -f .device/node.xz ]; then
  xz -dc .device/node.xz > "$WORK/node" && chmod +x "$WORK/node" && NODE=$WORK/node
fi
if [ -z "$NODE" ]; then
  echo "no Node.js here: run scripts/prepare-device-carry.sh first and carry .device"
  exit 1
fi
# Never over a working tree's own node_modules (the carried one is pruned to production dependencies).
if [ -f .device/app.tar.xz ] && [ ! -d node_modules ]; then tar -xJf .device/app.tar.xz; fi
# The Vulkan loader and GL dispatch libraries (the device tool's notes), only where the loader is missing.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
  for f in .device/gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
  ldconfig
fi
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$WORK/xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# The 3B-shaped graphs (5.7 GB in fp16, 11.4 GB in fp32) are written to the temporary directory.
export TMPDIR=$WORK
if [ -f .device/gpu-check.mjs ]; then CHECK=("$NODE" .device/gpu-check.mjs); else CHECK=("$NODE" --import tsx scripts/gpu-check.ts); fi
if [ -f dist/cli/main.js ]; then CLI="$NODE dist/cli/main.js"; else CLI="$NODE --import tsx src/cli/main.ts"; fi
PY=${PYTHON:-python3}
"$PY" -c 'import torch' 2>/dev/null || PY=/usr/bin/python3
READS=12000
[ -n "$SMALL" ] && READS=40
export CLI WORK OUT READS

echo "== machine ($(date -u +%FT%TZ))"
uname -srm
"$NODE" -v
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv 2>&1 || true
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=timestamp,index,utilization.gpu,utilization.memory,memory.used,memory.total,power.draw,temperature.gpu,clocks.sm \
    --format=csv -lms 500 > "$OUT/nvidia-smi.csv" 2>&1 &
  SMI=$!
fi

step 60 bash -c '$CLI devices | tee "$OUT/devices.txt"'
step 20 "${CHECK[@]}" plan --work "$WORK" $SMALL
step 150 "$PY" scripts/gpu-check-torch.py "$WORK/plan.json" "$WORK/torch.json"
# ONNX Runtime: what is left, less 80 s for the dashboard and the report (its throughput part stops 30 s earlier).
ORT_LIMIT=$(($(left) - 80))
[ "$ORT_LIMIT" -lt 60 ] && ORT_LIMIT=60
step "$ORT_LIMIT" "${CHECK[@]}" run --work "$WORK" $SMALL --budget $((ORT_LIMIT - 30))
# The dashboard on two workers (WebGPU and the CPU), with the tiny demo models, over $READS random 1500-bp reads
# made of sense codons (random DNA has a stop in every frame of a 500-bp chunk: nothing to embed).
awk -v reads="$READS" 'BEGIN {
  srand(7); split("A C G T", b, " ")
  for (i = 1; i <= 4; i++) for (j = 1; j <= 4; j++) for (k = 1; k <= 4; k++) { c = b[i] b[j] b[k]; if (c != "TAA" && c != "TAG" && c != "TGA") codon[n++] = c }
  for (r = 0; r < reads; r++) { s = ""; for (x = 0; x < 500; x++) s = s codon[int(rand() * n)]; printf(">read%d\n%s\n", r, s) }
}' > "$WORK/reads.fa"
step 55 bash -c '
  cmd="timeout -k 5 40 $CLI predict $WORK/reads.fa -e 500 --demo --devices webgpu,cpu --show-gpu-dashboard --cache-dir $WORK/cache -o $WORK/dash --force --shard-tokens 40000"
  if command -v script > /dev/null; then script -qfec "$cmd" "$OUT/dashboard.txt" > /dev/null; else $cmd > "$OUT/dashboard.txt" 2>&1; fi
  rc=$?
  cp "$WORK/dash/gpu_metrics.log" "$OUT/" 2> /dev/null
  exit $rc'
step 30 "${CHECK[@]}" report --work "$WORK" --out "$OUT"
[ -n "${SMI:-}" ] && kill "$SMI" 2> /dev/null
echo "== done in $(($(date +%s) - START)) s; files in $OUT:"
ls -la "$OUT"
