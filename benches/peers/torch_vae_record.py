#!/usr/bin/env python3
"""The 2-unit-latent row of torch_vae.py, recording what the run drew, for vae_replay.

For each seed it trains 784-400-2 (ReLU) exactly as torch_vae.py does (the same seeds, the same
draws in the same order) and writes into --out:

- init{seed}.safetensors, final{seed}.safetensors: the parameters before and after training,
  with the crate's tensor names (the decoder's PyTorch index 2 renamed 1);
- order{seed}.u32: every epoch's permutation of the 8,000 training rows (little-endian u32);
- noise{seed}.f32: every batch's 100 x 2 draws of epsilon, row-major (little-endian f32).

Then `cargo run --release -p autoencoders-tools --example vae_replay -- --dir OUT --seed S`
takes the same steps with the crate's gradient and Adam; `vae --epochs 0 --init FILE` evaluates
either file. Needs torch, numpy and safetensors.

Run: python3 benches/peers/torch_vae_record.py --seeds 0 6 --out /tmp/replay
"""

import argparse
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_vae  # noqa: E402


def state(model):
    return {
        k.replace("decoder.2.", "decoder.1."): v.detach().clone().contiguous()
        for k, v in model.state_dict().items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=[0, 3], metavar=("FIRST", "END"))
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    train = torch_vae.read_images("train-images-idx3-ubyte.gz")[:8000]
    test = torch_vae.read_images("test-images-idx3-ubyte.gz")[:2000]
    draw = torch.randn
    for seed in range(*args.seeds):
        torch.manual_seed(1000 + seed)
        model = torch_vae.Vae((400,), 2, "relu")
        save_file(state(model), os.path.join(args.out, f"init{seed}.safetensors"))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        orders, noises = [], []
        for _ in range(30):
            order = torch.randperm(8000)
            orders.append(order.numpy().astype(np.uint32))
            for b in range(0, 8000, 100):
                x = train[order[b : b + 100]]
                # The draw torch_vae.py's objective makes, made here and handed to it.
                eps = draw(100, 1, 2)
                noises.append(eps.numpy().reshape(100, 2).astype(np.float32))
                torch.randn = lambda *a, **k: eps
                try:
                    optimizer.zero_grad()
                    torch_vae.objective(model, x, 1).backward()
                    optimizer.step()
                finally:
                    torch.randn = draw
        np.concatenate(orders).tofile(os.path.join(args.out, f"order{seed}.u32"))
        np.concatenate(noises).tofile(os.path.join(args.out, f"noise{seed}.f32"))
        save_file(state(model), os.path.join(args.out, f"final{seed}.safetensors"))
        elbo = torch_vae.elbo(model, test).mean().item()
        print(f"seed={seed} torch elbo={elbo:.4f}", flush=True)


if __name__ == "__main__":
    main()
