"""Check a run spec before anything of it is used: ``flops-fit train --check --spec SPEC``.

A run spec (docs/contracts.md) is what the planner writes for one training job. A spec from
elsewhere -- a colleague's file, a spec edited by hand -- can name code: ``model.class`` and
``model.loss`` of a ``custom`` model and ``data.custom.loader`` are import paths, and training
imports and runs them. :func:`check_spec` reads the spec as data only: it imports no torch, no
model family and nothing the spec names, and answers with one line that lists every key that
would import code, so a user can read them before training. ``flops-fit train`` runs the same
check first, so ``--spec '{}'`` or a seed that torch cannot take ends in one line naming the key
instead of a traceback from deep inside the job.

The ranges are the trainer's: a seed is what both ``torch.manual_seed`` and numpy accept ([0, 2^64 - 1]),
the optimiser's numbers are finite and where AdamW can use them, the evaluation points and
batches those the config schema allows.
"""

from __future__ import annotations

import math
import re

SEED_RANGE = (0, 0xFFFF_FFFF_FFFF_FFFF)
"""The trainer's seeds: torch.manual_seed takes [-2^63, 2^64 - 1], the data samplers' numpy
generators (``default_rng([seed, epoch])``) no negative one."""
CODE_KEYS = (("model", "class"), ("model", "loss"), ("data", "custom", "loader"))
"""Keys whose value is an import path (``package.module:name``) that training imports and runs."""
_IMPORT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class SpecError(ValueError):
    """A run spec that training cannot run: one line naming the key, the value and what is allowed."""


def _integer(lo, hi):
    return ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi, (lo, hi))


def _number(lo, hi, low_open=False, high_open=False):
    def ok(v):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return False
        return (v > lo if low_open else v >= lo) and (v < hi if high_open else v <= hi)

    return ("a finite number", ok, (lo, hi, low_open, high_open))


# key path -> (what, test, bounds); every key the trainer reads without a default
_COMMON = {
    ("seed",): _integer(*SEED_RANGE),
    ("steps",): _integer(1, 10**12),
    ("batch_size",): _integer(1, 1 << 20),
    ("optimizer", "lr"): _number(0, 10, low_open=True),
    ("optimizer", "beta1"): _number(0, 1, high_open=True),
    ("optimizer", "beta2"): _number(0, 1, high_open=True),
    ("optimizer", "eps"): _number(0, 1, low_open=True),
    ("optimizer", "weight_decay"): _number(0, 10),
    ("optimizer", "grad_clip"): _number(0, 1e6),
    ("schedule", "warmup_steps"): _integer(0, 10**12),
    ("eval", "points"): _integer(2, 1000),
    ("eval", "batches"): _integer(1, 10000),
}
_OPTIONAL = {  # checked when present (a trunk segment's constant rate has no floor to decay to)
    ("schedule", "min_lr_ratio"): _number(0, 1),
    ("schedule", "decay_steps"): _integer(0, 10**12),
    ("training", "divergence_factor"): _number(1, 1e6, low_open=True),
    ("training", "checkpoint_every_steps"): _integer(0, 10**9),
}
_MOCK = {
    ("tokens_per_step",): _integer(1, 1 << 40),
    ("params_total",): _integer(1, 10**15),
    ("params_non_embedding",): _integer(1, 10**15),
    ("training", "mock", "E"): _number(0, 100, low_open=True),
    ("training", "mock", "A"): _number(0, 1e12, low_open=True),
    ("training", "mock", "B"): _number(0, 1e12, low_open=True),
    ("training", "mock", "alpha"): _number(0, 3, low_open=True),
    ("training", "mock", "beta"): _number(0, 3, low_open=True),
    ("training", "mock", "noise"): _number(0, 0.5),
}


def _get(spec: dict, path: tuple):
    node = spec
    for i, part in enumerate(path):
        if not isinstance(node, dict):
            raise SpecError(f"spec key {'.'.join(path[:i])}: {node!r} is not a mapping")
        if part not in node:
            raise KeyError(".".join(path))
        node = node[part]
    return node


