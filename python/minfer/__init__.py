"""minfer: MInference-style sparse attention on PyTorch CUDA tensors.

A ctypes package over libminfer_runtime.so (include/minfer/minfer.h); no
compiled extension. The library is found via $MINFER_LIB, else next to this
package, else <repo>/build*/lib. Importing needs neither torch nor a GPU.

Tensors: q [B, H, N, D], k/v [B, Hkv, N, D], bf16 or fp16, contiguous, on
one CUDA device; every call returns a new tensor shaped like q, enqueued on
torch.cuda.current_stream().
"""
import ctypes
import threading

from ._capi import (BF16, F16, HeadPattern, MinferError, RunOptions, RunStats,
                    STATUS_NAMES, check, library_path, load_library, status_name)
from .config import head_pattern, layer_patterns, load_config

__all__ = [
    "MinferError", "Runtime", "HeadPattern", "load_library", "library_path",
    "status_name", "load_config", "layer_patterns", "head_pattern",
    "vertical_slash_sparse_attention", "block_sparse_attention",
    "streaming_forward", "sparse_attention", "STATUS_NAMES",
]


class Runtime:
    """Owns one minfer_runtime_t on a CUDA device (not thread-safe: one call
    at a time). Runtime.get(device) returns a lazily created per-device
    singleton; the module-level functions use it."""

    _instances = {}
    _lock = threading.Lock()

    def __init__(self, device=0, ptx_dir=None):
        self._lib = load_library()
        self.device = int(device)
        self._handle = ctypes.c_void_p()
        check(self._lib.minfer_runtime_create(
            ctypes.byref(self._handle), self.device,
            ptx_dir.encode() if ptx_dir else None))

    @classmethod
    def get(cls, device=0):
        device = int(device)
        with cls._lock:
            rt = cls._instances.get(device)
            if rt is None:
                rt = cls._instances[device] = cls(device)
            return rt

    @property
    def handle(self):
        if not self._handle:
            raise MinferError("NullPointer", "runtime is closed")
        return self._handle

    def close(self):
        if getattr(self, "_handle", None):
            self._lib.minfer_runtime_destroy(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def add_kernel_ptx(self, kernel_kind, dtype, head_dim, ptx):
        """Registers attention PTX (kernel_kind 0 dense, 1 block, 2 vs;
        dtype 'bf16'/'fp16' or torch dtype)."""
        check(self._lib.minfer_add_kernel_ptx(
            self.handle, int(kernel_kind), _dtype_code(dtype), int(head_dim),
            ptx.encode() if isinstance(ptx, str) else ptx))

    # --- the entry points (see the module functions of the same names) ---

    def vertical_slash_sparse_attention(self, q, k, v, v_idx, s_idx, scale=None):
        torch = _torch()
        dims, out = _prepare(q, k, v, self.device)
        B, H = dims[0], dims[1]
        vi = _index(torch, v_idx, B, H, q.device, "v_idx")
        si = _index(torch, s_idx, B, H, q.device, "s_idx")
        check(self._lib.minfer_vertical_slash_attention(
            self.handle, q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr(),
            vi.data_ptr(), si.data_ptr(), vi.shape[-1], si.shape[-1], *dims,
            _dtype_code(q.dtype), _scale(scale), _stream(torch, q)))
        return out

    def block_sparse_attention(self, q, k, v, topk, scale=None):
        torch = _torch()
        dims, out = _prepare(q, k, v, self.device)
        check(self._lib.minfer_block_sparse_attention(
            self.handle, q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr(),
            int(topk), *dims, _dtype_code(q.dtype), _scale(scale), _stream(torch, q)))
        return out

    def streaming_forward(self, q, k, v, init_num, local_window_num, scale=None):
        torch = _torch()
        dims, out = _prepare(q, k, v, self.device)
        check(self._lib.minfer_streaming_attention(
            self.handle, q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr(),
            int(init_num), int(local_window_num), *dims, _dtype_code(q.dtype),
            _scale(scale), _stream(torch, q)))
        return out

    def sparse_attention(self, q, k, v, config, layer=None, scale=None,
                         dense_fallback=0.0, return_stats=False):
        torch = _torch()
        pats = layer_patterns(config, layer)
        dims, out = _prepare(q, k, v, self.device)
        opts = RunOptions(float(dense_fallback), int(return_stats), int(return_stats))
        stats = RunStats()
        check(self._lib.minfer_sparse_attention_ex(
            self.handle, q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr(),
            *dims, _dtype_code(q.dtype), _scale(scale), pats, len(pats),
            ctypes.byref(opts), ctypes.byref(stats), _stream(torch, q)))
        return (out, stats.as_dict()) if return_stats else out


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("minfer's attention functions need PyTorch") from e
    return torch


def _dtype_code(dtype):
    s = str(dtype).replace("torch.", "")
    if s in ("bfloat16", "bf16"):
        return BF16
    if s in ("float16", "half", "fp16", "f16"):
        return F16
    raise MinferError("Unsupported", f"dtype must be bfloat16 or float16, got {dtype}")


def _scale(scale):
    return 0.0 if scale is None else float(scale)


def _stream(torch, t):
    return torch.cuda.current_stream(t.device).cuda_stream


def _prepare(q, k, v, device=None):
    """Checks q/k/v, returns ((B, H, Hkv, N, D), empty out)."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not hasattr(t, "is_cuda") or not t.is_cuda:
            raise MinferError("InvalidArgument", f"{name} must be a CUDA tensor")
        if t.dim() != 4:
            raise MinferError("InvalidArgument",
                              f"{name} must be 4-D [B, H, N, D], got {tuple(t.shape)}")
        if not t.is_contiguous():
            raise MinferError("InvalidArgument", f"{name} must be contiguous")
        if t.dtype != q.dtype:
            raise MinferError("InvalidArgument", f"{name} dtype {t.dtype} != q dtype {q.dtype}")
        if t.device != q.device:
            raise MinferError("InvalidArgument", f"{name} is on {t.device}, q on {q.device}")
    _dtype_code(q.dtype)
    if device is not None and q.device.index != device:
        raise MinferError("InvalidArgument",
                          f"tensors are on {q.device}, the runtime on cuda:{device}")
    B, H, N, D = q.shape
    if k.shape != v.shape or k.shape[0] != B or k.shape[2] != N or k.shape[3] != D:
        raise MinferError("InvalidArgument", f"k/v must be [B, Hkv, N, D] = "
                          f"[{B}, Hkv, {N}, {D}], got {tuple(k.shape)} and {tuple(v.shape)}")
    return (B, H, k.shape[1], N, D), q.new_empty(q.shape)


def _index(torch, idx, B, H, device, name):
    """MInference's [B, H, nnz] index as an int32 contiguous CUDA tensor
    (a 1-D [nnz] list is broadcast to every head)."""
    t = torch.as_tensor(idx, device=device)
    if t.dim() == 1:
        t = t.expand(B, H, t.shape[0])
    if t.dim() != 3 or t.shape[0] != B or t.shape[1] != H:
        raise MinferError("InvalidArgument",
                          f"{name} must be [B, H, nnz] = [{B}, {H}, nnz], got {tuple(t.shape)}")
    if t.shape[2] == 0:
        raise MinferError("InvalidArgument", f"{name} is empty")
    return t.to(dtype=torch.int32).contiguous()


def _rt(q):
    if not hasattr(q, "is_cuda") or not q.is_cuda:
        raise MinferError("InvalidArgument", "q must be a CUDA tensor")
    return Runtime.get(q.device.index if q.device.index is not None else 0)


def vertical_slash_sparse_attention(query, key, value, v_idx, s_idx, scale=None):
    """MInference's vertical_slash_sparse_attention: v_idx [B, H, nnz_v] key
    columns every query row sees (j <= i), s_idx [B, H, nnz_s] slash offsets
    o = i - j (any order; duplicates and values outside [0, N) ignored)."""
    return _rt(query).vertical_slash_sparse_attention(query, key, value, v_idx, s_idx, scale)


def block_sparse_attention(q, k, v, topk, scale=None):
    """MInference's block_sparse_attention: per 64-row query block the topk
    64-key blocks by pooled (mean) q.k score, causal."""
    return _rt(q).block_sparse_attention(q, k, v, topk, scale)


def streaming_forward(q, k, v, init_num, local_window_num, scale=None):
    """MInference's streaming_forward (A-shape): the first init_num keys plus
    a local window of local_window_num keys, at 64-row block granularity."""
    return _rt(q).streaming_forward(q, k, v, init_num, local_window_num, scale)


def sparse_attention(q, k, v, config, layer=None, scale=None, dense_fallback=0.0,
                     return_stats=False):
    """Per-head patterns in one call. config: a list with one entry per query
    head -- ("vertical_and_slash", vertical, slash), ("stream_llm", sink,
    local), ("block_sparse", top_k), ("dense",) or dicts -- or a MInference
    JSON config path (with layer=), or one layer object {"0": [...], ...}.

    dense_fallback: run the dense kernel instead when the patterns keep at
    least this fraction of the causal work (0: off; 0.9 keeps short prompts
    at dense speed). return_stats: also return a dict of what the call did
    (dense_fallback, density, attention_kernel, estimate/index/kernel_ms,
    chunks, index_builds, ...); the call then waits for the stream."""
    return _rt(q).sparse_attention(q, k, v, config, layer, scale, dense_fallback,
                                   return_stats)
