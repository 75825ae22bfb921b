#!/usr/bin/env python3
"""GPU test of the minfer package against PyTorch SDPA (needs CUDA + torch).

Every entry point is compared with scaled_dot_product_attention under the
boolean mask the pattern selects, built here from the semantics documented in
include/minfer/Runtime/SparseIndex.h (64-row query blocks; estimation of
block-sparse / vertical-slash replicated in fp64), and every full-budget call
with plain causal SDPA. Prints a table; exits non-zero on any failure.

  MINFER_LIB=build/lib/libminfer_runtime.so MINFER_PTX_DIR=<AOT ptx dir> \
      python3 python/tests/test_torch_gpu.py
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minfer  # noqa: E402

BM = 64  # query block rows
FORCED_V, FORCED_S = 30, 100  # VsOptions defaults
torch.backends.cuda.matmul.allow_tf32 = False

SHAPES = [  # B, H, Hkv, N, D, dtype
    (1, 4, 4, 1024, 128, torch.bfloat16),
    (2, 8, 2, 777, 64, torch.float16),      # GQA, N % 64 != 0
    (1, 4, 1, 2000, 128, torch.bfloat16),   # MQA, N % 64 != 0
    (1, 2, 2, 333, 128, torch.float16),
    (1, 4, 4, 1000, 96, torch.bfloat16),    # Phi-3-mini's head dim (padded)
    (1, 2, 1, 300, 40, torch.float16),      # padded to the 64 kernels
]


def blocks(N, dev):
    i = torch.arange(N, device=dev)
    s = (i // BM) * BM
    return i, s, torch.clamp(s + BM, max=N)  # row, s_m, e_m per row


def causal(N, dev):
    i = torch.arange(N, device=dev)
    return i[None, :] <= i[:, None]


def mask_a_shape(N, sink, local, dev):
    i, s, e = blocks(N, dev)
    j = torch.arange(N, device=dev)[None, :]
    keep = (j < torch.clamp(e, max=sink)[:, None]) | (j >= torch.clamp(s - local + 1, min=0)[:, None])
    return keep & causal(N, dev)


def mask_vs(N, verticals, offsets, dev):
    """verticals / offsets: 1-D int tensors (any order, dups, out of range ok)."""
    i, s, e = blocks(N, dev)
    j = torch.arange(N, device=dev)
    keep = torch.zeros(N, N, dtype=torch.bool, device=dev)
    v = verticals[(verticals >= 0) & (verticals < N)].unique()
    keep[:, v] = True
    for o in offsets[(offsets >= 0) & (offsets < N)].unique().tolist():
        lo, hi = torch.clamp(s - o, min=0), e - o  # [max(s_m - o, 0), e_m - o)
        keep |= (j[None, :] >= lo[:, None]) & (j[None, :] < hi[:, None])
    return keep & causal(N, dev)


def mask_blocks(N, sel, dev):
    """sel: [NB, NB] bool of selected key blocks per query block."""
    nb = torch.arange(N, device=dev) // BM
    return sel[nb][:, nb] & causal(N, dev)


def topk_lower(scores, k):
    """Indices of the top k, ties to the lower index (stable sort)."""
    order = torch.sort(-scores, stable=True).indices
    return order[:k]


def bs_select(q, k, N, top_k, scale):
    """[NB, NB] selection for one head (q, k: [N, D])."""
    NB = (N + BM - 1) // BM
    pad = NB * BM - N
    def pool(x):
        x = F.pad(x.double(), (0, 0, 0, pad)).view(NB, BM, -1).sum(1)
        cnt = torch.full((NB, 1), BM, dtype=torch.float64, device=x.device)
        cnt[-1] = BM - pad
        return x / cnt
    sc = scale * pool(q) @ pool(k).T
    sel = torch.zeros(NB, NB, dtype=torch.bool, device=q.device)
    for m in range(NB):
        sel[m, topk_lower(sc[m, :m + 1], min(top_k, m + 1))] = True
    return sel


def vs_select(q, k, N, vertical, slash, last_q, scale):
    """Selected (verticals, offsets) for one head by MInference's estimate."""
    L = min(last_q, N)
    rows = torch.arange(N - L, N, device=q.device)
    s = scale * q[N - L:].double() @ k.double().T
    j = torch.arange(N, device=q.device)
    s = s.masked_fill(j[None, :] > rows[:, None], -math.inf)
    p = torch.softmax(s, -1)
    vsc = p.sum(0)
    off = (rows[:, None] - j[None, :]).clamp(min=0)
    ssc = torch.zeros(N, dtype=torch.float64, device=q.device).index_add_(
        0, off.flatten(), p.flatten())
    vsc[:FORCED_V] = math.inf
    ssc[:FORCED_S] = math.inf
    return topk_lower(vsc, min(vertical, N)), topk_lower(ssc, min(slash, N))


