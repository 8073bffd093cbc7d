"""The engine's products, CD statistics and updates against a dense masked numpy RBM, and CD-k
against the exact gradient."""
import numpy as np
import pytest
import scipy.sparse as sp

from setcourse.nn import kernels as nn_kernels
from setcourse.rbm import exact, kernels
from setcourse.rbm.weights import SparseWeights

from rbm.reference import (binary_data, cd_estimate, dense_state, free_energy, sigmoid,
                           tiny_model)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("batch", [1, 7])
def test_transpose_product_matches_scipy(index_dtype, batch):
    rng = np.random.default_rng(0)
    wt = sp.random(23, 41, density=0.2, format="csr", random_state=1, dtype=np.float32)
    wt.sort_indices()
    indptr = wt.indptr.astype(index_dtype)
    t_indptr, t_perm = nn_kernels.group_by_column(wt.indices, 41, indptr[:1])
    rows = np.repeat(np.arange(23, dtype=np.int32), np.diff(wt.indptr))
    h = rng.normal(size=(23, batch)).astype(np.float32)
    bias = rng.normal(size=41).astype(np.float32)
    out = np.empty((41, batch), np.float32)
    kernels.transpose_product(t_indptr, rows[t_perm], t_perm, wt.data, bias, h, out)
    np.testing.assert_allclose(out, wt.T @ h + bias[:, None], rtol=1e-5, atol=1e-5)


def test_sparse_products_and_statistics_match_scipy():
    rng = np.random.default_rng(2)
    w = SparseWeights(30, 20, 0.25, rng, init_std=1.0)
    W = w.to_scipy().toarray()  # (n_visible, n_hidden)
    assert W.shape == (30, 20) and np.count_nonzero(W) == w.nnz
    v = rng.random((30, 9)).astype(np.float32)
    h = rng.random((20, 9)).astype(np.float32)
    b, c = rng.normal(size=30).astype(np.float32), rng.normal(size=20).astype(np.float32)
    np.testing.assert_allclose(w.hidden_input(v, c), W.T @ v + c[:, None], atol=1e-5)
    np.testing.assert_allclose(w.visible_input(h, b), W @ h + b[:, None], atol=1e-5)
    s, s_h = w.statistics(h, v)
    np.testing.assert_allclose(s, (h @ v.T)[w.row_of_each(), w.indices], rtol=1e-5)
    np.testing.assert_allclose(s_h, h.sum(axis=1), rtol=1e-5)


@pytest.mark.parametrize("topology", ["fixprob", "dense"])
def test_probabilities_and_free_energy_match_the_dense_reference(topology):
    model = tiny_model(n_visible=12, n_hidden=7, topology=topology)
    W, mask, b, c = dense_state(model)
    assert np.all(W[mask == 0] == 0)
    X = binary_data(40, 12, seed=1)
    np.testing.assert_allclose(model.transform(X), sigmoid(X @ W + c), atol=1e-6)
    np.testing.assert_allclose(model.free_energy(X), free_energy(W, b, c, X), atol=1e-5)
    np.testing.assert_allclose(model.reconstruct(X, sample_hidden=False),
                               sigmoid(sigmoid(X @ W + c) @ W.T + b), atol=1e-6)


@pytest.mark.parametrize("topology", ["fixprob", "dense"])
@pytest.mark.parametrize("k, sample_visible", [(1, True), (3, True), (2, False)])
def test_cd_estimate_matches_the_dense_reference_with_the_same_random_numbers(
        topology, k, sample_visible):
    model = tiny_model(n_visible=12, n_hidden=7, topology=topology, k=k,
                       sample_visible=sample_visible)
    W, mask, b, c = dense_state(model)
    X = binary_data(30, 12, seed=2)
    dW, db, dc = model.cd_estimate(X, random_state=np.random.default_rng(5))
    ref_W, ref_b, ref_c, _ = cd_estimate(W, mask, b, c, X, k, np.random.default_rng(5),
                                         sample_visible)
    w = model.weights_
    stored = ref_W[w.indices, w.row_of_each()] if w.sparse else ref_W.T
    np.testing.assert_allclose(dW, stored, atol=2e-6)
    np.testing.assert_allclose(db, ref_b, atol=2e-6)
    np.testing.assert_allclose(dc, ref_c, atol=2e-6)


