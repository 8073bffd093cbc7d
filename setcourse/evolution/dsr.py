"""DSR: Dynamic Sparse Reparameterization (Mostafa & Wang, ICML 2019).

One global magnitude threshold prunes every sparse layer; the threshold adapts so that about
``N_p`` weights go per rewiring, and the pruned budget is regrown at random, shared between
layers in proportion to what survived in each. Parameters therefore move between layers.
"""
import numpy as np

from .._validation import Integer, Interval, Optional
from ..nn.sparsity import sample_empty_positions
from .base import Each, EvolutionStrategy
from .redistribution import apportion
from .schedule import Schedule


def dsr_prune(weights, threshold):
    """Keep mask of DSR's pruning: :math:`|w| \\ge H`; if no weight survives, keep the first."""
    keep = np.abs(np.asarray(weights)) >= threshold
    if keep.size and not keep.any():
        keep[0] = True  # as the reference: a layer is never emptied
    return keep


def adapt_threshold(threshold, n_pruned, target, tolerance=0.1):
    """Threshold update: halve it above (1+δ)·target pruned, double it below (1-δ)·target."""
    if n_pruned > (1 + tolerance) * target:
        return threshold / 2
    if n_pruned < (1 - tolerance) * target:
        return threshold * 2
    return threshold


class DSR(EvolutionStrategy):
    r"""Dynamic Sparse Reparameterization: global adaptive threshold, random regrowth.

    Every ``update_period`` steps (the reference's ``rewire_period``), with one threshold
    :math:`H` for all sparse layers :math:`l`:

    .. math::
        k_l = \#\{w \in W_l : |w| < H\}, \qquad K = \sum_l k_l, \qquad
        n_l = (\text{nnz}_l - k_l), \qquad
        g_l = K \, \frac{n_l}{\sum_m n_m}

    prune the :math:`k_l` weights below :math:`H`, regrow :math:`g_l` (rounded by largest
    remainders, summing to :math:`K`; the reference rounds to nearest and gives the
    difference to a random layer, which can loop forever on a full layer: see
    :func:`~setcourse.evolution.redistribution.apportion`) at uniformly random empty positions
    of layer :math:`l`, excluding those just pruned, with weight and momentum 0. A layer that
    cannot take its share passes the rest to the others. Then adapt the threshold towards :math:`N_p` pruned weights:

    .. math::
        H \leftarrow H/2 \ \text{if}\ K > (1+\delta) N_p, \qquad
        H \leftarrow 2H \ \text{if}\ K < (1-\delta) N_p.

    The total number of connections stays constant (unless every layer is full).
    As in the reference, a layer is never emptied (one weight is kept) and step 0 is not a
    rewiring step.

    Parameters
    ----------
    update_period : int >= 1
        Steps between rewirings (reference: 100 early in training).
    initial_threshold : float > 0
        :math:`H_0` (reference: 1e-3).
    n_prune_target : int >= 1 or None
        :math:`N_p`, the target number of weights pruned per rewiring. ``None``: 10 % of the
        sparse layers' connections when training starts (the reference uses 20 000 for a
        WRN-28-2 with ~150 000 weights, i.e. ~13 %).
    tolerance : float in [0, 1)
        :math:`\delta` (reference: 0.1).
    stop_fraction : float in [0, 1]
        Fraction of training after which the topology is frozen (reference default: never).

    References
    ----------
    Code: github.com/IntelAI/dynamic-reparameterization (commit 7fe9f43): pruning
    ``parameterized_tensors.py:182-214``, regrowth ``main.py:639-674`` and
    ``parameterized_tensors.py:216-239``, threshold ``main.py:680-685``.
    H. Mostafa and X. Wang, "Parameter efficient training of deep convolutional neural
    networks by dynamic sparse reparameterization", ICML 2019.
    """

    name = "dsr"
    RULES = {"initial_threshold": Interval(0, None, low_open=True),
             "n_prune_target": Optional(Integer(1)), "tolerance": Interval(0, 1, high_open=True)}
    STATE = {**EvolutionStrategy.STATE, "threshold_": Interval(0, None),
             "n_prune_target_": Integer(1), "n_pruned_": Each(Integer(0))}
    restarts = "its rewiring steps"

    #: measured 34.4-53.8 B/connection for 10-90 % pruned
    REWIRE_BYTES = (33, 24)

    def __init__(self, update_period=100, initial_threshold=1e-3, n_prune_target=None,
                 tolerance=0.1, stop_fraction=1.0):
        self.update_period = update_period
        self.initial_threshold = initial_threshold
        self.n_prune_target = n_prune_target
        self.tolerance = tolerance
        self.stop_fraction = stop_fraction

    def regrown_bound(self, n_in, n_out, connections, sparse_connections, classifier):
        # About N_p pruned per rewiring, regrown in proportion to what survived in each
        # layer; the threshold, doubled until enough go, can overshoot up to twice N_p.
        target = (self.n_prune_target if self.n_prune_target is not None
                  else max(1, round(0.1 * sparse_connections)))
        regrown = min(1.0, 2 * target / max(sparse_connections, 1)) * connections
        return min(regrown, n_in * n_out - connections)

    @property
    def schedule(self):
        return Schedule(self.update_period, self.stop_fraction)

    def setup(self, model, steps_per_epoch, epochs):
        super().setup(model, steps_per_epoch, epochs)
        sparse_nnz = sum(layer.nnz for layer in model.layers_ if layer.sparse)
        if model.step_ == 0 or not hasattr(self, "threshold_"):
            self.threshold_ = float(self.initial_threshold)
        if not self.resumed:  # a resumed fit keeps its target and its record
            self.n_prune_target_ = int(self.n_prune_target if self.n_prune_target is not None
                                       else max(1, round(0.1 * sparse_nnz)))
            self.n_pruned_ = []  # K of each rewiring in this fit, to watch H adapt

    def after_update(self, model, step):
        if self.is_update_step(step):
            self.rewire(model.layers_, model.rng_)

    def rewire(self, layers, rng):
        """One DSR rewiring of the sparse ``layers``; returns the number pruned (= regrown)."""
        layers = [layer for layer in layers if layer.sparse]
        keeps = [dsr_prune(layer.data, self.threshold_) for layer in layers]
        pruned = np.array([keep.size - keep.sum() for keep in keeps], dtype=np.int64)
        surviving = np.array([keep.sum() for keep in keeps], dtype=np.float64)
        # Just-pruned positions are excluded from regrowth: a layer's room is its empty
        # positions before pruning.
        capacity = np.array([layer.n_in * layer.n_out - layer.nnz for layer in layers])
        total = int(pruned.sum())
        counts = apportion(total, surviving, capacity)
        for layer, keep, count in zip(layers, keeps, counts):
            new = sample_empty_positions(layer.n_out, layer.n_in, int(count), rng,
                                         occupied=layer.positions())
            layer.replace_connections(keep, np.sort(new), np.zeros(new.size, np.float32))
        self.threshold_ = adapt_threshold(self.threshold_, total, self.n_prune_target_,
                                          self.tolerance)
        self.n_pruned_.append(total)
        return total
