#!/usr/bin/env python3
"""GPU check of the generated FlashAttention-2 PTX (needs a GPU, PyTorch).

Not part of ctest/lit (CI has no GPU). Loads <ptx-dir>/<kernel>.<chip>.ptx
with the CUDA driver API (ctypes), launches it with the ABI of
include/minfer/Kernel/TileConfig.h and compares against an fp32 reference
(PyTorch, chunked) built from the same sparse index (SparseIndex.h
semantics). Optionally times the dense kernel against PyTorch's SDPA
FlashAttention backend.

  python3 gpu_check.py --ptx-dir DIR [--chip sm_90] [--quick] [--bench]
"""
import argparse
import ctypes
import math
import sys
import time

import numpy as np
import torch

BLOCK = 64
THREADS = 128


def smem_bytes(d, stages=2, block_m=BLOCK, separate_q=False):
    """TileConfig::sharedBytes(): Q shares the last K stage when stages > 1
    and block_m <= 64; rows are tileDim (64 or 128 for D = 96) + 8."""
    q_rows = 0 if stages > 1 and block_m <= BLOCK and not separate_q else block_m
    tile = 64 if d <= 64 else 128
    return (q_rows + 2 * stages * BLOCK) * (tile + 8) * 2


# --------------------------------------------------------------------------
# CUDA driver API through ctypes
# --------------------------------------------------------------------------
class Driver:
    def __init__(self):
        self.lib = ctypes.CDLL("libcuda.so.1")
        torch.zeros(1, device="cuda")  # primary context current on this thread
        self.modules = {}

    def check(self, r, what):
        if r != 0:
            s = ctypes.c_char_p()
            self.lib.cuGetErrorString(r, ctypes.byref(s))
            raise RuntimeError(f"{what}: CUDA error {r} {s.value}")

    def function(self, path, name, smem):
        key = (path, name)
        if key in self.modules:
            return self.modules[key]
        data = open(path, "rb").read() + b"\0"
        mod = ctypes.c_void_p()
        self.check(self.lib.cuModuleLoadData(ctypes.byref(mod), data), f"load {path}")
        fn = ctypes.c_void_p()
        self.check(self.lib.cuModuleGetFunction(ctypes.byref(fn), mod, name.encode()),
                   f"get {name}")
        # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8
        self.check(self.lib.cuFuncSetAttribute(fn, 8, smem), "smem attribute")
        self.modules[key] = fn
        return fn

    def launch(self, fn, grid, smem, params, threads=THREADS):
        holders = []
        for kind, v in params:
            holders.append({"u64": ctypes.c_uint64, "i64": ctypes.c_int64,
                            "i32": ctypes.c_int32, "f32": ctypes.c_float}[kind](v))
        arr = (ctypes.c_void_p * len(holders))(
            *[ctypes.cast(ctypes.pointer(h), ctypes.c_void_p) for h in holders])
        self.check(self.lib.cuLaunchKernel(fn, grid[0], grid[1], grid[2], threads, 1, 1,
                                           smem, None, arr, None), "launch")


def memref(t):
    """Flat memref<?xT> under the default calling convention: 5 params."""
    p = t.data_ptr()
    return [("u64", p), ("u64", p), ("i64", 0), ("i64", t.numel()), ("i64", 1)]


# --------------------------------------------------------------------------
# Sparse index (SparseIndex.h layout and semantics)
# --------------------------------------------------------------------------
def merge(intervals):
    out = []
    for s, e in sorted(intervals):
        if s >= e:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def build_index(n, heads_spec):
    """heads_spec[h] = ('dense'|'vs'|'block'|'empty', params). Returns numpy
    arrays rc[H,NB], ranges[H,NB,R,2], cc[H,NB], cols[H,NB,C]."""
    nb = (n + BLOCK - 1) // BLOCK
    per_head = []
    for kind, p in heads_spec:
        blocks = []
        for m in range(nb):
            s_m, e_m = BLOCK * m, min(n, BLOCK * m + BLOCK)
            if kind == "dense":
                rs, cs = [[0, e_m]], []
            elif kind == "empty":
                rs, cs = [], []
            elif kind == "ashape":
                rs, cs = merge([[0, min(p["sink"], e_m)], [max(0, s_m - p["local"] + 1), e_m]]), []
            elif kind == "block":
                chosen = [b for b in p["blocks"](m) if b <= m]
                rs, cs = merge([[BLOCK * b, min(BLOCK * b + BLOCK, e_m)] for b in chosen]), []
            elif kind == "vs":
                rs = merge([[max(s_m - o, 0), e_m - o] for o in p["slash"] if o < e_m])
                cs = [v for v in p["vertical"] if v < e_m and not any(a <= v < b for a, b in rs)]
            blocks.append((rs, cs))
        per_head.append(blocks)
    r = max(1, max(len(b[0]) for h in per_head for b in h))
    c = max(1, max(len(b[1]) for h in per_head for b in h))
    H = len(heads_spec)
    rc = np.zeros((H, nb), np.int32)
    ranges = np.zeros((H, nb, r, 2), np.int32)
    cc = np.zeros((H, nb), np.int32)
    cols = np.zeros((H, nb, c), np.int32)
    for h, blocks in enumerate(per_head):
        for m, (rs, cs) in enumerate(blocks):
            rc[h, m] = len(rs)
            for i, (a, b) in enumerate(rs):
                ranges[h, m, i] = (a, b)
            cc[h, m] = len(cs)
            cols[h, m, :len(cs)] = cs
    return rc, ranges, cc, cols


