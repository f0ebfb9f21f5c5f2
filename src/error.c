#include "wpool.h"

#include <stdlib.h>

const char *wpool_strerror(int code) {
  switch (code) {
  case WPOOL_OK:
    return "success";
#define WPOOL__ERR_TEXT(name, value, text)                                     \
  case WPOOL_##name:                                                           \
    return text;
    WPOOL_ERRNO_MAP(WPOOL__ERR_TEXT)
#undef WPOOL__ERR_TEXT
  default:
    return "unknown error";
  }
}

const char *wpool_err_name(int code) {
  switch (code) {
  case WPOOL_OK:
    return "OK";
#define WPOOL__ERR_NAME(name, value, text)                                     \
  case WPOOL_##name:                                                           \
    return #name;
    WPOOL_ERRNO_MAP(WPOOL__ERR_NAME)
#undef WPOOL__ERR_NAME
  default:
    return "UNKNOWN";
  }
}

void wpool_free(void *ptr) { free(ptr); }

#define WPOOL__STR2(x) #x
#define WPOOL__STR(x) WPOOL__STR2(x)
const char *wpool_version(void) {
  return WPOOL__STR(WPOOL_VERSION_MAJOR) "." WPOOL__STR(
      WPOOL_VERSION_MINOR) "." WPOOL__STR(WPOOL_VERSION_PATCH);
}
