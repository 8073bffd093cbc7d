"""The course tool's student copies: built from instructor notebooks, staleness, reset."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course.notebook_fixtures import built, fixture_notebook
from setcourse import course

ROOT = Path(__file__).resolve().parents[2]


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


def test_instructor_only_cells_are_left_out_of_the_student_copy(tree):
    root, instructor, student = tree
    source = nbformat.read(instructor / "01_mod" / "lesson.ipynb", as_version=4)
    marked = [cell.id for cell in source.cells if course.instructor_only(cell)]
    assert marked == ["teacher-code", "teacher-answers"]
    nb = built(tree)
    assert not {cell.id for cell in nb.cells} & set(marked)
    text = "".join(cell.source for cell in nb.cells)
    assert "Instructor" not in text and "instructor-only" not in text
    assert all(course.INSTRUCTOR_ONLY not in cell.metadata.get("setcourse", {})
               for cell in nb.cells)


@pytest.mark.parametrize("metadata, message", [
    ({"setcourse": {"instructor_only": "yes"}}, "must be true or false"),
    ({"setcourse": {"instructor_only": True, "exercise": "set_prune"}}, "cannot be an exercise"),
    ({"setcourse": {"instructor_only": True, "setup": True}}, "cannot be an exercise, a setup"),
])
def test_instructor_only_marker_misuse_is_refused(metadata, message):
    cell = nbformat.v4.new_code_cell("x = 1", metadata=metadata)
    with pytest.raises(ValueError, match=message):
        course.student_cell(cell, "m/x.ipynb, cell 3")


def test_hidden_test_markers_in_markdown_are_refused():
    """Answers for the instructor are instructor-only cells, not hidden tests."""
    cell = nbformat.v4.new_markdown_cell("### BEGIN HIDDEN TESTS\nanswer\n### END HIDDEN TESTS")
    with pytest.raises(ValueError, match="instructor_only"):
        course.student_cell(cell, "m/x.ipynb, cell 3")


def test_instructor_only_false_keeps_the_cell():
    cell = nbformat.v4.new_markdown_cell("shown",
                                         metadata={"setcourse": {"instructor_only": False}})
    assert course.student_cell(cell, "m/x.ipynb, cell 3").source == "shown"


def test_the_repository_answers_are_instructor_only_and_absent_from_student_copies():
    instructor = course.notebooks_under(ROOT / "instructor")
    if not instructor:
        pytest.skip("no instructor/ notebooks yet")
    found = 0
    for path in instructor:
        nb = nbformat.read(path, as_version=4)
        student = nbformat.read(ROOT / "course" / path.relative_to(ROOT / "instructor"),
                                as_version=4)
        student_ids = {cell.id for cell in student.cells}
        for cell in nb.cells:
            if "Instructor: answers" in cell.source:
                assert course.instructor_only(cell), f"{path.name}: answers not instructor-only"
            if course.instructor_only(cell):
                found += 1
                assert cell.id not in student_ids, f"{path.name}: {cell.id} in the student copy"
                assert "HIDDEN TESTS" not in cell.source
    assert found >= 9  # the Think! answers of 01-04


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
    assert Path(str(path) + ".bak1").read_text() == mine
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
    assert "My course" in Path(str(moved) + ".bak1").read_text()


def test_student_copies_in_the_repository_are_up_to_date():
    instructor, student = ROOT / "instructor", ROOT / "course"
    if not instructor.is_dir():
        assert not course.notebooks_under(student), "course/ has notebooks but no instructor/"
        pytest.skip("no instructor/ notebooks yet")
    stale = course.stale_copies(instructor, student)
    assert not stale, ("student copies are stale; run `python -m setcourse.course build`:\n"
                       + "\n".join(stale))
