"""The estimator: data-parallel SET (WASAP-SGD's two phases) whose result is an ordinary MLP."""
import inspect
import math
import warnings

import numpy as np

from .._validation import (Integer, Interval, Optional, check_features, check_labels,
                           check_params, check_validation_data, integer_labels)
from ..callbacks import History
from ..evolution import SET, FixProb
from ..model import MLP

#: topologies whose evolution happens at epoch ends only (the server evolves once per epoch)
TOPOLOGIES = ("set", "fixprob")


class DataParallelSET:
    """Train one sparse MLP on several Dask workers, WASAP-SGD style.

    Phase 1 (asynchronous), the first ``1 - local_fraction`` of the epochs: every worker holds
    a shard of the data and a copy of the model, computes the gradient of a mini-batch and
    pushes it to a parameter server (a Dask actor), which applies it with the engine's own
    momentum SGD step and replies with the current weights. Gradients staler than
    ``max_staleness`` server steps are rejected; gradients of connections that evolution
    removed meanwhile are dropped. An epoch is ``ceil(n_samples / batch_size)`` accepted
    gradients, as in the engine; at its end the server evolves the topology once (SET).
    Phase 2 (local), the last ``local_fraction`` of the epochs: each worker evolves and trains
    its copy for one pass over its shard; the server averages the copies and prunes the union
    of their connections back to each layer's count (:mod:`~setcourse.parallel.averaging`).

    Parameters
    ----------
    mlp : MLP, optional
        The model's hyper-parameters (``hidden``, ``epsilon``, ``lr``, ``epochs``, ...; not
        fitted, its ``seed`` replaced by ``seed``); default ``MLP()``. Its topology must be
        ``"set"`` or ``"fixprob"`` (a :class:`SET` or :class:`FixProb` object too): the rules
        that rewire within an epoch need every gradient in one place.
    n_workers : int >= 1
        Training workers (the local cluster has one more process, the server's).
    local_fraction : float in [0, 1]
        Share of the epochs trained locally (phase 2), rounded half up; the original switches
        after 70 % of the epochs (``epoch > 0.7 * num_epochs``): 0.3.
    max_staleness : int >= 0, optional
        Largest staleness accepted (server steps between a worker's read and its push).
        Default ``2 * n_workers``: with ``n`` workers each holding one gradient in flight,
        a gradient finds about ``n - 1`` others applied before it; twice that lets timing
        jitter through and rejects a worker that stalled. The original computes the staleness
        but accepts every asynchronous update.
    seed : int >= 0
        Seeds everything: the model (topology, weights), the shards, every worker's batch
        order and dropout, evolution on the server and on the workers.
    scheduler_address : str, optional
        A running Dask scheduler to use instead of a LocalCluster of ``n_workers + 1``
        processes (one thread each, numba and BLAS at one thread).
    client : distributed.Client, optional
        A connected client to use (left open).
    poll_interval : float > 0
        Seconds between the driver's checks for lost workers.

    Attributes
    ----------
    model_ : MLP
        The trained model: ``predict``, ``save``, the analysis tools work as on any MLP; its
        ``history_`` has the engine's keys and the run's (``phase``, ``seconds_compute``,
        ``seconds_wait``, ``rejected_stale``, ``dropped_gradients``, ``mean_staleness``, ...).
    history_ : History
    failures_ : list of dict
        One report per lost worker: ``worker``, ``address``, ``epoch``, ``phase``, ``cause``,
        ``lost``, ``remaining_workers``.
    n_async_epochs_, max_staleness_ : int
    """

    RULES = {"n_workers": Integer(1), "local_fraction": Interval(0, 1),
             "max_staleness": Optional(Integer(0)), "seed": Integer(0),
             "poll_interval": Interval(0, None, low_open=True)}

    def __init__(self, mlp=None, n_workers=2, local_fraction=0.3, max_staleness=None, seed=0,
                 scheduler_address=None, client=None, poll_interval=0.2):
        self.mlp = mlp
        self.n_workers = n_workers
        self.local_fraction = local_fraction
        self.max_staleness = max_staleness
        self.seed = seed
        self.scheduler_address = scheduler_address
        self.client = client
        self.poll_interval = poll_interval

    def get_params(self):
        """Constructor arguments (scikit-learn style)."""
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return {name: getattr(self, name) for name in names}

    def validate_params(self):
        """Check every parameter; raise ValueError naming the bad one and what is allowed."""
        check_params(self.get_params(), self.RULES)
        if self.mlp is not None and not isinstance(self.mlp, MLP):
            raise ValueError(f"mlp must be a setcourse.MLP (or None); got {self.mlp!r:.80}")
        mlp = self.mlp if self.mlp is not None else MLP()
        topology = mlp.topology
        if not (topology in TOPOLOGIES or isinstance(topology, (SET, FixProb))):
            raise ValueError(f"mlp.topology must be one of {', '.join(TOPOLOGIES)} (or a SET "
                             f"or FixProb object) for data-parallel training; got {topology!r}")
        mlp.validate_params()
        if self.scheduler_address is not None and not isinstance(self.scheduler_address, str):
            raise ValueError(f"scheduler_address must be a string such as "
                             f"'tcp://host:8786'; got {self.scheduler_address!r}")
        if self.client is not None and not hasattr(self.client, "submit"):
            raise ValueError(f"client must be a distributed.Client; got {self.client!r:.80}")
        return mlp

    def fit(self, X, y, validation_data=None, epochs=None):
        """Train on ``X`` ``(n_samples, n_features)`` and labels ``y``; returns ``self``.

        ``validation_data=(X_test, y_test)`` is evaluated after every epoch, on the epoch's
        snapshot before evolution (as the engine does). A lost worker is reported in
        ``failures_`` (and warned about) and training goes on without it. When the server's
        worker is lost, or every training worker, :class:`~setcourse.parallel.driver.
        TrainingInterrupted` is raised; its ``model`` is the model rolled back to the last
        epoch the driver received whole (see :mod:`~setcourse.parallel.driver`).
        """
        from .cluster import connect
        from .driver import Run
        template = self.validate_params()
        epochs = template.epochs if epochs is None else epochs
        Integer(1).check("epochs", epochs)
        X = np.ascontiguousarray(check_features(X))
        if X.shape[0] < self.n_workers:
            raise ValueError(f"n_workers={self.n_workers} needs at least as many samples; "
                             f"X has {X.shape[0]}")
        validation = None
        if validation_data is not None:
            X_test, y_test = check_validation_data(validation_data)
            X_test = check_features(X_test, X.shape[1], "X_test")
        n_classes = template.n_classes
        if n_classes is None:
            labels = [integer_labels(y)] + ([integer_labels(y_test, "y_test")]
                                            if validation_data is not None else [])
            n_classes = max(2, max(int(lab.max()) + 1 if lab.size else 0 for lab in labels))
        y = check_labels(y, X.shape[0], n_classes)
        if validation_data is not None:
            validation = (X_test, check_labels(y_test, X_test.shape[0], n_classes, "y_test"))
        model = MLP(**{**template.get_params(), "seed": self.seed, "epochs": epochs,
                       "warm_start": False})
        model.build(X.shape[1], n_classes, n_samples=X.shape[0])
        self.n_async_epochs_ = epochs - int(math.floor(self.local_fraction * epochs + 0.5))
        self.max_staleness_ = (2 * self.n_workers if self.max_staleness is None
                               else int(self.max_staleness))
        with connect(self.n_workers, self.scheduler_address, self.client) as client:
            run = Run(client, model, X, y, self.n_workers, self.n_async_epochs_, epochs,
                      self.max_staleness_, self.seed, validation, self.poll_interval)
            self.server_address_ = run.server_address
            self.worker_addresses_ = dict(run.alive)
            try:
                rows = run.run()
            finally:
                run.close()
                self.failures_ = run.failures
                for report in run.failures:
                    warnings.warn(describe_failure(report), RuntimeWarning, stacklevel=2)
        from .state import restore_states
        restore_states(model, run.last_states)
        model.history_ = History()
        for row in rows:
            model.history_.append(row)
        model.epoch_, model.step_ = epochs, rows[-1]["step"]
        model.stop_training_ = False
        self.model_, self.history_ = model, model.history_
        return self

    # -- the fitted model -------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise RuntimeError("this DataParallelSET is not fitted yet: call fit(X, y) first")

    def predict(self, X):
        """Predicted class per sample (the trained :attr:`model_`'s)."""
        self._check_fitted()
        return self.model_.predict(X)

    def score(self, X, y):
        """Accuracy on ``(X, y)``."""
        self._check_fitted()
        return self.model_.score(X, y)


def describe_failure(report):
    """One sentence for a lost worker's report."""
    where = "before its first task" if report["epoch"] is None else (
        f"in epoch {report['epoch']} ({report['phase']} phase)")
    return (f"data-parallel SET: worker {report['worker']} ({report['address']}) was lost "
            f"{where}: {report['cause']}. Lost: {report['lost']}. Training went on with "
            f"worker(s) {report['remaining_workers']}.")
