#!/usr/bin/env python3
"""CPU-only test of the minfer ctypes package: no torch, no GPU needed.

Loads libminfer_runtime.so ($MINFER_LIB or the package's search path), checks
status names, that creating a runtime without a GPU raises NoDevice, and that
argument errors surface as the specific statuses through the NULL-handle path
(the C API validates arguments before the handle). Exits non-zero on failure.
"""
import ctypes
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minfer  # noqa: E402
from minfer import _capi  # noqa: E402
from minfer._capi import HeadPattern, MinferError  # noqa: E402

# Fake, 16-byte aligned, non-overlapping device addresses: never dereferenced
# (validation fails or the NULL handle stops the call first).
Q, K, V, OUT, VI, SI = (0x10000000 * (i + 1) for i in range(6))
SHAPE = dict(B=1, H=4, Hkv=2, N=1000, D=128)


def shape(**kw):
    s = dict(SHAPE, **kw)
    return s["B"], s["H"], s["Hkv"], s["N"], s["D"]


class CApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = minfer.load_library()

    def expect(self, status, code):
        with self.assertRaises(MinferError) as cm:
            _capi.check(code)
        self.assertEqual(cm.exception.status, status, str(cm.exception))
        self.assertTrue(cm.exception.message, "empty error message")
        return cm.exception

    # --- helpers calling the C API with a NULL handle ---
    def streaming(self, sink=128, local=256, q=Q, dtype=0, scale=0.0, **kw):
        return self.lib.minfer_streaming_attention(
            None, q, K, V, OUT, sink, local, *shape(**kw), dtype, scale, None)

    def block(self, top_k=4, **kw):
        return self.lib.minfer_block_sparse_attention(
            None, Q, K, V, OUT, top_k, *shape(**kw), 0, 0.0, None)

    def vs(self, vi=VI, si=SI, nnz_v=16, nnz_s=16, **kw):
        return self.lib.minfer_vertical_slash_attention(
            None, Q, K, V, OUT, vi, si, nnz_v, nnz_s, *shape(**kw), 0, 0.0, None)

    def sparse(self, pats, n=None, out=OUT, **kw):
        arr = minfer.layer_patterns(pats) if pats is not None else None
        n = len(arr) if n is None else n
        return self.lib.minfer_sparse_attention(
            None, Q, K, V, out, *shape(**kw), 0, 0.0, arr, n, None)

    def test_library_and_no_torch(self):
        self.assertTrue(os.path.isfile(minfer.library_path()))
        self.assertNotIn("torch", sys.modules, "importing minfer imported torch")

    def test_status_names(self):
        for code, name in enumerate(_capi.STATUS_NAMES):
            self.assertEqual(minfer.status_name(code), name)
        self.assertEqual(_capi.check(0), None)

    def test_no_device(self):
        try:
            minfer.Runtime(0).close()
        except MinferError as e:
            self.assertEqual(e.status, "NoDevice", str(e))
        else:
            self.skipTest("this machine has a GPU")
        with self.assertRaises(MinferError) as cm:
            minfer.Runtime.get(0)
        self.assertEqual(cm.exception.status, "NoDevice")
        self.assertNotIn(0, minfer.Runtime._instances)
        # The raw C call: out stays NULL.
        h = ctypes.c_void_p(1)
        self.expect("NoDevice", self.lib.minfer_runtime_create(ctypes.byref(h), 0, None))
        self.assertFalse(h.value)
        self.expect("NullPointer", self.lib.minfer_runtime_create(None, 0, None))
        self.assertEqual(self.lib.minfer_runtime_destroy(None), 0)

    def test_valid_arguments_reach_null_handle(self):
        for code in (self.streaming(), self.block(), self.vs(),
                     self.sparse([("dense",)] * 4),
                     self.sparse([("vertical_and_slash", 1000, 6096), ("stream_llm", 0, 64),
                                  ("block_sparse", 3), "dense"])):
            e = self.expect("NullPointer", code)
            self.assertIn("handle", e.message)

    def test_shape_errors(self):
        self.expect("InvalidArgument", self.streaming(H=3))        # H % Hkv
        self.expect("InvalidArgument", self.streaming(N=0))
        self.expect("InvalidArgument", self.block(B=-1))
        self.expect("Unsupported", self.vs(D=100))                 # head_dim
        self.expect("Unsupported", self.streaming(dtype=7))        # dtype
        self.expect("InvalidArgument", self.streaming(q=Q + 8))    # alignment
        self.expect("InvalidArgument", self.streaming(scale=float("nan")))
        self.expect("InvalidArgument", self.sparse([("dense",)] * 4, out=Q + 64))  # overlap

    def test_budget_errors(self):
        self.expect("InvalidArgument", self.block(top_k=0))
        self.expect("InvalidArgument", self.streaming(sink=-1))
        self.expect("InvalidArgument", self.streaming(local=0))
        self.expect("InvalidArgument", self.vs(nnz_v=0))
        self.expect("InvalidArgument", self.vs(nnz_s=-3))
        self.expect("InvalidArgument", self.vs(vi=VI + 2))         # int32 alignment
        self.expect("InvalidArgument", self.sparse([("vertical_and_slash", 0, 10)] * 4))
        self.expect("InvalidArgument", self.sparse([{"pattern": "vertical_and_slash",
                                                     "vertical": 8, "slash": 8,
                                                     "last_q": 40}] * 4))
        self.expect("InvalidArgument", self.sparse([("dense",)] * 3))   # != heads
        bad = (HeadPattern * 4)()
        bad[2].kind = 9
        self.expect("InvalidArgument", self.lib.minfer_sparse_attention(
            None, Q, K, V, OUT, *shape(), 0, 0.0, bad, 4, None))
        self.expect("InvalidArgument", self.sparse(None, n=-1))

    def test_run_options_and_stats(self):
        # The structs' sizes match the C ones (CApi.cpp static_asserts them).
        self.assertEqual(ctypes.sizeof(_capi.RunOptions), 16)
        self.assertEqual(ctypes.sizeof(_capi.RunStats), 128)
        pats = minfer.layer_patterns([("vertical_and_slash", 64, 64)] * 4)
        stats = _capi.RunStats()

        def ex(fallback, with_opts=True):
            opts = _capi.RunOptions(fallback, 1, 1) if with_opts else None
            return self.lib.minfer_sparse_attention_ex(
                None, Q, K, V, OUT, *shape(), 0, 0.0, pats, 4,
                ctypes.byref(opts) if opts else None, ctypes.byref(stats), None)
        for bad in (-0.1, 1.5, float("nan")):
            err = self.expect("InvalidArgument", ex(bad))
            self.assertIn("denseFallback", err.message)
        # Valid options (or none) reach the NULL handle; nothing is reported.
        self.expect("NullPointer", ex(0.9))
        self.expect("NullPointer", ex(0.0, with_opts=False))
        self.assertEqual(stats.chunks, 0)
        self.assertEqual(stats.attention_kernel, b"")

    def test_null_pointers(self):
        self.expect("NullPointer", self.streaming(q=None))
        self.expect("NullPointer", self.vs(vi=None))
        self.expect("NullPointer", self.vs(si=None))
        self.expect("NullPointer", self.sparse(None, n=4))
        self.expect("NullPointer", self.lib.minfer_block_sparse_attention(
            None, Q, K, None, OUT, 4, *shape(), 0, 0.0, None))
        self.expect("NullPointer", self.lib.minfer_add_kernel_ptx(None, 0, 0, 128, None))
        self.expect("InvalidArgument", self.lib.minfer_add_kernel_ptx(None, 5, 0, 128, b""))
        self.expect("Unsupported", self.lib.minfer_add_kernel_ptx(None, 0, 3, 128, b""))
        self.expect("NullPointer", self.lib.minfer_add_kernel_ptx(None, 0, 0, 128, b"x"))


