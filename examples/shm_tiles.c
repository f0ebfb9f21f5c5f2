/*
 * Large data through shared memory: a grayscale image processed in tiles.
 *
 * The image lives in a shared buffer (wpool_shm_alloc) that the workers
 * map; nothing of it crosses their channels. wpool_map_shm hands each
 * worker a band of rows (a slice of the input buffer, read-only in process
 * workers) and lets it write the band's new pixels straight into its slot
 * of the output buffer. Then wpool_apply_shm computes the histogram of the
 * whole result in one worker: only the 256 counts come back.
 *
 * Usage: shm_tiles [width height]   (default 4096 x 4096, 16 MiB)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wpool.h>

/* A contrast stretch: dark pixels darker, bright ones brighter. */
static int stretch_band(const void *arg, size_t len, wpool_out_t *out) {
  const uint8_t *in = arg;
  uint8_t *px = wpool_out_reserve(out, len); /* the band's output slot */
  if (!px)
    return 1;
  for (size_t i = 0; i < len; i++) {
    int v = ((int)in[i] - 64) * 2;
    px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
  return 0;
}
WPOOL_REGISTER(stretch_band)

static int histogram(const void *arg, size_t len, wpool_out_t *out) {
  const uint8_t *px = arg;
  uint64_t *counts = wpool_out_reserve(out, 256 * sizeof *counts);
  if (!counts)
    return 1;
  memset(counts, 0, 256 * sizeof *counts);
  for (size_t i = 0; i < len; i++)
    counts[px[i]]++;
  return 0;
}
WPOOL_REGISTER(histogram)

static int fail(const char *what, int rc, char *msg) {
  fprintf(stderr, "%s: %s\n", what, msg ? msg : wpool_strerror(rc));
  wpool_free(msg);
  return 1;
}

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv);
  uint32_t image_width = 4096, height = 4096;
  if (argc == 3) {
    image_width = (uint32_t)strtoul(argv[1], NULL, 10);
    height = (uint32_t)strtoul(argv[2], NULL, 10);
  }
  const uint32_t band_rows = 64;
  if (image_width == 0 || height == 0 || height % band_rows) {
    fprintf(stderr, "the height must be a multiple of %u\n", band_rows);
    return 2;
  }
  size_t size = (size_t)image_width * height;

  wpool_shm_t *src, *dst;
  int rc = wpool_shm_alloc(size, &src);
  if (rc == WPOOL_ENOTSUP) {
    printf("shared buffers are not supported on this platform yet\n");
    return 0;
  }
  if (rc != 0 || (rc = wpool_shm_alloc(size, &dst)) != 0)
    return fail("wpool_shm_alloc", rc, NULL);

  /* A test card: a diagonal gradient, written in place. */
  uint8_t *img = wpool_shm_ptr(src);
  for (uint32_t y = 0; y < height; y++)
    for (uint32_t x = 0; x < image_width; x++)
      img[(size_t)y * image_width + x] =
          (uint8_t)((x + y) * 255 / (image_width + height - 2 + 1));

  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 4;
  wpool_t *pool;
  char *msg = NULL;
  if ((rc = wpool_create(&pool, &o, &msg)) != 0)
    return fail("wpool_create", rc, msg);

  /* One item per band of rows; its output slot is the same band of dst. */
  size_t band = (size_t)band_rows * image_width;
  wpool_slice_t in = wpool_slice(src, 0, size);
  wpool_slice_t out = wpool_slice(dst, 0, size);
  rc = wpool_map_shm(pool, stretch_band, &in, band, &out, band, 0, &msg);
  if (rc != 0)
    return fail("wpool_map_shm", rc, msg);

  /* The input may go now: nothing uses it any more. */
  wpool_shm_free(src);

  void *counts = NULL;
  size_t len = 0;
  rc = wpool_apply_shm(pool, histogram, &out, &counts, &len, &msg);
  if (rc != 0 || len != 256 * sizeof(uint64_t))
    return fail("wpool_apply_shm", rc, msg);
  uint64_t h[256];
  memcpy(h, counts, sizeof h);
  wpool_free(counts);

  /* Check the workers' pixels against the same stretch done here. */
  const uint8_t *res = wpool_shm_ptr(dst);
  uint64_t black = 0, white = 0, total = 0, wrong = 0;
  for (uint32_t y = 0; y < height; y++)
    for (uint32_t x = 0; x < image_width; x++) {
      int v = ((int)(uint8_t)((x + y) * 255 / (image_width + height - 2 + 1)) -
               64) *
              2;
      uint8_t want = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      wrong += res[(size_t)y * image_width + x] != want;
    }
  for (int i = 0; i < 256; i++)
    total += h[i];
  black = h[0];
  white = h[255];
  printf("%ux%u image in %zu bands: %llu pixels, %llu black, %llu white, "
         "%llu wrong\n",
         image_width, height, size / band, (unsigned long long)total,
         (unsigned long long)black, (unsigned long long)white,
         (unsigned long long)wrong);

  wpool_destroy(pool);
  wpool_shm_free(dst);
  return wrong == 0 && total == size ? 0 : 1;
}
