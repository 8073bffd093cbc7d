"""The driver's side of a run: the server actor, the shards, the epoch tasks, lost workers.

Phase 1 keeps one task per live worker in flight; a worker whose epoch-``e`` task returns
gets its epoch ``e + 1`` task at once (no barrier: the server evolves when an epoch's
gradients are in, while other workers still hold the old topology). Phase 2 runs one local
task per worker and epoch, then asks the server to average.

Failure policy: a training worker that disappears (its process killed, its machine gone) is
reported and the run goes on without it: the server applies each push whole, so it stays
consistent and only the lost worker's in-flight gradient (phase 1) or its local epoch
(phase 2) is lost; its shard is split over the remaining workers from the next epoch on.
When the server's worker disappears, or no training worker is left, the model rolls back
to the last epoch the driver received whole, and :class:`TrainingInterrupted` says so.
"""
import math
import time
import uuid
from concurrent.futures import CancelledError

import numpy as np

from .cluster import ServerLost, call_server, place, worker_addresses
from .server import ParameterServer
from .shards import shard_indices
from .state import build_model, layer_states, restore_states
from .worker import async_epoch, local_epoch


def _warm_up():
    from ..nn import kernels
    kernels.warm_up()


class TrainingInterrupted(RuntimeError):
    """Training cannot go on (the server or every worker lost); ``model`` is consistent."""

    def __init__(self, message, model, failures):
        super().__init__(message)
        self.model, self.failures = model, failures


