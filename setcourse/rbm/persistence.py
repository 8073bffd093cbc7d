"""Saving and loading an RBM: one ``.npz`` of plain arrays and a JSON header, no pickles.

Written atomically (:func:`setcourse._atomic.atomic_file`). Reading goes through the MLP's
hardened reader (:func:`setcourse.checkpoint.read`: the zip, every ``.npy`` header, sizes
within memory, CRC-32), then every array is checked against the header (shapes, dtypes, a
valid sorted CSR, finite values) *before* the model is built, so a damaged, edited or foreign
file fails with a :class:`~setcourse.checkpoint.CheckpointError` naming it, never with a
wrong model or a huge allocation.
"""
import json

import numpy as np

from .._atomic import atomic_file
from ..checkpoint import CheckpointError, read

FORMAT = "setcourse.rbm"
FORMAT_VERSION = 1


def _arrays(model):
    w = model.weights_
    arrays = {"intercept_visible": model.intercept_visible_,
              "intercept_hidden": model.intercept_hidden_,
              "visible_velocity": model.visible_velocity_,
              "hidden_velocity": model.hidden_velocity_,
              "weight_velocity": w.weight_velocity}
    if w.sparse:
        arrays.update(indptr=w.indptr, indices=w.indices, data=w.data)
    else:
        arrays["weights_t"] = w.weights_t
    if model.chain_ is not None:
        arrays["chain"] = model.chain_
    return arrays


def save(model, path):
    """Write ``model`` (fitted) to ``path``; returns ``path``."""
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "params": model.get_params(),
            "n_features": model.n_features_in_, "sparse": bool(model.weights_.sparse),
            "step": model.step_, "epoch": model.epoch_,
            "rng_state": model.rng_.bit_generator.state,
            "sampling_rng_state": model.sampling_rng_.bit_generator.state,
            "history": dict(model.history_)}
    arrays = {"meta": np.array(json.dumps(meta, default=_json_default))}
    arrays.update(_arrays(model))
    with atomic_file(path) as temp, open(temp, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in the model header")


def _expect(path, arrays, name, shape, kind="f"):
    """``arrays[name]`` if it has ``shape`` and dtype kind ``kind`` (f: float32, i: integer)."""
    if name not in arrays:
        raise CheckpointError(path, f"array {name!r} is missing")
    value = arrays[name]
    if value.shape != tuple(shape):
        raise CheckpointError(path, f"array {name!r} has shape {value.shape}, expected "
                                    f"{tuple(shape)}")
    if kind == "f" and (value.dtype != np.float32 or not np.isfinite(value).all()):
        raise CheckpointError(path, f"array {name!r} must be finite float32; got {value.dtype}"
                              + ("" if value.dtype != np.float32 else " with NaN or inf"))
    if kind == "i" and value.dtype.kind not in "iu":
        raise CheckpointError(path, f"array {name!r} must hold integers; got {value.dtype}")
    return value


def _check_csr(path, indptr, indices, n_rows, n_cols):
    """A CSR with sorted, distinct, in-range column indices in every row."""
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != indices.size:
        raise CheckpointError(path, f"indptr is not a valid CSR index pointer for "
                                    f"{indices.size} connections")
    if indices.size and (indices.min() < 0 or indices.max() >= n_cols):
        raise CheckpointError(path, f"visible indices must be in [0, {n_cols}); got "
                                    f"{indices.min()}..{indices.max()}")
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
    positions = rows * n_cols + indices.astype(np.int64)
    if positions.size > 1 and np.any(np.diff(positions) <= 0):
        raise CheckpointError(path, "connections must be sorted and distinct within each row")
    return positions


def _check_meta(path, cls, meta):
    """The header's fields, typed and in range, before anything is allocated from them."""
    if meta.get("format") != FORMAT:
        raise CheckpointError(path, f"not a setcourse RBM file (format {meta.get('format')!r})")
    # The reader accepts every checkpoint format an MLP file may have; an RBM file has its own.
    version = meta.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise CheckpointError(path, f"RBM file format_version {version!r} is not supported; "
                                    f"this setcourse reads RBM format {FORMAT_VERSION}")
    known = set(cls().get_params())
    params = meta.get("params")
    if not isinstance(params, dict) or set(params) != known:
        raise CheckpointError(path, f"params must name exactly {', '.join(sorted(known))}")
    for name in ("n_features", "step", "epoch"):
        value = meta.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(path, f"{name} must be an integer >= 0; got {value!r}")
    for name in ("rng_state", "sampling_rng_state", "history"):
        if not isinstance(meta.get(name), dict):
            raise CheckpointError(path, f"{name} must be a JSON object")
    try:
        model = cls(**params)
        model.validate_params()
    except ValueError as error:
        raise CheckpointError(path, f"bad hyper-parameter: {error}") from None
    return model


def load(cls, path):
    """Rebuild the model written by :func:`save` (``cls`` is the RBM class)."""
    meta, arrays = read(path)
    model = _check_meta(path, cls, meta)
    n_v, n_h = meta["n_features"], model.n_hidden
    # Shapes first: a header may not ask for more than the file holds.
    for name, size in (("intercept_visible", n_v), ("intercept_hidden", n_h)):
        _expect(path, arrays, name, (size,))
    model.build(n_v)
    model.intercept_visible_[:] = _expect(path, arrays, "intercept_visible", (n_v,))
    model.intercept_hidden_[:] = _expect(path, arrays, "intercept_hidden", (n_h,))
    model.visible_velocity_[:] = _expect(path, arrays, "visible_velocity", (n_v,))
    model.hidden_velocity_[:] = _expect(path, arrays, "hidden_velocity", (n_h,))
    w = model.weights_
    if bool(meta.get("sparse")) != bool(w.sparse):
        raise CheckpointError(path, f"stored weights are "
                                    f"{'sparse' if meta.get('sparse') else 'dense'} but "
                                    f"topology={model.topology!r} at epsilon={model.epsilon} "
                                    f"builds {'sparse' if w.sparse else 'dense'} ones")
    if w.sparse:
        indptr = _expect(path, arrays, "indptr", (n_h + 1,), "i")
        indices = _expect(path, arrays, "indices", arrays.get("indices", np.zeros(0)).shape, "i")
        if indices.ndim != 1 or indices.size > n_v * n_h:
            raise CheckpointError(path, f"array 'indices' must be 1-D with at most "
                                        f"{n_v * n_h} entries; got shape {indices.shape}")
        data = _expect(path, arrays, "data", indices.shape)
        velocity = _expect(path, arrays, "weight_velocity", indices.shape)
        w.set_connections(_check_csr(path, indptr, indices, n_h, n_v), data, velocity)
    else:
        w.weights_t[...] = _expect(path, arrays, "weights_t", (n_h, n_v))
        w.weight_velocity[...] = _expect(path, arrays, "weight_velocity", (n_h, n_v))
    if "chain" in arrays:
        model.chain_ = _expect(path, arrays, "chain", (n_h, arrays["chain"].shape[-1])).copy()
    try:
        model.rng_.bit_generator.state = meta["rng_state"]
        model.sampling_rng_.bit_generator.state = meta["sampling_rng_state"]
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(path, f"bad random-generator state ({error})") from None
    model.step_, model.epoch_ = meta["step"], meta["epoch"]
    model.history_.update(meta["history"])
    return model
