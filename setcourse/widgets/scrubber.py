"""Module 03's epoch scrubber: a slider and Play button over recorded input-connectivity frames."""
import html

import ipywidgets as widgets

from ..analysis.feature_selection import feature_selection
from ..analysis.input_connectivity import as_image, check_frames
from ..plots.figure import DPI
from ..plots.live import LiveConnectivity, panel_png

__all__ = ["EpochScrubber"]


class EpochScrubber:
    """A slider (and Play button) over recorded input-connectivity frames, one per snapshot.

    The picture keeps its own size (about 310 × 260 px: never stretched to the cell's width,
    so picture and slider fit on one screen) and one colour scale for every frame.

    Parameters
    ----------
    frames : (n_frames, n_features) array
        Connections per input feature at each snapshot.
    image_shape : tuple, optional
        Image shape of one input, e.g. ``(28, 28)``.
    labels : sequence of str, optional
        One caption per frame (default ``"epoch k"``).
    variance : (n_features,) array, optional
        The training inputs' variance per feature: each frame is then shown with its
        feature-selection numbers (:func:`~setcourse.analysis.feature_selection.feature_selection`).
    """

    def __init__(self, frames, image_shape=None, labels=None, variance=None):
        frames = check_frames(frames, labels)
        as_image(frames[0], image_shape)  # validates image_shape
        self.frames = frames
        self.image_shape = image_shape
        self.labels = (list(labels) if labels is not None
                       else [f"epoch {k}" for k in range(frames.shape[0])])
        self.stats = (None if variance is None
                      else [feature_selection(frame, variance) for frame in frames])
        self._vmax = float(frames.max()) or 1.0
        self._cache = {}
        self._panel = LiveConnectivity()
        last = frames.shape[0] - 1
        self.slider = widgets.IntSlider(value=0, min=0, max=last, description="snapshot",
                                        continuous_update=True,
                                        layout=widgets.Layout(width="300px"))
        self.player = widgets.Play(value=0, min=0, max=last, interval=400,
                                   description="play")
        widgets.jslink((self.player, "value"), (self.slider, "value"))
        width, height = (int(round(v * DPI)) for v in self._panel.figure.get_size_inches())
        self.image = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{width}px", height=f"{height}px", object_fit="contain"))
        self.image.add_class("setcourse-scrubber-image")
        self.caption = widgets.HTML(layout=widgets.Layout(width="300px"))
        self.slider.observe(self._update, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.player, self.slider]),
                                    widgets.HBox([self.image, self.caption])])
        self._update()

    def frame_png(self, index):
        """PNG of frame ``index`` (cached: scrubbing back is instant)."""
        if index not in self._cache:
            title = f"Input connectivity, {self.labels[index]}"
            if self.stats is not None:
                title += f"\nr = {self.stats[index].r:+.2f} (connections vs pixel variance)"
            self._panel.update(as_image(self.frames[index], self.image_shape), self._vmax, title)
            self._cache[index] = panel_png(self._panel.figure)
        return self._cache[index]

    def _update(self, _change=None):
        index = self.slider.value
        self.image.value = self.frame_png(index)
        if self.stats is not None:
            s = self.stats[index]
            self.caption.value = (
                f"<div style='font-size:12px'><b>{html.escape(self.labels[index])}</b><br>"
                f"r = <b>{s.r:+.2f}</b>: correlation between a pixel's connections and its "
                f"variance over the training images.<br>10 % least-varying pixels: "
                f"{s.least_varying:.1f} connections; 10 % most-varying: "
                f"{s.most_varying:.1f}.</div>")

    def display(self):
        """Show the scrubber."""
        from IPython.display import display
        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
