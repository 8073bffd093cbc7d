"""Grading that a student's code cannot forge: their cell runs in a kernel, the checker here.

For each notebook, :func:`check`

1. picks the *trusted* notebook that says what to grade: the instructor notebook the copy
   was built from (its ``setcourse.source`` metadata, looked up only inside the instructor
   folder), or the one given as ``against``; a notebook without one is graded against its
   own cells (and says so);
2. starts a fresh IPython kernel (this Python, in an empty scratch folder, with secrets
   removed from its environment: :func:`~.kernel.kernel_environment`) and runs the trusted
   notebook's setup cell(s) there (cells with metadata ``setcourse.setup``), never the
   student's version of them;
3. per exercise: deletes the exercise's name in the kernel, runs the student's exercise
   cell only, then runs the checker of :mod:`setcourse.checks` **in this process** on a
   :class:`~.kernel.RemoteFunction`: each call of the student's function is one request to the
   kernel (arguments pickled here: pickles only go *to* the kernel), and the answer comes
   back as plain data (arrays in an ``.npz`` read with ``allow_pickle=False``, the rest as
   JSON, size-checked before reading). The verdict is the checker's own, collected with
   :func:`setcourse.checks.collect_verdicts`; then the instructor's hidden tests of the
   exercise (``### BEGIN HIDDEN TESTS`` regions of the cells that follow it) run in the
   kernel, and can only turn a pass into a fail.

Why this cannot be forged: nothing the kernel prints or writes is read as a verdict; the
only thing the student's code controls is what their function returns or raises for the
arguments the checker chose, which is exactly what the checker judges. The checker, its
reference implementations and this module were imported before any student code ran, and
live in a process the student's code cannot reach, so printing "✓ passed" or monkeypatching
``setcourse.checks`` in the notebook changes nothing. A function that is the package's own
(``from setcourse... import set_prune`` in the exercise cell) is refused by name.

What it does *not* do: isolate. Student code runs as the user who runs the check, with that
user's files and network (only the environment variables of :data:`SECRET_VARIABLES` are
removed; see :mod:`~setcourse.course.kernel`). Grade untrusted submissions as an unprivileged user or in a container. As a
tripwire, the grading code's files are hashed before and after: a change fails the check.

Every notebook has one time limit for everything (``timeout``, default 300 s): kernel start,
setup, each exercise cell and every call of the checker. The time left is shared equally
among the exercises still to grade, so an endless loop in one exercise leaves time for the
others (the kernel is killed with its process group and started again).
"""
import contextlib
import dataclasses
import hashlib
import json
import re
import secrets
import tempfile
import time
from pathlib import Path

import nbformat

from .. import checks
from ..checks import FAILED, MARKS, NOT_ATTEMPTED, PASSED, collect_verdicts
from .build import (HIDDEN_TESTS, exercise_of, find_root, instructor_only, notebooks_under,
                    student_cell)
from .kernel import KERNEL_HELPER, GradingKernel, KernelGone, RemoteFunction

DEFAULT_TIMEOUT = 300


@dataclasses.dataclass
class ExerciseResult:
    """Outcome of one exercise: ``status`` is passed, failed or not attempted."""

    exercise: str
    status: str
    details: list
    summary: str = ""


@dataclasses.dataclass
class NotebookResult:
    """What ``check`` found in one notebook."""

    path: str
    exercises: list
    notes: list = dataclasses.field(default_factory=list)
    problem: str = ""
    graded_against: str = ""
    seconds: float = 0.0
    answers: list = dataclasses.field(default_factory=list)  # written answers: read by hand

    @property
    def passed(self):
        return sum(result.status == PASSED for result in self.exercises)

    @property
    def ok(self):
        return not self.problem and self.passed == len(self.exercises)


# --- the kernel -------------------------------------------------------------------------------

def setup_of(cell):
    """True for a setup cell (metadata ``setcourse.setup``): what the grader runs first."""
    return bool(cell.get("metadata", {}).get("setcourse", {}).get("setup"))


def split_hidden(source):
    """``(hidden, visible)``: the code inside a cell's hidden-test regions, and the rest."""
    begin, end = HIDDEN_TESTS
    hidden, visible, inside = [], [], False
    for line in source.split("\n"):
        if line.strip().startswith(begin):
            inside = True
        elif line.strip().startswith(end):
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(hidden), "\n".join(visible)


