/* See argv.h. */
#include "argv.h"
#include "wpool.h"

#include <stdlib.h>
#include <string.h>

static char *none[] = {NULL};
static int g_argc;
static char **g_argv = none;
static int g_argv_owned; /* adopted from INIT: our own copy */

void wpool__argv_record(int argc, char **argv) {
  g_argc = argv ? argc : 0;
  g_argv = argv ? argv : none;
}

int wpool__argv_encode(wpool__buf_t *out, uint32_t *argc) {
  out->len = 0;
  *argc = 0;
  for (int i = 0; i < g_argc && g_argv[i]; i++) {
    if (wpool__buf_append(out, g_argv[i], strlen(g_argv[i]) + 1))
      return WPOOL_ENOMEM;
    (*argc)++;
  }
  return 0;
}

int wpool__argv_adopt(const uint8_t *blob, size_t len, uint32_t argc) {
  /* Exactly argc strings, the last one ending the blob. */
  size_t count = 0;
  for (size_t i = 0; i < len; i++)
    count += blob[i] == '\0';
  if (count != argc || (len && blob[len - 1] != '\0') || argc > len)
    return WPOOL_EPROTO;
  /* One allocation for the pointers and the strings; it lives as long as
     the worker, which is the lifetime of a program's argv. */
  size_t ptrs = ((size_t)argc + 1) * sizeof(char *);
  char **v = malloc(ptrs + len);
  if (!v)
    return WPOOL_ENOMEM;
  char *s = (char *)v + ptrs;
  if (len)
    memcpy(s, blob, len);
  for (uint32_t i = 0; i < argc; i++) {
    v[i] = s;
    s += strlen(s) + 1;
  }
  v[argc] = NULL;
  if (g_argv != none && g_argv_owned)
    free(g_argv);
  g_argc = (int)argc;
  g_argv = v;
  g_argv_owned = 1;
  return 0;
}

char *const *wpool_argv(int *argc) {
  if (argc)
    *argc = g_argc;
  return g_argv;
}
