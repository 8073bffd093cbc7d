"""Data-parallel SET on Dask: WASAP-SGD's asynchronous and local phases, an ordinary MLP out.

::

    from setcourse import MLP
    from setcourse.parallel import DataParallelSET
    run = DataParallelSET(MLP(hidden=(1000, 1000, 1000), epochs=10), n_workers=2, seed=0)
    run.fit(X_train, y_train, validation_data=(X_test, y_test))
    run.model_.save("model.npz")                 # an ordinary setcourse.MLP

Modules, one concept each: :mod:`~setcourse.parallel.estimator` (the API),
:mod:`~setcourse.parallel.driver` (tasks, phases, lost workers),
:mod:`~setcourse.parallel.server` (the parameter-server actor),
:mod:`~setcourse.parallel.worker` (a worker's epoch), :mod:`~setcourse.parallel.align`
(gradients across topology changes), :mod:`~setcourse.parallel.averaging` (phase 2's merge),
:mod:`~setcourse.parallel.shards`, :mod:`~setcourse.parallel.state`,
:mod:`~setcourse.parallel.cluster`. Names are imported on first use: ``import
setcourse.parallel`` loads neither Dask nor numba.
"""
_EXPORTS = {"DataParallelSET": "estimator", "describe_failure": "estimator",
            "TrainingInterrupted": "driver", "ParameterServer": "server",
            "align_gradient": "align", "average_sparse": "averaging",
            "shard_indices": "shards"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
