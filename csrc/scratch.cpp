// The per-thread arenas behind Scratch (scratch.h).
#include "scratch.h"

#include <cstdlib>

namespace fusedrnn {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kArenaBytes = size_t(256) << 10;  // a small call's arrays several times over

struct Arena {
  char* base = nullptr;  // allocated on the thread's first request, kept until the thread ends
  size_t top = 0;        // bytes in use from base on
  size_t live = 0;       // blocks taken and not yet given back
  ~Arena() { std::free(base); }
};

Arena& arena() {
  thread_local Arena a;
  return a;
}

size_t rounded(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

}  // namespace

void* scratch_take(size_t bytes) {
  Arena& a = arena();
  if (a.base == nullptr) {
    a.base = static_cast<char*>(std::aligned_alloc(kAlign, kArenaBytes));
    if (a.base == nullptr) return nullptr;
  }
  const size_t need = rounded(bytes);
  if (need > kArenaBytes - a.top) return nullptr;
  void* p = a.base + a.top;
  a.top += need;
  ++a.live;
  return p;
}

void scratch_give(void* p, size_t bytes) {
  Arena& a = arena();
  --a.live;
  if (a.live == 0)
    a.top = 0;
  else if (static_cast<char*>(p) + rounded(bytes) == a.base + a.top)  // the last one taken
    a.top = static_cast<size_t>(static_cast<char*>(p) - a.base);
}

}  // namespace fusedrnn
