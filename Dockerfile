# syntax=docker/dockerfile:1
# VirNucPro-TS container images; two targets (README, "Containers"):
#   docker build -t virnucpro .                       CPU (the default target, last in this file)
#   docker build --target cuda -t virnucpro:cuda .    NVIDIA GPUs: CUDA 12 + cuDNN 9 runtime, ONNX Runtime's CUDA provider
# Neither was built where this project is developed and tested (no container engine there).

ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

# ---- build: compile the TypeScript (needs the dev dependencies)
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# No install scripts: `prepare` (the build) runs below, once the sources are here, and onnxruntime-node's
# download of its CUDA provider is not needed to compile.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src/ src/
RUN npm run build

# ---- app: the production dependencies and the built package in /opt/virnucpro
FROM ${NODE_IMAGE} AS app
WORKDIR /opt/virnucpro
COPY package.json package-lock.json ./
# --ignore-scripts skips onnxruntime-node's CUDA download (the cuda target runs it on purpose) and `prepare`.
# onnxruntime-node ships binaries for every platform: a Linux image keeps linux/ only (69 of 288 MB).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} +
COPY --from=build /src/dist/ dist/
COPY assets/ assets/
COPY examples/ examples/
COPY LICENSE README.md CITATION.cff ./

# ---- the CUDA provider (downloaded from NuGet by onnxruntime-node's own install script)
FROM app AS cuda-provider
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

# ---- cuda: the NVIDIA runtime image plus Node 20 (the official binary, which needs glibc 2.28+)
FROM ${CUDA_IMAGE} AS cuda
COPY --from=app /usr/local/bin/node /usr/local/bin/node
COPY --from=cuda-provider /opt/virnucpro /opt/virnucpro
RUN ln -s /opt/virnucpro/dist/cli/main.js /usr/local/bin/virnucpro \
 && useradd --create-home --uid 1000 node \
 && mkdir -p /cache /data && chown node:node /cache /data
ENV VIRNUCPRO_CACHE=/cache
USER node
WORKDIR /data
ENTRYPOINT ["virnucpro"]
CMD ["--help"]

# ---- cpu (default)
FROM ${NODE_IMAGE} AS cpu
COPY --from=app /opt/virnucpro /opt/virnucpro
RUN ln -s /opt/virnucpro/dist/cli/main.js /usr/local/bin/virnucpro \
 && mkdir -p /cache /data && chown node:node /cache /data
ENV VIRNUCPRO_CACHE=/cache
USER node
WORKDIR /data
ENTRYPOINT ["virnucpro"]
CMD ["--help"]
