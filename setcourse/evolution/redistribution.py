"""How many connections each layer regrows when a rule shares one budget across layers."""
import numpy as np


def apportion(total, shares, capacity, overflow_shares=None):
    r"""Split ``total`` connections over layers in proportion to ``shares``, within ``capacity``.

    Each layer first gets :math:`\text{total} \cdot s_l / \sum_k s_k`. A layer asked for more
    than its capacity keeps its capacity and the excess is spread over the layers that still
    have room, in proportion to ``overflow_shares`` (default: ``shares``), until nothing
    overflows. The real-valued result is rounded by largest remainders, so the counts are
    integers that sum exactly to ``min(total, sum(capacity))``: deterministic, the number of
    connections stays constant without carrying anything to the next rewiring, and it always
    ends.

    The references round otherwise (RigL regrows in each layer what it dropped and needs no
    split):

    - **Sparse Momentum** (``sparse_learning``, ``sparselearning/core.py:461-510``): each
      layer asks :math:`\lceil s_l\,(\text{removed} + \text{carry}) \rceil`, capped at
      0.99 of its free positions; the excess is spread *evenly* over all layers (up to 1000
      passes), and each layer grows the floor of the result (``core.py:407``). What the
      network then lacks of its initial size is carried, exponentially smoothed, into the
      next rewiring's budget (``core.py:418-419``). We spread the excess evenly too
      (``overflow_shares`` all ones) but round here, with nothing to carry.
    - **DSR** (``IntelAI/dynamic-reparameterization``, ``main.py:639-674``): the shares are
      the surviving weights; each layer's count is *rounded to nearest*
      (``np.round``, halves to even), the rounding discrepancy is added to one random layer
      (clipped at 0), each layer grows what fits (``parameterized_tensors.py:216-239``), and
      this repeats with what is left until all is grown. When no layer overflows and the
      rounded counts already sum to the total, ours are the same counts (tested). Otherwise
      the result is random, it can grow more than was pruned (a negative discrepancy given to
      a layer at 0 is clipped), and it never ends when the layers the rounding picks are
      full: survivors (3, 1), room (0, 10) and 1 connection to grow ask (1, 0) of every pass,
      which grows nothing, forever; ours gives (0, 1).

    Parameters
    ----------
    total : int >= 0
    shares : (n_layers,) array of non-negative floats
        All zero means equal shares.
    capacity : (n_layers,) array of non-negative ints
    overflow_shares : (n_layers,) array, optional
        How an overflow is spread; Sparse Momentum spreads it evenly (all ones).

    Returns
    -------
    counts : (n_layers,) int64 array, ``0 <= counts <= capacity``.
    """
    shares = np.asarray(shares, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.int64)
    if shares.shape != capacity.shape:
        raise ValueError(f"shares and capacity must have the same shape; got {shares.shape} "
                         f"and {capacity.shape}")
    if (shares < 0).any() or not np.isfinite(shares).all():
        raise ValueError(f"shares must be finite and >= 0; got {shares}")
    if (capacity < 0).any():
        raise ValueError(f"capacity must be >= 0; got {capacity}")
    overflow = shares if overflow_shares is None else np.asarray(overflow_shares, np.float64)
    total = int(min(total, capacity.sum()))
    if total <= 0:
        return np.zeros(capacity.shape, dtype=np.int64)
    target = _spread(float(total), shares, capacity > 0)
    while True:
        excess = np.maximum(target - capacity, 0.0)
        full = target >= capacity
        target = np.minimum(target, capacity)
        if excess.sum() <= 1e-9 * total or full.all():
            break
        target = target + _spread(excess.sum(), overflow, ~full)
    return _round_preserving_sum(target, total, capacity)


def _spread(amount, weights, allowed):
    """``amount`` split over the ``allowed`` entries in proportion to ``weights`` (or equally)."""
    w = np.where(allowed, weights, 0.0)
    if w.sum() <= 0:
        w = allowed.astype(np.float64)
    return amount * w / w.sum()


def _round_preserving_sum(values, total, capacity):
    """Integers near ``values`` summing to ``total``: floor, then +1 by largest remainder."""
    counts = np.minimum(np.floor(values + 1e-9).astype(np.int64), capacity)
    missing = total - int(counts.sum())
    if missing > 0:
        room = counts < capacity
        remainder = np.where(room, values - counts, -np.inf)
        # Stable order: ties go to the earlier layer, so the result is deterministic.
        order = [i for i in np.argsort(-remainder, kind="stable") if room[i]]
        for index in order[:missing]:
            counts[index] += 1
        missing -= min(missing, len(order))
        for index in order:  # only when float error lost more than one unit per layer
            give = min(missing, int(capacity[index] - counts[index]))
            counts[index] += give
            missing -= give
    return counts
