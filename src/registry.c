/*
 * Registration happens in constructors (WPOOL_REGISTER) or at the top of
 * main(), before any pool thread exists, so the table itself takes no lock;
 * the freeze flag turns late registrations into WPOOL_ESTATE instead of a
 * race. Freezing is done once, under wpool's process-wide once-initialiser.
 */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 255

typedef struct entry {
  const char *name;
  wpool_fn fn;
} entry_t;

static entry_t *table;
static uint32_t count, cap;
static int frozen;
static int broken; /* a constructor ran out of memory: every create fails */
static uint64_t hash;

static int add(const char *name, wpool_fn fn) {
  if (!name || !*name || !fn || strlen(name) > NAME_MAX_LEN)
    return WPOOL_EINVAL;
  if (frozen)
    return WPOOL_ESTATE;
  for (uint32_t i = 0; i < count; i++) {
    if (strcmp(table[i].name, name) == 0)
      return table[i].fn == fn ? 0 : WPOOL_EINVAL;
    if (table[i].fn == fn)
      return WPOOL_EINVAL; /* one function, one name: ids must be unique */
  }
  if (count == cap) {
    uint32_t ncap = cap ? cap * 2 : 64;
    entry_t *t = realloc(table, ncap * sizeof *t);
    if (!t)
      return WPOOL_ENOMEM;
    table = t;
    cap = ncap;
  }
  table[count].name = name;
  table[count].fn = fn;
  count++;
  return 0;
}

int wpool_register(const char *name, wpool_fn fn) {
  size_t n = name ? strlen(name) : 0;
  if (!name || n == 0 || n > NAME_MAX_LEN)
    return WPOOL_EINVAL;
  /* The caller's string may not outlive the call; the table's must. */
  for (uint32_t i = 0; i < count; i++)
    if (strcmp(table[i].name, name) == 0)
      return table[i].fn == fn ? 0 : WPOOL_EINVAL;
  char *copy = malloc(n + 1);
  if (!copy)
    return WPOOL_ENOMEM;
  memcpy(copy, name, n + 1);
  int rc = add(copy, fn);
  if (rc)
    free(copy);
  return rc;
}

void wpool__register_static(const char *name, wpool_fn fn) {
  if (add(name, fn) == WPOOL_ENOMEM)
    broken = 1;
}

const char *wpool_fn_name(wpool_fn fn) {
  for (uint32_t i = 0; i < count; i++)
    if (table[i].fn == fn)
      return table[i].name;
  return NULL;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

void wpool__registry_freeze(void) {
  if (frozen)
    return;
  if (count)
    qsort(table, count, sizeof *table, by_name);
  uint64_t h = 1469598103934665603ull;
  for (uint32_t i = 0; i < count; i++) {
    for (const char *p = table[i].name; *p; p++)
      h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull; /* separator: "ab","c" != "a","bc" */
  }
  hash = broken ? 0 : h;
  frozen = 1;
}

int wpool__registry_index(wpool_fn fn, uint32_t *index) {
  if (!fn)
    return WPOOL_EINVAL;
  for (uint32_t i = 0; i < count; i++)
    if (table[i].fn == fn) {
      *index = i;
      return 0;
    }
  return WPOOL_ENOFUNC;
}

wpool_fn wpool__registry_at(uint32_t index) {
  return index < count ? table[index].fn : NULL;
}

const char *wpool__registry_name(uint32_t index) {
  return index < count ? table[index].name : NULL;
}

uint32_t wpool__registry_count(void) { return count; }
uint64_t wpool__registry_hash(void) { return hash; }
