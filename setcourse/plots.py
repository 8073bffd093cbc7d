"""Figures for the course: learning curves, degree distributions, input connectivity, resources.

Every function returns a :class:`matplotlib.figure.Figure` (the animation function a
``FuncAnimation``) with a title and labelled axes with units. Figures are detached from
pyplot, so a notebook shows each one exactly once (when it is the cell's value, or with
``display(fig)``), nothing accumulates in long sessions, and they work headless (Agg):
save one with ``fig.savefig(path)``.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation as mpl_animation
from matplotlib.ticker import LogFormatter

from ._atomic import atomic_file
from .monitor import MIB, MonitorResult, run_label
from .analysis.degrees import LayerDegrees, layer_degrees
from .analysis.input_connectivity import (InputConnectivity, as_image, default_image_shape,
                                          input_connections)
from .analysis.nnstd import nnstd_matrix

METRIC_LABELS = {
    "test_accuracy": ("test accuracy", "%", 100.0),
    "train_accuracy": ("training accuracy (with dropout)", "%", 100.0),
    "test_loss": ("test loss", "mean per sample", 1.0),
    "train_loss": ("training loss (with dropout)", "mean per sample", 1.0),
    "seconds_epoch": ("training time per epoch", "s", 1.0),
    "nnz": ("connections, all layers", "count", 1.0),
}


def _figure(figsize):
    """A constrained-layout figure that pyplot does not track (shown once, never leaked)."""
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig


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
        ax.set_ylabel(f"{name} ({unit})")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title or "Learning curves (mean ± std over seeds)")
    return fig


def _as_layer_degrees(item):
    return item if isinstance(item, LayerDegrees) else layer_degrees(item)


def plot_degree_distribution(layers, direction="in", labels=None, fit=False, title=None):
    """Degree distribution on log-log axes with the Erdős–Rényi (binomial) expectation.

    Parameters
    ----------
    layers : layer, ``(n_in, n_out)`` matrix, LayerDegrees, or a list of them
        E.g. the same hidden layer at initialisation and after training.
    direction : {"in", "out"}
        In-degrees of the output neurons or out-degrees of the input neurons.
    labels : list of str, optional
    fit : bool
        Overlay the power law fitted to the tail (:func:`~setcourse.analysis.heavy_tail.heavy_tail_test`).
    """
    if not isinstance(layers, (list, tuple)):
        layers = [layers]
    stats = [_as_layer_degrees(layer) for layer in layers]
    labels = labels or [f"layer {s.n_in}→{s.n_out}" for s in stats]
    if len(labels) != len(stats):
        raise ValueError(f"labels must have one entry per layer ({len(stats)}); got {len(labels)}")
    fig = _figure((5.6, 4.2))
    ax = fig.subplots()
    for layer, label in zip(stats, labels):
        values = layer.degrees(direction)
        k, counts = layer.distribution(direction)
        n = max(values.size, 1)
        shown = (k >= 1) & (counts > 0)
        zeros = int(counts[0]) if counts.size else 0
        note = f", {zeros} with degree 0 not shown" if zeros else ""
        points = ax.plot(k[shown], counts[shown] / n, "o", markersize=3, alpha=0.8,
                         label=f"{label} (density {layer.density:.3g}{note})")[0]
        k_er, expected = layer.expectation(direction)
        # Below a tenth of a neuron the expectation is off any histogram of this layer.
        visible = (k_er >= 1) & (expected >= 0.1)
        ax.plot(k_er[visible], expected[visible] / n, "-", color=points.get_color(), alpha=0.7,
                label=f"Erdős–Rényi expectation (binomial, n={layer.n_trials(direction)}, "
                      f"p={layer.density:.3g})")
        if fit and np.count_nonzero(values >= 1) >= 2:
            result = layer.heavy_tail(direction)
            tail_k = np.arange(result.fit.xmin, max(result.fit.xmax, result.fit.xmin) + 1)
            share = result.fit.n_tail / n
            ax.plot(tail_k, share * result.fit.pmf(tail_k), "--", color=points.get_color(),
                    label=f"power law α = {result.fit.alpha:.2f} for k ≥ {result.fit.xmin} "
                          f"({result.verdict})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Degrees read better as plain numbers (20, 30, 50) than as 2 x 10^1.
    ax.xaxis.set_major_formatter(LogFormatter())
    ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    kind = "in-degree k (incoming connections per neuron)" if direction == "in" else \
        "out-degree k (outgoing connections per neuron)"
    ax.set_xlabel(f"{kind}, log scale")
    ax.set_ylabel("fraction of neurons with degree k, log scale")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="x-small")
    ax.set_title(title or f"{direction.capitalize()}-degree distribution vs Erdős–Rényi")
    return fig


def _connections(source):
    """Per-feature connection counts from an array, a model/layer list or a recorder."""
    if isinstance(source, InputConnectivity):
        return np.asarray(source.after_[-1] if source.after_ else source.initial_)
    if hasattr(source, "layers_") or isinstance(source, (list, tuple)):
        return input_connections(source)
    return np.asarray(source)


def _show_sample(ax, sample, image_shape, channel_axis):
    sample = np.asarray(sample, dtype=float).ravel()
    shape = tuple(image_shape) if image_shape is not None else default_image_shape(sample.size)
    if len(shape) == 3:
        # Show colour images in colour: channels last, scaled to [0, 1].
        axis = channel_axis if channel_axis is not None else (0 if shape[0] in (1, 3, 4) else 2)
        image = np.moveaxis(sample.reshape(shape), axis, -1)
        low, high = image.min(), image.max()
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        ax.imshow(image.squeeze())
    else:
        image = as_image(sample, image_shape, channel_axis)
        if image.ndim == 1:
            ax.plot(np.arange(image.size), image, lw=0.8)
            ax.set_xlabel("input feature index")
            ax.set_ylabel("feature value")
            return
        ax.imshow(image, cmap="gray")
    ax.set_xlabel("pixel column")
    ax.set_ylabel("pixel row")


def plot_input_connectivity(connections, sample=None, image_shape=None, channel_axis=None,
                            title=None, vmax=None):
    """Connections per input pixel as a heat map, next to a sample input.

    Parameters
    ----------
    connections : (n_features,) array, a fitted model / list of layers, or an InputConnectivity
        recorder (its latest record).
    sample : (n_features,) array, optional
        One input, shown on the left for orientation.
    image_shape, channel_axis :
        As in :func:`~setcourse.analysis.input_connectivity.as_image` (colour channels are summed).
    vmax : float, optional
        Top of the colour scale (which starts at 0), e.g. fixed across epochs for comparison.
    """
    values = _connections(connections)
    if isinstance(connections, InputConnectivity):
        image_shape = image_shape or connections.image_shape
        channel_axis = connections.channel_axis if channel_axis is None else channel_axis
    image = as_image(values, image_shape, channel_axis)
    panels = 2 if sample is not None else 1
    fig = _figure((4.2 * panels, 3.6))
    axes = fig.subplots(1, panels, squeeze=False)[0]
    if sample is not None:
        _show_sample(axes[0], sample, image_shape, channel_axis)
        axes[0].set_title("sample input")
    ax = axes[-1]
    shape = tuple(image_shape) if image_shape is not None else default_image_shape(values.size)
    summed = " (summed over colour channels)" if len(shape) == 3 else ""
    if image.ndim == 1:
        ax.bar(np.arange(image.size), image, width=1.0)
        if vmax is not None:
            ax.set_ylim(0, vmax)
        ax.set_xlabel("input feature index")
        ax.set_ylabel("connections (count)")
        ax.set_title("connections per input feature")
    else:
        shown = ax.imshow(image, cmap="viridis", vmin=0, vmax=vmax)
        fig.colorbar(shown, ax=ax, label=f"connections per pixel{summed} (count)")
        ax.set_xlabel("pixel column")
        ax.set_ylabel("pixel row")
        ax.set_title("connections per input pixel")
    fig.suptitle(title or f"Input connectivity of the first layer ({int(values.sum())} connections)")
    return fig


def input_connectivity_animation(frames, image_shape=None, channel_axis=None, epochs=None,
                                 interval=400, max_frames=50, figsize=(3.8, 3.3)):
    """Animation of the connections per input pixel over training.

    Parameters
    ----------
    frames : InputConnectivity recorder, or (n_frames, n_features) array
        A recorder gives its initial state and the state after every epoch.
    epochs : list of int, optional
        Epoch of each frame (labels only); from the recorder by default.
    interval : int
        Milliseconds between frames.
    max_frames : int
        Frames are thinned evenly (first and last kept) to at most this many, which keeps a GIF
        small (about 30 kB per frame at the default size).

    Returns
    -------
    matplotlib.animation.FuncAnimation
        Save with :func:`save_gif`, show in a notebook with :func:`animation_html`.
    """
    labels = None
    if isinstance(frames, InputConnectivity):
        image_shape = image_shape or frames.image_shape
        channel_axis = frames.channel_axis if channel_axis is None else channel_axis
        labels = ["at initialisation"] + [f"after epoch {e + 1}" for e in frames.epochs_]
        frames = frames.frames()
    frames = np.asarray(frames)
    if frames.ndim != 2 or frames.shape[0] == 0:
        raise ValueError(f"frames must be (n_frames, n_features) with n_frames >= 1; got shape "
                         f"{frames.shape}")
    if labels is None:
        epochs = list(range(frames.shape[0])) if epochs is None else list(epochs)
        labels = [f"epoch {e}" for e in epochs]
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1; got {max_frames!r}")
    keep = np.unique(np.linspace(0, frames.shape[0] - 1, min(max_frames, frames.shape[0])).round()
                     .astype(int))
    images = [as_image(frames[i], image_shape, channel_axis) for i in keep]
    labels = [labels[i] for i in keep]
    fig = _figure(figsize)
    ax = fig.subplots()
    top = max(float(np.max(image)) for image in images) or 1.0
    if images[0].ndim == 1:
        (artist,) = ax.plot(np.arange(images[0].size), images[0], lw=0.8)
        ax.set_ylim(0, top * 1.05)
        ax.set_xlabel("input feature index")
        ax.set_ylabel("connections (count)")

        def update(i):
            artist.set_ydata(images[i])
            ax.set_title(f"Connections per input feature, {labels[i]}", fontsize="medium")
            return (artist,)
    else:
        artist = ax.imshow(images[0], cmap="viridis", vmin=0, vmax=top)
        fig.colorbar(artist, ax=ax, label="connections per pixel (count)")
        ax.set_xlabel("pixel column")
        ax.set_ylabel("pixel row")

        def update(i):
            artist.set_data(images[i])
            ax.set_title(f"Input connectivity, {labels[i]}", fontsize="medium")
            return (artist,)
    update(0)
    return mpl_animation.FuncAnimation(fig, update, frames=len(images), interval=interval,
                                       blit=False, repeat=True)


def save_gif(animation, path, fps=None, dpi=72):
    """Write ``animation`` as a GIF with Pillow (atomically: temp file + rename); returns ``path``.

    ``fps`` defaults to the animation's own speed.
    """
    if fps is None:
        fps = 1000.0 / getattr(animation, "_interval", 400)
    # Pillow picks the format from the file name: the temporary keeps the .gif suffix.
    with atomic_file(path, suffix=".gif") as temp:
        animation.save(str(temp), writer=mpl_animation.PillowWriter(fps=fps), dpi=dpi)
    return path


def animation_html(animation):
    """The animation as self-contained HTML/JavaScript for a notebook (``IPython.display.HTML``)."""
    return animation.to_jshtml()


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


def plot_nnstd(matrix_or_networks, labels=None, title=None):
    """Heat map of the pairwise NNSTD between runs (0 = same topology, 1 = disjoint).

    ``matrix_or_networks`` is a square matrix from
    :func:`~setcourse.analysis.nnstd.nnstd_matrix` or a list of networks to compare.
    """
    data = matrix_or_networks
    if isinstance(data, np.ndarray) and data.ndim == 2 and data.shape[0] == data.shape[1] \
            and np.issubdtype(data.dtype, np.floating):
        matrix = data
    else:
        matrix = nnstd_matrix(data)
    size = matrix.shape[0]
    labels = labels or [f"run {i}" for i in range(size)]
    if len(labels) != size:
        raise ValueError(f"labels must have one entry per run ({size}); got {len(labels)}")
    fig = _figure((1.2 + 0.55 * size + 1.5, 1.0 + 0.55 * size + 0.8))
    ax = fig.subplots()
    shown = ax.imshow(matrix, vmin=0, vmax=1, cmap="magma")
    fig.colorbar(shown, ax=ax, label="NNSTD (0 = same topology, 1 = disjoint)")
    ax.set_xticks(range(size), labels, rotation=45, ha="right")
    ax.set_yticks(range(size), labels)
    if size <= 12:
        for i in range(size):
            for j in range(size):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize="small",
                        color="white" if matrix[i, j] < 0.6 else "black")
    ax.set_xlabel("run")
    ax.set_ylabel("run")
    ax.set_title(title or "Sparse topology distance (NNSTD)")
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
            (memory_ax, figures[:, 2], figures[:, 3], 1.0 / MIB, "{:.3g}")):
        bars = ax.bar(x - width / 2, actual * scale, width, label="this model")
        ax.bar_label(bars, [fmt.format(v * scale) for v in actual], fontsize="x-small")
        bars = ax.bar(x + width / 2, dense * scale, width, label="dense equivalent")
        ax.bar_label(bars, [fmt.format(v * scale) for v in dense], fontsize="x-small")
        ax.set_xticks(x, [f"{label}\n({d / a:.1f}x smaller)" if a else label
                          for label, a, d in zip(labels, actual, dense)], fontsize="small")
        ax.margins(y=0.15)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize="x-small")
        ax.set_xlabel("model")
    count_ax.set_ylabel("parameters: weights + biases (count)")
    count_ax.set_title("parameter count")
    memory_ax.set_ylabel("parameter memory (MiB)")
    memory_ax.set_title("memory (values + indices + biases)")
    fig.suptitle(title or "Sparse vs dense: parameters and memory")
    return fig
