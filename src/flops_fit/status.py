"""`flops-fit status`: where a (possibly running) study stands, from the files on disk alone.

    flops-fit status results/tiny      # reads results/tiny/plan.tsv, runs/, checkpoints/, logs/

Each planned run (one row of ``plan.tsv``) is in exactly one state:

* ``done``      -- ``runs/{run_id}.json`` exists with ``status: ok``;
* ``diverged``  -- the JSON exists with ``status: diverged`` (finished, loss blew up);
* ``failed``    -- no JSON, and the run's newest log -- its job log under ``logs/``, or on a
  cluster its SLURM log under ``.snakemake/slurm_logs/rule_train/`` -- holds an error (a Python
  traceback, ``Error``, ``Killed``, an out-of-memory message or a SLURM cancellation) that is not
  a preemption (stopped by a signal after checkpointing, or killed at its time limit with a
  checkpoint to resume from);
* ``running``   -- no JSON and no error: its checkpoint folder ``checkpoints/{run_id}/`` or its
  log exists. This includes runs stopped by a signal after checkpointing (preempted): they
  resume on the next ``snakemake`` call, and the detail column says so;
* ``pending``   -- nothing on disk yet.

Compute spent counts the actual FLOPs of finished runs (``flops.actual`` of the run JSON) plus,
for started ones, the planned FLOPs times the fraction of steps done, read from the last
``step S/T`` progress line of the training log; planned compute is the sum of the plan's
``flops`` (falling back to ``budget``). Nothing here imports torch or Snakemake (a checkpoint is
never opened): it is safe to run on a login node while the jobs train.

The study-wide ETA divides the compute still to do (planned minus spent, failed runs included:
they are retried) by the throughput measured so far: FLOPs per second of one job, from the
finished runs' JSON (``flops.actual`` over ``timing.wall_s``), times the number of jobs running
now (at least one). It is unknown until a run has finished.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

STATES = ("done", "running", "failed", "diverged", "pending")
_ERROR_MARKERS = (
    "Traceback (most recent call last)",
    "Error",
    "Killed",
    "CANCELLED",
    "out of memory",
    "oom-kill",
    "DUE TO TIME LIMIT",
)
_STEP = re.compile(r"\bstep (\d+)/(\d+)")
_PREEMPTED = re.compile(r"checkpointed at step \d+/\d+; stopping|Preempted")


def _read_plan(plan_tsv: str | os.PathLike) -> list[dict]:
    import csv

    with open(plan_tsv, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _num(value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _logs_by_run(logs_dir: Path) -> dict[str, list[Path]]:
    """Every log file under ``logs_dir`` by the run id it is named after (``{run_id}.log``)."""
    found: dict[str, list[Path]] = {}
    if logs_dir.is_dir():
        for path in sorted(logs_dir.rglob("*.log")):
            if path.is_file():
                found.setdefault(path.stem, []).append(path)
    return found


def _slurm_logs(workdir: Path, run_ids) -> dict[str, list[Path]]:
    """SLURM job logs of training jobs (snakemake-executor-plugin-slurm writes
    ``.snakemake/slurm_logs/rule_train/<wildcards>/<jobid>.log``) by run id."""
    root = workdir / ".snakemake" / "slurm_logs" / "rule_train"
    found: dict[str, list[Path]] = {}
    if not root.is_dir():
        return found
    folders = [d for d in root.iterdir() if d.is_dir()]
    for run_id in run_ids:
        for folder in folders:
            if folder.name == run_id or folder.name.endswith("_" + run_id):
                found.setdefault(run_id, []).extend(sorted(folder.glob("*.log")))
    return found


def _newest(paths: list[Path]) -> Path | None:
    return max(paths, key=lambda p: p.stat().st_mtime) if paths else None


def _log_tail(paths: list[Path]) -> list[str]:
    """The last lines (up to 64 KB) of the newest of ``paths``."""
    newest = _newest(paths)
    if newest is None:
        return []
    try:
        with open(newest, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 65536))
            return fh.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _log_error(tail: list[str]) -> str | None:
    """The last error line of a log tail, or None (a preemption is not an error)."""
    hit = None
    for line in tail:
        if any(marker in line for marker in _ERROR_MARKERS):
            hit = line.strip()
    if hit and any(_PREEMPTED.search(line) for line in tail):
        return None
    return hit


def _progress(tail: list[str]) -> tuple[int, int] | None:
    """(step, steps) of the last ``step S/T`` line of a training log, or None."""
    for line in reversed(tail):
        m = _STEP.search(line)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def study_status(results_dir: str | os.PathLike, study: str, plan_tsv: str | os.PathLike | None = None) -> dict:
    """Summary of ``study``: counts per state, compute spent vs planned, and one row per run.

    ``plan_tsv`` defaults to ``results_dir/study/plan.tsv``. Returns a dict with keys ``study``,
    ``planned`` (number of runs), one count per state in :data:`STATES`, ``compute_planned``,
    ``compute_spent``, ``compute_fraction``, ``by_budget`` (budget -> counts) and ``runs``
    (a list of ``{run_id, budget, state, flops_planned, flops_spent, detail}``).
    """
    root = Path(results_dir) / study
    if not root.is_dir():  # FileNotFoundError: the command line prints it as one line, exit 2
        what = "a file" if root.exists() else "missing"
        raise FileNotFoundError(f"{root} is {what}: give a study's results folder, e.g. results/shakespeare")
    plan_tsv = Path(plan_tsv) if plan_tsv else root / "plan.tsv"
    if not plan_tsv.is_file():
        raise FileNotFoundError(f"{root} has no {plan_tsv.name}: run snakemake (or flops-fit plan --out) first")
    plan = _read_plan(plan_tsv)
    runs_dir, ckpt_root = root / "runs", root / "checkpoints"
    logs_by_run = _logs_by_run(root / "logs")
    slurm_by_run = _slurm_logs(Path(results_dir).resolve().parent, [spec["run_id"] for spec in plan])
    rows = []
    for spec in plan:
        run_id = spec["run_id"]
        budget = _num(spec.get("budget"))
        planned = _num(spec.get("flops"))
        if not math.isfinite(planned):
            planned = budget
        state, spent, detail, wall = "pending", 0.0, "", math.nan
        run_json = runs_dir / f"{run_id}.json"
        if run_json.is_file():
            try:
                data = json.loads(run_json.read_text())
                state = "diverged" if data.get("status") == "diverged" else "done"
                spent = _num((data.get("flops") or {}).get("actual"))
                if not math.isfinite(spent):
                    spent = planned
                wall = _num((data.get("timing") or {}).get("wall_s"))
                loss = _num((data.get("final") or {}).get("val_loss"))
                detail = f"val_loss {loss:.4g}" if math.isfinite(loss) else ""
            except (OSError, ValueError):
                state, detail = "failed", "unreadable run JSON"
        else:
            logs = logs_by_run.get(run_id, [])
            slurm = slurm_by_run.get(run_id, [])
            tail = _log_tail(logs)
            slurm_tail = _log_tail(slurm)
            # the error that counts is the one in the newest log: the job's own, or SLURM's
            newer_slurm = slurm and (not logs or _newest(slurm).stat().st_mtime > _newest(logs).stat().st_mtime)
            error = _log_error(slurm_tail + tail if newer_slurm else tail)
            ckpt = ckpt_root / run_id
            preempted = any(_PREEMPTED.search(line) for line in tail + slurm_tail)
            if error and "TIME LIMIT" in error and ckpt.is_dir():
                error, preempted = None, True  # killed at its wall time: Snakemake resubmits, it resumes
            progress = _progress(tail)
            if progress and progress[1] > 0 and math.isfinite(planned):
                spent = planned * min(progress[0] / progress[1], 1.0)
            if error:
                state, detail = "failed", error[:120]
            elif ckpt.is_dir() or logs or slurm:
                state = "running"
                parts = [f"step {progress[0]}/{progress[1]}"] if progress else []
                if preempted:
                    parts.append("preempted, resumes on the next snakemake call")
                elif ckpt.is_dir():
                    parts.append("checkpoint present")
                detail = ", ".join(parts)
        rows.append(
            {
                "run_id": run_id,
                "budget": budget,
                "state": state,
                "flops_planned": planned,
                "flops_spent": spent,
                "wall_s": wall,
                "detail": detail,
            }
        )
    counts = {s: sum(r["state"] == s for r in rows) for s in STATES}
    by_budget: dict[float, dict] = {}
    for r in rows:
        b = by_budget.setdefault(r["budget"], {s: 0 for s in STATES})
        b[r["state"]] += 1
    compute_planned = float(sum(r["flops_planned"] for r in rows if math.isfinite(r["flops_planned"])))
    compute_spent = float(sum(r["flops_spent"] for r in rows if math.isfinite(r["flops_spent"])))
    return {
        "study": study,
        **_eta(rows, compute_planned - compute_spent, counts["running"]),
        "planned": len(rows),
        **counts,
        "compute_planned": compute_planned,
        "compute_spent": compute_spent,
        "compute_fraction": compute_spent / compute_planned if compute_planned > 0 else math.nan,
        "by_budget": dict(sorted(by_budget.items())),
        "runs": rows,
    }


def _eta(rows: list[dict], remaining: float, running: int) -> dict:
    """``flops_per_s`` (one job, measured on finished runs), ``eta_s`` and the runs it rests on."""
    timed = [r for r in rows if r["state"] in ("done", "diverged") and r["wall_s"] > 0 and r["flops_spent"] > 0]
    rate = sum(r["flops_spent"] for r in timed) / sum(r["wall_s"] for r in timed) if timed else math.nan
    eta = max(remaining, 0.0) / (rate * max(running, 1)) if timed else math.nan
    return {"flops_per_s": rate, "eta_s": eta, "eta_from_runs": len(timed), "eta_jobs": max(running, 1)}


def _duration(seconds: float) -> str:
    """12 s, 4.5 min, 3.2 h, 2.1 days."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 1.5 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def status_json(status: dict) -> dict:
    """:func:`study_status` as plain JSON values (NaN becomes null, budgets become strings)."""

    def clean(x):
        if isinstance(x, float):
            return x if math.isfinite(x) else None
        if isinstance(x, dict):
            return {(sci(k, 3) if isinstance(k, float) else k): clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    from flops_fit.presentation.formatting import sci

    return clean(status)


def format_status(status: dict, verbose: bool = False) -> str:
    """A few human-readable lines; ``verbose`` adds one line per run that is not pending."""
    from flops_fit.presentation.formatting import sci

    lines = [
        f"study {status['study']}: {status['planned']} runs planned, " + ", ".join(f"{status[s]} {s}" for s in STATES),
        f"compute: {sci(status['compute_spent'], 3)} of {sci(status['compute_planned'], 3)} FLOPs "
        f"({100 * status['compute_fraction']:.1f}%)"
        if math.isfinite(status["compute_fraction"])
        else "compute: nothing planned",
    ]
    remaining = status["planned"] - status["done"] - status["diverged"]
    if remaining == 0:
        lines.append("ETA: every run has finished")
    elif math.isfinite(status["eta_s"]):
        lines.append(
            f"ETA: about {_duration(status['eta_s'])} for the {remaining} runs left "
            f"(at {sci(status['flops_per_s'], 2)} FLOPs/s per job from {status['eta_from_runs']} finished runs, "
            f"{status['eta_jobs']} job{'s' if status['eta_jobs'] > 1 else ''} at a time)"
        )
    else:
        lines.append(f"ETA: unknown until a run finishes ({remaining} runs left)")
    if status["by_budget"]:
        lines.append("by budget:")
        for budget, counts in status["by_budget"].items():
            parts = ", ".join(f"{counts[s]} {s}" for s in STATES if counts[s])
            lines.append(f"  C={sci(budget, 3)}: {parts}")
    shown = [r for r in status["runs"] if verbose and r["state"] != "pending" or r["state"] == "failed"]
    if shown:
        lines.append("runs:")
        for r in shown:
            lines.append(f"  {r['run_id']:<20} {r['state']:<9} {r['detail']}".rstrip())
    return "\n".join(lines)