def reference(q, k, v, masks):
    """masks: [B, H, N, N] bool (or [N, N]); fp32 SDPA, empty rows -> 0."""
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, 1).float(), v.repeat_interleave(g, 1).float()
    masks = masks.expand(q.shape[0], q.shape[1], -1, -1)
    out = F.scaled_dot_product_attention(q.float(), k, v, attn_mask=masks)
    return torch.where(masks.any(-1, keepdim=True), out, torch.zeros_like(out))


def causal_sdpa(q, k, v):
    g = q.shape[1] // k.shape[1]
    return F.scaled_dot_product_attention(q, k.repeat_interleave(g, 1),
                                          v.repeat_interleave(g, 1), is_causal=True)


RESULTS = []


def check(name, shape, out, ref):
    B, H, Hkv, N, D, dt = shape
    torch.cuda.synchronize()
    err = (out.float() - ref.float()).abs()
    tol = 3e-2 if dt == torch.bfloat16 else 6e-3
    bad = err > tol + tol * ref.float().abs()
    ok = bool(torch.isfinite(out.float()).all()) and not bool(bad.any())
    RESULTS.append((name, f"{B}x{H}/{Hkv}x{N}x{D} {str(dt)[6:]}",
                    f"{err.max().item():.2e}", f"{err.mean().item():.2e}", ok))


