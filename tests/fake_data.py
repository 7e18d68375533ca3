"""Tiny offline stand-ins for the real datasets, in the formats their loaders read.

* :func:`write_tinystories` -- JSON-lines files with a ``text`` column, as ``datasets.load_dataset("json")``
  reads them (TinyStories' own columns), made of short generated stories;
* :func:`write_cifar10` -- ``cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}``: pickled dicts
  with str keys, ``data`` uint8 N x 3072 channel-major and ``labels``, as torchvision reads them. The
  images carry their class (a per-class mean colour plus noise), so a model can learn something.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

NAMES = ["Lily", "Tom", "Sue", "Ben", "Mia", "Max"]
THINGS = ["ball", "cat", "tree", "boat", "cake", "kite"]
PLACES = ["park", "garden", "house", "river", "forest"]


def story(rng: np.random.Generator) -> str:
    name, friend = rng.choice(NAMES, 2, replace=False)
    thing, place = rng.choice(THINGS), rng.choice(PLACES)
    return (
        f"Once upon a time, {name} went to the {place}. {name} saw a big {thing}. "
        f'{name} said to {friend}, "Look at the {thing}!" They played with the {thing} all day. '
        f"At night, {name} and {friend} were happy and went home."
    )


def write_tinystories(folder: Path, train_docs: int = 400, val_docs: int = 40, seed: int = 0) -> dict:
    """Write train.jsonl and validation.jsonl; return the study's ``data.huggingface`` block."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = {}
    for split, n in (("train", train_docs), ("validation", val_docs)):
        path = folder / f"{split}.jsonl"
        path.write_text("".join(json.dumps({"text": story(rng)}) + "\n" for _ in range(n)))
        files[split] = str(path)
    return {"path": "json", "data_files": files}


def write_cifar10(root: Path, per_batch: int = 100, test: int = 100, seed: int = 0) -> Path:
    """Write a CIFAR-10-shaped dataset of 5 x ``per_batch`` + ``test`` images under ``root``."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    colours = rng.integers(30, 225, size=(10, 3))

    def batch(n: int, label: str) -> dict:
        labels = rng.integers(0, 10, n)
        base = colours[labels][:, :, None].repeat(1024, axis=2)  # (n, 3, 1024)
        data = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8).reshape(n, 3072)
        return {
            "batch_label": label,
            "data": data,
            "labels": labels.tolist(),
            "filenames": [f"{i}.png" for i in range(n)],
        }

    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch(per_batch, f"training batch {i} of 5")))
    (folder / "test_batch").write_bytes(pickle.dumps(batch(test, "testing batch 1 of 1")))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(
        pickle.dumps({"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072})
    )
    return root
