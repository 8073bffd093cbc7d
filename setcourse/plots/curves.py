"""Learning curves: one panel per metric of ``model.history_``, mean ± std over seeds."""
import numpy as np
from matplotlib.ticker import MaxNLocator

from .figure import detached_figure as _figure

METRIC_LABELS = {
    "test_accuracy": ("test accuracy", "%", 100.0),
    "train_accuracy": ("training accuracy (with dropout)", "%", 100.0),
    "test_loss": ("test loss", "mean per sample", 1.0),
    "train_loss": ("training loss (with dropout)", "mean per sample", 1.0),
    "seconds_epoch": ("training time per epoch", "s", 1.0),
    "nnz": ("connections, all layers", "count", 1.0),
}


def _metric_label(metric):
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    if metric.startswith("seconds_"):
        return (f"{metric[len('seconds_'):]} time per epoch", "s", 1.0)
    return (metric.replace("_", " "), "value", 1.0)


def _as_runs(runs):
    """``{label: [History, ...]}`` from a mapping, a single History or a list of Histories."""
    if isinstance(runs, dict) and "epoch" in runs:
        return {"run": [runs]}
    if isinstance(runs, dict):
        return {label: (list(h) if isinstance(h, (list, tuple)) else [h]) for label, h in runs.items()}
    if isinstance(runs, (list, tuple)) and runs and all(isinstance(h, dict) for h in runs):
        return {"run": list(runs)}
    raise ValueError("runs must map labels to History dicts (or lists of them, one per seed); "
                     f"got {type(runs).__name__}")


def _metric_values(history, metric):
    values = history.get(metric)
    if values is None:
        raise ValueError(f"metric {metric!r} is not in the history; available: "
                         f"{', '.join(sorted(history))}")
    if metric == "nnz":
        return np.array([sum(v) for v in values], dtype=float)
    return np.asarray(values, dtype=float)


def plot_learning_curves(runs, metrics=("test_accuracy", "train_loss"), title=None):
    """Learning curves of several models, mean ± standard deviation over seeds.

    Parameters
    ----------
    runs : dict
        ``{label: [History, ...]}``, one History (``model.history_``) per seed; a single
        History or a list of them is treated as one model.
    metrics : str or sequence of str
        History keys, one panel each (``test_accuracy``, ``train_loss``, ``seconds_epoch``,
        ``nnz``, ...).
    """
    runs = _as_runs(runs)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    fig = _figure((4.6 * len(metrics), 3.6))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        name, unit, scale = _metric_label(metric)
        for label, histories in runs.items():
            curves = [_metric_values(h, metric) * scale for h in histories]
            length = max(len(c) for c in curves)
            # Runs stopped early are shorter: average over the seeds still running.
            padded = np.full((len(curves), length), np.nan)
            for row, curve in zip(padded, curves):
                row[:len(curve)] = curve
            epochs = np.arange(1, length + 1)
            mean = np.nanmean(padded, axis=0)
            seeds = f"{len(curves)} seed{'s' if len(curves) > 1 else ''}"
            (line,) = ax.plot(epochs, mean, marker="o" if length < 30 else None, markersize=3,
                              label=f"{label} ({seeds})")
            if len(curves) > 1:
                std = np.nanstd(padded, axis=0)
                ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_ylabel(f"{name} ({unit})")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title or "Learning curves (mean ± std over seeds)")
    return fig
