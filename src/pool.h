/*
 * What a backend sees of the pool: the core (state, lock, waits) and the
 * scheduler it drives. Backends include this and nothing above it.
 */
#ifndef WPOOL_POOL_H
#define WPOOL_POOL_H

#include "core.h"
#include "scheduler.h"

#endif
