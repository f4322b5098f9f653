// The only file that knows Python: checks what C++ relies on (dtype, contiguity, shapes,
// lengths range), allocates the outputs, releases the GIL around the kernels, and raises
// ValueError "[op] arg: expected ..., got ..." on misuse.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <sstream>
#include <utility>
#include <string>
#include <vector>

#include "build_info.h"
#include "cpu_load.h"
#include "fork_guard.h"
#include "gemm.h"
#include "kernels.h"
#include "parallel.h"
#include "pool.h"
#include "team_placement.h"
#include "weight_cache.h"

namespace py = pybind11;
using namespace pybind11::literals;
using fusedrnn::CellKind;

namespace {

std::string shape_str(const std::vector<py::ssize_t>& s) {
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << (s.size() == 1 ? ",)" : ")");
  return o.str();
}

[[noreturn]] void fail(const std::string& op, const char* arg, const std::string& expected, const std::string& got) {
  throw py::value_error("[" + op + "] " + arg + ": expected " + expected + ", got " + got);
}

// The data pointer of `a` after checking dtype T exactly, C order and shape (-1: any size).
// No heap allocation unless it fails: a one-step call checks eight arrays.
template <typename T>
const T* checked(const std::string& op, const char* arg, const py::array& a,
                 std::initializer_list<py::ssize_t> shape) {
  static PyObject* const want = py::dtype::of<T>().release().ptr();  // NumPy's descriptor of T, kept
  if (a.dtype().ptr() != want)
    fail(op, arg, std::string("dtype ") + py::str(want).cast<std::string>(), py::str(a.dtype()).cast<std::string>());
  if (!(a.flags() & py::array::c_style)) fail(op, arg, "a C-contiguous array", "a non-contiguous one");
  bool ok = static_cast<size_t>(a.ndim()) == shape.size();
  py::ssize_t i = 0;
  for (const py::ssize_t s : shape) ok = ok && (s < 0 || s == a.shape(i++));
  if (!ok)
    fail(op, arg, "shape " + shape_str(std::vector<py::ssize_t>(shape)),
         shape_str(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim())));
  return static_cast<const T*>(a.data());
}

template <typename T>
T* out(py::array_t<T>& a) {
  return a.mutable_data();
}

// A C-ordered array whose memory comes from (and returns to) the buffer pool: repeated calls
// then reuse pages instead of faulting fresh ones in (pool.h). A small one is NumPy's own, which
// keeps small blocks for reuse and needs no capsule (a T=0 call of the LSTM binding, B=1 H=64: 1.25 -> 0.94 us).
template <typename T>
py::array_t<T> pooled(std::vector<py::ssize_t> shape) {
  size_t n = 1;
  for (py::ssize_t s : shape) n *= static_cast<size_t>(s);
  if (n * sizeof(T) < fusedrnn::kPooledFromBytes) return py::array_t<T>(std::move(shape));
  void* p = fusedrnn::pool_alloc(n * sizeof(T));
  py::capsule owner(p, [](void* q) { fusedrnn::pool_free(q); });
  return py::array_t<T>(shape, static_cast<T*>(p), owner);
}

int resolve_threads(const std::string& op, int threads) {
  if (threads < 0) fail(op, "threads", "an int >= 0 (0: the default)", std::to_string(threads));
  // One in a forked child whose OpenMP workers are gone (fork_guard.h); fewer when other tasks hold
  // cores now (cpu_load.h): a waiting team member costs more than it adds.
  const int n = fusedrnn::threads_available(
      fusedrnn::team_after_fork(threads == 0 ? fusedrnn::default_threads() : threads));
  fusedrnn::note_team(n);
  return n;
}

void check_lengths(const std::string& op, const int64_t* len, py::ssize_t B, py::ssize_t T) {
  for (py::ssize_t b = 0; b < B; ++b)
    if (len[b] < 0 || len[b] > T)
      fail(op, "lengths", "values in [0, " + std::to_string(T) + "]",
           std::to_string(len[b]) + " at index " + std::to_string(b));
}

