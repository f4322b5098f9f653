// Packed recurrent weights reused across calls: a small cache keyed on the weight array's
// address and layout, holding a copy of the array's bytes so that a change of its contents
// (an optimizer step in place) is always seen: a hit needs the bytes to compare equal.
#pragma once
#include <cstddef>
#include <memory>

#include "pool.h"

namespace fusedrnn {

// Which packing of a [G*H][K] weight array: the panel kind, element size and shape.
struct PackedLayout {
  int panels, elem_size, G;
  long long H, K;
  bool operator==(const PackedLayout& o) const {
    return panels == o.panels && elem_size == o.elem_size && G == o.G && H == o.H && K == o.K;
  }
};

struct PackedWeights {
  const void* key;          // the raw array's address
  PackedLayout layout;
  unsigned long long frozen_id;  // the frozen snapshot it was packed for (ForwardArgs::frozen_id), or 0
  size_t raw_bytes;         // the raw array's size
  PoolBuffer<char> raw;     // the raw array's bytes when packed
  PoolBuffer<char> packed;  // the packed copy
};

// The cached entry for (w, layout) when its bytes still equal w[0..bytes), else null; the bytes
// are compared on up to `threads` threads.
std::shared_ptr<const PackedWeights> find_packed(const void* w, size_t bytes, const PackedLayout& layout,
                                                 int threads = 1);
// The entry packed for (w, layout) under frozen_id (non-zero), without comparing bytes, else
// null: the id names a frozen snapshot, whose arrays never change while it lives; an address
// reused after it dies comes with another id.
std::shared_ptr<const PackedWeights> find_frozen(const void* w, size_t bytes, const PackedLayout& layout,
                                                 unsigned long long frozen_id);
// A new entry with room for a copy of w's bytes and for `packed_bytes`; the caller fills
// `raw` and `packed` (in its parallel region) and then publishes it with store_packed.
std::shared_ptr<PackedWeights> new_packed(const void* w, size_t bytes, const PackedLayout& layout, size_t packed_bytes,
                                          unsigned long long frozen_id = 0);
void store_packed(std::shared_ptr<const PackedWeights> entry);
// Drops every entry (tests, memory release).
void clear_packed();
// Drops the entries of arrays within [begin, end): the memory of arrays that died (an entry would
// otherwise hold its copies until 48 newer ones pushed it out). Returns how many.
int forget_packed_within(const void* begin, const void* end);
// How many entries were stored so far: a call during which it changed stored one.
unsigned long long packed_stores();
// How many entries the cache holds now.
int packed_entries();
// The cache's lock, taken around fork() (fork_guard.cpp) so that no child inherits it held. Taken
// before the pool's: dropping an entry under it gives its buffers back to the pool.
void cache_lock();
void cache_unlock();

}  // namespace fusedrnn
