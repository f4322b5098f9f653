// ISA-neutral includes of the kernel translation units, included before any target pragma
// so that standard-library code is always compiled for the baseline CPU.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "build_info.h"
#include "dims.h"
#include "gemm.h"
#include "kernels.h"
#include "parallel.h"
#include "pool.h"
#include "scratch.h"
#include "weight_cache.h"
