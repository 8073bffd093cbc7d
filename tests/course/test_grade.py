"""The course tool's grading: student cells in a fresh kernel, the checkers in the grader.

The probes below are what a mischievous student would try; each must not score.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.notebook_fixtures import PRUNE_SOLUTION, fixture_notebook
from setcourse import course
from setcourse.course import kernel
from setcourse.course import grade

ROOT = Path(__file__).resolve().parents[2]
RIGHT_PRUNE = "\n".join(line for line in PRUNE_SOLUTION.splitlines() if "###" not in line)


def test_check_rejects_a_non_positive_timeout(capsys):
    with pytest.raises(SystemExit) as exit_info:
        course.main(["check", "x.ipynb", "--timeout", "0"])
    assert exit_info.value.code == 2
    assert "--timeout must be > 0 seconds, got 0.0" in capsys.readouterr().err


def test_the_kernel_gets_no_secrets():
    env = kernel.kernel_environment(fast=True, environ={
        "PATH": "/bin", "HOME": "/home/x", "GITHUB_TOKEN": "t", "AWS_ACCESS_KEY_ID": "a",
        "MY_API_KEY": "k", "DB_PASSWORD": "p", "SSH_AUTH_SOCK": "/s", "client_secret": "c",
        "SETCOURSE_DATA": "/d", "PYTEST_ADDOPTS": "-x"})
    assert env == {"PATH": "/bin", "HOME": "/home/x", "SETCOURSE_DATA": "/d",
                   "MPLBACKEND": "Agg", "SETCOURSE_FAST": "1"}


def test_answers_travel_as_data_never_as_pickles(tmp_path):
    evil = tmp_path / "answer.npz"
    with open(evil, "wb") as handle:
        np.savez(handle, __reply__=np.array(json.dumps({"result": {"t": "nd", "k": "a0"}})),
                 a0=np.array([{"a": 1}], dtype=object))
    with pytest.raises(kernel.StudentError, match="could not read"):
        kernel.read_answer(evil)
    opaque = kernel.decode({"t": "other", "type": "x.Always", "repr": "Always()"}, {})
    assert isinstance(opaque, kernel.Opaque) and not isinstance(opaque, np.ndarray)


def test_hidden_tests_belong_to_the_exercise_whose_checker_cells_follow_it():
    found = grade.exercises_of(fixture_notebook())
    assert [(name, "assert" in hidden) for name, _, hidden in found] == [
        ("set_prune", True), ("in_degrees", True)]
    assert "set_prune(np.array" in found[0][2] and "sp.eye" in found[1][2]


def test_reset_keeps_numbered_backups(tree):
    root, instructor, student = tree
    course.build(instructor, student)
    notebook = student / "01_mod" / "lesson.ipynb"
    (student / "01_mod" / "lesson.ipynb.bak").write_text("from an older version")
    saved = []
    for attempt in ("first work", "second work"):
        notebook.write_text(attempt)
        saved.append(course.reset(notebook, instructor, student))
    assert [path.name for path in saved] == ["lesson.ipynb.bak1", "lesson.ipynb.bak2"]
    assert [path.read_text() for path in saved] == ["first work", "second work"]
    assert (student / "01_mod" / "lesson.ipynb.bak").read_text() == "from an older version"
    assert course.stale_copies(instructor, student) == []  # backups are not notebooks


def test_a_changed_grading_code_fails_the_check(monkeypatch, tmp_path):
    fingerprints = iter(["before", "after"])
    monkeypatch.setattr(grade, "grading_code_fingerprint", lambda: next(fingerprints))
    monkeypatch.setattr(grade, "check_notebook",
                        lambda path, *args: grade.NotebookResult(str(path), []))
    result, = grade.check([tmp_path / "x.ipynb"])
    assert "changed on disk during the check" in result.problem and not result.ok


# --- running notebooks in a kernel ------------------------------------------------------------


def submission(student, folder, name, prune=None, degrees=None, drop=(), setup=None):
    """A copy of the student notebook with the exercise cells replaced (None: left as is)."""
    nb = nbformat.read(student / "01_mod" / "lesson.ipynb", as_version=4)
    cells = {cell.get("id"): cell for cell in nb.cells}
    if prune is not None:
        cells["ex-prune"].source = prune
    if degrees is not None:
        cells["ex-degrees"].source = degrees
    if setup is not None:
        cells["setup"].source = setup
    nb.cells = [cell for cell in nb.cells if cell.get("id") not in drop]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


DEGREES = "def in_degrees(W):\n    return W.getnnz(axis=0)\n"
WRONG_PRUNE = "def set_prune(weights, zeta):\n    return weights > 0\n"
# Each probe: (name, set_prune cell, what else): none of them may pass set_prune.
FORGERIES = {
    "prints_a_pass": WRONG_PRUNE + "print('✓ set_prune: passed — all 8 test cases give the "
                                   "expected answer. Well done!')\n",
    "patches_the_checker": WRONG_PRUNE + (
        "import setcourse.checks, setcourse.checks.runner as runner\n"
        "fake = lambda fn: print('✓ set_prune: passed') or True\n"
        "setcourse.checks.check_set_prune = fake\n"
        "runner.run_checker = lambda exercise, fn, cases: True\n"
        "runner.report = lambda *a, **k: print('✓ set_prune: passed')\n"
        "check_set_prune = fake\n"),
    "patches_numpy": WRONG_PRUNE + "import numpy\nnumpy.array_equal = lambda *a, **k: True\n"
                                   "numpy.ndarray.__eq__ = lambda *a: True\n",
    "imports_the_reference": "from setcourse.evolution.set import set_prune\n",
    "always_equal_object": ("class Always:\n    def __eq__(self, other): return True\n"
                            "    def __array__(self, *a, **k): raise TypeError('no')\n"
                            "def set_prune(weights, zeta):\n    return Always()\n"),
    "array_subclass": ("import numpy\nclass Yes(numpy.ndarray):\n"
                       "    def __eq__(self, other): return numpy.ones(self.shape, bool)\n"
                       "def set_prune(weights, zeta):\n"
                       "    return numpy.zeros(numpy.shape(weights), bool).view(Yes)\n"),
    "kills_the_kernel": "import os\nos._exit(0)\n",
    "replaces_the_grader_helper": WRONG_PRUNE + "_setcourse_grader = lambda *a: None\n",
    "raises_system_exit": "def set_prune(weights, zeta):\n    raise SystemExit(0)\n",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every probe and the honest submissions, graded in one ``course check`` run."""
    root = tmp_path_factory.mktemp("grading")
    instructor, student = root / "instructor", root / "course"
    (instructor / "01_mod").mkdir(parents=True)
    nbformat.write(fixture_notebook(), instructor / "01_mod" / "lesson.ipynb")
    course.build(instructor, student)
    folder = root / "submissions"
    folder.mkdir()
    for name, source in FORGERIES.items():
        submission(student, folder, f"forged_{name}", prune=source, degrees=DEGREES)
    submission(student, folder, "untouched")
    submission(student, folder, "solved", prune=RIGHT_PRUNE, degrees=DEGREES)
    submission(student, folder, "wrong", prune=WRONG_PRUNE, degrees=DEGREES)
    submission(student, folder, "helper_in_another_cell",
               prune="def set_prune(weights, zeta):\n    return helper(weights, zeta)\n",
               degrees=DEGREES)
    submission(student, folder, "mutates_its_input", degrees=DEGREES,
               prune="def set_prune(weights, zeta):\n    weights.sort()\n    return weights > 0\n")
    # Skipped: the exercise cell deleted, the setup cell importing the reference instead.
    submission(student, folder, "skipped", degrees=DEGREES, drop=("ex-prune",),
               setup="import numpy as np\nfrom setcourse.checks import *\n"
                     "from setcourse.evolution.set import set_prune\n")
    nb = nbformat.read(folder / "solved.ipynb", as_version=4)
    nb.metadata["setcourse"]["source"] = "../../../etc/passwd"  # never read outside instructor/
    nbformat.write(nb, folder / "solved_bad_source.ipynb")
    secret = ("import os\nassert 'SETCOURSE_PROBE_TOKEN' not in os.environ, 'secret leaked'\n"
              + DEGREES)
    submission(student, folder, "reads_secrets", prune=RIGHT_PRUNE, degrees=secret)
    (folder / "conftest.py").write_text(f"open({str(root / 'conftest_ran')!r}, 'w')\n")
    report = root / "report.json"
    env = dict(os.environ, SETCOURSE_PROBE_TOKEN="hunter2")
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "setcourse.course", "check", str(folder),
                          "--timeout", "60", "--instructor", str(instructor),
                          "--json", str(report)],
                         capture_output=True, text=True, timeout=900, env=env, cwd=root)
    seconds = time.monotonic() - started
    results = {Path(r["path"]).stem: r for r in json.loads(report.read_text())}
    return run, results, root, seconds


