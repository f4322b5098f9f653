// Keeping a team's threads on different CPUs. A worker asleep between calls is woken by the
// calling thread, and Linux may place it on the caller's own CPU and leave both there, taking
// turns at every 4 ms tick, while another CPU stays idle (seen here with `perf record -e
// sched:sched_migrate_task`: a batch-1 call 5-10x as slow as the next one, for 10-15 ms).
#pragma once

namespace fusedrnn {

// The CPU the calling thread runs on, or -1 where the system cannot tell.
int current_cpu();

// Called by each worker of a team of `team` threads (not the calling thread) at the start of a
// parallel region, and by any member woken from a sleeping wait (with the waker's CPU): if it
// runs on `caller_cpu` and the process may use at least `team` CPUs, it moves itself off that
// CPU (its affinity without it for a moment, then as it was), so the kernel puts it on another
// one at once. Elsewhere, or when it runs apart already, nothing. Returns the CPU it moved to
// (read while its affinity still leaves `caller_cpu` out), or -1 where it did not move.
int leave_caller_cpu(int caller_cpu, int team);

}  // namespace fusedrnn
