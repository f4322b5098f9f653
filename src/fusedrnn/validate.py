"""Every argument check, done once before any backend runs; messages name the argument.

Each function returns a C-contiguous array of the right dtype (a copy when the caller's
array is not already one), so backends can trust their inputs and the caller's arrays
are never modified.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from .cells import CellSpec

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_MAX_DIM = 2**31 - 1     # the C++ kernels index with 32-bit sizes per dimension
_MAX_ELEMENTS = 2**62    # any array the network allocates stays well inside int64


def as_array(value, name: str) -> np.ndarray:
    """NumPy view of an array-like (NumPy array, torch CPU tensor, nested lists)."""
    if value is None:
        raise TypeError(f"{name}: expected an array, got None")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor: no autograd graph, CPU memory
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: expected an array, got {type(value).__name__} ({error})") from None


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive int, got {value!r}")
    if not 0 < value <= _MAX_DIM:
        raise ValueError(f"{name}: expected a positive int below 2**31, got {value}")
    return int(value)


def probability(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number in [0, 1), got {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value}")
    return float(value)


def float_dtype(dtype, name: str = "dtype") -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: expected float32 or float64, got {dtype!r}") from None
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {resolved}")
    return resolved


def sequence(x, *, input_size: int, batch_first: bool) -> np.ndarray:
    """x: (T, B, I), or (B, T, I) with batch_first; float32 or float64; returned time-major and contiguous."""
    layout = "(B, T, I)" if batch_first else "(T, B, I)"
    x = as_array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x: expected 3 dimensions {layout}, got shape {x.shape}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"x: expected dtype float32 or float64, got {x.dtype}")
    if x.shape[2] != input_size:
        raise ValueError(f"x: expected {layout} with I = input_size = {input_size}, got shape {x.shape}")
    batch = x.shape[0] if batch_first else x.shape[1]
    if batch == 0:
        raise ValueError(f"x: expected a batch of at least one sequence {layout}, got shape {x.shape}")
    if max(x.shape) > _MAX_DIM:
        raise ValueError(f"x: every dimension must be below 2**31, got shape {x.shape}")
    if batch_first:
        x = x.transpose(1, 0, 2)
    return np.ascontiguousarray(x)


def sizes_fit(T: int, B: int, widths: list[int]) -> None:
    """Refuse sizes whose buffers would overflow 64-bit element counts."""
    width = max(widths)
    if T * B * width >= _MAX_ELEMENTS:
        raise ValueError(f"x: sizes T={T}, B={B} with width {width} overflow the largest supported buffer")


def state(value, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An initial state (or its gradient): zeros when None, else exactly `shape` and `dtype`."""
    if value is None:
        return np.zeros(shape, dtype)
    array = as_array(value, name)
    if array.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} (L*D, B, H), got {array.shape}")
    if array.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the dtype of x), got {array.dtype}")
    return np.ascontiguousarray(array)


def lengths(value, *, T: int, B: int) -> np.ndarray:
    """Valid steps per sequence: int (B,), 0 <= lengths[b] <= T; T for every row when None."""
    if value is None:
        return full_lengths(T, B)
    array = as_array(value, "lengths")
    if array.ndim != 1 or array.shape[0] != B:
        raise ValueError(f"lengths: expected shape ({B},) (one length per sequence), got {array.shape}")
    if array.dtype.kind not in "iu":  # signed or unsigned integers (bool is kind "b")
        raise TypeError(f"lengths: expected an integer array, got dtype {array.dtype}")
    if B:
        # array.min() and max() take 0.7 us each at any size: a small batch's list is quicker.
        values = array.tolist() if B <= 64 else (array.min(), array.max())
        low, high = min(values), max(values)
        if low < 0 or high > T:
            raise ValueError(f"lengths: expected values in [0, T={T}], got min {low} and max {high}")
    return np.ascontiguousarray(array, dtype=np.int64)


@functools.lru_cache(maxsize=64)
def full_lengths(T: int, B: int) -> np.ndarray:
    """T for each of B sequences, made once per shape (0.4 us a call otherwise): read-only, shared by every
    call of that shape."""
    every = np.full(B, T, np.int64)
    every.flags.writeable = False
    return every


def output_gradient(value, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """dy: exactly the shape and dtype of the output it is the gradient of."""
    array = as_array(value, name)
    if array.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} (the shape of y), got {array.shape}")
    if array.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the dtype of y), got {array.dtype}")
    return np.ascontiguousarray(array)


def params(
    values: dict, shapes: dict[str, tuple[int, ...]], *, strict: bool = True, label: str = "{}"
) -> dict[str, np.ndarray]:
    """Parameter arrays by name: every expected name present with its exact shape, floating point.
    label: how messages name a parameter (``label.format(name)``)."""
    if not isinstance(values, dict):
        raise TypeError(f"params: expected a dict of name -> array, got {type(values).__name__}")
    missing = [name for name in shapes if name not in values]
    unexpected = [name for name in values if name not in shapes]
    if missing or (strict and unexpected):
        raise ValueError(f"params: missing {missing}, unexpected {unexpected}; expected {list(shapes)}")
    checked = {}
    for name, shape in shapes.items():
        where = label.format(name)
        array = as_array(values[name], where)
        if array.shape != shape:
            raise ValueError(f"{where}: expected shape {shape}, got {array.shape}")
        if array.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{where}: expected dtype float32 or float64, got {array.dtype}")
        checked[name] = array
    return checked


def model_params(values, shapes: dict[str, tuple[int, ...]]) -> None:
    """A model's own ``params`` before it is used: every expected name and no other, each a float
    NumPy array of its shape. The dict is the user's to write into, so every call checks it (a few
    attribute reads per parameter) rather than let a wrong array reach a backend."""
    if type(values) is dict and len(values) == len(shapes):
        for name, shape in shapes.items():
            array = values.get(name)
            if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype not in FLOAT_DTYPES:
                break
        else:
            return
    _model_params_error(values, shapes)


def _model_params_error(values, shapes: dict[str, tuple[int, ...]]) -> None:
    """Raises for the first problem found; returns for a dict subclass with nothing wrong. The names,
    shapes and dtypes are load_state_dict's checks; only that each is a NumPy array is the model's own
    (the model uses the arrays as they are, where load_state_dict converts)."""
    if not isinstance(values, dict):
        raise TypeError(f"params: expected a dict of name -> NumPy array, got {type(values).__name__}")
    for name, array in values.items():
        if name in shapes and not isinstance(array, np.ndarray):
            raise TypeError(f"params[{name!r}]: expected a NumPy array, got {type(array).__name__} "
                            "(load_state_dict converts tensors and lists)")
    params(values, shapes, label="params[{!r}]")


def cell_state(cell: CellSpec, state, name: str):
    """Split a user state into (h, c): LSTM takes a pair (h, c), other cells a single h."""
    if state is None:
        return None, None
    if cell.has_cell_state:
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"{name}: expected a pair (h, c) for an LSTM, got {type(state).__name__}")
        return state[0], state[1]
    if isinstance(state, (tuple, list)):
        raise TypeError(f"{name}: expected a single array h for {cell.name}, got a {type(state).__name__}")
    return state, None
