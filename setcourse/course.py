"""Instructor and student copies of the course notebooks: build them, check a submission, reset one.

The instructor notebooks under ``instructor/`` are the single source. Solution code sits
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, hidden tests between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (the nbgrader convention)::

    python -m setcourse.course build [--check]   # instructor/ -> course/; --check: report stale
    python -m setcourse.course check PATH [PATH ...] [--timeout SECONDS] [--fast] [--json FILE]
    python -m setcourse.course reset NOTEBOOK [--no-backup]

``check`` runs each notebook top to bottom in a fresh kernel with nbval (``pytest
--nbval-lax`` in a subprocess, conftest files disabled) and reads back what the checkers of
:mod:`setcourse.checks` printed. This module is also the small pytest plugin that records
each cell's outputs during that run (``-p setcourse.course``).
"""
import argparse
import copy
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from ._atomic import atomic_file
from .checks import FAILED, MARKS, NOT_ATTEMPTED, PASSED, emit, parse_reports

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
RAISES = "raises-exception"
# Cell metadata that records one run (timings) rather than the notebook's content.
RUN_METADATA = ("execution", "ExecuteTime")
DEFAULT_TIMEOUT = 600
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ---------------------------------------------------------------------------------------------
# Student copies


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


def student_cell(cell, where):
    """The student version of one instructor cell, or None when nothing of it remains."""
    cell = copy.deepcopy(cell)
    source = cell.source
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
    to ``course_dir``. The student's version is kept as ``<name>.ipynb.bak`` unless
    ``backup`` is False.
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
        saved = notebook.with_name(notebook.name + ".bak")
        write_atomic(saved, notebook.read_bytes())  # whatever it holds, even if not a notebook
    write_atomic(notebook, text)
    return saved


# ---------------------------------------------------------------------------------------------
# Checking a submission


@dataclasses.dataclass
class ExerciseResult:
    """Outcome of one exercise: ``status`` is passed, failed or not attempted."""

    exercise: str
    status: str
    details: list


@dataclasses.dataclass
class NotebookResult:
    """What ``check`` found in one notebook."""

    path: str
    exercises: list
    cell_errors: list
    problem: str = ""

    @property
    def passed(self):
        return sum(result.status == PASSED for result in self.exercises)

    @property
    def ok(self):
        return (not self.problem and not self.cell_errors
                and self.passed == len(self.exercises))


