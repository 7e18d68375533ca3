"""The custom family: your own model (and data, and loss), named by import path, checked up front.

    model:
      family: custom
      class: mypkg.models:MLP          # any torch.nn.Module with num_params()
      size_arg: width                  # the constructor argument the grid's sizes set
      kwargs: {depth: 3}               # further constructor arguments
      loss: mypkg.losses:my_loss       # optional: loss(output, batch) -> scalar tensor
    data:
      source: custom
      custom: {loader: mypkg.data:load, kwargs: {n: 5000}, unit: samples}

The contract (README, "Your own model and data", has a worked example; ``tests/custom_module.py`` a tested one):

* ``Class(**{size_arg: size}, **kwargs)`` builds the model of one grid size; it has ``num_params()``
  (total parameters; ``num_params(non_embedding=True)`` too if the study counts non-embedding
  parameters) and optionally ``flops_per_sample()``, its training FLOPs per sample (forward +
  backward); without it a sample costs 6N per unit of data (Kaplan et al. 2020).
* ``loader(split, **kwargs)``, split ``"train"`` or ``"val"``, returns a map-style dataset (``len`` and
  ``[i]``) of ``(input, target, ...)`` items; batches are collated by torch's ``default_collate``.
* The model is called on the batch's first element, ``output = model(batch[0])``; the loss is
  ``loss(output, batch)``. Without ``model.loss``: cross-entropy of the logits (``output``, or
  ``output[0]`` of a tuple; a tuple's scalar ``output[1]`` is taken as the loss) against ``batch[-1]``.

:func:`architecture` runs when Snakemake parses the workflow (the planner needs N): it
imports the class, builds every planned size on the meta device, and runs one forward and
backward pass of the smallest size on a real batch of two items, so a model without
``num_params()``, a size argument it does not accept, or a loader that yields the wrong shapes is
one clear error naming the culprit before any job is submitted. torch is imported only here,
only for studies that name a class.
"""

from __future__ import annotations

import functools
import inspect
import json
import math

from flops_fit.accounting import flops_per_unit
from flops_fit.config import ConfigError
from flops_fit.forward import call_model as forward
from flops_fit.forward import loss_function as configured_loss
from flops_fit.imports import import_object
from flops_fit.sources import TEXT_SOURCES, data_unit, load_custom_split, vocab_size

SOURCES = None  # any: the configured loader (data.source custom) or a built-in source
EXPLICIT_SIZES = True  # no shape rule: the grid lists the sizes (grid.sizes)


def instantiate(model_cfg: dict, size: int, device=None):
    """An instance of the configured class for grid size ``size`` (on ``device``, e.g. "meta")."""
    import torch

    cls = import_object(model_cfg["class"], "model.class")
    kwargs = {**(model_cfg.get("kwargs") or {}), model_cfg["size_arg"]: int(size)}
    if device is None:
        return cls(**kwargs)
    with torch.device(device):
        return cls(**kwargs)


def _describe(value) -> str:
    """Shapes and dtypes of a batch (or an output) for error messages."""
    import torch

    if torch.is_tensor(value):
        return f"tensor{tuple(value.shape)} {str(value.dtype).replace('torch.', '')}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in value.items()) + "}"
    return type(value).__name__


def _counts(model, key: str, what: str, param_convention: str) -> dict:
    if not callable(getattr(model, "num_params", None)):
        raise ConfigError(
            f"config error at {key}: {what} has no num_params() method; add one, e.g.\n"
            "    def num_params(self, non_embedding=False):\n"
            "        return sum(p.numel() for p in self.parameters())"
        )
    total = model.num_params()
    try:
        non_embedding = model.num_params(non_embedding=True)
    except TypeError:
        if param_convention == "non_embedding":
            raise ConfigError(
                f"config error at {key}: accounting.params is non_embedding but "
                f"{what}.num_params() takes no non_embedding=True argument"
            ) from None
        non_embedding = total
    if not isinstance(total, int | float) or total <= 0 or not 0 < non_embedding <= total:
        raise ConfigError(
            f"config error at {key}: {what}.num_params() returned {total!r} "
            f"(non_embedding {non_embedding!r}); expected a positive parameter count"
        )
    return {"total": int(total), "non_embedding": int(non_embedding), "embedding": int(total - non_embedding)}