def _allowed(what: str, bounds: tuple) -> str:
    lo, hi, *opened = bounds
    low_open, high_open = opened or (False, False)
    def num(x):
        return f"{x:g}" if isinstance(x, float) else str(x)

    return f"{what} {'>' if low_open else '>='} {num(lo)} and {'<' if high_open else '<='} {num(hi)}"


def check_spec(spec) -> str:
    """Check ``spec`` (a decoded JSON value) as data; return a one-line description of the run
    that names every import path in it. Raises :class:`SpecError` naming the first bad key."""
    if not isinstance(spec, dict):
        raise SpecError(f"a run spec is a JSON object, not a {type(spec).__name__}")
    training = spec.get("training", {})
    if not isinstance(training, dict):
        raise SpecError(f"spec key training: {training!r} is not a mapping")
    backend = training.get("backend", "torch")
    if backend not in ("torch", "mock"):
        raise SpecError(f"spec key training.backend: {backend!r} is not allowed (allowed values: torch, mock)")
    rules = {**_COMMON, **(_MOCK if backend == "mock" else {})}
    missing = []
    for path in rules:
        try:
            _get(spec, path)
        except KeyError:
            missing.append(".".join(path))
    for key in ("flops_per_unit",) if "flops_per_token" not in spec else ():
        if key not in spec:
            missing.append(key)
    if not isinstance(spec.get("model"), dict) or "family" not in spec["model"]:
        missing.append("model.family")
    if missing:
        raise SpecError(f"the run spec lacks {', '.join(missing)} (a spec is what the planner hands one "
                        "training job; see docs/contracts.md)")  # fmt: skip
    for path, (what, ok, bounds) in {**rules, **_OPTIONAL}.items():
        try:
            value = _get(spec, path)
        except KeyError:
            continue  # (a required key is never missing here)
        if not ok(value):
            if path == ("optimizer", "lr") and value is None:
                raise SpecError("spec key optimizer.lr: null (the study's learning-rate sweep has not fitted "
                                "its rule yet: run the sweep first)")  # fmt: skip
            key = ".".join(path)
            raise SpecError(f"spec key {key}: {value!r} is out of range (allowed: {_allowed(what, bounds)})")
    fpu = spec.get("flops_per_unit", spec.get("flops_per_token"))
    if not _number(0, 1e30, low_open=True)[1](fpu):
        raise SpecError(f"spec key flops_per_unit: {fpu!r} is out of range (allowed: a finite number > 0)")
    name = _get(spec, ("schedule", "name")) if isinstance(spec.get("schedule"), dict) else None
    if name not in ("cosine", "wsd"):
        raise SpecError(f"spec key schedule.name: {name!r} is not allowed (allowed values: cosine, wsd)")
    run_id = spec.get("run_id", "run")
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise SpecError(f"spec key run_id: {run_id!r} is not a safe file name (letters, digits, '.', '_', '+', '-')")
    family = spec["model"]["family"]
    if not isinstance(family, str):
        raise SpecError(f"spec key model.family: {family!r} is not a name")
    data = spec.get("data") if isinstance(spec.get("data"), dict) else {}
    used = {"model": family == "custom", "data": data.get("source") == "custom"}  # what training imports
    code = []
    for path in CODE_KEYS:
        try:
            value = _get(spec, path)
        except (KeyError, SpecError):
            continue
        if value is None:  # (a custom model's spec holds model.loss null: the default loss)
            continue
        if not isinstance(value, str) or not _IMPORT_PATH.match(value):
            raise SpecError(f"spec key {'.'.join(path)}: {value!r} is not an import path (package.module:name)")
        if used[path[0]] and backend == "torch":  # the mock backend draws losses, it imports nothing
            code.append(f"{'.'.join(path)} {value}")
    if family == "custom" and backend == "torch" and not any(c.startswith("model.class ") for c in code):
        raise SpecError("spec key model.class: missing (model.family custom needs package.module:Class)")
    what = (f"imports and runs {', '.join(code)}: read that code before training" if code
            else "names no code to import")  # fmt: skip
    return (f"run {run_id}: {family} model, {spec['steps']} steps of {spec['batch_size']}, backend {backend}, "
            f"seed {spec['seed']}; {what}")  # fmt: skip
