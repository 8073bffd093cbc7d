"""Which connections a rewiring step kept, removed and added, in a block of one layer.

The picture of one SET step: a ``rows x cols`` block of a layer's connection pattern before
and after the evolution step, as two boolean arrays. :class:`RewiringRecorder` keeps the
block of the last step that changed it (a callback; cheap: one sparse slice per epoch).
"""
import numpy as np
import scipy.sparse as sp

from ..callbacks import Callback
from .pattern import dense_layer_mask, is_engine_layer, layer_shape, network_layers

__all__ = ["RewiringRecorder", "block_pattern", "centre_block"]


def centre_block(n_in, n_out, size=40):
    """``(inputs, outputs)`` slices of a ``size x size`` block: middle inputs, first outputs.

    For a 28 x 28 image the middle inputs are pixels of its central rows, where most images
    have ink, so the block shows connections that training uses.
    """
    rows = min(size, n_in)
    start = max(0, n_in // 2 - rows // 2)
    return slice(start, start + rows), slice(0, min(size, n_out))


def block_pattern(layer, inputs, outputs):
    """Boolean ``(len(inputs), len(outputs))`` array: which connections of the block exist.

    A stored connection counts even when its weight is exactly 0 (``regrow_init="zero"``
    regrows at 0): the pattern comes from the layer's structure, not from its values.
    """
    n_in, n_out = layer_shape(layer)
    rows = np.arange(n_in)[inputs]
    cols = np.arange(n_out)[outputs]
    pattern = np.zeros((rows.size, cols.size), dtype=bool)
    if hasattr(layer, "positions") and getattr(layer, "sparse", False):
        positions = layer.positions()  # out * n_in + in
        outs, ins = np.divmod(positions, n_in)
    elif is_engine_layer(layer) and not layer.sparse:
        mask = dense_layer_mask(layer)  # (n_out, n_in) or None when fully connected
        if mask is None:
            pattern[:] = True
            return pattern
        outs, ins = np.nonzero(mask)
    else:
        matrix = layer.to_scipy() if hasattr(layer, "to_scipy") else layer
        if sp.issparse(matrix):
            coo = sp.coo_matrix(matrix)  # explicit zeros stay stored connections
            ins, outs = coo.row, coo.col
        else:
            ins, outs = np.nonzero(np.asarray(matrix))
    keep = ((ins >= rows[0]) & (ins <= rows[-1]) & (outs >= cols[0]) & (outs <= cols[-1])
            if rows.size and cols.size else np.zeros(ins.shape, dtype=bool))
    pattern[ins[keep] - rows[0], outs[keep] - cols[0]] = True
    return pattern


class RewiringRecorder(Callback):
    """The block of layer ``layer`` before and after the last evolution step that changed it.

    Attributes
    ----------
    before_, after_ : (rows, cols) bool arrays or None
        The block at the end of epoch ``epoch_`` (before its evolution step) and after it.
    epoch_ : int or None
        Epoch (0-based) of that step; None while no step has changed the block.
    steps_ : int
        Evolution steps seen (epochs whose end changed the block).
    """

    def __init__(self, layer=0, size=40):
        self.layer, self.size = layer, size
        self.before_ = self.after_ = self.epoch_ = None
        self.steps_ = 0

    def _layer(self, model):
        return network_layers(model)[self.layer]

    def on_train_begin(self, model):
        layer = self._layer(model)
        self.block = centre_block(layer.n_in, layer.n_out, self.size)
        self.before_ = self.after_ = self.epoch_ = None
        self.steps_ = 0
        self._pending = None

    def before_evolution(self, model, epoch):
        self._pending = block_pattern(self._layer(model), *self.block)

    def on_epoch_end(self, model, epoch, logs):
        if self._pending is None:
            return
        after = block_pattern(self._layer(model), *self.block)
        if not np.array_equal(after, self._pending):
            self.before_, self.after_, self.epoch_ = self._pending, after, int(epoch)
            self.steps_ += 1
        self._pending = None
