"""Speed of the training job against a bare PyTorch loop, and process start -> first step.

    .venv/bin/python benchmarks/bench_train.py            # three sizes, ~2 minutes on 2 cores
    .venv/bin/python benchmarks/bench_train.py --seconds 2 --rounds 2 --sizes 16 64

For each size (d_model; default study shape: byte vocab 256, n_ctx 128, batch 16) it runs, in
this process and on one thread, the same number of steps of

* ``bare``: forward, backward, ``torch.optim.AdamW(foreach=True)`` step on pre-made batches,
  nothing else;
* ``train_run``: the full job (data sampling, schedule, clipping, divergence check, log-spaced
  evaluation, logging, final JSON),

interleaved over ``--rounds`` rounds (the best round of each counts, which discounts load from
other processes), and prints tokens/s, achieved FLOP/s (Chinchilla convention), the share of
the job's loop spent in evaluation (12 points x 4 batches here; it scales as points x batches /
steps), and the ratio job / bare in tokens/s: wall clock with and without evaluation, and in
process CPU time for the whole ``train_run`` call (robust when other jobs share the cores).
Goal >= 0.95. It
then starts ``flops-fit train`` (``python -m flops_fit.cli train``) as a subprocess and reports the job's own
``start_to_first_step_s`` (goal <= 3 s) and the wall time of the whole process.
Prints numbers only; it is not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from flops_fit.accounting import gpt_flops_per_token, gpt_param_counts, gpt_shape
from flops_fit.hparams import resolve_hparams, resolve_schedule
from flops_fit.models.gpt import GPT
from flops_fit.train import train_run

MODEL = {"n_ctx": 128, "aspect_ratio": 32, "head_dim": 16}
BATCH = 16


def make_data(folder: Path, n_train=2_000_000, n_val=100_000) -> Path:
    rng = np.random.default_rng(0)
    arr = (rng.zipf(1.5, n_train + n_val) % 96 + 32).astype(np.uint8)
    arr[:n_train].tofile(folder / "train.bin")
    arr[n_train:].tofile(folder / "val.bin")
    meta = {"schema_version": 1, "dataset": "bench", "source": "synthetic", "tokenizer": "bytes",
            "vocab_size": 256, "dtype": "uint8", "train_tokens": n_train, "val_tokens": n_val,
            "description": "zipf bytes"}  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def make_spec(size: int, steps: int) -> dict:
    shape = gpt_shape(size, MODEL, 256)
    counts = gpt_param_counts(shape)
    hp = resolve_hparams(size, counts["non_embedding"], {"batch_size": BATCH})
    fpt = gpt_flops_per_token(shape, "chinchilla")
    tps = BATCH * shape.n_ctx
    return {
        "study": "bench", "run_id": f"bench-d{size}", "seed": 0, "code_version": 1,
        "budget": steps * tps * fpt, "size": size, "model": shape.to_dict(),
        "params_total": counts["total"], "params_non_embedding": counts["non_embedding"],
        "params_embedding": counts["embedding"], "flop_convention": "chinchilla", "param_convention": "total",
        "flops_per_unit": fpt, "batch_size": BATCH, "steps": steps, "tokens": steps * tps,
        "flops": steps * tps * fpt, "optimizer": hp["optimizer"], "schedule": resolve_schedule(steps, {}),
        "eval": {"points": 12, "batches": 4},
        "training": {"backend": "torch", "device": "cpu", "dtype": "float32", "compile": False,
                     "checkpoint_minutes": 5, "divergence_factor": 3.0},
        "dataset": "bench",
    }  # fmt: skip


def bare_loop(spec: dict, steps: int) -> tuple[float, float]:
    """Wall and CPU seconds for ``steps`` steps of forward, backward, optimiser step: nothing else."""
    torch.manual_seed(0)
    model = GPT(gpt_shape(spec["size"], MODEL, 256))
    opt = torch.optim.AdamW(model.optimizer_groups(0.1), lr=1e-3, betas=(0.9, 0.95), foreach=True)
    xs = torch.randint(0, 256, (8, BATCH, MODEL["n_ctx"] + 1))
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        x = xs[i % 8]
        _, loss = model(x[:, :-1], x[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--seconds", type=float, default=3.0, help="target duration of each timed loop")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repetitions; the best counts")
    parser.add_argument("--min-steps", type=int, default=200, help="at least this many steps per run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    data = make_data(tmp)
    print(f"torch {torch.__version__}, 1 thread, n_ctx {MODEL['n_ctx']}, batch {BATCH}, vocab 256")
    print(f"{'d_model':>7} {'layers':>6} {'params':>8} {'steps':>6} {'bare tok/s':>11} {'job tok/s':>10} "
          f"{'job FLOP/s':>11} {'eval %':>6} {'job/bare':>8} {'excl. eval':>10} {'CPU-time':>8}")  # fmt: skip
    for size in args.sizes:
        spec = make_spec(size, 20)
        bare_loop(spec, 20)  # warm-up
        per_step = bare_loop(spec, 20)[0] / 20
        steps = max(args.min_steps, int(args.seconds / per_step))
        spec = make_spec(size, steps)
        tokens = steps * BATCH * MODEL["n_ctx"]
        bare, runs, job_cpu = [], [], []
        for _ in range(args.rounds):  # interleaved; the best of each is robust to other load
            bare.append(bare_loop(spec, steps))
            c0 = time.process_time()
            runs.append(train_run(spec, data, tmp / f"d{size}.json", tmp / f"ck{size}", log=lambda m: None))
            job_cpu.append(time.process_time() - c0)
        t = max((run["timing"] for run in runs), key=lambda t: t["tokens_per_s"])
        bare_tps = tokens / min(b[0] for b in bare)
        n_layer, eval_pct = spec["model"]["n_layer"], 100 * t["eval_s"] / t["train_s"]
        no_eval = tokens / (t["train_s"] - t["eval_s"]) / bare_tps
        cpu_ratio = min(b[1] for b in bare) / min(job_cpu)  # the whole train_run call, eval included
        print(f"{size:>7} {n_layer:>6} {spec['params_total']:>8,} {steps:>6} {bare_tps:>11,.0f} "
              f"{t['tokens_per_s']:>10,.0f} {t['flops_per_s']:>11.3g} {eval_pct:>6.1f} "
              f"{t['tokens_per_s'] / bare_tps:>8.3f} {no_eval:>10.3f} {cpu_ratio:>8.3f}")  # fmt: skip

    print("evaluation costs ~ points x batches / 3 training steps per run: with 12 points x 4 batches it is "
          "<= 5% of a run of >= 320 steps; 12 x 2: >= 160 steps")  # fmt: skip

    spec = make_spec(args.sizes[0], 10)
    (tmp / "spec.json").write_text(json.dumps(spec))
    t0 = time.time()
    cmd = [sys.executable, "-m", "flops_fit.cli", "train", "--spec", str(tmp / "spec.json"), "--data", str(data),
           "--out", str(tmp / "cli.json"), "--checkpoint-dir", str(tmp / "ck-cli")]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.time() - t0
    t = json.loads((tmp / "cli.json").read_text())["timing"]
    print(
        f"subprocess `flops-fit train` (d_model {args.sizes[0]}, 10 steps): process start -> "
        f"first step {t['start_to_first_step_s']:.2f} s (goal <= 3 s), whole process {wall:.2f} s"
    )


if __name__ == "__main__":
    main()
