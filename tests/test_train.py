"""The training job (flops_fit.train): contract JSON, determinism, resume, divergence, helpers."""

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from flops_fit.accounting import gpt_flops_per_token, gpt_param_counts, gpt_shape
from flops_fit.hparams import resolve_hparams, resolve_schedule
from flops_fit.models.gpt import GPT
from flops_fit.train import eval_steps, train_run
from flops_fit.training.data import WindowSampler, eval_windows
from flops_fit.training.optim import AdamW
from flops_fit.training.schedule import lr_at

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]


def make_data(folder: Path, n_train=60_000, n_val=8_000, seed=0) -> Path:
    """Byte tokens of random 'sentences' over a 200-word vocabulary: learnable, deterministic."""
    rng = np.random.default_rng(seed)
    words = [bytes(rng.integers(97, 123, rng.integers(2, 8)).astype(np.uint8)) for _ in range(200)]
    text = b" ".join(words[i] for i in rng.zipf(1.3, 40_000) % 200)
    arr = np.frombuffer(text, dtype=np.uint8)
    assert len(arr) >= n_train + n_val
    folder.mkdir(parents=True, exist_ok=True)
    arr[:n_train].tofile(folder / "train.bin")
    arr[n_train : n_train + n_val].tofile(folder / "val.bin")
    meta = {"schema_version": 1, "dataset": "words", "source": "test", "tokenizer": "bytes",
            "vocab_size": 256, "dtype": "uint8", "train_tokens": n_train, "val_tokens": n_val,
            "description": "test"}  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def make_spec(size=16, steps=40, n_ctx=32, batch_size=8, seed=0, model=None, **training):
    """A run spec as the planner builds it (docs/contracts.md), with ``steps`` given directly."""
    shape = gpt_shape(size, {"n_ctx": n_ctx, "head_dim": 8, **(model or {})}, 256)
    counts = gpt_param_counts(shape)
    cfg = {"batch_size": batch_size, **training}
    hp = resolve_hparams(size, counts["non_embedding"], cfg)
    fpt = gpt_flops_per_token(shape, "chinchilla")
    tps = hp["batch_size"] * n_ctx
    train_keys = ("backend", "device", "dtype", "compile", "checkpoint_minutes", "divergence_factor",
                  "checkpoint_every_steps", "log_every_s", "sync_every")  # fmt: skip
    return {
        "study": "test", "run_id": f"C1e9-d{size}", "seed": seed, "code_version": 1,
        "budget": steps * tps * fpt, "size": size, "model": shape.to_dict(),
        "params_total": counts["total"], "params_non_embedding": counts["non_embedding"],
        "params_embedding": counts["embedding"], "flop_convention": "chinchilla", "param_convention": "total",
        "flops_per_unit": fpt, "batch_size": hp["batch_size"], "steps": steps, "tokens": steps * tps,
        "flops": steps * tps * fpt, "optimizer": hp["optimizer"], "schedule": resolve_schedule(steps, cfg),
        "eval": {"points": 10, "batches": 2},
        "training": {"backend": "torch", "device": "cpu", "dtype": "float32", "compile": False,
                     "checkpoint_minutes": 5, "divergence_factor": 3.0,
                     **{k: v for k, v in training.items() if k in train_keys}},
        "dataset": "words",
    }  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data"))


def quiet(_msg):
    pass


