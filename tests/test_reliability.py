"""Nothing breaks on a user's data (issue 16): bad numbers in configs, bad budgets on the command
line, bad files, corrupt run JSONs, failed checkpoint saves. Each case must end in one line that
names the key, file or value and what to do -- or, for faults, in a run that goes on."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import signal
import subprocess
import time

import pytest
from conftest import BIN, ROOT, snakemake, tiny_config, write_config
from processes import alive, descendants

from flops_fit.cli import main
from flops_fit.config import ConfigError, check_config
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
        (["training", "lr"], math.nan, "studies.tiny.training.lr: nan is not allowed (allowed: a finite number > 0 and <= 10)"),
        (["grid", "budgets"], [1e9, math.inf], "studies.tiny.grid.budgets[1]: inf is not allowed"),
        (["training", "divergence_factor"], math.nan, "training.divergence_factor: nan is not allowed"),
        (["fit", "confidence"], math.nan, "fit.confidence: nan is not allowed (allowed: a finite number > 0 and < 1)"),
        (["training", "mock", "E"], -math.inf, "training.mock.E: -inf is not allowed"),
        (["model", "kwargs", "dropout"], math.nan, "model.kwargs.dropout: nan is not allowed"),
        (["grid", "budgets"], [1e300], "grid.budgets[0]: 1e+300 is out of range (allowed: a number >= 1000 and <= 1e+30)"),
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
    assert "config error at studies.tiny.training.lr: nan is not allowed (allowed: a finite number > 0 and <= 10)" in out
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
