"""Sparse Momentum (Dettmers & Zettlemoyer, 2019): prune by magnitude, regrow by momentum.

At each epoch end every sparse layer loses the smallest half (cosine-decayed) of its weights;
the layers then regrow the total in proportion to the mean momentum magnitude of their
active weights, each at the empty positions where the momentum is largest.
"""
import math

import numpy as np
from scipy.linalg import blas

from .._validation import Choice, Integer, Interval, Optional, warn_caller
from .base import Each, EvolutionStrategy
from .growth import TracedSparseLayer, chunk_size, score_chunks, top_k_positions
from .redistribution import apportion
from .rewire import drop_smallest, rewire_layer
from .schedule import DECAYS, Schedule

#: floor of the cosine-decayed prune rate (the reference's CosineDecay eta_min)
MIN_PRUNE_RATE = 0.005
#: contributions to the momentum older than the horizon weigh at most this much
HORIZON_TOLERANCE = 1e-3
#: the reference never grows a layer beyond this fraction of its free positions
MAX_FILL = 0.99


def momentum_horizon(momentum, tolerance=HORIZON_TOLERANCE):
    r"""Smallest :math:`K` with :math:`\mu^K \le` ``tolerance``: older gradients hardly count."""
    if momentum <= 0:
        return 1
    return max(1, math.ceil(math.log(tolerance) / math.log(momentum)))


def accumulate_gradient(buffer, delta, x, momentum):
    r"""In place: :math:`B \leftarrow \mu B + \delta\, x^\top` (one BLAS call, no temporary).

    ``buffer``: C-contiguous float32 ``(n_out, n_in)``; ``delta``: ``(n_out, batch)``;
    ``x``: ``(n_in, batch)``.
    """
    # B^T is Fortran-ordered (n_in, n_out): sgemm writes x @ delta^T into it directly.
    out = blas.sgemm(1.0, x.T, delta.T, beta=float(momentum), c=buffer.T,
                     trans_a=1, trans_b=0, overwrite_c=1)
    if not np.shares_memory(out, buffer):  # only if BLAS had to copy (unexpected layouts)
        buffer[...] = out.T


def in_window(t, steps_per_epoch, epochs, horizon):
    """Whether step ``t`` of a fit is one of the last ``horizon`` before a rewiring.

    Rewirings are at the ends of epochs ``0 .. epochs - 2``. With fewer steps per epoch than
    the horizon every step of those epochs counts, and the momentum runs on across epoch ends
    (as the reference's optimiser buffer does).
    """
    if t < 0:
        return False
    epoch, within = divmod(t, steps_per_epoch)
    return epoch < epochs - 1 and steps_per_epoch - within <= horizon


def prune_counts(nnz, prune_rate, densities, shares):
    r"""Weights each layer removes: :math:`\lceil p_l\, \text{nnz}_l \rceil`.

    :math:`p_l = p`, except that a layer that is nearly dense (sparsity :math:`< 0.2`) and
    growing (momentum share :math:`> 1/L`) prunes at most its sparsity, as in the reference.
    """
    counts = []
    for n, density, share in zip(nnz, densities, shares):
        rate = prune_rate
        sparsity = 1.0 - density
        if sparsity < 0.2 and share > 1.0 / len(nnz):
            rate = min(sparsity, rate)
        counts.append(min(n, math.ceil(rate * n)))
    return np.array(counts, dtype=np.int64)


def momentum_shares(mean_magnitudes):
    """Per-layer regrowth shares: mean momentum magnitudes normalised to sum 1 (equal if all 0)."""
    m = np.asarray(mean_magnitudes, dtype=np.float64)
    m = np.where(np.isfinite(m), m, 0.0)
    return m / m.sum() if m.sum() > 0 else np.full(m.size, 1.0 / max(m.size, 1))


