"""Grading: run submitted notebooks in a fresh kernel and read back what the checkers printed.

``check`` runs each notebook top to bottom with nbval (``pytest --nbval-lax`` in a
subprocess, conftest files disabled, :mod:`setcourse.course.plugin` recording each cell's
outputs) and reads the reports of :mod:`setcourse.checks` back per exercise.
"""
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from ..checks import FAILED, MARKS, NOT_ATTEMPTED, PASSED, parse_reports
from .build import exercise_of, notebooks_under

DEFAULT_TIMEOUT = 600
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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
                   f"--nbval-cell-timeout={timeout}", "-p", "setcourse.course.plugin",
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
