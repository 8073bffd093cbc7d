"""Reused activation buffers: reuse only what nothing refers to, and change no result."""
import tracemalloc

import numpy as np
import pytest

from setcourse import MLP
from setcourse.evolution import RigL
from setcourse.nn import buffers as buffers_module
from setcourse.nn.buffers import ActivationBuffers


def test_a_released_block_is_reused_and_a_held_one_never():
    pool = ActivationBuffers(min_bytes=0)
    a = pool.empty((3, 4))
    b = pool.empty((3, 4))
    assert not np.shares_memory(a, b) and pool.allocated == 2
    del a
    c = pool.empty((3, 4))  # a's block, free again
    assert pool.allocated == 2 and not np.shares_memory(c, b)
    kept = {"input": c}
    view = b.reshape(-1)[1:]
    del b, c
    d = pool.empty((3, 4))  # both blocks still referred to: a kept array and a view
    assert pool.allocated == 3
    assert not np.shares_memory(d, kept["input"]) and not np.shares_memory(d, view)


def test_blocks_are_c_contiguous_float32_of_the_shape_asked():
    pool = ActivationBuffers(min_bytes=0)
    a = pool.empty((5, 7))
    assert a.shape == (5, 7) and a.dtype == np.float32 and a.flags["C_CONTIGUOUS"]


def test_the_smallest_free_block_that_fits_serves_a_request():
    pool = ActivationBuffers(min_bytes=0)
    big, small = pool.empty((10, 10)), pool.empty((4, 10))
    big_block, small_block = _address(big), _address(small)  # no reference kept
    del big, small
    a = pool.empty((3, 10))
    assert _address(a) == small_block and pool.allocated == 2
    b = pool.empty((6, 10))  # the small block is in use, the big one fits
    assert _address(b) == big_block and pool.allocated == 2
    assert pool.nbytes == 4 * (100 + 40)


def _address(array):
    return array.__array_interface__["data"][0]


def test_small_arrays_are_not_pooled():
    pool = ActivationBuffers(min_bytes=1024)
    a = pool.empty((4, 4))
    del a
    pool.empty((4, 4))
    assert pool.allocated == 0 and pool.nbytes == 0


def _fit(monkeypatch, pooled, **params):
    monkeypatch.setattr(buffers_module, "MIN_BYTES", 0 if pooled else 2**62)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 40)).astype(np.float32)
    y = rng.integers(0, 3, size=300)
    params = {k: (v() if callable(v) else v) for k, v in params.items()}  # fresh strategies
    model = MLP(epochs=3, batch_size=32, seed=1, **params).fit(X, y)
    return model


@pytest.mark.parametrize("params", [
    dict(hidden=(30, 30), topology="set", epsilon=4),
    dict(hidden=(30, 30), topology="set", epsilon=4, activation="leaky_relu", dropout=0.2),
    dict(hidden=(30, 30), topology=lambda: RigL(update_period=3), epsilon=4),
    dict(hidden=(30, 30), topology="sparse_momentum", epsilon=4),
    dict(hidden=(30, 30), topology="dst"),
    dict(hidden=(300, 300), topology="dense", activation="sigmoid"),  # BLAS dense layers
], ids=["set", "leaky-dropout", "rigl", "sparse-momentum", "dst", "dense-blas"])
def test_training_with_every_block_pooled_is_bit_identical(monkeypatch, params):
    # min_bytes 0 pools every array of every step: a block reused while still needed
    # (an input kept for backward, a delta kept for growth, a pre-activation) would show.
    plain = _fit(monkeypatch, False, **params)
    pooled = _fit(monkeypatch, True, **params)
    assert plain.history_["train_loss"] == pooled.history_["train_loss"]
    for a, b in zip(plain.layers_, pooled.layers_):
        np.testing.assert_array_equal(a.to_dense(), b.to_dense())
        np.testing.assert_array_equal(a.bias, b.bias)


def test_an_epoch_allocates_a_few_blocks_and_no_more_memory(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 20)).astype(np.float32)
    y = rng.integers(0, 2, size=256)
    peaks, counts = {}, []
    original = buffers_module.ActivationBuffers

    class Counting(original):
        def __init__(self, min_bytes=None):
            super().__init__(min_bytes)
            counts.append(self)

    monkeypatch.setattr("setcourse.train.ActivationBuffers", Counting)
    # The regime of wide networks at a small size: inputs released by their backward pass.
    monkeypatch.setattr("setcourse.nn.layers.RELEASE_INPUT_BYTES", 2000 * 64 * 4)
    for pooled in (False, True):
        monkeypatch.setattr(buffers_module, "MIN_BYTES", 64 * 64 * 4 if pooled else 2**62)
        model = MLP(hidden=(2000, 2000, 2000), topology="set", epsilon=5, batch_size=64,
                    epochs=1, seed=0).fit(X[:64], y[:64])  # build and compile first
        model.set_params(warm_start=True)
        tracemalloc.start()
        try:
            model.fit(X, y)  # 4 steps of 3 hidden layers of 2000 x 64
            peaks[pooled] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    # Blocks of 2000 x 64: three layer outputs alive at the top of backward, plus the
    # classifier's input gradient; each later input gradient takes a released input's
    # block, and every later step reuses them.
    assert counts[-1].allocated == 4
    assert peaks[True] <= peaks[False] * 1.02
