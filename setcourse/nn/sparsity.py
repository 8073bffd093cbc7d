"""How many connections each layer gets, and where: Erdős–Rényi, ERK and uniform densities.

Positions are sampled as linear indices ``row * n_cols + col`` in int64, so no
``n_rows x n_cols`` array is ever allocated, even for 330,000 x 330,000 layers.
"""
import sys
import warnings

import numpy as np


def erdos_renyi_density(epsilon, n_in, n_out):
    r"""Connection probability of an Erdős–Rényi sparse layer (SET, Mocanu et al. 2018).

    .. math:: p = \frac{\varepsilon\,(n_{in} + n_{out})}{n_{in}\, n_{out}}

    The result may exceed 1; callers treat ``p >= 1`` as a dense layer.
    """
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
    return epsilon * (n_in + n_out) / (n_in * n_out)


def erk_densities(shapes, density, dense_layers=()):
    r"""Per-layer densities of the ERK-style allocation that meet an overall ``density``.

    Each layer gets :math:`p_l = \min(1, c\,(n_{in} + n_{out}) / (n_{in} n_{out}))`, with the
    single scale :math:`c` chosen so that :math:`\sum_l p_l n_{in} n_{out}` equals
    ``density`` times the total number of weights. Layers that saturate at 1 are fixed and
    the scale is solved again for the rest (as in RigL's ERK initialisation).

    Parameters
    ----------
    shapes : list of (n_in, n_out)
    density : float in (0, 1]
    dense_layers : indices of layers forced to be dense (their weights still count).
    """
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    sizes = np.array([a * b for a, b in shapes], dtype=np.float64)
    raw = np.array([(a + b) / (a * b) for a, b in shapes], dtype=np.float64)
    dense = np.zeros(len(shapes), dtype=bool)
    dense[list(dense_layers)] = True
    budget = density * sizes.sum()
    while True:
        free = ~dense
        remaining = budget - sizes[dense].sum()
        if remaining <= 0 or not free.any():
            break
        scale = remaining / (raw[free] * sizes[free]).sum()
        p = scale * raw
        newly_dense = free & (p >= 1)
        if not newly_dense.any():
            break
        dense |= newly_dense
    out = np.where(dense, 1.0, 0.0)
    free = ~dense
    if free.any():
        remaining = max(budget - sizes[dense].sum(), 0.0)
        scale = remaining / (raw[free] * sizes[free]).sum()
        out[free] = np.minimum(scale * raw[free], 1.0)
    return out.tolist()


def uniform_densities(shapes, density, dense_layers=()):
    """Every layer (except ``dense_layers``) gets the same ``density``."""
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    return [1.0 if i in dense_layers else float(density) for i in range(len(shapes))]


def layer_densities(shapes, allocation="erdos_renyi", epsilon=20.0, density=None):
    """Densities for a stack of layers, one allocation rule for all (see the rule's function).

    The last layer (the classifier) is dense for ``erk`` and ``uniform``, as in the DST
    literature; with ``erdos_renyi`` it is dense only when its ``p >= 1``.
    """
    if allocation == "erdos_renyi":
        return [erdos_renyi_density(epsilon, a, b) for a, b in shapes]
    if density is None:
        raise ValueError(f"density must be given for allocation={allocation!r} (a float in (0, 1])")
    last = (len(shapes) - 1,)
    if allocation == "erk":
        return erk_densities(shapes, density, dense_layers=last)
    if allocation == "uniform":
        return uniform_densities(shapes, density, dense_layers=last)
    raise ValueError(
        f"allocation must be one of 'erdos_renyi', 'erk', 'uniform', got {allocation!r}")


def n_connections(density, n_in, n_out):
    """Number of connections of a layer: ``p * n_in * n_out`` rounded half up, capped at full.

    Half up, as the course teaches it and as SET rounds its pruning counts (Python's ``round``
    sends 2.5 to 2)."""
    total = n_in * n_out
    return total if density >= 1 else min(total, int(np.floor(density * total + 0.5)))


