"""Which connections a rewiring step kept, removed and added, in a block of one layer.

The picture of one SET step: a ``rows x cols`` block of a layer's connection pattern before
and after the evolution step, as two boolean arrays. :class:`RewiringRecorder` keeps the
block of the last step that changed it (a callback; cheap: one sparse slice per epoch).
"""
import numpy as np

from ..callbacks import Callback
from .pattern import network_layers

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
    """Boolean ``(len(inputs), len(outputs))`` array: which connections of the block exist."""
    weights = layer.to_scipy() if hasattr(layer, "to_scipy") else layer
    block = weights.tocsr()[inputs, :][:, outputs] if hasattr(weights, "tocsr") \
        else np.asarray(weights)[inputs, outputs]
    if hasattr(block, "toarray"):
        return block.toarray() != 0
    return np.asarray(block) != 0


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