def run_nbval(notebooks, timeout=DEFAULT_TIMEOUT, fast=False):
    """Run ``notebooks`` with ``pytest --nbval-lax``; returns (captured cells, pytest's output).

    Only the notebooks run: conftest files are ignored, the project's pytest configuration
    is replaced by an empty one, and the kernel is this Python environment's.
    """
    with tempfile.TemporaryDirectory(prefix="setcourse-check-") as scratch:
        scratch = Path(scratch)
        (scratch / "pytest.ini").write_text("[pytest]\n")
        capture = scratch / "cells.json"
        command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
                   f"--nbval-cell-timeout={timeout}", "-p", "setcourse.course",
                   f"--setcourse-capture={capture}", "--noconftest", "-p", "no:cacheprovider",
                   "-c", str(scratch / "pytest.ini"), "--rootdir", str(scratch), "-q",
                   *[str(Path(path).resolve()) for path in notebooks]]
        env = {key: value for key, value in os.environ.items()
               if key not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
        if fast:
            env["SETCOURSE_FAST"] = "1"
        finished = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
        cells = json.loads(capture.read_text()) if capture.exists() else []
    return cells, finished.stdout + finished.stderr


def text_of(outputs):
    """The printed text (stdout, stderr and text/plain results) of a cell's outputs."""
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def error_of(cell):
    """(ename, evalue) of the error a captured cell raised, or None."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return (ANSI.sub("", output.get("ename", "Error")),
                    ANSI.sub("", output.get("evalue", "")))
    return None


def first_line(source, width=40):
    """The first non-blank line of a cell, shortened: how a report points at a cell."""
    line = next((line.strip() for line in source.splitlines() if line.strip()), "empty cell")
    return line if len(line) <= width else line[:width - 1] + "…"


def summarize(path, nb, cells):
    """Per-exercise results of one notebook from the cells captured while it ran."""
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    by_number = {cell["cell_num"]: cell for cell in cells}
    reports, trouble, cell_errors = {}, {}, []
    exercises, current = [], None
    for number, cell in enumerate(code_cells):
        if exercise_of(cell):
            current = exercise_of(cell)
            exercises.append(current)
        captured = by_number.get(number)
        if captured is None:
            continue
        for name, status, lines in parse_reports(text_of(captured["outputs"])):
            reports[name] = ExerciseResult(name, status, [line.strip() for line in lines[1:]])
        error = error_of(captured)
        where = f"cell {number} ({first_line(cell.source)})"
        if captured.get("timeout"):
            problem = f"{where} exceeded the time limit: {captured['timeout']}"
        elif error:
            problem = f"{where} raised {error[0]}: {error[1]}"
        else:
            continue
        if current:  # the first trouble in an exercise cell or the cells after it, up to the next
            trouble.setdefault(current, (error, problem))
        if not exercise_of(cell):
            cell_errors.append(problem)
    results = []
    for exercise in exercises:
        result = reports.pop(exercise, None)
        if result is None:
            error, problem = trouble.get(exercise, (None, ""))
            if error and error[0] == "NotImplementedError":
                result = ExerciseResult(exercise, NOT_ATTEMPTED, [])
            else:
                result = ExerciseResult(exercise, FAILED, [
                    problem or f"no result from check_{exercise}: was the cell that calls it "
                               "deleted or not run?"])
        results.append(result)
    results.extend(reports.values())  # checkers called for exercises without cell metadata
    problem = "" if cells else "the notebook did not run"
    return NotebookResult(str(path), results, cell_errors, problem)


def check(paths, timeout=DEFAULT_TIMEOUT, fast=False):
    """Run each notebook under ``paths`` (files or folders) and grade its exercises."""
    notebooks = []
    for path in map(Path, paths):
        notebooks.extend(notebooks_under(path) if path.is_dir() else [path])
    results, readable = {}, {}
    for path in notebooks:
        try:
            readable[path] = nbformat.read(path, as_version=4)
        except Exception as exc:
            results[path] = NotebookResult(str(path), [], [], f"not a readable notebook: {exc}")
    cells, log = run_nbval(list(readable), timeout, fast) if readable else ([], "")
    for path, nb in readable.items():
        mine = [cell for cell in cells if Path(cell["file"]) == path.resolve()]
        results[path] = summarize(path, nb, mine)
        if results[path].problem:
            results[path].problem += ":\n" + "\n".join(log.strip().splitlines()[-15:])
    return [results[path] for path in notebooks]


def format_result(result):
    """A notebook's report as text: one line per exercise, hints indented, then the score."""
    lines = [result.path]
    if result.problem:
        lines.append(f"  could not check: {result.problem}")
    width = max([len(r.exercise) for r in result.exercises], default=0)
    for exercise in result.exercises:
        lines.append(f"  {MARKS[exercise.status]} {exercise.exercise:<{width}}  {exercise.status}")
        if exercise.status == FAILED:
            lines.extend(f"      {detail}" for detail in exercise.details)
    if result.cell_errors:
        lines.append("  errors in other cells:")
        lines.extend(f"      {error}" for error in result.cell_errors)
    if result.exercises:
        lines.append(f"  score: {result.passed}/{len(result.exercises)}")
    elif not result.problem:
        lines.append("  no exercises in this notebook")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# pytest plugin, active only in the subprocess started by run_nbval (-p setcourse.course)

_captured_cells = []


def pytest_addoption(parser):
    parser.addoption("--setcourse-capture", default=None,
                     help="setcourse: write each notebook cell's outputs to this JSON file")


def pytest_runtest_makereport(item, call):
    """Record an nbval cell's outputs once it has run (nbval keeps them in ``test_outputs``)."""
    if call.when != "call" or not hasattr(item, "cell_num"):
        return None
    message = str(call.excinfo.value) if call.excinfo is not None else ""
    _captured_cells.append({
        "file": str(item.path), "cell_num": item.cell_num,
        "outputs": [dict(output) for output in item.test_outputs or []],
        "timeout": message if "Timeout" in message else "",
    })
    return None


def pytest_sessionfinish(session):
    target = session.config.getoption("setcourse_capture", None)
    if target:
        Path(target).write_text(json.dumps(_captured_cells, default=str))


# ---------------------------------------------------------------------------------------------
# Command line


def parser():
    """The ``python -m setcourse.course`` argument parser."""
    main_parser = argparse.ArgumentParser(
        prog="python -m setcourse.course",
        description="Build, check and reset the course's student notebooks.")
    commands = main_parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser(
        "build", help="generate the student copies in course/ from instructor/")
    build_parser.add_argument("--check", action="store_true",
                              help="write nothing; exit 1 if a student copy is stale")
    check_parser = commands.add_parser(
        "check", help="run notebooks (files or folders) and report each exercise and a score")
    check_parser.add_argument("paths", nargs="+", metavar="PATH")
    check_parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                              help="time limit per cell in seconds (default %(default)s)")
    check_parser.add_argument("--fast", action="store_true",
                              help="set SETCOURSE_FAST=1: smaller data and fewer epochs")
    check_parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    reset_parser = commands.add_parser(
        "reset", help="restore a student notebook from its instructor source")
    reset_parser.add_argument("notebook")
    reset_parser.add_argument("--no-backup", action="store_true",
                              help="do not keep the student's version as NOTEBOOK.bak")
    for sub in (build_parser, reset_parser):
        sub.add_argument("--instructor", metavar="DIR",
                         help="instructor notebooks (default: instructor/ of the repository)")
        sub.add_argument("--course", metavar="DIR",
                         help="student copies (default: course/ of the repository)")
    return main_parser


