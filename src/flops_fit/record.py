"""The run JSON (docs/contracts.md): one builder for every training backend (torch and mock).

A run's record holds its spec, parameter counts, FLOPs under every convention, the data it saw,
its validation curve, final losses, timing and provenance. :func:`run_record` assembles it from
what a backend measured, so the torch trainer (``flops_fit.train``) and the mock backend
(``flops_fit.mock``) write the same keys; ``SCHEMA_VERSION`` is the only place the version lives
(``flops_fit.runs.read_run`` refuses other versions). A cooldown branch (``flops_fit.branches``)
adds ``trunk`` provenance and ``flops.branch``; a trunk segment writes :func:`trunk_marker`
instead. No torch here.
"""

from __future__ import annotations

from flops_fit.accounting import flops_per_unit
from flops_fit.branches import branch_flops
from flops_fit.families import family
from flops_fit.provenance import provenance, spec_hash

SCHEMA_VERSION = 1


def unit_of(spec: dict) -> str:
    """The spec's unit of data: ``tokens`` (GPT; the default), ``images`` or ``samples``."""
    return spec.get("unit", "tokens")


def flops_per_unit_by_convention(spec: dict) -> dict[str, float]:
    """Training FLOPs per unit of data under every convention (the run JSON's ``flops`` keys)."""
    return family(spec["model"]["family"]).flops_per_unit_by_convention(spec)


def run_flops(spec: dict, seen: float) -> dict:
    """The run JSON's ``flops`` block for ``seen`` units of data. ``actual`` is what an
    independent run of these units costs (the fit's C, for a branch too); a branch adds
    ``branch``: what it cost (``flops_fit.branches.branch_flops``)."""
    block = {
        "planned": spec.get("budget", spec.get("flops")),
        "actual": flops_per_unit(spec) * seen,
        "convention": spec.get("flop_convention", "chinchilla"),
        **{name: value * seen for name, value in flops_per_unit_by_convention(spec).items()},
    }
    branch = branch_flops(spec)
    return block | ({"branch": branch} if branch else {})


def timing(
    spec: dict,
    seen: float,
    wall_s: float,
    train_s: float,
    eval_s: float,
    first_step_at: float | None = None,
    process_start: float | None = None,
    call_start: float | None = None,
) -> dict:
    """Wall, training-loop and evaluation seconds, throughput, and the start-up cost (seconds from
    the process start and from the call to the first optimiser step; None when not measured)."""
    fpu = flops_per_unit(spec)

    def since(t0):
        return first_step_at - t0 if first_step_at is not None and t0 is not None else None

    return {
        "wall_s": wall_s,
        "train_s": train_s,
        "eval_s": eval_s,
        "tokens_per_s": seen / train_s if train_s > 0 else None,
        "flops_per_s": fpu * seen / train_s if train_s > 0 else None,
        "start_to_first_step_s": since(process_start),
        "call_to_first_step_s": since(call_start),
    }


def run_provenance(spec: dict, device: str, backend: str, threads: int, world_size: int, resumed_from) -> dict:
    """Where and with what code the run was trained (``flops_fit.provenance``) and how."""
    return {
        **provenance(device),
        "backend": backend,
        "threads": int(threads),
        "world_size": int(world_size),
        "config_hash": spec_hash(spec),
        "code_version": spec.get("code_version"),
        "resumed_from_step": resumed_from,
    }


