"""Figures that are redrawn many times (the dashboard's panels): built once, updated in place.

Each panel owns one pyplot-free Agg figure with a fixed layout (no constrained layout, which
costs more than the drawing itself). ``update(...)`` changes the data of the existing
artists; :func:`panel_png` renders and encodes it. Panels *blit*: axes, tick labels, legend
and the Erdős–Rényi curves are drawn once into a cached background (again only when the axis
limits change), and each update redraws only the data artists and the title on top of it.
Tick labels are most of matplotlib's drawing time, so an update costs a few milliseconds
instead of 50–150. Safe to use from a background thread (no pyplot state).
"""
import io

from PIL import Image

import numpy as np
from matplotlib.ticker import (FixedLocator, LogLocator, MaxNLocator, NullLocator,
                               ScalarFormatter)

from ..analysis.degrees import erdos_renyi_expectation
from .figure import DPI, new_figure

__all__ = ["LiveConnectivity", "LiveCurves", "LiveDegrees", "LiveRewiring", "panel_png",
           "rewiring_picture"]

FONT = 9  # points; at 80 dpi about 10 px, readable in a browser at 100 % zoom


def _fixed_figure(width, height, **adjust):
    figure = new_figure(width, height)
    figure.set_layout_engine(None)
    figure.subplots_adjust(**{"left": 0.13, "right": 0.97, "bottom": 0.16, "top": 0.86, **adjust})
    return figure


class _Blit:
    """Cached background + dynamic artists of one figure."""

    def __init__(self, figure):
        self.figure = figure
        self.dynamic = []
        self.background = None
        self.full_draws = self.blits = 0

    def invalidate(self):
        self.background = None

    def render(self):
        canvas = self.figure.canvas
        if self.background is None:
            hidden = [a for a in self.dynamic if a.get_visible()]
            for artist in hidden:
                artist.set_visible(False)
            canvas.draw()
            self.background = canvas.copy_from_bbox(self.figure.bbox)
            for artist in hidden:
                artist.set_visible(True)
            self.full_draws += 1
        else:
            canvas.restore_region(self.background)
            self.blits += 1
        renderer = canvas.get_renderer()
        for artist in self.dynamic:
            if artist.get_visible():
                artist.draw(renderer)


def panel_png(figure):
    """PNG bytes of a panel figure, rendered now (blitted when the panel supports it)."""
    blit = getattr(figure, "_setcourse_blit", None)
    if blit is None:
        figure.canvas.draw()
    else:
        blit.render()
    pixels = np.asarray(figure.canvas.buffer_rgba())
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., :3]).save(buffer, format="png", compress_level=3)
    return buffer.getvalue()


def _blit(figure):
    figure._setcourse_blit = _Blit(figure)
    return figure._setcourse_blit


def _title_text(figure, size=FONT + 1, x=0.5, ha="center"):
    """A figure-level title (drawn on its own when blitting; axes titles are not)."""
    return figure.text(x, 0.985, "", ha=ha, va="top", fontsize=size)


def _round_limits(low, high, step=5.0):
    """Percent limits rounded outwards to ``step`` (so they rarely change between epochs)."""
    low = max(0.0, np.floor((low - 1) / step) * step)
    high = min(100.0, np.ceil((high + 1) / step) * step)
    return low, max(high, low + step)


DEGREE_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]


def _style(ax):
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(alpha=0.3)


