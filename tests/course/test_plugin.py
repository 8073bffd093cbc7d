"""The capture plugin keeps its cells on the plugin object: two sessions never share them."""
import json
from types import SimpleNamespace

from setcourse.course.plugin import CellCapture


def fake_cell(path, number, text):
    item = SimpleNamespace(path=path, cell_num=number,
                           test_outputs=[{"output_type": "stream", "text": text}])
    return item, SimpleNamespace(when="call", excinfo=None)


def test_each_capture_writes_only_its_own_cells(tmp_path):
    first, second = CellCapture(tmp_path / "a.json"), CellCapture(tmp_path / "b.json")
    first.pytest_runtest_makereport(*fake_cell("a.ipynb", 0, "one"))
    second.pytest_runtest_makereport(*fake_cell("b.ipynb", 3, "two"))
    setup = SimpleNamespace(when="setup", excinfo=None)
    first.pytest_runtest_makereport(fake_cell("a.ipynb", 1, "")[0], setup)  # not a cell run
    for capture in (first, second):
        capture.pytest_sessionfinish(None)
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert [(c["file"], c["cell_num"]) for c in a] == [("a.ipynb", 0)]
    assert [(c["file"], c["cell_num"], c["outputs"][0]["text"]) for c in b] == [("b.ipynb", 3, "two")]
