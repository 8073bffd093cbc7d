"""The byte model against what the engine holds: built layers, the plan, measured allocations."""
import tracemalloc

import numpy as np
import pytest

from setcourse import MLP
from setcourse.analysis import memory
from setcourse.nn import network
from setcourse.nn.layers import SparseLayer
from setcourse.plan import plan


def data(n=256, features=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    return X, rng.integers(0, 10, n)


def test_every_array_a_trained_layer_holds_is_in_the_table():
    X, y = data()
    model = MLP(hidden=(300, 200, 300), epsilon=10, epochs=2, batch_size=32).fit(X, y)
    for layer in model.layers_[:-1]:
        held = sum(v.nbytes for k, v in vars(layer).items()
                   if isinstance(v, np.ndarray) and k != "input")  # input: an activation
        assert layer._weight_grad is None  # fused: no gradient kept
        assert held == layer.stored_bytes()
        assert held == sum(d.itemsize * n for _, d, n, _ in
                           SparseLayer.storage(layer.n_in, layer.n_out, layer.nnz))
    sizes = (60, 300, 200, 300, 10)
    table = memory.training_memory(sizes, 10, 32)
    assert table["sparse_bytes"] == sum(layer.stored_bytes() for layer in model.layers_[:-1])
    assert table["connections"] == sum(model.nnz_)
    assert table["dense_bytes"] == 12 * (300 * 10 + 10)
    # the plan counts the same for a fused model, plus the temporaries of the largest layer
    plans = plan(model, 60, 10)
    assert [p.bytes - p.temporary for p in plans[:-1]] == \
        [layer.stored_bytes() for layer in model.layers_[:-1]]
    assert sum(p.temporary > 0 for p in plans) == 1


def test_bytes_per_connection_and_neuron():
    assert memory.bytes_per_connection() == 20
    assert memory.bytes_per_connection(index64=True) == 24
    assert memory.bytes_per_connection(gradient=True) == 24
    assert memory.connection_arrays() == {"data": 4, "weight_velocity": 4, "indices": 4,
                                          "t_indices": 4, "t_perm": 4}
    assert memory.bytes_per_neuron() == {"output": 16, "input": 4}
    assert memory.bytes_per_neuron(index64=True) == {"output": 20, "input": 8}


@pytest.mark.parametrize("release", [True, False])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_the_activation_peak_of_a_training_step_is_measured(activation, release, monkeypatch):
    from setcourse.nn import layers
    if release:  # as in a large model: every input freed by its backward pass
        monkeypatch.setattr(layers, "RELEASE_INPUT_BYTES", 0)
    X, y = data(features=784)
    h = 1500
    model = MLP(hidden=(h, h, h), epsilon=20, epochs=1, batch_size=128, dropout=0.3,
                activation=activation).fit(X, y)
    xb = np.ascontiguousarray(X[:128].T)  # the batch exists before the step
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        logits = model.forward(xb, training=True)
        _, grad = model.loss_.loss_and_grad(logits, y[:128])
        del logits
        model.backward(grad)
        del grad
        model.optimizer_.step(model.layers_)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    expected = memory.activation_peak_bytes((784, h, h, h, 10), 128,
                                            keeps_pre=activation != "relu") - xb.nbytes
    assert expected <= peak <= expected + 64 * 1024, (peak, expected)


def test_a_huge_evaluation_is_chunked_with_the_same_logits(monkeypatch):
    X, y = data(n=100)
    model = MLP(hidden=(40, 30), epsilon=4, epochs=1, batch_size=16).fit(X, y)
    whole = model.decision_function(X)
    sizes = [60, 40, 30, 10]
    monkeypatch.setattr(network, "EVAL_MAX_BYTES", 4 * 100 * 7)  # 7 samples at a time
    assert network.evaluation_chunk(sizes, 100) == 7
    np.testing.assert_array_equal(model.decision_function(X), whole)
    assert all(layer.input is None for layer in model.layers_)
    monkeypatch.setattr(network, "EVAL_MAX_BYTES", 1)
    assert network.evaluation_chunk(sizes, 100) == 1
    np.testing.assert_array_equal(model.decision_function(X[:5]), whole[:5])


def test_ten_million_neurons_pass_the_plan_on_24_gib(monkeypatch):
    monkeypatch.setenv("SETCOURSE_MAX_MEMORY", "22G")
    model = MLP(hidden=(3_333_333,) * 3, epsilon=20, batch_size=128)
    from setcourse.plan import check_plan
    check_plan(model, plan(model, 784, 10), n_samples=5000)  # no ValueError
    monkeypatch.setenv("SETCOURSE_MAX_MEMORY", "12G")
    with pytest.raises(ValueError, match=r"would need about 1[3-6]\.\d GiB of memory"):
        check_plan(model, plan(model, 784, 10), n_samples=5000)
