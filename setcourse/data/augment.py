"""CIFAR-10 augmentation applied per batch during training: random shifts, rotations, flips.

Usable as ``MLP.fit(..., batch_transform=Cifar10Augmentation())``: it takes flattened
batch-major images and the model's random generator, and returns new flattened images.
All images of a batch are warped at once (one bilinear gather per corner, numpy only).
"""
import numpy as np

from .._validation import check_in_range


class Cifar10Augmentation:
    """Random shifts up to ``shift`` of the width and height, rotations up to ``rotation``
    degrees and horizontal flips, drawn independently for every image of every batch.

    Each output pixel :math:`p` samples the input at :math:`T^{-1}(p)`, where
    :math:`T(q) = R_\\theta F q + t` about the image centre (:math:`F` an optional mirror,
    :math:`R_\\theta` a rotation, :math:`t` a shift), with bilinear interpolation and the edge
    pixels repeated outside the image.

    Parameters
    ----------
    image_shape : tuple
        ``(height, width, channels)`` (channel last, as ``load`` flattens them) or
        ``(height, width)``.
    shift : float in [0, 1)
        Largest shift as a fraction of the height and of the width (0.1: up to 3.2 pixels).
    rotation : float in [0, 180]
        Largest rotation in degrees, either direction.
    flip : bool
        Mirror left-right with probability 1/2.
    """

    def __init__(self, image_shape=(32, 32, 3), shift=0.1, rotation=10.0, flip=True):
        if len(image_shape) not in (2, 3) or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (height, width[, channels]); "
                             f"got {image_shape!r}")
        check_in_range("shift", shift, 0.0, 1.0, high_open=True)
        check_in_range("rotation", rotation, 0.0, 180.0)
        self.image_shape = tuple(image_shape)
        self.shift = shift
        self.rotation = rotation
        self.flip = flip

    def __call__(self, X, rng):
        """Augmented copy of the flattened batch ``X`` (n, height·width·channels), float32."""
        n = len(X)
        height, width = self.image_shape[:2]
        angles = rng.uniform(-self.rotation, self.rotation, n)
        shifts_y = rng.uniform(-self.shift * height, self.shift * height, n)
        shifts_x = rng.uniform(-self.shift * width, self.shift * width, n)
        flips = rng.random(n) < 0.5 if self.flip else np.zeros(n, dtype=bool)
        return self.warp(X, angles, shifts_y, shifts_x, flips)

    def warp(self, X, angles, shifts_y, shifts_x, flips):
        """Apply given per-image rotations (degrees, counter-clockwise as displayed), shifts
        (pixels; +y moves the content down, +x right) and mirrors to the flattened batch ``X``."""
        X = np.asarray(X, dtype=np.float32)
        height, width = self.image_shape[:2]
        channels = self.image_shape[2] if len(self.image_shape) == 3 else 1
        if X.ndim != 2 or X.shape[1] != height * width * channels:
            raise ValueError(f"X must have shape (n, {height * width * channels}) for image_shape "
                             f"{self.image_shape}; got {X.shape}")
        n = len(X)
        images = X.reshape(n, height, width, channels)
        centre_y, centre_x = (height - 1) / 2.0, (width - 1) / 2.0
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
        # Undo the shift, then the rotation, then the mirror: where each output pixel comes from.
        v = rows[None] - centre_y - np.asarray(shifts_y, dtype=np.float32)[:, None, None]
        u = cols[None] - centre_x - np.asarray(shifts_x, dtype=np.float32)[:, None, None]
        theta = np.radians(np.asarray(angles, dtype=np.float64)).astype(np.float32)[:, None, None]
        cos, sin = np.cos(theta), np.sin(theta)
        source_u = cos * u - sin * v
        source_v = sin * u + cos * v
        source_u = np.where(np.asarray(flips)[:, None, None], -source_u, source_u)
        out = _bilinear(images, source_v + centre_y, source_u + centre_x)
        return out.reshape(n, -1)

    def __repr__(self):
        return (f"Cifar10Augmentation(image_shape={self.image_shape}, shift={self.shift}, "
                f"rotation={self.rotation}, flip={self.flip})")


def _bilinear(images, ys, xs):
    """Sample ``images`` (n, h, w, c) at fractional ``ys``, ``xs`` (n, h, w), edges repeated.

    The four neighbours are gathered by flat row index into ``(n·h·w, c)``, which is cheaper
    than broadcasting three index arrays.
    """
    n, height, width, channels = images.shape
    ys = np.clip(ys, 0, height - 1)
    xs = np.clip(xs, 0, width - 1)
    floor_y, floor_x = np.floor(ys), np.floor(xs)
    wy = (ys - floor_y).reshape(-1, 1)      # float32 weights (intp arithmetic would give float64)
    wx = (xs - floor_x).reshape(-1, 1)
    y0, x0 = floor_y.astype(np.intp), floor_x.astype(np.intp)
    image_start = np.arange(n, dtype=np.intp)[:, None, None] * (height * width)
    first = (image_start + y0 * width + x0).ravel()
    down = np.where(y0 < height - 1, width, 0).ravel()   # the last row/column is its own neighbour
    right = np.where(x0 < width - 1, 1, 0).ravel()
    pixels = images.reshape(-1, channels)
    top_left, top_right = pixels[first], pixels[first + right]
    bottom_left, bottom_right = pixels[first + down], pixels[first + down + right]
    top = top_left + (top_right - top_left) * wx
    bottom = bottom_left + (bottom_right - bottom_left) * wx
    return (top + (bottom - top) * wy).reshape(n, height, width, channels)
