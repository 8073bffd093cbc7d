"""Shared test helpers: tiny data sets and the engine's state as dense float64 arrays."""
import numpy as np

from setcourse.nn import kernels
from setcourse.nn.activations import PiecewiseLinear, Sigmoid, Tanh
from setcourse import MLP
from setcourse.callbacks import Callback


class SaveAtEpochEnd(Callback):
    """Writes a checkpoint at the end of epoch ``epoch`` (0-based), as a run's checkpoints do."""

    def __init__(self, epoch, path):
        self.epoch, self.path = epoch, path

    def on_epoch_end(self, model, epoch, logs):
        if epoch == self.epoch:
            model.save(self.path)


def tiny_data(n=64, n_features=12, n_classes=3, seed=0):
    """A small random classification problem with a learnable signal."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    y = (np.abs(X[:, :n_classes]).argmax(axis=1)).astype(np.int64)
    return X, y


def built_model(n_features=12, n_classes=3, **params):
    """An MLP built (initialised) for the given shapes, without training."""
    params.setdefault("hidden", (10, 8))
    params.setdefault("epsilon", 2.0)
    return MLP(**params).build(n_features, n_classes)


def dense_state(model):
    """Weights, biases and masks of every layer as float64 dense ``(n_out, n_in)`` arrays."""
    weights, biases, masks = [], [], []
    for layer in model.layers_:
        if layer.sparse:
            w = layer.to_dense().T.astype(np.float64)  # to_dense is (n_in, n_out)
            m = np.zeros_like(w)
            m[layer.row_of_each(), layer.indices] = 1
        else:
            w = layer.weights_t.astype(np.float64)
            m = np.ones_like(w)
        weights.append(w)
        biases.append(layer.bias.astype(np.float64))
        masks.append(m)
    return weights, biases, masks


def dense_grads(model):
    """Each layer's weight gradient scattered to a dense ``(n_out, n_in)`` float64 array."""
    grads = []
    for layer in model.layers_:
        if layer.sparse:
            g = np.zeros((layer.n_out, layer.n_in))
            g[layer.row_of_each(), layer.indices] = layer.weight_grad
        else:
            g = layer.weight_grad.astype(np.float64)
        grads.append(g)
    return grads


def reference_activations(model):
    """The model's hidden activations as ``(name, slope)`` pairs for the reference."""
    out = []
    for act in model.activations_:
        if isinstance(act, PiecewiseLinear):
            out.append(("piecewise", act.negative_slope))
        elif isinstance(act, Sigmoid):
            out.append(("sigmoid", 0.0))
        elif isinstance(act, Tanh):
            out.append(("tanh", 0.0))
    return out


def dropout_masks(model, batch):
    """The scaled dropout masks the last training forward pass used, batch-major."""
    if model._dropout_seeds is None:
        return None
    masks = []
    for layer, seed in zip(model.layers_[:-1], model._dropout_seeds):
        m = np.ones((layer.n_out, batch), dtype=np.float32)
        kernels.dropout_inplace(m, 1.0 - model.dropout, seed)
        masks.append(m.T.astype(np.float64))
    return masks


def engine_step(model, X, y):
    """One forward/backward on the engine; returns the loss (gradients stay in the layers)."""
    logits = model.forward(np.ascontiguousarray(X.T), training=True)
    loss, grad = model.loss_.loss_and_grad(logits, y)
    masks = dropout_masks(model, X.shape[0])
    model.backward(grad)
    return loss, masks