// After a call that stored packed weights (weight_cache.h), hands its weight arrays to
// fusedrnn._core.packing_watcher, which drops their packings when they die; never on a call that
// found its packings cached.
void watch_stored(unsigned long long stores_before, const py::array& w_ih, const py::array& w_hh) {
  if (fusedrnn::packed_stores() == stores_before) return;
  const py::object watcher = py::module_::import("fusedrnn._core").attr("packing_watcher");
  if (!watcher.is_none()) watcher(w_ih, w_hh);
}

// Units per row of the saved extras: tile order pads H (kernels.h), but the reset-before GRU's
// r*h feeds a product and keeps [T, B, H].
template <CellKind kCell>
py::ssize_t saved_extra_units(py::ssize_t H) {
  return kCell == CellKind::kGruResetBefore ? H : fusedrnn::padded_units(H);
}

template <CellKind kCell, typename T>
py::tuple layer_forward(const std::string& op, const py::array& x, const py::array& h0, const py::object& c0,
                        const py::array& w_ih, const py::array& w_hh, const py::array& b_ih,
                        const py::array& b_hh, const py::array& lengths, bool reverse, bool train, int threads,
                        unsigned long long frozen_id) {
  constexpr bool kLstm = kCell == CellKind::kLstm;
  const int G = fusedrnn::cell_gates(kCell), E = fusedrnn::cell_extra(kCell);
  if (x.ndim() != 3) fail(op, "x", "3 dimensions (T, B, I)", std::to_string(x.ndim()) + " dimensions");
  if (h0.ndim() != 2) fail(op, "h0", "2 dimensions (B, H)", std::to_string(h0.ndim()) + " dimensions");
  const py::ssize_t Tn = x.shape(0), B = x.shape(1), I = x.shape(2), H = h0.shape(1);
  const auto d = fusedrnn::LayerDims::make(Tn, B, I, H, G);
  fusedrnn::ForwardArgs<T> a{};
  a.d = d;
  a.x = checked<T>(op, "x", x, {Tn, B, I});
  a.h0 = checked<T>(op, "h0", h0, {B, H});
  if (kLstm) {
    if (c0.is_none()) fail(op, "c0", "an array for LSTM", "None");
    a.c0 = checked<T>(op, "c0", c0.cast<py::array>(), {B, H});
  } else if (!c0.is_none()) {
    fail(op, "c0", "None (no cell state)", "an array");
  }
  a.w_ih = checked<T>(op, "w_ih", w_ih, {G * H, I});
  a.w_hh = checked<T>(op, "w_hh", w_hh, {G * H, H});
  a.b_ih = checked<T>(op, "b_ih", b_ih, {G * H});
  a.b_hh = checked<T>(op, "b_hh", b_hh, {G * H});
  a.lengths = checked<int64_t>(op, "lengths", lengths, {B});
  check_lengths(op, a.lengths, B, Tn);
  a.reverse = reverse;
  a.threads = resolve_threads(op, threads);
  // Frozen weights skip the check of their cached packings: only arrays nothing can write to.
  if (frozen_id != 0)
    for (const auto& [name, w] : {std::pair<const char*, const py::array*>{"w_ih", &w_ih}, {"w_hh", &w_hh}})
      if (w->writeable() || !w->owndata())
        fail(op, name, "a read-only array owning its data (frozen_id)",
             w->writeable() ? "a writeable array" : "a view of another array");
  a.frozen_id = frozen_id;

  py::array_t<T> y = pooled<T>({Tn, B, H}), h_n = pooled<T>({B, H});
  py::object c_n = py::none(), saved = py::none();
  py::array_t<T> c_arr, gates, hprev, extra;
  a.y = out(y);
  a.h_n = out(h_n);
  if (kLstm) {
    c_arr = pooled<T>({B, H});
    a.c_n = out(c_arr);
    c_n = c_arr;
  }
  if (train) {
    gates = pooled<T>({Tn, B, static_cast<py::ssize_t>(G) * fusedrnn::padded_units(H)});
    hprev = pooled<T>({Tn, B, H});
    extra = pooled<T>({Tn, B, static_cast<py::ssize_t>(E), saved_extra_units<kCell>(H)});
    a.gates = out(gates);
    a.hprev = out(hprev);
    a.extra = out(extra);
    saved = py::make_tuple(gates, hprev, extra);
  }
  const unsigned long long stores = fusedrnn::packed_stores();
  {
    py::gil_scoped_release nogil;
    fusedrnn::layer_forward<T>(kCell, a);
  }
  watch_stored(stores, w_ih, w_hh);
  return py::make_tuple(y, h_n, c_n, saved);
}

