"""RigL: Rigging the Lottery (Evci et al., ICML 2020): drop by magnitude, grow by gradient.

Every ΔT steps each sparse layer drops its smallest weights and grows as many connections
where the mini-batch gradient is largest. The dense gradient is never held: it is computed
in column chunks from the layer's input and backward delta, keeping a running top-n.
"""
import math

from .._validation import Integer, Interval, Optional
from .base import EvolutionStrategy
from .growth import TracedSparseLayer, chunk_size, gradient_score_chunks, top_k_positions
from .rewire import drop_smallest, rewire_layer
from .schedule import Schedule

#: RigL's reference adds N(0, 1e-5) noise to |w| before choosing what to drop
DROP_NOISE_STD = 1e-5


def rigl_update_layer(layer, drop_fraction, rng, chunk_elements=None):
    """One RigL drop-and-grow of a :class:`TracedSparseLayer` in place; returns n rewired.

    Uses ``layer.delta`` and ``layer.input`` of the last backward pass; the dense gradient is
    computed ``chunk_elements`` values at a time (default: the layer's nnz).
    """
    n = int(math.floor(drop_fraction * layer.nnz))
    if n == 0:
        return 0
    drop = drop_smallest(layer.data, n, rng, DROP_NOISE_STD)
    kept = layer.positions()[~drop]
    chunks = gradient_score_chunks(layer.delta, layer.input, kept,
                                   chunk_size(layer, chunk_elements))
    grow = top_k_positions(chunks, n, layer.n_in)
    rewire_layer(layer, drop, grow)
    return n


class RigL(EvolutionStrategy):
    r"""RigL: every :math:`\Delta T` steps, drop the smallest weights, grow the largest gradients.

    At an update step :math:`t \le 0.75\,T` (``stop_fraction``), for every sparse layer, with
    :math:`\alpha_t = \frac{\alpha}{2}\,(1 + \cos(\pi t / (0.75\,T)))` (``decay="cosine"``):

    .. math::
        n = \lfloor \alpha_t\, \text{nnz} \rfloor, \qquad
        \mathbb{I}_{drop} = \operatorname{ArgTopK}_n\big(-|W|\big), \qquad
        \mathbb{I}_{grow} = \operatorname{ArgTopK}_n\big(|\nabla_W L_t|
        \text{ over positions not kept}\big),

    with :math:`\nabla_W L_t = \delta\, x^\top` the dense gradient of the current mini-batch.
    Grown connections start at weight 0 with zero momentum; a dropped position that is grown
    again keeps its weight (as the reference). The optimiser step of an update step is
    skipped, and the number of connections per layer stays constant. Steps are counted from
    the start of the fit; step 0 is an update step (reference ``last_update_step = -ΔT``).

    The dense gradient is computed ``chunk_elements`` values at a time (column blocks of
    :math:`\delta x^\top`; by default as many as the layer has connections) with a running
    top-:math:`n`, so no ``n_out x n_in`` array is held and the temporaries scale with nnz;
    the delta is kept by :class:`~setcourse.evolution.growth.TracedSparseLayer` (a reference,
    no copy). As in the reference, :math:`\mathcal N(0, 10^{-5})` noise breaks ties when
    dropping; growth ties go to the smaller position.

    Parameters
    ----------
    drop_fraction : float in [0, 1)
        :math:`\alpha` (reference: 0.3).
    update_period : int >= 1
        :math:`\Delta T` (reference: 100).
    stop_fraction : float in [0, 1]
        Fraction of training after which the topology is frozen (reference: 0.75;
        google-research/rigl's CIFAR-10 script stops mask updates at step 75,000 of 97,656
        by default, ``maskupdate_end_step`` / ``max_steps``).
    decay : {"cosine", "constant"}
        Schedule of the drop fraction (reference: cosine).
    chunk_elements : int >= 1 or None
        Dense-gradient values computed at a time; ``None``: the layer's number of connections.

    References
    ----------
    Code: github.com/google-research/rigl (commit d39fc7d), ``rigl/sparse_optimizers_base.py``:
    drop by :math:`|w|` plus noise and grow by :math:`|\nabla|` (``SparseRigLOptimizerBase.
    generic_mask_update``, lines 523-538), :math:`n = \lfloor \alpha_t\, \text{nnz} \rfloor`
    and a dropped-and-regrown position kept (``_get_update_op``, 276-343), new momentum 0
    (``reset_momentum``, 555-563), the update steps and the cosine drop fraction
    (``is_mask_update_iter``, ``get_drop_fraction``, 198-258).
    U. Evci, T. Gale, J. Menick, P. S. Castro and E. Elsen, "Rigging the lottery: making
    all tickets winners", ICML 2020.
    """

    name = "rigl"
    RULES = {"drop_fraction": Interval(0, 1, high_open=True),
             "chunk_elements": Optional(Integer(1))}
    sparse_layer = TracedSparseLayer  # keeps its backward delta: the gradient to grow by
    STATE = {**EvolutionStrategy.STATE, "n_updates_": Integer(0), "drop_fraction_": Interval(0, 1)}
    restarts = "its update steps and drop-fraction schedule"

    #: measured 51.3-100.4 B/connection for a drop fraction of 0.1-0.99; inside the step,
    #: where the gradient is fresh
    REWIRE_BYTES = (46, 56)
    #: bytes per dense-gradient score computed at a time beyond the layer's connections
    #: (``chunk_elements`` above its nnz; measured 6-11: the block, its absolute value, the
    #: partition's copy and the candidate mask)
    CHUNK_BYTES = 11

    def __init__(self, drop_fraction=0.3, update_period=100, stop_fraction=0.75,
                 decay="cosine", chunk_elements=None):
        self.drop_fraction = drop_fraction
        self.update_period = update_period
        self.stop_fraction = stop_fraction
        self.decay = decay
        self.chunk_elements = chunk_elements

    def regrown_bound(self, n_in, n_out, connections, sparse_connections, classifier):
        return self.drop_fraction * connections  # the fraction decays from there

    def rewiring_bytes(self, n_in, n_out, connections, sparse_connections, classifier):
        size = super().rewiring_bytes(n_in, n_out, connections, sparse_connections, classifier)
        if size == 0:
            return 0
        # The blocks of |delta x^T| hold whole columns (growth.column_ranges), by default
        # as many scores as the layer has connections.
        chunk = (self.chunk_elements if self.chunk_elements is not None
                 else max(connections, n_out))
        block = n_out * min(n_in, max(1, int(chunk) // n_out))
        return size + self.CHUNK_BYTES * max(0, block - connections)

    @property
    def schedule(self):
        return Schedule(self.update_period, self.stop_fraction, self.decay,
                        updates_at_start=True)

    def setup(self, model, steps_per_epoch, epochs):
        super().setup(model, steps_per_epoch, epochs)
        if not self.resumed:
            self.n_updates_ = 0

    def before_update(self, model, step):
        layers = [layer for layer in model.layers_ if layer.keeps_delta]
        update = self.is_update_step(step)
        if update:
            fraction = self.fraction_at(self.drop_fraction, step)
            for layer in layers:
                rigl_update_layer(layer, fraction, model.rng_, self.chunk_elements)
            self.drop_fraction_ = float(fraction)
            self.n_updates_ += 1
        for layer in layers:
            layer.delta = None
        return update
