"""Fixtures of the course-tool tests: a temporary repository with one instructor notebook."""
import nbformat
import pytest

from course.notebook_fixtures import DEGREES_SOLUTION, fixture_notebook
from setcourse import course


@pytest.fixture
def tree(tmp_path):
    """instructor/mod/nb.ipynb in a temporary repository; returns (root, instructor, course)."""
    instructor, student = tmp_path / "instructor", tmp_path / "course"
    (instructor / "01_mod").mkdir(parents=True)
    nbformat.write(fixture_notebook(), instructor / "01_mod" / "lesson.ipynb")
    return tmp_path, instructor, student


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
