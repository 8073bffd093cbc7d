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


def test_a_divergence_caused_by_weight_decay_names_weight_decay():
    # lr * weight_decay = 8 > 2 (1 + momentum) = 3.8: the decay alone makes |w| grow ~ x3 per
    # step (the learning rate alone, 0.1, trains this problem fine)
    X, y = tiny_data(n=64)
    MLP(hidden=(20,), epsilon=3, lr=0.1, weight_decay=0, epochs=3, batch_size=16).fit(X, y)
    with pytest.raises(FloatingPointError, match=r"likely cause\(s\): \(1\) weight decay: "
                                                 r"lr \* weight_decay = 0.1 \* 80 = 8 is outside "
                                                 r"the stable range .* below 2 \(1 \+ momentum\) "
                                                 r"= 3.8.*lower weight_decay"):
        MLP(hidden=(20,), epsilon=3, lr=0.1, weight_decay=80, epochs=30,
            batch_size=16).fit(X, y)


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