def status_of(results, name):
    return [(e["exercise"], e["status"]) for e in results[name]["exercises"]]


@pytest.mark.slow
@pytest.mark.parametrize("probe", sorted(FORGERIES))
def test_a_forged_answer_does_not_score(graded, probe):
    run, results, root, _ = graded
    status = dict(status_of(results, f"forged_{probe}"))
    assert status["set_prune"] != "passed", results[f"forged_{probe}"]
    assert status["in_degrees"] == "passed"  # a dead kernel is restarted for the next exercise


@pytest.mark.slow
def test_honest_submissions_are_graded_by_the_checkers(graded):
    run, results, root, _ = graded
    assert run.returncode == 1, run.stdout + run.stderr  # not every notebook has full marks
    assert not (root / "conftest_ran").exists()
    assert status_of(results, "untouched") == [("set_prune", "not attempted"),
                                               ("in_degrees", "not attempted")]
    assert status_of(results, "solved") == [("set_prune", "passed"), ("in_degrees", "passed")]
    assert status_of(results, "solved_bad_source") == status_of(results, "solved")
    assert status_of(results, "wrong") == [("set_prune", "failed"), ("in_degrees", "passed")]
    hint = "\n".join(results["wrong"]["exercises"][0]["details"])
    assert "case:" in hint and "expected:" in hint and "got:" in hint
    helper = "\n".join(results["helper_in_another_cell"]["exercises"][0]["details"])
    assert "NameError: name 'helper' is not defined" in helper
    assert "at line 2 of set_prune(): return helper(weights, zeta)" in helper
    assert status_of(results, "reads_secrets") == status_of(results, "solved")
    mutated = "\n".join(results["mutates_its_input"]["exercises"][0]["details"])
    assert "your function modified the weights array" in mutated  # seen across the boundary
    out = run.stdout
    assert "score: 0/2" in out and "score: 2/2" in out and "score: 1/2" in out
    assert "○ set_prune" in out and "✓ in_degrees" in out and "✗ set_prune" in out


