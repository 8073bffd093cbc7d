"""An independent float64 reference MLP (dense weights + masks), for use as a test oracle."""
import numpy as np


def act_forward(name, z, slope):
    if name == "piecewise":
        return np.where(z > 0, z, slope * z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    raise ValueError(name)


def act_derivative(name, z, slope):
    if name == "piecewise":
        return np.where(z > 0, 1.0, slope)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    raise ValueError(name)


def loss_value(loss, logits, y):
    """Mean loss of batch-major logits (batch, classes)."""
    batch = y.size
    if loss == "cross_entropy":
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -logp[np.arange(batch), y].mean()
    target = np.zeros_like(logits)
    target[np.arange(batch), y] = 1
    out = 1 / (1 + np.exp(-logits))
    return 0.5 * ((out - target) ** 2).sum() / batch


def forward_loss(weights, biases, masks, x, y, acts, loss, dropout_masks=None):
    """Loss of a batch-major input through masked dense layers (float64)."""
    a = x
    n = len(weights)
    for l in range(n):
        z = a @ (weights[l] * masks[l]).T + biases[l]
        if l == n - 1:
            return loss_value(loss, z, y)
        name, slope = acts[l]
        a = act_forward(name, z, slope)
        if dropout_masks is not None:
            a = a * dropout_masks[l]


def forward_backward(weights, biases, masks, x, y, acts, loss, dropout_masks=None):
    """Loss and gradients (dW masked, db) by explicit back-propagation (float64)."""
    a_list, z_list = [x], []
    a = x
    n = len(weights)
    for l in range(n):
        z = a @ (weights[l] * masks[l]).T + biases[l]
        z_list.append(z)
        if l < n - 1:
            name, slope = acts[l]
            a = act_forward(name, z, slope)
            if dropout_masks is not None:
                a = a * dropout_masks[l]
            a_list.append(a)
    logits = z_list[-1]
    batch = y.size
    if loss == "cross_entropy":
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        delta = p.copy()
        delta[np.arange(batch), y] -= 1
        delta /= batch
    else:
        target = np.zeros_like(logits)
        target[np.arange(batch), y] = 1
        s = 1 / (1 + np.exp(-logits))
        delta = (s - target) * s * (1 - s) / batch
    grads_w, grads_b = [None] * n, [None] * n
    for l in range(n - 1, -1, -1):
        grads_w[l] = (delta.T @ a_list[l]) * masks[l]
        grads_b[l] = delta.sum(axis=0)
        if l > 0:
            da = delta @ (weights[l] * masks[l])
            if dropout_masks is not None:
                da = da * dropout_masks[l - 1]
            name, slope = acts[l - 1]
            delta = da * act_derivative(name, z_list[l - 1], slope)
    return forward_loss(weights, biases, masks, x, y, acts, loss, dropout_masks), grads_w, grads_b
