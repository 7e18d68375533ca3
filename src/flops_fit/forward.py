"""How a batch goes through a model: the call convention, the default loss, top-1 accuracy.

Shared by the training task (``flops_fit.tasks``) and the up-front check of a custom model
(``flops_fit.families.custom``). torch is imported inside the functions that need it.
"""

from __future__ import annotations


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
    from flops_fit.imports import import_object

    return import_object(path, "model.loss", callable, "callable")


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
