"""The ``mock`` training backend: a run's losses drawn from a known law, instantly.

L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022, eq. 2) with multiplicative
Gaussian noise, evaluated along the run's own tokens so the curve feeds Approach 1 as a real
one would. It lets a user try the whole pipeline and test a grid design before spending
accelerator hours, and the tests use it for the fast paths. The noise is seeded by the run's
seed and id, so the same spec gives the same numbers.

Cooldown branches (``flops_fit.branches``) run here too: a trunk segment writes a small JSON as
its branch-point "checkpoint" and its marker; a branch checks that checkpoint (trunk and step)
and writes the run JSON of an independent run (the law has no schedule) plus ``trunk`` and
``flops.branch``, so the DAG, reruns and accounting are tested without training.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from . import record
from .accounting import flops_per_unit
from .io import atomic_write_json
from .training.schedule import eval_steps


def mock_loss(n: float, d: np.ndarray, law: dict, lr: float | None = None) -> np.ndarray:
    """The law's loss; times ``1 + lr_penalty ln(lr / lr_opt(N))^2`` when the law has an
    ``lr_penalty`` (a known best rate ``lr_opt(N) = lr_optimum (N / 1e5)^-lr_exponent``). With
    ``beta_per_decade`` the data exponent grows by that much per decade of D above 1e9 (a law whose
    compute-optimal exponent changes with scale; absent: Chinchilla's form)."""
    d = np.asarray(d, float)
    beta = law["beta"] + law.get("beta_per_decade", 0.0) * np.log10(d / 1e9)
    loss = law["E"] + law["A"] / n ** law["alpha"] + law["B"] / d**beta
    if law.get("lr_penalty") and lr:
        best = law["lr_optimum"] * (n / 1e5) ** -law["lr_exponent"]
        loss = loss * (1.0 + law["lr_penalty"] * np.log(lr / best) ** 2)
    return loss


def train_mock(spec: dict, out_json: str, checkpoint_dir: str | None = None, start: dict | None = None) -> dict:
    """Write the run JSON of ``spec`` with losses from ``spec['training']['mock']`` (a trunk
    segment's marker for a ``kind: trunk`` spec; ``start``: the trunk marker it starts from)."""
    if start is not None and start.get("status") != "ok":  # a diverged trunk: recorded, not trained
        result = record.after_failed_trunk(spec, start, "mock")
        atomic_write_json(out_json, result)
        return result
    if start is not None:
        _check_point(spec, start)
    if spec.get("kind") == "trunk":
        return _trunk_mock(spec, out_json, checkpoint_dir)
    begin = time.perf_counter()
    law = spec["training"]["mock"]
    n = spec["params_total"] if spec["param_convention"] == "total" else spec["params_non_embedding"]
    key = f"{spec['seed']}:{spec['study']}:{spec['run_id']}".encode()
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
    steps = eval_steps(spec["steps"], spec["eval"]["points"])
    tokens = np.array(steps, float) * spec["tokens_per_step"]
    clean = mock_loss(n, np.maximum(tokens, spec["tokens_per_step"]), law, spec["optimizer"]["lr"])
    noisy = clean * (1 + law["noise"] * rng.standard_normal(len(steps)))
    curve = [
        {"step": int(s), "tokens": int(t), "flops": float(t * flops_per_unit(spec)), "val_loss": float(v)}
        for s, t, v in zip(steps, tokens, noisy, strict=True)
    ]
    seen = spec["steps"] * spec["tokens_per_step"]
    params = {k: spec[f"params_{k}"] for k in ("total", "non_embedding", "embedding")}
    run = record.run_record(
        spec,
        status="ok",
        params=params,
        data={"seen": seen, "unique": seen, "epochs": 0.0},
        curve=curve,
        final={"train_loss": float(noisy[-1]), "val_loss": float(noisy[-1]), "step": spec["steps"]},
        timing=record.timing(spec, seen, wall_s=time.perf_counter() - begin, train_s=0.0, eval_s=0.0),
        provenance=record.run_provenance(spec, "cpu", "mock", threads=1, world_size=1, resumed_from=None),
        trunk=start,
    )
    atomic_write_json(out_json, run)
    return run


def _check_point(spec: dict, marker: dict) -> None:
    trunk = spec["trunk"]
    step = trunk["start"] if spec.get("kind") == "trunk" else trunk["step"]
    point = json.loads(Path(marker["checkpoint"]).read_text())
    if point != {"trunk_hash": trunk["hash"], "step": step}:
        raise ValueError(f"trunk checkpoint {marker['checkpoint']} is of another trunk or step (expected step {step})")


def _trunk_mock(spec: dict, out_json: str, checkpoint_dir: str | None) -> dict:
    point = Path(checkpoint_dir or Path(out_json).parent) / "point.json"
    atomic_write_json(point, {"trunk_hash": spec["trunk"]["hash"], "step": spec["steps"]})
    prov = record.run_provenance(spec, "cpu", "mock", threads=1, world_size=1, resumed_from=None)
    seen = spec["steps"] * spec["tokens_per_step"]
    data = {"seen": seen, "unique": seen, "epochs": 0.0}
    marker = record.trunk_marker(spec, status="ok", step=spec["steps"], checkpoint=str(point), curve=[],
                                 train_s=0.0, provenance=prov, data=data)  # fmt: skip
    atomic_write_json(out_json, marker)
    return marker
