"""The course tool: student copies built from instructor notebooks, staleness, reset, and check."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from setcourse import course

ROOT = Path(__file__).resolve().parents[1]

PRUNE_SOLUTION = '''\
def set_prune(weights, zeta):
    """Keep mask of SET's pruning."""
    ### BEGIN SOLUTION
    from setcourse.evolution.set import set_prune as reference
    return reference(weights, zeta)
    ### END SOLUTION
'''
DEGREES_SOLUTION = '''\
def in_degrees(W):
    ### BEGIN SOLUTION
    return W.getnnz(axis=0)
    ### END SOLUTION'''


def fixture_notebook():
    """A small instructor notebook with two exercises, hidden tests and a written answer."""
    cells = [
        new_markdown_cell("# Fixture course notebook", id="title"),
        new_code_cell("import numpy as np\nfrom setcourse.checks import check_in_degrees, "
                      "check_set_prune", id="setup"),
        new_code_cell(PRUNE_SOLUTION, id="ex-prune",
                      metadata={"setcourse": {"exercise": "set_prune"}}),
        new_code_cell("check_set_prune(set_prune)", id="check-prune"),
        new_code_cell("### BEGIN HIDDEN TESTS\nassert set_prune(np.array([1.0, -1.0]), 0.0).all()\n"
                      "### END HIDDEN TESTS", id="hidden"),
        new_code_cell(DEGREES_SOLUTION, id="ex-degrees",
                      metadata={"setcourse": {"exercise": "in_degrees"}, "tags": ["keep-me"]}),
        new_code_cell("check_in_degrees(in_degrees)\n### BEGIN HIDDEN TESTS\n"
                      "import scipy.sparse as sp\n"
                      "assert in_degrees(sp.eye(3, format='csr')).sum() == 3\n"
                      "### END HIDDEN TESTS", id="check-degrees"),
        new_markdown_cell("**Think!** Why prune by sign?\n\n### BEGIN SOLUTION\n"
                          "Because positive and negative weights matter alike.\n### END SOLUTION",
                          id="think"),
        new_code_cell("print('the end')", id="end", execution_count=7,
                      outputs=[new_output("stream", name="stdout", text="the end\n")],
                      metadata={"execution": {"iopub.status.busy": "2024-01-01T00:00:00Z"}}),
    ]
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}})
    return nb


@pytest.fixture
def tree(tmp_path):
    """instructor/mod/nb.ipynb in a temporary repository; returns (root, instructor, course)."""
    instructor, student = tmp_path / "instructor", tmp_path / "course"
    (instructor / "01_mod").mkdir(parents=True)
    nbformat.write(fixture_notebook(), instructor / "01_mod" / "lesson.ipynb")
    return tmp_path, instructor, student


def built(tree):
    root, instructor, student = tree
    course.build(instructor, student)
    return nbformat.read(student / "01_mod" / "lesson.ipynb", as_version=4)


def test_solution_regions_are_replaced_with_indentation_kept(tree):
    cells = {cell.id: cell for cell in built(tree).cells}
    assert cells["ex-prune"].source == (
        'def set_prune(weights, zeta):\n    """Keep mask of SET\'s pruning."""\n'
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError('exercise set_prune: replace this line with your code')\n")
    assert cells["ex-degrees"].source.endswith(
        "\n    # YOUR CODE HERE\n"
        "    raise NotImplementedError('exercise in_degrees: replace this line with your code')")
    assert "reference" not in cells["ex-prune"].source
    assert cells["think"].source.endswith("Why prune by sign?\n\nYOUR ANSWER HERE")


def test_solution_cells_are_tagged_raises_exception_and_others_not(tree):
    cells = {cell.id: cell for cell in built(tree).cells}
    assert cells["ex-prune"].metadata["tags"] == ["raises-exception"]
    assert cells["ex-degrees"].metadata["tags"] == ["keep-me", "raises-exception"]
    for name in ("setup", "check-prune", "check-degrees", "end"):
        assert "raises-exception" not in cells[name].metadata.get("tags", [])


def test_hidden_tests_are_removed_and_cell_ids_kept(tree):
    nb = built(tree)
    ids = [cell.id for cell in nb.cells]
    assert ids == ["title", "setup", "ex-prune", "check-prune", "ex-degrees", "check-degrees",
                   "think", "end"]  # the hidden-tests-only cell is gone, the rest keep their ids
    text = "".join(cell.source for cell in nb.cells)
    assert "HIDDEN" not in text and "assert" not in text
    assert nb.cells[5].source == "check_in_degrees(in_degrees)"


def test_outputs_counts_widget_state_and_timings_are_stripped(tree):
    nb = built(tree)
    end = nb.cells[-1]
    assert end.outputs == [] and end.execution_count is None and "execution" not in end.metadata
    assert "widgets" not in nb.metadata
    assert nb.metadata["setcourse"] == {"source": "01_mod/lesson.ipynb"}
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nb)


