r"""In- and out-degrees of every neuron, degree distributions and the Erdős–Rényi expectation.

A layer ``(n_in, n_out)`` gives each *output* neuron an in-degree (its number of incoming
connections) and each *input* neuron an out-degree. In an Erdős–Rényi layer with connection
probability :math:`p` the in-degree of a neuron is Binomial(:math:`n_{in}`, :math:`p`) and the
out-degree Binomial(:math:`n_{out}`, :math:`p`); SET's claim is that training moves the hidden
neurons' degrees away from this towards a heavy tail.

Everything is vectorised (``np.diff`` of index pointers, ``np.bincount``): a
100,000 x 100,000 layer at ε = 20 (4 million connections) takes milliseconds.
"""
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import stats

from ..callbacks import Callback
from .heavy_tail import heavy_tail_test
from .pattern import canonical, dense_layer_mask, is_engine_layer, layer_shape, network_layers

DIRECTIONS = ("in", "out")


def in_degrees(layer):
    """Number of incoming connections of each output neuron, int64 ``(n_out,)``."""
    return degrees(layer, "in")


def out_degrees(layer):
    """Number of outgoing connections of each input neuron, int64 ``(n_in,)``."""
    return degrees(layer, "out")


def degrees(layer, direction="in"):
    """In-degrees ``(n_out,)`` for ``direction="in"``, out-degrees ``(n_in,)`` for ``"out"``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
    incoming = direction == "in"
    n_in, n_out = layer_shape(layer)
    if is_engine_layer(layer):
        counted = getattr(layer, f"{direction}_degrees", None)
        if counted is not None:
            return np.asarray(counted(), dtype=np.int64)
        if not layer.sparse:
            mask = dense_layer_mask(layer)
            if mask is None:  # fully connected
                return np.full(n_out if incoming else n_in, n_in if incoming else n_out,
                               dtype=np.int64)
            return mask.sum(axis=1 if incoming else 0, dtype=np.int64)
        layer = layer.to_scipy()
    if sp.issparse(layer):
        if not incoming:
            return np.diff(canonical(layer).indptr).astype(np.int64)
        if layer.format == "csc" and layer.has_canonical_format:
            return np.diff(layer.indptr).astype(np.int64)
        return np.bincount(canonical(layer).indices, minlength=n_out).astype(np.int64)
    return np.count_nonzero(np.asarray(layer), axis=0 if incoming else 1).astype(np.int64)


def degree_distribution(degree_values, max_degree=None):
    """How many neurons have each degree.

    Parameters
    ----------
    degree_values : (n_neurons,) int array
    max_degree : int, optional
        Length of the result minus one (default: the largest degree present).

    Returns
    -------
    k : (max_degree + 1,) int64 array, ``0, 1, ..., max_degree``
    counts : (max_degree + 1,) int64 array, number of neurons with degree ``k``
    """
    degree_values = np.asarray(degree_values)
    if degree_values.size and degree_values.min() < 0:
        raise ValueError(f"degrees must be >= 0; got a minimum of {degree_values.min()}")
    top = int(degree_values.max()) if degree_values.size else 0
    max_degree = top if max_degree is None else int(max_degree)
    counts = np.bincount(degree_values.astype(np.int64), minlength=max_degree + 1)
    return np.arange(max_degree + 1, dtype=np.int64), counts[:max_degree + 1].astype(np.int64)


def erdos_renyi_expectation(k, n_neurons, n_trials, p):
    r"""Expected number of neurons with degree ``k`` in an Erdős–Rényi layer.

    .. math:: E[N_k] = n_{neurons} \binom{n_{trials}}{k} p^k (1 - p)^{n_{trials} - k}

    For in-degrees ``n_neurons = n_out`` and ``n_trials = n_in``; for out-degrees the reverse.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"p must be a probability in [0, 1]; got {p!r}")
    return n_neurons * stats.binom.pmf(np.asarray(k), int(n_trials), p)


