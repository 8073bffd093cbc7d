"""The fixture course notebook of the course-tool tests: two exercises, hidden tests, an answer."""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from setcourse import course

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
    """A small instructor notebook: two exercises, hidden tests, a written answer and two
    instructor-only cells."""
    cells = [
        new_markdown_cell("# Fixture course notebook", id="title"),
        new_code_cell("import numpy as np\nfrom setcourse.checks import check_in_degrees, "
                      "check_set_prune", id="setup", metadata={"setcourse": {"setup": True}}),
        new_code_cell(PRUNE_SOLUTION, id="ex-prune",
                      metadata={"setcourse": {"exercise": "set_prune"}}),
        new_code_cell("check_set_prune(set_prune)", id="check-prune"),
        # Instructor-only cells: left out of the student copy, skipped by the grader (the
        # hidden tests after it still belong to set_prune).
        new_code_cell("raise RuntimeError('an instructor-only cell ran')", id="teacher-code",
                      metadata={"setcourse": {"instructor_only": True}}),
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
        new_markdown_cell("<details><summary>Instructor: answers</summary>\n\nSign balance."
                          "\n</details>", id="teacher-answers",
                          metadata={"setcourse": {"instructor_only": True}}),
        new_code_cell("print('the end')", id="end", execution_count=7,
                      outputs=[new_output("stream", name="stdout", text="the end\n")],
                      metadata={"execution": {"iopub.status.busy": "2024-01-01T00:00:00Z"}}),
    ]
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}})
    return nb


def built(tree):
    root, instructor, student = tree
    course.build(instructor, student)
    return nbformat.read(student / "01_mod" / "lesson.ipynb", as_version=4)
