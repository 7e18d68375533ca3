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

This module imports torch only inside the functions that need it (the mock backend and the
planner use :func:`run_flops` and :func:`unit_of` without torch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def unit_of(spec: dict) -> str:
    """The spec's unit of data: ``tokens`` (GPT; the default), ``images`` or ``samples``."""
    return spec.get("unit", "tokens")


def flops_per_unit_by_convention(spec: dict) -> dict[str, float]:
    """Training FLOPs per unit of data under every convention (the run JSON's ``flops`` keys)."""
    family = spec["model"]["family"]
    if family == "gpt":
        from .accounting import GPTShape, gpt_flops_by_convention

        return gpt_flops_by_convention(GPTShape.from_dict(spec["model"]))
    if family == "vit":
        from .accounting import ViTShape, vit_flops_by_convention

        return vit_flops_by_convention(ViTShape.from_dict(spec["model"]))
    out = {"6N_total": 6.0 * spec["params_total"], "6N_non_embedding": 6.0 * spec["params_non_embedding"]}
    if spec.get("flop_convention") == "model":
        out["model"] = spec["flops_per_token"]
    return out


def run_flops(spec: dict, seen: float) -> dict:
    """The run JSON's ``flops`` block for ``seen`` units of data."""
    return {
        "planned": spec.get("budget", spec.get("flops")),
        "actual": spec["flops_per_token"] * seen,
        "convention": spec.get("flop_convention", "chinchilla"),
        **{name: value * seen for name, value in flops_per_unit_by_convention(spec).items()},
    }


# --- forward and loss ---------------------------------------------------------------------
def call_model(model, batch):
    """``model(batch[0])`` for (input, target, ...) batches, else ``model(batch)``."""
    return model(batch[0]) if isinstance(batch, tuple | list) else model(batch)


def logits_of(output):
    return output[0] if isinstance(output, tuple | list) else output


def default_loss(output, batch):
    """A ``(logits, loss)`` tuple's loss, else cross-entropy of the logits against ``batch[-1]``."""
    import torch
    import torch.nn.functional as F

    if isinstance(output, tuple | list) and len(output) > 1 and torch.is_tensor(output[1]) and output[1].dim() == 0:
        return output[1]
    logits = logits_of(output)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), batch[-1].reshape(-1))


def loss_function(path: str | None):
    """The configured loss (``package.module:function``) or :func:`default_loss`."""
    if not path:
        return default_loss
    from .models.custom import import_object

    fn = import_object(path, "model.loss")
    if not callable(fn):
        from .config import ConfigError

        raise ConfigError(f"config error at model.loss: {path} is not callable")
    return fn


def correct(output, batch) -> int | None:
    """Correct top-1 predictions, for classifiers (logits (B, C) against integer targets (B,))."""
    import torch

    logits = logits_of(output)
    target = batch[-1] if isinstance(batch, tuple | list) else None
    if not (
        torch.is_tensor(logits)
        and torch.is_tensor(target)
        and logits.dim() == 2
        and target.dim() == 1
        and not target.is_floating_point()
        and logits.shape[0] == target.shape[0]
    ):
        return None
    return int((logits.argmax(-1) == target).sum().item())


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


class Task:
    """A run's data, loss and evaluation; see the module docstring."""

    def __init__(
        self,
        spec: dict,
        model,
        sampler,
        fetch,
        eval_batch,
        n_train: int,
        units_per_sample: int,
        forward,
        counts: dict,
    ):
        self.spec, self.model, self.sampler, self.fetch = spec, model, sampler, fetch
        self.eval_batch, self.n_train, self.units_per_sample = eval_batch, n_train, units_per_sample
        self._forward, self.counts, self.unit = forward, counts, unit_of(spec)

    @property
    def position(self) -> int:
        return self.sampler.position

    @position.setter
    def position(self, value: int) -> None:
        self.sampler.position = int(value)

    def next_batch(self):
        return self.fetch()

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
        ups = self.units_per_sample
        seen = seen_samples * ups
        return {
            "seen": seen,
            "unique": min(seen_samples, self.n_train) * ups,
            "epochs": seen / getattr(self, "train_units", self.n_train * ups),
        }


# --- building a task ----------------------------------------------------------------------
def build_model(spec: dict):
    """The torch model of the spec (GPT, ViT or the configured class)."""
    family = spec["model"]["family"]
    if family == "gpt":
        from .accounting import GPTShape
        from .models.gpt import GPT

        return GPT(GPTShape.from_dict(spec["model"]))
    if family == "vit":
        from .accounting import ViTShape
        from .models.vit import ViT

        return ViT(ViTShape.from_dict(spec["model"]))
    from .models.custom import build_model as build_custom

    return build_custom(spec["model"], spec["size"])


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
    import torch

    model = build_model(spec) if model is None else model
    counts = param_counts(model)
    if spec.get("params_total") not in (None, counts["total"]):
        raise ValueError(f"model has {counts['total']} parameters but the spec says {spec['params_total']}")
    seed, batch_size = int(spec["seed"]), int(spec["batch_size"])
    n_eval = int(spec.get("eval", {}).get("batches", 4)) * batch_size
    family, unit = spec["model"]["family"], unit_of(spec)
    if family == "gpt":

        def forward(m, b):
            return m(b[0], b[1])
    else:
        forward = call_model
    data = spec.get("data") or {}

    if data.get("source") == "custom":  # the user's loader: a map-style dataset of (input, target) items
        from torch.utils.data import default_collate

        from .models.custom import load_custom_split

        train, val = load_custom_split(data, "train"), load_custom_split(data, "val")
        sampler = IndexSampler(len(train), batch_size, seed)

        def fetch():
            return tuple(default_collate([train[int(i)] for i in sampler.next_indices()]))

        eval_batch = tuple(default_collate([val[int(i)] for i in strided(len(val), n_eval)]))
        task = Task(
            spec,
            model,
            sampler,
            fetch,
            eval_batch,
            len(train),
            int(spec.get("units_per_sample", 1)),
            forward,
            counts,
        )
    elif unit == "images":
        from .datasets.cifar10 import IMAGE_SHAPE, load_records

        meta = _meta(data_dir)
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

        task = Task(
            spec,
            model,
            sampler,
            fetch,
            decode(val[strided(len(val), n_eval)]),
            len(train),
            1,
            forward,
            counts,
        )
    else:  # token windows (GPT, or a custom model on text)
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
        task = Task(
            spec,
            model,
            sampler,
            fetch,
            (torch.from_numpy(xv), torch.from_numpy(yv)),
            sampler.n_windows,
            n_ctx,
            forward,
            counts,
        )
        task.train_units = len(train_tokens)  # epochs = tokens seen / train tokens (as the GPT job always did)
    task.loss_fn = loss_function(spec["model"].get("loss")) if family == "custom" else default_loss
    return task


def _meta(data_dir) -> dict:
    import json

    return json.loads((Path(data_dir) / "meta.json").read_text())


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