def run_record(
    spec: dict,
    *,
    status: str,
    params: dict,
    data: dict,
    curve: list[dict],
    final: dict,
    timing: dict,
    provenance: dict,
    trunk: dict | None = None,
) -> dict:
    """The run JSON. ``data``: ``{"seen", "unique", "epochs"}`` in the spec's unit; ``final``:
    ``{"train_loss", "val_loss", "step"}`` (+ ``val_accuracy`` for classifiers); ``trunk``: the
    marker of the trunk a branch started from."""
    extra = {}
    if trunk is not None:
        extra["trunk"] = {"id": trunk["trunk_id"], "step": trunk["step"], "hash": trunk["trunk_hash"],
                          "checkpoint": trunk["checkpoint"], "config_hash": trunk["provenance"]["config_hash"],
                          "git_commit": trunk["provenance"].get("git_commit"), "status": trunk["status"]}  # fmt: skip
        if "diverged_in" in trunk:
            extra["trunk"]["diverged_in"] = trunk["diverged_in"]
    return extra | {
        "schema_version": SCHEMA_VERSION,
        "run_id": spec.get("run_id", "run"),
        "study": spec.get("study"),
        "status": status,
        "spec": spec,
        "params": {k: params[k] for k in ("total", "non_embedding", "embedding")},
        "flops": run_flops(spec, data["seen"]),  # the study's convention and every other one
        "unit": unit_of(spec),  # what "tokens" counts: tokens (GPT), images (ViT), samples
        "tokens": data,
        "curve": curve,
        "final": final,
        "optimizer": spec["optimizer"],
        "schedule": spec["schedule"],
        "timing": timing,
        "provenance": provenance,
    }


def trunk_marker(spec: dict, *, status: str, step: int, checkpoint: str | None, curve: list[dict], train_s: float,
                 provenance: dict, data: dict | None = None) -> dict:  # fmt: skip
    """The marker JSON of a trunk segment (``flops_fit.branches``): the Snakemake output that its
    branches take as input; it names the branch-point checkpoint (a side file, never an output)
    and, in ``tokens``, the data the trunk saw (``{"seen", "unique", "epochs"}``)."""
    trunk = spec["trunk"]
    return ({"tokens": data} if data else {}) | {
        "schema_version": SCHEMA_VERSION,
        "kind": "trunk",
        "trunk_id": trunk["id"],
        "study": spec.get("study"),
        "size": spec.get("size"),
        "status": status,
        "step": int(step),
        "start": int(trunk["start"]),
        "trunk_hash": trunk["hash"],
        "checkpoint": checkpoint,
        "flops": (int(step) - int(trunk["start"])) * spec["tokens_per_step"] * flops_per_unit(spec),
        "curve": curve,
        "train_s": train_s,
        "provenance": provenance,
    }


def after_failed_trunk(spec: dict, marker: dict, backend: str) -> dict:
    """What a branch or a later trunk segment writes, without training, when the trunk ``marker``
    it starts from did not end ok (it diverged): divergence is data, as for an independent run.

    A trunk segment passes the status on (a marker with no checkpoint, ``diverged_in`` naming the
    segment that diverged); a branch writes the run JSON of a diverged run (no steps of its own,
    the trunk's curve, ``trunk`` provenance), so aggregation goes on and the fit excludes it."""
    where = marker.get("diverged_in") or marker["trunk_id"]
    prov = run_provenance(spec, marker["provenance"].get("device", "cpu"), backend, threads=1, world_size=1,
                          resumed_from=None)  # fmt: skip
    step, curve = int(marker["step"]), list(marker.get("curve") or [])
    if spec.get("kind") == "trunk":
        own = trunk_marker(spec, status=marker["status"], step=step, checkpoint=None, curve=curve, train_s=0.0,
                           provenance=prov, data=marker.get("tokens"))  # fmt: skip
        return own | {"flops": 0, "diverged_in": where}
    seen = step * spec["tokens_per_step"]
    run = run_record(
        spec,
        status="diverged",
        params={k: spec[f"params_{k}"] for k in ("total", "non_embedding", "embedding")},
        data=marker.get("tokens") or {"seen": seen, "unique": None, "epochs": None},
        curve=curve,
        final={"train_loss": None, "val_loss": None, "step": step},
        timing=timing(spec, 0, wall_s=0.0, train_s=0.0, eval_s=0.0),
        provenance=prov,
        trunk=marker | {"diverged_in": where},
    )
    branch = run["flops"]["branch"]  # it trained nothing itself; its trunk share if that segment ran
    share = branch["trunk_share"] if where == marker["trunk_id"] else 0.0
    run["flops"]["branch"] = branch | {"stable": 0.0, "cooldown": 0.0, "cost": share}
    return run