def test_run_json_follows_the_contract(data, tmp_path):
    spec = make_spec(steps=60)
    out, ckpt = tmp_path / "runs" / "r.json", tmp_path / "ckpt" / "r"
    result = train_run(spec, data, out, ckpt, log=quiet)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert not ckpt.exists()  # removed after success
    assert result["schema_version"] == 1 and result["status"] == "ok" and result["spec"] == spec
    assert result["params"] == {"total": spec["params_total"], "non_embedding": spec["params_non_embedding"],
                                "embedding": spec["params_embedding"]}  # fmt: skip
    seen = 60 * 8 * 32
    unique = min(seen, (60_000 - 1) // 32 * 32)
    assert result["tokens"] == {"seen": seen, "unique": unique, "epochs": seen / 60_000}
    fl = result["flops"]
    assert fl["actual"] == pytest.approx(spec["flops"]) and fl["planned"] == spec["budget"]
    assert fl["convention"] == "chinchilla" and fl["chinchilla"] == fl["actual"]
    assert fl["6N_total"] == 6 * spec["params_total"] * seen
    assert fl["6N_non_embedding"] == 6 * spec["params_non_embedding"] * seen
    assert fl["6N+attention"] > fl["6N_total"]
    steps = [p["step"] for p in result["curve"]]
    assert len(steps) >= 10 and steps == sorted(set(steps)) and steps[0] == 1 and steps[-1] == 60
    ratios = np.diff(np.log(steps))
    assert ratios.max() < 1.0  # log-spaced, no big holes
    for p in result["curve"]:
        assert p["tokens"] == p["step"] * 8 * 32
        assert p["flops"] == pytest.approx(p["tokens"] * spec["flops_per_unit"])
    assert result["final"]["step"] == 60 and result["final"]["val_loss"] == result["curve"][-1]["val_loss"]
    assert result["curve"][-1]["val_loss"] < result["curve"][0]["val_loss"] - 1.0  # it learns
    assert math.isfinite(result["final"]["train_loss"])
    t = result["timing"]
    assert t["tokens_per_s"] > 0 and t["flops_per_s"] > 0 and t["start_to_first_step_s"] > 0
    prov = result["provenance"]
    assert {"git_commit", "git_dirty", "versions", "device", "host", "slurm_job_id", "cuda_visible_devices",
            "threads", "config_hash", "code_version", "resumed_from_step"} <= set(prov)  # fmt: skip
    assert prov["versions"]["torch"] == torch.__version__ and prov["resumed_from_step"] is None
    assert result["optimizer"] == spec["optimizer"] and result["schedule"] == spec["schedule"]


def _losses(result):
    return [(p["step"], p["val_loss"], p["train_loss"]) for p in result["curve"]], result["final"]


def test_deterministic_same_seed_bitwise(data, tmp_path):
    spec = make_spec(steps=30, model={"positions": "rotary", "mlp": "swiglu"})
    a = train_run(spec, data, tmp_path / "a.json", tmp_path / "ca", log=quiet)
    b = train_run(spec, data, tmp_path / "b.json", tmp_path / "cb", log=quiet)
    assert _losses(a) == _losses(b)
    c = train_run(make_spec(steps=30, seed=1, model={"positions": "rotary", "mlp": "swiglu"}), data,
                  tmp_path / "c.json", tmp_path / "cc", log=quiet)  # fmt: skip
    assert _losses(a) != _losses(c)


class Interrupt(Exception):
    pass


def test_resume_after_interruption_is_exact(data, tmp_path):
    spec = make_spec(steps=50, checkpoint_every_steps=10, log_every_s=0)
    ref = train_run(spec, data, tmp_path / "ref.json", tmp_path / "cref", log=quiet)

    def crash_at_step_37(msg):
        if " step 37/" in msg:
            raise Interrupt

    ckpt = tmp_path / "ckpt"
    with pytest.raises(Interrupt):
        train_run(spec, data, tmp_path / "run.json", ckpt, log=crash_at_step_37)
    assert (ckpt / "state.pt").exists() and not (tmp_path / "run.json").exists()
    resumed = train_run(spec, data, tmp_path / "run.json", ckpt, log=quiet)
    assert resumed["provenance"]["resumed_from_step"] == 30
    assert _losses(resumed) == _losses(ref)
    # a checkpoint of another spec is not resumed
    with pytest.raises(Interrupt):
        train_run(spec, data, tmp_path / "x.json", ckpt, log=crash_at_step_37)
    other = train_run(make_spec(steps=20), data, tmp_path / "x.json", ckpt, log=quiet)
    assert other["provenance"]["resumed_from_step"] is None


def _wait_for(predicate, proc, timeout=60.0):
    deadline = time.time() + timeout
    while not predicate() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)


