"""Degree sequences at the start and end of a run: the hubs a long SET run grows."""
import numpy as np

from ..analysis.degrees import in_degrees, out_degrees
from ..analysis.pattern import network_layers
from ..callbacks import Callback


class Degrees(Callback):
    """Degrees at the first and the last epoch: ``hidden_in``, the in-degrees of the neurons
    of hidden layers 2..L from the hidden layer before (one list per hidden-to-hidden layer:
    where SET grows its hubs), and ``input_out``, each input's connections (the first layer's
    out-degrees: where feature selection shows).

    Built by the sweep on the worker as ``Degrees(data, spec)`` (both unused).
    """

    def __init__(self, data=None, spec=None):
        self.initial_ = self.final_ = None

    @staticmethod
    def snapshot(model):
        layers = network_layers(model)
        return {"hidden_in": [in_degrees(layer).astype(int).tolist() for layer in layers[1:-1]],
                "input_out": out_degrees(layers[0]).astype(int).tolist()}

    def on_train_begin(self, model):
        if self.initial_ is None:
            self.initial_ = self.snapshot(model)

    def on_train_end(self, model):
        self.final_ = self.snapshot(model)

    def as_dict(self):
        return {"initial": self.initial_, "final": self.final_}


def degree_arrays(record, when="final"):
    """``record`` (a :class:`Degrees` dict) as arrays: hidden in-degrees per layer, input out."""
    snap = record[when]
    return [np.asarray(d) for d in snap["hidden_in"]], np.asarray(snap["input_out"])
