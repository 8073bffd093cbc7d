"""Student copies of the instructor notebooks: build them, report stale ones, reset one.

The instructor notebooks under ``instructor/`` are the single source. Solution code sits
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, hidden tests between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (the nbgrader convention); a
student copy has them replaced by a placeholder (or removed), its outputs stripped.
"""
import copy
import hashlib
import re
from pathlib import Path

import nbformat

from .._atomic import atomic_file

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
RAISES = "raises-exception"
#: Key of the cell metadata ``setcourse`` that marks a cell left out of the student copies.
INSTRUCTOR_ONLY = "instructor_only"
# Cell metadata that records one run (timings) rather than the notebook's content.
RUN_METADATA = ("execution", "ExecuteTime")

def replace_regions(source, markers, replacement, where):
    """``source`` with every region between ``markers`` replaced, indentation kept.

    ``replacement(indent)`` gives the lines that stand in for a region; the indentation is
    that of the BEGIN marker line. Returns (new source, number of regions).
    """
    begin, end = markers
    out, inside, count = [], False, 0
    for number, line in enumerate(source.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith(begin):
            if inside:
                raise ValueError(f"{where}: line {number}: {begin!r} inside another region")
            inside, count = True, count + 1
            indent = line[:len(line) - len(line.lstrip())]
            out.extend(replacement(indent))
        elif stripped.startswith(end):
            if not inside:
                raise ValueError(f"{where}: line {number}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {begin!r} is never closed by {end!r}")
    return "\n".join(out), count


def exercise_of(cell):
    """The exercise id of a cell (metadata ``setcourse.exercise``), or None."""
    return cell.get("metadata", {}).get("setcourse", {}).get("exercise")


def instructor_only(cell):
    """True for a cell only the instructor copy has (metadata ``setcourse.instructor_only``)."""
    return cell.get("metadata", {}).get("setcourse", {}).get(INSTRUCTOR_ONLY) is True


def student_cell(cell, where):
    """The student version of one instructor cell, or None when nothing of it remains."""
    setcourse = cell.get("metadata", {}).get("setcourse", {})
    if INSTRUCTOR_ONLY in setcourse and not isinstance(setcourse[INSTRUCTOR_ONLY], bool):
        raise ValueError(f"{where}: metadata setcourse.{INSTRUCTOR_ONLY} must be true or false, "
                         f"got {setcourse[INSTRUCTOR_ONLY]!r}")
    if instructor_only(cell):
        if exercise_of(cell) or setcourse.get("setup") or setcourse.get("answer"):
            raise ValueError(f"{where}: an instructor-only cell cannot be an exercise, a setup "
                             "cell or an answer cell (students would never see it)")
        return None
    cell = copy.deepcopy(cell)
    source = cell.source
    if cell.cell_type != "code" and HIDDEN_TESTS[0] in source:
        raise ValueError(f"{where}: {HIDDEN_TESTS[0]!r} in a {cell.cell_type} cell: hidden "
                         f"tests are code; mark a cell for the instructor only with metadata "
                         f'{{"setcourse": {{"{INSTRUCTOR_ONLY}": true}}}}')
    source, hidden = replace_regions(source, HIDDEN_TESTS, lambda indent: [], where)
    if cell.cell_type == "code":
        exercise = exercise_of(cell)
        message = (f"exercise {exercise}: replace this line with your code" if exercise
                   else "replace this line with your code")
        source, solutions = replace_regions(
            source, SOLUTION,
            lambda indent: [f"{indent}# YOUR CODE HERE",
                            f"{indent}raise NotImplementedError({message!r})"], where)
        cell.outputs, cell.execution_count = [], None
        if solutions:
            tags = cell.metadata.setdefault("tags", [])
            if RAISES not in tags:
                tags.append(RAISES)
    else:
        source, solutions = replace_regions(
            source, SOLUTION, lambda indent: [f"{indent}YOUR ANSWER HERE"], where)
    if hidden and not source.strip():
        return None
    cell.source = source
    for key in RUN_METADATA:
        cell.metadata.pop(key, None)
    return cell


def student_notebook(nb, source_name):
    """The student copy of instructor notebook ``nb`` (``source_name``: its path in instructor/)."""
    student = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(nb.cells):
        converted = student_cell(cell, f"{source_name}, cell {index}")
        if converted is None:
            continue
        if not converted.get("id"):
            # Same id on every build, so copies stay comparable (nbformat >= 4.5 needs ids).
            digest = hashlib.sha1(f"{source_name}#{index}".encode()).hexdigest()
            converted["id"] = digest[:12]
        cells.append(converted)
    student.cells = cells
    student.nbformat, student.nbformat_minor = 4, max(nb.get("nbformat_minor", 5), 5)
    student.metadata.pop("widgets", None)  # saved widget state is output too
    student.metadata["setcourse"] = {"source": source_name}
    return student


def render(nb):
    """A notebook as the exact text written to disk (deterministic: sorted keys, one newline)."""
    return nbformat.writes(nb, version=4).rstrip("\n") + "\n"


def notebooks_under(folder):
    """Notebooks under ``folder``, sorted, skipping Jupyter's checkpoint copies."""
    folder = Path(folder)
    return sorted(path for path in folder.rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in path.relative_to(folder).parts)


def student_copies(instructor_dir, course_dir):
    """Map each student-copy path under ``course_dir`` to its text, built in memory."""
    instructor_dir, course_dir = Path(instructor_dir), Path(course_dir)
    copies = {}
    for source in notebooks_under(instructor_dir):
        name = source.relative_to(instructor_dir).as_posix()
        nb = nbformat.read(source, as_version=4)
        copies[course_dir / name] = render(student_notebook(nb, name))
    return copies


def read_text(path):
    """File text with Windows line endings normalised (a checkout may convert them)."""
    return path.read_bytes().decode("utf-8").replace("\r\n", "\n")


def write_atomic(path, content):
    """Write text (as UTF-8 with ``\\n`` line ends) or bytes to ``path``, never half-written."""
    with atomic_file(path) as temporary:
        Path(temporary).write_bytes(content.encode("utf-8") if isinstance(content, str)
                                    else content)


def stale_copies(instructor_dir, course_dir):
    """Student copies that differ from a fresh build: a list of ``"path: reason"`` strings."""
    copies = student_copies(instructor_dir, course_dir)
    problems = []
    for path, text in copies.items():
        if not path.exists():
            problems.append(f"{path}: missing")
        elif read_text(path) != text:
            problems.append(f"{path}: differs from its instructor source")
    for path in notebooks_under(course_dir) if Path(course_dir).exists() else []:
        if path not in copies:
            problems.append(f"{path}: has no instructor source (delete it or add one)")
    return problems


def build(instructor_dir, course_dir):
    """Write every student copy that changed; returns the paths written."""
    written = []
    for path, text in student_copies(instructor_dir, course_dir).items():
        if not path.exists() or read_text(path) != text:
            write_atomic(path, text)
            written.append(path)
    return written


def find_root(start="."):
    """The nearest folder at or above ``start`` that contains ``instructor/``."""
    start = Path(start).resolve()
    for folder in [start, *start.parents]:
        if (folder / "instructor").is_dir():
            return folder
    raise FileNotFoundError(
        f"no instructor/ folder at or above {start}; run from the course repository or pass "
        "--instructor and --course")


def reset(notebook, instructor_dir=None, course_dir=None, backup=True):
    """Restore a student copy from its instructor source; returns the backup path or None.

    The source is the notebook's ``setcourse.source`` metadata, or else its path relative
    to ``course_dir``. The student's version is kept as ``<name>.ipynb.bak1`` (the next
    number on every reset: no backup is ever overwritten) unless ``backup`` is False.
    """
    notebook = Path(notebook)
    root = None
    if instructor_dir is None or course_dir is None:
        try:  # the repository around the notebook, else the one we are in
            root = find_root(notebook.parent if notebook.parent.exists() else ".")
        except FileNotFoundError:
            root = find_root(".")
    instructor_dir = Path(instructor_dir) if instructor_dir else root / "instructor"
    course_dir = Path(course_dir) if course_dir else root / "course"
    name = None
    if notebook.exists():
        try:
            name = nbformat.read(notebook, as_version=4).metadata.get("setcourse", {}).get("source")
        except Exception:  # an unreadable copy is exactly what reset is for
            name = None
    if name is None:
        try:
            name = notebook.resolve().relative_to(course_dir.resolve()).as_posix()
        except ValueError:
            raise ValueError(f"notebook {notebook} is not under {course_dir} and does not say "
                             "which instructor notebook it came from") from None
    source = instructor_dir / name
    if not source.exists():
        raise FileNotFoundError(f"instructor source {source} of {notebook} does not exist")
    text = render(student_notebook(nbformat.read(source, as_version=4), name))
    saved = None
    if backup and notebook.exists() and notebook.read_bytes() != text.encode("utf-8"):
        saved = next_backup(notebook)
        write_atomic(saved, notebook.read_bytes())  # whatever it holds, even if not a notebook
    write_atomic(notebook, text)
    return saved


def next_backup(notebook):
    """``<name>.bak1``, ``.bak2``, ...: the first number after every existing backup."""
    notebook = Path(notebook)
    taken = [int(match.group(1)) for path in notebook.parent.glob(notebook.name + ".bak*")
             if (match := re.fullmatch(re.escape(notebook.name) + r"\.bak(\d*)", path.name))
             and match.group(1)]
    if notebook.with_name(notebook.name + ".bak").exists():
        taken.append(0)  # the single backup of older versions stays as it is
    return notebook.with_name(f"{notebook.name}.bak{max(taken, default=0) + 1}")
