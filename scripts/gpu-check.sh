#!/usr/bin/env bash
# One-shot GPU check, for a machine with an NVIDIA GPU (issue 7 item 9). Run from the repository root after
# `npm ci && npm run build` (or with dist/ and node_modules/ carried over). Writes everything under ${OUT:-gpu-check}.
# It never fails early: each step prints its exit code, so one run tells what works.
set -u
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
NODE=${NODE:-node}
CLI="$NODE dist/cli/main.js"
step() { echo; echo "== $*"; "$@"; echo "-> exit $?"; }

step nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv
step $CLI devices --json
step $CLI models demo --out "$OUT/demo"
# The nvidia-smi monitor and gpu_metrics.log, on a CUDA device list (falls back to CPU when the CUDA provider
# libraries are absent, which the log says).
step $CLI predict examples/example.fa -e 500 --esm "$OUT/demo/esm2_t2_32_demo.pt" --dnabert "$OUT/demo/dnabert-s" \
  --classifier "$OUT/demo/classifier_demo.pth" --devices cuda:0 --allow-cpu-fallback --cache-dir "$OUT/cache" -o "$OUT/cuda" --force
step head -5 "$OUT/cuda/gpu_metrics.log"
# WebGPU (Dawn over Vulkan), bundled with onnxruntime-node on linux/x64.
step $CLI predict examples/example.fa -e 500 --demo --device webgpu --allow-cpu-fallback --cache-dir "$OUT/cache" -o "$OUT/webgpu" --force
# The dashboard on two workers of the same GPU, in a real terminal when tmux is there.
if command -v tmux >/dev/null; then
  tmux new -d -s gpu -x 150 -y 40 "$CLI predict examples/example.fa -e 500 --demo --devices cuda:0,cpu --allow-cpu-fallback --show-gpu-dashboard --cache-dir $OUT/cache -o $OUT/dash --force --shard-tokens 300; sleep 30"
  sleep 20; tmux capture-pane -p -t gpu > "$OUT/dashboard.txt"; tmux kill-session -t gpu
  cat "$OUT/dashboard.txt"
fi
# Identical results on GPU and CPU (scores within 1e-5; labels equal).
step $CLI predict examples/example.fa -e 500 --demo --device cpu --cache-dir "$OUT/cache" -o "$OUT/cpu" --force
step diff <(cut -f1,2 "$OUT/cpu/prediction_results.txt") <(cut -f1,2 "$OUT/webgpu/prediction_results.txt")
