"""The results table the notebooks print after training several models side by side."""
import numpy as np

from ..monitor import MIB


def results_rows(models, resources=None, baseline=None):
    """One dict per model: test accuracy, seconds per epoch, connections, parameter bytes.

    Parameters
    ----------
    models : dict
        ``{name: fitted model}``.
    resources : dict, optional
        ``{name: MonitorResult}``; adds each run's peak RSS.
    baseline : str, optional
        Name of the model whose connections the others are compared with (``of_baseline``).
    """
    if baseline is not None and baseline not in models:
        raise ValueError(f"baseline {baseline!r} is not one of the models: {', '.join(models)}")
    reference = sum(models[baseline].nnz_) if baseline is not None else None
    rows = []
    for name, model in models.items():
        history = model.history_
        row = dict(name=name, test_accuracy=float(history["test_accuracy"][-1]),
                   seconds_per_epoch=float(np.mean(history["seconds_epoch"])),
                   connections=int(sum(model.nnz_)),
                   parameters=int(sum(layer.nnz + layer.n_out for layer in model.layers_)),
                   parameter_bytes=int(model.parameter_bytes()))
        if reference:
            row["of_baseline"] = row["connections"] / reference
        if resources is not None:
            row["peak_rss_bytes"] = int(resources[name].peak_rss_bytes)
        rows.append(row)
    return rows


def results_table(models, resources=None, baseline=None):
    """:func:`results_rows` as aligned text, one line per model (print it).

    Columns: test accuracy, s/epoch, connections (weights), (share of the baseline's
    connections), parameters (weights + biases, as :func:`~setcourse.plots.plot_parameters`
    counts them), parameter memory in MiB (values, indices, biases; the chart's unit) and
    (peak RSS in MiB). Two spaces between columns, so the headers never run together.
    """
    rows = results_rows(models, resources, baseline)
    width = max([len("model")] + [len(row["name"]) for row in rows])
    columns = [("test accuracy", 13, lambda r: f"{r['test_accuracy']:13.1%}"),
               ("s/epoch", 8, lambda r: f"{r['seconds_per_epoch']:8.2f}"),
               ("connections", 12, lambda r: f"{r['connections']:12,}")]
    if rows and "of_baseline" in rows[0]:
        columns.append((f"of {baseline}", max(9, len(f"of {baseline}")),
                        lambda r: f"{r['of_baseline']:{max(9, len(f'of {baseline}'))}.1%}"))
    columns.append(("parameters", 12, lambda r: f"{r['parameters']:12,}"))
    columns.append(("param. MiB", 10, lambda r: f"{r['parameter_bytes'] / MIB:10.2f}"))
    if resources is not None:
        columns.append(("peak RSS MiB", 12, lambda r: f"{r['peak_rss_bytes'] / MIB:12.0f}"))
    lines = ["  ".join([f"{'model':>{width}}"] + [f"{title:>{size}}" for title, size, _ in columns])]
    for row in rows:
        lines.append("  ".join([f"{row['name']:>{width}}"] + [cell(row) for _, _, cell in columns]))
    return "\n".join(lines)
