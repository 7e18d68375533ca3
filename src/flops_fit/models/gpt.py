"""A GPT decoder in the style of nanoGPT (Karpathy), sized by ``flops_fit.accounting.gpt_shape``.

Pre-norm blocks (LayerNorm -> causal self-attention -> residual, LayerNorm -> MLP -> residual),
attention through ``torch.nn.functional.scaled_dot_product_attention``, GELU (GPT-2) or SwiGLU
(Shazeer 2020; LLaMA) MLP, learned (GPT-2) or rotary (Su et al. 2021) positions, tied or untied
embeddings, optional biases. Initialisation as GPT-2/nanoGPT: N(0, 0.02), residual projections
scaled by 1/sqrt(2 n_layer).

The model reports its own parameter groups and FLOPs per token; both equal the torch-free
counts of ``flops_fit.accounting`` that the planner used (tested)::

    model = GPT(gpt_shape(64, {"n_ctx": 128}, 256))
    model.param_groups()              # {"embedding": ..., "non_embedding": ..., "total": ...}
    model.flops_per_token("chinchilla")
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from flops_fit.accounting import GPTShape, gpt_flops_per_token


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch's has no ``bias=False`` before 2.1)."""

    def __init__(self, d: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


def rotary_tables(n_ctx: int, head_dim: int, base: float = 10000.0):
    """cos and sin tables of shape (n_ctx, head_dim/2) for rotary embeddings (Su et al. 2021)."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(n_ctx, dtype=torch.float32), inv_freq)  # (T, hd/2)
    return angles.cos(), angles.sin()


def apply_rotary(x, cos, sin):
    """Rotate pairs (x1, x2) of the two halves of each head, GPT-NeoX layout. x: (B, nh, T, hd)."""
    x1, x2 = x.chunk(2, dim=-1)  # (B, nh, T, hd/2) each
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class CausalSelfAttention(nn.Module):
    def __init__(self, s: GPTShape):
        super().__init__()
        self.n_head, self.head_dim = s.n_head, s.head_dim
        self.c_attn = nn.Linear(s.d_model, 3 * s.d_model, bias=s.bias)  # q, k, v for all heads
        self.c_proj = nn.Linear(s.d_model, s.d_model, bias=s.bias)
        self.rotary = s.positions == "rotary"

    def forward(self, x, rope=None):
        B, T, C = x.size()  # batch, sequence length, d_model
        q, k, v = self.c_attn(x).split(C, dim=2)  # (B, T, C) each
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        if self.rotary:
            cos, sin = rope
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hd)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble heads: (B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    """Position-wise MLP, GELU or SwiGLU (also the ViT's: any shape with d_model, d_ff, mlp, bias)."""

    def __init__(self, s: GPTShape):
        super().__init__()
        self.swiglu = s.mlp == "swiglu"
        self.c_fc = nn.Linear(s.d_model, s.d_ff, bias=s.bias)  # (SwiGLU: the up projection)
        if self.swiglu:
            self.c_gate = nn.Linear(s.d_model, s.d_ff, bias=s.bias)
        self.c_proj = nn.Linear(s.d_ff, s.d_model, bias=s.bias)

    def forward(self, x):  # (B, T, d_model) -> (B, T, d_ff) -> (B, T, d_model)
        if self.swiglu:
            return self.c_proj(F.silu(self.c_gate(x)) * self.c_fc(x))
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, s: GPTShape):
        super().__init__()
        self.ln_1 = LayerNorm(s.d_model, s.bias)
        self.attn = CausalSelfAttention(s)
        self.ln_2 = LayerNorm(s.d_model, s.bias)
        self.mlp = MLP(s)

    def forward(self, x, rope=None):
        x = x + self.attn(self.ln_1(x), rope)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Decoder-only transformer; ``forward(idx, targets)`` returns ``(logits, loss)``."""

    def __init__(self, shape: GPTShape):
        super().__init__()
        self.shape = s = shape
        self.wte = nn.Embedding(s.vocab_size, s.d_model)
        self.wpe = nn.Embedding(s.n_ctx, s.d_model) if s.positions == "learned" else None
        self.h = nn.ModuleList(Block(s) for _ in range(s.n_layer))
        self.ln_f = LayerNorm(s.d_model, s.bias)
        self.lm_head = nn.Linear(s.d_model, s.vocab_size, bias=False)
        if s.tie_embeddings:
            self.lm_head.weight = self.wte.weight  # weight tying (Press & Wolf 2017; GPT-2)
        if s.positions == "rotary":
            cos, sin = rotary_tables(s.n_ctx, s.head_dim)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by 1/sqrt(2L)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * s.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        assert T <= self.shape.n_ctx, f"sequence of {T} tokens is longer than n_ctx {self.shape.n_ctx}"
        x = self.wte(idx)  # (B, T, d_model)
        rope = None
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))  # + (T, d_model)
        else:
            rope = (self.rope_cos[:T], self.rope_sin[:T])  # (T, hd/2) each
        for block in self.h:
            x = block(x, rope)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1))
        return logits, loss

    # --- accounting -------------------------------------------------------------------------
    def param_groups(self) -> dict[str, int]:
        """Counts of the real tensors: embedding (token table, learned positions, untied
        unembedding), non_embedding (the rest), total. Shared (tied) tensors count once."""
        embedding_ids = {id(self.wte.weight), id(self.lm_head.weight)}
        if self.wpe is not None:
            embedding_ids.add(id(self.wpe.weight))
        emb = non_emb = 0
        for p in self.parameters():  # .parameters() yields a tied tensor once
            if id(p) in embedding_ids:
                emb += p.numel()
            else:
                non_emb += p.numel()
        return {"embedding": emb, "non_embedding": non_emb, "total": emb + non_emb}

    def num_params(self, non_embedding: bool = False) -> int:
        """Total parameters, or the non-embedding count of Kaplan et al. 2020."""
        return self.param_groups()["non_embedding" if non_embedding else "total"]

    def flops_per_token(self, convention: str = "chinchilla", params: str = "total") -> float:
        """Training FLOPs per token: ``6N`` (Kaplan et al. 2020), ``6N+attention`` (PaLM),
        ``chinchilla`` (Hoffmann et al. 2022, App. F); see ``flops_fit.accounting``."""
        return gpt_flops_per_token(self.shape, convention, params)

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups as nanoGPT: decay every tensor of 2 or more dimensions (matmul weights
        and embedding tables), no decay on norms and biases."""
        params = list(self.parameters())
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        return [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
