r"""The in-time over-parameterisation rate (Liu et al., ICML 2021).

A sparse network that rewires its connections explores, over training, many more positions
than it holds at any moment. The rate

.. math:: R = \frac{|\{\text{positions active at some point}\}|}{n_{in}\, n_{out}}

measures that exploration. Ever-active positions are kept per sparse layer as a sorted int64
array of linear indices ``out * n_in + in`` (``layer.positions()``): its size grows with what
was explored, never with the dense ``n_in x n_out``. Masked dense layers (DST) are tracked
through their ``active_mask()``; plain dense layers count as fully explored.
"""
import numpy as np

from ..callbacks import Callback
from .pattern import dense_layer_mask


def merge_positions(seen, positions):
    """Sorted union of two sorted distinct int64 arrays, in linear time (no full re-sort)."""
    if seen.size == 0:
        return positions.copy()
    index = np.searchsorted(seen, positions)
    inside = index < seen.size
    known = np.zeros(positions.size, dtype=bool)
    known[inside] = seen[index[inside]] == positions[inside]
    new = ~known
    if not new.any():
        return seen
    return np.insert(seen, index[new], positions[new])


class InTimeOverParameterisation(Callback):
    """Tracks, per layer, every position that held a connection at some point in training.

    The topology is read at the start, after every batch in which it changed (strategies that
    rewire during the epoch, such as RigL or DSR) and after every epoch (SET). A change is
    detected by the layer's index array being replaced, which is how the engine rewires.

    Attributes
    ----------
    seen_ : list of int64 arrays (``None`` for plain dense layers)
        Sorted linear positions ever active, per layer.
    rates_ : list of float
        Overall rate after each epoch (all tracked layers together).
    layer_rates_ : list of lists of float
        Per-layer rate after each epoch (1.0 for dense layers).
    """

    def on_train_begin(self, model):
        self._indices = [None] * len(model.layers_)
        self.seen_ = [None] * len(model.layers_)
        self.sizes_ = [layer.n_in * layer.n_out for layer in model.layers_]
        self.rates_, self.layer_rates_ = [], []
        self._update(model)

    def _update(self, model):
        for index, layer in enumerate(model.layers_):
            if layer.sparse:
                if layer.indices is self._indices[index]:
                    continue  # the engine rewires by replacing the index arrays
                self._indices[index] = layer.indices
                positions = layer.positions()
            else:
                mask = dense_layer_mask(layer)
                if mask is None:
                    continue
                positions = np.flatnonzero(mask).astype(np.int64)  # (n_out, n_in): out * n_in + in
            seen = self.seen_[index]
            self.seen_[index] = positions.copy() if seen is None else merge_positions(seen, positions)

    def on_batch_end(self, model, epoch, batch, logs):
        self._update(model)

    def on_epoch_end(self, model, epoch, logs):
        self._update(model)
        self.layer_rates_.append(self.layer_rates())
        self.rates_.append(self.rate())

    def layer_rates(self):
        """Fraction of each layer's positions ever active (1.0 for dense layers)."""
        return [1.0 if seen is None else seen.size / size
                for seen, size in zip(self.seen_, self.sizes_)]

    def rate(self):
        """Fraction of all tracked layers' positions ever active (``nan`` if none is tracked)."""
        sparse = [(seen.size, size) for seen, size in zip(self.seen_, self.sizes_) if seen is not None]
        if not sparse:
            return float("nan")
        return sum(s for s, _ in sparse) / sum(size for _, size in sparse)
