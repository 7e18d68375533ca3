"""The ViT: its torch counts equal the planner's, its FLOPs per image equal what torch's
FlopCounterMode counts, and a ViT study on (fake) CIFAR-10 plans in images and trains."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import ROOT
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from flops_fit.accounting import vit_flops_per_image, vit_param_counts, vit_shape
from flops_fit.models.vit import ViT

torch.set_num_threads(1)
SHAPES = [
    {"aspect_ratio": 24, "head_dim": 16, "patch_size": 4, "bias": True},
    {"aspect_ratio": 16, "head_dim": 8, "patch_size": 8, "bias": False, "mlp": "swiglu"},
]


@pytest.mark.parametrize("model", SHAPES)
def test_counts_match_the_torch_model(model):
    shape = vit_shape(48, model, 32, 3, 10)
    vit = ViT(shape)
    assert vit.param_groups() == vit_param_counts(shape)
    assert vit.num_params() == sum(p.numel() for p in vit.parameters())
    assert vit(torch.randn(2, 3, 32, 32)).shape == (2, 10)  # logits, directly


@pytest.mark.parametrize("model", SHAPES)
def test_flops_per_image_match_flop_counter(model):
    shape = vit_shape(48, model, 32, 3, 10)
    vit = ViT(shape)
    images = torch.randn(2, 3, 32, 32)
    with FlopCounterMode(display=False) as counter, sdpa_kernel(SDPBackend.MATH):
        vit(images)
    # every matmul, the patch convolution and both attention matmuls, per image (softmax uncounted)
    assert counter.get_total_flops() / 2 == vit.forward_flops_per_image(softmax=False)
    with FlopCounterMode(display=False) as counter, sdpa_kernel(SDPBackend.MATH):
        vit(images).sum().backward()
    # forward + backward = 3 x forward, less the input gradient of the patch projection (not needed)
    measured = counter.get_total_flops() / 2
    input_grad = 2 * shape.n_patches * shape.channels * shape.patch_size**2 * shape.d_model
    assert measured == 3 * vit.forward_flops_per_image(softmax=False) - input_grad
    assert vit_flops_per_image(shape, "chinchilla") == pytest.approx(measured, rel=0.05)
    tokens = shape.tokens_per_image
    assert tokens == (32 // shape.patch_size) ** 2 + 1
    assert vit_flops_per_image(shape, "6N") == 6 * vit_param_counts(shape)["total"] * tokens


def test_cifar_study_plans_in_images():
    import yaml

    from flops_fit.config import check_config
    from flops_fit.plan import plan_study

    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    study = yaml.safe_load((ROOT / "config" / "studies" / "cifar10-vit.yaml").read_text())
    base["active_studies"] = study["active_studies"]
    base["studies"].update(study["studies"])
    runs = plan_study("cifar10-vit", check_config(base)["studies"]["cifar10-vit"])
    assert len(runs) == 25  # 5 budgets x 5 sizes
    for run in runs:
        assert run["unit"] == "images" and run["units_per_sample"] == 1 and run["model"]["family"] == "vit"
        assert run["tokens"] == run["steps"] * run["batch_size"]  # images seen
        assert abs(run["flops"] / run["budget"] - 1) < 0.01
        assert run["training"]["augment"] is True
    assert 1e5 < min(r["params_total"] for r in runs) and max(r["params_total"] for r in runs) < 2e7


def test_vit_task_trains_on_fake_cifar(tmp_path):
    from fake_data import write_cifar10

    from flops_fit.data import prepare_dataset
    from flops_fit.tasks import build

    write_cifar10(tmp_path / "raw", per_batch=40, test=30)
    raw = {"root": str(tmp_path / "raw"), "download": False, "verify": False}  # a fake: no md5 to match
    prepare_dataset({"source": "cifar10", "name": "fake", "cifar10": raw}, tmp_path / "data")
    shape = vit_shape(32, {"aspect_ratio": 32, "head_dim": 16, "patch_size": 8}, 32, 3, 10)
    spec = {
        "seed": 0,
        "batch_size": 16,
        "size": 32,
        "unit": "images",
        "model": shape.to_dict(),
        "eval": {"batches": 4},
        "training": {"augment": True},
    }
    torch.manual_seed(0)
    task = build(copy.deepcopy(spec), tmp_path / "data")
    opt = torch.optim.AdamW(task.model.parameters(), lr=3e-3)
    first = task.evaluate(task.model, "cpu", 16)
    assert set(first) == {"val_loss", "val_accuracy"} and 0 <= first["val_accuracy"] <= 1
    for _ in range(30):
        loss, _ = task.forward(task.model, task.next_batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert task.evaluate(task.model, "cpu", 16)["val_loss"] < first["val_loss"]
    assert task.data_record(30 * 16) == {"seen": 480, "unique": 200, "epochs": 2.4}
    # the sampler's position is its whole state: a rebuilt task resumes the same batches
    again = build(copy.deepcopy(spec), tmp_path / "data", model=task.model)
    again.position = task.position
    a, b = task.next_batch(), again.next_batch()
    assert torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])
