// threads_available: the team size a call can use given the other runnable tasks now.
#include "cpu_load.h"

#include <atomic>
#include <chrono>
#include <thread>

#if defined(__linux__)
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#endif

namespace fusedrnn {

namespace {

std::atomic<bool> adaptive{true};
constexpr long long kRecheckNs = 25000000;  // how long an answer is reused (threads_available)
constexpr int kConfirmUs = 200;       // between the two readings that must both see a load
constexpr long kUnknown = 1L << 20;  // free CPUs when /proc cannot tell: no limit
std::atomic<long> free_seen{kUnknown};
std::atomic<long long> free_seen_ns{-kRecheckNs};

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

#if defined(__linux__)
// Runnable tasks system-wide, this thread included (4th field of /proc/loadavg, "running/total"),
// or -1. Three system calls, a few microseconds.
int runnable_tasks() {
  const int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t got = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (got <= 0) return -1;
  buf[got] = '\0';
  int field = 0;
  const char* p = buf;
  while (*p && field < 3) {
    if (*p == ' ') ++field;
    ++p;
  }
  int n = 0;
  bool digits = false;
  for (; *p >= '0' && *p <= '9'; ++p, digits = true) n = n * 10 + (*p - '0');
  return digits && *p == '/' ? n : -1;
}

// Runnable threads of this process, this thread included (state R in /proc/self/task/*/stat),
// or -1. A few system calls per thread: only asked when the system-wide count shows load.
int own_runnable_threads() {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // the thread just ended
    char buf[512];
    const ssize_t got = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (got <= 0) continue;
    buf[got] = '\0';
    const char* p = std::strrchr(buf, ')');  // "tid (comm) S ...": comm may hold ')' itself
    if (p != nullptr && p[1] == ' ' && p[2] == 'R') ++n;
  }
  ::closedir(dir);
  return n;
}

// Online CPUs less the runnable tasks of other processes, now (kUnknown where /proc cannot tell).
long free_cpus_now() {
  static const long online = ::sysconf(_SC_NPROCESSORS_ONLN);  // reads sysfs: once
  const int running = runnable_tasks();
  if (online < 1 || running < 1) return kUnknown;
  long free_cpus = online - (running - 1);
  if (free_cpus < online) {
    // Only other processes' tasks are load. This process's other runnable threads are
    // mostly idle workers of a runtime spinning after its own parallel region (ours, or
    // PyTorch's, about 9 ms after each op): counting them made every call that followed
    // a torch op run on one thread.
    const int own = own_runnable_threads();
    if (own > 1) free_cpus += own - 1 < running - 1 ? own - 1 : running - 1;
  }
  return free_cpus;
}
#endif

}  // namespace

void set_load_adaptive(bool on) { adaptive.store(on); }
bool load_adaptive() { return adaptive.load(); }

int threads_available(int n) {
#if defined(__linux__)
  if (n <= 1 || !adaptive.load(std::memory_order_relaxed)) return n;
  // A reading costs 10 us for /proc/loadavg, and right after one of our own regions, while its
  // workers still spin, 65-100 us in all: it then counts this process's runnable threads too
  // (W3's forward, in the binding, Zen 5 VM). Reused for 4 ms, one W1 call in 10 paid for it
  // (10-16 us a call, 2.5-4 %) and W3's step 0.2 ms; reused for 25 ms, one W1 call in 60 pays, and
  // W3's step in a loop runs 1.01-1.02x as fast. A busy peer process stays busy far longer than that.
  const long long now = now_ns();
  long free_cpus = free_seen.load(std::memory_order_relaxed);
  if (now - free_seen_ns.load(std::memory_order_relaxed) >= kRecheckNs) {
    const long before = free_cpus;
    free_cpus = free_cpus_now();
    if (free_cpus < n && before >= n) {
      // Load where there was none. A passing task (a kernel worker, or one of our workers
      // going to sleep between the two /proc reads) would otherwise shrink the team for
      // the next few ms: in the W3 training step, 1 call in 4 took 1.3-1.6x as long. A busy
      // peer is still there a moment later, so only load both readings see counts.
      std::this_thread::sleep_for(std::chrono::microseconds(kConfirmUs));
      const long again = free_cpus_now();
      if (again > free_cpus) free_cpus = again;
    }
    free_seen.store(free_cpus, std::memory_order_relaxed);
    free_seen_ns.store(now, std::memory_order_relaxed);
  }
  if (free_cpus < n) return free_cpus < 1 ? 1 : static_cast<int>(free_cpus);
#endif
  return n;
}

}  // namespace fusedrnn
