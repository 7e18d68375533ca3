"""One run, several processes: the train rule launches `torchrun` (DDP, gloo on CPU) when a
study sets training.processes, and the run gives the losses of a one-process run with the same
global batch (to float tolerance)."""

from __future__ import annotations

import json

import pytest
from conftest import snakemake, tiny_config, write_config

from flops_fit.train import train_run

pytestmark = pytest.mark.slow
RUN = "C2.5e9-d8"


def test_two_process_run_matches_one_process(tmp_path):
    config = tiny_config("torch")
    config["studies"]["tiny"]["training"]["processes"] = 2
    write_config(tmp_path, config)
    target = f"results/tiny/runs/{RUN}.json"
    snakemake(tmp_path, "--cores", "2", target)
    ddp = json.loads((tmp_path / target).read_text())
    assert ddp["provenance"]["world_size"] == 2

    single = train_run(ddp["spec"], str(tmp_path / "results" / "data" / "shakespeare"),
                       str(tmp_path / "single.json"), str(tmp_path / "ckpt"))
    assert single["provenance"]["world_size"] == 1
    assert [p["step"] for p in ddp["curve"]] == [p["step"] for p in single["curve"]]
    for a, b in zip(ddp["curve"], single["curve"], strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-4)
    assert ddp["tokens"]["seen"] == single["tokens"]["seen"]
