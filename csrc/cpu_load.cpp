// threads_available: the team size a call can use given the other runnable tasks now.
#include "cpu_load.h"

#include <atomic>
#include <chrono>

#if defined(__linux__)
#include <fcntl.h>
#include <unistd.h>
#endif

namespace fusedrnn {

namespace {

std::atomic<bool> adaptive{true};
std::atomic<long long> team_end_ns{0};
std::atomic<int> team_size_ended{1};
// Longer than libgomp's idle spin: 10000 pauses at 29 ns here (up to ~45 ns on other x86 CPUs).
constexpr long long kSpinWindowNs = 1000000;
constexpr long long kRecheckNs = 4000000;
std::atomic<long> free_seen{0};
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
#endif

}  // namespace

void note_team_ended(int n) {
  if (n <= 1) return;
  team_size_ended.store(n, std::memory_order_relaxed);
  team_end_ns.store(now_ns(), std::memory_order_relaxed);
}

void set_load_adaptive(bool on) { adaptive.store(on); }
bool load_adaptive() { return adaptive.load(); }

int threads_available(int n) {
#if defined(__linux__)
  if (n <= 1 || !adaptive.load(std::memory_order_relaxed)) return n;
  // Reading /proc costs ~8 us in this VM: reuse the last answer for a few ms (a busy peer
  // process stays busy far longer than that).
  const long long now = now_ns();
  long free_cpus = free_seen.load(std::memory_order_relaxed);
  if (now - free_seen_ns.load(std::memory_order_relaxed) >= kRecheckNs) {
    static const long online = ::sysconf(_SC_NPROCESSORS_ONLN);  // reads sysfs: once
    int running = runnable_tasks();
    if (online < 1 || running < 1) return n;
    if (now - team_end_ns.load(std::memory_order_relaxed) < kSpinWindowNs)
      running -= team_size_ended.load(std::memory_order_relaxed) - 1;  // our own idle spinners
    free_cpus = online - (running - 1);
    free_seen.store(free_cpus, std::memory_order_relaxed);
    free_seen_ns.store(now, std::memory_order_relaxed);
  }
  if (free_cpus < n) return free_cpus < 1 ? 1 : static_cast<int>(free_cpus);
#endif
  return n;
}

}  // namespace fusedrnn