class ConfigTest(unittest.TestCase):
    def test_specs(self):
        arr = minfer.layer_patterns([("vertical_and_slash", 1000, 6096, 0.9),
                                     ("stream_llm", 128, 4096), ("block_sparse", 100),
                                     ("dense",), "dense",
                                     {"pattern": "vertical_and_slash", "vertical": 64,
                                      "slash": 128, "last_q": 128}])
        got = [(p.kind, p.sink, p.local, p.vertical, p.slash, p.last_q, p.top_k)
               for p in arr]
        self.assertEqual(got, [(2, 0, 0, 1000, 6096, 64, 0), (1, 128, 4096, 0, 0, 0, 0),
                               (3, 0, 0, 0, 0, 0, 100), (0,) + (0,) * 6, (0,) + (0,) * 6,
                               (2, 0, 0, 64, 128, 128, 0)])

    def test_bad_specs(self):
        for spec in (("sliding",), ("block_sparse",), ("stream_llm", 1.5, 8), (), 3):
            with self.assertRaises(MinferError) as cm:
                minfer.layer_patterns([spec])
            self.assertEqual(cm.exception.status, "ConfigError")

    def test_json_file(self):
        layers = [{"0": ["vertical_and_slash", 1000, 6096, 0.5],
                   "1": ["stream_llm", 100, 800, 0.1]},
                  {"1": ["dense", 0, 0, 0.0], "0": ["block_sparse", 50, 50, 0.2]}]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "cfg.json")
            with open(path, "w") as f:
                json.dump(layers, f)
            self.assertEqual(len(minfer.load_config(path)), 2)
            l1 = minfer.layer_patterns(path, layer=1)
            self.assertEqual([(p.kind, p.top_k) for p in l1], [(3, 50), (0, 0)])
            self.assertEqual(minfer.layer_patterns(path, layer=0)[1].local, 800)
            for kw in ({}, {"layer": 2}):
                with self.assertRaises(MinferError) as cm:
                    minfer.layer_patterns(path, **kw)
                self.assertEqual(cm.exception.status, "ConfigError")
            with open(path, "w") as f:
                f.write("{not json")
            with self.assertRaises(MinferError) as cm:
                minfer.load_config(path)
            self.assertEqual(cm.exception.status, "ConfigError")
        self.assertEqual(len(minfer.layer_patterns(layers[0])), 2)

    def test_bad_library_path(self):
        old = (os.environ.get("MINFER_LIB"), _capi._lib, _capi._lib_path)
        try:
            os.environ["MINFER_LIB"] = "/nonexistent/libminfer_runtime.so"
            _capi._lib = None
            with self.assertRaises(OSError) as cm:
                _capi.load_library()
            self.assertIn("MINFER_LIB", str(cm.exception))
        finally:
            if old[0] is None:
                os.environ.pop("MINFER_LIB", None)
            else:
                os.environ["MINFER_LIB"] = old[0]
            _capi._lib, _capi._lib_path = old[1], old[2]


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