template <CellKind kCell, typename T>
py::tuple layer_backward(const std::string& op, const py::array& x, const py::array& w_ih, const py::array& w_hh,
                         const py::array& lengths, bool reverse, const py::array& gates, const py::array& hprev,
                         const py::array& extra, const py::array& dy, const py::array& dh_n,
                         const py::object& dc_n, double clip_gate, double clip_value, bool bias, int threads,
                         bool need_dx) {
  constexpr bool kLstm = kCell == CellKind::kLstm;
  const int G = fusedrnn::cell_gates(kCell), E = fusedrnn::cell_extra(kCell);
  if (x.ndim() != 3) fail(op, "x", "3 dimensions (T, B, I)", std::to_string(x.ndim()) + " dimensions");
  if (w_hh.ndim() != 2) fail(op, "w_hh", "2 dimensions (G*H, H)", std::to_string(w_hh.ndim()) + " dimensions");
  const py::ssize_t Tn = x.shape(0), B = x.shape(1), I = x.shape(2), H = w_hh.shape(1);
  const auto d = fusedrnn::LayerDims::make(Tn, B, I, H, G);
  if (!(clip_gate >= 0)) fail(op, "clip_gate", "a number >= 0", std::to_string(clip_gate));
  if (!(clip_value >= 0)) fail(op, "clip_value", "a number >= 0", std::to_string(clip_value));
  fusedrnn::BackwardArgs<T> a{};
  a.d = d;
  a.x = checked<T>(op, "x", x, {Tn, B, I});
  a.w_ih = checked<T>(op, "w_ih", w_ih, {G * H, I});
  a.w_hh = checked<T>(op, "w_hh", w_hh, {G * H, H});
  a.lengths = checked<int64_t>(op, "lengths", lengths, {B});
  check_lengths(op, a.lengths, B, Tn);
  a.reverse = reverse;
  a.gates = checked<T>(op, "gates", gates, {Tn, B, G * fusedrnn::padded_units(H)});
  a.hprev = checked<T>(op, "hprev", hprev, {Tn, B, H});
  a.extra = checked<T>(op, "extra", extra, {Tn, B, E, saved_extra_units<kCell>(H)});
  a.dy = checked<T>(op, "dy", dy, {Tn, B, H});
  a.dh_n = checked<T>(op, "dh_n", dh_n, {B, H});
  if (kLstm) {
    if (dc_n.is_none()) fail(op, "dc_n", "an array for LSTM", "None");
    a.dc_n = checked<T>(op, "dc_n", dc_n.cast<py::array>(), {B, H});
  } else if (!dc_n.is_none()) {
    fail(op, "dc_n", "None (no cell state)", "an array");
  }
  a.clip_gate = static_cast<T>(clip_gate);
  a.clip_value = static_cast<T>(clip_value);
  a.bias = bias;
  a.threads = resolve_threads(op, threads);

  py::array_t<T> dh0 = pooled<T>({B, H}), dw_ih = pooled<T>({G * H, I}), dw_hh = pooled<T>({G * H, H}),
                 db_ih = pooled<T>({G * H}), db_hh = pooled<T>({G * H});
  py::object dx = py::none();
  py::array_t<T> dx_arr;
  if (need_dx) {
    dx_arr = pooled<T>({Tn, B, I});
    a.dx = out(dx_arr);
    dx = dx_arr;
  }
  py::object dc0 = py::none();
  py::array_t<T> dc_arr;
  if (kLstm) {
    dc_arr = pooled<T>({B, H});
    a.dc0 = out(dc_arr);
    dc0 = dc_arr;
  }
  a.dh0 = out(dh0);
  a.dw_ih = out(dw_ih);
  a.dw_hh = out(dw_hh);
  a.db_ih = out(db_ih);
  a.db_hh = out(db_hh);
  double sqnorm = 0.0;
  a.sqnorm = &sqnorm;
  const unsigned long long stores = fusedrnn::packed_stores();
  {
    py::gil_scoped_release nogil;
    fusedrnn::layer_backward<T>(kCell, a);
  }
  watch_stored(stores, w_ih, w_hh);
  return py::make_tuple(dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, sqnorm);
}

