/*
 * A task that lives in a static library (wpool_static_tasks), to check that
 * WPOOL_REGISTER keeps working when the task's object file is pulled out of
 * an archive only because the program refers to the function.
 */
#ifndef WT_STATIC_TASKS_H
#define WT_STATIC_TASKS_H

#include "wpool.h"

/* int x -> int 3 * x. */
int static_triple(const void *arg, size_t len, wpool_out_t *out);

#endif
