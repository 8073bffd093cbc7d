"""The training loop: divergence, stopping from a callback."""
import pytest

from nn.helpers import tiny_data
from setcourse import MLP


def test_divergence_stops_with_a_helpful_error():
    X, y = tiny_data(n=64)
    X = X * 1e18
    with pytest.raises(FloatingPointError, match=r"in epoch \d+ \(batch \d+\); try a smaller learning rate than lr=1000000.0"):
        MLP(hidden=(20,), epsilon=3, lr=1e6, epochs=2).fit(X, y)


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
