"""The recurrent cells fusedrnn computes: the single source of gate counts and gate order.

Shape letters used throughout the package (and repeated in csrc/ headers):
  T time steps, B batch, I input features, H hidden units, G gates per cell,
  L layers, D directions (1 or 2).
Gate blocks follow PyTorch: rows [k*H, (k+1)*H) of weight_ih / weight_hh belong to gate k.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CellSpec:
    """One kind of recurrent cell.

    name:        identifier used by every backend ("lstm", "gru", ...)
    gates:       G, the number of gate blocks stacked in weight_ih / weight_hh
    gate_names:  PyTorch's gate order, one name per block
    has_cell_state: True for LSTM (state is (h, c)), False otherwise (state is h)
    """

    name: str
    gates: int
    gate_names: tuple[str, ...]
    has_cell_state: bool = False


# h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
RNN_TANH = CellSpec("rnn_tanh", 1, ("h",))
# h' = relu(W_ih x + b_ih + W_hh h + b_hh)
RNN_RELU = CellSpec("rnn_relu", 1, ("h",))
# i, f, o = sigmoid(.), g = tanh(.);  c' = f*c + i*g;  h' = o*tanh(c')
LSTM = CellSpec("lstm", 4, ("i", "f", "g", "o"), has_cell_state=True)
# PyTorch's GRU (ONNX linear_before_reset=1, Keras reset_after=True):
#   r, z = sigmoid(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
#   n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (1 - z) * n + z * h
GRU = CellSpec("gru", 3, ("r", "z", "n"))
# The reset-before GRU (ONNX linear_before_reset=0, Keras reset_after=False), same weights:
#   n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
GRU_RESET_BEFORE = CellSpec("gru_reset_before", 3, ("r", "z", "n"))

CELLS: dict[str, CellSpec] = {
    cell.name: cell for cell in (RNN_TANH, RNN_RELU, LSTM, GRU, GRU_RESET_BEFORE)
}