template <CellKind kCell, typename T>
void def_cell(py::module_& m, const std::string& name, const std::string& suffix) {
  const std::string fwd = name + "_forward_" + suffix, bwd = name + "_backward_" + suffix;
  m.def(
      fwd.c_str(),
      [fwd](const py::array& x, const py::array& h0, const py::object& c0, const py::array& w_ih,
            const py::array& w_hh, const py::array& b_ih, const py::array& b_hh, const py::array& lengths,
            bool reverse, bool train, int threads, unsigned long long frozen_id) {
        return layer_forward<kCell, T>(fwd, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, train, threads,
                                       frozen_id);
      },
      "x"_a, "h0"_a, "c0"_a, "w_ih"_a, "w_hh"_a, "b_ih"_a, "b_hh"_a, "lengths"_a, "reverse"_a, "train"_a,
      "threads"_a = 0, "frozen_id"_a = 0,
      "One layer and direction forward -> (y [T,B,H], h_n [B,H], c_n [B,H] or None, "
      "saved (gates [T,B,G*Hp], hprev [T,B,H], extra [T,B,E,Hp]; gates and extra in the kernels' tile "
      "order, Hp = H rounded up to 16) or None at inference). frozen_id: 0, or the id of the frozen snapshot "
      "whose read-only arrays w_ih and w_hh are (they never change while it lives): packings cached under "
      "that id are used unchecked.");
  m.def(
      bwd.c_str(),
      [bwd](const py::array& x, const py::array& w_ih, const py::array& w_hh, const py::array& lengths,
            bool reverse, const py::array& gates, const py::array& hprev, const py::array& extra,
            const py::array& dy, const py::array& dh_n, const py::object& dc_n, double clip_gate,
            double clip_value, bool bias, int threads, bool need_dx) {
        return layer_backward<kCell, T>(bwd, x, w_ih, w_hh, lengths, reverse, gates, hprev, extra, dy, dh_n, dc_n,
                                        clip_gate, clip_value, bias, threads, need_dx);
      },
      "x"_a, "w_ih"_a, "w_hh"_a, "lengths"_a, "reverse"_a, "gates"_a, "hprev"_a, "extra"_a, "dy"_a, "dh_n"_a,
      "dc_n"_a, "clip_gate"_a, "clip_value"_a, "bias"_a, "threads"_a = 0, "need_dx"_a = true,
      "BPTT of one layer and direction -> (dx or None when not need_dx, dh0, dc0 or None, dw_ih, dw_hh, db_ih, "
      "db_hh, sqnorm).");
}

