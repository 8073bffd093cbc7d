"""The parameter server: the one authoritative copy of the model (a Dask actor).

Phase 1 (asynchronous, WASAP-SGD's first phase): :meth:`ParameterServer.push` applies one
worker's gradient with the engine's own optimiser step, after two checks the original makes
at its master (``wasap_sgd/mpi/process.py``, ``do_update_sequence``; ``train/model.py``,
``retain_valid_updates``): the gradient's staleness (server steps applied since the worker
read its weights) and its topology (gradients of connections removed by an evolution step
since are dropped). Every ``steps_per_epoch`` accepted gradients close an epoch: the server
keeps a snapshot and evolves the topology once (the model's own strategy, e.g. SET).
Phase 2 (local): workers :meth:`deposit` the models they trained for an epoch and
:meth:`average` merges them (:mod:`~setcourse.parallel.averaging`).

A push is applied whole or not at all (the actor runs one call at a time), so a worker that
dies leaves the server consistent: at most its in-flight gradient is lost.
"""
import time

import numpy as np

from .align import align_gradient
from .averaging import average_dense, average_sparse
from .state import (build_model, layer_states, restore_states, state_positions, topology,
                    weight_values)

#: counters of an epoch, kept by the server (summed over workers)
COUNTERS = ("accepted", "rejected_stale", "rejected_topology", "dropped_gradients",
            "staleness_sum", "staleness_max", "loss_sum", "correct", "seen")


class OutsideGradient:
    """A layer's parameters with a gradient computed elsewhere, as the optimiser sees a layer.

    The engine's own :meth:`SGD.step <setcourse.nn.optim.SGD.step>` applies it (the same
    kernels as a single process); the layer's own gradient arrays are never touched, and
    the optimiser is told not to fuse this update into a backward pass the server never runs.
    """

    fuses_update = False

    def __init__(self, layer, grad, bias_grad):
        self.layer = layer
        self.grad = np.asarray(grad, dtype=np.float32).reshape(-1)
        self.bias_grad = np.asarray(bias_grad, dtype=np.float32)
        values = layer.weight_values()
        if self.grad.size != values.size or self.bias_grad.shape != layer.bias.shape:
            raise ValueError(f"a gradient of {self.grad.size} weights and {self.bias_grad.size} "
                             f"biases for a layer of {values.size} and {layer.bias.size}")

    def parameters(self):
        layer = self.layer
        return [(layer.weight_values(), self.grad, layer.weight_velocity),
                (layer.bias, self.bias_grad, layer.bias_velocity)]