@dataclass
class LayerDegrees:
    """Degrees of one layer, with what an Erdős–Rényi layer of the same ``n`` and ``p`` expects.

    Attributes
    ----------
    n_in, n_out, nnz : int
    in_degrees : (n_out,) int64, incoming connections of each output neuron
    out_degrees : (n_in,) int64, outgoing connections of each input neuron
    """

    n_in: int
    n_out: int
    nnz: int
    in_degrees: np.ndarray
    out_degrees: np.ndarray

    @property
    def density(self):
        """Fraction of possible connections present, :math:`p = nnz / (n_{in} n_{out})`."""
        return self.nnz / (self.n_in * self.n_out)

    def degrees(self, direction="in"):
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
        return self.in_degrees if direction == "in" else self.out_degrees

    def n_trials(self, direction="in"):
        """Possible connections per neuron: ``n_in`` for in-degrees, ``n_out`` for out-degrees."""
        return self.n_in if direction == "in" else self.n_out

    def distribution(self, direction="in"):
        """``(k, counts)``: number of neurons with each degree ``k`` (see :func:`degree_distribution`)."""
        return degree_distribution(self.degrees(direction))

    def expectation(self, direction="in", k=None):
        """``(k, expected counts)`` of the Erdős–Rényi layer with the same shape and density."""
        values = self.degrees(direction)
        if k is None:
            k = np.arange(self.n_trials(direction) + 1)
        return k, erdos_renyi_expectation(k, values.size, self.n_trials(direction), self.density)

    def heavy_tail(self, direction="in", **options):
        """:func:`~setcourse.analysis.heavy_tail.heavy_tail_test` of these degrees, against the binomial."""
        return heavy_tail_test(self.degrees(direction), n_trials=self.n_trials(direction), **options)

    def summary_rows(self):
        """One dict per direction: mean, std, min, max and the Erdős–Rényi mean and std."""
        rows = []
        for direction in DIRECTIONS:
            values = self.degrees(direction)
            n, p = self.n_trials(direction), self.density
            rows.append({
                "direction": direction, "neurons": int(values.size),
                "mean": float(values.mean()) if values.size else float("nan"),
                "std": float(values.std()) if values.size else float("nan"),
                "min": int(values.min()) if values.size else 0,
                "max": int(values.max()) if values.size else 0,
                "zero_degree": int(np.count_nonzero(values == 0)),
                "er_mean": n * p, "er_std": float(np.sqrt(n * p * (1 - p)))})
        return rows

    def summary(self):
        """A short table: degree statistics against the Erdős–Rényi expectation."""
        lines = [f"layer {self.n_in} -> {self.n_out}: {self.nnz} connections, "
                 f"density {self.density:.4g}",
                 f"{'degree':<8}{'neurons':>9}{'mean':>9}{'std':>8}{'min':>6}{'max':>7}"
                 f"{'deg 0':>7}{'ER mean':>9}{'ER std':>8}"]
        for row in self.summary_rows():
            lines.append(f"{row['direction']:<8}{row['neurons']:>9}{row['mean']:>9.2f}"
                         f"{row['std']:>8.2f}{row['min']:>6}{row['max']:>7}"
                         f"{row['zero_degree']:>7}{row['er_mean']:>9.2f}{row['er_std']:>8.2f}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


def layer_degrees(layer):
    """In- and out-degrees of ``layer`` (engine layer or ``(n_in, n_out)`` matrix)."""
    n_in, n_out = layer_shape(layer)
    incoming = in_degrees(layer)
    return LayerDegrees(n_in, n_out, int(incoming.sum()), incoming, out_degrees(layer))


def network_degrees(network):
    """:class:`LayerDegrees` of every layer of a model or a list of layers/matrices."""
    return [layer_degrees(layer) for layer in network_layers(network)]


class InitialDegrees(Callback):
    """A training callback that keeps the degrees of every layer when training begins.

    After ``fit``, ``degrees_`` holds one :class:`LayerDegrees` per layer, as at
    initialisation: compare with ``[layer_degrees(layer) for layer in model.layers_]``.
    """

    def on_train_begin(self, model):
        self.degrees_ = [layer_degrees(layer) for layer in model.layers_]