class LiveCurves:
    """Test accuracy per epoch of the current run and of earlier runs (kept until cleared)."""

    def __init__(self, width=5.2, height=3.3, metric_label="test accuracy (%)"):
        self.figure = _fixed_figure(width, height, right=0.98, bottom=0.15, top=0.88)
        self.ax = self.figure.subplots()
        self.metric_label = metric_label
        self._lines = {}
        self._signature = None
        self._limits = None
        self._blit = _blit(self.figure)
        self._title = _title_text(self.figure)
        self.update([])

    def update(self, runs, title="Test accuracy per epoch", epochs=None):
        """``runs``: list of ``(label, values)`` (fractions in [0, 1]); the last is the current run.

        ``epochs``: planned length of the current run (keeps the x axis fixed while it trains).
        """
        ax = self.ax
        signature = tuple(label for label, _ in runs)
        if signature != self._signature:  # a run was added or the list cleared: new lines
            ax.cla()
            self._blit.invalidate()
            self._limits = None  # cla() reset the axis limits
            _style(ax)
            ax.set_xlabel("epoch", fontsize=FONT)
            ax.set_ylabel(self.metric_label, fontsize=FONT)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            self._lines = {}
            for index, (label, _) in enumerate(runs):
                current = index == len(runs) - 1
                (line,) = ax.plot([], [], marker="o", markersize=3, lw=2 if current else 1.2,
                                  alpha=1.0 if current else 0.75, label=label)
                self._lines[label] = line
            self._signature = signature
            # Earlier runs are background; the current run's line and the title are redrawn.
            self._blit.dynamic = [self._title] + ([line] if runs else [])
            if runs:
                ax.legend(fontsize=FONT - 2, loc="lower right", framealpha=0.8)
        top_epoch, low, high = max(1, epochs or 1), np.inf, -np.inf
        for label, values in runs:
            values = 100 * np.asarray(values, dtype=float)
            epochs = np.arange(1, values.size + 1)
            self._lines[label].set_data(epochs, values)
            if values.size:
                top_epoch = max(top_epoch, values.size)
                low, high = min(low, np.nanmin(values)), max(high, np.nanmax(values))
        limits = (0.5, top_epoch + 0.5) + (_round_limits(low, high) if np.isfinite(low)
                                             else (0.0, 100.0))
        if limits != self._limits:
            ax.set_xlim(*limits[:2])
            ax.set_ylim(*limits[2:])
            self._limits = limits
            self._blit.invalidate()
        self._title.set_text(title)
        return self


class LiveDegrees:
    """Two log-log panels: in-degrees of each hidden layer, out-degrees of the input layer,
    each beside its Erdős–Rényi (binomial) expectation."""

    def __init__(self, width=5.6, height=3.3):
        self.figure = _fixed_figure(width, height, left=0.1, right=0.98, bottom=0.16, top=0.8,
                                    wspace=0.3)
        self.axes = self.figure.subplots(1, 2)
        self._signature = None
        self._blit = _blit(self.figure)

    def _setup(self, layers):
        """``layers``: list of ``(label, n_trials, p, n_neurons)``; first ones are hidden layers."""
        self._points, self._expected = [], []
        for ax, kind in zip(self.axes, ("in", "out")):
            ax.cla()
            _style(ax)
            ax.set_xscale("log")
            ax.set_yscale("log")
            # Few fixed ticks: tick labels are most of the drawing time on log axes.
            ax.xaxis.set_major_locator(FixedLocator(DEGREE_TICKS))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_locator(NullLocator())
            ax.yaxis.set_major_locator(LogLocator(numticks=5))
            ax.yaxis.set_minor_locator(NullLocator())
            ax.set_xlabel(f"{kind}-degree k (log)", fontsize=FONT)
        self.axes[0].set_ylabel("fraction of neurons (log)", fontsize=FONT)
        self.axes[0].set_title("hidden neurons: in-degree", fontsize=FONT)
        self.axes[1].set_title("input pixels: out-degree", fontsize=FONT)
        for index, (label, n_trials, p, n_neurons) in enumerate(layers):
            ax = self.axes[0] if index < len(layers) - 1 else self.axes[1]
            (points,) = ax.plot([], [], "o", markersize=2.5, alpha=0.85, label=label)
            k = np.arange(n_trials + 1)
            expected = erdos_renyi_expectation(k, n_neurons, n_trials, p) / n_neurons
            shown = (k >= 1) & (expected * n_neurons >= 0.1)
            ax.plot(k[shown], expected[shown], "-", color=points.get_color(), lw=1, alpha=0.7)
            self._points.append(points)
        self.axes[0].plot([], [], "-", color="grey", lw=1, label="Erdős–Rényi (binomial)")
        self.axes[0].legend(fontsize=FONT - 2, loc="upper left", framealpha=0.8)
        # Limits fixed for the run around the Erdős–Rényi bulk, so the background is reused.
        for ax, group in ((self.axes[0], layers[:-1]), (self.axes[1], layers[-1:])):
            means = [n_trials * p for _, n_trials, p, _ in group] or [1.0]
            neurons = max(n for *_, n in group) if group else 1
            ax.set_xlim(max(0.8, min(means) / 4), max(4.0, max(means) * 5))
            ax.set_ylim(0.4 / neurons, 1.0)
        if not hasattr(self, "_title"):
            self._title = _title_text(self.figure)
        self._blit.dynamic = [*self._points, self._title]
        self._blit.invalidate()

    def update(self, degrees, layers, title):
        """``degrees``: one int array per entry of ``layers`` (see ``_setup``)."""
        signature = tuple(layers)
        if signature != self._signature:
            self._setup(layers)
            self._signature = signature
        for values, points in zip(degrees, self._points):
            counts = np.bincount(np.asarray(values, dtype=np.int64))
            k = np.flatnonzero(counts)
            k = k[k >= 1]
            points.set_data(k, counts[k] / max(len(values), 1))
        self._title.set_text(title)
        return self


