"""A dense masked float64 RBM in plain numpy: the oracle the sparse engine is compared with.

``W`` is ``(n_visible, n_hidden)``, zero outside ``mask``. Random numbers are drawn exactly as
the engine draws them (float32 uniforms, same shapes, same order), so the same generator
state gives the same samples.
"""
import numpy as np

from setcourse.rbm import RBM


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def uniforms(rng, shape):
    return rng.random(shape, dtype=np.float32).astype(np.float64)


def dense_state(model):
    """``(W, mask, b, c)`` of a built model, float64, ``W`` and ``mask`` ``(n_visible, n_hidden)``."""
    w = model.weights_
    if w.sparse:
        mask = np.zeros((w.n_in, w.n_out))
        mask[w.indices, w.row_of_each()] = 1
    else:
        mask = np.ones((w.n_in, w.n_out))
    W = w.to_dense().astype(np.float64)
    return W, mask, model.intercept_visible_.astype(np.float64), model.intercept_hidden_.astype(
        np.float64)


def free_energy(W, b, c, V):
    return -(V @ b) - np.logaddexp(0, V @ W + c).sum(axis=1)


def cd_estimate(W, mask, b, c, V, k, rng, sample_visible=True):
    """CD-k estimate ``(dW * mask, db, dc)`` and reconstruction error of batch-major ``V``."""
    ph0 = sigmoid(V @ W + c)
    h = (uniforms(rng, ph0.T.shape).T < ph0).astype(float)
    first = None
    for _ in range(k):
        pv = sigmoid(h @ W.T + b)
        first = pv if first is None else first
        v = (uniforms(rng, pv.T.shape).T < pv).astype(float) if sample_visible else pv
        ph = sigmoid(v @ W + c)
        h = (uniforms(rng, ph.T.shape).T < ph).astype(float)
    n = V.shape[0]
    dW = (V.T @ ph0 - v.T @ ph) / n * mask
    return dW, (V - v).mean(axis=0), (ph0 - ph).mean(axis=0), np.mean((V - first) ** 2)


def tiny_model(n_visible=8, n_hidden=6, topology="fixprob", epsilon=1.5, weight_std=1.0,
               bias_std=0.5, seed=0, **params):
    """A built RBM with large random weights and biases (so that every oracle has work to do)."""
    model = RBM(n_hidden=n_hidden, topology=topology, epsilon=epsilon, seed=seed,
                init_std=weight_std, **params).build(n_visible)
    rng = np.random.default_rng(seed + 100)
    model.intercept_visible_[:] = rng.normal(0, bias_std, n_visible)
    model.intercept_hidden_[:] = rng.normal(0, bias_std, n_hidden)
    return model


def binary_data(n, n_visible, seed=0, p=0.3):
    """``n`` random binary rows with a little structure (the first units copy each other)."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, n_visible)) < p).astype(np.float32)
    X[:, 1] = X[:, 0]
    return X