def test_sigterm_and_sigkill_then_rerun_give_the_uninterrupted_losses(data, tmp_path):
    """SIGTERM (preemption): checkpoint and exit 143; SIGKILL: lose the steps since the last
    checkpoint; each rerun resumes, and the final losses are bitwise those of one clean run."""
    spec = make_spec(steps=150, checkpoint_every_steps=20)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    ref = train_run(spec, data, tmp_path / "ref.json", tmp_path / "cref", log=quiet)
    ckpt, out = tmp_path / "ckpt", tmp_path / "run.json"
    state = ckpt / "state.pt"
    cmd = [sys.executable, "-m", "flops_fit.cli", "train", "--spec", str(tmp_path / "spec.json"),
           "--data", str(data), "--out", str(out), "--checkpoint-dir", str(ckpt)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(state.exists, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait() == 128 + signal.SIGTERM, "the run finished before it could be stopped"
    first = state.stat().st_mtime_ns

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: state.exists() and state.stat().st_mtime_ns != first, proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists()

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    resumed = json.loads(out.read_text())
    assert resumed["provenance"]["resumed_from_step"] % 20 == 0
    assert _losses(resumed) == _losses(json.loads(json.dumps(ref)))
    assert sorted(p.name for p in ckpt.iterdir()) == ["finished.json", "finished.key"]  # state.pt removed
    assert (ckpt / "finished.json").read_bytes() == out.read_bytes()  # kept for a rerun (flops_fit.finished)


def test_log_is_time_stamped_with_one_line_per_evaluation(data, tmp_path, capsys):
    spec = make_spec(steps=12)
    result = train_run(spec, data, tmp_path / "r.json", tmp_path / "c")  # the default log: stdout
    lines = capsys.readouterr().out.splitlines()
    stamp = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[C1e9-d16\] "
    assert lines and all(re.match(stamp, line) for line in lines), lines
    evals = [line for line in lines if " eval step " in line]
    assert len(evals) == len(result["curve"])
    for line, point in zip(evals, result["curve"], strict=True):
        assert f"eval step {point['step']}/12 tokens {point['tokens']:.4g} val loss {point['val_loss']:.4f}" in line


def test_preempted_exit_status_is_128_plus_sigterm():
    from flops_fit.train import EXIT_PREEMPTED

    assert EXIT_PREEMPTED == 128 + signal.SIGTERM == 143  # SLURM/shell convention for a SIGTERM-ended job


def test_mock_and_torch_backends_write_the_same_keys(data, tmp_path):
    """One run-record builder (flops_fit.record): the mock backend's JSON has every key of a real run's."""
    from flops_fit.mock import train_mock

    spec = make_spec(steps=12)
    real = train_run(spec, data, tmp_path / "r.json", tmp_path / "c", log=quiet)
    mock = dict(spec, tokens_per_step=8 * 32)
    law = {"E": 1.5, "A": 150.0, "B": 410.0, "alpha": 0.34, "beta": 0.28, "noise": 0.0}
    mock["training"] = dict(spec["training"], backend="mock", mock=law)
    fake = train_mock(mock, tmp_path / "m.json")
    assert sorted(fake) == sorted(real)
    for block in ("params", "flops", "tokens", "final", "timing", "provenance"):
        assert sorted(fake[block]) == sorted(real[block]), block
    assert fake["provenance"]["backend"] == "mock" and real["provenance"]["backend"] == "torch"
    assert real["timing"]["eval_s"] > 0 and real["timing"]["call_to_first_step_s"] > 0
    assert fake["timing"]["eval_s"] == 0.0 and fake["timing"]["call_to_first_step_s"] is None


def test_divergence_is_data(data, tmp_path):
    spec = make_spec(steps=30)
    spec["optimizer"]["lr"], spec["optimizer"]["grad_clip"] = 1e30, 0.0  # the first updates ruin the weights
    result = train_run(spec, data, tmp_path / "d.json", tmp_path / "cd", log=quiet)
    assert result["status"] == "diverged" and result["final"]["step"] < 30
    assert result["final"]["val_loss"] is None  # non-finite losses are written as null
    json.loads((tmp_path / "d.json").read_text())  # valid JSON (no NaN)

    spec = make_spec(steps=60, divergence_factor=1.0001, lr=3.0, grad_clip=0.0)
    result = train_run(spec, data, tmp_path / "e.json", tmp_path / "ce", log=quiet)
    assert result["status"] == "diverged" and result["final"]["step"] < 60


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_request_without_cuda_is_one_clear_error(data, tmp_path):
    spec = make_spec(steps=5)
    spec["training"]["device"] = "cuda"
    with pytest.raises(ValueError, match="training.device.*available: cpu"):
        train_run(spec, data, tmp_path / "g.json", tmp_path / "cg", log=quiet)


def test_unknown_backend_rejected(data, tmp_path):
    spec = make_spec(steps=5)
    spec["training"]["backend"] = "jax"
    with pytest.raises(ValueError, match="backend"):
        train_run(spec, data, tmp_path / "g.json", tmp_path / "cg", log=quiet)


# --- helpers ------------------------------------------------------------------------------------
def test_cosine_schedule_warmup_and_ten_percent_floor():
    sched = resolve_schedule(100, {"warmup_fraction": 0.1, "min_lr_ratio": 0.1})
    assert sched["warmup_steps"] == 10
    lrs = [lr_at(s, 1.0, sched, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1)  # reaches 10% of peak at exactly the last step
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:], strict=False))
    wsd = resolve_schedule(100, {"schedule": "wsd", "warmup_fraction": 0.05, "decay_fraction": 0.2})
    lrs = [lr_at(s, 1.0, wsd, 100) for s in range(100)]
    assert lrs[50] == 1.0 and lrs[79] == 1.0 and lrs[80] < 1.0 and lrs[-1] == pytest.approx(0.1)


