"""The training loop: divergence (and its likely causes), stopping from a callback."""
import pytest

from nn.helpers import tiny_data
from setcourse import MLP


def test_divergence_stops_with_a_helpful_error():
    X, y = tiny_data(n=64)
    with pytest.raises(FloatingPointError, match=r"in epoch \d+ \(batch \d+\); try a smaller "
                                                 r"learning rate than lr=1000000.0$"):
        MLP(hidden=(20,), epsilon=3, lr=1e6, weight_decay=0, epochs=2, batch_size=16).fit(X, y)
    with pytest.raises(FloatingPointError, match=r"\(1\) the inputs reach \|x\| = 3.9e\+18: "
                                                 r"standardise .*\(2\) the learning rate: try "
                                                 r"a smaller learning rate than lr=1000000.0"):
        MLP(hidden=(20,), epsilon=3, lr=1e6, weight_decay=0, epochs=2).fit(X * 1e18, y)


# weight_decay_mode arrives with the decoupled decay; before it, decay is L2
HAS_MODES = "weight_decay_mode" in MLP().get_params()
WEIGHT_DECAY_CASES = [
    # lr * weight_decay = 8 > 2 (1 + momentum) = 3.8: through the momentum, the decay alone
    # makes |w| grow ~ x3 per step
    ("l2", 80, r"likely cause\(s\): \(1\) weight decay: lr \* weight_decay = 0.1 \* 80 = 8 is "
               r"outside the stable range .* below 2 \(1 \+ momentum\) = 3.8.*lower weight_decay"),
    # decoupled, w <- (1 - 3) w + v: |w| doubles and flips sign at every step
    ("decoupled", 3, r"likely cause\(s\): \(1\) weight decay: weight_decay=3 \(decoupled\) "
                     r"multiplies every weight by 1 - weight_decay = -2 at each step, a factor of "
                     r"magnitude >= 1.*lower weight_decay; \(2\) the learning rate"),
]


@pytest.mark.parametrize("mode, weight_decay, message", WEIGHT_DECAY_CASES)
def test_a_divergence_caused_by_weight_decay_names_weight_decay(mode, weight_decay, message):
    # the learning rate alone (0.1) trains this problem fine; the message blamed it before
    if not HAS_MODES and mode != "l2":
        pytest.skip("weight_decay_mode is not there yet")
    params = {"weight_decay_mode": mode} if HAS_MODES else {}
    X, y = tiny_data(n=64)
    MLP(hidden=(20,), epsilon=3, lr=0.1, weight_decay=0, epochs=3, batch_size=16,
        **params).fit(X, y)
    with pytest.raises(FloatingPointError, match=message):
        MLP(hidden=(20,), epsilon=3, lr=0.1, weight_decay=weight_decay, epochs=30,
            batch_size=16, **params).fit(X, y)


def test_stop_training_from_a_callback_keeps_the_model_usable():
    from setcourse.callbacks import Callback

    class StopEarly(Callback):
        def on_batch_end(self, model, epoch, batch, logs):
            if batch == 1:
                model.stop_training_ = True

    X, y = tiny_data(n=200)
    model = MLP(hidden=(20,), epsilon=3, epochs=5, batch_size=10).fit(X, y, callbacks=[StopEarly()])
    assert model.history_.n_epochs == 1 and model.history_["stopped"] == [True]
    assert model.predict(X).shape == (200,)