@pytest.mark.slow
def test_a_skipped_exercise_does_not_pass(graded):
    run, results, root, _ = graded
    assert status_of(results, "skipped") == [("set_prune", "not attempted"),
                                             ("in_degrees", "passed")]


@pytest.mark.slow
def test_forgeries_say_why_they_failed(graded):
    run, results, root, _ = graded
    details = {name: "\n".join(results[f"forged_{name}"]["exercises"][0]["details"])
               for name in FORGERIES}
    assert "the package's setcourse.evolution.set.set_prune, imported" in \
        details["imports_the_reference"]
    assert "kernel died" in details["kills_the_kernel"]
    assert any("mentions setcourse" in note for note in results["forged_patches_the_checker"]["notes"])
    assert "SystemExit" in details["raises_system_exit"]


@pytest.mark.slow
def test_the_whole_notebook_has_one_time_limit(tmp_path):
    """Endless loops at --timeout 6: the whole check ends near 6 s (was 22 s at --timeout 5)."""
    endless = "def {0}(*args):\n    while True:\n        pass\n"
    nb = fixture_notebook()
    path = tmp_path / "endless.ipynb"
    for cell in nb.cells:
        if grade.exercise_of(cell):
            cell.source = endless.format(grade.exercise_of(cell))
    nbformat.write(nb, path)
    started = time.monotonic()
    result = grade.check_notebook(path, timeout=6, against=path)
    seconds = time.monotonic() - started
    assert [e.status for e in result.exercises] == ["failed", "failed"]
    assert all("time limit" in e.details[0] or "no time left" in e.details[0]
               for e in result.exercises), result
    assert seconds < 6 + 4, seconds  # + the time it takes to kill a kernel


@pytest.mark.slow
def test_check_exit_code_is_zero_for_full_marks(tree):
    root, instructor, student = tree
    assert course.main(["check", str(instructor / "01_mod" / "lesson.ipynb")]) == 0


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


def test_no_setup_cell_defines_an_exercise_name():
    """A skipped exercise must not pass: the setup never provides the exercise's name."""
    import ast
    for path in course.notebooks_under(ROOT / "instructor"):
        nb = nbformat.read(path, as_version=4)
        names = {course.exercise_of(c) for c in nb.cells if course.exercise_of(c)}
        setups = [c for c in nb.cells if c.cell_type == "code" and grade.setup_of(c)]
        assert setups or not names, f"{path.name}: no setup cell (metadata setcourse.setup)"
        for cell in setups:
            source = "\n".join(line for line in cell.source.splitlines()
                               if not line.lstrip().startswith(("%", "!")))
            bound = set()
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    bound.add(node.name)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    bound.add(node.id)
            assert not names & bound, f"{path.name}: the setup cell defines {names & bound}"


