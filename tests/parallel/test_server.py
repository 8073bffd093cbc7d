"""The parameter server and a worker's epoch, in this process, against the engine by hand."""
import math

import numpy as np
import pytest

from setcourse import MLP
from setcourse.parallel.server import ParameterServer
from setcourse.parallel.state import layer_states
from setcourse.parallel.worker import ASYNC, async_epoch, worker_rng

from parallel.helpers import Direct, tiny_data

PARAMS = dict(hidden=(16, 12), epsilon=3, batch_size=32, dropout=0.3, lr=0.05, seed=3)


def make_server(X, y, epochs, n_async, max_staleness=0, steps_per_epoch=None, **params):
    model = MLP(**{**PARAMS, **params, "epochs": epochs}).build(X.shape[1], 3)
    steps = steps_per_epoch or math.ceil(X.shape[0] / model.batch_size)
    server = ParameterServer(model.get_params(), X.shape[1], 3, layer_states(model), steps,
                             n_async, epochs, max_staleness)
    return model, server


def engine_by_hand(X, y, epochs, seed):
    """A single process doing what one synchronous worker and the server do, with the
    engine's own forward, backward, optimiser step and SET step."""
    model = MLP(**{**PARAMS, "epochs": epochs}).build(X.shape[1], 3)
    evolution_rng = model.rng_  # the server evolves with the built model's generator
    n, batch = X.shape[0], model.batch_size
    for epoch in range(epochs):
        model.rng_ = worker_rng(seed, epoch, 0, ASYNC)  # the worker's batch order and dropout
        order = model.rng_.permutation(n)
        for start in range(0, n, batch):
            index = order[start:start + batch]
            logits = model.forward(np.ascontiguousarray(X[index].T), training=True)
            _, grad = model.loss_.loss_and_grad(logits, y[index])
            model.backward(grad)
            model.optimizer_.step(model.layers_)
        if epoch < epochs - 1:
            model.rng_ = evolution_rng
            model.strategy_.at_epoch_end(model, epoch)
    return model


def assert_same_model(layers, states):
    """Bit for bit: the same kernels on the same batches in the same order."""
    for layer, state in zip(layers, states):
        for name, array in layer.state_arrays().items():
            np.testing.assert_array_equal(state[name], array, err_msg=name)


def test_one_synchronous_worker_is_the_engine_step_for_step():
    X, y = tiny_data(100)  # 4 batches per epoch, the last one of 4 samples
    _, server = make_server(X, y, epochs=3, n_async=3)
    for epoch in range(3):
        stats = async_epoch(Direct(server), X, y, server.model.get_params(), (12, 3), epoch, 0,
                            seed=5)
        assert stats["pushed"] == stats["accepted"] == 4
    assert server.step == 12 and server.epoch == 3 and server.version == 2
    reference = engine_by_hand(X, y, 3, seed=5)
    assert_same_model(reference.layers_, layer_states(server.model))
    assert server.records[2]["staleness_max"] == 0 and server.records[2]["rejected_stale"] == 0


def sparse_gradient(server, rng):
    return [(rng.normal(size=layer.weight_values().size).astype(np.float32),
             rng.normal(size=layer.n_out).astype(np.float32)) for layer in server.model.layers_]


def test_gradients_of_removed_connections_are_dropped():
    X, y = tiny_data(64)
    # one gradient per epoch: the first push closes epoch 0 (SET runs), the second the last
    _, server = make_server(X, y, epochs=2, n_async=2, max_staleness=5, steps_per_epoch=1,
                            zeta=0.5)
    rng = np.random.default_rng(1)
    old_layer = server.model.layers_[0]
    old_positions = old_layer.positions()
    stale = sparse_gradient(server, rng)  # computed on topology 0
    server.push(0, 0, 0, sparse_gradient(server, rng), 0.0, 0, 1)  # closes epoch 0: SET runs
    assert server.version == 1
    layer = server.model.layers_[0]
    new_positions = layer.positions()
    removed = np.setdiff1d(old_positions, new_positions)
    assert removed.size > 0 and layer.nnz == old_positions.size
    before = {"w": layer.data.copy(), "v": layer.weight_velocity.copy(), "b": layer.bias.copy(),
              "bv": layer.bias_velocity.copy()}
    reply = server.push(1, 0, 0, stale, 0.0, 0, 1)  # a gradient of topology 0, staleness 1
    assert reply["accepted"] and "states" in reply  # the worker gets the new topology whole
    assert server.version == 1  # no evolution after the last epoch
    record = server.records[1]
    # an independent reference: the stale gradient by position, 0 where the worker never had
    # the connection, then the decoupled momentum step v = mu v - lr g; w += v - lambda w
    by_position = dict(zip(old_positions.tolist(), stale[0][0].tolist()))
    g = np.array([by_position.get(p, 0.0) for p in new_positions.tolist()], np.float32)
    mu, lr, decay = np.float32(0.9), np.float32(0.05), np.float32(2e-4)
    v = mu * before["v"] - lr * g
    np.testing.assert_allclose(layer.weight_velocity, v, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.data, before["w"] + v - decay * before["w"], rtol=1e-6,
                               atol=1e-8)
    bv = mu * before["bv"] - lr * stale[0][1]
    np.testing.assert_allclose(layer.bias, before["b"] + bv - decay * before["b"], rtol=1e-6,
                               atol=1e-8)
    # every layer's removed connections, the first layer's among them
    assert record["dropped_gradients"] >= removed.size


def test_stale_gradients_are_rejected_and_change_nothing():
    X, y = tiny_data(64)
    _, server = make_server(X, y, epochs=2, n_async=2, max_staleness=1, steps_per_epoch=10)
    rng = np.random.default_rng(2)
    assert server.push(0, 0, 0, sparse_gradient(server, rng), 0.0, 0, 1)["accepted"]
    assert server.push(1, 0, 0, sparse_gradient(server, rng), 0.0, 0, 1)["accepted"]
    before = layer_states(server.model)
    reply = server.push(1, 0, 0, sparse_gradient(server, rng), 0.0, 0, 1)  # staleness 2
    assert not reply["accepted"] and reply["step"] == 2
    assert_same_model(server.model.layers_, before)
    assert server._counts["rejected_stale"] == 1 and server._counts["accepted"] == 2
    np.testing.assert_array_equal(reply["values"][0][0], server.model.layers_[0].data)


def test_a_push_after_phase_one_is_told_to_stop():
    X, y = tiny_data(64)
    _, server = make_server(X, y, epochs=2, n_async=1, steps_per_epoch=1)
    rng = np.random.default_rng(3)
    server.push(0, 0, 0, sparse_gradient(server, rng), 0.0, 0, 1)
    reply = server.push(0, server.version, server.step, sparse_gradient(server, rng), 0, 0, 1)
    assert reply["stop"] and not reply["accepted"] and server.step == 1


def test_a_gradient_of_the_wrong_size_is_refused():
    X, y = tiny_data(64)
    _, server = make_server(X, y, epochs=2, n_async=2)
    grads = sparse_gradient(server, np.random.default_rng(4))
    grads[0] = (grads[0][0][:-1], grads[0][1])
    with pytest.raises(ValueError, match="a gradient of"):
        server.push(0, 0, 0, grads, 0.0, 0, 1)
