import numpy as np
import pytest

from setcourse.analysis.degrees import out_degrees
from setcourse.analysis.input_connectivity import as_image, input_connections


def test_input_connections_are_first_layer_out_degrees(trained):
    model, recorder, _ = trained
    layer = model.layers_[0]
    mask = np.zeros((layer.n_in, layer.n_out), dtype=bool)
    mask[layer.indices, layer.row_of_each()] = True
    assert np.array_equal(input_connections(model), mask.sum(axis=1))
    assert np.array_equal(input_connections(model), out_degrees(layer))
    assert np.array_equal(recorder.after_[-1], mask.sum(axis=1))


def test_recorder_before_and_after_evolution(trained):
    model, recorder, _ = trained
    assert recorder.epochs_ == [0, 1, 2]
    assert len(recorder.before_) == len(recorder.after_) == 3
    assert recorder.frames().shape == (4, 64)
    assert recorder.images().shape == (4, 8, 8)
    nnz = model.layers_[0].nnz
    # SET keeps the number of connections; it only moves them.
    assert all(f.sum() == nnz for f in recorder.frames())
    # Evolution happens after every epoch but the last, and only there.
    assert not np.array_equal(recorder.before_[0], recorder.after_[0])
    assert np.array_equal(recorder.after_[0], recorder.before_[1])
    assert np.array_equal(recorder.before_[2], recorder.after_[2])
    assert np.array_equal(recorder.initial_, recorder.before_[0])
    assert recorder.image(0, when="before").shape == (8, 8)
    with pytest.raises(ValueError, match="when must be"):
        recorder.image(0, when="during")


def test_as_image_shapes():
    assert as_image(np.arange(784)).shape == (28, 28)
    assert as_image(np.arange(64)).shape == (8, 8)
    assert as_image(np.arange(500)).shape == (500,)
    assert np.array_equal(as_image(np.arange(6), (2, 3)), [[0, 1, 2], [3, 4, 5]])
    # CIFAR-10 as setcourse.data delivers it: channels last, summed over the 3 channels.
    channels_last = np.tile([1, 10, 100], 1024)
    assert np.all(as_image(channels_last) == 111)
    assert np.all(as_image(channels_last, (32, 32, 3), channel_axis=-1) == 111)
    # The binary release's own layout, channels first, given explicitly.
    channels_first = np.repeat([1, 2, 3], 1024)
    assert np.all(as_image(channels_first, (3, 32, 32)) == 6)
    assert np.all(as_image(channels_first, (3, 32, 32), channel_axis=0) == 6)


def test_as_image_bad_input():
    with pytest.raises(ValueError, match="image_shape"):
        as_image(np.arange(10), (3, 3))
    with pytest.raises(ValueError, match="1-D"):
        as_image(np.ones((2, 2)))
    with pytest.raises(ValueError, match="channel_axis"):
        as_image(np.arange(3072), (3, 32, 32), channel_axis=1)
