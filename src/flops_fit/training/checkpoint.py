"""Side-folder checkpoints that let a killed or preempted run resume exactly.

One file, ``{checkpoint_dir}/state.pt``, written to a temporary file in the same folder and
renamed over the old one (atomic on POSIX), so a kill at any instant leaves either the previous
or the new checkpoint, never a torn one. It holds the model, the optimiser, the RNG states, the
data position and the curve so far, plus the hash of the run spec: a checkpoint of a different
spec (the config changed) is ignored and removed rather than resumed. Checkpoints are never
Snakemake outputs (Snakemake deletes a failed job's outputs); they are removed after the run JSON
is written.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from flops_fit.provenance import spec_hash  # noqa: F401 (checkpoint.spec_hash)

FILENAME = "state.pt"
POINT = "point.pt"  # a trunk segment's branch-point checkpoint (flops_fit.branches), kept after the job


def save(checkpoint_dir: str | Path, state: dict, log=print, filename: str = FILENAME) -> bool:
    """Write ``state`` to ``checkpoint_dir/filename`` atomically; True when it was written.

    A save that fails for lack of disk space (or any other I/O error) is reported through
    ``log`` with its cause and returns False: the run goes on, and a kill would resume from the
    previous checkpoint (kept) or from scratch. Losing a checkpoint costs at most the steps
    since the last one; stopping a run that can still finish would cost all of them.
    """
    folder = Path(checkpoint_dir)
    tmp, writer = None, None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            writer = _Writer(fh)
            torch.save(state, writer)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / filename)
        return True
    except (OSError, RuntimeError) as err:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        cause = writer.error if writer and writer.error else err
        if not isinstance(cause, OSError):
            raise  # a RuntimeError of torch's own (not a failed write) is a bug, not a full disk
        why = os.strerror(cause.errno).lower() if cause.errno else str(cause)
        log(f"checkpoint: {why} ({folder}) while checkpointing; the run continues without this checkpoint")
        return False
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise


class _Writer:
    """The file torch.save writes to, remembering the OSError of a failed write (torch reports
    a full disk as a vague RuntimeError: 'unexpected pos 704 vs 598')."""

    def __init__(self, fh):
        self.fh, self.error = fh, None

    def write(self, data) -> int:
        try:
            return self.fh.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.fh.flush()


def load(checkpoint_dir: str | Path, expected_hash: str, log=print) -> dict | None:
    """The checkpoint in ``checkpoint_dir`` if there is one for this spec, else None.

    Leftover temporary files of an interrupted save are removed; an unreadable checkpoint or one
    of another spec is reported through ``log`` and removed.
    """
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return None
    for tmp in folder.glob(f".{FILENAME}.*.tmp"):
        tmp.unlink(missing_ok=True)
    path = folder / FILENAME
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torn or foreign file: start afresh rather than fail the job
        log(f"checkpoint {path} is unreadable ({err}); starting from scratch")
        path.unlink(missing_ok=True)
        return None
    if state.get("spec_hash") != expected_hash:
        log(f"checkpoint {path} belongs to another spec; starting from scratch")
        path.unlink(missing_ok=True)
        return None
    return state


def load_point(marker: dict, trunk_hash: str, step: int) -> dict:
    """The branch-point checkpoint named by a trunk marker (``flops_fit.branches``); ValueError in
    one line when it is missing or belongs to another trunk or step."""
    path = Path(marker["checkpoint"])
    if not path.is_file():
        raise ValueError(f"trunk checkpoint {path} of trunk {marker.get('trunk_id')} is missing; "
                         f"delete the trunk marker to retrain the trunk")  # fmt: skip
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("trunk_hash") != trunk_hash or int(state["step"]) != step:
        raise ValueError(f"trunk checkpoint {path} is of another trunk or step (step {state['step']}, "
                         f"expected {step}); delete the trunk marker to retrain the trunk")  # fmt: skip
    return state


def remove(checkpoint_dir: str | Path) -> None:
    """Delete the checkpoint and the folder if it is then empty."""
    folder = Path(checkpoint_dir)
    (folder / FILENAME).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass
