"""Checkpoints: a fitted model as one ``.npz`` file, and back.

The file holds ``meta`` (JSON text: format version, hyper-parameters, shapes, step, epoch,
random-generator state, the strategy's scalar state, the history, the layer types) and, per
layer ``i``, the arrays of ``layer.state_arrays()`` as ``layer{i}.<name>``. No pickles:
``np.load(path, allow_pickle=False)`` reads it.

**Format 1** (the only one so far). Array names and their orientation (output-major, as the
layers store them): every layer ``bias``, ``bias_velocity``; a sparse layer ``indptr``,
``indices``, ``data``, ``velocity`` (the CSR of :math:`W^\\top`); a dense layer ``weights``
``(n_out, n_in)`` and ``velocity``; a DST layer as a dense one (``weights`` = the effective
:math:`W \\odot M`) plus ``dense_weights``, ``threshold``, ``threshold_velocity``.

The estimator class is passed in (``load(MLP, path)``): this module sits below the model and
imports nothing of it.
"""
import json

import numpy as np

from ._atomic import atomic_file
from .evolution import STRATEGIES, EvolutionStrategy

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)


def save(model, path):
    """Write ``model`` (fitted) to ``path``; returns ``path``.

    The file is written to a temporary name and renamed, so a crash never leaves a
    half-written checkpoint.
    """
    params = model.get_params()
    strategy = params["topology"]
    if isinstance(strategy, EvolutionStrategy):
        params["topology"] = {"strategy": strategy.name, "params": strategy.get_params()}
    params["hidden"] = list(model.validate_params())
    meta = {
        "format_version": FORMAT_VERSION, "params": params,
        "n_features": model.n_features_in_, "n_classes": model.n_classes_,
        "step": model.step_, "epoch": model.epoch_,
        "rng_state": model.rng_.bit_generator.state,
        "strategy_state": strategy_state(model.strategy_),
        "history": dict(model.history_),
        "layers": [type(layer).__name__ for layer in model.layers_],
    }
    arrays = {"meta": np.array(json.dumps(meta))}
    for i, layer in enumerate(model.layers_):
        for name, value in layer.state_arrays().items():
            arrays[f"layer{i}.{name}"] = value
    with atomic_file(path) as temp, open(temp, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def read(path):
    """``(meta, arrays)`` of the checkpoint at ``path``; ValueError if it is not one we read."""
    with np.load(path, allow_pickle=False) as archive:
        if "meta" not in archive.files:
            raise ValueError(f"{path}: not a setcourse checkpoint (no 'meta' entry)")
        meta = json.loads(str(archive["meta"]))
        arrays = {key: archive[key] for key in archive.files if key != "meta"}
    version = meta.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"{path}: checkpoint format_version {version!r} is not supported; "
                         f"this setcourse reads format {', '.join(map(str, SUPPORTED_VERSIONS))}")
    return meta, arrays


def load(model_class, path):
    """Rebuild the model saved at ``path`` as an instance of ``model_class`` (e.g. ``MLP``)."""
    meta, arrays = read(path)
    params = dict(meta["params"])
    params["hidden"] = tuple(params["hidden"])
    if isinstance(params["topology"], dict):
        spec = params["topology"]
        params["topology"] = STRATEGIES[spec["strategy"]](**spec["params"])
    model = model_class(**params)
    model.build(meta["n_features"], meta["n_classes"])
    for i, layer in enumerate(model.layers_):
        prefix = f"layer{i}."
        layer.restore({key[len(prefix):]: value for key, value in arrays.items()
                       if key.startswith(prefix)})
    model.rng_.bit_generator.state = meta["rng_state"]
    for name, value in meta["strategy_state"].items():
        setattr(model.strategy_, name, value)
    model.step_, model.epoch_ = meta["step"], meta["epoch"]
    model.history_.update(meta["history"])
    return model


def strategy_state(strategy):
    """The strategy's learned scalar state (attributes ending in ``_``) that JSON can hold."""
    state = {}
    for name, value in (vars(strategy) if strategy is not None else {}).items():
        if name.endswith("_"):
            try:
                json.dumps(value)
            except TypeError:
                continue
            state[name] = value
    return state
