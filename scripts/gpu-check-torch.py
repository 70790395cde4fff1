#!/usr/bin/env python3
"""PyTorch side of scripts/gpu-check.sh: the same encoder shapes and the same batches as the
ONNX Runtime side (plan.json, written by `gpu-check.ts plan`), timed on the same GPU, plus a large
MatMul as the ceiling. Writes torch.json. Random weights: only the speed means anything.

The encoders follow our graphs (src/models/esm2.ts, dnabert.ts): ESM-2 pre-LN layers with rotary
q/k and GELU; DNABERT-S post-LN layers with ALiBi and a gated GELU feed-forward; masked mean at the
end. Attention is torch.nn.functional.scaled_dot_product_attention with the padding (and ALiBi) as
a mask, what a PyTorch user gets by default. fp32 runs with TF32 off, as ONNX Runtime's fp32 does.

usage: gpu-check-torch.py PLAN_JSON OUT_JSON
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


def timed(fn, budget_s):
    """First pass (warm-up, kernel selection), then passes until budget_s is spent (at least one)."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    t0 = time.perf_counter(); fn(); sync(); first = time.perf_counter() - t0
    best, spent = float("inf"), 0.0
    while spent < budget_s or best == float("inf"):
        t0 = time.perf_counter(); fn(); sync(); dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return first, best


def attention(q, k, v, mask):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    # torch < 2.0: the plain form
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return scores.softmax(-1) @ v


class Encoder:
    def __init__(self, spec, dtype, device):
        g = torch.Generator(device="cpu").manual_seed(0)
        E, Fd, L = spec["dim"], spec["ffn"], spec["layers"]
        self.spec, self.dtype, self.device = spec, dtype, device

        def w(*shape, scale):
            return (torch.randn(*shape, generator=g) * scale).to(device=device, dtype=dtype)

        self.embed = w(spec["vocab"], E, scale=1.0)
        gated = spec["kind"] == "dnabert"
        self.layers = [
            dict(
                qkv=w(3 * E, E, scale=E ** -0.5), qkv_b=w(3 * E, scale=0.01),
                out=w(E, E, scale=E ** -0.5), out_b=w(E, scale=0.01),
                fc1=w((2 if gated else 1) * Fd, E, scale=E ** -0.5), fc1_b=w((2 if gated else 1) * Fd, scale=0.01),
                fc2=w(E, Fd, scale=Fd ** -0.5), fc2_b=w(E, scale=0.01),
                ln1=(torch.ones(E, device=device, dtype=dtype), torch.zeros(E, device=device, dtype=dtype)),
                ln2=(torch.ones(E, device=device, dtype=dtype), torch.zeros(E, device=device, dtype=dtype)),
            )
            for _ in range(L)
        ]
        if gated:
            heads = spec["heads"]
            self.slopes = torch.tensor([2 ** (-8 * (h + 1) / heads) for h in range(heads)], device=device, dtype=dtype)

    def forward(self, ids, lengths):
        s, E, H = self.spec, self.spec["dim"], self.spec["heads"]
        B, T = ids.shape
        keep = torch.arange(T, device=self.device)[None, :] < lengths[:, None]  # [B, T]
        x = self.embed[ids]
        if s["kind"] == "esm2":
            mask = keep[:, None, None, :]  # bool: attend where True
            half = E // H // 2
            inv = 1.0 / (10000 ** (torch.arange(half, device=self.device, dtype=torch.float32) / half))
            ang = torch.arange(T, device=self.device, dtype=torch.float32)[:, None] * inv[None, :]
            cos = torch.cat([ang.cos(), ang.cos()], -1).to(self.dtype)
            sin = torch.cat([ang.sin(), ang.sin()], -1).to(self.dtype)
        else:
            pos = torch.arange(T, device=self.device)
            alibi = -(pos[None, :] - pos[:, None]).abs()[None, :, :].to(self.dtype) * self.slopes[:, None, None]
            mask = alibi[None] + torch.where(keep, 0.0, -1e4).to(self.dtype)[:, None, None, :]

        def rotate(t):
            a, b = t.chunk(2, -1)
            return t * cos + torch.cat([-b, a], -1) * sin

        for p in self.layers:
            h = F.layer_norm(x, (E,), *p["ln1"]) if s["kind"] == "esm2" else x
            q, k, v = F.linear(h, p["qkv"], p["qkv_b"]).view(B, T, 3, H, E // H).permute(2, 0, 3, 1, 4)
            if s["kind"] == "esm2":
                q, k = rotate(q), rotate(k)
            a = attention(q, k, v, mask).transpose(1, 2).reshape(B, T, E)
            x = x + F.linear(a, p["out"], p["out_b"])
            if s["kind"] == "dnabert":
                x = F.layer_norm(x, (E,), *p["ln1"])
            h = F.layer_norm(x, (E,), *p["ln2"]) if s["kind"] == "esm2" else x
            f = F.linear(h, p["fc1"], p["fc1_b"])
            if s["kind"] == "dnabert":
                up, gate = f.chunk(2, -1)
                f = up * F.gelu(gate)
            else:
                f = F.gelu(f)
            x = x + F.linear(f, p["fc2"], p["fc2_b"])
            if s["kind"] == "dnabert":
                x = F.layer_norm(x, (E,), *p["ln2"])
        w = keep.to(x.dtype)[:, :, None]
        return (x * w).sum(1) / w.sum(1)


def run_model(spec, precision, device, budget_s):
    dtype = torch.float16 if precision == "fp16" else torch.float32
    enc = Encoder(spec, dtype, device)
    lengths = spec["lengths"]
    g = torch.Generator(device="cpu").manual_seed(1)
    batches = []
    for b in spec["batches"]:
        lens = torch.tensor([lengths[i] for i in b])
        ids = torch.randint(4, spec["vocab"], (len(b), int(lens.max())), generator=g)
        batches.append((ids.to(device), lens.to(device)))

    def one_pass():
        with torch.inference_mode():
            for ids, lens in batches:
                enc.forward(ids, lens)

    first, best = timed(one_pass, budget_s)
    tokens = sum(lengths)
    del enc, batches
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {"model": spec["key"], "precision": precision, "tokens": tokens, "first_s": first, "best_s": best, "tokens_per_s": tokens / best}


def matmul(n, precision, device):
    dtype = torch.float16 if precision == "fp16" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    _, best = timed(lambda: [a @ b for _ in range(10)], 1.0)
    return {"precision": precision, "shape": f"{n}x{n}x{n}", "tflops": 10 * 2 * n ** 3 / best / 1e12}


def main():
    plan = json.load(open(sys.argv[1]))
    out = {"torch": torch.__version__, "results": [], "matmul": [], "errors": []}
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out["device"] = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    budget = float(plan.get("pass_budget_s", 5))
    for spec in plan["models"]:
        for precision in plan["precisions"]:
            if device == "cpu" and precision == "fp16":
                continue  # CPU half-precision matmuls are not what anyone runs
            try:
                out["results"].append(run_model(spec, precision, device, budget))
            except Exception as e:  # one failure must not lose the other figures
                out["errors"].append(f"{spec['key']} {precision}: {e}")
            print(json.dumps(out["results"][-1] if out["results"] else out["errors"][-1]), flush=True)
    for precision in plan["precisions"]:
        if device == "cpu" and precision == "fp16":
            continue
        out["matmul"].append(matmul(plan["matmul_n"], precision, device))
    json.dump(out, open(sys.argv[2], "w"), indent=2)


if __name__ == "__main__":
    main()
