"""The history the training loop fills, and how it is written."""
import json
import os

import pytest

from nn.helpers import tiny_data
from setcourse import MLP
from setcourse.callbacks import History


def test_history_is_json_serialisable_and_complete():
    X, y = tiny_data(n=60)
    model = MLP(hidden=(10,), epsilon=2, epochs=2, seed=0).fit(X, y, validation_data=(X, y))
    data = json.loads(model.history_.to_json())
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "nnz",
                "seconds_forward", "seconds_backward", "seconds_update", "seconds_evolution",
                "seconds_evaluation"):
        assert len(data[key]) == 2, key


def test_history_json_file_is_written_atomically(tmp_path, monkeypatch):
    history = History()
    history.append({"epoch": 0, "train_loss": 1.5})
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "history.json"
    assert json.loads(history.to_json(path)) == json.loads(path.read_text()) == {
        "epoch": [0], "train_loss": [1.5]}

    def crash(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    history.append({"epoch": 1, "train_loss": 1.0})
    with pytest.raises(OSError, match="disk full"):
        history.to_json(path)
    assert json.loads(path.read_text())["epoch"] == [0]  # the old file, whole
    assert [p.name for p in path.parent.iterdir()] == ["history.json"]  # no temporary left
