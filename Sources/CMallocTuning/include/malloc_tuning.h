#ifndef LETTERBOX_MALLOC_TUNING_H
#define LETTERBOX_MALLOC_TUNING_H

/// The number of glibc malloc arenas the process was limited to at load time (by a constructor
/// in this library, before any thread exists), or 0 when the C library is not glibc or an
/// arena limit was already set through MALLOC_ARENA_MAX or GLIBC_TUNABLES, which win.
int letterbox_malloc_arena_limit(void);

#endif
