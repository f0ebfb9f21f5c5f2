/*
 * Windows error codes, translated in one place: to a WPOOL_E* code, and to
 * a message that carries the system's own text (in UTF-8) and the number,
 * which is what a user searches for when the text is in another language.
 */
#include "win32.h"
#include "wpool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wpool__win_code(DWORD err, int fallback) {
  switch (err) {
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
  case ERROR_NO_SYSTEM_RESOURCES:
    return WPOOL_ENOMEM;
  case ERROR_NOT_SUPPORTED:
  case ERROR_CALL_NOT_IMPLEMENTED:
    return WPOOL_ENOTSUP;
  case ERROR_INVALID_PARAMETER:
    /* A bad argument of ours is a bug in wpool, not the caller's EINVAL. */
  default:
    return fallback;
  }
}

char *wpool__win_utf8(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  char *s = n > 0 ? malloc((size_t)n) : NULL;
  if (s != NULL &&
      WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) <= 0) {
    free(s);
    s = NULL;
  }
  return s;
}

/* The system's text for err, without its trailing period and line break. */
static char *system_text(DWORD err) {
  wchar_t *w = NULL;
  DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER |
                               FORMAT_MESSAGE_FROM_SYSTEM |
                               FORMAT_MESSAGE_IGNORE_INSERTS,
                           NULL, err, 0, (LPWSTR)&w, 0, NULL);
  if (n == 0 || w == NULL)
    return NULL;
  while (n > 0 && (w[n - 1] == L'\r' || w[n - 1] == L'\n' || w[n - 1] == L' ' ||
                   w[n - 1] == L'.'))
    w[--n] = L'\0';
  char *s = wpool__win_utf8(w);
  LocalFree(w);
  return s;
}

int wpool__win_fail(char **errmsg, int fallback, DWORD err, const char *fmt,
                    ...) {
  int code = err ? wpool__win_code(err, fallback) : fallback;
  if (errmsg == NULL)
    return code;
  *errmsg = NULL;
  char tail[64] = "";
  char *text = err ? system_text(err) : NULL;
  const char *shown = text ? text : "system error";
  if (err)
    snprintf(tail, sizeof tail, " (error %lu)", (unsigned long)err);
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  int w = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  size_t n =
      w < 0 ? 0 : (size_t)w + (err ? 2 + strlen(shown) : 0) + strlen(tail) + 1;
  char *msg = n ? malloc(n) : NULL;
  if (msg != NULL) {
    vsnprintf(msg, n, fmt, again);
    if (err)
      snprintf(msg + w, n - (size_t)w, ": %s%s", shown, tail);
    *errmsg = msg;
  }
  va_end(again);
  free(text);
  return code;
}
