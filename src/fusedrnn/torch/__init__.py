"""fusedrnn.torch: LSTM, GRU and RNN as drop-in torch.nn modules whose forward and backward run fusedrnn's kernels.

    from fusedrnn.torch import LSTM
    lstm = LSTM(64, 128, num_layers=2, batch_first=True)     # torch.nn.LSTM's arguments and parameters
    output, (h_n, c_n) = lstm(x)                              # tensors or PackedSequence; autograd works
"""

try:
    import torch  # noqa: F401 -- an optional dependency: only this subpackage needs it
except ImportError as error:
    raise ImportError(
        "fusedrnn.torch needs PyTorch, which is not installed: pip install torch "
        "(or pip install 'fusedrnn[torch]')"
    ) from error

from .autograd import RecurrentFunction
from .modules import GRU, LSTM, RNN, RecurrentBase

__all__ = ["GRU", "LSTM", "RNN", "RecurrentBase", "RecurrentFunction"]
