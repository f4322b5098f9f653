"""Typed surface of fusedrnn._core, the compiled kernels (csrc/bindings.cpp).

Per cell in (rnn_tanh, rnn_relu, lstm, gru, gru_reset_before) and dtype suffix (f32, f64):
  <cell>_forward_<dt>(x [T,B,I], h0 [B,H], c0 [B,H] | None, w_ih [G*H,I], w_hh [G*H,H],
                      b_ih [G*H], b_hh [G*H], lengths [B] int64, reverse, train, threads=0, frozen_id=0)
      -> (y [T,B,H], h_n [B,H], c_n [B,H] | None, (gates [T,B,G*Hp], hprev [T,B,H], extra [T,B,E,Hp]) | None)
     (gates and extra in the kernels' tile order, Hp = H rounded up to 16; the reset-before GRU's extra
     is [T,B,1,H]: csrc/kernels.h)
  <cell>_backward_<dt>(x, w_ih, w_hh, lengths, reverse, gates, hprev, extra, dy [T,B,H], dh_n [B,H],
                       dc_n [B,H] | None, clip_gate, clip_value, bias, threads=0, need_dx=True)
      -> (dx | None (need_dx False: not computed), dh0, dc0 | None, dw_ih, dw_hh, db_ih, db_hh, sqnorm)
threads=0 uses get_num_threads(). Returned arrays come from a buffer pool reused across calls;
packed W_hh (and W_ih where the input projection runs on the tiles) is cached per array and repacked when its
bytes change, and dropped when the array owning their memory dies (the cpp backend's packing_watcher;
release_memory() drops both); with a non-zero frozen_id (a frozen snapshot's id; w_ih and w_hh
read-only arrays owning their data, else ValueError) a packing cached under that id is used without comparing
bytes. Arrays must have exactly the dtype, C order and shapes; otherwise ValueError "[op] arg: expected ..., got ...".
"""

from typing import Any

import numpy as np

_Arr = np.ndarray
_Fwd = tuple[_Arr, _Arr, _Arr | None, tuple[_Arr, _Arr, _Arr] | None]
_Bwd = tuple[_Arr, _Arr, _Arr | None, _Arr, _Arr, _Arr, _Arr, float]

def build_info() -> dict[str, Any]: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def set_load_adaptive(on: bool) -> None: ...
def load_adaptive() -> bool: ...
def threads_available(n: int) -> int: ...  # the team a call asking for n would get now
def current_cpu() -> int: ...  # the calling thread's CPU, -1 where unknown
def leave_caller_cpu(caller_cpu: int, team: int) -> int: ...  # a team worker's first step: CPU moved to, or -1
def simd_path() -> str: ...          # "avx512", "avx2+fma" or "scalar": the path calls take now
def simd_paths() -> list[str]: ...   # the paths this CPU runs, widest first
def set_input_tiles_ahead_always(on: bool) -> None: ...  # test hook
def input_tiles_ahead_always() -> bool: ...
def set_simd_path(path: str) -> None: ...  # one of simd_paths(), or "auto" (the widest)
def release_memory() -> int: ...  # drop packed-weight cache and pooled buffers; bytes freed
def cached_bytes() -> int: ...    # bytes of free buffers pooled for reuse
def forget_packed_within(begin: int, end: int) -> int: ...  # drop packings of arrays at [begin, end); how many
def packed_entries() -> int: ...  # packings the cache holds
def packed_stores() -> int: ...   # packings stored so far
def hold_fork_locks_for(seconds: float) -> None: ...  # test hook: the locks fork() waits for, held
packing_watcher: Any  # None, or called (w_ih, w_hh) after a call that stored packings (the cpp backend's)

def _forward(x: _Arr, h0: _Arr, c0: _Arr | None, w_ih: _Arr, w_hh: _Arr, b_ih: _Arr, b_hh: _Arr,
             lengths: _Arr, reverse: bool, train: bool, threads: int = 0, frozen_id: int = 0) -> _Fwd: ...
def _backward(x: _Arr, w_ih: _Arr, w_hh: _Arr, lengths: _Arr, reverse: bool, gates: _Arr, hprev: _Arr,
              extra: _Arr, dy: _Arr, dh_n: _Arr, dc_n: _Arr | None, clip_gate: float, clip_value: float,
              bias: bool, threads: int = 0, need_dx: bool = True) -> _Bwd: ...

rnn_tanh_forward_f32 = _forward
rnn_tanh_forward_f64 = _forward
rnn_relu_forward_f32 = _forward
rnn_relu_forward_f64 = _forward
lstm_forward_f32 = _forward
lstm_forward_f64 = _forward
gru_forward_f32 = _forward
gru_forward_f64 = _forward
gru_reset_before_forward_f32 = _forward
gru_reset_before_forward_f64 = _forward
rnn_tanh_backward_f32 = _backward
rnn_tanh_backward_f64 = _backward
rnn_relu_backward_f32 = _backward
rnn_relu_backward_f64 = _backward
lstm_backward_f32 = _backward
lstm_backward_f64 = _backward
gru_backward_f32 = _backward
gru_backward_f64 = _backward
gru_reset_before_backward_f32 = _backward
gru_reset_before_backward_f64 = _backward
