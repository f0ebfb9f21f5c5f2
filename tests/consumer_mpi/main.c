/* The MPI component as an installed package delivers it: squares over the
   serving ranks (mpiexec -n 2 or more), with the method named in argv[1]. */
#include <stdio.h>
#include <string.h>
#include <wpool.h>
#include <wpool_mpi.h>

static int square(const int *x, int *y) {
  *y = *x * *x;
  return 0;
}
WPOOL_TYPED_TASK(square_task, square, int, int)

int main(int argc, char **argv) {
  char *err = NULL;
  if (wpool_mpi_init(&argc, &argv, &err) != 0) {
    fprintf(stderr, "wpool_mpi_init: %s\n", err ? err : "?");
    return 1;
  }
  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 2;
  o.method =
      argc > 1 && strcmp(argv[1], "spawn") == 0 ? WPOOL_SPAWN : WPOOL_FORK;
  wpool_t *pool = NULL;
  int rc = wpool_mpi_create(&pool, &o, &err);
  if (rc != 0) {
    fprintf(stderr, "wpool_mpi_create: %s\n", err ? err : wpool_strerror(rc));
    return 1;
  }
  int xs[100], ys[100];
  for (int i = 0; i < 100; i++)
    xs[i] = i;
  rc = wpool_map(pool, square_task, xs, 100, sizeof *xs, ys, sizeof *ys, 0,
                 &err);
  for (int i = 0; rc == 0 && i < 100; i++)
    if (ys[i] != i * i)
      rc = -1;
  wpool_destroy(pool);
  printf("consumer_mpi (%s, %d serving ranks): %s\n",
         o.method == WPOOL_SPAWN ? "spawn" : "fork", wpool_mpi_serving_ranks(),
         rc == 0 ? "ok" : "FAILED");
  return rc == 0 ? 0 : 1;
}