template <typename T>
void def_dtype(py::module_& m, const std::string& suffix) {
  def_cell<CellKind::kRnnTanh, T>(m, "rnn_tanh", suffix);
  def_cell<CellKind::kRnnRelu, T>(m, "rnn_relu", suffix);
  def_cell<CellKind::kLstm, T>(m, "lstm", suffix);
  def_cell<CellKind::kGru, T>(m, "gru", suffix);
  def_cell<CellKind::kGruResetBefore, T>(m, "gru_reset_before", suffix);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fusedrnn's compiled kernels";
  fusedrnn::blas_init();
  m.def(
      "build_info",
      [] {
        const fusedrnn::BuildInfo info = fusedrnn::build_info();
        py::dict d;
        d["compiler"] = info.compiler;
        d["flags"] = info.flags;
        d["openmp"] = info.openmp_version;
        d["simd"] = info.simd;
        d["max_threads"] = info.max_threads;
        d["l2_bytes"] = info.l2_bytes;
        d["cpu_simd"] = fusedrnn::simd_paths().front();
        d["blas"] = "scipy-openblas32 (single-threaded calls on blocks the OpenMP team claims)";
        d["blas_kernels"] = fusedrnn::blas_kernels();
        return d;
      },
      "Compiler, flags, OpenMP version (yyyymm, 0 if none), SIMD path in use, CPU's SIMD level, default thread count, "
      "L2 bytes per core, the BLAS and the kernels it chose.");
  m.def("set_num_threads", [](int n) {
    if (n < 1) fail("set_num_threads", "n", "an int >= 1", std::to_string(n));
    fusedrnn::set_default_threads(n);
  }, "n"_a, "Threads every later call uses (its OpenMP team and the BLAS products).");
  m.def("get_num_threads", &fusedrnn::default_threads, "Threads a call uses.");
  m.def("set_load_adaptive", &fusedrnn::set_load_adaptive, "on"_a,
        "Whether a call uses fewer threads while other tasks hold cores (default on; results never change).");
  m.def("load_adaptive", &fusedrnn::load_adaptive, "Whether calls size their team from the current load.");
  m.def("threads_available", [](int n) { return fusedrnn::threads_available(fusedrnn::team_after_fork(n)); }, "n"_a,
        "The team a call asking for n threads would get now (fewer while other processes hold cores, one on the "
        "thread that forked this process after it ran a team).");
  m.def("current_cpu", &fusedrnn::current_cpu, "The CPU the calling thread runs on (-1 where the system cannot tell).");
  m.def("leave_caller_cpu", &fusedrnn::leave_caller_cpu, "caller_cpu"_a, "team"_a,
        "What each worker of a call's team does first: off caller_cpu if it runs there and the process may use "
        "team CPUs; the CPU it moved to, or -1 (exposed for the tests).");
  m.def("set_input_tiles_ahead_always", &fusedrnn::set_input_tiles_ahead_always, "on"_a,
        "Test hook: forwards compute their next step's input tiles ahead after every step, not only in waits "
        "(results never change).");
  m.def("input_tiles_ahead_always", &fusedrnn::input_tiles_ahead_always,
        "Whether set_input_tiles_ahead_always is on.");
  m.def("simd_path", &fusedrnn::simd_path, "The SIMD path the kernels take: 'avx512', 'avx2+fma' or 'scalar'.");
  m.def("simd_paths", &fusedrnn::simd_paths, "The SIMD paths this CPU runs, widest first.");
  m.def("set_simd_path", &fusedrnn::set_simd_path, "path"_a,
        "Force a path this CPU runs ('scalar', the portable one; 'avx2+fma'; 'avx512'), or 'auto' (the widest).");
  m.def(
      "release_memory",
      [] {
        fusedrnn::clear_packed();
        return fusedrnn::pool_trim();
      },
      "Drop the packed-weights cache and give cached buffers back to the OS; returns the bytes freed.");
  m.def("cached_bytes", &fusedrnn::pool_cached_bytes, "Bytes of free buffers the pool holds for reuse.");
  m.def(
      "forget_packed_within",
      [](uintptr_t begin, uintptr_t end) {
        return fusedrnn::forget_packed_within(reinterpret_cast<const void*>(begin), reinterpret_cast<const void*>(end));
      },
      "begin"_a, "end"_a, "Drop the packed weights of arrays at addresses in [begin, end); returns how many.");
  m.def("packed_entries", &fusedrnn::packed_entries, "How many packed weights the cache holds.");
  m.def("packed_stores", &fusedrnn::packed_stores, "How many packed weights the cache has stored so far.");
  m.def("hold_fork_locks_for", &fusedrnn::hold_fork_locks_for, "seconds"_a, py::call_guard<py::gil_scoped_release>(),
        "Test hook: holds the buffer pool's and the weight cache's locks for `seconds`, the GIL released.");
  m.attr("packing_watcher") = py::none();  // set by the cpp backend: called with a call's weights after it packed them
  def_dtype<float>(m, "f32");
  def_dtype<double>(m, "f64");
}