def sample_batch(study: dict, n: int = 2):
    """A real batch of ``n`` items: from the custom loader, or random data shaped like the
    built-in sources (token windows, CIFAR images). Returns (batch, description of its source)."""
    import torch
    from torch.utils.data import default_collate

    data = study["data"]
    if data["source"] == "custom":
        where = f"data.custom.loader {data['custom']['loader']}"
        splits = {s: load_custom_split(data, s) for s in ("train", "val")}
        items = {s: [ds[0], ds[len(ds) - 1]] for s, ds in splits.items()}
        for split, (first, last) in items.items():
            if not isinstance(first, tuple | list) or len(first) < 1:
                raise ConfigError(
                    f"config error at {where}: items must be (input, target, ...) tuples; "
                    f"item 0 of {split!r} is {_describe(first)}"
                )
            for a, b in ((first, last), (items["train"][0], first)):
                if _describe(a) != _describe(b):
                    raise ConfigError(
                        f"config error at {where}: items of different shapes: {_describe(a)} "
                        f"and {_describe(b)} (split {split!r}); every item must have the same shapes"
                    )
        try:
            return default_collate(items["train"][:n]), where
        except Exception as err:  # noqa: BLE001
            raise ConfigError(f"config error at {where}: its items do not collate into a batch: {err}") from None
    gen = torch.Generator().manual_seed(0)
    if data["source"] == "cifar10":
        images = torch.rand(n, 3, 32, 32, generator=gen)
        return (
            images,
            torch.randint(0, 10, (n,), generator=gen),
        ), "CIFAR-10 images (n, 3, 32, 32), labels (n,)"
    n_ctx, vocab = int(study["model"]["n_ctx"]), vocab_size(study)
    x = torch.randint(0, vocab, (n, n_ctx + 1), generator=gen)
    return (x[:, :-1], x[:, 1:]), f"token windows (n, model.n_ctx={n_ctx}) of vocabulary {vocab}"


def units_per_sample(unit: str, batch) -> int:
    """Tokens per sample (the input's element count) when the unit is tokens, else 1."""
    if unit != "tokens":
        return 1
    first = batch[0] if isinstance(batch, tuple | list) else batch
    return int(first[0].numel())


