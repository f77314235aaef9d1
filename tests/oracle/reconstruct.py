"""Independent NumPy implementation of a one-layer autoencoder's forward pass.

Used by tests/persistence.rs to check that what the crate saves means the same thing to
another implementation, and that weights saved elsewhere load into the crate.

    reconstruct.py evaluate MODEL.safetensors N OUT.safetensors
        Reads a model saved by the crate (architecture from its metadata), reconstructs the
        first N bundled test digits in float64, writes them as tensor `reconstructions`.
    reconstruct.py export DTYPE TIED SEED OUT_MODEL.safetensors N OUT_RECON.safetensors
        Writes a 784→32 sigmoid/sigmoid state dict with random weights the way PyTorch users
        do (`safetensors.*.save_file(state_dict)`, no metadata), and the reconstructions of the
        first N test digits computed from it.
"""

import gzip
import json
import pathlib
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_digits(n):
    raw = gzip.open(ROOT / "data/mnist/test-images-idx3-ubyte.gz").read()
    assert int.from_bytes(raw[:4], "big") == 0x803
    count, rows, cols = (int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
    images = np.frombuffer(raw[16:], dtype=np.uint8).reshape(count, rows * cols)
    return images[:n].astype(np.float64) / 255.0


ACTIVATIONS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}


def forward(tensors, encoder_activation, decoder_activation, x):
    w = tensors["encoder.weight"].astype(np.float64)
    b = tensors["encoder.bias"].astype(np.float64)
    h = ACTIVATIONS[encoder_activation](x @ w.T + b)
    v = tensors["decoder.weight"].astype(np.float64) if "decoder.weight" in tensors else w.T
    c = tensors["decoder.bias"].astype(np.float64)
    return ACTIVATIONS[decoder_activation](h @ v.T + c)


def evaluate(model_path, n, out_path):
    with safe_open(model_path, framework="np") as f:
        # The one metadata key holds the envelope of the file's records; the model's is
        # `model`. Files written before the envelope held the model record there itself.
        meta = json.loads(f.metadata()["autoencoders"])
        if "format" in meta:
            meta = meta["model"]
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    x = test_digits(n)
    x_hat = forward(tensors, meta["encoder_activation"], meta["decoder_activation"], x)
    save_file({"reconstructions": x_hat}, out_path)


def export(dtype, tied, seed, model_path, n, out_path):
    rng = np.random.default_rng(seed)
    limit = np.sqrt(6.0 / (784 + 32))
    state = {
        "encoder.weight": rng.uniform(-limit, limit, (32, 784)).astype(dtype),
        "encoder.bias": rng.uniform(-0.1, 0.1, 32).astype(dtype),
        "decoder.bias": rng.uniform(-0.1, 0.1, 784).astype(dtype),
    }
    if not tied:
        state["decoder.weight"] = rng.uniform(-limit, limit, (784, 32)).astype(dtype)
    save_file(state, model_path)
    x_hat = forward(state, "sigmoid", "sigmoid", test_digits(n))
    save_file({"reconstructions": x_hat}, out_path)


if __name__ == "__main__":
    if sys.argv[1] == "evaluate":
        evaluate(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "export":
        export(sys.argv[2], sys.argv[3] == "tied", int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), sys.argv[7])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
