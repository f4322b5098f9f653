"""fusedrnn: fused CPU kernels for RNN, LSTM and GRU (forward, BPTT, fused gradient clipping).

    import fusedrnn as fr
    lstm = fr.LSTM(input_size=64, hidden_size=128, num_layers=2, bidirectional=True)
    y, (h, c) = lstm(x)                                   # inference
    y, state, tape = lstm.forward(x, lengths=lens, train=True)
    grads = lstm.backward(tape, dy, clip=fr.Clip(max_norm=1.0))
    frozen = lstm.frozen(); y, (h, c) = frozen(x)        # inference on weights that no longer change
"""

from . import backends
from .backends import BackendUnavailable, release_memory, use_backend
from .cells import CellSpec
from .check import check
from .frozen import FrozenNetwork
from .layers import GRU, LSTM, RNN, RecurrentNetwork
from .threads import get_num_threads, set_num_threads
from .types import Clip, Grads

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "CellSpec",
    "Clip",
    "FrozenNetwork",
    "GRU",
    "Grads",
    "LSTM",
    "RNN",
    "RecurrentNetwork",
    "backends",
    "check",
    "release_memory",
    "get_num_threads",
    "set_num_threads",
    "use_backend",
    "__version__",
]
