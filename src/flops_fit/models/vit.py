"""A Vision Transformer (Dosovitskiy et al. 2021) sized by ``flops_fit.accounting.vit_shape``.

Patches of ``patch_size`` pixels projected by a strided convolution, a learned class token and
learned positions, pre-norm blocks (LayerNorm -> bidirectional self-attention -> residual,
LayerNorm -> MLP -> residual), a final LayerNorm and a linear classifier on the class token.
``forward(images)`` returns the logits ``(B, num_classes)`` directly (no loss): the training task
computes cross-entropy. Initialisation as the GPT (N(0, 0.02), residual projections scaled by
1/sqrt(2 n_layer)).

The model reports its own parameter groups and FLOPs per image; both equal the torch-free counts
that the planner used (tested in tests/test_vit.py, FLOPs cross-checked with
``torch.utils.flop_counter.FlopCounterMode``)::

    shape = vit_shape(192, {"aspect_ratio": 32, "head_dim": 64, "patch_size": 4}, 32, 3, 10)
    model = ViT(shape)
    model(torch.randn(8, 3, 32, 32)).shape   # (8, 10)
    model.flops_per_image("chinchilla")
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from flops_fit.accounting import ViTShape, vit_flops_per_image, vit_forward_flops_per_image
from flops_fit.models.gpt import MLP  # the same GELU / SwiGLU MLP as the GPT


class Attention(nn.Module):
    def __init__(self, s: ViTShape):
        super().__init__()
        self.n_head, self.head_dim = s.n_head, s.head_dim
        self.c_attn = nn.Linear(s.d_model, 3 * s.d_model, bias=s.bias)
        self.c_proj = nn.Linear(s.d_model, s.d_model, bias=s.bias)

    def forward(self, x):
        B, T, C = x.size()  # batch, patches + 1, d_model
        q, k, v = self.c_attn(x).split(C, dim=2)  # (B, T, C) each
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, nh, T, hd), not causal
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, s: ViTShape):
        super().__init__()
        self.ln_1 = nn.LayerNorm(s.d_model, bias=s.bias)
        self.attn = Attention(s)
        self.ln_2 = nn.LayerNorm(s.d_model, bias=s.bias)
        self.mlp = MLP(s)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ViT(nn.Module):
    """``forward(images (B, C, H, W)) -> logits (B, num_classes)``."""

    def __init__(self, shape: ViTShape):
        super().__init__()
        self.shape = s = shape
        self.patch = nn.Conv2d(s.channels, s.d_model, s.patch_size, stride=s.patch_size, bias=s.bias)
        self.cls = nn.Parameter(torch.zeros(1, 1, s.d_model))
        self.pos = nn.Parameter(torch.zeros(1, s.tokens_per_image, s.d_model))
        self.h = nn.ModuleList(Block(s) for _ in range(s.n_layer))
        self.ln_f = nn.LayerNorm(s.d_model, bias=s.bias)
        self.head = nn.Linear(s.d_model, s.num_classes, bias=s.bias)
        self.apply(self._init_weights)
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.cls, std=0.02)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * s.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear | nn.Conv2d):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, images):
        x = self.patch(images)  # (B, d_model, H/p, W/p)
        x = x.flatten(2).transpose(1, 2)  # (B, P, d_model)
        x = torch.cat([self.cls.expand(x.size(0), -1, -1), x], dim=1) + self.pos  # (B, P + 1, d_model)
        for block in self.h:
            x = block(x)
        return self.head(self.ln_f(x[:, 0]))  # class token -> (B, num_classes)

    # --- accounting -------------------------------------------------------------------------
    def param_groups(self) -> dict[str, int]:
        """embedding: patch projection, class token, positions, classifier; non_embedding: the rest."""
        embedding_ids = {id(p) for m in (self.patch, self.head) for p in m.parameters()}
        embedding_ids |= {id(self.cls), id(self.pos)}
        emb = sum(p.numel() for p in self.parameters() if id(p) in embedding_ids)
        total = sum(p.numel() for p in self.parameters())
        return {"embedding": emb, "non_embedding": total - emb, "total": total}

    def num_params(self, non_embedding: bool = False) -> int:
        return self.param_groups()["non_embedding" if non_embedding else "total"]

    def flops_per_image(self, convention: str = "chinchilla", params: str = "total") -> float:
        """Training FLOPs per image (see ``flops_fit.accounting.vit_flops_per_image``)."""
        return vit_flops_per_image(self.shape, convention, params)

    def forward_flops_per_image(self, softmax: bool = True) -> float:
        return vit_forward_flops_per_image(self.shape, softmax)

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: decay tensors of 2 or more dimensions, not norms, biases."""
        params = list(self.parameters())
        return [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