def hidden_tests(source):
    """The code of the hidden-test regions of a cell's source."""
    return split_hidden(source)[0]


def exercises_of(nb):
    """``[(exercise, cell, hidden test code)]`` of a (trusted) notebook, in order.

    An exercise's hidden tests are those of the code cells right after it that call its
    checker or hold only hidden tests. Instructor-only cells are not part of the chain (the
    student copy has none of them) and are never run.
    """
    code = [cell for cell in nb.cells if cell.cell_type == "code" and not instructor_only(cell)]
    found = []
    for index, cell in enumerate(code):
        name = exercise_of(cell)
        if not name:
            continue
        hidden = []
        for following in code[index + 1:]:
            tests = hidden_tests(following.source)
            rest = following.source
            only_hidden = tests and not _without_hidden(rest).strip()
            if exercise_of(following) or not (f"check_{name}(" in rest or only_hidden):
                break
            if tests.strip():
                hidden.append(tests)
        found.append((name, cell, "\n".join(hidden)))
    return found


def _without_hidden(source):
    return split_hidden(source)[1]


def instructor_folders(path, instructor=None):
    """Where the instructor notebooks may be: ``instructor``, or the repository's."""
    if instructor:
        return [Path(instructor)]
    folders = []
    for start in (Path(path).resolve().parent, Path(".")):
        with contextlib.suppress(FileNotFoundError):
            folder = find_root(start) / "instructor"
            if folder not in folders:
                folders.append(folder)
    return folders


def trusted_notebook(path, nb, instructor=None, against=None):
    """``(path, notebook, note)`` of the notebook that says what and how to grade."""
    if against:
        return Path(against), nbformat.read(against, as_version=4), ""
    folders = instructor_folders(path, instructor)
    for folder in folders:
        with contextlib.suppress(ValueError):
            Path(path).resolve().relative_to(folder.resolve())
            return Path(path), nb, ""  # an instructor notebook is its own reference
    name = nb.metadata.get("setcourse", {}).get("source")
    if isinstance(name, str) and name:
        for folder in folders:
            candidate = (folder / name).resolve()
            try:
                candidate.relative_to(folder.resolve())  # never outside the instructor folder
            except ValueError:
                continue
            if candidate.is_file():
                return candidate, nbformat.read(candidate, as_version=4), ""
    return Path(path), nb, ("no instructor source found: graded against the notebook's own "
                            "setup and exercise cells")


def answer_of(cell):
    """The name of a written-answer cell (metadata ``setcourse.answer``), or None."""
    return cell.get("metadata", {}).get("setcourse", {}).get("answer")


def written_answers(nb, trusted):
    """``[{"answer", "status"}]``: is each written answer of ``trusted`` filled in ``nb``?

    Not scored (a person reads them): ``written`` when the student's cell differs from the
    placeholder of the student copy, else ``not written``.
    """
    found = []
    for cell in trusted.cells:
        name = answer_of(cell)
        if not name:
            continue
        placeholder = student_cell(cell, name).source.strip()
        mine = [c for c in nb.cells if answer_of(c) == name] or \
            [c for c in nb.cells if c.get("id") == cell.get("id")]
        text = mine[-1].source.strip() if mine else ""
        written = bool(text) and text != placeholder
        found.append({"answer": name, "status": "written" if written else "not written"})
    return found


def student_answer(nb, exercise, trusted_cell):
    """The student's cell for ``exercise``: the last one tagged with it, else the same id."""
    tagged = [cell for cell in nb.cells if cell.cell_type == "code" and exercise_of(cell) == exercise]
    if tagged:
        return tagged[-1]
    same_id = [cell for cell in nb.cells
               if cell.cell_type == "code" and cell.get("id") == trusted_cell.get("id")]
    return same_id[-1] if same_id else None


# --- grading ------------------------------------------------------------------------------------

