#!/usr/bin/env bash
# Builds .device/ (ignored by git) for scripts/gpu-check.sh on the device tool's GPU machine, which has
# no Node.js, no node_modules (they are ignored, so they do not travel) and no Vulkan loader:
#   .device/node.xz          this machine's node binary (x86-64, xz)
#   .device/app.tar.xz       dist/ (the CLI, built now) and the production node_modules (npm ls --omit=dev),
#                            onnxruntime-node's binaries for linux/x64 only
#   .device/gpu-check.mjs    scripts/gpu-check.ts bundled with esbuild (the device has no tsx)
#   .device/gl/*.deb         libvulkan1 and the GL dispatch libraries, as the device tool's notes download
#                            them (skipped, with a warning, where apt cannot reach Debian's mirrors)
# and checks that what travels (the working tree plus .device/) stays under the tool's 64 MiB.
# Then, with the device tool: run(command="bash scripts/gpu-check.sh", carry=[".device"], timeout_s=540)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DEV=.device
LIMIT=$((64 * 1024 * 1024))
rm -rf "$DEV"
mkdir -p "$DEV/gl"

echo "node $(node -v): compressing $(command -v node)"
xz -T0 -6 -c "$(command -v node)" > "$DEV/node.xz"

echo "building dist/ and bundling scripts/gpu-check.ts"
npm run build --silent
npx esbuild scripts/gpu-check.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --external:onnxruntime-node --outfile="$DEV/gpu-check.mjs" \
  --banner:js="import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"

echo "packing dist/ and the production node_modules"
# Every production package (the whole tree, hoisted), without onnxruntime-node's binaries for other platforms.
npm ls --omit=dev --all --parseable 2> /dev/null | sed "s#^$ROOT/##" | grep '^node_modules/' | sort -u > "$DEV/packages.txt"
tar -cf - --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  --exclude='*.map' dist -T "$DEV/packages.txt" | xz -T0 -6 > "$DEV/app.tar.xz"
rm "$DEV/packages.txt"

echo "downloading the Vulkan loader and GL dispatch debs"
lists=$(mktemp -d)
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
mkdir -p "$lists/partial"
# shellcheck disable=SC2086
fetch_debs() { apt-get $o update -qq > /dev/null 2>&1 && (cd "$DEV/gl" && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 > /dev/null 2>&1); }
# shellcheck disable=SC2086
if fetch_debs || { sleep 5 && fetch_debs; }; then
  ls "$DEV/gl"
else
  echo "warning: could not download the debs; WebGPU on the device needs a Vulkan loader (see the device tool's notes)"
fi
rm -rf "$lists"

# What the device tool sends: tracked and untracked-not-ignored files, plus the carried .device/.
# (a file deleted in the working tree is listed but has no size: stat's complaint about it is not an error here)
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s -- 2> /dev/null | awk '{ s += $1 } END { print s + 0 }' || true)
carry=$(du -sb "$DEV" | cut -f1)
total=$((tree + carry))
printf 'working tree %.1f MiB + .device %.1f MiB = %.1f MiB (limit 64 MiB)\n' "$(echo "$tree / 1048576" | bc -l)" "$(echo "$carry / 1048576" | bc -l)" "$(echo "$total / 1048576" | bc -l)"
du -sh "$DEV"/*
if [ "$total" -ge "$LIMIT" ]; then
  echo "error: over the device tool's 64 MiB: leave something out" >&2
  exit 1
fi
