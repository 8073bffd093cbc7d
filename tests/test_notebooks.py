"""The course notebooks: stripped in git, following the course conventions, and running top to
bottom (instructor sources and student copies) under ``pytest --nbval-lax`` in fast mode."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import setcourse.checks

ROOT = Path(__file__).resolve().parents[1]
SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")
INSTRUCTOR = sorted((ROOT / "instructor").rglob("*.ipynb"))
STUDENT = sorted((ROOT / "course").rglob("*.ipynb"))
NOTEBOOKS = [p for p in INSTRUCTOR + STUDENT if ".ipynb_checkpoints" not in p.parts]
EXERCISES = {"01": "erdos_renyi_mask", "02": "set_prune", "03": "in_degrees"}
TUTORIALS = [p for p in NOTEBOOKS if not p.parent.name.startswith("05_")]


def ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def read(path):
    return nbformat.read(path, as_version=4)


def test_there_are_notebooks():
    modules = {p.parent.name for p in INSTRUCTOR}
    assert {"01_dense_vs_sparse", "02_set", "03_topology", "04_dst_variants"} <= modules
    assert {p.relative_to(ROOT / "instructor") for p in INSTRUCTOR} == \
        {p.relative_to(ROOT / "course") for p in STUDENT}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_outputs_are_stripped(path):
    nb = read(path)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs: strip them before committing"
            assert cell.execution_count is None, f"cell {index} has an execution count"
    assert "widgets" not in nb.metadata, "saved widget state is output too"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_conventions(path):
    nb = read(path)
    text = "\n".join(cell.source for cell in nb.cells)
    first = nb.cells[0].source
    assert first.startswith("# "), "the first cell is the title"
    assert "Estimated time" in first, "the title cell lacks 'Estimated time'"
    # No badges until the course is published: a link to a repository that does not exist fails.
    assert "colab-badge" not in first and "mybinder.org" not in first
    assert "## Summary" in text or "Task 4" in text
    # The setup itself is a package function (tested in tests/course/test_session.py): the
    # notebooks call it rather than copying it, and silence no warning of the library.
    setup = [c for c in nb.cells if c.cell_type == "code" and "FAST, data = setup(" in c.source]
    assert len(setup) == 1, "one setup cell calls setcourse.course.setup"
    assert "from setcourse.course import setup" in setup[0].source
    assert setup[0].metadata.get("jupyter", {}).get("source_hidden"), "the setup cell is collapsed"
    assert "filterwarnings" not in text, "the library warns only where a warning is due"


@pytest.mark.parametrize("path", TUTORIALS, ids=ids(TUTORIALS))
def test_tutorial_sections(path):
    text = "\n".join(cell.source for cell in read(path).cells if cell.cell_type == "markdown")
    for heading in ("Interactive demo", "Think!", "next:"):
        assert heading in text, f"no {heading!r} section"
    if path.parent.name[:2] in EXERCISES:
        assert "Coding exercise" in text
        exercises = [c.metadata.get("setcourse", {}).get("exercise") for c in read(path).cells]
        assert EXERCISES[path.parent.name[:2]] in exercises


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_every_exercise_is_checked_by_the_next_cell(path):
    cells = read(path).cells
    for index, cell in enumerate(cells):
        exercise = cell.metadata.get("setcourse", {}).get("exercise")
        if exercise is None:
            continue
        checker = f"check_{exercise}"
        assert hasattr(setcourse.checks, checker), f"setcourse.checks has no {checker}"
        assert f"{checker}({exercise})" in cells[index + 1].source, \
            f"the cell after exercise {exercise!r} must call {checker}({exercise})"
        if path.is_relative_to(ROOT / "instructor"):
            assert "### BEGIN SOLUTION" in cell.source


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["instructor", "course"])
def test_notebooks_run_in_fast_mode(folder, tmp_path):
    """Every notebook runs top to bottom in a fresh kernel: nbval, SETCOURSE_FAST=1."""
    paths = [str(p) for p in (INSTRUCTOR if folder == "instructor" else STUDENT)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["SETCOURSE_FAST"] = "1"
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
               "--nbval-sanitize-with", str(SANITIZE), "--nbval-cell-timeout=600",
               "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(tmp_path),
               "-c", os.devnull, "-q", *paths]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