def main(argv=None):
    command_line = parser()
    args = command_line.parse_args(argv)
    if args.command == "check":
        if not args.timeout > 0:
            command_line.error(f"--timeout must be > 0 seconds, got {args.timeout}")
        results = check(args.paths, args.timeout, args.fast)
        for result in results:
            emit(format_result(result))
        if len(results) > 1:
            emit("\nsummary:")
            for result in results:
                emit(f"  {result.passed}/{len(result.exercises)}  {result.path}")
        if args.json:
            write_atomic(Path(args.json), json.dumps(
                [dataclasses.asdict(result) for result in results], indent=1, ensure_ascii=False))
        return 0 if results and all(result.ok for result in results) else 1
    try:
        if args.command == "build":
            root = None if args.instructor and args.course else find_root()
            instructor = Path(args.instructor) if args.instructor else root / "instructor"
            course = Path(args.course) if args.course else root / "course"
            if args.check:
                stale = stale_copies(instructor, course)
                for problem in stale:
                    emit(f"stale: {problem}")
                if stale:
                    emit("run: python -m setcourse.course build")
                return 1 if stale else 0
            written = build(instructor, course)
            for path in written:
                emit(f"wrote {path}")
            emit(f"{len(written)} student notebook(s) updated, "
                 f"{len(notebooks_under(instructor)) - len(written)} already up to date")
            for problem in stale_copies(instructor, course):
                emit(f"warning: {problem}")
            return 0
        saved = reset(args.notebook, args.instructor, args.course, backup=not args.no_backup)
        if saved:
            emit(f"your previous version is saved as {saved}")
        emit(f"reset {args.notebook} from its instructor source")
        return 0
    except (FileNotFoundError, ValueError) as exc:
        emit(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
