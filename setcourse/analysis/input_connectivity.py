"""Connections per input feature of the first layer, recorded during training and shown as an image.

SET removes the connections of uninformative inputs (the empty border of MNIST digits) and
regrows them at random; connections that survive pile up on the informative pixels. Counting
each input's outgoing connections after every epoch makes that visible.
"""
import numpy as np

from ..callbacks import Callback
from .degrees import out_degrees
from .pattern import network_layers

#: Default image shapes by number of features: MNIST / Fashion-MNIST, CIFAR-10 (channels last,
#: as ``setcourse.data`` delivers it), sklearn's digits, Madelon (1-D).
IMAGE_SHAPES = {784: (28, 28), 3072: (32, 32, 3), 64: (8, 8), 500: (500,)}


def input_connections(network):
    """Outgoing connections of each input feature: out-degrees of the first layer, ``(n_in,)``."""
    return out_degrees(network_layers(network)[0])


def default_image_shape(n_features):
    """The usual image shape for ``n_features`` (see ``IMAGE_SHAPES``), else 1-D ``(n_features,)``."""
    return IMAGE_SHAPES.get(int(n_features), (int(n_features),))


def as_image(values, image_shape=None, channel_axis=None):
    """Reshape per-feature ``values`` to the input image, summing colour channels.

    Parameters
    ----------
    values : (n_features,) array
        E.g. connections per input feature.
    image_shape : tuple, optional
        ``(height, width)``, ``(channels, height, width)``, ``(height, width, channels)`` or
        ``(n_features,)``; by default guessed from ``n_features`` (``IMAGE_SHAPES``).
    channel_axis : int, optional
        Axis of the colour channels in a 3-D ``image_shape``; by default the axis of size 1,
        3 or 4 (the first one when both ends qualify).

    Returns
    -------
    (height, width) array, or ``(n_features,)`` for 1-D data such as Madelon's 500 features.
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"values must be 1-D (n_features,); got shape {values.shape}")
    shape = default_image_shape(values.size) if image_shape is None else tuple(image_shape)
    if int(np.prod(shape)) != values.size:
        raise ValueError(f"image_shape {shape} holds {int(np.prod(shape))} values, but there are "
                         f"{values.size} features")
    image = values.reshape(shape)
    if image.ndim == 3:
        if channel_axis is None:
            channel_axis = 0 if shape[0] in (1, 3, 4) else 2
        if channel_axis not in (0, 2, -1):
            raise ValueError(f"channel_axis must be 0 (channels first) or -1/2 (channels last); "
                             f"got {channel_axis!r}")
        image = image.sum(axis=channel_axis)
    elif image.ndim not in (1, 2):
        raise ValueError(f"image_shape must have 1, 2 or 3 dimensions; got {shape}")
    return image


class InputConnectivity(Callback):
    """Records the connections of every input feature before and after each evolution step.

    Attributes
    ----------
    epochs_ : list of int
        Epochs recorded.
    before_ : list of (n_features,) int arrays
        Connections per input at the end of each epoch, before the topology changes.
    after_ : list of (n_features,) int arrays
        Connections per input after the evolution step (the same as ``before_`` when no
        evolution happened, e.g. in the last epoch).
    initial_ : (n_features,) int array
        Connections per input when training began.
    """

    def __init__(self, image_shape=None, channel_axis=None):
        self.image_shape = image_shape
        self.channel_axis = channel_axis

    def on_train_begin(self, model):
        self.initial_ = input_connections(model)
        self.epochs_, self.before_, self.after_ = [], [], []

    def before_evolution(self, model, epoch):
        self.epochs_.append(int(epoch))
        self.before_.append(input_connections(model))

    def on_epoch_end(self, model, epoch, logs):
        self.after_.append(input_connections(model))

    def frames(self):
        """Connections per input at the start and after every epoch, ``(n_epochs + 1, n_features)``."""
        return np.stack([self.initial_, *self.after_])

    def image(self, index=-1, when="after"):
        """Connections per pixel after (or ``when="before"`` the evolution of) epoch ``index``."""
        if when not in ("before", "after"):
            raise ValueError(f"when must be 'before' or 'after'; got {when!r}")
        values = (self.before_ if when == "before" else self.after_)[index]
        return as_image(values, self.image_shape, self.channel_axis)

    def images(self):
        """:meth:`frames` reshaped to images, ``(n_epochs + 1, height, width)``."""
        return np.stack([as_image(f, self.image_shape, self.channel_axis) for f in self.frames()])


def check_frames(frames, labels=None):
    """``frames`` as a ``(n_frames, n_features)`` array (at least one frame), and ``labels``
    checked to have one entry per frame; raises ValueError naming what is wrong."""
    frames = np.asarray(frames)
    if frames.ndim != 2 or frames.shape[0] == 0:
        raise ValueError(f"frames must be a non-empty 2-D array (n_frames, n_features); "
                         f"got shape {frames.shape}")
    if labels is not None and len(labels) != frames.shape[0]:
        raise ValueError(f"labels must have one entry per frame ({frames.shape[0]}); "
                         f"got {len(labels)}")
    return frames