def test_build_is_deterministic_and_writes_only_changes(tree):
    root, instructor, student = tree
    assert course.build(instructor, student) == [student / "01_mod" / "lesson.ipynb"]
    first = (student / "01_mod" / "lesson.ipynb").read_bytes()
    assert course.build(instructor, student) == []
    assert course.student_copies(instructor, student)[student / "01_mod" / "lesson.ipynb"] \
        == first.decode()


def test_missing_cell_ids_get_the_same_generated_ids_every_build(tmp_path):
    nb = fixture_notebook()
    nb.nbformat_minor = 4
    for cell in nb.cells:
        del cell["id"]
    first = course.render(course.student_notebook(nb, "m/x.ipynb"))
    assert first == course.render(course.student_notebook(nb, "m/x.ipynb"))
    nbformat.validate(nbformat.reads(first, as_version=4))


def test_stale_copies_are_reported(tree):
    root, instructor, student = tree
    stale = course.stale_copies(instructor, student)
    assert [problem.split(":")[-1].strip() for problem in stale] == ["missing"]
    course.build(instructor, student)
    assert course.stale_copies(instructor, student) == []
    nb = nbformat.read(instructor / "01_mod" / "lesson.ipynb", as_version=4)
    nb.cells[0].source += " (edited)"
    nbformat.write(nb, instructor / "01_mod" / "lesson.ipynb")
    assert course.stale_copies(instructor, student) == [
        f"{student / '01_mod' / 'lesson.ipynb'}: differs from its instructor source"]
    course.build(instructor, student)
    (student / "01_mod" / "old.ipynb").write_text("{}")
    assert course.stale_copies(instructor, student) == [
        f"{student / '01_mod' / 'old.ipynb'}: has no instructor source (delete it or add one)"]


