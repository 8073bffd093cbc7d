"""Building blocks shared by the magnitude-prune / score-regrow rules (Sparse Momentum, RigL)."""
import numpy as np


def drop_smallest(weights, count, rng=None, noise_std=0.0):
    r"""Which of ``weights`` go: the ``count`` smallest :math:`|w|` (plus optional noise).

    Ties are broken by position (stable sort), so without noise the answer is deterministic.
    RigL's reference adds :math:`\mathcal N(0, 10^{-5})` noise to :math:`|w|` "for a slight bit
    of randomness"; pass ``noise_std`` and ``rng`` to do the same.

    Returns
    -------
    drop : (nnz,) bool array, True for the ``count`` connections removed.
    """
    weights = np.asarray(weights)
    count = int(count)
    if not 0 <= count <= weights.size:
        raise ValueError(f"count must be in [0, {weights.size}]; got {count}")
    score = np.abs(weights).astype(np.float64)
    if noise_std > 0 and count:
        score += rng.normal(0.0, noise_std, size=score.size)
    drop = np.zeros(weights.size, dtype=bool)
    drop[np.argsort(score, kind="stable")[:count]] = True
    return drop


def rewire_layer(layer, drop, grow_positions, new_velocity=None):
    """Remove the connections where ``drop`` is True and grow ``grow_positions`` at weight 0.

    A grown position that was just dropped simply stays, with its old weight and momentum, as
    in both reference codes: their masks are recombined before the weights are touched
    (sparse_learning ``sparselearning/core.py:391-414``: the pruned mask is regrown, then
    ``apply_mask``; RigL ``rigl/sparse_optimizers_base.py:328-334``: only positions empty
    before the update are new). Truly new connections start at weight 0 (both references),
    with the momentum ``new_velocity`` gives them, zero by default. Zero is RigL's rule
    (``SparseRigLOptimizerBase.reset_momentum``, ``rigl/sparse_optimizers_base.py:555-563``:
    the gradient times ``initial_acc_scale``, 0 by default, line 453); Sparse Momentum's
    reference keeps the dense optimiser buffer, so a new weight starts with the momentum that
    selected it (``sparselearning/funcs.py:241-247``): :class:`SparseMomentum` passes it.

    Parameters
    ----------
    layer : SparseLayer
    drop : (nnz,) bool array aligned with ``layer.data``
    grow_positions : int64 array of distinct linear positions ``out * n_in + in``, none of
        them a kept connection.
    new_velocity : float array aligned with ``grow_positions``, optional
        Velocity of each grown position that is truly new (entries of just-dropped positions
        are ignored: those keep their own).

    Returns
    -------
    int, the number of truly new connections.
    """
    positions = layer.positions()
    grow_positions = np.asarray(grow_positions, dtype=np.int64)
    regrown = np.zeros(grow_positions.size, dtype=bool)
    index = np.zeros(grow_positions.size, dtype=np.int64)
    if positions.size:
        index = np.minimum(np.searchsorted(positions, grow_positions), positions.size - 1)
        regrown = positions[index] == grow_positions
        if np.any(~drop[index[regrown]]):
            raise ValueError("grow_positions contains connections that are kept")
    keep = ~drop
    keep[index[regrown]] = True
    order = np.argsort(grow_positions[~regrown], kind="stable")
    new_positions = grow_positions[~regrown][order]
    layer.replace_connections(keep, new_positions, np.zeros(new_positions.size, np.float32))
    if new_velocity is not None and new_positions.size:
        velocity = np.asarray(new_velocity, dtype=np.float32)[~regrown][order]
        layer.weight_velocity[np.searchsorted(layer.positions(), new_positions)] = velocity
    return int(new_positions.size)
