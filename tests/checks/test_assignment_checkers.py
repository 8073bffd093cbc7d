"""Module 05's checkers (Tasks 1-3): the right answers pass, typical wrong ones fail with a hint."""
import math

import numpy as np
from scipy import stats

from checks.checker_helpers import assert_fails, run
from setcourse.checks import check_in_degree_pmf, check_recipe_kwargs, check_summarize_history


def recipe_right(topology, hidden, epochs, seed=0):
    return dict(hidden=tuple(hidden), topology=topology, epsilon=20, zeta=0.3, dropout=0.3,
                lr=0.01, weight_decay=0, batch_size=100, activation="relu",
                loss="cross_entropy", epochs=epochs, seed=seed)


def test_recipe_right_answer_passes(capsys):
    result, out = run(check_recipe_kwargs, recipe_right, capsys)
    assert result is True, out


def test_recipe_wrong_answers_fail_with_a_hint(capsys):
    assert_fails(check_recipe_kwargs, lambda t, h, e, s=0: {**recipe_right(t, h, e, s), "lr": 0.1},
                 capsys, "lr=0.01", "the recipe")
    assert_fails(check_recipe_kwargs, lambda t, h, e, s=0: {**recipe_right(t, h, e, s), "seed": 0},
                 capsys, "seed=")
    # The engine's defaults are not the recipe's: weight decay 2e-4, batch 128.
    without = lambda t, h, e, s=0: {k: v for k, v in recipe_right(t, h, e, s).items()
                                    if k not in ("weight_decay", "batch_size")}
    assert_fails(check_recipe_kwargs, without, capsys, "the recipe")
    assert_fails(check_recipe_kwargs, lambda t, h, e, s=0: {**recipe_right(t, h, e, s), "eps": 1},
                 capsys, "TypeError")
    from setcourse import MLP
    assert_fails(check_recipe_kwargs, lambda t, h, e, s=0: MLP(**recipe_right(t, h, e, s)),
                 capsys, "not the model")
    assert_fails(check_recipe_kwargs, lambda t, h, e, s=0: None, capsys, "return")


def summary_right(history):
    accuracy = history["test_accuracy"]
    best = max(accuracy)
    return {"final_test_accuracy": accuracy[-1], "best_test_accuracy": best,
            "best_epoch": accuracy.index(best) + 1,
            "median_seconds_per_epoch": float(np.median(history["seconds_epoch"]))}


def test_summary_right_answer_passes(capsys):
    result, out = run(check_summarize_history, summary_right, capsys)
    assert result is True, out


def test_summary_wrong_answers_fail_with_a_hint(capsys):
    assert_fails(check_summarize_history,
                 lambda h: {**summary_right(h), "best_epoch": summary_right(h)["best_epoch"] - 1},
                 capsys, "count from 1")
    assert_fails(check_summarize_history,
                 lambda h: {**summary_right(h),
                            "median_seconds_per_epoch": float(np.mean(h["seconds_epoch"]))},
                 capsys, "that is the mean")
    last_best = lambda h: {**summary_right(h), "best_epoch": len(h["test_accuracy"]) - int(  # noqa
        np.argmax(h["test_accuracy"][::-1]))}
    assert_fails(check_summarize_history, last_best, capsys, "on a tie")
    assert_fails(check_summarize_history, lambda h: {"best_epoch": 1}, capsys, "missing")


def pmf_right(n_in, n_out, epsilon, k):
    p = min(1.0, epsilon * (n_in + n_out) / (n_in * n_out))
    return stats.binom.pmf(np.asarray(k), n_in, p)


def test_pmf_right_answer_passes(capsys):
    result, out = run(check_in_degree_pmf, pmf_right, capsys)
    assert result is True, out


def test_pmf_wrong_answers_fail_with_a_hint(capsys):
    def naive(n_in, n_out, epsilon, k):
        p = min(1.0, epsilon * (n_in + n_out) / (n_in * n_out))
        with np.errstate(all="ignore"):
            return np.array([float(math.factorial(n_in)) / (math.factorial(int(j)) *
                             math.factorial(max(n_in - int(j), 0))) * p ** j * (1 - p) ** (n_in - j)
                             if j <= n_in else 0.0 for j in np.ravel(k)]).reshape(np.shape(k))

    def poisson(n_in, n_out, epsilon, k):
        p = min(1.0, epsilon * (n_in + n_out) / (n_in * n_out))
        return stats.poisson.pmf(k, n_in * p)

    def uncapped(n_in, n_out, epsilon, k):
        p = epsilon * (n_in + n_out) / (n_in * n_out)
        with np.errstate(all="ignore"):
            return stats.binom.pmf(k, n_in, p)

    def n_out_trials(n_in, n_out, epsilon, k):
        return stats.binom.pmf(k, n_out, min(1.0, epsilon * (n_in + n_out) / (n_in * n_out)))

    out = run(check_in_degree_pmf, naive, capsys)[1]
    assert out.startswith("✗") and ("nan or inf" in out or "could not check" in out
                                    or "raised OverflowError" in out), out
    assert_fails(check_in_degree_pmf, poisson, capsys, "Poisson approximation")
    assert_fails(check_in_degree_pmf, uncapped, capsys, "dense layer")
    assert_fails(check_in_degree_pmf, n_out_trials, capsys, "n = n_in")


def test_an_unsolved_exercise_falls_back_to_the_reference_and_says_so(capsys):
    from setcourse.checks import answer_or_reference
    from setcourse.checks.in_degree_pmf import reference_in_degree_pmf

    def stub(*args):
        raise NotImplementedError

    assert answer_or_reference(stub, "in_degree_pmf") is reference_in_degree_pmf
    assert "has not passed its check yet (not attempted)" in capsys.readouterr().out
    assert answer_or_reference(pmf_right, "in_degree_pmf") is pmf_right
    assert capsys.readouterr().out == ""  # a passing answer is used, quietly
    for exercise in ("recipe_kwargs", "summarize_history", "in_degree_pmf"):
        reference = answer_or_reference(stub, exercise)
        assert answer_or_reference(reference, exercise) is reference  # the references pass


def test_free_energy_checker(capsys):
    from setcourse.checks import check_free_energy, reference_free_energy
    assert run(check_free_energy, reference_free_energy, capsys)[0] is True

    def overflowing(V, W, b, c):
        with np.errstate(over="ignore"):
            return -(V @ b) - np.log(1 + np.exp(V @ W + c)).sum(axis=1)

    assert_fails(check_free_energy, overflowing, capsys, "np.logaddexp")
    assert_fails(check_free_energy, lambda V, W, b, c: -reference_free_energy(V, W, b, c), capsys,
                 "sign is flipped")
    assert_fails(check_free_energy, lambda V, W, b, c: -(V @ b), capsys, "check each term")
