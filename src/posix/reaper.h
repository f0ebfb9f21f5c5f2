/*
 * Finding and ending what tasks started after it left the worker's process
 * group (see reaper.c). Async-signal-safe; nothing here allocates.
 */
#ifndef WPOOL_POSIX_REAPER_H
#define WPOOL_POSIX_REAPER_H

#include <stddef.h>

/*
 * Make this process a child subreaper (Linux: orphaned descendants are
 * re-parented to it rather than to init). 0, or -1 with errno (ENOSYS where
 * the system has no such thing).
 */
int wpool__subreaper_enable(void);

/*
 * SIGKILL every child of this process whose pid is not in keep, with its
 * process group, and reap it; again until none is left (their orphans come
 * back to a subreaper). Does nothing where children cannot be listed (no
 * /proc, or not Linux).
 */
void wpool__sweep_children(const long *keep, size_t nkeep);

#endif
