// The packed-weights cache: at most kEntries entries, least recently used evicted first;
// a mutex guards the list, entries are immutable once stored (readers hold a shared_ptr).
#include "weight_cache.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>

#include "parallel.h"

namespace fusedrnn {

namespace {

constexpr size_t kEntries = 48;  // e.g. 4 layers x 2 directions x 3 layouts x 2 models

struct Cache {
  std::mutex m;
  std::list<std::shared_ptr<const PackedWeights>> lru;  // most recent first
  std::atomic<unsigned long long> stores{0};
};

Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

// The entry for (w, layout), whatever w's bytes are now, or null.
std::shared_ptr<const PackedWeights> find_entry(const void* w, size_t bytes, const PackedLayout& layout) {
  Cache& C = cache();
  std::shared_ptr<const PackedWeights> e;
  {
    std::lock_guard<std::mutex> lock(C.m);
    for (auto it = C.lru.begin(); it != C.lru.end(); ++it)
      if ((*it)->key == w && (*it)->layout == layout && (*it)->raw_bytes == bytes) {
        e = *it;
        C.lru.splice(C.lru.begin(), C.lru, it);
        break;
      }
  }
  return e;
}

// Whether a[0..bytes) equals b[0..bytes). From kSplitBytes on, in pieces over the team (one
// phase of the block scheduler, for its team placement): the comparison reads both arrays at the
// memory's rate, which a second thread nearly doubles, while that thread would only wait for the
// time loop's region. One-step LSTM layer calls (T=1 B=1, weights not frozen, 2 threads, Intel
// Xeon): I=H=256 (W_hh 1 MB) 78 -> 43-45 us, I=H=512 430-439 -> 304-313 us; W3's training forward
// and backward even (1.010x; 0.995x and 1.008x).
bool same_bytes(const char* a, const char* b, size_t bytes, int threads) {
  constexpr size_t kSplitBytes = size_t(512) << 10, kPiece = size_t(64) << 10;
  if (threads <= 1 || bytes < kSplitBytes) return std::memcmp(a, b, bytes) == 0;
  const int pieces = static_cast<int>((bytes + kPiece - 1) / kPiece);
  std::atomic<bool> differ{false};
  BlockScheduler sched;
  sched.reset(1, pieces, threads);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    const int part = sched.start();
    sched.run(0, part, [&](int i) {
      const size_t from = static_cast<size_t>(i) * kPiece, n = bytes - from < kPiece ? bytes - from : kPiece;
      if (!differ.load(std::memory_order_relaxed) && std::memcmp(a + from, b + from, n) != 0)
        differ.store(true, std::memory_order_relaxed);
    });
    sched.finish();
  }
  return !differ.load(std::memory_order_relaxed);
}

}  // namespace

std::shared_ptr<const PackedWeights> find_packed(const void* w, size_t bytes, const PackedLayout& layout,
                                                 int threads) {
  std::shared_ptr<const PackedWeights> e = find_entry(w, bytes, layout);
  if (e && same_bytes(e->raw.data(), static_cast<const char*>(w), bytes, threads)) return e;
  return nullptr;
}

std::shared_ptr<const PackedWeights> find_frozen(const void* w, size_t bytes, const PackedLayout& layout,
                                                 unsigned long long frozen_id) {
  std::shared_ptr<const PackedWeights> e = find_entry(w, bytes, layout);
  if (e && frozen_id != 0 && e->frozen_id == frozen_id) return e;
  return nullptr;
}

std::shared_ptr<PackedWeights> new_packed(const void* w, size_t bytes, const PackedLayout& layout, size_t packed_bytes,
                                          unsigned long long frozen_id) {
  auto e = std::make_shared<PackedWeights>();
  e->key = w;
  e->layout = layout;
  e->frozen_id = frozen_id;
  e->raw_bytes = bytes;
  e->raw = PoolBuffer<char>(bytes);
  e->packed = PoolBuffer<char>(packed_bytes);
  return e;
}

void store_packed(std::shared_ptr<const PackedWeights> entry) {
  Cache& C = cache();
  std::lock_guard<std::mutex> lock(C.m);
  for (auto it = C.lru.begin(); it != C.lru.end(); ++it)
    if ((*it)->key == entry->key && (*it)->layout == entry->layout) {
      C.lru.erase(it);
      break;
    }
  C.lru.push_front(std::move(entry));
  if (C.lru.size() > kEntries) C.lru.pop_back();
  C.stores.fetch_add(1, std::memory_order_relaxed);
}

int forget_packed_within(const void* begin, const void* end) {
  const auto lo = reinterpret_cast<uintptr_t>(begin), hi = reinterpret_cast<uintptr_t>(end);
  Cache& C = cache();
  std::lock_guard<std::mutex> lock(C.m);
  const size_t before = C.lru.size();
  C.lru.remove_if([&](const std::shared_ptr<const PackedWeights>& e) {
    const auto key = reinterpret_cast<uintptr_t>(e->key);
    return key >= lo && key < hi;
  });
  return static_cast<int>(before - C.lru.size());
}

unsigned long long packed_stores() { return cache().stores.load(std::memory_order_relaxed); }

int packed_entries() {
  Cache& C = cache();
  std::lock_guard<std::mutex> lock(C.m);
  return static_cast<int>(C.lru.size());
}

void cache_lock() { cache().m.lock(); }
void cache_unlock() { cache().m.unlock(); }

void clear_packed() {
  Cache& C = cache();
  std::lock_guard<std::mutex> lock(C.m);
  C.lru.clear();
}

}  // namespace fusedrnn
