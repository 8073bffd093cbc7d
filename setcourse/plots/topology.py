"""Figures of a sparse topology: degree distributions, input connectivity (still and
animated), NNSTD."""
import numpy as np
from matplotlib import animation as mpl_animation
from matplotlib.ticker import LogFormatter

from .._atomic import atomic_file
from ..analysis.degrees import LayerDegrees, layer_degrees
from ..analysis.input_connectivity import (InputConnectivity, as_image, check_frames,
                                           default_image_shape, input_connections)
from ..analysis.nnstd import nnstd_matrix
from .figure import detached_figure as _figure, figure_png

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
    fig = _figure((6.4, 4.4))
    ax = fig.subplots()
    # Hollow large markers first, smaller filled ones after: both stay visible where they meet.
    markers = [dict(marker="o", markersize=6, markerfacecolor="none", markeredgewidth=1.3),
               dict(marker="s", markersize=3.5), dict(marker="^", markersize=4),
               dict(marker="D", markersize=3)]
    drawn = {}
    for index, (layer, label) in enumerate(zip(stats, labels)):
        values = layer.degrees(direction)
        k, counts = layer.distribution(direction)
        n = max(values.size, 1)
        shown = (k >= 1) & (counts > 0)
        zeros = int(counts[0]) if counts.size else 0
        note = f", {zeros} with degree 0 not shown" if zeros else ""
        points = ax.plot(k[shown], counts[shown] / n, linestyle="none", alpha=0.85,
                         zorder=3 + index, label=f"{label}{note}",
                         **markers[index % len(markers)])[0]
        key = (layer.n_trials(direction), round(layer.density, 12), n)
        if key not in drawn:
            # Same n and p give the same expectation: drawn once, dashed for later layers.
            k_er, expected = layer.expectation(direction)
            # Below a tenth of a neuron the expectation is off any histogram of this layer.
            visible = (k_er >= 1) & (expected >= 0.1)
            same = sum(1 for s in stats if (s.n_trials(direction), round(s.density, 12),
                                            max(s.degrees(direction).size, 1)) == key)
            ax.plot(k_er[visible], expected[visible] / n, "-" if not drawn else "--",
                    color="black" if same > 1 else points.get_color(), alpha=0.6, lw=1.2,
                    zorder=2,
                    label=f"Erdős–Rényi expectation{' (all)' if same == len(stats) > 1 else ''}: "
                          f"binomial n={layer.n_trials(direction)}, p={layer.density:.3g}")
            drawn[key] = True
        if fit and np.count_nonzero(values >= 1) >= 2:
            result = layer.heavy_tail(direction)
            tail_k = np.arange(result.fit.xmin, max(result.fit.xmax, result.fit.xmin) + 1)
            share = result.fit.n_tail / n
            ax.plot(tail_k, share * result.fit.pmf(tail_k), ":", lw=1.5,
                    color=points.get_color(), zorder=4,
                    label=f"power law α = {result.fit.alpha:.2f} for k ≥ x_min = "
                          f"{result.fit.xmin} ({result.verdict})")
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
    ax.legend(fontsize="small", loc="lower left")
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
                                 interval=400, max_frames=50, figsize=(3.8, 3.3), labels=None,
                                 vmax=None):
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
    labels : list of str, optional
        One caption per frame (instead of ``epochs``).
    vmax : float, optional
        Top of the colour scale (default: the largest count of all frames); the scale is
        the same for every frame, so frames compare.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        Save with :func:`save_gif`, show in a notebook with :func:`animation_html`.
    """
    if isinstance(frames, InputConnectivity):
        image_shape = image_shape or frames.image_shape
        channel_axis = frames.channel_axis if channel_axis is None else channel_axis
        labels = ["at initialisation"] + [f"after epoch {e + 1}" for e in frames.epochs_]
        frames = frames.frames()
    frames = check_frames(frames, labels)
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
    top = vmax if vmax is not None else (max(float(np.max(image)) for image in images) or 1.0)
    if images[0].ndim == 1:
        (artist,) = ax.plot(np.arange(images[0].size), images[0], lw=0.8)
        ax.set_ylim(0, top * 1.05)
        ax.set_xlabel("input feature index")
        ax.set_ylabel("connections (count)")
        set_frame, caption = artist.set_ydata, "Connections per input feature"
    else:
        artist = ax.imshow(images[0], cmap="viridis", vmin=0, vmax=top)
        fig.colorbar(artist, ax=ax, label="connections per pixel (count)")
        ax.set_xlabel("pixel column")
        ax.set_ylabel("pixel row")
        set_frame, caption = artist.set_data, "Input connectivity"

    def update(i):
        set_frame(images[i])
        ax.set_title(f"{caption}, {labels[i]}", fontsize="medium")
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


def connectivity_png(counts, image_shape=None, title=None, vmax=None):
    """PNG bytes of :func:`plot_input_connectivity`, colour scale fixed to ``[0, vmax]``."""
    return figure_png(plot_input_connectivity(np.asarray(counts), image_shape=image_shape,
                                              title=title, vmax=vmax))
