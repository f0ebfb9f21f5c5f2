/*
 * imap on a pool of three threads: five tasks of random length (1 to 5 s,
 * from a fixed seed), consumed in order with a 6 s limit per result.
 *
 * The limit always holds: a result in input order is never more than one
 * task length (at most 5 s) behind the one before it, because each task
 * starts no later than the moment an earlier result became ready.
 */
#include <stdio.h>
#include <stdlib.h>
#include <wpool.h>

#include "example_os.h"

enum { TASKS = 5, THREADS = 3 };

typedef struct job {
  int id;
  int seconds;
} job_t;

static int slow_job(const void *arg, size_t len, wpool_out_t *out) {
  const job_t *j = arg;
  if (len != sizeof *j)
    return wpool_out_fail(out, 1, "bad job");
  sleep((unsigned)j->seconds);
  char text[64];
  int n = snprintf(text, sizeof text, "job %d slept %d s", j->id, j->seconds);
  return wpool_out_set(out, text, (size_t)n);
}
WPOOL_REGISTER(slow_job)

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv);

  job_t jobs[TASKS];
  srand(2024); /* the same lengths on every run */
  for (int i = 0; i < TASKS; i++) {
    jobs[i].id = i;
    jobs[i].seconds = 1 + rand() % 5;
  }

  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = THREADS;
  o.method = WPOOL_THREAD;
  wpool_t *pool;
  int rc = wpool_create(&pool, &o, NULL);
  if (rc != 0) {
    fprintf(stderr, "wpool_create: %s\n", wpool_strerror(rc));
    return 1;
  }

  wpool_source_t src = wpool_source_array(jobs, TASKS, sizeof jobs[0]);
  wpool_iter_t *it = NULL;
  rc = wpool_imap(pool, slow_job, &src, 1, &it);
  const void *data;
  size_t len;
  int got = 0;
  while (rc == 0 && (rc = wpool_iter_next(it, 6000, &data, &len)) == 0) {
    printf("%.*s\n", (int)len, (const char *)data);
    got++;
  }
  if (rc == WPOOL_EDONE && got == TASKS)
    rc = 0;
  else
    fprintf(stderr, "imap stopped after %d results: %s\n", got,
            wpool_strerror(rc));
  wpool_iter_free(it);
  wpool_destroy(pool);
  return rc != 0;
}
