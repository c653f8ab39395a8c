#define _GNU_SOURCE
#include "CBenchShim.h"

#include <errno.h>
#include <sched.h>

int cbench_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : errno;
}

int cbench_current_cpu(void) {
    return sched_getcpu();
}

const char *cbench_c_compiler_version(void) {
    return __VERSION__;
}
