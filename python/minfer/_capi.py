"""ctypes bindings of include/minfer/minfer.h (libminfer_runtime.so).

Loading needs neither torch nor a GPU; the library opens the CUDA driver
itself (dlopen) only when a runtime is created.
"""
import ctypes
import glob
import os

STATUS_NAMES = (
    "Ok", "InvalidArgument", "NullPointer", "Unsupported", "NoDevice",
    "CudaError", "PtxLoadFailed", "OutOfMemory", "ConfigError", "CompileError",
)

BF16, F16 = 0, 1
DENSE, A_SHAPE, VERTICAL_SLASH, BLOCK_SPARSE = 0, 1, 2, 3

LIB_NAME = "libminfer_runtime.so"


class MinferError(RuntimeError):
    """A failing minfer call: `status` is the status name ("NoDevice", ...)."""

    def __init__(self, status, message=""):
        super().__init__(f"{status}: {message}" if message else status)
        self.status = status
        self.message = message


class HeadPattern(ctypes.Structure):
    """minfer_head_pattern_t."""
    _fields_ = [
        ("kind", ctypes.c_int32), ("reserved", ctypes.c_int32),
        ("sink", ctypes.c_int64), ("local", ctypes.c_int64),
        ("vertical", ctypes.c_int64), ("slash", ctypes.c_int64),
        ("last_q", ctypes.c_int64), ("top_k", ctypes.c_int64),
    ]


class RunOptions(ctypes.Structure):
    """minfer_run_options_t (16 bytes; CApi.cpp asserts the C size)."""
    _fields_ = [
        ("dense_fallback", ctypes.c_double),
        ("timing", ctypes.c_int32), ("count_kept", ctypes.c_int32),
    ]


class RunStats(ctypes.Structure):
    """minfer_run_stats_t (128 bytes; CApi.cpp asserts the C size)."""
    _fields_ = [
        ("dense_fallback", ctypes.c_int32), ("reserved", ctypes.c_int32),
        ("chunks", ctypes.c_int64), ("index_builds", ctypes.c_int64),
        ("kernel_launches", ctypes.c_int64),
        ("kept_pairs", ctypes.c_double), ("density", ctypes.c_double),
        ("estimate_ms", ctypes.c_float), ("index_ms", ctypes.c_float),
        ("kernel_ms", ctypes.c_float),
        ("attention_kernel", ctypes.c_char * 68),
    ]

    def as_dict(self):
        d = {name: getattr(self, name) for name, _ in self._fields_ if name != "reserved"}
        d["dense_fallback"] = bool(self.dense_fallback)
        d["attention_kernel"] = self.attention_kernel.decode()
        return d


def _candidates():
    env = os.environ.get("MINFER_LIB")
    if env:
        return [env]  # explicit: no fallback that could hide a wrong path
    here = os.path.dirname(os.path.abspath(__file__))
    out = [os.path.join(here, LIB_NAME)]
    repo = os.path.dirname(os.path.dirname(here))
    for pat in ("build/lib", "build-*/lib", "build*/lib"):
        out += sorted(glob.glob(os.path.join(repo, pat, LIB_NAME)))
    return list(dict.fromkeys(out))


def _bind(lib):
    i32, i64, f32, vp = ctypes.c_int32, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    st = ctypes.c_int
    sigs = {
        "minfer_status_name": (ctypes.c_char_p, [st]),
        "minfer_last_error_message": (ctypes.c_char_p, []),
        "minfer_runtime_create": (st, [ctypes.POINTER(vp), ctypes.c_int, ctypes.c_char_p]),
        "minfer_runtime_destroy": (st, [vp]),
        "minfer_add_kernel_ptx": (st, [vp, i32, i32, i64, ctypes.c_char_p]),
        "minfer_sparse_attention": (st, [vp, vp, vp, vp, vp, i64, i64, i64, i64, i64,
                                         i32, f32, ctypes.POINTER(HeadPattern), i64, vp]),
        "minfer_sparse_attention_ex": (st, [vp, vp, vp, vp, vp, i64, i64, i64, i64, i64,
                                            i32, f32, ctypes.POINTER(HeadPattern), i64,
                                            ctypes.POINTER(RunOptions),
                                            ctypes.POINTER(RunStats), vp]),
        "minfer_vertical_slash_attention": (st, [vp, vp, vp, vp, vp, vp, vp, i64, i64,
                                                 i64, i64, i64, i64, i64, i32, f32, vp]),
        "minfer_block_sparse_attention": (st, [vp, vp, vp, vp, vp, i64, i64, i64, i64,
                                               i64, i64, i32, f32, vp]),
        "minfer_streaming_attention": (st, [vp, vp, vp, vp, vp, i64, i64, i64, i64, i64,
                                            i64, i64, i32, f32, vp]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


_lib = None
_lib_path = None


def load_library():
    """The loaded library (cached). Raises OSError naming every path tried."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    tried = []
    for path in _candidates():
        if not os.path.isfile(path):
            tried.append(f"{path} (missing)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
            continue
        _lib, _lib_path = _bind(lib), path
        return _lib
    raise OSError(
        f"minfer: cannot load {LIB_NAME}; build it (ninja minfer_runtime) and set "
        "MINFER_LIB=/path/to/" + LIB_NAME + ". Tried:\n  " + "\n  ".join(tried))


def library_path():
    load_library()
    return _lib_path


def status_name(code):
    s = load_library().minfer_status_name(int(code))
    return s.decode() if s is not None else f"Status{int(code)}"


def check(code):
    """Raises MinferError for a non-zero status."""
    if code != 0:
        lib = load_library()
        msg = lib.minfer_last_error_message() or b""
        raise MinferError(status_name(code), msg.decode(errors="replace"))
