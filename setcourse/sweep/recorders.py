"""Per-epoch extras of a run, named in its spec and built on the worker that trains it.

A spec's ``recorders`` lists names (or ``{"name": ..., **kwargs}`` dicts). Each name is one
of :data:`RECORDERS` or an importable ``"package.module:factory"``; the worker calls
``factory(data, spec, **kwargs)`` (``data``: the loaded :class:`~setcourse.data.loader.Dataset`)
and gets a :class:`~setcourse.callbacks.Callback` that also has ``as_dict()``: its record as
JSON-able values, written to ``<name>.json`` in the run's folder. Only names travel in the
spec, so the run id stays a hash of plain JSON and any worker can rebuild the recorder.

Writing your own::

    # mylab/recorders.py, importable on the workers
    from setcourse.callbacks import Callback

    class OutputNNZ(Callback):
        def __init__(self, data, spec):
            self.nnz = []
        def on_epoch_end(self, model, epoch, logs):
            self.nnz.append(model.nnz_[-1])
        def as_dict(self):
            return {"nnz": self.nnz}

    Grid(base={..., "recorders": ["mylab.recorders:OutputNNZ"]}, ...)
"""
import importlib

import numpy as np

from ..analysis.feature_selection import FeatureSelectionRecorder, feature_variance

__all__ = ["RECORDERS", "FeatureSelection", "build_recorder", "resolve"]


class FeatureSelection(FeatureSelectionRecorder):
    """SET as feature selection, per epoch: r of connections per input with the input's
    training variance, and the least- vs most-varying ``fraction`` (see
    :mod:`setcourse.analysis.feature_selection`).

    ``connections_every`` (default 1) also keeps the connections per input (the first
    layer's out-degrees) every that many epochs and at the end (0: never), e.g. to draw
    the converged input connectivity; ``variance`` is stored once.
    """

    def __init__(self, data, spec=None, fraction=0.1, connections_every=1, pruned_by=None):
        X = np.asarray(data.X_train).reshape(len(data.X_train), -1)
        super().__init__(feature_variance(X), fraction, pruned_by)
        self.connections_every = int(connections_every)

    def as_dict(self):
        record = super().as_dict()
        record["fraction"] = self.fraction
        record["pruned_by"] = self.pruned_by
        record["variance"] = [float(v) for v in self.variance]
        if self.connections_every > 0:
            last = len(self.epochs_) - 1
            keep = [i for i, epoch in enumerate(self.epochs_)
                    if epoch % self.connections_every == 0 or i == last]
            record["connections_epoch"] = [self.epochs_[i] for i in keep]
            record["connections"] = [np.asarray(self.connections_[i]).astype(int).tolist()
                                     for i in keep]
        return record


#: Built-in recorders by name.
RECORDERS = {"feature_selection": FeatureSelection}


def _entry(entry):
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        return entry["name"], {key: value for key, value in entry.items() if key != "name"}
    raise ValueError(f"a recorder is a name or {{\"name\": ..., **kwargs}}; got {entry!r}")


def resolve(name):
    """The factory for ``name``: a built-in, or ``"module:attribute"`` imported here."""
    if name in RECORDERS:
        return RECORDERS[name]
    if ":" not in name:
        raise ValueError(f"unknown recorder {name!r}: use one of {sorted(RECORDERS)} or "
                         f"'package.module:factory'")
    module, _, attribute = name.partition(":")
    factory = importlib.import_module(module)
    for part in attribute.split("."):
        factory = getattr(factory, part)
    return factory


def build_recorder(entry, data, spec):
    """``(name, callback)`` for one entry of a spec's ``recorders``."""
    name, kwargs = _entry(entry)
    recorder = resolve(name)(data, spec, **kwargs)
    if not callable(getattr(recorder, "as_dict", None)):
        raise TypeError(f"recorder {name!r} has no as_dict() method giving its record")
    return name, recorder
