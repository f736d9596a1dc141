"""HRAT = training the restricted model, with any method on top; run.json records the
restrictions; the command line trains on them and deploys any run onto a chip."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from snnvar import Variation, datasets
from snnvar.evaluation import Report
from snnvar.hardware import PRESETS, Restrictions, deploy, restrictions_of
from snnvar.runs import RunSpec, build_trainer, load_run, train_run
from snnvar.training import TrainConfig
from tests.cli.invoke import cli

HW = Restrictions(weight_levels=16, input_bits=8, input_range=1.0, learn_input_scale=True,
                  output_swing=8.0, output_bits=6, bias_bits=8, fuse_batchnorm=True)  # fmt: skip
SPEC = RunSpec(
    model="spiking_cnn1", model_options={"hidden": 16, "batch_norm": True}, spiking=False,
    method="wvat", variation=Variation(0.1), hardware=HW, lr=3e-3,
    train=TrainConfig(epochs=2, batch_size=64, encoder="none", progress=False),
)  # fmt: skip


def test_hrat_with_wvat_trains_the_restricted_model_and_batchnorm_once_per_step() -> None:
    data = torch.utils.data.Subset(datasets.get("digits"), range(256))
    trainer = build_trainer(SPEC, data=data)
    assert restrictions_of(trainer.model) == HW
    history = trainer.fit(data)
    bn = trainer.model.layers[1]
    assert int(bn.num_batches_tracked) == trainer.optimizer.steps == 8  # 2 epochs x 4 batches
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    scale = trainer.model.layers[0].input_log_scale
    assert float(scale.detach()) != 0.0  # the learned input scale moved
    with pytest.raises(ValueError, match=r"restricted with w16.*the spec says w8"):
        build_trainer(replace(SPEC, hardware=replace(HW, weight_levels=8)), trainer.model)


def test_run_json_records_the_restrictions_and_load_run_restores_the_chip(tmp_path) -> None:
    spec = replace(SPEC, train=replace(SPEC.train, epochs=1))
    model, _ = train_run(spec, tmp_path / "run", validate=False)
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["hardware"] == HW.to_dict()
    loaded, back = load_run(tmp_path / "run")
    assert back == spec and restrictions_of(loaded) == HW
    x = torch.rand(8, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model.eval()(x))
        torch.testing.assert_close(deploy(loaded)(x), loaded(x), rtol=0, atol=1e-5)


def _cli(capsys, *args) -> tuple[int, str]:
    code, _, err = cli(capsys, *args)
    return code, err


def test_cli_trains_on_hardware_and_deploys_runs_on_a_chip(tmp_path, capsys) -> None:
    (tmp_path / "hw.toml").write_text('[hardware]\npreset = "hrat"\noutput_bits = 5\n')
    tiny = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "1", "--ann",
            "--no-progress")  # fmt: skip
    assert _cli(capsys, "train", *tiny, "--out", tmp_path / "sgd")[0] == 0
    code, err = _cli(capsys, "train", *tiny, "--hardware", tmp_path / "hw.toml", "--out",
                     tmp_path / "hrat")  # fmt: skip
    assert code == 0, err
    hw = replace(PRESETS["hrat"], output_bits=5)
    assert load_run(tmp_path / "hrat")[1].hardware == hw
    code, err = _cli(capsys, "evaluate", tmp_path / "sgd", tmp_path / "hrat", "--hardware",
                     tmp_path / "hw.toml", "--sigmas", "0,0.1", "--draws", "2", "--no-progress",
                     "--out", tmp_path / "ev")  # fmt: skip
    assert code == 0, err
    report = Report.load(tmp_path / "ev")
    assert [m["hardware"] for m in report.models.values()] == [hw.to_dict()] * 2
    # the SGD run on that chip, by hand: restricted, deployed, chip k of seed 0
    from snnvar.evaluation import chip_seed
    from snnvar.hardware import restrict

    test = datasets.get("digits", train=False)
    x = torch.stack([test[i][0] for i in range(len(test))])
    y = torch.tensor([int(test[i][1]) for i in range(len(test))])
    chip = deploy(restrict(load_run(tmp_path / "sgd")[0], hw))
    accs = []
    with torch.no_grad():
        for k in range(2):
            with Variation(0.1).applied(chip, seed=chip_seed(0, k)):
                accs.append(int((chip(x).argmax(-1) == y).sum()) / len(y))
    name = report.methods[0]
    assert report.row(name, 0.1).accuracies == accs
    (tmp_path / "other.toml").write_text("[hardware]\nweight_levels = 8\n")
    code, err = _cli(capsys, "evaluate", tmp_path / "hrat", "--hardware", tmp_path / "other.toml",
                     "--out", tmp_path / "ev2")  # fmt: skip
    assert code == 2 and "was trained on w15" in err and "the evaluation's hardware is w8" in err
    (tmp_path / "cfg.toml").write_text("[hardware]\nweight_levels = 7\n")
    code, err = _cli(capsys, "train", *tiny, "--config", tmp_path / "cfg.toml", "--hardware",
                     tmp_path / "hw.toml", "--out", tmp_path / "twice")  # fmt: skip
    assert code == 2 and "the hardware is given twice" in err
    code, err = _cli(capsys, "train", *tiny, "--config", tmp_path / "cfg.toml", "--out",
                     tmp_path / "cfg")  # fmt: skip
    assert code == 0, err
    assert load_run(tmp_path / "cfg")[1].hardware == Restrictions(weight_levels=7)
    (tmp_path / "bad.toml").write_text("[hardware]\nweight_levels = 1\n")
    code, err = _cli(capsys, "train", *tiny, "--hardware", tmp_path / "bad.toml", "--out",
                     tmp_path / "bad")  # fmt: skip
    assert code == 2 and "weight_levels must be an integer >= 2" in err
    assert not (tmp_path / "bad").exists()


def test_ablation_is_each_restriction_alone_on_the_same_chips(tmp_path, capsys) -> None:
    from snnvar.hardware import ablation, single_restrictions

    kinds = single_restrictions(PRESETS["hrat"])
    assert list(kinds) == ["weights", "input", "output swing", "ADC", "bias", "BN fused", "all"]
    assert kinds["ADC"] == Restrictions(output_swing=8.0, output_bits=6, fuse_batchnorm=True)
    assert kinds["all"] == PRESETS["hrat"]
    assert list(single_restrictions(Restrictions(bias_bits=4))) == ["bias", "all"]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    chips = ablation(model, Restrictions(weight_levels=7, bias_bits=3))
    assert set(chips) == {"weights", "bias", "all"}
    assert chips["weights"][0].weight.unique().numel() <= 7
    assert torch.equal(chips["weights"][0].bias, model[0].bias)  # the bias is left analog
    with pytest.raises(ValueError, match="needs the unrestricted model"):
        ablation(chips["all"], Restrictions(weight_levels=7))
    (tmp_path / "hw.toml").write_text("[hardware]\nweight_levels = 7\nbias_bits = 4\n")
    tiny = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "1", "--ann",
            "--no-progress")  # fmt: skip
    assert _cli(capsys, "train", *tiny, "--out", tmp_path / "r")[0] == 0
    code, err = _cli(capsys, "evaluate", tmp_path / "r", "--hardware", tmp_path / "hw.toml",
                     "--ablation", "--sigmas", "0", "--draws", "1", "--no-progress", "--out",
                     tmp_path / "ev")  # fmt: skip
    assert code == 0, err
    report = Report.load(tmp_path / "ev")
    assert report.methods == ["sgd", "sgd / weights", "sgd / bias"]
    assert report.models["sgd / bias"]["hardware"] == Restrictions(bias_bits=4).to_dict()
    code, err = _cli(capsys, "evaluate", tmp_path / "r", "--ablation", "--out", tmp_path / "e2")
    assert code == 2 and "--ablation takes the restrictions of --hardware" in err
