/* hello.c over MPI: the same program, with its two changed lines marked.
   Run it with `mpiexec -n 3 ./mpi_hello`: rank 0 runs main(), ranks 1 and
   2 run the tasks in local worker processes. */
#include <stdio.h>
#include <wpool.h>
#include <wpool_mpi.h>

static int square(const void *arg, size_t len, wpool_out_t *out) {
  int x = len == sizeof x ? *(const int *)arg : 0, y = x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(square)

int main(int argc, char **argv) {
  if (wpool_mpi_init(&argc, &argv, NULL)) /* changed: was wpool_bootstrap */
    return 1;
  int in[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, out[10];
  wpool_t *pool;
  int rc = wpool_mpi_create(&pool, NULL, NULL); /* changed: was wpool_create */
  if (rc == 0)
    rc =
        wpool_map(pool, square, in, 10, sizeof(int), out, sizeof(int), 0, NULL);
  for (int i = 0; rc == 0 && i < 10; i++)
    printf("%s%d%s", i ? "" : "[", out[i], i < 9 ? ", " : "]\n");
  wpool_destroy(pool);
  return rc != 0;
}
