/*
 * What a test program runs under. Sanitizers and valgrind make large
 * buffers and many processes slow, and valgrind changes what a faulting
 * copy leaves behind: tests size themselves down or check less there.
 *
 *   WT_HEAVY_TOOLS        defined under ASan or TSan
 *   WT_UNDER_VALGRIND()   non-zero under valgrind
 */
#ifndef WT_CHECKED_H
#define WT_CHECKED_H

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WT_HEAVY_TOOLS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WT_HEAVY_TOOLS 1
#endif
#endif
#if !defined(WT_HEAVY_TOOLS) && defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define WT_UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef WT_UNDER_VALGRIND
#define WT_UNDER_VALGRIND() 0
#endif

#endif
