#include "malloc_tuning.h"

#include <stdlib.h>
#include <string.h>

static int arena_limit = 0;

#if defined(__GLIBC__)
#include <malloc.h>

// Runs when the executable is loaded, while it has one thread: glibc fixes its arena limit the
// first time two threads contend for the heap, so a later mallopt (even first thing in main,
// after the Swift runtime has started its threads) has no effect. Two arenas instead of up to
// eight per core: the agent's 16 disk threads each allocate a little (SQLite, file names), and
// with an arena apiece the busy agent kept about 2 MiB more of fragmented heap.
__attribute__((constructor))
static void letterbox_limit_malloc_arenas(void) {
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (getenv("MALLOC_ARENA_MAX") != NULL || (tunables != NULL && strstr(tunables, "arena_max") != NULL)) {
        return;
    }
    if (mallopt(M_ARENA_MAX, 2) == 1) {
        arena_limit = 2;
    }
}
#endif

int letterbox_malloc_arena_limit(void) {
    return arena_limit;
}
