"""fusedrnn: fused CPU kernels for RNN, LSTM and GRU (forward, BPTT, fused gradient clipping)."""

__version__ = "0.1.0"
