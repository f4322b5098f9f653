"""GRU one-step-ahead forecaster of a noisy multi-sine series, trained on windows of variable length.

    python examples/forecast_gru.py --steps 300 --hidden 32

Each window is a zero-padded sequence with its own length (fusedrnn's ``lengths``): the final
state of row b is its state after its last real step, and a linear head reads the forecast
from it. The test MSE is compared with the naive forecast "next value = last value".
Shapes: T steps (longest window), B windows per batch, H hidden units; one input feature.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time

import numpy as np

import fusedrnn as fr
from adam import Adam   # examples/adam.py (the script's folder is on sys.path)

PERIODS = (17.0, 29.5, 53.0)      # steps; incommensurate, so the sum never quite repeats
AMPLITUDES = (1.0, 0.6, 0.4)


def make_series(n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """[n] float32: a sum of sines with random phases plus Gaussian noise of std ``noise``."""
    t = np.arange(n)
    phases = rng.uniform(0, 2 * np.pi, len(PERIODS))
    clean = sum(a * np.sin(2 * np.pi * t / p + ph) for a, p, ph in zip(AMPLITUDES, PERIODS, phases))
    return (clean + noise * rng.standard_normal(n)).astype(np.float32)


def windows(series: np.ndarray, starts: np.ndarray, lengths: np.ndarray, T: int):
    """-> x [T, B, 1] (row b holds series[starts[b]:][:lengths[b]], zeros after), target [B], last value [B]."""
    steps = np.arange(T)[:, None]
    x = np.where(steps < lengths, series[starts + np.minimum(steps, lengths - 1)], 0).astype(np.float32)
    return x[:, :, None], series[starts + lengths], series[starts + lengths - 1]

def predict(gru, head, x, lengths, *, train: bool = False):
    """-> (forecast [B], h_n [B, H], tape or None). The head reads the last layer's final state."""
    _, h_n, tape = gru.forward(x, lengths=lengths, train=train)
    return h_n[-1] @ head["head.weight"] + head["head.bias"], h_n[-1], tape


def train(*, steps: int, hidden: int, window: int, min_window: int, batch: int, lr: float, clip: float,
          noise: float, length: int, seed: int, log_every: int) -> dict:
    rng = np.random.default_rng(seed)
    series = make_series(length, noise, rng)
    split = int(0.8 * length)                         # train on the past, test on the future
    T, B = window, batch
    gru = fr.GRU(1, hidden, seed=seed)
    head = {"head.weight": rng.uniform(-1, 1, hidden).astype(np.float32) / np.float32(math.sqrt(hidden)),
            "head.bias": np.zeros((), np.float32)}
    adam = Adam({**gru.params, **head}, lr)
    print(f"backend {fr.backends.current()}, series of {length} (train {split}, test {length - split}), "
          f"noise std {noise}, {gru}, windows of {min_window}..{T} steps")

    losses, t0 = [], time.perf_counter()
    for step in range(steps):
        lengths = rng.integers(min_window, T + 1, B)
        starts = rng.integers(0, split - lengths)      # the target too stays in the training part
        x, target, _ = windows(series, starts, lengths, T)
        forecast, h_last, tape = predict(gru, head, x, lengths, train=True)
        error = forecast - target
        losses.append(float(np.mean(error**2)))
        dforecast = 2 * error / B
        # The loss reads only the final state: dy is zero and the gradient enters through dstate.
        dstate = np.zeros((1, B, hidden), np.float32)
        dstate[-1] = np.outer(dforecast, head["head.weight"])
        grads = gru.backward(tape, np.zeros((T, B, hidden), np.float32), dstate, clip=fr.Clip(max_norm=clip),
                             input_grad=False)  # the series itself needs no gradient
        adam.step({**grads.params, "head.weight": h_last.T @ dforecast, "head.bias": dforecast.sum()})
        if (step + 1) % log_every == 0 or step + 1 == steps:
            print(f"step {step + 1:5d}  train MSE {np.mean(losses[-log_every:]):.4f}  "
                  f"grad norm {grads.norm:6.3f}  {time.perf_counter() - t0:6.1f} s")

    # Every test window that fits, each with its own length, in one inference batch.
    starts = np.arange(split, length - T)
    lengths = np.random.default_rng(seed + 1).integers(min_window, T + 1, len(starts))
    x, target, last = windows(series, starts, lengths, T)
    forecast, _, _ = predict(gru, head, x, lengths)
    gru_mse, naive_mse = float(np.mean((forecast - target) ** 2)), float(np.mean((last - target) ** 2))
    print(f"test MSE over {len(starts)} windows: GRU {gru_mse:.4f}, naive last value {naive_mse:.4f} "
          f"(ratio {gru_mse / naive_mse:.2f}; the noise alone gives {noise**2:.4f})")
    return {"losses": losses, "test_mse": gru_mse, "naive_mse": naive_mse}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training batches")
    parser.add_argument("--hidden", type=int, default=32, help="H, GRU hidden units")
    parser.add_argument("--window", type=int, default=48, help="T, the longest window")
    parser.add_argument("--min-window", type=int, default=8, help="the shortest window")
    parser.add_argument("--batch", type=int, default=32, help="B, windows per batch")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--clip", type=float, default=1.0, help="max_norm of the GRU gradients")
    parser.add_argument("--noise", type=float, default=0.1, help="std of the noise added to the series")
    parser.add_argument("--length", type=int, default=4000, help="length of the whole series")
    parser.add_argument("--backend", choices=fr.backends.ORDER, help="default: the fastest available")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=0, help="default: steps // 10")
    args = parser.parse_args(argv)
    if not 1 <= args.min_window <= args.window or args.length < 10 * args.window:
        parser.error(f"expected 1 <= --min-window <= --window and --length >= 10 * --window, got "
                     f"{args.min_window}, {args.window}, {args.length}")
    with fr.use_backend(args.backend) if args.backend else contextlib.nullcontext():
        return train(steps=args.steps, hidden=args.hidden, window=args.window, min_window=args.min_window,
                     batch=args.batch, lr=args.lr, clip=args.clip, noise=args.noise, length=args.length,
                     seed=args.seed, log_every=args.log_every or max(1, args.steps // 10))


if __name__ == "__main__":
    main()