def test_eval_steps_log_spaced():
    assert eval_steps(1, 10) == [1]
    assert eval_steps(5, 10) == [1, 2, 3, 4, 5]
    s = eval_steps(1000, 12)
    assert len(s) == 12 and s[0] == 1 and s[-1] == 1000 and s == sorted(set(s))


def test_sampler_walks_non_overlapping_windows_in_a_permutation():
    tokens = np.arange(1001, dtype=np.int64)
    sampler = WindowSampler(tokens, n_ctx=10, batch_size=20, seed=3)
    assert sampler.n_windows == 100
    starts = []
    for _ in range(5):  # one epoch
        x, y = sampler.next_batch()
        assert x.shape == (20, 10) and np.array_equal(y, x + 1)
        starts += list(x[:, 0])
    assert sorted(starts) == list(range(0, 1000, 10))  # every window exactly once
    nxt = sampler.next_batch()[0]
    again = WindowSampler(tokens, 10, 20, seed=3)
    again.position = 100  # resuming = restoring one integer
    assert np.array_equal(again.next_batch()[0], nxt)
    xv, yv = eval_windows(tokens, 10, 7)
    assert np.array_equal(xv, eval_windows(tokens, 10, 7)[0]) and xv[0, 0] == 0 and yv[-1, -1] == 1000


