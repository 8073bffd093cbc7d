"""What a worker runs: one epoch of phase 1 (push gradients) or of phase 2 (train locally).

Both are plain top-level functions run as Dask tasks on the worker that holds the shard. A
worker keeps no state between epochs: each task pulls the server's model first, so a task
can run on any worker and a restarted worker needs nothing but its shard.
"""
import contextlib
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

from ..nn import kernels
from .cluster import call_server
from .state import build_model, gradients, layer_states, restore_states, set_weight_values

#: streams of a worker's random numbers (batch order, dropout, local evolution)
ASYNC, LOCAL = 1, 2


def worker_rng(seed, epoch, worker, phase):
    """The generator of worker ``worker`` in ``epoch``: independent of every other one."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(phase), int(epoch),
                                                         int(worker)]))


def _limits(model):
    # as the engine's loop: a sparse model keeps BLAS (only its small dense layers) at one thread
    return (threadpool_limits(limits=1, user_api="blas") if model.is_sparse
            else contextlib.nullcontext())


def async_epoch(server, X, y, params, shape, epoch, worker, seed):
    """Phase 1 on one worker: push gradients of its shard's batches until epoch ``epoch``
    closes on the server (or phase 1 ends); returns the worker's timings and counts.

    ``X`` ``(n, n_features)`` float32 and ``y`` ``(n,)`` are the worker's shard; ``shape`` is
    ``(n_features, n_classes)``. The shard is cycled (reshuffled at each pass): an epoch is a
    number of accepted gradients on the server, whatever their worker.
    """
    start = time.perf_counter()
    model = build_model(params, *shape)
    reply = call_server(server, "pull")
    stats = {"worker": worker, "epoch": epoch, "pushed": 0, "accepted": 0,
             "seconds_compute": 0.0, "seconds_wait": 0.0, "seconds_setup": 0.0}
    if reply["epoch"] > epoch:  # the other workers closed this epoch before we started
        return stats
    restore_states(model, reply["states"])
    version, read_step = reply["version"], reply["step"]
    rng = model.rng_ = worker_rng(seed, epoch, worker, ASYNC)
    n, batch_size = X.shape[0], min(model.batch_size, X.shape[0])
    order, cursor = rng.permutation(n), 0
    stats["seconds_setup"] = time.perf_counter() - start
    with _limits(model), np.errstate(over="ignore", invalid="ignore"):
        while True:
            t0 = time.perf_counter()
            if cursor >= n:
                order, cursor = rng.permutation(n), 0
            index = order[cursor:cursor + batch_size]
            cursor += batch_size
            xb = np.empty((X.shape[1], index.size), dtype=np.float32)
            kernels.gather_feature_major(X, index, xb)
            yb = y[index]
            logits = model.forward(xb, training=True)
            loss, grad = model.loss_.loss_and_grad(logits, yb)
            if not math.isfinite(loss):
                raise FloatingPointError(f"training diverged on worker {worker}: the loss "
                                         f"became {loss} in epoch {epoch + 1}")
            model.backward(grad)
            correct = int(np.sum(np.argmax(logits, axis=0) == yb))
            grads = gradients(model)
            t1 = time.perf_counter()
            reply = call_server(server, "push", worker, version, read_step, grads,
                                loss * yb.size, correct, yb.size)
            t2 = time.perf_counter()
            stats["pushed"] += 1
            stats["accepted"] += bool(reply["accepted"])
            if reply["stop"]:
                break
            if "states" in reply:  # the topology changed: take it whole
                restore_states(model, reply["states"])
            else:
                set_weight_values(model, reply["values"])
            version, read_step = reply["version"], reply["step"]
            stats["seconds_compute"] += t1 - t0
            stats["seconds_wait"] += t2 - t1
            if reply["epoch"] > epoch:
                break
    return stats


def local_epoch(server, X, y, params, shape, epoch, worker, seed, evolve):
    """Phase 2 on one worker: pull the merged model, evolve it locally when ``evolve`` (the
    evolution step after the previous local epoch), train one pass over the shard with the
    engine's loop and deposit the result on the server; returns timings and counts."""
    start = time.perf_counter()
    model = build_model({**params, "warm_start": True}, *shape)
    reply = call_server(server, "pull")
    if reply["epoch"] != epoch:
        raise RuntimeError(f"worker {worker} was given local epoch {epoch}, but the server "
                           f"is at epoch {reply['epoch']}")
    restore_states(model, reply["states"])
    model.rng_ = worker_rng(seed, epoch, worker, LOCAL)
    model.epoch_, model.step_ = epoch, reply["step"]
    seconds_evolution = 0.0
    if evolve and model.strategy_ is not None:
        t = time.perf_counter()
        model.strategy_.at_epoch_end(model, epoch - 1)
        seconds_evolution = time.perf_counter() - t
    setup = time.perf_counter() - start
    model.fit(X, y, epochs=1)
    row = model.history_.last()
    steps = math.ceil(X.shape[0] / min(model.batch_size, X.shape[0]))
    counts = {"loss_sum": row["train_loss"] * X.shape[0],
              "correct": int(round(row["train_accuracy"] * X.shape[0])), "seen": X.shape[0],
              "steps": steps}
    t = time.perf_counter()
    call_server(server, "deposit", worker, epoch, layer_states(model), counts)
    return {"worker": worker, "epoch": epoch, "pushed": 1, "accepted": 1, "steps": steps,
            "seconds_compute": row["seconds_epoch"], "seconds_wait": time.perf_counter() - t,
            "seconds_setup": setup, "seconds_local_evolution": seconds_evolution}
