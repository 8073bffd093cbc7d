"""CIFAR-10 augmentation against scipy.ndimage references, seeding, and use in MLP.fit."""
import numpy as np
import pytest
from scipy import ndimage

from setcourse.data.augment import Cifar10Augmentation
from setcourse import MLP


@pytest.fixture
def images():
    return np.random.default_rng(0).random((6, 32, 32, 3)).astype(np.float32)


def test_nothing_drawn_means_nothing_changes(images):
    augment = Cifar10Augmentation(shift=0.0, rotation=0.0, flip=False)
    X = images.reshape(6, -1)
    out = augment(X, np.random.default_rng(1))
    assert out.dtype == np.float32 and out.shape == X.shape
    np.testing.assert_array_equal(out, X)


@pytest.mark.parametrize("angle", [7.0, -9.5, 90.0])
def test_rotation_matches_scipy_ndimage_rotate(images, angle):
    augment = Cifar10Augmentation()
    out = augment.warp(images[:1].reshape(1, -1), [angle], [0.0], [0.0], [False])
    reference = ndimage.rotate(images[0], angle, axes=(0, 1), reshape=False, order=1,
                               mode="nearest")
    np.testing.assert_allclose(out.reshape(32, 32, 3), reference, atol=1e-5)


def test_rotation_is_counter_clockwise_as_displayed():
    augment = Cifar10Augmentation(image_shape=(5, 5))
    image = np.zeros((5, 5), dtype=np.float32)
    image[0, 2] = 1.0                                  # top centre
    out = augment.warp(image.reshape(1, -1), [90.0], [0.0], [0.0], [False]).reshape(5, 5)
    assert out[2, 0] == pytest.approx(1.0) and out.sum() == pytest.approx(1.0)   # left centre


def test_shift_matches_scipy_ndimage_shift(images):
    augment = Cifar10Augmentation()
    out = augment.warp(images[:1].reshape(1, -1), [0.0], [2.5], [-1.25], [False])
    reference = ndimage.shift(images[0], (2.5, -1.25, 0), order=1, mode="nearest")
    np.testing.assert_allclose(out.reshape(32, 32, 3), reference, atol=1e-6)


def test_flip_mirrors_left_right(images):
    augment = Cifar10Augmentation()
    out = augment.warp(images[:2].reshape(2, -1), [0, 0], [0, 0], [0, 0], [True, False])
    np.testing.assert_array_equal(out[0].reshape(32, 32, 3), images[0][:, ::-1])
    np.testing.assert_array_equal(out[1].reshape(32, 32, 3), images[1])


def test_random_flips_happen_about_half_the_time():
    augment = Cifar10Augmentation(shift=0.0, rotation=0.0)
    images = np.random.default_rng(2).random((400, 32, 32, 3)).astype(np.float32)
    out = augment(images.reshape(400, -1), np.random.default_rng(3)).reshape(images.shape)
    flipped = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)])
    unchanged = np.array([np.array_equal(o, i) for o, i in zip(out, images)])
    assert (flipped ^ unchanged).all()
    assert 150 < flipped.sum() < 250


def test_draws_stay_within_the_limits(monkeypatch):
    augment = Cifar10Augmentation(shift=0.1, rotation=10.0)
    seen = {}

    def record(X, angles, shifts_y, shifts_x, flips):
        seen.update(angles=angles, shifts_y=shifts_y, shifts_x=shifts_x)
        return X

    monkeypatch.setattr(augment, "warp", record)
    augment(np.zeros((2000, 3072), np.float32), np.random.default_rng(0))
    assert np.abs(seen["angles"]).max() <= 10 and np.abs(seen["angles"]).max() > 9.9
    assert np.abs(seen["shifts_y"]).max() <= 3.2 and np.abs(seen["shifts_x"]).max() > 3.1


def test_seeded_through_the_generator_passed_in(images):
    augment = Cifar10Augmentation()
    X = images.reshape(6, -1)
    a = augment(X, np.random.default_rng(5))
    b = augment(X, np.random.default_rng(5))
    c = augment(X, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(X, images.reshape(6, -1))        # input untouched


@pytest.mark.parametrize("kwargs, message", [
    ({"shift": 1.0}, "shift must be a number in"), ({"rotation": -1}, "rotation must be"),
    ({"image_shape": (32,)}, "image_shape must be"),
])
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Cifar10Augmentation(**kwargs)


def test_wrong_width_is_refused():
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3072\)"):
        Cifar10Augmentation()(np.zeros((2, 784), np.float32), np.random.default_rng(0))


def test_usable_as_a_batch_transform_in_fit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3072)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    calls = []
    augment = Cifar10Augmentation()

    def counted(batch, generator):
        calls.append(batch.shape)
        return augment(batch, generator)

    model = MLP(hidden=(16,), epsilon=2, epochs=1, batch_size=32, seed=0)
    model.fit(X, y, batch_transform=counted)
    assert calls == [(32, 3072), (32, 3072)]
    again = MLP(hidden=(16,), epsilon=2, epochs=1, batch_size=32, seed=0).fit(
        X, y, batch_transform=augment)
    np.testing.assert_array_equal(model.predict_proba(X), again.predict_proba(X))
