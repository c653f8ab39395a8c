// What the benchmark needs from libc that Swift cannot import as is: sched_setaffinity and
// sched_getcpu are declared only with _GNU_SOURCE, and CPU_SET is a macro.
#ifndef CBENCHSHIM_H
#define CBENCHSHIM_H

/// Pins the calling thread to `cpu`; 0 on success, else an errno value.
int cbench_pin_to_cpu(int cpu);

/// The CPU the calling thread runs on now, -1 if unknown.
int cbench_current_cpu(void);

/// The compiler that built the C targets (`__VERSION__`), for the results header.
const char *cbench_c_compiler_version(void);

#endif
