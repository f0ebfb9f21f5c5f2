/*
 * The parent program's command line, for wpool_argv(): recorded by
 * wpool_bootstrap() in the program itself, and carried to every process
 * worker in INIT (fork workers too, so that every method reads the same
 * strings from the same place), where the worker adopts a copy before its
 * initializer runs.
 */
#ifndef WPOOL_ARGV_H
#define WPOOL_ARGV_H

#include "buf.h"

#include <stdint.h>

/* Record the program's own argv (not copied: main()'s argv lives as long
   as the program). Called once, before any thread of wpool's. */
void wpool__argv_record(int argc, char **argv);
/* The recorded strings, each with its NUL, back to back: what INIT
   carries. *argc gets their count. 0 or WPOOL_ENOMEM. */
int wpool__argv_encode(wpool__buf_t *out, uint32_t *argc);
/* In a worker: take argc strings from blob (len bytes, as encoded) as the
   program's argv. 0, WPOOL_EPROTO (malformed) or WPOOL_ENOMEM. */
int wpool__argv_adopt(const uint8_t *blob, size_t len, uint32_t argc);

#endif
