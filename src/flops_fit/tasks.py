"""What one run trains, by model family: the model, its batches, its loss and its evaluation.

The training job (``flops_fit.train``) asks ``build(spec, data_dir)`` for a :class:`Task` and
then only calls its methods, so a GPT on tokens, a ViT on CIFAR-10 and a model named by import
path share one training loop (optimiser, schedule, checkpoints, curve, run JSON)::

    task = build(spec, "results/data/cifar10")
    batch = task.next_batch()                     # the global batch, CPU tensors
    loss, output = task.forward(model, task.to(batch, device))
    task.position                                 # samples consumed (the sampler's whole state)
    task.data_record(seen_samples)                # {"seen", "unique", "epochs"} in the study's unit

Units: a GPT's unit is the token (a sample is a window of n_ctx tokens), a ViT's the image, a
custom model's what its data config says (``data.custom.unit``); the run JSON's ``tokens`` block
counts units, and ``unit`` names them. Samples are drawn without replacement in a fresh seeded
permutation per epoch, so data repeats only once all of it has been seen and the position is one
integer (exact resume). Evaluation uses a fixed, evenly strided subset of the validation split
(all of it when ``eval.batches x batch_size`` covers it) and reports accuracy for classifiers.

The model itself, its call convention and its loss are the family's (``flops_fit.families``);
this module owns the data side: one :class:`Data` per kind of source (``_token_data``,
``_image_data``, ``_custom_data``). torch is imported inside the functions that need it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flops_fit.families import family
from flops_fit.forward import correct
from flops_fit.record import unit_of
from flops_fit.sources import load_custom_split


# --- samplers -----------------------------------------------------------------------------
class IndexSampler:
    """Sample indices of a dataset of ``n`` items, a seeded permutation per epoch (as WindowSampler)."""

    def __init__(self, n: int, batch_size: int, seed: int):
        if n < 1:
            raise ValueError("the training split is empty")
        self.n_windows, self.batch_size, self.seed = n, batch_size, seed  # n_windows: WindowSampler's name
        self.position = 0
        self._epoch, self._perm = -1, None

    def next_indices(self) -> np.ndarray:
        out = np.empty(self.batch_size, dtype=np.int64)
        for i in range(self.batch_size):
            epoch, k = divmod(self.position + i, self.n_windows)
            if epoch != self._epoch:
                self._epoch, self._perm = (
                    epoch,
                    np.random.default_rng([self.seed, epoch]).permutation(self.n_windows),
                )
            out[i] = self._perm[k]
        self.position += self.batch_size
        return out


def strided(n: int, k: int) -> np.ndarray:
    """``min(n, k)`` distinct indices evenly strided over ``range(n)`` (deterministic)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(np.int64))


@dataclass
class Data:
    """A run's data: the sampler (its ``position`` is the whole state), ``fetch()`` of the next
    global batch, the fixed evaluation batch, the training split's size in samples, the units per
    sample, and the training split's size in units when it is not ``n_train x units_per_sample``."""

    sampler: object
    fetch: Callable
    eval_batch: tuple
    n_train: int
    units_per_sample: int
    train_units: int | None = None


class Task:
    """A run's model, data, loss and evaluation; see the module docstring."""

    def __init__(self, spec: dict, model, data: Data, forward: Callable, loss_fn: Callable, counts: dict):
        self.spec, self.model, self.data, self.counts = spec, model, data, counts
        self._forward, self.loss_fn, self.unit = forward, loss_fn, unit_of(spec)
        self.units_per_sample, self.eval_batch = data.units_per_sample, data.eval_batch

    @property
    def position(self) -> int:
        return self.data.sampler.position

    @position.setter
    def position(self, value: int) -> None:
        self.data.sampler.position = int(value)

    def next_batch(self):
        return self.data.fetch()

    @staticmethod
    def to(batch, device, rows: slice = slice(None)):
        """The batch's tensors (rows ``rows``: a data-parallel rank's share) on ``device``."""
        return tuple(t[rows].to(device, non_blocking=True) for t in batch)

    def forward(self, model, batch):
        """``(loss, output)`` of ``model`` on ``batch`` (already on the model's device)."""
        output = self._forward(model, batch)
        return self.loss_fn(output, batch), output

    def eval_chunks(self, size: int) -> list:
        """The fixed evaluation set in batches of ``size`` (CPU)."""
        n = len(self.eval_batch[0])
        return [tuple(t[i : i + size] for t in self.eval_batch) for i in range(0, n, size)]

    def evaluate(self, model, device, size: int, amp=None) -> dict:
        """Mean loss (and accuracy, for classifiers) over the fixed evaluation set."""
        import contextlib

        import torch

        total = hits = count = 0.0
        classifier = True
        model.eval()
        with torch.inference_mode(), amp or contextlib.nullcontext():
            for chunk in self.eval_chunks(size):
                batch = self.to(chunk, device)
                loss, output = self.forward(model, batch)
                n = len(chunk[0])
                total, count = total + loss.item() * n, count + n
                c = correct(output, batch)
                classifier = classifier and c is not None
                hits += c or 0
        model.train()
        return {"val_loss": total / count} | ({"val_accuracy": hits / count} if classifier else {})

    def data_record(self, seen_samples: int) -> dict:
        """``{"seen", "unique", "epochs"}`` in units (tokens, images, samples) after ``seen_samples``."""
        ups, n_train = self.units_per_sample, self.data.n_train
        seen = seen_samples * ups
        return {
            "seen": seen,
            "unique": min(seen_samples, n_train) * ups,
            "epochs": seen / (self.data.train_units or n_train * ups),
        }


