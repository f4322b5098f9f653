// The packed-weights cache: at most kEntries entries, least recently used evicted first;
// a mutex guards the list, entries are immutable once stored (readers hold a shared_ptr).
#include "weight_cache.h"

#include <cstring>
#include <list>
#include <mutex>

namespace fusedrnn {

namespace {

constexpr size_t kEntries = 48;  // e.g. 4 layers x 2 directions x 3 layouts x 2 models

struct Cache {
  std::mutex m;
  std::list<std::shared_ptr<const PackedWeights>> lru;  // most recent first
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

}  // namespace

std::shared_ptr<const PackedWeights> find_packed(const void* w, size_t bytes, const PackedLayout& layout) {
  std::shared_ptr<const PackedWeights> e = find_entry(w, bytes, layout);
  if (e && std::memcmp(e->raw.data(), w, bytes) == 0) return e;
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
}

void clear_packed() {
  Cache& C = cache();
  std::lock_guard<std::mutex> lock(C.m);
  C.lru.clear();
}

}  // namespace fusedrnn
