"""Growth by a dense score without holding a dense array.

RigL grows where :math:`|\\partial L / \\partial W|` is largest among the empty positions; the
dense gradient :math:`\\delta\\, x^\\top` of a layer is an ``n_out x n_in`` matrix, which a
truly sparse library must never hold. It is computed here in column chunks, and a running
top-``k`` keeps only ``k`` candidates between chunks. The backward delta needed for it is kept
by :class:`TracedSparseLayer`, a :class:`~setcourse.nn.layers.SparseLayer` that stores a
reference to it (no copy, no extra compute).
"""
import numpy as np

from ..nn.layers import SparseLayer


class TracedSparseLayer(SparseLayer):
    """A sparse layer that also keeps ``delta`` = dL/dz ``(n_out, batch)`` of its last backward.

    The model computes ``delta`` anyway; keeping a reference costs nothing, and with
    ``input`` it gives the dense gradient ``delta @ input.T`` on demand, chunk by chunk.
    Strategies set ``delta = None`` once they have used it, so it is not kept longer; they
    find these layers by :attr:`~setcourse.nn.layers.Layer.keeps_delta`.
    """

    keeps_delta = True

    def backward(self, delta, need_input_grad=True, input_step=None):
        self.delta = delta
        return super().backward(delta, need_input_grad, input_step)


def chunk_size(layer, chunk_elements=None):
    """Scores computed at a time for ``layer``: ``chunk_elements``, or by default the layer's
    own number of connections (at least one column), so temporaries never outgrow the layer."""
    if chunk_elements is not None:
        return int(chunk_elements)
    return max(layer.nnz, layer.n_out)


def column_ranges(n_rows, n_cols, chunk_elements):
    """``(start, stop)`` column ranges whose blocks hold at most ``chunk_elements`` values."""
    width = max(1, min(n_cols, int(chunk_elements) // max(n_rows, 1)))
    return [(c0, min(c0 + width, n_cols)) for c0 in range(0, n_cols, width)]


def score_chunks(block_scores, n_rows, n_cols, excluded, chunk_elements):
    """Yield ``(scores, c0)`` blocks of a virtual ``(n_rows, n_cols)`` score matrix.

    ``block_scores(c0, c1)`` returns a fresh ``(n_rows, c1 - c0)`` float array of scores
    :math:`\\ge 0`; positions listed in ``excluded`` (linear ``row * n_cols + col``) are set
    to -1 so that they are never chosen.
    """
    excluded = np.asarray(excluded, dtype=np.int64)
    rows, cols = np.divmod(excluded, n_cols)
    order = np.argsort(cols, kind="stable")
    rows, cols = rows[order], cols[order]
    for c0, c1 in column_ranges(n_rows, n_cols, chunk_elements):
        block = block_scores(c0, c1)
        lo, hi = np.searchsorted(cols, [c0, c1])
        block[rows[lo:hi], cols[lo:hi] - c0] = -1
        yield block, c0


def gradient_score_chunks(delta, x, excluded, chunk_elements):
    """Chunks of :math:`|\\delta\\, x^\\top|` ``(n_out, n_in)``: the dense weight gradient's size.

    ``delta``: ``(n_out, batch)``, ``x``: ``(n_in, batch)`` (feature-major, as in the model).
    """
    def block(c0, c1):
        return np.abs(delta @ x[c0:c1].T)
    return score_chunks(block, delta.shape[0], x.shape[0], excluded, chunk_elements)


def top_k_positions(chunks, count, n_cols):
    """The ``count`` positions with the largest score over all ``chunks`` of :func:`score_chunks`.

    Ties are broken by the smaller position, so the answer does not depend on the chunking.
    Only about ``count`` candidates are kept between chunks. Positions scored -1 (excluded)
    are never returned; fewer than ``count`` come back only if fewer are eligible.

    Returns
    -------
    int64 array of linear positions ``row * n_cols + col``, sorted.
    """
    count = int(count)
    best_scores = np.zeros(0, dtype=np.float64)
    best_positions = np.zeros(0, dtype=np.int64)
    if count <= 0:
        return best_positions
    for block, c0 in chunks:
        width = block.shape[1]
        flat = block.ravel()
        floor = 0.0  # excluded entries are -1
        if best_positions.size >= count:
            floor = max(floor, best_scores[-1])
        if flat.size > count:
            floor = max(floor, float(np.partition(flat, flat.size - count)[flat.size - count]))
        # ">=" keeps every tie at the boundary: the final choice is then exact.
        candidates = np.flatnonzero(flat >= floor)
        rows, cols = np.divmod(candidates, width)
        best_scores = np.concatenate([best_scores, flat[candidates].astype(np.float64)])
        best_positions = np.concatenate([best_positions, rows * n_cols + (c0 + cols)])
        order = np.lexsort((best_positions, -best_scores))[:count]
        best_scores, best_positions = best_scores[order], best_positions[order]
    return np.sort(best_positions)