def reference(q, k, v, scale, rc, ranges, cc, cols, chunk_blocks=16):
    """fp32 attention with M[i][j] = j <= i and j in a range/column of block(i).
    q [B,H,N,D]; index arrays [B,H,NB,...] (numpy). Rows with no key -> 0."""
    B, H, N, D = q.shape
    hkv = k.shape[1]
    group = H // hkv
    nb = (N + BLOCK - 1) // BLOCK
    out = torch.zeros(B, H, N, D, dtype=torch.float32, device=q.device)
    ar = torch.arange(N, device=q.device)
    for b in range(B):
        for h in range(H):
            qf = q[b, h].float()
            kf = k[b, h // group].float()
            vf = v[b, h // group].float()
            for m0 in range(0, nb, chunk_blocks):
                m1 = min(nb, m0 + chunk_blocks)
                rows = torch.arange(BLOCK * m0, min(N, BLOCK * m1), device=q.device)
                delta = np.zeros((m1 - m0, N + 1), np.int32)
                for m in range(m0, m1):
                    for i in range(rc[b, h, m]):
                        s, e = ranges[b, h, m, i]
                        delta[m - m0, s] += 1
                        delta[m - m0, e] -= 1
                allowed = np.cumsum(delta, 1)[:, :N] > 0
                for m in range(m0, m1):
                    allowed[m - m0, cols[b, h, m, :cc[b, h, m]]] = True
                allowed = torch.from_numpy(allowed).to(q.device)
                blk = rows // BLOCK - m0
                mask = allowed[blk] & (ar[None, :] <= rows[:, None])
                s = (qf[rows] @ kf.T) * scale
                s = s.masked_fill(~mask, float("-inf"))
                mx = s.amax(1, keepdim=True)
                mx = torch.where(torch.isinf(mx), torch.zeros_like(mx), mx)
                p = torch.exp(s - mx)
                l = p.sum(1, keepdim=True)
                o = (p @ vf) / torch.where(l == 0, torch.ones_like(l), l)
                out[b, h, rows] = o
    return out


# --------------------------------------------------------------------------
# Launch one kernel
# --------------------------------------------------------------------------
def run_kernel(drv, ptx_dir, chip, kind, q, k, v, scale, index=None, stages=2,
               block_m=BLOCK, separate_q=False):
    B, H, N, D = q.shape
    dtype = {torch.bfloat16: "bf16", torch.float16: "f16"}[q.dtype]
    m = "" if block_m == BLOCK else f"_m{block_m}"
    name = f"minfer_{kind}{m}_d{D}_{dtype}"
    smem = smem_bytes(D, stages, block_m, separate_q)
    fn = drv.function(f"{ptx_dir}/{name}.{chip}.ptx", name, smem)
    o = torch.full_like(q, float("nan"))
    params = memref(q) + memref(k) + memref(v) + memref(o)
    scalars = [("i32", N), ("i32", H), ("i32", k.shape[1])]
    keep = []
    if kind != "dense":
        rc, ranges, cc, cols = [torch.as_tensor(np.ascontiguousarray(a), device="cuda") for a in index]
        keep += [rc, ranges, cc, cols]
        params += memref(rc) + memref(ranges)
        if kind == "vs":
            params += memref(cc) + memref(cols)
        scalars.append(("i32", ranges.shape[3]))
        if kind == "vs":
            scalars.append(("i32", cols.shape[3]))
    scalars.append(("f32", scale * math.log2(math.e)))
    nb = (N + block_m - 1) // block_m
    launch = lambda: drv.launch(fn, (nb, H, B), smem, params + scalars,
                                threads=2 * block_m)
    launch()
    torch.cuda.synchronize()
    return o, launch


def stack_index(per_batch):
    return [np.stack(a) for a in zip(*per_batch)]


def check(drv, args, kind, N, D, dtype, H=2, HKV=1, B=1, spec=None, tol=None, label=""):
    torch.manual_seed(N * 7 + D)
    q = torch.randn(B, H, N, D, device="cuda").to(dtype)
    k = torch.randn(B, HKV, N, D, device="cuda").to(dtype)
    v = torch.randn(B, HKV, N, D, device="cuda").to(dtype)
    scale = 1.0 / math.sqrt(D)
    if kind == "dense":
        index = stack_index([build_index(N, [("dense", None)] * H)] * B)
        o, _ = run_kernel(drv, args.ptx_dir, args.chip, kind, q, k, v, scale,
                          block_m=args.dense_block_m)
    else:
        index = stack_index([build_index(N, spec)] * B)
        o, _ = run_kernel(drv, args.ptx_dir, args.chip, kind, q, k, v, scale, index)
    ref = reference(q, k, v, scale, *index)
    err = (o.float() - ref).abs().max().item()
    nan = torch.isnan(o).any().item()
    tol = tol or (2e-2 if dtype == torch.bfloat16 else 1e-2)
    ok = err <= tol and not nan
    print(f"{'OK  ' if ok else 'FAIL'} {kind:5s} D={D:3d} {str(dtype)[6:]:8s} N={N:6d} "
          f"H={H} Hkv={HKV} B={B} max_abs_err={err:.3e} nan={nan} {label}", flush=True)
    return ok


def timeit(f, iters):
    for _ in range(3):
        f()
    torch.cuda.synchronize()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0.record()
    for _ in range(iters):
        f()
    e1.record()
    torch.cuda.synchronize()
    return e0.elapsed_time(e1) / iters


def bench(drv, args, N, D, dtype, H=4):
    """Dense causal: every --bench-dirs variant (DIR[:stages]) vs SDPA flash."""
    q = torch.randn(1, H, N, D, device="cuda", dtype=dtype)
    k = torch.randn(1, H, N, D, device="cuda", dtype=dtype)
    v = torch.randn(1, H, N, D, device="cuda", dtype=dtype)
    scale = 1.0 / math.sqrt(D)
    flops = 4 * N * N * D * H / 2
    iters = max(3, int(2e10 / (N * N * D * H)))
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        f = lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        t_fa = timeit(f, iters)
    line = f"BENCH dense D={D} {str(dtype)[6:]} H={H} N={N}: sdpa_flash {t_fa:.3f} ms {flops / t_fa / 1e9:.0f} TF/s"
    for spec in (args.bench_dirs.split(",") if args.bench_dirs else [args.ptx_dir]):
        d, *opts = spec.split(":")
        stages = int(opts[0]) if opts and opts[0] else 2
        block_m = int(opts[1]) if len(opts) > 1 and opts[1] else BLOCK
        sepq = len(opts) > 2 and opts[2] == "sepq"  # kernels from before Q sharing
        _, launch = run_kernel(drv, d, args.chip, "dense", q, k, v, scale,
                               stages=stages, block_m=block_m, separate_q=sepq)
        t = timeit(launch, iters)
        label = d.rstrip('/').split('/')[-1] + ("" if block_m == BLOCK else f"/m{block_m}")
        line += f" | {label} {t:.3f} ms {flops / t / 1e9:.0f} TF/s {t_fa / t:.2f}x"
    print(line, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptx-dir", required=True)
    ap.add_argument("--chip", default="sm_90")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--bench-dirs", default="",
                    help="DIR[:stages[:block_m]],... dense variants to time")
    ap.add_argument("--dense-block-m", type=int, default=BLOCK)
    ap.add_argument("--dense-only", action="store_true")
    ap.add_argument("--bench-lens", default="4096,16384,65536")
    ap.add_argument("--lens", default="", help="comma-separated N to check (default: by --quick)")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    drv = Driver()
    ok = True
    if not args.no_check:
        lens = [100, 4096, 16421] if args.quick else [100, 4096, 16421, 65536]
        if args.lens:
            lens = [int(x) for x in args.lens.split(",")]
        for dtype in (torch.bfloat16, torch.float16):
            for D in (64, 96, 128):
                for N in lens:
                    ok &= check(drv, args, "dense", N, D, dtype)
        ok &= check(drv, args, "dense", 1000, 128, torch.bfloat16, H=4, HKV=2, B=2, label="gqa")
        rng = np.random.default_rng(0)
        for N in [n for n in lens if n <= 16421 and not args.dense_only]:
            vert = sorted(set(rng.integers(0, N, size=min(N, 300)).tolist()) | set(range(30)))
            slash = sorted(set(rng.integers(0, N, size=min(N, 200)).tolist()) | set(range(100)))
            topk = lambda m: sorted(set([0, m, max(0, m - 1)] + rng.integers(0, m + 1, size=3).tolist()))
            vs_spec = [("vs", {"vertical": vert, "slash": slash}),
                       ("vs", {"vertical": vert[::3], "slash": slash[::2]}),
                       ("empty", None), ("dense", None)]
            blk_spec = [("block", {"blocks": topk}), ("ashape", {"sink": 100, "local": 1000}),
                        ("empty", None), ("dense", None)]
            for dtype in (torch.bfloat16, torch.float16):
                for D in (64, 96, 128):
                    ok &= check(drv, args, "vs", N, D, dtype, H=4, HKV=2, spec=vs_spec)
                    ok &= check(drv, args, "block", N, D, dtype, H=4, HKV=2, spec=blk_spec)
    if args.bench:
        for D in (64, 128):
            for N in [int(x) for x in args.bench_lens.split(",")]:
                bench(drv, args, N, D, torch.bfloat16)
    print("ALL OK" if ok else "SOME FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
