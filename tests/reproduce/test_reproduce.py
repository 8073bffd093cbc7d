"""The reproduction protocol, its report, the pretrained-runs file and its provenance."""
import dataclasses
import gzip
import json
import os

import numpy as np
import pytest

from setcourse.reproduce.pretrained import load_pretrained, pack, pretrained_path
from setcourse.reproduce.protocols import FASHION_MNIST_SET, protocol
from setcourse.reproduce.run import Reproduction, reproduce
from setcourse.sweep.aggregate import mean_sd


def test_the_protocol_is_the_tutorials():
    specs = FASHION_MNIST_SET.specs(range(5))
    assert len(specs) == 15
    by_label = {}
    for spec in specs:
        by_label.setdefault(FASHION_MNIST_SET.label_of(spec), []).append(spec)
    assert {label: len(v) for label, v in by_label.items()} == {"SET": 5, "FixProb": 5, "Dense": 5}
    set_spec = by_label["SET"][0]
    assert (set_spec["n_train"], set_spec["n_test"], set_spec["subset"]) == (5000, 1000, "tutorial")
    assert set_spec["hidden"] == [1000, 1000, 1000] and set_spec["epochs"] == 400
    assert (set_spec["epsilon"], set_spec["zeta"], set_spec["dropout"], set_spec["batch_size"]) == \
        (13, 0.3, 0.2, 40)
    assert set_spec["weight_decay_mode"] == "decoupled" and set_spec["init"] == "dense_fan_in"
    assert by_label["Dense"][0]["lr"] == 0.04 and set_spec["lr"] == 0.05
    # the original's table, as the issue quotes it
    assert mean_sd(FASHION_MNIST_SET.original["SET"])[0] == pytest.approx(0.8436)
    assert mean_sd(FASHION_MNIST_SET.original["Dense"])[1] == pytest.approx(0.0134, abs=1e-4)


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="protocol must be one of fashion-mnist-set"):
        protocol("cifar")
    with pytest.raises(ValueError, match="models must be among SET, FixProb, Dense"):
        FASHION_MNIST_SET.specs(models=["RigL"])
    with pytest.raises(ValueError, match="seeds must be a positive"):
        reproduce(seeds=0)


TINY = dataclasses.replace(
    FASHION_MNIST_SET, name="tiny",
    base={**FASHION_MNIST_SET.base, "dataset": "digits", "n_train": 300, "n_test": 100,
          "subset": "stratified", "hidden": [24, 16], "epsilon": 4, "epochs": 3, "batch_size": 30},
    models={"SET": FASHION_MNIST_SET.models["SET"], "Dense": FASHION_MNIST_SET.models["Dense"]})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from setcourse.reproduce import protocols
    protocols.PROTOCOLS["tiny"] = TINY
    out = tmp_path_factory.mktemp("tiny")
    try:
        yield reproduce("tiny", out, seeds=2, n_workers=1, progress=None,
                        dashboard_address=None), out
    finally:
        protocols.PROTOCOLS.pop("tiny", None)


def test_a_tiny_reproduction_reports_beside_the_original(tiny):
    result, _ = tiny
    assert result.labels() == ["SET", "Dense"]
    assert len(result.of("SET")) == 2
    text = result.table()
    assert "SET" in text and "0.8436 ± 0.0045" in text and "(2 seeds, 3 ep)" in text
    assert "feature selection" in text
    epochs, mean, sd = result.curve("SET")
    assert list(epochs) == [1, 2, 3] and mean.shape == (3,) and np.isfinite(sd).all()
    selection = result.feature_selection("SET")
    assert selection["epoch"] == [0, 1, 2, 3]
    figure = result.figure()
    assert [ax.get_title() for ax in figure.axes][0].startswith("Test accuracy")