class SparseMomentum(EvolutionStrategy):
    r"""Sparse Momentum: magnitude pruning, momentum-guided redistribution and regrowth.

    After every epoch but the last, with prune rate
    :math:`p_t = p_{min} + \frac{p - p_{min}}{2}(1 + \cos(\pi t / T))` (``decay="cosine"``,
    :math:`t` the step, :math:`T` the fit's steps, :math:`p_{min} = 0.005`) and
    :math:`M` the momentum (the SGD momentum buffer, :math:`M \leftarrow \mu M + \nabla_W L`,
    for every position, empty ones included):

    .. math::
        r_l = \lceil p_t\, \text{nnz}_l \rceil, \qquad
        s_l = \frac{\overline{|M_l|}_{\text{active}}}{\sum_m \overline{|M_m|}_{\text{active}}},
        \qquad g_l = \min\!\Big(s_l \sum_m r_m,\ 0.99\, \text{free}_l\Big)

    each layer removes its :math:`r_l` smallest :math:`|w|`, then grows :math:`g_l`
    connections (overflow above a layer's capacity is spread evenly over the others; counts
    rounded to sum exactly to :math:`\sum r`) at the positions not kept where :math:`|M|` is
    largest, with weight 0 and velocity :math:`-\eta M`: the momentum that selected them, as in
    the reference, whose momentum is the optimiser's dense buffer (a new weight moves at once,
    instead of lagging :math:`\mu/(1-\mu)` steps: after 15 steps zero momentum would have moved
    it 0.52x as far). A just-pruned position that is regrown keeps its weight and velocity, as
    in the reference. The total number of connections stays constant.

    **Dense memory.** The reference keeps :math:`M` for every position: that is a dense
    ``n_out x n_in`` float32 buffer per sparse layer, updated with the dense gradient
    (``sparselearning/funcs.py:241-247`` grows by it, ``core.py:516-524`` reads it from the
    optimiser; with ``weight_decay_mode="l2"`` the buffer also gets :math:`\lambda w` at the
    active weights, as PyTorch's SGD). We keep it honestly dense, but only over the last
    ``momentum_horizon`` :math:`K` steps before each rewiring: older gradients weigh
    :math:`\mu^K \le 10^{-3}` in :math:`M`. With at least :math:`K` steps per epoch the buffer
    starts from zero :math:`K` steps before the epoch's end and is freed after the rewiring, a
    fraction of the compute; with fewer, every step counts and the buffer runs on across epoch
    ends, exactly the reference's momentum (measured on 40-64-64-3, 2 rewirings: restarting it
    every epoch was 17-25 % off the reference at 15 steps per epoch and 45-82 % at 5, and grew
    only 44-74 % of the reference's connections at 5). A new ``fit`` starts it afresh; a
    checkpoint written while it runs (an epoch end before the last) holds it, one array
    ``strategy.momentum<i>`` per sparse layer ``i``, so that a fit resumed from the file
    continues it exactly (see :mod:`~setcourse.evolution.base`). A file of format 1 has no
    such array: loading one written with the window open warns that the window restarts at
    zero (the resumed run then differs from an uninterrupted one, as it always did). Its size
    is reported in ``dense_buffer_bytes_``. This makes
    Sparse Momentum *not* truly sparse: it cannot scale to layers whose dense matrix does not
    fit in memory (SET, DSR and RigL can).

    Our optimiser is heavy-ball SGD; the reference's CIFAR/MNIST script uses Nesterov
    (``mnist_cifar/main.py:219``), which reads the same buffer.

    Parameters
    ----------
    prune_rate : float in (0, 1)
        :math:`p` (reference: 0.5).
    decay : {"cosine", "constant"}
        Schedule of the prune rate over the fit (reference: cosine).
    momentum_horizon : int >= 1 or None
        :math:`K`, steps of dense momentum accumulation before each rewiring (across epoch
        ends when an epoch is shorter). ``None``: the smallest :math:`K` with
        :math:`\mu^K \le 10^{-3}` (66 for :math:`\mu = 0.9`).

    References
    ----------
    Code: github.com/TimDettmers/sparse_learning (commit e19ff16; file:line above).
    T. Dettmers and L. Zettlemoyer, "Sparse networks from scratch: faster training without
    losing performance", arXiv:1907.04840, 2019.
    """

    name = "sparse_momentum"
    RULES = {"prune_rate": Interval(0, 1, low_open=True, high_open=True),
             "decay": Choice(*DECAYS), "momentum_horizon": Optional(Integer(1))}
    sparse_layer = TracedSparseLayer  # keeps its backward delta: the dense momentum's input
    STATE = {**EvolutionStrategy.STATE, "horizon_": Integer(1),
             "dense_buffer_bytes_": Integer(0), "prune_rate_": Interval(0, 1),
             "layer_shares_": Each(Interval(0, 1))}
    restarts = "its prune-rate schedule and its momentum window"

    #: measured 52.7-150.9 B/connection for a prune rate of 0.1-0.9, with 1-2 times the
    #: pruned connections regrown into the layer; inside the step, beside the kept inputs
    REWIRE_BYTES = (47, 70)

    def __init__(self, prune_rate=0.5, decay="cosine", momentum_horizon=None):
        self.prune_rate = prune_rate
        self.decay = decay
        self.momentum_horizon = momentum_horizon

    def regrown_bound(self, n_in, n_out, connections, sparse_connections, classifier):
        # Regrowth follows each layer's mean momentum, not its size: one layer may take all
        # of a rewiring's pruned connections, up to 99 % of its empty positions.
        free = n_in * n_out - (1 - self.prune_rate) * connections
        return min(self.prune_rate * sparse_connections, 0.99 * free)

    @property
    def schedule(self):
        # Rewires at epoch ends (not on this schedule's steps): only the decay is used.
        return Schedule(decay=self.decay, floor=MIN_PRUNE_RATE)

    def setup(self, model, steps_per_epoch, epochs):
        super().setup(model, steps_per_epoch, epochs)
        mu = model.optimizer_.momentum
        self.horizon_ = int(self.momentum_horizon or momentum_horizon(mu))
        self._buffer_layers = [i for i, layer in enumerate(model.layers_) if layer.keeps_delta]
        if not self.resumed:  # a resumed fit keeps the momentum window it was saved with
            self.buffers_ = None
            self.dense_buffer_bytes_ = 0

    # -- checkpoints: the momentum window, while it runs ------------------------------------
    def state_arrays(self):
        if getattr(self, "buffers_", None) is None:
            return {}
        return {f"momentum{i}": buffer for i, buffer in zip(self._buffer_layers, self.buffers_)}

    def state_spec(self, layers):
        """One dense ``(n_out, n_in)`` float32 momentum per sparse (traced) layer ``i``."""
        return {f"momentum{i}": ((layer.n_out, layer.n_in), (np.dtype(np.float32),))
                for i, layer in enumerate(layers) if layer.keeps_delta}

    def check_state(self, state, arrays, model, prefix="strategy."):
        """As :meth:`EvolutionStrategy.check_state`; and a file of format 2 written at an
        epoch end with the momentum window open must hold it."""
        super().check_state(state, arrays, model, prefix)
        if arrays is not None and not arrays and self._window_in(state, model.step_):
            missing = ", ".join(prefix + name for name in self.state_spec(model.layers_))
            raise ValueError(f"missing {missing}: meta 'strategy_state' says the momentum "
                             f"window was open at step {model.step_} (horizon_="
                             f"{state['horizon_']}), when a file of format 2 holds it")

    @staticmethod
    def _window_in(state, step):
        """Whether the fit of ``state`` (a checkpoint's) was at an epoch end with its momentum
        window open at global ``step``: its next step adds to the momentum, as the previous
        one did (a window that runs on across the epoch end)."""
        needed = ("steps_per_epoch_", "epochs_", "first_step_", "total_steps_", "horizon_")
        if any(name not in state for name in needed):
            return False
        per_epoch, epochs, first, total, horizon = (state[name] for name in needed)
        t = step - first
        return (0 < t < total and t % per_epoch == 0 and in_window(t, per_epoch, epochs, horizon)
                and in_window(t - 1, per_epoch, epochs, horizon))

    def restore_checked(self, state, arrays, model):
        super().restore_checked(state, arrays, model)
        self._buffer_layers = [i for i, layer in enumerate(model.layers_) if layer.keeps_delta]
        if arrays:
            self.buffers_ = [np.array(arrays[f"momentum{i}"], dtype=np.float32, order="C")
                             for i in self._buffer_layers]
        else:
            self.buffers_ = None
            if self._window_in(state, model.step_):
                warn_caller(
                    f"this checkpoint (format 1) was written with Sparse Momentum's momentum "
                    f"window open (step {model.step_}), but a file of format 1 does not hold "
                    f"it: a resumed fit restarts the window at zero, so the run differs from "
                    f"an uninterrupted one")

    def _traced(self, model):
        return [layer for layer in model.layers_ if layer.keeps_delta]

    def accumulates(self, t):
        """Whether step ``t`` of the fit is one of the last ``horizon_`` before a rewiring
        (see :func:`in_window`)."""
        return in_window(t, self.steps_per_epoch_, self.epochs_, self.horizon_)

    def before_update(self, model, step):
        layers = self._traced(model)
        t = step - self.first_step_
        if self.accumulates(t):
            if self.buffers_ is None or not self.accumulates(t - 1):
                # A window starts after a gap (or at the fit's start): older gradients weigh
                # at most mu^K in the momentum at the next rewiring.
                self.buffers_ = [np.zeros((layer.n_out, layer.n_in), np.float32)
                                 for layer in layers]
                self.dense_buffer_bytes_ = int(sum(b.nbytes for b in self.buffers_))
            optimizer = model.optimizer_
            l2 = float(optimizer.weight_decay) if optimizer.weight_decay_mode == "l2" else 0.0
            for layer, buffer in zip(layers, self.buffers_):
                accumulate_gradient(buffer, layer.delta, layer.input, optimizer.momentum)
                if l2:
                    # PyTorch's SGD puts lambda * w into its momentum buffer; only the active
                    # weights are non-zero (sparse_learning's buffer is the optimiser's).
                    buffer.reshape(-1)[layer.positions()] += np.float32(l2) * layer.data
        for layer in layers:
            layer.delta = None
        return False

    def at_epoch_end(self, model, epoch):
        layers = self._traced(model)
        if not layers:
            return
        if self.buffers_ is None:
            raise RuntimeError("Sparse Momentum has no momentum buffers at this epoch end; "
                               "was before_update skipped?")
        rate = self.fraction_at(self.prune_rate, model.step_)
        self.prune_rate_ = float(rate)
        self.layer_shares_ = momentum_shares(
            [np.abs(layer.weight_velocity).mean() if layer.nnz else 0.0 for layer in layers]
        ).tolist()
        self.rewire(layers, self.buffers_, rate, np.array(self.layer_shares_),
                    lr=model.optimizer_.lr)
        if not self.accumulates(model.step_ - self.first_step_):
            self.buffers_ = None  # the next window starts from zero: free the memory now

    @staticmethod
    def rewire(layers, buffers, prune_rate, shares, lr=None):
        """Prune, redistribute and regrow ``layers`` by momentum ``buffers``; returns the counts.

        A new connection at position ``p`` starts at weight 0 with velocity ``-lr * M[p]``:
        the momentum that selected it, in the optimiser's units (:math:`v = -\\eta M`), as
        in the reference, whose optimiser buffer is dense. ``lr=None``: zero velocity.
        """
        nnz = [layer.nnz for layer in layers]
        removed = prune_counts(nnz, prune_rate, [layer.density for layer in layers], shares)
        drops = [drop_smallest(layer.data, r) for layer, r in zip(layers, removed)]
        free = np.array([layer.n_in * layer.n_out - n + r
                         for layer, n, r in zip(layers, nnz, removed)])
        capacity = np.floor(MAX_FILL * free).astype(np.int64)
        counts = apportion(int(removed.sum()), shares, capacity,
                           overflow_shares=np.ones(len(layers)))
        for layer, buffer, drop, count in zip(layers, buffers, drops, counts):
            kept = layer.positions()[~drop]
            chunks = score_chunks(lambda c0, c1, b=buffer: np.abs(b[:, c0:c1]),
                                  layer.n_out, layer.n_in, kept, chunk_size(layer))
            grow = top_k_positions(chunks, count, layer.n_in)
            velocity = None if lr is None else -np.float32(lr) * buffer.reshape(-1)[grow]
            rewire_layer(layer, drop, grow, velocity)
        return counts
