"""Phase 2's merge: the mean of the workers' models, its union of connections pruned back."""
import numpy as np

from ..evolution.rewire import drop_smallest


def average_sparse(models, count):
    """Mean of sparse layers over their union of connections, pruned to ``count`` connections.

    A connection a model does not have counts as 0 in the mean (the original sums the
    workers' sparse matrices and divides by their number). The union is then pruned back to
    the layer's connection count by magnitude: the ``union - count`` smallest :math:`|w|`
    go, ties by position (:func:`~setcourse.evolution.rewire.drop_smallest`). The original
    prunes sign-aware by a fraction, which misses the exact count by rounding; SET's layers
    keep their count, so we keep it exactly.

    Parameters
    ----------
    models : list of ``(positions, values, velocity)``, each (nnz_k,), positions sorted int64
    count : int, connections to keep (at most the size of the union)

    Returns
    -------
    positions, values, velocity : (count,) arrays (int64, float32, float32), positions sorted
    """
    if not models:
        raise ValueError("average_sparse needs at least one model")
    union = np.unique(np.concatenate([np.asarray(p, dtype=np.int64) for p, _, _ in models]))
    if not 0 <= count <= union.size:
        raise ValueError(f"count must be in [0, {union.size}] (the union's size); got {count}")
    # float64 sums: the mean does not depend on the order the workers arrived in
    values = np.zeros(union.size, dtype=np.float64)
    velocity = np.zeros(union.size, dtype=np.float64)
    for positions, data, vel in models:
        where = np.searchsorted(union, np.asarray(positions, dtype=np.int64))
        values[where] += data
        velocity[where] += vel
    values /= len(models)
    velocity /= len(models)
    keep = ~drop_smallest(values, union.size - count)
    return union[keep], values[keep].astype(np.float32), velocity[keep].astype(np.float32)


def average_dense(arrays):
    """Element-wise mean of equally shaped arrays (dense weights, biases, velocities), float32."""
    return (np.sum([np.asarray(a, dtype=np.float64) for a in arrays], axis=0)
            / len(arrays)).astype(np.float32)