def grade_exercise(kernel, exercise, cell, hidden, deadline):
    """Run the student's ``cell`` in ``kernel`` and the checker here; an ExerciseResult."""
    if cell is None:
        return ExerciseResult(exercise, NOT_ATTEMPTED,
                              [f"no exercise cell for {exercise} in this notebook"])
    checker = getattr(checks, f"check_{exercise}", None)
    if checker is None:
        return ExerciseResult(exercise, FAILED, [f"setcourse.checks has no check_{exercise}: "
                                                 "tell your instructor"])
    kernel.run(f"globals().pop({exercise!r}, None)", deadline, "the grader")
    error = kernel.run(cell.source, deadline, f"the exercise cell of {exercise}")
    if error and error[0] == "NotImplementedError":
        return ExerciseResult(exercise, NOT_ATTEMPTED, [f"the exercise cell raised {error[1]}"])
    if error:
        return ExerciseResult(exercise, FAILED,
                              [f"the exercise cell raised {error[0]}: {error[1]}"])
    # Defined again after the student's cell, which may have replaced it (harming only itself).
    kernel.run(KERNEL_HELPER, deadline, "the grader")
    answer = kernel.scratch / f"describe-{secrets.token_hex(8)}.json"
    kernel.run(f"_setcourse_grader_describe({exercise!r}, {str(answer)!r})", deadline,
               "the grader")
    try:
        info = json.loads(answer.read_text()) if answer.stat().st_size < 2**16 else {}
        answer.unlink()
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or not info.get("defined"):
        return ExerciseResult(exercise, FAILED, [
            f"the exercise cell does not define {exercise}(): everything your function needs "
            "must be in that cell (the grader runs only the setup cell and the exercise cell)"])
    if not info.get("callable"):
        return ExerciseResult(exercise, FAILED,
                              [f"{exercise} is a {info.get('type')}, not a function"])
    module = str(info.get("module"))
    if module == "setcourse" or module.startswith("setcourse."):
        return ExerciseResult(exercise, FAILED, [
            f"{exercise} is the package's {module}.{info.get('qualname')}, imported: write "
            "your own function in the exercise cell"])
    with collect_verdicts() as verdicts:
        checker(RemoteFunction(kernel, exercise, deadline))
    mine = [verdict for verdict in verdicts if verdict.exercise == exercise]
    if not mine:
        return ExerciseResult(exercise, FAILED, [f"check_{exercise} gave no verdict: tell your "
                                                 "instructor"])
    verdict = mine[-1]
    if verdict.status == PASSED and hidden.strip():
        error = kernel.run(hidden, deadline, f"the hidden tests of {exercise}")
        if error:
            return ExerciseResult(exercise, FAILED,
                                  [f"a hidden test failed: {error[0]}: {error[1]}"],
                                  verdict.summary)
    return ExerciseResult(exercise, verdict.status, list(verdict.details), verdict.summary)