class Run:
    """One data-parallel training run on a connected client (see the module docstring)."""

    def __init__(self, client, model, X, y, n_workers, n_async, epochs, max_staleness, seed,
                 validation=None, poll=0.2):
        self.client, self.model, self.X, self.y = client, model, X, y
        self.params = model.get_params()
        self.shape = (model.n_features_in_, model.n_classes_)
        self.n_async, self.epochs, self.seed, self.poll = n_async, epochs, seed, poll
        self.validation = validation
        self.steps_per_epoch = math.ceil(X.shape[0] / min(model.batch_size, X.shape[0]))
        self.token = uuid.uuid4().hex[:8]
        self.server_address, addresses = place(client, n_workers)
        # numba's kernels load (or compile) once per process, before any epoch is timed
        client.run(_warm_up, workers=[self.server_address, *addresses])
        self.alive = dict(enumerate(addresses))  # worker index -> address
        self.n_workers = len(addresses)
        self.failures, self.rows, self.closed = [], [], []
        self.last_states = layer_states(model)  # the last consistent state the driver has
        self.evaluator = build_model(self.params, *self.shape) if validation else None
        # the actor lives as long as its future: kept until close()
        self._server_future = client.submit(
            ParameterServer, self.params, *self.shape, self.last_states, self.steps_per_epoch,
            n_async, epochs, max_staleness, actor=True, workers=[self.server_address],
            key=f"setcourse-parallel-server-{self.token}", pure=False)
        self.server = self._server_future.result()
        self.shard_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0]))
        self._scatter_shards()
        self.task_stats = {}

    def close(self):
        """Release the server actor and the shards on the workers (their memory)."""
        self.shards = {}
        self.server = None
        self._server_future.release()

    # -- data -------------------------------------------------------------------------------
    def _scatter_shards(self):
        """One shard per live worker, sent straight to it (never through the scheduler)."""
        workers = sorted(self.alive)
        parts = shard_indices(self.X.shape[0], len(workers), self.shard_rng)
        self.shards = {}
        for worker, index in zip(workers, parts):
            address = self.alive[worker]
            X_part, y_part = self.client.scatter([self.X[index], self.y[index]],
                                                 workers=[address], direct=True)
            self.shards[worker] = (X_part, y_part, index.size)

    # -- tasks ------------------------------------------------------------------------------
    def _submit(self, function, worker, epoch, *extra):
        X_part, y_part, _ = self.shards[worker]
        return self.client.submit(
            function, self.server, X_part, y_part, self.params, self.shape, epoch, worker,
            self.seed, *extra, workers=[self.alive[worker]], allow_other_workers=False,
            key=f"setcourse-parallel-{self.token}-{function.__name__}-e{epoch}-w{worker}",
            pure=False)

    def _wait(self, running):
        """Finished ``(worker, epoch, stats)`` of ``running`` ({future: (worker, epoch)}),
        after at most one poll; lost workers are reported and their tasks dropped."""
        from distributed import wait
        finished = []
        try:
            done, _ = wait(list(running), timeout=self.poll, return_when="FIRST_COMPLETED")
        except TimeoutError:  # nothing finished within the poll (Dask raises, not returns)
            done = []
        except CancelledError:  # a task's shard was lost with its worker: Dask forgot it
            done = [future for future in running if future.done()]
        for future in done:
            worker, epoch = running.pop(future)
            try:
                finished.append((worker, epoch, future.result()))
            except Exception as error:
                present = worker_addresses(self.client)
                if self.server_address not in present:  # the push failed: no server
                    self._interrupt(f"the parameter server's worker {self.server_address} "
                                    f"left", running)
                lost = (future.status == "cancelled" or type(error).__name__ == "KilledWorker"
                        or self.alive.get(worker) not in present)
                if not lost:  # the task failed where it ran (a divergence, a bug): not a loss
                    raise RuntimeError(f"worker {worker}'s task of epoch {epoch} failed: "
                                       f"{type(error).__name__}: {error}") from error
                self._lose(worker, epoch, f"{type(error).__name__}: {error}".strip(": "))
            future.release()
        self._check_alive(running)
        return finished

    def _check_alive(self, running):
        present = set(worker_addresses(self.client))
        if self.server_address not in present:
            self._interrupt(f"the parameter server's worker {self.server_address} left", running)
        for worker, address in list(self.alive.items()):
            if address not in present:
                epochs = [e for f, (w, e) in running.items() if w == worker]
                for future in [f for f, (w, _) in running.items() if w == worker]:
                    del running[future]  # restricted to the lost worker: it cannot run elsewhere
                    future.cancel()
                self._lose(worker, epochs[0] if epochs else None, "its worker process left "
                           "the cluster")
        if not self.alive:
            self._interrupt("no training worker is left", running)

    def _lose(self, worker, epoch, cause):
        if worker not in self.alive:
            return
        address = self.alive.pop(worker)
        samples = self.shards[worker][2]
        local = epoch is not None and epoch >= self.n_async
        lost = (f"its local epoch {epoch} (a pass over {samples} samples): epoch {epoch} is the "
                f"average of the other workers' models" if local else
                f"at most one gradient in flight (the server applies a push whole); its "
                f"{samples} samples are split over the remaining workers from the next epoch")
        report = {"worker": worker, "address": address, "epoch": epoch,
                  "phase": "local" if local else "async", "cause": cause, "lost": lost,
                  "remaining_workers": sorted(self.alive)}
        self.failures.append(report)
        if self.alive:
            self._scatter_shards()

    def _interrupt(self, why, running=()):
        for future in list(running):
            future.cancel()
        model = build_model(self.params, *self.shape)
        restore_states(model, self.last_states)
        epoch = len(self.rows)
        raise TrainingInterrupted(
            f"data-parallel training stopped in epoch {epoch}: {why}; the model is rolled back "
            f"to the end of epoch {epoch - 1} (the last state received whole)" if epoch else
            f"data-parallel training stopped in epoch 0: {why}; the model is the initial one",
            model, self.failures)

    # -- phases -----------------------------------------------------------------------------
    def run(self):
        """Train every epoch; returns the history rows."""
        self._phase_async()
        record = None
        for epoch in range(self.n_async, self.epochs):
            record = self._local(epoch, record)
        if record is not None:
            self._close(record, {})
        for row in self.rows:  # a record may close before its last task has returned
            stats = self.task_stats.get(row["epoch"], [])
            row["seconds_compute"] = sum(s["seconds_compute"] for s in stats)
            row["seconds_wait"] = sum(s["seconds_wait"] for s in stats)
        return self.rows

    def _phase_async(self):
        if self.n_async == 0:
            return
        running = {self._submit(async_epoch, w, 0): (w, 0) for w in sorted(self.alive)}
        while len(self.rows) < self.n_async:
            for worker, epoch, stats in self._wait(running):
                self.task_stats.setdefault(epoch, []).append(stats)
                if worker in self.alive and epoch + 1 < self.n_async:
                    running[self._submit(async_epoch, worker, epoch + 1)] = (worker, epoch + 1)
            for epoch in self._server_call("status")["closed"]:
                self._close(self._server_call("record", epoch), running)
            if not running and len(self.rows) < self.n_async:
                # every task ended but the epoch did not close: the workers were lost
                self._interrupt("no training worker is left", running)
        while running:  # the other workers' last tasks end at their next push ("stop")
            for _, epoch, stats in self._wait(running):
                self.task_stats.setdefault(epoch, []).append(stats)

    def _local(self, epoch, previous):
        """Local epoch ``epoch``; the previous local epoch's record is evaluated meanwhile
        (as phase 1 overlaps evaluation and training). Returns this epoch's record."""
        evolve = epoch > self.n_async  # after an async epoch, the server has evolved already
        running = {self._submit(local_epoch, w, epoch, evolve): (w, epoch)
                   for w in sorted(self.alive)}
        if previous is not None:
            self._close(previous, running)
        while running:
            for _, epoch_done, stats in self._wait(running):
                self.task_stats.setdefault(epoch_done, []).append(stats)
        self._server_call("average", epoch)
        return self._server_call("record", epoch)

    def _server_call(self, method, *args):
        try:
            return call_server(self.server, method, *args, client=self.client)
        except ServerLost as error:
            self._interrupt(str(error), {})
        except Exception:
            self._check_alive({})  # the server's worker left: interrupt, else the error
            raise

    # -- history ----------------------------------------------------------------------------
    def _close(self, record, running):
        """The history row of a closed epoch (evaluated on its snapshot, before evolution)."""
        epoch = record["epoch"]
        self.last_states = record.pop("states")
        start = time.perf_counter()
        if self.evaluator is not None:
            restore_states(self.evaluator, self.last_states)
            test_loss, test_accuracy = self.evaluator.evaluate(*self.validation)
        else:
            test_loss = test_accuracy = float("nan")
        seen = max(record["seen"], 1)
        started = self.closed[-1] if self.closed else record["started"]
        self.closed.append(record["closed"])
        row = {"epoch": epoch, "phase": record["phase"],
               "train_loss": record["loss_sum"] / seen, "train_accuracy": record["correct"] / seen,
               "test_loss": test_loss, "test_accuracy": test_accuracy,
               "seconds_epoch": record["closed"] - started,
               "seconds_server": record["seconds_server"],
               "seconds_evolution": record["seconds_evolution"],
               "seconds_evaluation": time.perf_counter() - start,
               "workers": len(record["by_worker"]),
               "steps_by_worker": [record["by_worker"].get(w, 0) for w in range(self.n_workers)],
               "accepted": record["accepted"], "rejected_stale": record["rejected_stale"],
               "rejected_topology": record["rejected_topology"],
               "dropped_gradients": record["dropped_gradients"],
               "mean_staleness": record["staleness_sum"] / max(record["accepted"], 1),
               "max_staleness": record["staleness_max"], "nnz": record["nnz"],
               "stopped": False, "step": record["step"]}
        self.rows.append(row)