class LiveConnectivity:
    """Connections per input pixel on a colour scale fixed for the whole run."""

    def __init__(self, width=3.9, height=3.3):
        self.figure = _fixed_figure(width, height, left=0.08, right=0.88, bottom=0.08, top=0.83)
        self.ax = self.figure.add_axes((0.06, 0.05, 0.68, 0.76))
        self.colorbar_ax = self.figure.add_axes((0.78, 0.05, 0.04, 0.76))
        self._image = None
        self._vmax = None
        self._line = None
        self._blit = _blit(self.figure)
        self._title = _title_text(self.figure, FONT, x=0.03, ha="left")

    def update(self, image, vmax, title):
        """``image``: ``(height, width)`` counts, or 1-D for data without an image shape."""
        image = np.asarray(image)
        if image.ndim == 1:
            if self._line is None:
                self.colorbar_ax.set_visible(False)
                self.ax.set_position((0.14, 0.14, 0.82, 0.66))
                (self._line,) = self.ax.plot(np.arange(image.size), image, lw=0.8)
                self.ax.set_xlabel("input feature index", fontsize=FONT)
                self.ax.set_ylabel("connections", fontsize=FONT)
                _style(self.ax)
                self._blit.dynamic = [self._line, self._title]
            self._line.set_ydata(image)
            if vmax != self._vmax:
                self.ax.set_ylim(0, vmax)
                self._vmax = vmax
                self._blit.invalidate()
        elif self._image is None or self._image.get_array().shape != image.shape:
            self.ax.cla()
            self.colorbar_ax.cla()
            self._image = self.ax.imshow(image, cmap="viridis", vmin=0, vmax=vmax,
                                         interpolation="nearest")
            colorbar = self.figure.colorbar(self._image, cax=self.colorbar_ax, extend="max")
            colorbar.ax.tick_params(labelsize=FONT - 1)
            colorbar.set_label("connections per pixel (fixed scale)", fontsize=FONT - 1)
            self.ax.set_xticks([])
            self.ax.set_yticks([])
            self._blit.dynamic = [self._image, self._title]
            self._blit.invalidate()
            self._vmax = vmax
        else:
            self._image.set_data(image)
            if vmax != self._vmax:
                self._image.set_clim(0, vmax)
                self._vmax = vmax
                self._blit.invalidate()
        self._title.set_text(title)
        return self


def rewiring_picture(before, after):
    """RGB picture of two boolean connection patterns: kept grey, removed red, added green."""
    before, after = np.asarray(before, dtype=bool), np.asarray(after, dtype=bool)
    picture = np.ones(before.shape + (3,))
    picture[before & after] = (0.55, 0.55, 0.55)
    picture[before & ~after] = (0.85, 0.1, 0.1)
    picture[~before & after] = (0.1, 0.65, 0.1)
    return picture


class LiveRewiring:
    """A block of one layer's connections at the last rewiring: kept, removed, added."""

    def __init__(self, width=3.0, height=3.3):
        self.figure = _fixed_figure(width, height)
        self.ax = self.figure.add_axes((0.19, 0.13, 0.76, 0.68))
        self._image = None
        self._extent = None
        self._blit = _blit(self.figure)
        self._title = _title_text(self.figure, FONT, x=0.03, ha="left")

    def update(self, before, after, title, xlabel="hidden neuron (index)",
               ylabel="input pixel (index)", origin=(0, 0)):
        picture = rewiring_picture(before, after)
        extent = (origin[1] - 0.5, origin[1] + picture.shape[1] - 0.5,
                  origin[0] + picture.shape[0] - 0.5, origin[0] - 0.5)
        if (self._image is None or self._image.get_array().shape != picture.shape
                or extent != self._extent):
            self.ax.cla()
            self._image = self.ax.imshow(picture, interpolation="nearest", extent=extent)
            self.ax.set_xlabel(xlabel, fontsize=FONT)
            self.ax.set_ylabel(ylabel, fontsize=FONT)
            self.ax.tick_params(labelsize=FONT - 1)
            self._blit.dynamic = [self._image, self._title]
            self._blit.invalidate()
            self._extent = extent
        else:
            self._image.set_data(picture)
        self._title.set_text(title)
        return self