def test_a_pack_round_trips_and_is_checked(tiny, tmp_path):
    from setcourse.reproduce import protocols
    result, _ = tiny
    protocols.PROTOCOLS["tiny"] = TINY
    try:
        path = pack(result, tmp_path / "tiny.json.gz", note="test")
        loaded = load_pretrained("tiny", path)
        assert loaded.provenance["note"] == "test"
        assert loaded.final_accuracies("SET") == result.final_accuracies("SET")
        document = json.loads(gzip.open(path, "rt").read())
        document["runs"][0]["history"]["test_accuracy"][0] = 7.0
        with gzip.open(tmp_path / "bad.json.gz", "wt") as handle:
            json.dump(document, handle)
        with pytest.raises(ValueError, match="bad.json.gz: run 0 .*numbers in \\[0, 1\\]"):
            load_pretrained("tiny", tmp_path / "bad.json.gz")
        (tmp_path / "junk.json.gz").write_bytes(b"not gzip")
        with pytest.raises(ValueError, match="junk.json.gz: not a readable"):
            load_pretrained("tiny", tmp_path / "junk.json.gz")
    finally:
        protocols.PROTOCOLS.pop("tiny", None)


needs_pretrained = pytest.mark.skipif(not pretrained_path("fashion-mnist-set").exists(),
                                      reason="no pretrained runs packed yet")


@needs_pretrained
def test_the_pretrained_runs_load_with_their_provenance():
    runs = load_pretrained("fashion-mnist-set")
    assert set(runs.labels()) >= {"SET", "FixProb"}
    for label in runs.labels():
        for run in runs.of(label):
            assert len(run["history"]["test_accuracy"]) == run["spec"]["epochs"]
    assert runs.provenance["command"].startswith("python -m setcourse reproduce")
    selection = runs.feature_selection("SET")
    assert selection is not None and len(selection["r"]) == len(selection["epoch"])
    degrees = runs.of("SET")[0]["records"]["degrees"]
    assert len(degrees["final"]["hidden_in"]) == 2 and len(degrees["final"]["input_out"]) == 784


@needs_pretrained
def test_a_short_rerun_of_the_stored_spec_reproduces_the_first_epochs():
    """Bit for bit on the processor that made them; elsewhere within 0.01 (float32 sums in
    another order or width: a few test images change class after two epochs)."""
    from setcourse import MLP
    from setcourse.data import DataUnavailableError, load
    from setcourse.reproduce.pretrained import cpu_model
    from setcourse.sweep.grid import split_spec
    runs = load_pretrained("fashion-mnist-set")
    stored = runs.of("SET")[0]
    spec = dict(stored["spec"], epochs=2, recorders=[])
    data_args, params, _ = split_spec(spec)
    # The tests' data isolation hides the system folders: name Debian's copy (CI installs
    # dataset-fashion-mnist) or a folder given by SETCOURSE_TEST_FASHION_MNIST.
    folder = os.environ.get("SETCOURSE_TEST_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
    if not os.path.isdir(folder):
        pytest.skip(f"Fashion-MNIST is not on this machine (looked in {folder})")
    try:
        data = load(**data_args, data_dir=folder)
    except DataUnavailableError as error:
        pytest.skip(f"Fashion-MNIST could not be read from {folder}: {error}")
    model = MLP(**params).fit(data.X_train, data.y_train,
                              validation_data=(data.X_test, data.y_test))
    ours = model.history_["test_accuracy"]
    theirs = stored["history"]["test_accuracy"][:2]
    if runs.provenance.get("cpu") == cpu_model():
        assert ours == theirs
    else:
        np.testing.assert_allclose(ours, theirs, atol=0.01)


def test_the_long_run_figures_are_titled_and_labelled(tiny):
    from setcourse.reproduce.figures import (connections_at, plot_accuracy_curves,
                                             plot_converged_connectivity, plot_hubs)
    result, _ = tiny
    run = result.of("SET")[0]
    epoch, values = connections_at(run, 400)
    assert epoch == 3 and values.shape == (64,)   # the last stored epoch of a 3-epoch run
    for figure in (plot_converged_connectivity(result, epochs=(0, 3)), plot_hubs(result),
                   plot_accuracy_curves(result)):
        axes = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
        assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in axes)
