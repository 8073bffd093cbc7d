"""A gradient computed on an older topology, carried onto the server's current connections."""
import numpy as np


def align_gradient(old_positions, grad, new_positions):
    """``grad`` of the connections ``old_positions``, re-indexed to ``new_positions``.

    Connections that evolution removed since the gradient was computed are dropped (the
    original's ``retain_valid_updates``: a gradient never brings back a removed connection);
    connections grown since get a zero gradient (the worker never saw them).

    Parameters
    ----------
    old_positions : (nnz_old,) int64, sorted linear positions ``out * n_in + in``
    grad : (nnz_old,) float array aligned with ``old_positions``
    new_positions : (nnz_new,) int64, sorted

    Returns
    -------
    aligned : (nnz_new,) float32
    n_dropped : int, gradients of removed connections left out
    """
    old_positions = np.asarray(old_positions, dtype=np.int64)
    new_positions = np.asarray(new_positions, dtype=np.int64)
    grad = np.asarray(grad, dtype=np.float32).reshape(-1)
    if grad.size != old_positions.size:
        raise ValueError(f"grad has {grad.size} values for {old_positions.size} positions")
    aligned = np.zeros(new_positions.size, dtype=np.float32)
    if old_positions.size == 0 or new_positions.size == 0:
        return aligned, int(old_positions.size)
    index = np.minimum(np.searchsorted(old_positions, new_positions), old_positions.size - 1)
    kept = old_positions[index] == new_positions
    aligned[kept] = grad[index[kept]]
    return aligned, int(old_positions.size - np.count_nonzero(kept))
