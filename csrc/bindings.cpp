// The only file that knows Python: converts arguments, releases the GIL around kernels,
// and turns C++ errors into Python exceptions.
#include <pybind11/pybind11.h>

#include "build_info.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "fusedrnn's compiled kernels";
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
        return d;
      },
      "Compiler, flags, OpenMP version (yyyymm, 0 if none), run-time SIMD path and default thread count.");
}