@pytest.mark.parametrize("topology", ["fixprob", "dense"])
def test_one_training_step_is_the_reference_sgd_update(topology):
    lr, mu, decay = 0.05, 0.5, 0.01
    model = tiny_model(n_visible=12, n_hidden=7, topology=topology, lr=lr, momentum=mu,
                       weight_decay=decay, batch_size=16, warm_start=True)
    W, mask, b, c = dense_state(model)
    X = binary_data(32, 12, seed=3)
    rng = np.random.default_rng()
    rng.bit_generator.state = model.rng_.bit_generator.state
    model.fit(X, epochs=1)
    order = rng.permutation(32)
    u_W, u_b, u_c = np.zeros_like(W), np.zeros_like(b), np.zeros_like(c)
    errors = []
    for batch in (order[:16], order[16:]):
        dW, db, dc, error = cd_estimate(W, mask, b, c, X[batch], 1, rng)
        errors.append(error)
        u_W = mu * u_W + lr * (dW - decay * W)
        u_b, u_c = mu * u_b + lr * db, mu * u_c + lr * dc
        W, b, c = W + u_W, b + u_b, c + u_c
    W_model, _, b_model, c_model = dense_state(model)
    np.testing.assert_allclose(W_model, W, atol=1e-5)
    np.testing.assert_allclose(b_model, b, atol=1e-5)
    np.testing.assert_allclose(c_model, c, atol=1e-5)
    assert model.history_["train_reconstruction_error"][0] == pytest.approx(np.mean(errors),
                                                                            rel=1e-5)


def _exact_and_tiled(model, n_copies=2000):
    W, mask, b, c = dense_state(model)
    X = binary_data(20, 8, seed=7)
    gW, gb, gc = exact.log_likelihood_gradient(W, b, c, X)
    w = model.weights_
    return np.concatenate([gW[w.indices, w.row_of_each()], gb, gc]), np.tile(X, (n_copies, 1))


def _relative_error(model, truth, X, seed):
    estimate = np.concatenate(model.cd_estimate(X, random_state=np.random.default_rng(seed)))
    return np.linalg.norm(estimate - truth) / np.linalg.norm(truth)


def test_cd_k_approaches_the_exact_gradient_as_k_grows():
    # 40,000 chains (each training row 2,000 times): Monte-Carlo error ~0.3 % of the gradient.
    model = tiny_model(epsilon=2.0, weight_std=2.0)
    truth, X = _exact_and_tiled(model)
    errors = {}
    for k in (1, 2, 5, 25):
        model.k = k
        errors[k] = _relative_error(model, truth, X, seed=k)
    assert errors[1] > 0.1  # CD-1's bias with these large weights
    assert errors[1] > 2 * errors[2] > 4 * errors[5] > 0
    assert errors[25] < 0.012, errors


def test_persistent_chains_approach_the_exact_gradient_without_restarting():
    model = tiny_model(epsilon=2.0, weight_std=2.0, persistent=True)
    truth, X = _exact_and_tiled(model)
    first = _relative_error(model, truth, X, seed=0)
    for seed in range(1, 10):  # the model does not change, the chains move on
        last = _relative_error(model, truth, X, seed=seed)
    assert model.chain_.shape == (6, X.shape[0])
    assert first > 0.1 and last < 0.012


@pytest.mark.parametrize("step", [1e-5, 1e-3, 0.02, 0.3])
def test_ais_hidden_step_adds_the_softplus_difference_and_samples_at_beta(step):
    rng = np.random.default_rng(8)
    x = (rng.normal(size=(30, 40)) * 20).astype(np.float32)
    beta = 0.6
    u = rng.random(x.shape, dtype=np.float32)
    h, log_w = np.empty_like(x), np.full(40, 3.0)
    kernels.ais_hidden_step(x, beta, step, u, h, log_w)
    z = x.astype(np.float64)
    expected = np.logaddexp(0, beta * z) - np.logaddexp(0, (beta - step) * z)
    np.testing.assert_allclose(log_w - 3.0, expected.sum(axis=0), rtol=1e-6, atol=1e-9)
    p = 1 / (1 + np.exp(-beta * z))
    decided = np.abs(u - p) > 1e-6  # float32 vs float64 probabilities
    np.testing.assert_array_equal(h[decided], (u < p)[decided])


def test_ais_visible_step_samples_the_tempered_conditional():
    rng = np.random.default_rng(9)
    y = rng.normal(size=(25, 40)).astype(np.float32) * 5
    b, a = rng.normal(size=25).astype(np.float32), rng.normal(size=25)
    u = rng.random(y.shape, dtype=np.float32)
    v, linear = np.empty_like(y), np.zeros(40)
    kernels.ais_visible_step(y, b, a, 0.7, u, v, linear)
    p = 1 / (1 + np.exp(-(0.7 * (y + b[:, None]) + 0.3 * a[:, None])))
    decided = np.abs(u - p) > 1e-5
    np.testing.assert_array_equal(v[decided], (u < p)[decided])
    np.testing.assert_allclose(linear, (b - a) @ v, rtol=1e-6, atol=1e-6)
