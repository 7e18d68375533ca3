"""Data parallelism under ``torchrun`` (DDP), or nothing at all in a single process.

With ``WORLD_SIZE > 1`` in the environment (set by ``torchrun``), the job joins a process group
(``gloo`` on CPU, ``nccl`` on CUDA), every rank draws the same global batch from the sampler and
trains on its own slice of ``batch_size / world_size`` windows; DDP averages the gradients, so
the update, the losses and the curve equal those of one process with the same global batch, to
float tolerance (tested with 2 processes). Per-step decisions (divergence, SIGTERM) are taken on
all-reduced numbers, so every rank stops at the same step. Every rank evaluates the (small)
fixed validation set itself; rank 0 alone logs, checkpoints and writes the run JSON. A multi-node
job needs ``checkpoint_dir`` on a shared file system.

    torchrun --standalone --nproc_per_node 2 -m flops_fit.cli train --spec S --data D --out O \\
        --checkpoint-dir C
"""

from __future__ import annotations

import os

import torch


class Dist:
    """The process's place in the job (``rank``, ``world``, ``main``) and its collectives."""

    def __init__(self, device_type: str = "cpu"):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        self.main = self.rank == 0
        self._owns_group = False
        self._device = torch.device("cpu")
        if self.enabled:
            import torch.distributed as dist

            self.dist = dist
            if device_type == "cuda":
                torch.cuda.set_device(self.local_rank)
                self._device = torch.device("cuda", self.local_rank)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
                self._owns_group = True

    def all_reduce_mean(self, t: torch.Tensor) -> None:
        """Replace ``t`` (on this rank's device) by its mean over ranks, in place."""
        if self.enabled:
            self.dist.all_reduce(t)
            t /= self.world

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model wrapped in DistributedDataParallel (itself in a single process)."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if self._device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.enabled:
            self.dist.barrier()

    def close(self) -> None:
        if self._owns_group:
            self.dist.destroy_process_group()
            self._owns_group = False
