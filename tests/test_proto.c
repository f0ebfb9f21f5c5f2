/*
 * wpool_proto_tests: the frame decoders of src/proto.c, on records built by
 * hand. The decoders are internal (hidden in a shared library), so this
 * program is built from their source, as the fuzzer is. A record's length
 * comes from another process and is trusted in nothing: lengths near 4 GiB
 * must be refused on 32-bit builds too, where padding them in a size_t
 * wraps to a small number (issue 9.7; CI runs this as an i386 program).
 */
#include "proto.h"
#include "wpool.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

/* One var record: code, task code, len, pad, then room for 16 bytes. */
static size_t var_record(uint8_t *buf, uint32_t len) {
  memset(buf, 0, WPOOL__VAR_REC_HDR + 16);
  wpool__put_u32(buf + 8, len);
  memcpy(buf + WPOOL__VAR_REC_HDR, "hello", 5);
  return WPOOL__VAR_REC_HDR + 16;
}

static void test_var_record(void) {
  uint8_t buf[WPOOL__VAR_REC_HDR + 16];
  size_t n = var_record(buf, 5), off = 0;
  wpool__rec_t rec;
  CU_ASSERT_EQUAL(wpool__rec_next(buf, n, &off, &rec), 1);
  CU_ASSERT_EQUAL(rec.len, 5);
  CU_ASSERT_EQUAL(rec.code, 0);
  CU_ASSERT(rec.data == buf + WPOOL__VAR_REC_HDR);
  CU_ASSERT_EQUAL(off, n);
  CU_ASSERT_EQUAL(wpool__rec_next(buf, n, &off, &rec), 0);
}

/* Lengths whose padding wraps a 32-bit size_t, and UINT32_MAX itself. */
static const uint32_t huge[] = {0xFFFFFFF1u, 0xFFFFFFF8u, 0xFFFFFFFFu,
                                0xFFFFFFF0u};

static void test_var_record_huge_len(void) {
  uint8_t buf[WPOOL__VAR_REC_HDR + 16];
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    size_t n = var_record(buf, huge[i]), off = 0;
    wpool__rec_t rec;
    memset(&rec, 0, sizeof rec);
    CU_ASSERT_EQUAL(wpool__rec_next(buf, n, &off, &rec), WPOOL_EPROTO);
    CU_ASSERT_EQUAL(off, 0);
    CU_ASSERT_EQUAL(wpool__rec_next(buf, WPOOL__VAR_REC_HDR, &off, &rec),
                    WPOOL_EPROTO);
    CU_ASSERT_EQUAL(off, 0);
  }
}

static void test_result_huge_len(void) {
  uint8_t buf[WPOOL__VAR_REC_HDR + 16];
  wpool__frame_t f;
  wpool__frame_init(&f, WPOOL__F_RESULT);
  f.count = 1;
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    /* With the record's bytes and without: a header alone, whose length
       pads to 0 on 32 bits, would end the payload exactly. */
    size_t n = var_record(buf, huge[i]);
    f.len = (uint32_t)n;
    CU_ASSERT_EQUAL(wpool__result_validate(&f, 1, 0, buf, n), WPOOL_EPROTO);
    f.len = WPOOL__VAR_REC_HDR;
    CU_ASSERT_EQUAL(
        wpool__result_validate(&f, 1, 0, buf, WPOOL__VAR_REC_HDR),
        WPOOL_EPROTO);
  }
  /* The same frame with an honest length is accepted. */
  size_t n = var_record(buf, 5);
  CU_ASSERT_EQUAL(wpool__result_validate(&f, 1, 0, buf, n), 0);
}

static void test_input_record_huge_len(void) {
  uint8_t buf[WPOOL__IN_REC_HDR + 16];
  const uint8_t *item = NULL;
  uint32_t item_len = 0;
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    size_t off = 0;
    memset(buf, 0, sizeof buf);
    wpool__put_in_hdr(buf, huge[i]);
    CU_ASSERT_EQUAL(wpool__in_next(buf, sizeof buf, &off, &item, &item_len),
                    WPOOL_EPROTO);
    CU_ASSERT_EQUAL(off, 0);
  }
  size_t off = 0;
  wpool__put_in_hdr(buf, 16);
  CU_ASSERT_EQUAL(wpool__in_next(buf, sizeof buf, &off, &item, &item_len), 1);
  CU_ASSERT_EQUAL(item_len, 16);
  CU_ASSERT_EQUAL(off, sizeof buf);
}

static void test_fail_record_huge_len(void) {
  uint8_t buf[WPOOL__FAIL_REC_HDR + 16];
  memset(buf, 0, sizeof buf);
  wpool__put_u32(buf + 4, (uint32_t)WPOOL_ETASK);
  wpool__put_u32(buf + 12, 0xFFFFFFFFu);
  size_t off = 0;
  wpool__fail_t fl;
  CU_ASSERT_EQUAL(wpool__fail_next(buf, sizeof buf, &off, &fl), WPOOL_EPROTO);
  CU_ASSERT_EQUAL(off, 0);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS)
    return 2;
  CU_pSuite s = CU_add_suite("proto", NULL, NULL);
  if (s == NULL || !CU_add_test(s, "var_record", test_var_record) ||
      !CU_add_test(s, "var_record_huge_len", test_var_record_huge_len) ||
      !CU_add_test(s, "result_huge_len", test_result_huge_len) ||
      !CU_add_test(s, "input_record_huge_len", test_input_record_huge_len) ||
      !CU_add_test(s, "fail_record_huge_len", test_fail_record_huge_len)) {
    CU_cleanup_registry();
    return 2;
  }
  printf("size_t is %u bits\n", (unsigned)(8 * sizeof(size_t)));
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures();
  int error = CU_get_error() != CUE_SUCCESS;
  CU_cleanup_registry();
  return failures ? 1 : error ? 2 : 0;
}
