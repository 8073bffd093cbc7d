"""The pytest plugin of ``course check``: records each nbval cell's outputs, writes them as JSON.

Active only in the subprocess that :func:`setcourse.course.grade.run_nbval` starts
(``-p setcourse.course.plugin --setcourse-capture=FILE``). The captured cells live on one
:class:`CellCapture` object registered per pytest session, not in module state, so two
sessions in one process (e.g. ``pytester``) never see each other's cells.
"""
import json
from pathlib import Path

PLUGIN_NAME = "setcourse-capture"


class CellCapture:
    """Collects ``{file, cell_num, outputs, timeout}`` per nbval cell; writes them at the end."""

    def __init__(self, target):
        self.target = Path(target)
        self.cells = []

    def pytest_runtest_makereport(self, item, call):
        """Record an nbval cell's outputs once it has run (nbval keeps them in ``test_outputs``)."""
        if call.when != "call" or not hasattr(item, "cell_num"):
            return None
        message = str(call.excinfo.value) if call.excinfo is not None else ""
        self.cells.append({
            "file": str(item.path), "cell_num": item.cell_num,
            "outputs": [dict(output) for output in item.test_outputs or []],
            "timeout": message if "Timeout" in message else "",
        })
        return None

    def pytest_sessionfinish(self, session):
        self.target.write_text(json.dumps(self.cells, default=str))


def pytest_addoption(parser):
    parser.addoption("--setcourse-capture", default=None,
                     help="setcourse: write each notebook cell's outputs to this JSON file")


def pytest_configure(config):
    target = config.getoption("setcourse_capture", None)
    if target:
        config.pluginmanager.register(CellCapture(target), PLUGIN_NAME)
