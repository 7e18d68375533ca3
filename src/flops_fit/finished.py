"""A finished run's JSON kept beside its checkpoints, so that rerunning the same run on the same
data reuses it instead of training again.

Snakemake reruns a training job in two cases where nothing about the run has changed:

* after ``kill -9`` of Snakemake, the jobs it had started go on as orphans and finish, but their
  outputs stay marked incomplete, so the next invocation (``rerun-incomplete``) deletes and reruns
  them;
* after ``results/data`` is deleted, the data are prepared again, and Snakemake reruns every job
  downstream of a job that runs, whatever the new files hold (there is no content check between
  jobs of one invocation; ``rerun-triggers`` do not change that).

Training is deterministic given the spec, the data and the code, so the job first looks in its
checkpoint folder for ``finished.json`` and ``finished.key``: when the key (sha256 of the spec, of
the prepared data files' bytes, of the flops_fit sources and of the torch version) matches, the kept
JSON is copied to the output byte for byte and no step is trained. A deleted run JSON therefore
comes back as it was when nothing changed; delete ``results/<study>/checkpoints/<run_id>/`` to
retrain such a run anyway.

The key file also holds the sha256 of the kept JSON: a kept copy that was damaged since (a full
disk, a bad copy, an edit) is reported, deleted with its key and the run trains again -- never
copied back, where aggregate would set it aside as corrupt and the next invocation copy it back
again, forever.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from .io import atomic_write_text

RUN_FILE, KEY_FILE = "finished.json", "finished.key"
DATA_FILES = ("meta.json", "train.bin", "val.bin")


def data_fingerprint(data_dir: str | os.PathLike | None) -> str:
    """sha256 of the prepared data's bytes (meta.json, train.bin, val.bin); 'none' without data."""
    folder = Path(data_dir) if data_dir else None
    if folder is None or not folder.is_dir():
        return "none"
    digest = hashlib.sha256()
    for name in DATA_FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    digest.update(chunk)
    return digest.hexdigest()


def code_fingerprint() -> str:
    """sha256 of the library's sources and the torch version: edited code never reuses a run."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    try:
        digest.update(version("torch").encode())
    except PackageNotFoundError:
        pass
    return digest.hexdigest()


def run_key(spec: dict, data_dir) -> str:
    parts = [json.dumps(spec, sort_keys=True), data_fingerprint(data_dir), code_fingerprint()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def reuse(spec: dict, data_dir, out_json, checkpoint_dir, log=_warn) -> bool:
    """Copy the kept JSON of this very run (same spec, same data) to ``out_json``; True if done.
    A kept JSON that is damaged is reported through ``log`` and deleted with its key (False)."""
    folder = Path(checkpoint_dir)
    kept, key = folder / RUN_FILE, folder / KEY_FILE
    if not (kept.is_file() and key.is_file()):
        return False
    lines = key.read_text(errors="replace").split()
    if not lines or lines[0] != run_key(spec, data_dir):
        return False
    blob = kept.read_bytes()
    problem = _damage(blob, lines[1] if len(lines) > 1 else None, spec)
    if problem:
        log(f"{kept} is corrupt ({problem}); deleted with its key, the run trains again")
        key.unlink(missing_ok=True)
        kept.unlink(missing_ok=True)
        return False
    atomic_write_text(out_json, blob.decode("utf-8"))
    return True


def _damage(blob: bytes, sha256: str | None, spec: dict) -> str | None:
    """What is wrong with a kept run JSON, or None: its sha256 (when the key holds one) and its content."""
    if sha256 is not None and hashlib.sha256(blob).hexdigest() != sha256:
        return "its sha256 is not the one kept in its key"
    try:
        run = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        return f"not JSON: {type(err).__name__}"
    if not isinstance(run, dict) or not {"status", "final"} <= set(run):
        return "not a run JSON: no status and final"
    if spec.get("run_id") is not None and run.get("run_id", spec["run_id"]) != spec["run_id"]:
        return f"the JSON of run {run.get('run_id')!r}, not {spec['run_id']!r}"
    return None


def keep(spec: dict, data_dir, out_json, checkpoint_dir) -> None:
    """Keep a copy of the finished run's JSON (and its key) in its checkpoint folder."""
    folder = Path(checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / KEY_FILE).unlink(missing_ok=True)  # never a key beside another run's JSON
    tmp = folder / f".{RUN_FILE}.tmp"
    shutil.copyfile(out_json, tmp)
    os.replace(tmp, folder / RUN_FILE)
    digest = hashlib.sha256((folder / RUN_FILE).read_bytes()).hexdigest()
    atomic_write_text(folder / KEY_FILE, f"{run_key(spec, data_dir)}\n{digest}\n")
