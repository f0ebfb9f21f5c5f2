/*
 * Count the lines of every file under a directory with process workers,
 * fed by nftw(): a walk that calls back for each file cannot be a
 * wpool_producer, so a thread of the program walks and pushes each path
 * (wpool_iter_push) while main() reads the counts as they come
 * (wpool_imap_unordered). The window keeps at most 64 paths pushed ahead of
 * the reader however large the tree.
 *
 *     walk_push [DIR]       (default: the current directory)
 *
 * It checks itself: the bytes the workers read must add up to the sizes
 * nftw reported. POSIX only (nftw).
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <wpool.h>

typedef struct count {
  uint64_t lines, bytes;
} count_t;

/* A path (not NUL-terminated) -> its count_t. */
static int count_lines(const void *arg, size_t len, wpool_out_t *out) {
  char path[4096];
  if (len == 0 || len >= sizeof path)
    return wpool_out_fail(out, 1, "bad path length %zu", len);
  memcpy(path, arg, len);
  path[len] = '\0';
  FILE *f = fopen(path, "rb");
  if (!f)
    return wpool_out_fail(out, 2, "cannot open %s", path);
  count_t c = {0, 0};
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    c.bytes += n;
    for (size_t i = 0; i < n; i++)
      c.lines += buf[i] == '\n';
  }
  fclose(f);
  return wpool_out_set(out, &c, sizeof c);
}
WPOOL_REGISTER(count_lines)

/* nftw() passes no user pointer: the walk's state is file-scope. */
static wpool_iter_t *walk_it;
static uint64_t walk_files, walk_bytes;
static int walk_rc;

static int visit(const char *path, const struct stat *st, int type,
                 struct FTW *ftw) {
  (void)ftw;
  if (type != FTW_F || !S_ISREG(st->st_mode))
    return 0;
  walk_rc = wpool_iter_push(walk_it, path, strlen(path), WPOOL_FOREVER);
  if (walk_rc != 0)
    return 1; /* the pool stopped: end the walk */
  walk_files++;
  walk_bytes += (uint64_t)st->st_size;
  return 0;
}

static void *walker(void *dir) {
  if (nftw(dir, visit, 16, FTW_PHYS) == -1 && walk_rc == 0)
    perror("nftw");
  /* Always: it ends the input and releases the pushing side. */
  wpool_iter_push_end(walk_it);
  return NULL;
}

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv);
  char *dir = argc > 1 ? argv[1] : ".";

  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 2;
  wpool_t *pool;
  char *err = NULL;
  int rc = wpool_create(&pool, &o, &err);
  if (rc != 0) {
    fprintf(stderr, "wpool_create: %s\n", err ? err : wpool_strerror(rc));
    wpool_free(err);
    return 1;
  }
  wpool_source_t src = wpool_source_push(64);
  rc = wpool_imap_unordered(pool, count_lines, &src, 1, &walk_it);
  if (rc != 0) {
    fprintf(stderr, "wpool_imap_unordered: %s\n", wpool_strerror(rc));
    wpool_destroy(pool);
    return 1;
  }
  pthread_t t;
  if (pthread_create(&t, NULL, walker, dir) != 0) {
    fprintf(stderr, "cannot start the walker\n");
    wpool_iter_push_end(walk_it);
    wpool_iter_free(walk_it);
    wpool_destroy(pool);
    return 1;
  }

  count_t total = {0, 0};
  uint64_t files = 0, failed = 0;
  const void *data;
  size_t len;
  while ((rc = wpool_iter_next(walk_it, WPOOL_FOREVER, &data, &len)) !=
         WPOOL_EDONE) {
    if (rc == 0 && len == sizeof(count_t)) {
      count_t c;
      memcpy(&c, data, sizeof c);
      total.lines += c.lines;
      total.bytes += c.bytes;
      files++;
    } else {
      fprintf(stderr, "item %zu: %s\n", wpool_iter_index(walk_it),
              wpool_iter_message(walk_it) ? wpool_iter_message(walk_it)
                                          : wpool_strerror(rc));
      failed++;
    }
  }
  pthread_join(t, NULL);
  wpool_iter_free(walk_it);
  wpool_destroy(pool);

  printf("%llu files, %llu lines, %llu bytes under %s\n",
         (unsigned long long)files, (unsigned long long)total.lines,
         (unsigned long long)total.bytes, dir);
  if (failed || walk_rc || files != walk_files || total.bytes != walk_bytes) {
    fprintf(stderr, "walked %llu files of %llu bytes; %llu failed\n",
            (unsigned long long)walk_files, (unsigned long long)walk_bytes,
            (unsigned long long)failed);
    return 1;
  }
  return 0;
}
