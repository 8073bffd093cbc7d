"""Data-parallel SET on a real LocalCluster of 2 worker processes (shared by the session)."""
import os
import signal
import threading
import time

import numpy as np
import pytest

from setcourse import MLP
from setcourse.parallel import DataParallelSET
from setcourse.parallel.worker import ASYNC, LOCAL, worker_rng

from parallel.helpers import tiny_data

pytest.importorskip("distributed")
PARAMS = dict(hidden=(16, 12), epsilon=3, batch_size=32, dropout=0.3, lr=0.05, epochs=3)


def assert_consistent(model, nnz):
    """Connection counts as at the start, finite values, a valid sorted CSR index."""
    assert model.nnz_ == nnz
    for layer in model.layers_:
        state = layer.state_arrays()
        type(layer).check_state(state, layer.n_in, layer.n_out)  # sorted, distinct, finite
        assert all(np.isfinite(a).all() for a in state.values() if a.dtype.kind == "f")


def engine_by_hand(X, y, seed, n_async, epochs):
    """What one worker and the server compute, done by a single process with the engine:
    its forward/backward/optimiser step, SET on the server's generator, then local epochs
    with the engine's own fit (the average of one model is that model)."""
    model = MLP(**{**PARAMS, "seed": seed, "epochs": epochs}).build(X.shape[1], 3)
    evolution_rng = model.rng_
    for epoch in range(n_async):
        model.rng_ = worker_rng(seed, epoch, 0, ASYNC)
        order = model.rng_.permutation(X.shape[0])
        for start in range(0, X.shape[0], model.batch_size):
            index = order[start:start + model.batch_size]
            logits = model.forward(np.ascontiguousarray(X[index].T), training=True)
            model.backward(model.loss_.loss_and_grad(logits, y[index])[1])
            model.optimizer_.step(model.layers_)
        if epoch < epochs - 1:
            model.rng_ = evolution_rng
            model.strategy_.at_epoch_end(model, epoch)
    model.warm_start = True
    for epoch in range(n_async, epochs):
        model.rng_ = worker_rng(seed, epoch, 0, LOCAL)
        if epoch > n_async:
            model.strategy_.at_epoch_end(model, epoch - 1)
        model.fit(X, y, epochs=1)
    return model


def test_one_worker_is_the_engine_in_both_phases(client):
    X, y = tiny_data(100)
    est = DataParallelSET(MLP(**PARAMS), n_workers=1, local_fraction=1 / 3, seed=5,
                          client=client).fit(X, y)
    assert est.n_async_epochs_ == 2 and est.history_["phase"] == ["async", "async", "local"]
    assert est.server_address_ not in est.worker_addresses_.values()  # a process of its own
    reference = engine_by_hand(X, y, 5, 2, 3)
    for mine, theirs in zip(est.model_.layers_, reference.layers_):
        for name, array in theirs.state_arrays().items():
            # bit for bit: the same kernels on the same batches in the same order
            np.testing.assert_array_equal(mine.state_arrays()[name], array, err_msg=name)
    assert est.history_["max_staleness"] == [0, 0, 0] and est.failures_ == []


def test_two_workers_train_one_consistent_model(client, tmp_path):
    X, y = tiny_data(800)
    X, y, X_test, y_test = X[:600], y[:600], X[600:], y[600:]
    est = DataParallelSET(MLP(**PARAMS), n_workers=2, local_fraction=1 / 3, seed=0,
                          client=client).fit(X, y, validation_data=(X_test, y_test))
    initial = MLP(**{**PARAMS, "seed": 0}).build(12, 3).nnz_
    assert_consistent(est.model_, initial)
    history = est.history_
    assert history["nnz"] == [initial] * 3 and history["phase"] == ["async", "async", "local"]
    assert history["accepted"][:2] == [19, 19]  # ceil(600 / 32) gradients per epoch
    assert min(history["steps_by_worker"][2]) > 0  # both averaged
    assert max(history["max_staleness"]) <= est.max_staleness_ == 4
    assert history["test_accuracy"][-1] == est.score(X_test, y_test) > 0.45
    from setcourse.analysis.degrees import in_degrees
    assert in_degrees(est.model_.layers_[0]).sum() == initial[0]  # the analysis tools take it
    path = tmp_path / "model.npz"
    est.model_.save(path)
    np.testing.assert_array_equal(MLP.load(path).predict(X_test), est.predict(X_test))
    assert est.failures_ == []


