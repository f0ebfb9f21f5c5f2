/*
 * A program that forgets wpool_bootstrap() and asks for spawn workers.
 *
 * Each spawned worker re-runs this main(), so its own wpool_create must see
 * that it is a worker and refuse with WPOOL_ENOHOOK instead of spawning
 * workers of its own; the parent's create must then fail with WPOOL_ESPAWN,
 * name wpool_bootstrap in its message, and leave no child behind.
 *
 * Should the library get that wrong, WT_NOHOOK_DEPTH stops the recursion
 * after one level, so that a bug cannot turn into a process storm.
 */
#include "port.h"
#include "wpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  (void)argc;
  (void)argv; /* deliberately no wpool_bootstrap(argc, argv) */
  const char *d = getenv("WT_NOHOOK_DEPTH");
  int depth = d ? atoi(d) : 0;
  if (depth >= 2)
    return 4;
  wt_setenv("WT_NOHOOK_DEPTH", depth == 0 ? "1" : "2");

  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 2;
  o.method = WPOOL_SPAWN;
  o.start_timeout_ms = 10000; /* a bound on a library that hangs */
  wpool_t *pool = NULL;
  char *msg = NULL;
  int rc = wpool_create(&pool, &o, &msg);

  if (depth == 1) {
    /* A spawned worker of the parent below. */
    fprintf(stderr, "nohook worker %s: %s\n", wpool_err_name(rc),
            msg ? msg : "(no message)");
    wpool_free(msg);
    if (rc == 0)
      wpool_destroy(pool);
    return rc == WPOOL_ENOHOOK ? 3 : 5;
  }

  int ok = 1;
  printf("wpool_create: %s: %s\n", wpool_err_name(rc),
         msg ? msg : "(no message)");
  if (rc != WPOOL_ESPAWN) {
    printf("FAIL: expected ESPAWN\n");
    ok = 0;
  }
  if (pool != NULL) {
    printf("FAIL: pool is not NULL\n");
    wpool_destroy(pool);
    ok = 0;
  }
  if (msg == NULL || strstr(msg, "wpool_bootstrap") == NULL) {
    printf("FAIL: the message does not mention wpool_bootstrap\n");
    ok = 0;
  }
  wpool_free(msg);

  /* Every worker that was started has been reaped: no child is left. */
  int left = wt_children_left();
  if (left != 0) {
    printf("FAIL: %d child process(es) left behind\n", left);
    ok = 0;
  }
  printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
