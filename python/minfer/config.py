"""Per-head pattern lists: tuples, dicts, or MInference JSON configs.

MInference's format (include/minfer/Runtime/Config.h): a list with one
object per layer mapping "head" -> [pattern, value1, value2, score].
"""
import json
import os

from ._capi import (A_SHAPE, BLOCK_SPARSE, DENSE, VERTICAL_SLASH, HeadPattern,
                    MinferError)

_KINDS = {
    "dense": DENSE,
    "stream_llm": A_SHAPE, "a_shape": A_SHAPE, "streaming": A_SHAPE,
    "vertical_and_slash": VERTICAL_SLASH, "vertical_slash": VERTICAL_SLASH,
    "block_sparse": BLOCK_SPARSE,
}


def _int(v, what):
    if isinstance(v, bool) or not float(v).is_integer():
        raise MinferError("ConfigError", f"{what} must be an integer, got {v!r}")
    return int(v)


def head_pattern(spec, where="pattern"):
    """One head's HeadPattern from ("vertical_and_slash", v, s[, score]),
    ("stream_llm", sink, local), ("block_sparse", top_k), ("dense",), a bare
    name "dense", or a dict {"pattern": name, "vertical": .., "slash": ..,
    "last_q": .., "sink": .., "local": .., "top_k": ..}."""
    p = HeadPattern()
    if isinstance(spec, str):
        spec = (spec,)
    if isinstance(spec, dict):
        name = spec.get("pattern", spec.get("kind"))
        vals = spec
    elif isinstance(spec, (list, tuple)) and spec:
        name, vals = spec[0], list(spec[1:])
    else:
        raise MinferError("ConfigError", f"{where}: bad pattern {spec!r}")
    kind = _KINDS.get(str(name).lower()) if isinstance(name, str) else None
    if kind is None:
        raise MinferError("ConfigError", f"{where}: unknown pattern {name!r} (expected "
                          "vertical_and_slash, stream_llm, block_sparse, dense)")
    p.kind = kind

    def get(idx, key, default=None):
        if isinstance(vals, dict):
            v = vals.get(key, default)
        else:
            v = vals[idx] if idx < len(vals) else default
        if v is None:
            raise MinferError("ConfigError", f"{where}: {name} needs {key}")
        return _int(v, f"{where}: {key}")

    if kind == A_SHAPE:
        p.sink, p.local = get(0, "sink"), get(1, "local")
    elif kind == VERTICAL_SLASH:
        p.vertical, p.slash = get(0, "vertical"), get(1, "slash")
        p.last_q = get(99, "last_q", 64)
    elif kind == BLOCK_SPARSE:
        p.top_k = get(0, "top_k")
    return p


def _layer_list(layer_obj, where):
    """A MInference layer object {"0": [...], "1": [...]} -> per-head specs."""
    try:
        heads = sorted(layer_obj.items(), key=lambda kv: int(kv[0]))
    except (TypeError, ValueError):
        raise MinferError("ConfigError", f"{where}: head keys must be integers")
    if [int(k) for k, _ in heads] != list(range(len(heads))):
        raise MinferError("ConfigError", f"{where}: heads must be 0..H-1")
    return [v for _, v in heads]


def load_config(path):
    """All layers of a MInference JSON config: a list of per-head spec lists."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise MinferError("ConfigError", f"{path}: {e}")
    if not isinstance(data, list) or not all(isinstance(l, dict) for l in data):
        raise MinferError("ConfigError", f"{path}: expected a list of per-layer objects")
    return [_layer_list(l, f"{path} layer {i}") for i, l in enumerate(data)]


def layer_patterns(config, layer=None):
    """ctypes array of HeadPattern for one layer of `config`: a path, a list
    of per-head specs, or one MInference layer object {"0": [...], ...}."""
    if isinstance(config, (str, os.PathLike)):
        layers = load_config(config)
        if layer is None:
            if len(layers) != 1:
                raise MinferError("ConfigError", f"{config}: {len(layers)} layers, "
                                  "pass layer=")
            layer = 0
        if not -len(layers) <= layer < len(layers):
            raise MinferError("ConfigError", f"{config}: no layer {layer} "
                              f"({len(layers)} layers)")
        specs, where = layers[layer], f"{config} layer {layer}"
    elif isinstance(config, dict):
        specs, where = _layer_list(config, "config"), "config"
    else:
        specs, where = list(config), "config"
    arr = (HeadPattern * len(specs))()
    for h, s in enumerate(specs):
        arr[h] = head_pattern(s, f"{where} head {h}")
    return arr
