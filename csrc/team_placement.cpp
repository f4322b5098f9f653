// leave_caller_cpu: a worker woken onto its caller's CPU moves to another one.
#include "team_placement.h"

#if defined(__linux__)
#include <sched.h>
#endif

namespace fusedrnn {

int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

int leave_caller_cpu(int caller_cpu, int team) {
#if defined(__linux__)
  if (caller_cpu < 0 || sched_getcpu() != caller_cpu) return -1;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < team ||
      !CPU_ISSET(caller_cpu, &allowed))
    return -1;
  cpu_set_t elsewhere = allowed;
  CPU_CLR(caller_cpu, &elsewhere);
  // Leaving the current CPU out of the affinity migrates the thread now; restoring it lets
  // the kernel place the thread freely again (it stays where it went until it has reason to move).
  if (sched_setaffinity(0, sizeof elsewhere, &elsewhere) != 0) return -1;
  const int moved_to = sched_getcpu();
  sched_setaffinity(0, sizeof allowed, &allowed);
  return moved_to;
#else
  (void)caller_cpu, (void)team;
  return -1;
#endif
}

}  // namespace fusedrnn
