// Recycles large buffers across calls (kernel workspaces and the arrays handed to NumPy).
// Fresh pages from the OS cost a page fault and a clear each: measured on W3 (LSTM T=50 B=32
// H=256, 2 threads) the training forward took 33 ms with fresh pages against 17 ms with reused ones.
#pragma once
#include <cstddef>
#include <memory>

namespace fusedrnn {

// Blocks smaller than this are not cached: malloc is cheap for them.
constexpr size_t kPooledFromBytes = size_t(64) << 10;

// 64-byte-aligned block of at least `bytes` bytes (contents undefined); never null.
void* pool_alloc(size_t bytes);
// Returns a block from pool_alloc; it is kept for reuse while the pool holds under its cap.
void pool_free(void* p);
// Frees every cached block; returns the bytes given back.
size_t pool_trim();
// Bytes held in cached (free) blocks.
size_t pool_cached_bytes();
// The pool's lock, taken around fork() (fork_guard.cpp) so that no child inherits it held.
void pool_lock();
void pool_unlock();

struct PoolDeleter {
  void operator()(void* p) const { pool_free(p); }
};

// n elements of T from the pool (uninitialised), freed back to it.
template <typename T>
class PoolBuffer {
 public:
  PoolBuffer() = default;
  explicit PoolBuffer(size_t n) : p_(n ? static_cast<T*>(pool_alloc(n * sizeof(T))) : nullptr) {}
  T* data() const { return p_.get(); }
  T& operator[](size_t i) const { return p_.get()[i]; }

 private:
  std::unique_ptr<T, PoolDeleter> p_;
};

}  // namespace fusedrnn
