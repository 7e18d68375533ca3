"""Shape rule, parameter counts and FLOPs per token of the GPT family, without torch.

Planning happens at Snakefile parse time, so everything the planner needs lives here and
imports nothing heavier than the standard library. The torch model in
``flops_fit.models.gpt`` counts its real tensors and must agree with these numbers (tested in
``tests/test_model.py``).

Conventions for training FLOPs per token (forward + backward = 3 x forward):

* ``6N``            -- Kaplan et al. 2020, eq. 2.1; N is the study's parameter convention
  (``total`` or ``non_embedding``).
* ``6N+attention``  -- PaLM (Chowdhery et al. 2022, App. B): 6N + 12 * n_layer * d_model * n_ctx
  (the attention score and value matmuls, which 6N leaves out).
* ``chinchilla``    -- Hoffmann et al. 2022, Appendix F: embeddings, attention (QKV, logits,
  softmax, reduction, projection), dense blocks and final logits, x3 for the backward pass.
  Layer norms, biases and the non-linearities are not counted (as in the paper).

Checks (``tests/test_accounting.py``): GPT-2 small has 124,439,808 parameters; Appendix F without
embeddings and logits over 6 N D, N from Chinchilla's Table A9, reproduces Table A4's ratios.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import ClassVar

FLOP_CONVENTIONS = ("6N", "6N+attention", "chinchilla")
PARAM_CONVENTIONS = ("total", "non_embedding")
MLP_KINDS = ("gelu", "swiglu")
POSITION_KINDS = ("learned", "rotary")


class Shape:
    """What every family's shape (a frozen dataclass of ``d_model``, ``n_head``, ...) shares: its
    head size and its round trip to the run spec's ``model`` dict."""

    family: ClassVar[str]

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def to_dict(self) -> dict:
        return {"family": self.family, **asdict(self)}

    @classmethod
    def from_dict(cls, model: dict):
        """Rebuild the shape from ``spec["model"]`` (ignores ``family`` and unknown keys)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in model.items() if k in names})


@dataclass(frozen=True)
class GPTShape(Shape):
    """Everything that fixes a GPT's parameter count and FLOPs (``spec["model"]`` minus ``family``)."""

    family: ClassVar[str] = "gpt"
    n_layer: int
    d_model: int
    n_head: int
    n_ctx: int
    vocab_size: int
    d_ff: int
    mlp: str = "gelu"  # gelu | swiglu
    positions: str = "learned"  # learned | rotary
    tie_embeddings: bool = True
    bias: bool = False

    def __post_init__(self):
        if self.mlp not in MLP_KINDS:
            raise ValueError(f"model.mlp {self.mlp!r} is not one of {', '.join(MLP_KINDS)}")
        if self.positions not in POSITION_KINDS:
            raise ValueError(f"model.positions {self.positions!r} is not one of {', '.join(POSITION_KINDS)}")
        if self.d_model % self.n_head:
            raise ValueError(f"model.d_model {self.d_model} is not a multiple of n_head {self.n_head}")
        if self.positions == "rotary" and (self.d_model // self.n_head) % 2:
            raise ValueError(f"rotary positions need an even head size, got {self.d_model // self.n_head}")



def gpt_shape(size: int, model: dict, vocab_size: int) -> GPTShape:
    """Shape of the GPT whose size knob (the width ``d_model``) is ``size``.

    Rule: depth ``n_layer = max(1, round(d_model / aspect_ratio))`` (Kaplan et al. 2020, Fig. 5:
    loss depends only weakly on the aspect ratio d_model / n_layer over a wide range, so one knob
    suffices), heads of about ``head_dim`` (``n_head = max(1, round(d_model / head_dim))``;
    ``d_model`` must be a multiple of ``n_head``), and an MLP of ``mlp_ratio * d_model`` (GELU)
    or ``2/3`` of that (SwiGLU, as in LLaMA, so both MLPs have the same parameter count).
    ``model["n_layer"]``, when given, fixes the depth instead of the aspect rule.
    """
    d = int(size)
    head_dim = int(model.get("head_dim", 16))
    n_head = max(1, round(d / head_dim))
    if d % n_head:
        raise ValueError(f"width {d} is not a multiple of n_head={n_head} (model.head_dim={head_dim})")
    if model.get("n_layer"):
        n_layer = int(model["n_layer"])
    else:
        n_layer = max(1, round(d / float(model.get("aspect_ratio", 24))))
    mlp = model.get("mlp", "gelu")
    ratio = float(model.get("mlp_ratio", 4))
    d_ff = int(ratio * d) if mlp == "gelu" else int(round(2 * ratio * d / 3))
    return GPTShape(
        n_layer=n_layer,
        d_model=d,
        n_head=n_head,
        n_ctx=int(model["n_ctx"]),
        vocab_size=int(vocab_size),
        d_ff=d_ff,
        mlp=mlp,
        positions=model.get("positions", "learned"),
        tie_embeddings=bool(model.get("tie_embeddings", True)),
        bias=bool(model.get("bias", False)),
    )


def gpt_param_counts(s: GPTShape) -> dict[str, int]:
    """Parameter counts by group: ``embedding`` (token table, learned position table, and the
    unembedding when untied), ``non_embedding`` (everything else: blocks and final norm),
    ``total`` (Kaplan et al. 2020 fit their laws on the non-embedding count)."""
    d, b = s.d_model, int(s.bias)
    ln = 2 * d if s.bias else d  # LayerNorm weight (+ bias)
    attn = d * 3 * d + 3 * d * b + d * d + d * b  # c_attn (QKV) + c_proj
    if s.mlp == "swiglu":
        mlp = 3 * d * s.d_ff + (2 * s.d_ff + d) * b  # gate, up, down
    else:
        mlp = 2 * d * s.d_ff + (s.d_ff + d) * b  # c_fc, c_proj
    block = 2 * ln + attn + mlp
    embedding = s.vocab_size * d + (s.n_ctx * d if s.positions == "learned" else 0)
    if not s.tie_embeddings:
        embedding += s.vocab_size * d  # lm_head, no bias
    non_embedding = s.n_layer * block + ln  # + final LayerNorm
    return {"embedding": embedding, "non_embedding": non_embedding, "total": embedding + non_embedding}


def gpt_flops_per_token(s: GPTShape, convention: str, params: str = "total") -> float:
    """Training FLOPs per token (forward + backward) under ``convention`` (see module doc).

    ``params`` picks the N of the 6N conventions; the Chinchilla count does not use it.
    """
    if convention not in FLOP_CONVENTIONS:
        raise ValueError(f"unknown FLOP convention {convention!r}; allowed: {', '.join(FLOP_CONVENTIONS)}")
    if params not in PARAM_CONVENTIONS:
        raise ValueError(f"unknown parameter convention {params!r}; allowed: {', '.join(PARAM_CONVENTIONS)}")
    n = gpt_param_counts(s)[params]
    if convention == "6N":
        return 6.0 * n
    if convention == "6N+attention":
        return 6.0 * n + 12.0 * s.n_layer * s.d_model * s.n_ctx
    return 3.0 * chinchilla_forward_flops_per_token(s)


def flops_per_unit(spec: dict) -> float:
    """A run spec's training FLOPs per unit of data under the study's convention; the unit is the
    spec's ``unit``: a token (GPT; the default), an image (ViT) or a sample (custom loaders). Run
    JSONs written before this key was named ``flops_per_unit`` carry it as ``flops_per_token``."""
    return float(spec["flops_per_unit"] if "flops_per_unit" in spec else spec["flops_per_token"])


def flops_by_convention(per_unit, shape) -> dict[str, float]:
    """Training FLOPs per unit of data (token, image) under every convention, keyed as in the
    run JSON's ``flops``; ``per_unit(shape, convention, params)`` is the family's counter."""
    return {
        "6N_total": per_unit(shape, "6N", "total"),
        "6N_non_embedding": per_unit(shape, "6N", "non_embedding"),
        "6N+attention": per_unit(shape, "6N+attention", "total"),
        "chinchilla": per_unit(shape, "chinchilla", "total"),
    }


def gpt_flops_by_convention(s: GPTShape) -> dict[str, float]:
    """Training FLOPs per token under every convention, keyed as in the run JSON's ``flops``."""
    return flops_by_convention(gpt_flops_per_token, s)


def chinchilla_forward_flops_per_token(s: GPTShape, embeddings: bool = True) -> float:
    """Forward FLOPs per token by Hoffmann et al. 2022, Appendix F (their per-sequence count / n_ctx).

    A multiply-add is 2 FLOPs. Per layer: QKV ``2*3*d*(kv*h)``, attention logits ``2*ctx*kv*h``,
    softmax ``3*h*ctx``, softmax @ V ``2*ctx*kv*h``, output projection ``2*kv*h*d``, dense block
    ``2*2*d*d_ff`` (``2*3*d*d_ff`` for the three matmuls of SwiGLU). Embeddings ``2*V*d`` and final
    logits ``2*d*V`` once. With ``embeddings=False`` those two are left out, as in the authors'
    correction of Table A4.
    """
    d, ctx, v = s.d_model, s.n_ctx, s.vocab_size
    kv, h = s.head_dim, s.n_head
    qkv = 2 * 3 * d * (kv * h)
    logits = 2 * ctx * kv * h
    softmax = 3 * h * ctx
    reduction = 2 * ctx * kv * h
    project = 2 * kv * h * d
    ff = (3 if s.mlp == "swiglu" else 2) * 2 * d * s.d_ff
    per_layer = qkv + logits + softmax + reduction + project + ff
    total = s.n_layer * per_layer
    if embeddings:
        total += 2 * v * d + 2 * d * v  # embedding lookup as a matmul + final logits
    return float(total)


# --- Vision Transformer (ViT; Dosovitskiy et al. 2021) -------------------------------------------
# One knob, the width d_model; depth and heads follow the same rule as the GPT's (aspect_ratio,
# head_dim), and the MLP is mlp_ratio x d_model. An image is (image_size / patch_size)^2 patch
# tokens plus one class token; the unit of data is the image, so "tokens" seen = images seen.


@dataclass(frozen=True)
class ViTShape(Shape):
    """Everything that fixes a ViT's parameter count and FLOPs (``spec["model"]`` minus ``family``)."""

    family: ClassVar[str] = "vit"
    n_layer: int
    d_model: int
    n_head: int
    d_ff: int
    image_size: int
    patch_size: int
    channels: int
    num_classes: int
    mlp: str = "gelu"  # gelu | swiglu
    bias: bool = True

    def __post_init__(self):
        if self.mlp not in MLP_KINDS:
            raise ValueError(f"model.mlp {self.mlp!r} is not one of {', '.join(MLP_KINDS)}")
        if self.d_model % self.n_head:
            raise ValueError(f"model.d_model {self.d_model} is not a multiple of n_head {self.n_head}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image size {self.image_size} is not a multiple of patch_size {self.patch_size}")

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def tokens_per_image(self) -> int:
        """Sequence length: the patches and the class token."""
        return self.n_patches + 1



def vit_shape(size: int, model: dict, image_size: int, channels: int, num_classes: int) -> ViTShape:
    """Shape of the ViT of width ``size``: ``model.n_layer`` layers, or when not given
    ``n_layer = max(1, round(d_model / aspect_ratio))``,
    ``n_head = max(1, round(d_model / head_dim))`` (must divide d_model), MLP of ``mlp_ratio x
    d_model`` (SwiGLU: 2/3 of that), patches of ``model.patch_size`` (default 4) pixels."""
    d = int(size)
    head_dim = int(model.get("head_dim", 16))
    n_head = max(1, round(d / head_dim))
    if d % n_head:
        raise ValueError(f"width {d} is not a multiple of n_head={n_head} (model.head_dim={head_dim})")
    if model.get("n_layer"):  # a fixed depth (width as the only knob)
        n_layer = int(model["n_layer"])
    else:
        n_layer = max(1, round(d / float(model.get("aspect_ratio", 24))))
    mlp = model.get("mlp", "gelu")
    ratio = float(model.get("mlp_ratio", 4))
    d_ff = int(ratio * d) if mlp == "gelu" else int(round(2 * ratio * d / 3))
    return ViTShape(n_layer=n_layer, d_model=d, n_head=n_head, d_ff=d_ff, image_size=int(image_size),
                    patch_size=int(model.get("patch_size", 4)), channels=int(channels),
                    num_classes=int(num_classes), mlp=mlp, bias=bool(model.get("bias", True)))


def vit_param_counts(s: ViTShape) -> dict[str, int]:
    """``embedding``: the input and output layers (patch projection, class token, position table,
    classifier head); ``non_embedding``: the transformer blocks and the final norm."""
    d, b = s.d_model, int(s.bias)
    ln = 2 * d if s.bias else d
    attn = d * 3 * d + 3 * d * b + d * d + d * b
    mlp = 3 * d * s.d_ff + (2 * s.d_ff + d) * b if s.mlp == "swiglu" else 2 * d * s.d_ff + (s.d_ff + d) * b
    patch = s.channels * s.patch_size**2 * d + d * b
    embedding = patch + d + s.tokens_per_image * d + d * s.num_classes + s.num_classes * b
    non_embedding = s.n_layer * (2 * ln + attn + mlp) + ln
    return {"embedding": embedding, "non_embedding": non_embedding, "total": embedding + non_embedding}


def vit_forward_flops_per_image(s: ViTShape, softmax: bool = True) -> float:
    """Forward FLOPs of one image, counted as Hoffmann et al. 2022, Appendix F count a sequence
    (a multiply-add is 2 FLOPs): the patch projection ``2*P*(C*p^2)*d``; per layer over the T = P + 1
    tokens QKV ``2*3*d*d*T``, attention logits ``2*T*T*d``, softmax ``3*h*T*T`` (left out with
    ``softmax=False``, as torch's FlopCounterMode does), softmax @ V ``2*T*T*d``, output projection
    ``2*d*d*T`` and the MLP ``2*2*d*d_ff*T`` (SwiGLU: 3 matmuls); the classifier ``2*d*classes`` on the
    class token. Norms, biases and non-linearities are not counted."""
    d, t, h = s.d_model, s.tokens_per_image, s.n_head
    per_layer = 2 * 3 * d * d * t + 4 * t * t * d + 2 * d * d * t
    per_layer += (3 if s.mlp == "swiglu" else 2) * 2 * d * s.d_ff * t
    per_layer += 3 * h * t * t if softmax else 0
    patch = 2 * s.n_patches * s.channels * s.patch_size**2 * d
    return float(patch + s.n_layer * per_layer + 2 * d * s.num_classes)


def vit_flops_per_image(s: ViTShape, convention: str, params: str = "total") -> float:
    """Training FLOPs per image: ``6N`` x T tokens, ``6N+attention`` adds ``12*n_layer*d*T`` per
    token (PaLM), ``chinchilla`` is 3 x :func:`vit_forward_flops_per_image`."""
    if convention not in FLOP_CONVENTIONS:
        raise ValueError(f"unknown FLOP convention {convention!r}; allowed: {', '.join(FLOP_CONVENTIONS)}")
    if params not in PARAM_CONVENTIONS:
        raise ValueError(f"unknown parameter convention {params!r}; allowed: {', '.join(PARAM_CONVENTIONS)}")
    t = s.tokens_per_image
    n = vit_param_counts(s)[params]
    if convention == "6N":
        return 6.0 * n * t
    if convention == "6N+attention":
        return (6.0 * n + 12.0 * s.n_layer * s.d_model * t) * t
    return 3.0 * vit_forward_flops_per_image(s)


def vit_flops_by_convention(s: ViTShape) -> dict[str, float]:
    """Training FLOPs per image under every convention, keyed as in the run JSON's ``flops``."""
    return flops_by_convention(vit_flops_per_image, s)
