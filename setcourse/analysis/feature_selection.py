r"""SET as feature selection: do the input connections move onto the informative features?

The seed's second result: after training, the input neurons that carry information (pixels
that vary over the images) keep most of the first layer's connections, the constant border
pixels lose theirs. Two numbers measure it, per epoch:

- the Pearson correlation :math:`r` between each input's number of connections and that
  input's variance over the training samples (0 for an Erdős–Rényi start);
- the mean connections of the ``fraction`` least-varying inputs against the ``fraction``
  most-varying ones.

The original tutorial's pretrained SET runs (Fashion-MNIST, 5,000 images, 400 epochs): r
rises from +0.01 at epoch 0 to +0.19 at epoch 30 and +0.25 at 400; the 10 % least-varying
pixels end with 13.3 connections, the 10 % most-varying with 21.4.
"""
from dataclasses import asdict, dataclass

import numpy as np

from ..callbacks import Callback
from ..evolution.set import set_prune
from .input_connectivity import input_connections
from .pattern import network_layers


@dataclass(frozen=True)
class FeatureSelection:
    """Correlation of connections with feature variance, and the extreme groups' means."""

    r: float
    least_varying: float
    most_varying: float

    def as_dict(self):
        return asdict(self)


def feature_variance(X):
    """Variance of each feature over the samples of ``X`` ``(n_samples, n_features)``, float64."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}")
    return X.var(axis=0, dtype=np.float64)


def feature_selection(connections, variance, fraction=0.1):
    """:class:`FeatureSelection` of per-input ``connections`` against per-input ``variance``.

    Parameters
    ----------
    connections : (n_features,) array
        Outgoing connections of each input (out-degrees of the first layer).
    variance : (n_features,) array
        Each input's variance over the training samples (:func:`feature_variance`).
    fraction : float in (0, 0.5]
        Size of the least- and most-varying groups, as a fraction of the inputs (at least 1).

    Returns
    -------
    FeatureSelection
        ``r`` is NaN when either argument is constant (no correlation is defined).
    """
    connections = np.asarray(connections, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    if connections.ndim != 1 or connections.shape != variance.shape:
        raise ValueError(f"connections and variance must be 1-D of the same length; got shapes "
                         f"{connections.shape} and {variance.shape}")
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5]; got {fraction!r}")
    if connections.std() == 0 or variance.std() == 0:
        r = float("nan")
    else:
        r = float(np.corrcoef(connections, variance)[0, 1])
    k = max(1, int(round(fraction * connections.size)))
    order = np.argsort(variance, kind="stable")  # ties: the lower index counts as less varying
    return FeatureSelection(r, float(connections[order[:k]].mean()),
                            float(connections[order[-k:]].mean()))


class FeatureSelectionRecorder(Callback):
    """Records :func:`feature_selection` at the start and after every epoch (after evolution).

    Parameters
    ----------
    variance : (n_features,) array
        The training inputs' variance (:func:`feature_variance` of ``X_train``).
    fraction : float
        See :func:`feature_selection`.
    pruned_by : float in [0, 1), optional
        Count only the first layer's connections that survive SET's pruning at this ζ, before
        regrowth, at the start and at the end of every epoch: the SET tutorial's statistic
        (``input_layer_connections``). Regrown connections are random, so counting them too
        (the default) blurs the picture the pruning draws.

    Attributes
    ----------
    epochs_ : list of int
        0 for the start, then ``epoch + 1`` after each trained epoch.
    r_, least_varying_, most_varying_ : list of float
        One value per entry of ``epochs_``.
    connections_ : list of (n_features,) int arrays
        The connections per input behind each entry.
    """

    def __init__(self, variance, fraction=0.1, pruned_by=None):
        self.variance = variance
        self.fraction = fraction
        self.pruned_by = pruned_by

    def on_train_begin(self, model):
        if not hasattr(self, "epochs_"):  # a warm-started second fit continues the record
            self.epochs_, self.r_, self.least_varying_, self.most_varying_ = [], [], [], []
            self.connections_ = []
            self._record(model, 0)

    def before_evolution(self, model, epoch):
        if self.pruned_by is not None:
            self._record(model, int(epoch) + 1)

    def on_epoch_end(self, model, epoch, logs):
        if self.pruned_by is None:
            self._record(model, int(epoch) + 1)

    def _record(self, model, epoch):
        if self.pruned_by is None:
            connections = input_connections(model)
        else:
            layer = network_layers(model)[0]
            keep = set_prune(layer.data, self.pruned_by)
            connections = np.bincount(layer.indices[keep], minlength=layer.n_in)
        stats = feature_selection(connections, self.variance, self.fraction)
        self.epochs_.append(epoch)
        self.r_.append(stats.r)
        self.least_varying_.append(stats.least_varying)
        self.most_varying_.append(stats.most_varying)
        self.connections_.append(np.asarray(connections))

    def as_dict(self):
        """The record as JSON-able lists (without the per-input connections)."""
        return {"epoch": list(self.epochs_), "r": list(self.r_),
                "least_varying": list(self.least_varying_),
                "most_varying": list(self.most_varying_)}
