"""Where and with what code a run was trained: recorded in every run JSON.

Editing library code changes no Snakemake parameter, so the JSON records the git commit and
whether the tree was dirty; a reader can then tell runs of different code apart (a known pain
point of pipelines that silently do not rerun after code edits).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state(path: str | Path | None = None) -> dict:
    """``{"git_commit": sha or None, "git_dirty": bool or None}`` of the repository holding ``path``
    (default: this package's source, i.e. the code that actually runs)."""
    cwd = Path(path or Path(__file__).resolve().parent)
    commit = _git(["rev-parse", "HEAD"], cwd)
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    if commit is None and status is None:
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit or None, "git_dirty": bool(status) if status is not None else None}


def versions() -> dict:
    """Versions of Python and of the libraries the training job uses (torch only if imported)."""
    import numpy

    import flops_fit

    out = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "flops_fit": flops_fit.__version__,
    }
    torch = sys.modules.get("torch")
    out["torch"] = getattr(torch, "__version__", None)
    return out


def device_description(device: str = "cpu") -> str:
    """A human-readable name of the device: the CUDA device name, or the CPU model."""
    if device.startswith("cuda"):  # only a torch job trains on CUDA: torch is loaded already
        return f"cuda: {sys.modules['torch'].cuda.get_device_name()}"
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {name} ({os.cpu_count()} cores)"


def provenance(device: str = "cpu") -> dict:
    """Git state, versions, device, host and scheduler environment of this process."""
    return {
        **git_state(),
        "versions": versions(),
        "device": device_description(device),
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


def spec_hash(spec: dict) -> str:
    """A stable hash of a run spec (sorted-key JSON): the run JSON's ``config_hash``."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
