// A call's small working arrays from an arena of the thread's own instead of malloc: a one-step
// call of a small layer made some fifteen small allocations (malloc and free were about a fifth
// of a T=1 B=1 H=64 call's time). Each thread (the caller and every OpenMP member) has one
// arena, taken and given back in stack order; a request that does not fit, or one given back out
// of order, costs no correctness: the first goes to the heap, and the second's room comes back
// once every array of the arena is given back.
#pragma once
#include <cstddef>
#include <memory>
#include <utility>

#include "pool.h"

namespace fusedrnn {

// `bytes` (64-byte aligned) from the calling thread's arena, or nullptr where it does not fit.
void* scratch_take(size_t bytes);
// Gives back a block from scratch_take of the same thread.
void scratch_give(void* p, size_t bytes);

// n value-initialised elements of a trivially copyable T: std::vector's constructor and the
// part of its interface the kernels use, without its heap allocation.
template <typename T>
class Scratch {
 public:
  explicit Scratch(size_t n, T value = T()) : n_(n) {
    if (n == 0) return;
    p_ = static_cast<T*>(scratch_take(n * sizeof(T)));
    if (p_ == nullptr) {
      heap_.reset(new T[n]);
      p_ = heap_.get();
    }
    for (size_t i = 0; i < n; ++i) p_[i] = value;
  }
  ~Scratch() {
    if (p_ != nullptr && !heap_) scratch_give(p_, n_ * sizeof(T));
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  T* data() const { return p_; }
  size_t size() const { return n_; }
  T& operator[](size_t i) const { return p_[i]; }
  T* begin() const { return p_; }
  T* end() const { return p_ + n_; }
  // Exchanges the two arrays (both of this thread: the arena's accounting allows any order).
  void swap(Scratch& other) {
    std::swap(p_, other.p_);
    std::swap(n_, other.n_);
    heap_.swap(other.heap_);
  }

 private:
  T* p_ = nullptr;
  size_t n_;
  std::unique_ptr<T[]> heap_;
};

// n uninitialised elements of T, a call's workspace: from the thread's arena where small,
// else from the pool (pool.h), which keeps large blocks' pages mapped from call to call.
template <typename T>
class WorkBuffer {
 public:
  explicit WorkBuffer(size_t n) : bytes_(n * sizeof(T)) {
    if (n == 0) return;
    if (bytes_ <= kArenaRequestBytes) p_ = static_cast<T*>(scratch_take(bytes_));
    if (p_ == nullptr) {
      pooled_ = PoolBuffer<T>(n);
      p_ = pooled_.data();
    }
  }
  ~WorkBuffer() {
    if (p_ != nullptr && pooled_.data() == nullptr) scratch_give(p_, bytes_);
  }
  WorkBuffer(const WorkBuffer&) = delete;
  WorkBuffer& operator=(const WorkBuffer&) = delete;

  T* data() const { return p_; }
  T& operator[](size_t i) const { return p_[i]; }

 private:
  static constexpr size_t kArenaRequestBytes = size_t(32) << 10;
  size_t bytes_;
  T* p_ = nullptr;
  PoolBuffer<T> pooled_;
};

}  // namespace fusedrnn