# --- building a task ----------------------------------------------------------------------
def param_counts(model) -> dict:
    """``{total, non_embedding, embedding}`` of a built model (its param_groups() or num_params())."""
    if hasattr(model, "param_groups"):
        return model.param_groups()
    total = int(model.num_params())
    try:
        non_embedding = int(model.num_params(non_embedding=True))
    except TypeError:
        non_embedding = total
    return {"total": total, "non_embedding": non_embedding, "embedding": total - non_embedding}


def build(spec: dict, data_dir: str | Path | None, model=None) -> Task:
    """The task of ``spec``: its model (built here unless given) and data from ``data_dir``
    (the prepared folder; unused by a custom loader). Seeds nothing: the caller seeds first."""
    fam = family(spec["model"]["family"])
    model = fam.build_model(spec) if model is None else model
    counts = param_counts(model)
    if spec.get("params_total") not in (None, counts["total"]):
        raise ValueError(f"model has {counts['total']} parameters but the spec says {spec['params_total']}")
    seed, batch_size = int(spec["seed"]), int(spec["batch_size"])
    n_eval = int(spec["eval"]["batches"]) * batch_size
    if (spec.get("data") or {}).get("source") == "custom":
        make = _custom_data
    elif unit_of(spec) == "images":
        make = _image_data
    else:
        make = _token_data
    data = make(spec, data_dir, seed, batch_size, n_eval)
    return Task(spec, model, data, fam.forward, fam.loss_function(spec), counts)


def _custom_data(spec, data_dir, seed, batch_size, n_eval) -> Data:
    """The user's loader: a map-style dataset of (input, target) items, collated by torch."""
    from torch.utils.data import default_collate

    data = spec["data"]
    train, val = load_custom_split(data, "train"), load_custom_split(data, "val")
    sampler = IndexSampler(len(train), batch_size, seed)

    def fetch():
        return tuple(default_collate([train[int(i)] for i in sampler.next_indices()]))

    eval_batch = tuple(default_collate([val[int(i)] for i in strided(len(val), n_eval)]))
    return Data(sampler, fetch, eval_batch, len(train), int(spec.get("units_per_sample", 1)))


def _image_data(spec, data_dir, seed, batch_size, n_eval) -> Data:
    """CIFAR-10 records, normalised with the training split's mean and std (optionally augmented)."""
    import torch

    from .datasets.cifar10 import IMAGE_SHAPE, load_records

    meta = json.loads((Path(data_dir) / "meta.json").read_text())
    train, val = load_records(data_dir, "train"), load_records(data_dir, "val")
    mean = torch.tensor(meta["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(meta["std"], dtype=torch.float32).view(1, -1, 1, 1)
    augment = bool(spec.get("training", {}).get("augment"))
    sampler = IndexSampler(len(train), batch_size, seed)

    def decode(records: np.ndarray, gen=None):
        labels = torch.from_numpy(records[:, 0].astype(np.int64))
        images = torch.from_numpy(np.ascontiguousarray(records[:, 1:])).view(-1, *IMAGE_SHAPE).float() / 255.0
        if gen is not None:
            images = _augment(images, gen)
        return (images - mean) / std, labels

    def fetch():
        gen = torch.Generator().manual_seed(seed * 1_000_003 + sampler.position) if augment else None
        idx = np.sort(sampler.next_indices())  # sorted reads from the memmap; order within a batch is moot
        return decode(train[idx], gen)

    return Data(sampler, fetch, decode(val[strided(len(val), n_eval)]), len(train), 1)


def _token_data(spec, data_dir, seed, batch_size, n_eval) -> Data:
    """Token windows of ``n_ctx`` (a GPT, or a custom model on text)."""
    import torch

    from .training.data import WindowSampler, eval_windows, load_split

    n_ctx = int(spec["model"]["n_ctx"])
    train_tokens, meta = load_split(data_dir, "train")
    val_tokens, _ = load_split(data_dir, "val")
    vocab = spec["model"].get("vocab_size")
    if vocab is not None and int(meta["vocab_size"]) > int(vocab):
        raise ValueError(f"data vocab_size {meta['vocab_size']} exceeds model vocab_size {vocab}")
    sampler = WindowSampler(train_tokens, n_ctx, batch_size, seed)

    def fetch():
        x, y = sampler.next_batch()
        return torch.from_numpy(x), torch.from_numpy(y)

    xv, yv = eval_windows(val_tokens, n_ctx, n_eval)
    eval_batch = (torch.from_numpy(xv), torch.from_numpy(yv))
    # epochs = tokens seen / train tokens (not windows x n_ctx: the tail shorter than a window counts)
    return Data(sampler, fetch, eval_batch, sampler.n_windows, n_ctx, train_units=len(train_tokens))


def _augment(images, gen):
    """Random 32x32 crops of the 4-pixel zero-padded images and horizontal flips (seeded)."""
    import torch
    import torch.nn.functional as F

    b, _, h, w = images.shape
    padded = F.pad(images, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (b,), generator=gen)
    dy = torch.randint(0, 9, (b,), generator=gen)
    cropped = torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])
    flip = torch.rand(b, generator=gen) < 0.5
    cropped[flip] = cropped[flip].flip(-1)
    return cropped
