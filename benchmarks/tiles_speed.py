"""Arrays of finite size (issue 37): the cost of a training step on tiles with their own
DAC and ADC, against the same step unrestricted and against aihwkit-lightning 2.1.0 at
the same configuration, side by side in one process.

The configuration (the issue's): noise injection at σ = 10 % of max|W| (one draw per
step; lightning's ADD_NORMAL), an 8-bit DAC over a fixed input range of 3 and an
8-bit ADC at ``out_bound`` 10 relative to each tile's full scale, 256-row arrays,
the bias added digitally; batch 128. Networks: a 784-512-512-10 MLP and a two-conv
CNN (1→32→64 channels, 3×3, on 28×28, then a Linear), ANNs. Columns: ``plain``
(PyTorch, no noise), ``sgd+noise`` (snnvar's noise injection unrestricted),
``restricted`` (the same noise on one array per layer), ``tiles`` (on 256-row
arrays), ``lightning`` (aihwkit-lightning's layers, the same tiles and converters),
and both with output noise on every read (``out_noise`` 0.04 of each tile's full
scale, lightning's convention ``/√tiles``: ``tiles+out``, ``lightning+out``). Step
``k`` draws its training noise (and output noise) from seed ``k`` in the training
domain; lightning draws from torch's global generator, seeded 0 per column.

    python benchmarks/tiles_speed.py [--steps 20] [--threads 2]
        [--json benchmarks/results/tiles_speed.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time

import torch
from torch import nn

import snnvar
from snnvar import Variation
from snnvar.hardware import Restrictions, from_aihwkit, output_reads, restrict

ROWS, SIGMA, BATCH, OUT_NOISE = 256, 0.1, 128, 0.04


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512),
                         nn.ReLU(), nn.Linear(512, 10))  # fmt: skip


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10),
    )  # fmt: skip


def lightning_config(out_noise: float = 0.0):
    from aihwkit_lightning.simulator.configs import (
        TorchInferenceRPUConfig,
        WeightNoiseInjectionType,
    )

    cfg = TorchInferenceRPUConfig()
    cfg.mapping.max_input_size = ROWS
    cfg.forward.inp_res, cfg.forward.out_res, cfg.forward.out_bound = 254, 254, 10.0
    ir = cfg.pre_post.input_range
    ir.enable, ir.learn_input_range, ir.init_from_data, ir.init_value = True, False, 0, 3.0
    cfg.modifier.noise_type = WeightNoiseInjectionType.ADD_NORMAL
    cfg.modifier.std_dev = SIGMA
    cfg.forward.out_noise = out_noise
    return cfg


def chip_config() -> Restrictions:
    """The chip of :func:`lightning_config`, read by ``from_aihwkit`` (its training
    noise, which from_aihwkit refuses, is snnvar's Variation here)."""
    from aihwkit_lightning.simulator.configs import WeightNoiseInjectionType

    cfg = lightning_config()
    cfg.modifier.noise_type = WeightNoiseInjectionType.NONE
    cfg.modifier.std_dev = 0.0
    return from_aihwkit(cfg)


def step_ms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise: Variation | None,
            steps: int) -> float:  # fmt: skip
    """Milliseconds per SGD step (after three warm-up steps); step ``k`` seeded ``k``."""
    torch.manual_seed(0)  # lightning's noise
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()

    def step(k: int) -> None:
        opt.zero_grad()
        with output_reads(model, seed=k, domain="train"):  # a no-op without output noise
            if noise is None:
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
            else:
                with noise.applied(model, seed=k, domain="train"):
                    loss = nn.functional.cross_entropy(model(x), y)
                    loss.backward()
        opt.step()

    for k in range(3):
        step(k)
    t0 = time.perf_counter()
    for k in range(steps):
        step(3 + k)
    return 1000 * (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from aihwkit_lightning.nn.conversion import convert_to_analog

    noise = Variation(SIGMA, relative_to="max")
    hw = chip_config()
    noisy = Restrictions(**{**hw.to_dict(), "output_noise": OUT_NOISE, "noise_over_tiles": True})
    rows = {}
    for name, make in (("mlp 784-512-512-10", mlp), ("cnn 2 conv", cnn)):
        torch.manual_seed(0)
        x, y = torch.rand(BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))
        base = make()
        times = {}
        # interleaved rounds, the median of three: the machine's load moves all alike
        for _ in range(3):
            for label, model, perturb in (
                ("plain", copy.deepcopy(base), None),
                ("sgd+noise", copy.deepcopy(base), noise),
                ("restricted", restrict(base, Restrictions(**{
                    **hw.to_dict(), "array_rows": None})), noise),
                ("tiles", restrict(base, hw), noise),
                ("lightning", convert_to_analog(copy.deepcopy(base), lightning_config()), None),
                ("tiles+out", restrict(base, noisy), noise),
                ("lightning+out", convert_to_analog(copy.deepcopy(base),
                                                    lightning_config(OUT_NOISE)), None),
            ):  # fmt: skip
                times.setdefault(label, []).append(step_ms(model, x, y, perturb, args.steps))
        med = {k: sorted(v)[1] for k, v in times.items()}
        rows[name] = {
            "ms": {k: round(v, 1) for k, v in med.items()},
            "tiles / sgd+noise": round(med["tiles"] / med["sgd+noise"], 2),
            "tiles / restricted": round(med["tiles"] / med["restricted"], 2),
            "tiles / lightning": round(med["tiles"] / med["lightning"], 2),
            "tiles+out / sgd+noise": round(med["tiles+out"] / med["sgd+noise"], 2),
            "tiles+out / lightning+out": round(med["tiles+out"] / med["lightning+out"], 2),
        }
        print(name, json.dumps(rows[name]))
    record = {
        "benchmark": "tiles_speed", "snnvar": snnvar.__version__, "torch": torch.__version__,
        "threads": args.threads, "steps": args.steps, "batch": BATCH, "rows": ROWS,
        "sigma": SIGMA, "chip": hw.label(), "noisy chip": noisy.label(),
        "seeds": "step k: seed k, training domain (snnvar); torch.manual_seed(0) per column",
        "cpu": platform.processor() or platform.machine(),
        "results": rows,
    }  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
