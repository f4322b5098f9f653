// The buffer pool: free blocks by size under a mutex; a request takes the smallest cached
// block that fits and wastes at most a quarter of it, else allocates. The cache is capped
// (oldest blocks go back to the OS first), so it holds at most a few calls' worth of memory.
#include "pool.h"

#include <cstdint>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <new>

namespace fusedrnn {

namespace {

constexpr size_t kAlign = 64;
constexpr size_t kHeader = 64;                   // holds the block size; keeps the payload aligned
constexpr size_t kCap = size_t(512) << 20;       // cached bytes kept at most
constexpr size_t kSmall = kPooledFromBytes;

struct Pool {
  std::mutex m;
  std::multimap<size_t, char*> by_size;          // free blocks: size -> base
  std::list<char*> age;                          // free blocks, oldest first
  size_t cached = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: NumPy may free arrays after static destructors ran
  return *p;
}

size_t& size_of(char* base) { return *reinterpret_cast<size_t*>(base); }

void erase_free(Pool& P, char* base) {
  auto range = P.by_size.equal_range(size_of(base));
  for (auto it = range.first; it != range.second; ++it)
    if (it->second == base) {
      P.by_size.erase(it);
      break;
    }
  P.age.remove(base);
  P.cached -= size_of(base);
}

}  // namespace

void* pool_alloc(size_t bytes) {
  const size_t need = ((bytes + kAlign - 1) / kAlign) * kAlign + kHeader;
  if (need >= kSmall) {
    Pool& P = pool();
    std::lock_guard<std::mutex> lock(P.m);
    auto it = P.by_size.lower_bound(need);
    if (it != P.by_size.end() && it->first - need <= it->first / 4) {
      char* base = it->second;
      erase_free(P, base);
      return base + kHeader;
    }
  }
  char* base = static_cast<char*>(std::aligned_alloc(kAlign, need));
  if (!base) throw std::bad_alloc();
  size_of(base) = need;
  return base + kHeader;
}

void pool_free(void* p) {
  if (!p) return;
  char* base = static_cast<char*>(p) - kHeader;
  const size_t size = size_of(base);
  if (size < kSmall || size > kCap) {
    std::free(base);
    return;
  }
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.m);
  while (P.cached + size > kCap && !P.age.empty()) {
    char* old = P.age.front();
    erase_free(P, old);
    std::free(old);
  }
  P.by_size.emplace(size, base);
  P.age.push_back(base);
  P.cached += size;
}

size_t pool_trim() {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.m);
  const size_t freed = P.cached;
  for (char* base : P.age) std::free(base);
  P.age.clear();
  P.by_size.clear();
  P.cached = 0;
  return freed;
}

void pool_lock() { pool().m.lock(); }
void pool_unlock() { pool().m.unlock(); }

size_t pool_cached_bytes() {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.m);
  return P.cached;
}

}  // namespace fusedrnn
