"""CIFAR-10 (Krizhevsky 2009) through ``torchvision.datasets.CIFAR10``, written as fixed-size records.

    data:
      source: cifar10
      name: cifar10
      cifar10: {root: resources/cifar10, download: true}

With ``download: true`` (the default) torchvision downloads the archive when missing and checks
the md5 of every file. With ``download: false`` the files under ``root/cifar-10-batches-py``
(``data_batch_1..5``, ``test_batch``, ``batches.meta``: pickled dicts with ``data`` uint8 N x 3072
channel-major and ``labels``) are read as they are, without checksums, so a copy made elsewhere
(or a test's tiny fake) works offline.

Output: ``train.bin`` / ``val.bin`` (the 10,000 test images: the held-out split) as records of
1 label byte + 3 x 32 x 32 pixel bytes (CIFAR-10's own binary layout), and ``meta.json`` with
the per-channel mean and std of the training images (the training task normalises with them).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..io import atomic_write_json

IMAGE_SHAPE = (3, 32, 32)
NUM_CLASSES = 10
DEFAULT_ROOT = "resources/cifar10"


def _torchvision_class(verify: bool):
    from torchvision.datasets import CIFAR10

    if verify:
        return CIFAR10

    class UncheckedCIFAR10(CIFAR10):
        """torchvision's reader without the md5 checks (files copied in or written by a test)."""

        def _check_integrity(self) -> bool:
            return True

        def _load_meta(self) -> None:
            path = Path(self.root) / self.base_folder / self.meta["filename"]
            try:
                with open(path, "rb") as fh:
                    self.classes = list(pickle.load(fh, encoding="latin1")[self.meta["key"]])
            except (OSError, KeyError, pickle.UnpicklingError):
                self.classes = [str(i) for i in range(NUM_CLASSES)]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    return UncheckedCIFAR10


def read_split(root: str | Path, train: bool, download: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images uint8 (N, 3, 32, 32), labels uint8 (N,), class names) of one split."""
    root = Path(root)
    if not download and not (root / "cifar-10-batches-py").is_dir():
        raise ValueError(f"data.cifar10: no {root / 'cifar-10-batches-py'} (set data.cifar10.download: true)")
    ds = _torchvision_class(verify=download)(str(root), train=train, download=download)
    images = np.ascontiguousarray(np.asarray(ds.data, dtype=np.uint8).transpose(0, 3, 1, 2))  # HWC -> CHW
    labels = np.asarray(ds.targets, dtype=np.int64)
    if images.shape[1:] != IMAGE_SHAPE or len(labels) != len(images) or labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise ValueError(f"data.cifar10: unexpected data under {root}: images {images.shape}, labels {labels.shape}")
    return images, labels.astype(np.uint8), list(ds.classes)


def write_records(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    records = np.concatenate([labels[:, None], images.reshape(len(images), -1)], axis=1)  # (N, 3073)
    tmp = path.with_name(f".{path.name}.tmp")
    records.tofile(tmp)
    tmp.replace(path)


def prepare(data: dict, out_dir: str | Path) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = data.get("cifar10") or {}
    root, download = cfg.get("root", DEFAULT_ROOT), bool(cfg.get("download", True))
    train_x, train_y, classes = read_split(root, True, download)
    val_x, val_y, _ = read_split(root, False, download)
    write_records(out / "train.bin", train_x, train_y)
    write_records(out / "val.bin", val_x, val_y)
    pixels = train_x.astype(np.float64) / 255.0
    meta = {
        "schema_version": 1,
        "dataset": data["name"],
        "source": "cifar10",
        "unit": "images",
        "tokenizer": None,
        "vocab_size": 0,
        "dtype": "uint8",
        "image_shape": list(IMAGE_SHAPE),
        "num_classes": NUM_CLASSES,
        "classes": classes,
        "record_bytes": 1 + int(np.prod(IMAGE_SHAPE)),
        "mean": pixels.mean(axis=(0, 2, 3)).round(6).tolist(),
        "std": pixels.std(axis=(0, 2, 3)).round(6).tolist(),
        "train_tokens": len(train_y),  # units: images
        "val_tokens": len(val_y),
        "train_images": len(train_y),
        "val_images": len(val_y),
        "description": f"CIFAR-10: {len(train_y)} training and {len(val_y)} test images, 10 classes",
    }
    atomic_write_json(out / "meta.json", meta)
    return meta


def load_records(data_dir: str | Path, split: str) -> np.ndarray:
    """The ``split`` records as a read-only (N, 3073) uint8 memmap."""
    path = Path(data_dir) / f"{split}.bin"
    n = path.stat().st_size // (1 + int(np.prod(IMAGE_SHAPE)))
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(n, 1 + int(np.prod(IMAGE_SHAPE))))
