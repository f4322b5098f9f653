// What this build of the extension is: compiler, flags, OpenMP, and the SIMD level of this CPU.
#pragma once
#include <string>

namespace fusedrnn {

struct BuildInfo {
  std::string compiler;      // e.g. "GCC 12.2.0"
  std::string flags;         // compile flags of the kernels
  int openmp_version;        // _OPENMP (yyyymm), 0 when built without OpenMP
  std::string simd;          // SIMD path the kernels take now: "avx512", "avx2+fma" or "scalar" (kernels.h)
  int max_threads;           // threads a call uses by default
  long l2_bytes;             // l2_cache_bytes(), shown by `info`; no kernel choice depends on it
};

BuildInfo build_info();

// True when this CPU runs the AVX2+FMA kernels (checked once, at run time).
bool cpu_has_avx2_fma();
// The L2 cache of one core in bytes (sysconf; 512 KB where the system does not say).
long l2_cache_bytes();

// True when this CPU runs the AVX-512 kernels: AVX-512 F and DQ, with AVX2+FMA.
bool cpu_has_avx512();

}  // namespace fusedrnn