@pytest.mark.slow
def test_instructor_notebooks_get_full_marks_and_student_copies_none(tmp_path):
    """Every exercise of the repository: its solution passes, its stub is not attempted."""
    instructor = course.notebooks_under(ROOT / "instructor")
    student = [ROOT / "course" / path.relative_to(ROOT / "instructor") for path in instructor]
    results = course.check([*instructor, *[p for p in student if p.exists()]], timeout=300,
                           fast=True)
    by_path = {Path(result.path): result for result in results}
    for path in instructor:
        result = by_path[path]
        assert result.ok, course.format_result(result)
        names = [course.exercise_of(c) for c in nbformat.read(path, as_version=4).cells
                 if course.exercise_of(c)]
        assert [e.exercise for e in result.exercises] == names
        assert all(a["status"] == "written" for a in result.answers), result.answers
    for path in student:
        if not path.exists():
            continue
        result = by_path[path]
        assert not result.problem, course.format_result(result)
        assert result.graded_against == str((ROOT / "instructor" /
                                             path.relative_to(ROOT / "course")).resolve())
        assert all(e.status == "not attempted" for e in result.exercises), \
            course.format_result(result)
        # Exactly its exercises: every one of the instructor's, none more; no written answer.
        source = ROOT / "instructor" / path.relative_to(ROOT / "course")
        names = [course.exercise_of(c) for c in nbformat.read(source, as_version=4).cells
                 if course.exercise_of(c)]
        assert [e.exercise for e in result.exercises] == names
        assert all(a["status"] == "not written" for a in result.answers), result.answers


def test_written_answers_are_listed_not_scored():
    nb = fixture_notebook()
    think = next(cell for cell in nb.cells if cell.get("id") == "think")
    think.metadata["setcourse"] = {"answer": "why_sign"}
    student = course.student_notebook(nb, "m/x.ipynb")
    assert grade.written_answers(nb, nb) == [{"answer": "why_sign", "status": "written"}]
    assert grade.written_answers(student, nb) == [{"answer": "why_sign", "status": "not written"}]
    next(c for c in student.cells if c.get("id") == "think").source += "\nBecause of balance."
    assert grade.written_answers(student, nb) == [{"answer": "why_sign", "status": "written"}]
    text = grade.format_result(grade.NotebookResult("x.ipynb", [], answers=[
        {"answer": "why_sign", "status": "written"}]))
    assert "✎ why_sign  written (not scored: read it)" in text


def test_answers_keep_their_type_and_shape_across_the_process_boundary(tmp_path):
    """The kernel's encoder and the grader's decoder, run here: every kind of answer."""
    import pickle

    import scipy.sparse as sp
    namespace = {}
    exec(kernel.KERNEL_HELPER, namespace)
    values = {
        "scalar": np.float64(0.25), "zero_d": np.array(3), "bool_mask": np.array([True, False]),
        "matrix": np.asmatrix([[1, 2]]), "csr": sp.csr_matrix(np.eye(3)),
        "nested": {"a": [1, 2.5, None, "x"], "b": (np.arange(2), True)}, "none": None,
        "object": object(),
    }
    for name, value in values.items():
        namespace[name] = lambda value=value, *args: value
        request, answer = tmp_path / f"{name}.pkl", tmp_path / f"{name}.npz"
        request.write_bytes(pickle.dumps((name, ())))
        namespace["_setcourse_grader"](str(request), str(answer))
        reply, arrays = kernel.read_answer(answer)
        got = kernel.decode(reply["result"], arrays)
        if name in ("scalar", "zero_d", "bool_mask"):
            assert type(got) is type(value) and np.shape(got) == np.shape(value), name
            assert np.array_equal(got, value) and got.dtype == value.dtype, name
        elif name == "matrix":
            assert isinstance(got, np.matrix) and got.tolist() == [[1, 2]]
        elif name == "csr":
            assert sp.issparse(got) and got.format == "csr" and (got != value).nnz == 0
        elif name == "nested":
            assert got["a"] == [1, 2.5, None, "x"] and isinstance(got["b"], tuple)
            assert np.array_equal(got["b"][0], [0, 1]) and got["b"][1] is True
        elif name == "object":
            assert isinstance(got, kernel.Opaque) and "builtins.object" in repr(got)
        else:
            assert got is None


@pytest.mark.slow
def test_a_setup_that_runs_out_of_time_is_the_notebooks_problem(tmp_path):
    nb = fixture_notebook()
    next(c for c in nb.cells if c.get("id") == "setup").source += "\nimport time\ntime.sleep(60)"
    path = tmp_path / "slow_setup.ipynb"
    nbformat.write(nb, path)
    started = time.monotonic()
    result = grade.check_notebook(path, timeout=4, against=path)
    assert time.monotonic() - started < 4 + 4
    assert "the setup cell exceeded the time limit" in result.problem and not result.ok
    assert [(e.status, e.details) for e in result.exercises] == [
        ("failed", ["not checked: the setup failed"])] * 2