def test_build_check_command_exit_codes(tree):
    root, instructor, student = tree
    command = [sys.executable, "-m", "setcourse.course", "build"]
    stale = subprocess.run([*command, "--check"], cwd=root, capture_output=True, text=True)
    assert stale.returncode == 1 and "stale:" in stale.stdout and "missing" in stale.stdout
    assert not student.exists()  # --check writes nothing
    done = subprocess.run(command, cwd=root / "instructor", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # finds the repository root from a subfolder
    assert "1 student notebook(s) updated" in done.stdout
    fresh = subprocess.run([*command, "--check"], cwd=root, capture_output=True, text=True)
    assert fresh.returncode == 0 and fresh.stdout == ""


def test_unbalanced_markers_name_the_notebook_and_cell(tmp_path):
    nb = fixture_notebook()
    nb.cells[2].source = nb.cells[2].source.replace("    ### END SOLUTION\n", "")
    with pytest.raises(ValueError, match=r"m/x.ipynb, cell 2: .*never closed"):
        course.student_notebook(nb, "m/x.ipynb")
    nb = fixture_notebook()
    nb.cells[3].source = "### END SOLUTION"
    with pytest.raises(ValueError, match=r"cell 3: line 1: '### END SOLUTION' without"):
        course.student_notebook(nb, "m/x.ipynb")


def test_reset_restores_the_student_copy_and_keeps_a_backup(tree):
    root, instructor, student = tree
    course.build(instructor, student)
    path = student / "01_mod" / "lesson.ipynb"
    fresh = path.read_text()
    work = nbformat.read(path, as_version=4)
    work.cells[2].source = "def set_prune(weights, zeta):\n    return weights > 0"
    nbformat.write(work, path)
    mine = path.read_text()
    assert course.main(["reset", str(path)]) == 0  # root found from the notebook's folder
    assert path.read_text() == fresh
    assert Path(str(path) + ".bak").read_text() == mine
    path.unlink()  # a deleted copy comes back too (found by its place under course/)
    assert course.main(["reset", str(path), "--no-backup"]) == 0
    assert path.read_text() == fresh


def test_reset_refuses_a_notebook_it_cannot_place(tree, tmp_path):
    root, instructor, student = tree
    stray = tmp_path / "elsewhere.ipynb"
    with pytest.raises(ValueError, match="is not under"):
        course.reset(stray, instructor, student)


def test_reset_finds_the_source_of_a_copy_moved_out_of_the_repository(tree, tmp_path_factory,
                                                                        monkeypatch):
    root, instructor, student = tree
    course.build(instructor, student)
    moved = tmp_path_factory.mktemp("home") / "my_lesson.ipynb"
    nbformat.write(nbformat.read(student / "01_mod" / "lesson.ipynb", as_version=4), moved)
    moved.write_text(moved.read_text().replace("Fixture course", "My course"))
    monkeypatch.chdir(root / "course")  # the repository is found from the working directory
    assert course.main(["reset", str(moved)]) == 0
    assert moved.read_text() == (student / "01_mod" / "lesson.ipynb").read_text()
    assert "My course" in Path(str(moved) + ".bak").read_text()


def test_check_rejects_a_non_positive_timeout(capsys):
    with pytest.raises(SystemExit) as exit_info:
        course.main(["check", "x.ipynb", "--timeout", "0"])
    assert exit_info.value.code == 2
    assert "--timeout must be > 0 seconds, got 0.0" in capsys.readouterr().err


def test_student_copies_in_the_repository_are_up_to_date():
    instructor, student = ROOT / "instructor", ROOT / "course"
    if not instructor.is_dir():
        assert not course.notebooks_under(student), "course/ has notebooks but no instructor/"
        pytest.skip("no instructor/ notebooks yet")
    stale = course.stale_copies(instructor, student)
    assert not stale, ("student copies are stale; run `python -m setcourse.course build`:\n"
                       + "\n".join(stale))


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

WRONG_PRUNE = "def set_prune(weights, zeta):\n    return weights > 0\n"


@pytest.fixture
def submissions(tree):
    """Four notebooks: untouched student copy, solved, one wrong answer, one endless loop."""
    root, instructor, student = tree
    course.build(instructor, student)
    folder = root / "submissions"
    folder.mkdir()
    copy = nbformat.read(student / "01_mod" / "lesson.ipynb", as_version=4)
    nbformat.write(copy, folder / "a_untouched.ipynb")
    nbformat.write(nbformat.read(instructor / "01_mod" / "lesson.ipynb", as_version=4),
                   folder / "b_solved.ipynb")
    wrong = nbformat.read(student / "01_mod" / "lesson.ipynb", as_version=4)
    wrong.cells[2].source = WRONG_PRUNE
    wrong.cells[4].source = DEGREES_SOLUTION
    nbformat.write(wrong, folder / "c_wrong.ipynb")
    slow = nbformat.read(student / "01_mod" / "lesson.ipynb", as_version=4)
    slow.cells[2].source = "def set_prune(weights, zeta):\n    while True:\n        pass\n"
    nbformat.write(slow, folder / "d_endless.ipynb")
    # A conftest.py next to submissions must never run: check executes only the notebooks.
    (folder / "conftest.py").write_text(
        f"open({str(root / 'conftest_ran')!r}, 'w').write('yes')\n")
    return root, folder


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
