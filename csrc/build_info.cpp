// Describes this build and detects the CPU's SIMD level at run time (no -march=native needed).
#include "build_info.h"

#include "kernels.h"
#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#ifndef FUSEDRNN_CXX_FLAGS
#define FUSEDRNN_CXX_FLAGS ""
#endif

namespace fusedrnn {

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
#else
  return false;
#endif
}

long l2_cache_bytes() {
  static const long bytes = [] {
#if defined(_SC_LEVEL2_CACHE_SIZE)
    const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (v > 0) return v;
#endif
    return 512L * 1024;
  }();
  return bytes;
}

bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = [] {
    __builtin_cpu_init();
    return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  }();
  return has;
#else
  return false;
#endif
}

static std::string compiler_name() {
#if defined(__clang__)
  return "Clang " __clang_version__;
#elif defined(__GNUC__)
  return "GCC " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#elif defined(_MSC_VER)
  return "MSVC " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

BuildInfo build_info() {
  BuildInfo info;
  info.compiler = compiler_name();
  info.flags = FUSEDRNN_CXX_FLAGS;
#ifdef _OPENMP
  info.openmp_version = _OPENMP;
  info.max_threads = default_threads();
#else
  info.openmp_version = 0;
  info.max_threads = 1;
#endif
  info.simd = simd_path();
  info.l2_bytes = l2_cache_bytes();
  return info;
}

}  // namespace fusedrnn
