"""Character-level LSTM language model: truncated BPTT over chunks, a NumPy softmax head, Adam, sampling.

    python examples/char_lstm.py --steps 400 --hidden 128            # the Zen of Python
    python examples/char_lstm.py --text textwrap --steps 2000        # a stdlib module's source

Shapes: T steps per chunk, B parallel streams of text, V characters (one-hot LSTM input), H hidden units.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import importlib
import inspect
import io
import math
import time

import numpy as np

import fusedrnn as fr
from adam import Adam   # examples/adam.py (the script's folder is on sys.path)


def load_text(name: str) -> str:
    """'zen': the Zen of Python (rot13-encoded in the stdlib's this.py); else a stdlib module's source."""
    if name == "zen":
        with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the Zen
            import this
        return codecs.decode(this.s, "rot13")
    return inspect.getsource(importlib.import_module(name))


def one_hot(indices: np.ndarray, V: int) -> np.ndarray:
    """indices [...] int -> [..., V] float32."""
    return np.eye(V, dtype=np.float32)[indices]


# --- the softmax head, by hand: logits = y W^T + b ----------------------------------------
def head_forward(W: np.ndarray, b: np.ndarray, y: np.ndarray) -> np.ndarray:
    """W [V, H], b [V], y [..., H] -> logits [..., V]."""
    return y @ W.T + b


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))  # shifted: exp never overflows
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """logits [T, B, V], targets [T, B] -> (mean loss in nats, dlogits [T, B, V])."""
    p = softmax(logits)
    picked = np.take_along_axis(p, targets[..., None], axis=-1)[..., 0]
    loss = float(-np.log(picked + 1e-12).mean())
    dlogits = p
    np.put_along_axis(dlogits, targets[..., None], picked[..., None] - 1.0, axis=-1)  # p - onehot
    return loss, dlogits / targets.size


def head_backward(W: np.ndarray, y: np.ndarray, dlogits: np.ndarray):
    """-> (dy [T, B, H], dW [V, H], db [V])."""
    rows, H = dlogits.reshape(-1, W.shape[0]), y.shape[-1]
    return dlogits @ W, rows.T @ y.reshape(-1, H), rows.sum(axis=0)

def sample(lstm, W, b, vocab: str, prime: str, length: int, temperature: float, rng) -> str:
    """Stateful inference, B = 1: read the prime in one call, then one character per call."""
    index = {ch: i for i, ch in enumerate(vocab)}
    x = one_hot(np.array([index[ch] for ch in prime]), len(vocab))[:, None, :]   # [T, 1, V]
    y, state = lstm(x)
    out = []
    for _ in range(length):
        p = softmax(head_forward(W, b, y[-1, 0]).astype(np.float64) / temperature)
        i = int(rng.choice(len(vocab), p=p / p.sum()))
        out.append(vocab[i])
        y, state = lstm(one_hot(np.array([i]), len(vocab))[:, None, :], state)   # the state carries on
    return "".join(out)


def train(text: str, *, steps: int, hidden: int, seq_len: int, batch: int, lr: float, clip: float,
          seed: int, log_every: int, sample_length: int, temperature: float, prime: str | None) -> dict:
    vocab = "".join(sorted(set(text)))
    prime = prime or text[0]
    if not set(prime) <= set(vocab):   # checked before training, not after
        raise ValueError(f"prime: expected characters of the training text, got {prime!r}")
    V, T, B = len(vocab), seq_len, batch
    data = np.array([vocab.index(ch) for ch in text])
    rng = np.random.default_rng(seed)
    lstm = fr.LSTM(V, hidden, seed=seed)
    head = {"head.weight": rng.uniform(-1, 1, (V, hidden)).astype(np.float32) / np.float32(math.sqrt(hidden)),
            "head.bias": np.zeros(V, np.float32)}
    adam = Adam({**lstm.params, **head}, lr)   # the same arrays: Adam updates the model in place
    print(f"backend {fr.backends.current()}, {len(text)} characters, V = {V}, {lstm}, "
          f"uniform guess = {math.log(V):.3f} nats")

    # B streams read the text (circular) from B evenly spaced offsets, T characters per chunk.
    starts = np.arange(B) * (len(data) // B)
    state, losses, t0 = None, [], time.perf_counter()
    for step in range(steps):
        positions = (starts[None, :] + step * T + np.arange(T)[:, None]) % len(data)   # [T, B]
        x, targets = one_hot(data[positions], V), data[(positions + 1) % len(data)]
        # Truncated BPTT: the last chunk's final state starts this one; no gradient flows back into it.
        y, state, tape = lstm.forward(x, state, train=True)
        loss, dlogits = cross_entropy(head_forward(head["head.weight"], head["head.bias"], y), targets)
        dy, dW, db = head_backward(head["head.weight"], y, dlogits)
        # Clipping fused into BPTT; the one-hot input needs no gradient.
        grads = lstm.backward(tape, dy, clip=fr.Clip(max_norm=clip), input_grad=False)
        adam.step({**grads.params, "head.weight": dW, "head.bias": db})
        losses.append(loss)
        if (step + 1) % log_every == 0 or step + 1 == steps:
            recent = np.mean(losses[-log_every:])
            print(f"step {step + 1:5d}  loss {recent:.3f}  grad norm {grads.norm:7.3f}  "
                  f"{time.perf_counter() - t0:6.1f} s")

    text_sample = sample(lstm, head["head.weight"], head["head.bias"], vocab, prime, sample_length, temperature, rng)
    print(f"--- sample (temperature {temperature}) ---\n{prime}{text_sample}")
    return {"losses": losses, "sample": text_sample, "vocab": vocab}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default="zen", help="'zen' or the name of a stdlib module to read (e.g. textwrap)")
    parser.add_argument("--steps", type=int, default=400, help="training chunks")
    parser.add_argument("--hidden", type=int, default=128, help="H, LSTM hidden units")
    parser.add_argument("--seq-len", type=int, default=32, help="T, characters per chunk (BPTT truncation)")
    parser.add_argument("--batch", type=int, default=16, help="B, parallel streams")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--clip", type=float, default=1.0, help="max_norm of the LSTM gradients")
    parser.add_argument("--backend", choices=fr.backends.ORDER, help="default: the fastest available")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=0, help="default: steps // 10")
    parser.add_argument("--sample-length", type=int, default=400)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--prime", help="text to start the sample from (default: the text's first character)")
    args = parser.parse_args(argv)
    with fr.use_backend(args.backend) if args.backend else contextlib.nullcontext():
        return train(load_text(args.text), steps=args.steps, hidden=args.hidden, seq_len=args.seq_len,
                     batch=args.batch, lr=args.lr, clip=args.clip, seed=args.seed,
                     log_every=args.log_every or max(1, args.steps // 10), sample_length=args.sample_length,
                     temperature=args.temperature, prime=args.prime)


if __name__ == "__main__":
    main()
