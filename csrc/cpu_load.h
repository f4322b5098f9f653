// How many threads the machine can run for a call right now: a busy peer process takes a core,
// and a team larger than the free cores waits on its descheduled members.
#pragma once

namespace fusedrnn {

// min(n, max(1, online CPUs - other runnable tasks)), from /proc/loadavg's instantaneous count
// (Linux; elsewhere, or when switched off, n). Free to choose: results never depend on it.
int threads_available(int n);
// A call's team of n threads just ended: for a while its idle members may still be spinning
// (GOMP_SPINCOUNT, set in backends/cpp.py), and must not count as other tasks.
void note_team_ended(int n);
// On by default; tests switch it off to run exactly the threads they ask for.
void set_load_adaptive(bool on);
bool load_adaptive();

}  // namespace fusedrnn
