"""Module 03's epoch scrubber."""
import numpy as np
import pytest

from setcourse import widgets as W
from widgets.widget_helpers import PNG


def test_scrubber_shows_the_chosen_frame():
    frames = np.arange(3 * 64).reshape(3, 64) % 7
    scrubber = W.EpochScrubber(frames, (8, 8), labels=["start", "epoch 1", "epoch 2"])
    first = scrubber.image.value
    assert bytes(first).startswith(PNG)
    scrubber.slider.value = 2
    assert scrubber.image.value != first
    assert scrubber.player.max == scrubber.slider.max == 2
    scrubber.slider.value = 0
    assert scrubber.image.value == first


def test_scrubber_rejects_bad_frames():
    with pytest.raises(ValueError, match="frames"):
        W.EpochScrubber(np.zeros(5))
    with pytest.raises(ValueError, match="labels"):
        W.EpochScrubber(np.zeros((2, 4)), labels=["a"])


def test_scrubber_keeps_its_size_and_shows_feature_selection():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 9, (3, 64))
    variance = rng.random(64)
    scrubber = W.EpochScrubber(frames, (8, 8), variance=variance)
    assert scrubber.image.layout.width.endswith("px")  # not stretched to the cell
    assert "r = " in scrubber.caption.value
    scrubber.slider.value = 1
    assert "epoch 1" in scrubber.caption.value