def _user_call(key: str, doing: str, fn, *args, hint: str = ""):
    """``fn(*args)`` of the user's code; whatever it raises becomes one ConfigError at ``key``."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 -- the user's code may raise anything
        raise ConfigError(f"config error at {key}: {doing}: {type(err).__name__}: {err}{hint}") from None


def check_forward(model, batch, loss_fn, what: str, source: str, loss_name: str) -> None:
    """One forward, loss and backward pass; ConfigError naming the culprit on failure."""
    import torch

    inputs = _describe(batch[0] if isinstance(batch, tuple | list) else batch)
    hint = " (the loader yields inputs of the wrong shape for this model, or the model is wrong)"
    doing = f"{what} failed on a batch from {source}, inputs {inputs}"
    output = _user_call("model.class", doing, forward, model, batch, hint=hint)
    doing = f"the loss failed on model output {_describe(output)} and batch {_describe(batch)} from {source}"
    loss = _user_call(loss_name, doing, loss_fn, output, batch)
    if not (torch.is_tensor(loss) and loss.dim() == 0 and loss.is_floating_point()):
        raise ConfigError(
            f"config error at {loss_name}: the loss returned {_describe(loss)}; expected a scalar "
            "float tensor (e.g. F.cross_entropy(output, batch[1]))"
        )
    if not math.isfinite(loss.item()):
        raise ConfigError(f"config error at {loss_name}: the loss of a fresh model is {loss.item()}")
    if not loss.requires_grad:
        raise ConfigError(
            f"config error at {loss_name}: the loss does not depend on the model's parameters (no gradient flows back)"
        )
    loss.backward()


@functools.lru_cache(maxsize=64)
def _checked(key: str) -> dict:
    """Check a study's custom model and data once; per-size counts and FLOPs."""
    import torch

    name, study = json.loads(key)
    model_cfg, acct = study["model"], study["accounting"]
    base = f"studies.{name}.model"
    for field in ("class", "size_arg"):
        if not model_cfg.get(field):
            raise ConfigError(f"config error at {base}: model.family custom needs model.{field}")
    is_module = lambda obj: inspect.isclass(obj) and issubclass(obj, torch.nn.Module)  # noqa: E731
    cls = import_object(model_cfg["class"], f"{base}.class", is_module, "a torch.nn.Module subclass")
    params = inspect.signature(cls).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for arg in [model_cfg["size_arg"], *(model_cfg.get("kwargs") or {})]:
        if arg not in params and not takes_any:
            field = "size_arg" if arg == model_cfg["size_arg"] else "kwargs"
            raise ConfigError(
                f"config error at {base}.{field}: {model_cfg['class']} does not accept an argument "
                f"{arg!r} (it accepts: {', '.join(params) or 'nothing'})"
            )
    loss_fn = configured_loss(model_cfg.get("loss"))
    unit = data_unit(study)
    sizes = sorted(study["grid"].get("sizes") or [])
    per_size = {}
    for size in sizes:
        what = f"{model_cfg['class']}({model_cfg['size_arg']}={size})"
        try:
            model = instantiate(model_cfg, size, device="meta")
        except Exception:  # noqa: BLE001 -- some models cannot be built on the meta device
            model = _user_call(base, f"building {what} failed", instantiate, model_cfg, size)
        counts = _counts(model, f"{base}.class", what, acct["params"])
        fps = getattr(model, "flops_per_sample", None)
        per_size[size] = {"counts": counts, "flops_per_sample": float(fps()) if callable(fps) else None}
    batch, source = sample_batch(study)
    smallest = f"{model_cfg['class']}({model_cfg['size_arg']}={sizes[0]})"
    torch.manual_seed(0)
    check_forward(instantiate(model_cfg, sizes[0]), batch, loss_fn, smallest, source, f"{base}.loss")
    return {"unit": unit, "units_per_sample": units_per_sample(unit, batch), "sizes": per_size}


def architecture(name: str, study: dict, size: int) -> dict:
    """The planner's view of a custom model of grid size ``size`` (see ``flops_fit.families``)."""
    relevant = {k: study[k] for k in ("model", "data", "accounting", "grid")}
    info = _checked(json.dumps([name, relevant], sort_keys=True))
    if size not in info["sizes"]:
        raise ConfigError(f"config error at studies.{name}.grid: size {size} was not checked")
    entry, model_cfg = info["sizes"][size], study["model"]
    ups = info["units_per_sample"]
    n = entry["counts"][study["accounting"]["params"]]
    fps = entry["flops_per_sample"]
    model = {
        "family": "custom",
        "class": model_cfg["class"],
        "size_arg": model_cfg["size_arg"],
        "kwargs": model_cfg.get("kwargs") or {},
        "loss": model_cfg.get("loss"),
    }
    if study["data"]["source"] in TEXT_SOURCES:
        model["n_ctx"], model["vocab_size"] = int(model_cfg["n_ctx"]), vocab_size(study)
    extra = {"unit": info["unit"], "units_per_sample": ups}
    if study["data"]["source"] == "custom":
        extra["data"] = {"source": "custom", "custom": study["data"]["custom"]}
    return {
        "model": model,
        "counts": entry["counts"],
        "units_per_sample": ups,
        "extra": extra,
        "flops_per_unit": fps / ups if fps else 6.0 * n,
        "flop_convention": "model" if fps else "6N",
    }


def flops_per_unit_by_convention(spec: dict) -> dict[str, float]:
    """6N per unit under both parameter conventions, and the model's own count when it has one."""
    out = {"6N_total": 6.0 * spec["params_total"], "6N_non_embedding": 6.0 * spec["params_non_embedding"]}
    if spec.get("flop_convention") == "model":
        out["model"] = flops_per_unit(spec)
    return out


def build_model(spec: dict):
    """The configured class at the run's grid size."""
    return instantiate(spec["model"], spec["size"])


def loss_function(spec: dict):
    """``model.loss`` when configured, else the default loss (``flops_fit.forward.default_loss``)."""
    return configured_loss(spec["model"].get("loss"))
