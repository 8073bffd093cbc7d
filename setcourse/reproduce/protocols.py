"""The experiments the course reproduces: the original's protocol and its published numbers.

A :class:`Protocol` is a base run spec (the sweep's flat JSON dict), the models compared with
their own overrides, and the original's results to print beside ours.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Protocol:
    """One experiment of the original: what to run and what it reported."""

    name: str
    description: str
    base: dict
    models: dict          # model label -> spec overrides (e.g. {"topology": "set", "lr": 0.05})
    original: dict        # model label -> final test accuracy of each original seed
    original_feature_selection: dict = field(default_factory=dict)
    source: str = ""

    def specs(self, seeds=range(5), epochs=None, models=None):
        """Every run spec: one per (model, seed), models in the protocol's order."""
        labels = list(self.models) if models is None else list(models)
        unknown = sorted(set(labels) - set(self.models))
        if unknown:
            raise ValueError(f"models must be among {', '.join(self.models)}; got {unknown}")
        specs = []
        for label in labels:
            for seed in seeds:
                spec = {**self.base, **self.models[label], "seed": int(seed)}
                if epochs is not None:
                    spec["epochs"] = int(epochs)
                specs.append(spec)
        return specs

    def label_of(self, spec):
        """The model label of ``spec`` (the protocol model whose overrides it carries)."""
        for label, overrides in self.models.items():
            if all(spec.get(key) == value for key, value in overrides.items()):
                return label
        raise ValueError(f"spec matches no model of {self.name}: {spec!r:.200}")


#: What a sparse run of a protocol records besides its history: input connectivity counted as
#: the tutorial counts it (after pruning, before regrowth; connections per input every 10
#: epochs) and the degree sequences at the start and the end.
SPARSE_RECORDERS = [{"name": "feature_selection", "pruned_by": 0.3, "connections_every": 10},
                    "setcourse.reproduce.recorders:Degrees"]

#: The SET tutorial's pretrained Fashion-MNIST runs (Scalable Deep Learning summer school,
#: ``Tutorial-SCADS-Summer-School-2020-Scalable-Deep-Learning``, ``set_mlp.py``): the first
#: 5,000 training and 1,000 test images after its shuffle, 784-1000-1000-1000-10, ReLU and
#: softmax, epsilon 13, zeta 0.3, dropout 0.2, batch 40, momentum 0.9, weight decay 2e-4 applied
#: as w <- w + v - 2e-4 w every step, biases decayed too, weights and regrown weights
#: He-uniform at the dense fan-in, 400 epochs; lr 0.05 (SET, FixProb); Dense lr 0.001 on
#: summed gradients, about 0.04 on our batch means.
FASHION_MNIST_SET = Protocol(
    name="fashion-mnist-set",
    description="SET vs FixProb vs Dense on 5,000 Fashion-MNIST images, 400 epochs (the "
                "SET tutorial's pretrained runs)",
    base={"dataset": "fashion_mnist", "n_train": 5000, "n_test": 1000, "subset": "tutorial",
          "data_seed": 0, "preprocess": "scale", "hidden": [1000, 1000, 1000], "epsilon": 13,
          "zeta": 0.3, "dropout": 0.2, "activation": "relu", "momentum": 0.9,
          "weight_decay": 2e-4, "weight_decay_mode": "decoupled", "decay_biases": True,
          "init": "dense_fan_in", "regrow_init": "init", "batch_size": 40, "epochs": 400},
    models={"SET": {"topology": "set", "lr": 0.05, "recorders": SPARSE_RECORDERS},
            "FixProb": {"topology": "fixprob", "lr": 0.05, "recorders": SPARSE_RECORDERS},
            "Dense": {"topology": "dense", "lr": 0.04}},
    original={"SET": [0.842, 0.842, 0.851, 0.844, 0.839],
              "FixProb": [0.849, 0.822, 0.839, 0.844, 0.841],
              "Dense": [0.819, 0.800, 0.812, 0.810, 0.836]},
    # The tutorial's pretrained SET run, seed 0: r of connections per pixel (after pruning)
    # with pixel variance, and the 10 % least- / most-varying pixels' connections at the end.
    original_feature_selection={"r": {0: 0.009, 30: 0.194, 400: 0.253},
                                "least_varying": 13.1, "most_varying": 21.3},
    source="SelimaC/Tutorial-SCADS-Summer-School-2020-Scalable-Deep-Learning, set_mlp.py and "
           "its pretrained results",
)

PROTOCOLS = {FASHION_MNIST_SET.name: FASHION_MNIST_SET}


def protocol(name):
    """The protocol called ``name``."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {name!r}") from None