def run_shape(shape):
    B, H, Hkv, N, D, dt = shape
    dev = "cuda"
    g = torch.Generator(device=dev).manual_seed(N * 31 + H)
    q = torch.randn(B, H, N, D, device=dev, dtype=dt, generator=g)
    k = torch.randn(B, Hkv, N, D, device=dev, dtype=dt, generator=g)
    v = torch.randn(B, Hkv, N, D, device=dev, dtype=dt, generator=g)
    scale = 1.0 / math.sqrt(D)
    grp = H // Hkv
    NB = (N + BM - 1) // BM
    full = causal_sdpa(q, k, v)

    # streaming_forward
    init, local = 64, 200
    out = minfer.streaming_forward(q, k, v, init, local)
    check(f"streaming({init},{local})", shape, out,
          reference(q, k, v, mask_a_shape(N, init, local, dev)))
    check("streaming full", shape, minfer.streaming_forward(q, k, v, 0, N), full)

    # vertical_slash_sparse_attention with caller indices (per head, with
    # duplicates and out-of-range values, MInference's descending order)
    nv, ns = 24, 12
    vi = torch.randint(-5, N + 5, (B, H, nv), device=dev, generator=g)
    si = torch.randint(-5, N + 5, (B, H, ns), device=dev, generator=g)
    si[..., 0] = 0
    vi = vi.sort(-1, descending=True).values
    si = si.sort(-1, descending=True).values
    masks = torch.stack([torch.stack([mask_vs(N, vi[b, h], si[b, h], dev)
                                      for h in range(H)]) for b in range(B)])
    check(f"vertical_slash({nv},{ns})", shape,
          minfer.vertical_slash_sparse_attention(q, k, v, vi, si), reference(q, k, v, masks))
    all_s = torch.arange(N, device=dev).expand(B, H, N)
    check("vertical_slash full", shape,
          minfer.vertical_slash_sparse_attention(q, k, v, all_s[..., :1] * 0, all_s), full)

    # block_sparse_attention
    topk = max(1, NB // 3)
    masks = torch.stack([torch.stack([
        mask_blocks(N, bs_select(q[b, h], k[b, h // grp], N, topk, scale), dev)
        for h in range(H)]) for b in range(B)])
    check(f"block_sparse({topk})", shape,
          minfer.block_sparse_attention(q, k, v, topk), reference(q, k, v, masks))
    check("block_sparse full", shape, minfer.block_sparse_attention(q, k, v, NB), full)

    # sparse_attention: mixed per-head config
    kinds = [("vertical_and_slash", 40, 120), ("stream_llm", 32, 128),
             ("block_sparse", 2), ("dense",)]
    cfg = [kinds[h % len(kinds)] for h in range(H)]
    per_head = []
    for b in range(B):
        row = []
        for h, c in enumerate(cfg):
            qh, kh = q[b, h], k[b, h // grp]
            if c[0] == "vertical_and_slash":
                vs, os_ = vs_select(qh, kh, N, c[1], c[2], 64, scale)
                row.append(mask_vs(N, vs, os_, dev))
            elif c[0] == "stream_llm":
                row.append(mask_a_shape(N, c[1], c[2], dev))
            elif c[0] == "block_sparse":
                row.append(mask_blocks(N, bs_select(qh, kh, N, c[1], scale), dev))
            else:
                row.append(causal(N, dev))
        per_head.append(torch.stack(row))
    check("sparse_attention mixed", shape, minfer.sparse_attention(q, k, v, cfg),
          reference(q, k, v, torch.stack(per_head)))
    full_cfg = [("vertical_and_slash", N, N), ("stream_llm", 0, N),
                ("block_sparse", NB), ("dense",)]
    check("sparse_attention full", shape,
          minfer.sparse_attention(q, k, v, [full_cfg[h % 4] for h in range(H)]), full)

    # dense_fallback and return_stats: budgets that keep everything fall back
    # to the dense kernel; the mixed config's density below 0.999 stays sparse.
    vs_full = [("vertical_and_slash", N, N)] * H
    out, st = minfer.sparse_attention(q, k, v, vs_full, dense_fallback=0.9,
                                      return_stats=True)
    check("sparse_attention fallback", shape, out, full)
    stats_ok = (st["dense_fallback"] and st["density"] == 1.0
                and "_dense_" in st["attention_kernel"] and st["kernel_ms"] > 0)
    out, st = minfer.sparse_attention(q, k, v, cfg, dense_fallback=0.999,
                                      return_stats=True)
    check("sparse_attention no fallback", shape, out,
          reference(q, k, v, torch.stack(per_head)))
    stats_ok = stats_ok and not st["dense_fallback"] and 0 < st["density"] < 0.999
    stats_ok = stats_ok and st["index_builds"] >= st["chunks"] >= 1
    RESULTS.append(("sparse_attention stats", f"{B}x{H}/{Hkv}x{N}x{D} {str(dt)[6:]}",
                    "-", "-", stats_ok))


def main():
    if not torch.cuda.is_available():
        print("CUDA is not available", file=sys.stderr)
        return 2
    print(f"minfer library: {minfer.library_path()}  device: {torch.cuda.get_device_name()}")
    for shape in SHAPES:
        try:
            run_shape(shape)
        except minfer.MinferError as e:
            RESULTS.append((f"ERROR {e}", str(shape), "-", "-", False))
    w = max(len(r[0]) for r in RESULTS)
    print(f"{'case':<{w}}  {'shape':<24} {'max err':>9} {'mean err':>9}  result")
    for name, shp, mx, mean, ok in RESULTS:
        print(f"{name:<{w}}  {shp:<24} {mx:>9} {mean:>9}  {'ok' if ok else 'FAIL'}")
    failed = sum(not r[4] for r in RESULTS)
    print(f"{len(RESULTS) - failed}/{len(RESULTS)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
