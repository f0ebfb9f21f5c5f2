/*
 * The table of registered functions. Spawned workers rebuild it by running
 * the same registrations, so it is sorted by name when it is frozen (at the
 * first pool or at wpool_bootstrap) and a function travels as its index in
 * that order; the handshake compares a hash of the names.
 */
#ifndef WPOOL_REGISTRY_H
#define WPOOL_REGISTRY_H

#include "wpool.h"
#include <stdint.h>

/* Sort and freeze the table; later registrations fail with WPOOL_ESTATE. */
void wpool__registry_freeze(void);
/* Index of fn in the frozen table, or WPOOL_ENOFUNC. */
int wpool__registry_index(wpool_fn fn, uint32_t *index);
/* Function at index, or NULL when out of range. */
wpool_fn wpool__registry_at(uint32_t index);
const char *wpool__registry_name(uint32_t index);
uint32_t wpool__registry_count(void);
/* FNV-1a over the sorted names: equal tables give equal hashes. */
uint64_t wpool__registry_hash(void);

#endif