class ParameterServer:
    """The model, its optimiser state and topology; workers push gradients and pull weights.

    Parameters
    ----------
    params : dict
        The :class:`~setcourse.MLP`'s parameters (its seed builds the same initial model).
    n_features, n_classes : int
    states : list of dict
        The driver's initial layer states (:func:`~setcourse.parallel.state.layer_states`).
    steps_per_epoch : int
        Accepted gradients per epoch, ``ceil(n_samples / batch_size)`` as in the engine.
    n_async, epochs : int
        Epochs of phase 1, and in all (no evolution after the last one).
    max_staleness : int
        Gradients read more than this many server steps ago are rejected.
    """

    def __init__(self, params, n_features, n_classes, states, steps_per_epoch, n_async, epochs,
                 max_staleness):
        self.model = build_model(params, n_features, n_classes)
        restore_states(self.model, states)
        self.steps_per_epoch = int(steps_per_epoch)
        self.n_async, self.epochs = int(n_async), int(epochs)
        self.max_staleness = int(max_staleness)
        if self.model.strategy_ is not None:
            self.model.strategy_.setup(self.model, self.steps_per_epoch, self.epochs)
        self.step = self.epoch = self.version = 0
        # topologies a gradient may have been computed on: the current one and the one before
        self._positions = {0: topology(self.model)}
        self.records = {}
        self._deposits = {}
        self._open_epoch()

    # -- phase 1 ----------------------------------------------------------------------------
    def pull(self):
        """The whole state (topology, weights, velocities) and where the server stands."""
        return {**self._where(), "states": layer_states(self.model)}

    def push(self, worker, version, read_step, grads, loss_sum, correct, seen):
        """Apply one gradient unless stale; reply with the weights to compute the next on.

        Parameters
        ----------
        worker : int
        version, read_step : int
            Topology version and server step of the weights the gradient was computed on.
        grads : list of ``(weight_grad, bias_grad)``, one per layer, aligned with that topology
        loss_sum, correct, seen : float, int, int
            The batch's summed loss, correct predictions and size (the epoch's train metrics).

        Returns
        -------
        dict with ``accepted``, ``stop`` (phase 1 is over), ``step``, ``epoch``, ``version``,
        and ``states`` (when the topology changed since ``version``) or ``values``.
        """
        if self.epoch >= self.n_async:
            return {**self._where(), "accepted": False, "stop": True}
        counts = self._counts
        staleness = self.step - int(read_step)
        if staleness > self.max_staleness:
            counts["rejected_stale"] += 1
            return self._reply(version, False)
        if version not in self._positions:  # older than the previous topology
            counts["rejected_topology"] += 1
            return self._reply(version, False)
        start = time.perf_counter()
        old, new = self._positions[version], self._positions[self.version]
        steps = []
        for layer, (grad, bias_grad), old_pos, new_pos in zip(self.model.layers_, grads, old, new):
            if version != self.version and layer.sparse:
                grad, dropped = align_gradient(old_pos, grad, new_pos)
                counts["dropped_gradients"] += dropped
            steps.append(OutsideGradient(layer, grad, bias_grad))
        self.model.optimizer_.step(steps)
        self.step += 1
        self.model.step_ = self.step
        counts["accepted"] += 1
        counts["staleness_sum"] += staleness
        counts["staleness_max"] = max(counts["staleness_max"], staleness)
        counts["loss_sum"] += float(loss_sum)
        counts["correct"] += int(correct)
        counts["seen"] += int(seen)
        self._by_worker[worker] = self._by_worker.get(worker, 0) + 1
        self._seconds_apply += time.perf_counter() - start
        if self.step % self.steps_per_epoch == 0:
            self._close_epoch("async", evolve=True)
        return self._reply(version, True)

    def _reply(self, version, accepted):
        reply = {**self._where(), "accepted": accepted, "stop": False}
        if version != self.version:
            reply["states"] = layer_states(self.model)
        else:
            reply["values"] = weight_values(self.model)  # copies: the reply is sent later
        return reply

    def _where(self):
        return {"step": self.step, "epoch": self.epoch, "version": self.version}

    # -- phase 2 ----------------------------------------------------------------------------
    def deposit(self, worker, epoch, states, counts):
        """Keep worker ``worker``'s model after its local epoch ``epoch``; returns how many
        models epoch ``epoch`` has."""
        if epoch != self.epoch:
            raise ValueError(f"worker {worker} deposited a model of epoch {epoch}, but the "
                             f"server is at epoch {self.epoch}")
        self._deposits[worker] = (states, counts)
        return len(self._deposits)

    def average(self, epoch):
        """Merge the deposited models of local epoch ``epoch`` into the server's model.

        Weights, velocities and biases are averaged; each sparse layer's union of
        connections is pruned back to the layer's own connection count. Returns the
        workers averaged and the union sizes.
        """
        if epoch != self.epoch or not self._deposits:
            raise ValueError(f"no model of epoch {epoch} to average (server at epoch "
                             f"{self.epoch}, {len(self._deposits)} deposited)")
        start = time.perf_counter()
        workers = sorted(self._deposits)
        models = [self._deposits[w][0] for w in workers]
        unions = []
        for index, layer in enumerate(self.model.layers_):
            states = [model[index] for model in models]
            if layer.sparse:
                parts = [(state_positions(s, layer.n_in), s["data"], s["velocity"])
                         for s in states]
                unions.append(int(np.unique(np.concatenate([p for p, _, _ in parts])).size))
                layer.set_connections(*average_sparse(parts, layer.nnz))
            else:
                unions.append(layer.nnz)
                layer.weight_values()[...] = average_dense([s["weights"] for s in states])
                layer.weight_velocity[...] = average_dense([s["velocity"] for s in states])
            layer.bias[...] = average_dense([s["bias"] for s in states])
            layer.bias_velocity[...] = average_dense([s["bias_velocity"] for s in states])
        for worker in workers:
            counts = self._deposits[worker][1]
            for key in ("loss_sum", "correct", "seen"):
                self._counts[key] += counts[key]
            self._by_worker[worker] = counts["steps"]
        self._seconds_apply += time.perf_counter() - start
        self._deposits = {}
        self._counts["accepted"] = sum(self._by_worker.values())
        self.step += self._counts["accepted"]
        self._close_epoch("local", evolve=False, extra={"averaged": workers, "unions": unions})
        self.version += 1  # the merge changed the topology
        self._positions = {self.version: topology(self.model)}
        return {"averaged": workers, "unions": unions}

    # -- epochs -----------------------------------------------------------------------------
    def _open_epoch(self):
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._by_worker = {}
        self._seconds_apply = 0.0
        self._started = time.time()

    def _close_epoch(self, phase, evolve, extra=None):
        """Snapshot the epoch just trained (before evolution, as the engine evaluates), then
        evolve the topology once unless it was the last epoch."""
        epoch = self.epoch
        record = {"epoch": epoch, "phase": phase, **self._counts, "by_worker": self._by_worker,
                  "seconds_server": self._seconds_apply, "started": self._started,
                  "closed": time.time(), "step": self.step, "states": layer_states(self.model),
                  "nnz": [layer.nnz for layer in self.model.layers_], "seconds_evolution": 0.0,
                  **(extra or {})}
        strategy = self.model.strategy_
        if evolve and strategy is not None and epoch < self.epochs - 1:
            start = time.perf_counter()
            strategy.at_epoch_end(self.model, epoch)
            record["seconds_evolution"] = time.perf_counter() - start
            self.version += 1
            self._positions = {self.version - 1: self._positions[self.version - 1],
                               self.version: topology(self.model)}
        self.records[epoch] = record
        self.epoch += 1
        self.model.epoch_ = self.epoch
        self._open_epoch()

    def record(self, epoch):
        """The record of closed epoch ``epoch`` (counters, timings, its snapshot), handed over
        once: the driver keeps the last one for a rollback."""
        return self.records.pop(epoch, None)

    def status(self):
        """Where the server stands, and the epochs closed but not yet handed over."""
        return {**self._where(), "closed": sorted(self.records)}
