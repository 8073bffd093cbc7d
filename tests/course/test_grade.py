"""The course tool's grading: notebooks run in a kernel, checker reports read back per exercise."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course.notebook_fixtures import fixture_notebook
from setcourse import course

ROOT = Path(__file__).resolve().parents[2]


def test_check_rejects_a_non_positive_timeout(capsys):
    with pytest.raises(SystemExit) as exit_info:
        course.main(["check", "x.ipynb", "--timeout", "0"])
    assert exit_info.value.code == 2
    assert "--timeout must be > 0 seconds, got 0.0" in capsys.readouterr().err


def test_summarize_reads_checker_reports_errors_and_timeouts():
    nb = course.student_notebook(fixture_notebook(), "m/x.ipynb")
    stream = lambda text: {"output_type": "stream", "name": "stdout", "text": text}  # noqa: E731
    error = lambda name, value: {"output_type": "error", "ename": name,  # noqa: E731
                                 "evalue": value, "traceback": []}
    cells = [
        {"cell_num": 0, "outputs": [], "timeout": ""},
        {"cell_num": 1, "outputs": [], "timeout": ""},
        {"cell_num": 2, "outputs": [stream("✗ set_prune: failed — 1 of 8 test cases pass.\n"
                                           "    hint:     look here\n")], "timeout": ""},
        {"cell_num": 3, "outputs": [error("KeyboardInterrupt", "")],
         "timeout": "Timeout of 3 seconds exceeded executing cell"},
        {"cell_num": 4, "outputs": [error("NameError", "name 'in_degrees' is not defined")],
         "timeout": ""},
        {"cell_num": 5, "outputs": [error("\x1b[31mValueError", "bad")], "timeout": ""},
    ]
    result = course.summarize("x.ipynb", nb, cells)
    assert [(r.exercise, r.status) for r in result.exercises] == [
        ("set_prune", "failed"), ("in_degrees", "failed")]
    assert result.exercises[0].details == ["hint:     look here"]
    assert result.exercises[1].details == [
        "cell 3 (def in_degrees(W):) exceeded the time limit: "
        "Timeout of 3 seconds exceeded executing cell"]
    # The exercise cell's own trouble is in its result; only the other cells are listed here.
    assert result.cell_errors == [
        "cell 4 (check_in_degrees(in_degrees)) raised NameError: name 'in_degrees' is not defined",
        "cell 5 (print('the end')) raised ValueError: bad"]
    assert result.passed == 0 and not result.ok


# --- running notebooks in a kernel (slower: one pytest + kernel per notebook) -----------------


@pytest.mark.slow
def test_check_grades_a_folder_of_submissions(submissions):
    root, folder = submissions
    report = root / "report.json"
    run = subprocess.run([sys.executable, "-m", "setcourse.course", "check", str(folder),
                          "--timeout", "4", "--json", str(report)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr  # not every notebook has full marks
    assert not (root / "conftest_ran").exists()
    results = {Path(r["path"]).stem: r for r in json.loads(report.read_text())}
    status = {name: [(e["exercise"], e["status"]) for e in r["exercises"]]
              for name, r in results.items()}
    assert status["a_untouched"] == [("set_prune", "not attempted"),
                                     ("in_degrees", "not attempted")]
    assert status["b_solved"] == [("set_prune", "passed"), ("in_degrees", "passed")]
    assert status["c_wrong"] == [("set_prune", "failed"), ("in_degrees", "passed")]
    assert status["d_endless"] == [("set_prune", "failed"), ("in_degrees", "not attempted")]
    assert results["a_untouched"]["cell_errors"] == []
    assert results["b_solved"]["cell_errors"] == []
    hint = "\n".join(results["c_wrong"]["exercises"][0]["details"])
    assert "case:" in hint and "expected:" in hint and "got:" in hint
    assert "time limit" in results["d_endless"]["exercises"][0]["details"][0]
    out = run.stdout
    assert "score: 0/2" in out and "score: 2/2" in out and "score: 1/2" in out
    assert "○ set_prune" in out and "✓ in_degrees" in out and "✗ set_prune" in out
    assert "summary:" in out


@pytest.mark.slow
def test_check_exit_code_is_zero_for_full_marks(submissions):
    root, folder = submissions
    assert course.main(["check", str(folder / "b_solved.ipynb"), "--timeout", "60"]) == 0


# --- the repository's instructor notebooks and the checkers agree ----------------------------

def repository_exercises():
    """(notebook, exercise id, exercise cell, next code cell) for every exercise in instructor/."""
    found = []
    folder = ROOT / "instructor"
    for path in course.notebooks_under(folder) if folder.is_dir() else []:
        cells = nbformat.read(path, as_version=4).cells
        code = [cell for cell in cells if cell.cell_type == "code"]
        for index, cell in enumerate(code):
            if course.exercise_of(cell):
                following = code[index + 1] if index + 1 < len(code) else None
                found.append((path.relative_to(ROOT).as_posix(), course.exercise_of(cell), cell,
                              following))
    return found


EXERCISES = repository_exercises()


@pytest.mark.skipif(not EXERCISES, reason="no exercises in instructor/ yet")
@pytest.mark.parametrize("where, exercise, cell, following", EXERCISES,
                         ids=[f"{e[0]}:{e[1]}" for e in EXERCISES])
def test_every_instructor_exercise_has_a_checker_its_solution_passes(where, exercise, cell,
                                                                     following, capsys):
    import numpy as np
    import scipy.sparse as sp

    from setcourse import checks
    checker = getattr(checks, f"check_{exercise}", None)
    assert checker is not None, f"{where}: setcourse.checks has no check_{exercise}"
    assert following is not None and f"check_{exercise}({exercise})" in following.source, \
        f"{where}: the code cell after exercise {exercise} must call check_{exercise}({exercise})"
    namespace = {"np": np, "sp": sp}
    exec(compile(cell.source, f"{where}:{exercise}", "exec"), namespace)
    assert checker(namespace[exercise]) is True, capsys.readouterr().out
    student = course.student_cell(cell, where)
    namespace = {"np": np, "sp": sp}
    exec(compile(student.source, f"{where}:{exercise} (student)", "exec"), namespace)
    assert checker(namespace[exercise]) is False
    assert ": not attempted" in capsys.readouterr().out