def test_adamw_matches_torch():
    torch.manual_seed(0)
    m1 = GPT(gpt_shape(16, {"n_ctx": 8, "bias": True}, 32))
    m2 = GPT(gpt_shape(16, {"n_ctx": 8, "bias": True}, 32))
    m2.load_state_dict(m1.state_dict())
    o1 = AdamW(m1.optimizer_groups(0.1), lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    o2 = torch.optim.AdamW(m2.optimizer_groups(0.1), lr=1e-2, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    x = torch.randint(0, 32, (4, 8))
    for _ in range(5):
        for m, o in ((m1, o1), (m2, o2)):
            o.zero_grad()
            m(x, x)[1].backward()
            o.step()
    for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
        torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-6)


def test_hparams_rules():
    base = resolve_hparams(32, 10_000, {})
    assert base["batch_size"] == 16 and base["optimizer"]["lr"] == 3e-3
    inverse = resolve_hparams(64, 10_000, {"lr_scaling": "inverse_width", "lr": 3e-3})
    assert inverse["optimizer"]["lr"] == 1.5e-3
    kaplan = resolve_hparams(64, 10**6, {"lr_scaling": "kaplan"})["optimizer"]["lr"]
    assert kaplan == pytest.approx(0.003239 - 0.0001395 * math.log(1e6))
    rule = {"batch_scaling": "power", "batch_size": 16, "batch_reference_params": 1e5, "batch_exponent": 0.5}
    assert resolve_hparams(64, 4 * 10**5, rule)["batch_size"] == 32
    with pytest.raises(ValueError, match="lr_scaling"):
        resolve_hparams(64, 1, {"lr_scaling": "magic"})


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_data_parallel_two_ranks_match_one_process(data, tmp_path):
    """Two gloo ranks (the environment torchrun sets, without its launcher's start-up cost) with
    the same global batch give the single-process losses to float tolerance."""
    spec = make_spec(steps=20, batch_size=8)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    ref = train_run(spec, data, tmp_path / "ref.json", tmp_path / "cref", log=quiet)
    out = tmp_path / "ddp.json"
    cmd = [sys.executable, "-m", "flops_fit.cli", "train", "--spec", str(tmp_path / "spec.json"),
           "--data", str(data), "--out", str(out), "--checkpoint-dir", str(tmp_path / "ck")]  # fmt: skip
    base = {**os.environ, "PYTHONPATH": str(REPO / "src"), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(_free_port())}  # fmt: skip
    procs = [
        subprocess.Popen(
            cmd,
            env={**base, "RANK": str(r), "LOCAL_RANK": str(r)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for r in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    ddp = json.loads(out.read_text())
    assert ddp["provenance"]["world_size"] == 2 and ddp["tokens"] == ref["tokens"]
    assert [p["step"] for p in ddp["curve"]] == [p["step"] for p in ref["curve"]]
    for a, b in zip(ddp["curve"], ref["curve"], strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
    assert ddp["final"]["train_loss"] == pytest.approx(ref["final"]["train_loss"], rel=1e-5)


def test_cpu_bfloat16_autocast_and_time_based_checkpoints(data, tmp_path):
    """The autocast path (CUDA's default, bf16 here on CPU) trains; a tiny checkpoint_minutes
    checkpoints every step, so a crash at step 7 resumes from step 6."""
    spec = make_spec(steps=12, log_every_s=0, checkpoint_minutes=1e-9)
    spec["training"]["dtype"] = "bfloat16"

    def crash_at_step_7(msg):
        if " step 7/" in msg:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_run(spec, data, tmp_path / "b.json", tmp_path / "cb", log=crash_at_step_7)
    result = train_run(spec, data, tmp_path / "b.json", tmp_path / "cb", log=quiet)
    assert result["provenance"]["resumed_from_step"] == 6
    assert result["status"] == "ok" and math.isfinite(result["final"]["val_loss"])


def test_vit_on_images_through_the_same_job(tmp_path):
    """The loop is family-agnostic (flops_fit.tasks): a ViT on (fake) CIFAR-10 trains, counts
    images, records accuracy, and resumes exactly."""
    from fake_data import write_cifar10

    from flops_fit.accounting import vit_flops_per_image, vit_param_counts, vit_shape
    from flops_fit.data import prepare_dataset

    write_cifar10(tmp_path / "raw", per_batch=40, test=30)
    raw = {"root": str(tmp_path / "raw"), "download": False, "verify": False}  # a fake: no md5 to match
    cifar = {"source": "cifar10", "name": "fake", "cifar10": raw}
    prepare_dataset(cifar, tmp_path / "data")
    shape = vit_shape(32, {"aspect_ratio": 32, "head_dim": 16, "patch_size": 8}, 32, 3, 10)
    counts = vit_param_counts(shape)
    spec = make_spec(steps=12, batch_size=8, checkpoint_every_steps=5, log_every_s=0)
    spec.update({"model": shape.to_dict(), "unit": "images", "params_total": counts["total"],
                 "params_non_embedding": counts["non_embedding"], "params_embedding": counts["embedding"],
                 "flops_per_unit": vit_flops_per_image(shape, "chinchilla"), "dataset": "fake"})  # fmt: skip
    ref = train_run(spec, tmp_path / "data", tmp_path / "ref.json", tmp_path / "cref", log=quiet)
    assert ref["status"] == "ok" and ref["unit"] == "images"
    assert ref["tokens"]["seen"] == 12 * 8
    assert ref["flops"]["actual"] == pytest.approx(96 * spec["flops_per_unit"])
    assert all(0 <= p["val_accuracy"] <= 1 for p in ref["curve"]) and "val_accuracy" in ref["final"]

    def crash_at_step_8(msg):
        if " step 8/" in msg:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_run(spec, tmp_path / "data", tmp_path / "run.json", tmp_path / "ck", log=crash_at_step_8)
    resumed = train_run(spec, tmp_path / "data", tmp_path / "run.json", tmp_path / "ck", log=quiet)
    assert resumed["provenance"]["resumed_from_step"] == 5 and _losses(resumed) == _losses(ref)


def test_deferred_loss_reads_change_nothing_but_timing(data, tmp_path):
    """CUDA reads losses back every ``sync_every`` steps (the host runs ahead); forced on CPU, the
    losses are the same, and divergence is still caught, reported before the first bad step."""
    every = train_run(make_spec(steps=30), data, tmp_path / "a.json", tmp_path / "ca", log=quiet)
    deferred = train_run(make_spec(steps=30, sync_every=7), data, tmp_path / "b.json", tmp_path / "cb", log=quiet)
    assert _losses(deferred) == _losses(every)



def test_deferred_reads_still_catch_divergence(data, tmp_path, monkeypatch):
    """A NaN loss at step 20 (between the sync points 16 and 24 of sync_every=16) stops the run
    with the curve so far and reports 19 good steps, as an every-step check does."""
    from flops_fit.tasks import Task

    original, calls = Task.forward, {"n": 0}

    def nan_at_step_20(self, model, batch):
        loss, output = original(self, model, batch)
        if model.training:
            calls["n"] += 1
            if calls["n"] == 20:
                loss = loss * float("nan")
        return loss, output

    monkeypatch.setattr(Task, "forward", nan_at_step_20)
    results = []
    for every in (1, 16):
        calls["n"] = 0
        spec = make_spec(steps=60, sync_every=every)
        results.append(train_run(spec, data, tmp_path / f"{every}.json", tmp_path / f"c{every}", log=quiet))
    for r in results:
        assert r["status"] == "diverged" and r["final"]["step"] == 19 and r["final"]["train_loss"] is None
        assert [p["step"] for p in r["curve"]][-2:] == [15, 19]  # the curve so far, then the stop point
    assert results[0]["curve"][:-1] == results[1]["curve"][:-1]
