/*
 * Failure injection for wpool's own tests (CMake option
 * WPOOL_FAULT_INJECTION, never in a release build): every step of
 * wpool_create that can fail is a fault point, and the environment
 * variable WPOOL_FAULT_AT=N makes the N-th point reached by the next
 * wpool_create fail as if memory or a system resource had run out. A test
 * walks N = 1, 2, ... until create succeeds, so that every error path runs,
 * under AddressSanitizer, at least once.
 */
#ifndef WPOOL_FAULT_H
#define WPOOL_FAULT_H

#ifdef WPOOL_FAULT_INJECTION
/* Read WPOOL_FAULT_AT: called as wpool_create starts. */
void wpool__fault_arm(void);
/* 1 when this fault point must fail. */
int wpool__fault(void);
#define WPOOL__FAULT() wpool__fault()
#else
#define wpool__fault_arm() ((void)0)
#define WPOOL__FAULT() 0
#endif

#endif
