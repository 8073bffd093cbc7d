"""Bad parameters and data are refused before any cluster starts, naming what is wrong."""
import numpy as np
import pytest

from setcourse import MLP
from setcourse.parallel import DataParallelSET

from parallel.helpers import tiny_data


@pytest.mark.parametrize("params, message", [
    ({"n_workers": 0}, r"n_workers must be an integer >= 1; got 0"),
    ({"n_workers": 1.5}, r"n_workers must be an integer >= 1; got 1.5"),
    ({"local_fraction": 1.5}, r"local_fraction must be a number in \[0, 1\]; got 1.5"),
    ({"local_fraction": float("nan")}, r"local_fraction must be a number in \[0, 1\]"),
    ({"max_staleness": -1}, r"max_staleness must be an integer >= 0; got -1"),
    ({"seed": None}, r"seed must be an integer >= 0; got None"),
    ({"poll_interval": 0}, r"poll_interval must be a number in \(0, inf\); got 0"),
    ({"mlp": "set"}, r"mlp must be a setcourse.MLP \(or None\); got 'set'"),
    ({"mlp": MLP(topology="rigl")}, r"mlp.topology must be one of set, fixprob .*got 'rigl'"),
    ({"mlp": MLP(topology="dense")}, r"mlp.topology must be one of set, fixprob"),
    ({"mlp": MLP(lr=-1)}, r"lr must be a number in \(0, inf\); got -1"),
    ({"scheduler_address": 8786}, r"scheduler_address must be a string .*got 8786"),
    ({"client": "tcp://x"}, r"client must be a distributed.Client"),
])
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        DataParallelSET(**params).fit(*tiny_data(20))


def test_bad_data_and_epochs_are_named():
    X, y = tiny_data(20)
    with pytest.raises(ValueError, match="n_workers=3 needs at least as many samples; X has 2"):
        DataParallelSET(n_workers=3).fit(X[:2], y[:2])
    with pytest.raises(ValueError, match="epochs must be an integer >= 1; got 0"):
        DataParallelSET().fit(X, y, epochs=0)
    with pytest.raises(ValueError, match="X contains NaN"):
        DataParallelSET().fit(np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="one label per sample"):
        DataParallelSET().fit(X, y[:5])
    with pytest.raises(ValueError, match="validation_data must be a pair"):
        DataParallelSET().fit(X, y, validation_data=X)


def test_an_unfitted_estimator_says_so():
    with pytest.raises(RuntimeError, match="not fitted yet"):
        DataParallelSET().predict(np.zeros((1, 3)))


def test_get_params_are_the_constructor_arguments():
    est = DataParallelSET(n_workers=3, seed=4)
    assert est.get_params()["n_workers"] == 3 and est.get_params()["seed"] == 4
    assert set(est.get_params()) == {"mlp", "n_workers", "local_fraction", "max_staleness",
                                     "seed", "scheduler_address", "client", "poll_interval"}
