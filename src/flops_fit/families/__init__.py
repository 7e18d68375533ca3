"""Model families, one module each, found by name: ``model.family: gpt`` is ``flops_fit.families.gpt``.

A family module imports no torch at import time (the planner runs when Snakemake parses the
workflow) and defines:

* ``SOURCES`` -- the ``data.source`` values it trains on (``None``: any);
* ``EXPLICIT_SIZES`` -- True when the grid must list its sizes (``grid.centred`` needs a shape rule);
* ``architecture(name, study, size) -> dict`` -- the planner's view of the model of grid size
  ``size``: ``model`` (the spec's dict), parameter ``counts`` ({total, non_embedding, embedding}),
  ``flops_per_unit`` (training FLOPs per token / image / sample under the study's convention),
  ``units_per_sample`` and ``extra`` spec keys (optional ``flop_convention``); ValueError or
  ConfigError for a size it cannot build;
* ``flops_per_unit_by_convention(spec) -> dict`` -- training FLOPs per unit under every convention
  (the run JSON's ``flops`` block);
* ``build_model(spec)`` -- the torch module (imports torch);
* ``forward(model, batch)`` -- the model's output on a batch (``flops_fit.forward.call_model`` unless
  the model takes the targets too);
* ``loss_function(spec)`` -- ``loss(output, batch) -> scalar tensor``.

Adding a family is one new module here (its torch network may live beside it in
``flops_fit.models``) plus its tests, and schema entries only for new ``model:`` config keys; the
planner and the trainer only ask :func:`family` (``tests/test_families.py`` adds one that way).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from flops_fit.config import ConfigError


def names() -> list[str]:
    """The model families this installation knows, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def family(name: str, key: str = "model.family") -> ModuleType:
    """The module of model family ``name``; ConfigError naming ``key`` and the allowed values."""
    if name not in names():
        allowed = ", ".join(names())
        raise ConfigError(f"config error at {key}: unknown model family {name!r} (allowed values: {allowed})")
    return importlib.import_module(f"{__name__}.{name}")
