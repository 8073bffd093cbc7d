"""Every strategy: selectable by one argument, saved and loaded with its state, resumable."""
import numpy as np
import pytest

from setcourse.evolution import (DSR, DST, STRATEGIES, FixProb, RigL, SET, SparseMomentum,
                                 strategy_for)
from setcourse import MLP

NEW = {"dsr": DSR, "sparse_momentum": SparseMomentum, "dst": DST, "rigl": RigL}


def test_registry_keeps_the_engine_strategies_and_adds_the_variants():
    assert STRATEGIES["set"] is SET and STRATEGIES["fixprob"] is FixProb
    for name, cls in NEW.items():
        assert STRATEGIES[name] is cls and cls.name == name
        assert isinstance(strategy_for(name), cls)
    assert strategy_for("dense") is None
    with pytest.raises(ValueError, match="rigl"):
        strategy_for("rigel")


@pytest.mark.parametrize("topology", [
    "dsr", "sparse_momentum", "dst", "rigl",
    DSR(update_period=5, n_prune_target=50), SparseMomentum(prune_rate=0.3, decay="constant"),
    DST(alpha=1e-3), RigL(drop_fraction=0.2, update_period=5, decay="constant")])
def test_save_load_round_trip_and_resume(tiny_data, tmp_path, topology):
    X, y = tiny_data
    model = MLP(hidden=(64, 64), topology=topology, epsilon=4, epochs=2, batch_size=32,
                seed=1).fit(X, y)
    path = model.save(tmp_path / "model.npz")
    loaded = MLP.load(path)
    assert type(loaded.strategy_) is type(model.strategy_)
    assert loaded.strategy_.get_params() == model.strategy_.get_params()
    for name, value in vars(model.strategy_).items():
        if name.endswith("_") and not isinstance(value, (list, np.ndarray)) or name == "n_pruned_":
            assert getattr(loaded.strategy_, name) == value, name
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.nnz_ == model.nnz_  # DST's classifier too: it is a DSTLayer, thresholds restored
    loaded.set_params(warm_start=True).fit(X, y, epochs=1)
    assert loaded.history_.n_epochs == 3 and np.isfinite(loaded.history_["train_loss"]).all()


def test_loaded_dst_model_masks_its_classifier_too(tiny_data, tmp_path):
    X, y = tiny_data
    model = MLP(hidden=(64,), topology="dst", epochs=1, seed=1).fit(X, y)
    loaded = MLP.load(model.save(tmp_path / "dst.npz"))
    assert type(loaded.layers_[-1]) is type(model.layers_[-1])
