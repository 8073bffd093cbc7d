"""Figures of what a run costs: CPU and memory over time, parameters and memory vs dense,
connections per layer."""
import numpy as np

from ..monitor import MIB, MonitorResult, run_label
from .figure import detached_figure as _figure, new_figure

def plot_monitor(results, labels=None, title=None):
    """CPU and memory over time for one or several :class:`~setcourse.monitor.MonitorResult`."""
    if isinstance(results, MonitorResult):
        results = [results]
    results = list(results)
    if not results:
        raise ValueError("results must contain at least one MonitorResult")
    labels = labels or [r.label for r in results]
    fig = _figure((7.0, 5.0))
    cpu_ax, memory_ax = fig.subplots(2, 1)
    for result, label in zip(results, labels):
        times = np.asarray(result.times, dtype=float)
        (line,) = cpu_ax.plot(times, result.cpu_percent, lw=1, label=label)
        color = line.get_color()
        memory_ax.plot(times, np.asarray(result.rss_bytes, dtype=float) / MIB, lw=1, color=color,
                       label=f"{label}: RSS")
        uss = np.array([np.nan if u is None else u for u in result.uss_bytes], dtype=float)
        if np.isfinite(uss).any():
            has = np.isfinite(uss)
            memory_ax.plot(times[has], uss[has] / MIB, ":", marker=".", color=color,
                           label=f"{label}: USS")
        if len(results) == 1:
            for t in result.epoch_end_times[:100]:
                for ax in (cpu_ax, memory_ax):
                    ax.axvline(t, color="grey", lw=0.5, alpha=0.4)
    cpu_ax.set_ylabel("CPU (% of one core)")
    cpu_ax.set_title("process CPU use" + (" (grey lines: epoch ends)" if len(results) == 1 else ""))
    memory_ax.set_ylabel("memory (MiB)")
    for ax in (cpu_ax, memory_ax):
        ax.set_xlabel("time since the monitor started (s)")
    memory_ax.set_title("process memory (RSS: resident; USS: unique to the process)")
    for ax in (cpu_ax, memory_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.suptitle(title or "Resource use during training")
    return fig


def _parameter_figures(item):
    """``(params, dense params, bytes, dense bytes)`` of a model or a MonitorResult."""
    if isinstance(item, MonitorResult):
        if item.n_parameters is None:
            raise ValueError("this MonitorResult has no parameter counts (it saw no model)")
        return (item.n_parameters, item.dense_n_parameters, item.parameter_bytes,
                item.dense_parameter_bytes)
    layers = item.layers_
    return (sum(layer.nnz + layer.n_out for layer in layers),
            sum(layer.n_in * layer.n_out + layer.n_out for layer in layers),
            item.parameter_bytes(), item.dense_parameter_bytes())


def plot_parameters(models, labels=None, title=None):
    """Parameter count and parameter memory of each model next to its dense equivalent.

    ``models``: fitted models (or MonitorResults); memory counts values, indices and biases.
    Linear axes, so bar heights compare honestly; every bar is labelled with its value.
    """
    if not isinstance(models, (list, tuple)):
        models = [models]
    figures = np.array([_parameter_figures(m) for m in models], dtype=float)
    labels = labels or [m.label if isinstance(m, MonitorResult) else run_label(m) for m in models]
    if len(labels) != len(models):
        raise ValueError(f"labels must have one entry per model ({len(models)}); got {len(labels)}")
    fig = _figure((max(7.0, 2.4 * len(models) + 3), 4.0))
    count_ax, memory_ax = fig.subplots(1, 2)
    x = np.arange(len(models))
    width = 0.38
    for ax, actual, dense, scale, fmt in (
            (count_ax, figures[:, 0], figures[:, 1], 1.0, "{:,.0f}"),
            (memory_ax, figures[:, 2], figures[:, 3], 1.0 / MIB, "{:.2f}")):
        bars = ax.bar(x - width / 2, actual * scale, width, label="this model")
        ax.bar_label(bars, [fmt.format(v * scale) for v in actual], fontsize=9)
        bars = ax.bar(x + width / 2, dense * scale, width, label="dense equivalent")
        ax.bar_label(bars, [fmt.format(v * scale) for v in dense], fontsize=9)
        ax.set_xticks(x, [label if not a else f"{label}\n({d / a:.1f}x smaller)" if d >= a
                          else f"{label}\n({a / d:.2f}x larger)"
                          for label, a, d in zip(labels, actual, dense)], fontsize=9)
        ax.margins(y=0.15)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=9)
        ax.set_xlabel("model")
    count_ax.set_ylabel("parameters: weights + biases (count)")
    count_ax.set_title("parameter count")
    memory_ax.set_ylabel("parameter memory (MiB)")
    memory_ax.set_title("memory (values + indices + biases)")
    fig.suptitle(title or "Sparse vs dense: parameters and memory")
    return fig


def plot_connections_per_layer(layers, title="Connections per layer"):
    """Bar chart: connections of each layer next to what the dense layer would have."""
    figure = new_figure(4.2, 3.0)
    axes = figure.subplots()
    names = [f"{layer.n_in}→{layer.n_out}" for layer in layers]
    dense = [layer.n_in * layer.n_out for layer in layers]
    nnz = [layer.nnz for layer in layers]
    x = np.arange(len(layers))
    axes.bar(x, dense, 0.8, color="none", edgecolor="grey", hatch="//", label="dense")
    axes.bar(x, nnz, 0.5, color="tab:blue", label="this model")
    axes.set_yscale("log")
    axes.set_xticks(x, names, fontsize="small")
    axes.set(title=title, xlabel="layer (inputs→outputs)", ylabel="connections (count, log scale)")
    axes.legend(fontsize="small", loc="lower left")
    return figure
