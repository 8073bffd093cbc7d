"""Finished runs grouped into mean ± sd: the numbers that go beside a paper's table.

Groups are the runs whose specs agree on every ``by`` key; by default ``by`` is every key
that varies over the runs except the seeds, so a (topology x seed) grid gives one row per
topology. ``sd`` is the sample standard deviation (n - 1), as papers report it: the
original tutorial's SET seeds 0.842, 0.842, 0.851, 0.844, 0.839 give 0.8436 ± 0.0045.
"""
import json
import math

from .grid import _hash_form, varying_keys
from .store import all_summaries, read_history

#: Seed keys: what repeats a run rather than defines it.
SEED_KEYS = ("seed",)
METRICS = ("final_test_accuracy", "best_test_accuracy", "seconds_per_epoch", "peak_rss_mb")

__all__ = ["METRICS", "aggregate", "aggregate_curves", "format_table", "mean_sd"]


def mean_sd(values):
    """``(mean, sample sd)`` of the finite values (sd NaN for fewer than two, both for none)."""
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    mean = sum(finite) / len(finite)
    if len(finite) < 2:
        return mean, float("nan")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))


def _summaries(source):
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        return all_summaries(source)
    return list(source)


def _groups(summaries, by):
    ok = [s for s in summaries if s.get("status") == "ok"]
    specs = [s["spec"] for s in ok]
    if by is None:
        by = varying_keys(specs, exclude=SEED_KEYS)
    elif isinstance(by, str):
        by = [by]
    groups = {}
    for summary in ok:
        values = {key: summary["spec"].get(key) for key in by}
        key = json.dumps(_hash_form(values), sort_keys=True)
        groups.setdefault(key, (values, []))[1].append(summary)
    return list(by), list(groups.values())


def aggregate(source, by=None, metrics=METRICS):
    """Mean ± sd of ``metrics`` per group of finished runs.

    Parameters
    ----------
    source : path or list of summaries
        A sweep's output folder (every finished run in it) or summaries (e.g. what
        :func:`~setcourse.sweep.run_sweep` returned).
    by : list of str, optional
        Spec keys that define a group (default: the varying keys except ``seed``).
    metrics : tuple of str
        Summary keys to average.

    Returns
    -------
    list of dict
        One per group, in order of first appearance: ``group`` (key -> value), ``n``,
        ``seeds``, ``run_ids``, and for each metric ``{"mean", "sd", "values"}``.
    """
    _, groups = _groups(_summaries(source), by)
    rows = []
    for values, members in groups:
        row = {"group": values, "n": len(members),
               "seeds": [m["spec"].get("seed") for m in members],
               "run_ids": [m["run_id"] for m in members]}
        for metric in metrics:
            column = [m.get(metric) for m in members]
            mean, sd = mean_sd(column)
            row[metric] = {"mean": mean, "sd": sd, "values": column}
        rows.append(row)
    return rows


def aggregate_curves(out_dir, key="test_accuracy", by=None, summaries=None):
    """Per-epoch mean ± sd of a history key per group (for accuracy-vs-epoch bands).

    Returns a list of ``{"group", "n", "run_ids", "epoch", "mean", "sd"}``; the curves of a
    group are cut to its shortest history.
    """
    _, groups = _groups(_summaries(out_dir) if summaries is None else summaries, by)
    rows = []
    for values, members in groups:
        curves = [read_history(out_dir, m["run_id"]).get(key, []) for m in members]
        length = min(len(curve) for curve in curves)
        stats = [mean_sd([curve[i] for curve in curves]) for i in range(length)]
        rows.append({"group": values, "n": len(members),
                     "run_ids": [m["run_id"] for m in members], "epoch": list(range(length)),
                     "mean": [s[0] for s in stats], "sd": [s[1] for s in stats]})
    return rows


def _cell(stats, digits):
    mean, sd = stats["mean"], stats["sd"]
    if not math.isfinite(mean):
        return "-"
    if not math.isfinite(sd):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


DIGITS = {"final_test_accuracy": 4, "best_test_accuracy": 4, "seconds_per_epoch": 3,
          "peak_rss_mb": 0}


def format_table(rows, metrics=METRICS):
    """:func:`aggregate` rows as an aligned text table, ``mean ± sd`` per metric."""
    if not rows:
        return "(no finished runs)"
    keys = list(rows[0]["group"])
    header = [*keys, "n", *metrics]
    lines = [header]
    for row in rows:
        group = [json.dumps(row["group"][k]) if not isinstance(row["group"][k], str)
                 else row["group"][k] for k in keys]
        lines.append([*group, str(row["n"]),
                      *(_cell(row[m], DIGITS.get(m, 4)) for m in metrics if m in row)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in lines)
