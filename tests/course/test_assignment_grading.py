"""Notebook 05 (the CIFAR-10 assignment) graded as a class would hand it in: each exercise left
undone, skipped (its cell deleted) or answered wrongly fails exactly that exercise; the others,
solved, pass; the written answer is listed, never scored."""
from pathlib import Path

import nbformat
import pytest

from setcourse import course

ROOT = Path(__file__).resolve().parents[2]
NAME = "05_cifar10_assignment/05_cifar10_assignment.ipynb"
INSTRUCTOR, STUDENT = ROOT / "instructor" / NAME, ROOT / "course" / NAME
EXERCISES = ["recipe_kwargs", "summarize_history", "in_degree_pmf"]
# A plausible wrong answer per exercise: the engine's defaults instead of the recipe; the mean
# instead of the median; a Poisson instead of the binomial.
WRONG = {
    "recipe_kwargs": "def recipe_kwargs(topology, hidden, epochs, seed=0):\n"
                     "    return dict(hidden=tuple(hidden), topology=topology, epochs=epochs, "
                     "seed=seed, lr=0.01, dropout=0.3)\n",
    "summarize_history": "def summarize_history(history):\n"
                         "    acc = list(history['test_accuracy'])\n"
                         "    return {'final_test_accuracy': acc[-1], 'best_test_accuracy': "
                         "max(acc), 'best_epoch': acc.index(max(acc)) + 1, "
                         "'median_seconds_per_epoch': float(np.mean(history['seconds_epoch']))}\n",
    "in_degree_pmf": "def in_degree_pmf(n_in, n_out, epsilon, k):\n"
                     "    from scipy import stats\n"
                     "    p = min(1.0, epsilon * (n_in + n_out) / (n_in * n_out))\n"
                     "    return stats.poisson.pmf(k, n_in * p)\n",
}


def solutions():
    """Exercise name -> the instructor's cell source without the solution markers."""
    cells = nbformat.read(INSTRUCTOR, as_version=4).cells
    return {course.exercise_of(cell): "\n".join(line for line in cell.source.splitlines()
                                                if "### " not in line)
            for cell in cells if course.exercise_of(cell)}


def submission(folder, name, undone=(), skipped=(), wrong=()):
    """The student copy with every exercise solved except those named."""
    nb = nbformat.read(STUDENT, as_version=4)
    solved = solutions()
    kept = []
    for cell in nb.cells:
        exercise = course.exercise_of(cell)
        if exercise in skipped:
            continue
        if exercise in wrong:
            cell.source = WRONG[exercise]
        elif exercise and exercise not in undone:
            cell.source = solved[exercise]
        kept.append(cell)
    nb.cells = kept
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
@pytest.mark.skipif(not INSTRUCTOR.exists(), reason="no notebook 05")
def test_each_missing_or_wrong_exercise_fails_exactly_itself(tmp_path):
    assert [e for e in solutions()] == EXERCISES
    plans = {"all_solved": {}}
    for exercise in EXERCISES:
        plans[f"undone_{exercise}"] = {"undone": (exercise,)}
        plans[f"skipped_{exercise}"] = {"skipped": (exercise,)}
        plans[f"wrong_{exercise}"] = {"wrong": (exercise,)}
    paths = {name: submission(tmp_path, name, **plan) for name, plan in plans.items()}
    results = {Path(result.path).stem: result for result in course.check(
        list(paths.values()), timeout=300, fast=True, against=str(INSTRUCTOR))}
    for name, plan in plans.items():
        result = results[name]
        assert not result.problem, course.format_result(result)
        status = {e.exercise: e.status for e in result.exercises}
        assert list(status) == EXERCISES, course.format_result(result)
        expected = {e: "passed" for e in EXERCISES}
        for exercise in plan.get("undone", ()) + plan.get("skipped", ()):
            expected[exercise] = "not attempted"
        for exercise in plan.get("wrong", ()):
            expected[exercise] = "failed"
        assert status == expected, (name, course.format_result(result))
        assert result.answers == [{"answer": "conclusions", "status": "not written"}], name
    assert results["all_solved"].ok
