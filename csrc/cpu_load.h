// How many threads the machine can run for a call right now: a busy peer process takes a core,
// and a team larger than the free cores waits on its descheduled members.
#pragma once

namespace fusedrnn {

// min(n, max(1, online CPUs - runnable tasks of other processes)), from /proc/loadavg's
// instantaneous count less this process's runnable threads (Linux; elsewhere, or when
// switched off, n). Free to choose: results never depend on it.
int threads_available(int n);
// On by default; tests switch it off to run exactly the threads they ask for.
void set_load_adaptive(bool on);
bool load_adaptive();

}  // namespace fusedrnn
