"""Module 05's Task 1: the keyword arguments of ``MLP`` for the CIFAR-10 recipe."""
from .runner import Case, Mismatch, run_checker, show

__all__ = ["check_recipe_kwargs", "reference_recipe_kwargs", "RECIPE"]

# Module 05's recipe: the original SET code's CIFAR-10 MLP (dcmocanu/sparse-evolutionary-
# artificial-neural-networks, SET-MLP-Keras-Weights-Mask/set_mlp_keras_cifar10.py: dropout 0.3,
# SGD with lr 0.01 and momentum 0.9 and no weight decay, batch 100, epsilon 20, zeta 0.3), with
# ReLU for its SReLU (setcourse has no SReLU). What every model of the assignment shares:
RECIPE = {"dropout": 0.3, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "batch_size": 100,
          "activation": "relu", "loss": "cross_entropy"}
SPARSE_RECIPE = {"epsilon": 20.0}
SET_RECIPE = {"zeta": 0.3}


def reference_recipe_kwargs(topology, hidden, epochs, seed=0):
    """The recipe's ``MLP`` keyword arguments (what the checker expects)."""
    return {"hidden": tuple(hidden), "topology": topology, "epochs": epochs, "seed": seed,
            **RECIPE, **SPARSE_RECIPE, **SET_RECIPE}


def check_recipe_kwargs(fn):
    """Check ``fn(topology, hidden, epochs, seed)`` → dict of ``MLP`` keyword arguments.

    The dict must build (``MLP(**kwargs)``) the model of the recipe: the given topology,
    hidden sizes, epochs and seed, dropout 0.3, learning rate 0.01, momentum 0.9, no weight
    decay, batch size 100, ReLU, cross-entropy, and for the sparse models ε = 20 (and ζ = 0.3
    for SET).
    """
    inputs = [
        ("SET-MLP, a tenth of the recipe's width", ("set", (400, 100, 400), 10, 0)),
        ("FixProb-MLP, one hidden layer", ("fixprob", (40,), 2, 3)),
        ("Dense-MLP at the recipe's width", ("dense", (4000, 1000, 4000), 300, 1)),
        ("hidden sizes given as a list", ("set", [64, 32], 5, 7)),
    ]
    cases = [Case(name, args, _verify, shown=", ".join(map(repr, args))) for name, args in inputs]
    return run_checker("recipe_kwargs", fn, cases)


def _verify(result, args):
    from ..model import MLP
    topology, hidden, epochs, seed = args
    if result is None:
        raise Mismatch("a dict of keyword arguments", "None",
                       "your function returns nothing: add a `return` statement.")
    if not isinstance(result, dict):
        raise Mismatch("a dict such as {'hidden': ..., 'topology': ..., ...}", show(result),
                       "return the keyword arguments (a dict), not the model: the notebook "
                       "builds it with MLP(**recipe_kwargs(...)).")
    try:
        model = MLP(**result)
        model.validate_params()
    except TypeError as error:
        raise Mismatch("keyword arguments that MLP accepts", show(result),
                       f"MLP(**kwargs) raised TypeError: {error}") from None
    except ValueError as error:
        raise Mismatch("valid values", show(result), f"MLP refused them: {error}") from None
    params = model.get_params()
    wanted = {"topology": topology, "hidden": tuple(hidden), "epochs": epochs, "seed": seed,
              **RECIPE}
    if topology != "dense":
        wanted.update(SPARSE_RECIPE)
    if topology == "set":
        wanted.update(SET_RECIPE)
    for key, value in wanted.items():
        got = params.get(key)
        if key == "hidden" and got is not None:
            got = tuple(got)
        if got != value:
            where = ("the function's arguments" if key in ("topology", "hidden", "epochs", "seed")
                     else "the recipe at the top of the notebook")
            raise Mismatch(f"{key}={value!r}", f"{key}={got!r}",
                           f"take {key} from {where}.")
