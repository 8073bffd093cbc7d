"""Module 03's epoch scrubber: a slider and Play button over recorded input-connectivity frames."""
import ipywidgets as widgets
import numpy as np

from ..analysis.input_connectivity import as_image
from ..plots import connectivity_png

__all__ = ["EpochScrubber"]


class EpochScrubber:
    """A slider (and Play button) over recorded input-connectivity frames, one per snapshot.

    Parameters
    ----------
    frames : (n_frames, n_features) array
        Connections per input feature at each snapshot.
    image_shape : tuple, optional
        Image shape of one input, e.g. ``(28, 28)``.
    labels : sequence of str, optional
        One caption per frame (default ``"epoch k"``).
    """

    def __init__(self, frames, image_shape=None, labels=None):
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[0] == 0:
            raise ValueError(f"frames must be a non-empty 2-D array (n_frames, n_features); "
                             f"got shape {frames.shape}")
        if labels is not None and len(labels) != frames.shape[0]:
            raise ValueError(f"labels must have one entry per frame ({frames.shape[0]}); "
                             f"got {len(labels)}")
        as_image(frames[0], image_shape)  # validates image_shape
        self.frames = frames
        self.image_shape = image_shape
        self.labels = (list(labels) if labels is not None
                       else [f"epoch {k}" for k in range(frames.shape[0])])
        self._vmax = float(frames.max()) or 1.0
        self._cache = {}
        last = frames.shape[0] - 1
        self.slider = widgets.IntSlider(value=0, min=0, max=last, description="snapshot",
                                        continuous_update=True)
        self.player = widgets.Play(value=0, min=0, max=last, interval=400,
                                   description="play")
        widgets.jslink((self.player, "value"), (self.slider, "value"))
        self.image = widgets.Image(format="png")
        self.slider.observe(self._update, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.player, self.slider]), self.image])
        self._update()

    def frame_png(self, index):
        """PNG of frame ``index`` (cached: scrubbing back is instant)."""
        if index not in self._cache:
            self._cache[index] = connectivity_png(
                self.frames[index], self.image_shape,
                f"Input connectivity, {self.labels[index]}", vmax=self._vmax)
        return self._cache[index]

    def _update(self, _change=None):
        self.image.value = self.frame_png(self.slider.value)

    def display(self):
        """Show the scrubber."""
        from IPython.display import display
        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