def test_a_killed_worker_is_reported_and_the_model_stays_consistent(client):
    X, y = tiny_data(3000)  # 375 gradients per epoch at batch 8: long enough to aim at
    est = DataParallelSET(MLP(**{**PARAMS, "batch_size": 8}), n_workers=2, local_fraction=1 / 3,
                          seed=1, client=client, poll_interval=0.1)
    outcome = {}

    def train():
        with pytest.warns(RuntimeWarning, match="worker 1 .* was lost in epoch") as warned:
            outcome["est"] = est.fit(X, y)
        outcome["warnings"] = [str(w.message) for w in warned]

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.monotonic() + 60
    while not hasattr(est, "worker_addresses_") and time.monotonic() < deadline:
        time.sleep(0.02)
    victim = est.worker_addresses_[1]
    assert victim != est.server_address_  # the server shares worker 0's process
    pid = client.run(os.getpid, workers=[victim])[victim]
    while (not any("async_epoch-e0-w1" in str(key) for key in client.processing()[victim])
           and time.monotonic() < deadline):
        time.sleep(0.02)
    time.sleep(0.3)  # well inside epoch 0 (about 2 s) or the start of epoch 1
    os.kill(pid, signal.SIGKILL)
    thread.join(120)
    assert not thread.is_alive() and "est" in outcome
    [report] = est.failures_
    assert report["worker"] == 1 and report["address"] == victim
    assert report["phase"] == "async" and report["epoch"] in (0, 1)
    assert report["remaining_workers"] == [0] and "in flight" in report["lost"]
    assert f"in epoch {report['epoch']}" in outcome["warnings"][0]
    history = est.history_
    assert history["phase"] == ["async", "async", "local"]
    assert history["accepted"][:2] == [375, 375]  # the epochs completed on worker 0
    assert history["steps_by_worker"][2][0] > 0 == history["steps_by_worker"][2][1]
    initial = MLP(**{**PARAMS, "seed": 1}).build(12, 3).nnz_
    assert_consistent(est.model_, initial)
    assert est.score(X, y) > 0.45
    _wait_for_workers(client, 2)  # the nanny restarts the process for the other tests


def _wait_for_workers(client, n, timeout=60):
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info(n_workers=-1)["workers"]) < n and time.monotonic() < deadline:
        time.sleep(0.2)


def test_a_killed_server_rolls_the_model_back_to_the_last_whole_epoch(client):
    from setcourse.parallel import TrainingInterrupted
    X, y = tiny_data(3000)
    est = DataParallelSET(MLP(**{**PARAMS, "batch_size": 8}), n_workers=1, seed=2,
                          client=client, poll_interval=0.1)
    outcome = {}

    def train():
        try:
            est.fit(X, y)
        except TrainingInterrupted as error:
            outcome["error"] = error

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.monotonic() + 60
    while not hasattr(est, "worker_addresses_") and time.monotonic() < deadline:
        time.sleep(0.02)
    server = est.server_address_
    assert server not in est.worker_addresses_.values()  # the fixture's other process
    pid = client.run(os.getpid, workers=[server])[server]
    while (not any("async_epoch-e1-w0" in str(key)
                   for keys in client.processing().values() for key in keys)
           and time.monotonic() < deadline):
        time.sleep(0.02)
    time.sleep(0.3)  # inside epoch 1
    os.kill(pid, signal.SIGKILL)
    thread.join(120)
    assert not thread.is_alive()
    error = outcome["error"]
    assert "parameter server's worker" in str(error) and "rolled back to the end of epoch" in str(
        error)
    initial = MLP(**{**PARAMS, "seed": 2}).build(12, 3).nnz_
    assert_consistent(error.model, initial)
    assert error.model.score(X, y) > 0.4  # trained for at least one epoch
    _wait_for_workers(client, 2)


def test_the_command_line_on_a_running_scheduler(client, tmp_path, capsys):
    from setcourse.parallel.__main__ import main
    model, history = tmp_path / "model.npz", tmp_path / "history.json"
    assert main(["--dataset", "digits", "--hidden", "16", "--epsilon", "2", "--epochs", "2",
                 "--batch-size", "64", "--workers", "2", "--local-fraction", "0.5",
                 "--scheduler", client.scheduler.address, "--save", str(model),
                 "--history", str(history)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("epoch 1/2 async") and lines[1].startswith("epoch 2/2 local")
    assert MLP.load(model).history_["phase"] == ["async", "local"] and history.exists()
