"""Token windows for training and evaluation from the prepared flat arrays.

Training: the train array is cut into ``n = (len - 1) // n_ctx`` non-overlapping windows of
``n_ctx`` inputs (+1 target token); each epoch walks them in a fresh permutation seeded by
``(seed, epoch)``. Data thus repeats only once every window has been seen, and the position is one
integer (windows consumed), which makes resuming exact. ``epochs = tokens seen / train tokens``.

Evaluation: a FIXED set of ``n_seq`` windows evenly strided over the validation array, the same
for every evaluation of a run and for every run of a study with the same n_ctx and n_seq.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def load_split(data_dir: str | Path, split: str) -> tuple[np.ndarray, dict]:
    """The ``split`` ('train' or 'val') token array as a read-only memmap, and ``meta.json``."""
    data_dir = Path(data_dir)
    missing = [name for name in ("meta.json", f"{split}.bin") if not (data_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"prepared data folder {data_dir} lacks {', '.join(missing)} (expected train.bin, val.bin, "
            f"meta.json from the prepare_data step)"
        )
    meta = json.loads((data_dir / "meta.json").read_text())
    arr = np.memmap(data_dir / f"{split}.bin", dtype=np.dtype(meta["dtype"]), mode="r")
    return arr, meta


class WindowSampler:
    """Batches of ``(x, y)`` int64 arrays of shape (batch, n_ctx), y = x shifted by one token."""

    def __init__(self, tokens: np.ndarray, n_ctx: int, batch_size: int, seed: int):
        if len(tokens) < n_ctx + 1:
            raise ValueError(f"the training split has {len(tokens)} tokens, fewer than n_ctx + 1 = {n_ctx + 1}")
        self.tokens, self.n_ctx, self.batch_size, self.seed = tokens, n_ctx, batch_size, seed
        self.n_windows = (len(tokens) - 1) // n_ctx
        self.position = 0  # windows consumed so far (the whole state)
        self._epoch, self._perm = -1, None
        self._offsets = np.arange(n_ctx + 1)

    def _window_starts(self, count: int) -> np.ndarray:
        """Start offsets of the next ``count`` windows (vectorised within an epoch)."""
        ks = np.arange(self.position, self.position + count)
        starts = np.empty(count, dtype=np.int64)
        for epoch in np.unique(ks // self.n_windows):  # one epoch, or two at a boundary
            if epoch != self._epoch:
                rng = np.random.default_rng([self.seed, int(epoch)])
                self._epoch, self._perm = epoch, rng.permutation(self.n_windows)
            here = ks // self.n_windows == epoch
            starts[here] = self._perm[ks[here] % self.n_windows] * self.n_ctx
        return starts

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        starts = self._window_starts(self.batch_size)
        self.position += self.batch_size
        chunk = self.tokens[starts[:, None] + self._offsets].astype(np.int64)  # (B, n_ctx + 1)
        return np.ascontiguousarray(chunk[:, :-1]), np.ascontiguousarray(chunk[:, 1:])


def eval_windows(tokens: np.ndarray, n_ctx: int, n_seq: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_seq`` windows evenly strided over ``tokens`` (deterministic): ``(x, y)`` (n_seq, n_ctx)."""
    if len(tokens) < n_ctx + 1:
        raise ValueError(f"the validation split has {len(tokens)} tokens, fewer than n_ctx + 1 = {n_ctx + 1}")
    starts = np.linspace(0, len(tokens) - n_ctx - 1, n_seq).round().astype(np.int64)
    chunk = tokens[starts[:, None] + np.arange(n_ctx + 1)].astype(np.int64)
    return np.ascontiguousarray(chunk[:, :-1]), np.ascontiguousarray(chunk[:, 1:])