def unique_sorted(values):
    """Sorted distinct values of an integer array (sort + mask: much faster than np.unique)."""
    values = np.sort(values)
    if values.size == 0:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def sample_empty_positions(n_rows, n_cols, count, rng, occupied=None, shuffle=True):
    """Draw ``count`` distinct positions uniformly among those not in ``occupied``.

    Parameters
    ----------
    n_rows, n_cols : int
        Shape of the (virtual) matrix.
    count : int
        How many positions to return.
    rng : numpy.random.Generator
    occupied : int64 array of sorted distinct linear indices ``row * n_cols + col``, optional

    shuffle : bool
        Return the positions in random order (default) or sorted (cheaper).

    Returns
    -------
    int64 array of ``count`` distinct linear indices.

    Notes
    -----
    Candidates are drawn with replacement, de-duplicated and filtered, and more are drawn
    until enough remain; a uniformly random subset of the distinct valid candidates is a
    uniformly random subset of the empty positions, by symmetry. Tiny matrices enumerate
    their empty positions instead.
    """
    total = n_rows * n_cols
    occupied = np.zeros(0, dtype=np.int64) if occupied is None else occupied
    n_free = total - occupied.size
    if count < 0 or count > n_free:
        raise ValueError(f"count must be in [0, {n_free}] (empty positions), got {count}")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    if total <= 65536:
        # Tiny layers (demos, tests): enumerate the empty positions directly.
        mask = np.ones(total, dtype=bool)
        mask[occupied] = False
        chosen = rng.choice(np.flatnonzero(mask), size=count, replace=False).astype(np.int64)
        return chosen if shuffle else np.sort(chosen)
    chosen = np.zeros(0, dtype=np.int64)
    need = count
    while need > 0:
        draw = int(need * total / n_free * 1.1) + 16
        candidates = unique_sorted(rng.integers(0, total, size=draw, dtype=np.int64))
        if occupied.size:
            idx = np.searchsorted(occupied, candidates)
            idx[idx == occupied.size] = 0
            candidates = candidates[occupied[idx] != candidates]
        if chosen.size:
            idx = np.searchsorted(chosen, candidates)
            idx[idx == chosen.size] = 0
            candidates = candidates[chosen[idx] != candidates]
        if candidates.size > need:
            candidates = rng.choice(candidates, size=need, replace=False)
        chosen = np.sort(np.concatenate([chosen, candidates]))
        need = count - chosen.size
    return rng.permutation(chosen) if shuffle else chosen


def erdos_renyi_positions(n_in, n_out, density, rng):
    """Sorted distinct linear indices (``out * n_in + in``) of a random layer of ``density``."""
    count = n_connections(density, n_in, n_out)
    return sample_empty_positions(n_out, n_in, count, rng, shuffle=False)


def warn_dense_hidden_layer(layer_index, n_in, n_out, density):
    """Say that ``p >= 1`` made hidden layer ``layer_index`` of a sparse model dense.

    Said at every model build, not once per process: the warning is issued with a registry of
    its own, so Python's "once per location" memory does not swallow it for the next model of
    the same shape. It points at the first caller outside ``setcourse``. (The classifier is
    not a hidden layer: at the usual epsilon it is dense by design and nothing is said.)
    """
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("setcourse"):
        frame = frame.f_back
    warnings.warn_explicit(
        f"hidden layer {layer_index} ({n_in} -> {n_out}): Erdős–Rényi probability "
        f"p = {density:.3g} >= 1, so this layer is dense", UserWarning,
        frame.f_code.co_filename, frame.f_lineno, module=frame.f_globals.get("__name__"),
        # No module_globals: under ``python -m`` the caller's loader cannot serve
        # ``__main__``'s source and warn_explicit would raise ImportError.
        registry={})