def check_notebook(path, timeout=DEFAULT_TIMEOUT, fast=False, instructor=None, against=None):
    """Grade one notebook in a fresh kernel within ``timeout`` seconds in all."""
    started = time.monotonic()
    deadline = started + timeout
    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
        trusted_path, trusted, note = trusted_notebook(path, nb, instructor, against)
    except Exception as exc:
        return NotebookResult(str(path), [], problem=f"not a readable notebook: {exc}")
    result = NotebookResult(str(path), [], [note] if note else [], "", str(trusted_path))
    result.answers = written_answers(nb, trusted)
    exercises = exercises_of(trusted)
    known = {name for name, _, _ in exercises}
    extra = sorted({exercise_of(c) for c in nb.cells if exercise_of(c)} - known)
    if extra:
        result.notes.append(f"not graded (not exercises of {trusted_path.name}): "
                            + ", ".join(extra))
    setup = "\n".join(cell.source for cell in trusted.cells
                      if cell.cell_type == "code" and setup_of(cell))
    if exercises and not setup:
        result.notes.append("the notebook has no setup cell (metadata setcourse.setup): the "
                            "exercise cells run on their own")
    kernel, restarts, setup_seconds = None, 0, 0.0
    with tempfile.TemporaryDirectory(prefix="setcourse-check-") as scratch:
        try:
            for index, (exercise, trusted_cell, hidden) in enumerate(exercises):
                cell = student_answer(nb, exercise, trusted_cell)
                if time.monotonic() >= deadline:
                    result.exercises.append(ExerciseResult(exercise, FAILED, [
                        f"not checked: the notebook's time limit of {timeout:g} s ran out"]))
                    continue
                if kernel is None and cell is not None:
                    begun = time.monotonic()
                    try:
                        kernel = GradingKernel(scratch, fast)
                        kernel.start(deadline)
                        error = kernel.run(setup + "\n" + KERNEL_HELPER, deadline,
                                           "the setup cell")
                        if error:
                            error = f"the setup cell raised {error[0]}: {error[1]}"
                    except KernelGone as gone:
                        kernel.stop()
                        error = f"{gone} ({timeout:g} s for the notebook)"
                        if restarts:  # the time went to the exercises before
                            result.exercises.extend(
                                ExerciseResult(name, FAILED, [
                                    f"not checked: the notebook's time limit of {timeout:g} s "
                                    "ran out (restarting the kernel after an earlier exercise)"])
                                for name, _, _ in exercises[index:])
                            break
                    if error:  # the course's own cell: not the student's fault
                        result.problem = error
                        result.exercises.extend(
                            ExerciseResult(name, FAILED, ["not checked: the setup failed"])
                            for name, _, _ in exercises[index:])
                        break
                    restarts += 1
                    setup_seconds = max(setup_seconds, time.monotonic() - begun)
                try:
                    if cell is not None and re.search(r"\bsetcourse\b", cell.source):
                        result.notes.append(f"{exercise}: the exercise cell mentions setcourse "
                                            "(uses the package's own solution?): read it")
                    # Equal shares of the time left, after keeping a kernel restart (with
                    # setup) for each exercise still to come, in case this one has to be killed.
                    to_come = len(exercises) - index
                    left = deadline - time.monotonic()
                    share = max(left - setup_seconds * (to_come - 1), left * 0.2) / to_come
                    outcome = grade_exercise(kernel, exercise, cell, hidden,
                                             time.monotonic() + share)
                except KernelGone as gone:
                    if kernel is not None:
                        kernel.stop()
                    kernel = None
                    limit = f" ({timeout:g} s for the notebook, shared by its exercises)"
                    outcome = ExerciseResult(exercise, FAILED, [
                        str(gone) + (limit if "time" in str(gone) else "")])
                result.exercises.append(outcome)
        finally:
            if kernel is not None:
                kernel.stop()
    result.seconds = round(time.monotonic() - started, 2)
    return result


def grading_code_fingerprint():
    """A digest of the grading code's files (checkers and this package): the tripwire."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for folder in (here, here.parent / "checks"):
        for file in sorted(folder.glob("*.py")):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def check(paths, timeout=DEFAULT_TIMEOUT, fast=False, instructor=None, against=None):
    """Grade each notebook under ``paths`` (files or folders); a list of NotebookResult.

    ``timeout`` is the limit for each notebook in all; ``instructor`` the folder of the
    instructor notebooks (default: the repository's), ``against`` one notebook to grade
    every submission against.
    """
    notebooks = []
    for path in map(Path, paths):
        notebooks.extend(notebooks_under(path) if path.is_dir() else [path])
    before = grading_code_fingerprint()
    results = [check_notebook(path, timeout, fast, instructor, against) for path in notebooks]
    if grading_code_fingerprint() != before:
        for result in results:
            result.problem = result.problem or (
                "the grading code (setcourse/checks, setcourse/course) changed on disk during "
                "the check: a submission may have modified it; reinstall and grade again")
    return results


def format_result(result):
    """A notebook's report as text: one line per exercise, hints indented, then the score."""
    lines = [result.path]
    if result.problem:
        lines.append(f"  could not check: {result.problem}")
    lines.extend(f"  note: {note}" for note in result.notes)
    width = max([len(r.exercise) for r in result.exercises], default=0)
    for exercise in result.exercises:
        lines.append(f"  {MARKS[exercise.status]} {exercise.exercise:<{width}}  {exercise.status}")
        if exercise.status == FAILED:
            lines.extend(f"      {detail}" for detail in exercise.details)
    for answer in result.answers:
        mark = "✎" if answer["status"] == "written" else MARKS[NOT_ATTEMPTED]
        lines.append(f"  {mark} {answer['answer']}  {answer['status']}"
                     + (" (not scored: read it)" if answer["status"] == "written" else ""))
    if result.exercises:
        lines.append(f"  score: {result.passed}/{len(result.exercises)}")
    elif not result.problem:
        lines.append("  no exercises in this notebook")
    return "\n".join(lines)
