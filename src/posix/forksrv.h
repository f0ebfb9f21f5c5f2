/*
 * The fork server's wire format and start-up state, shared by its two
 * halves: forksrv.c (the pool's side: start, requests, stop) and
 * srvloop.c (the server process itself).
 */
#ifndef WPOOL_POSIX_FORKSRV_H
#define WPOOL_POSIX_FORKSRV_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

enum { WPOOL__SRV_SPAWN = 1, WPOOL__SRV_REAP = 2, WPOOL__SRV_QUIT = 3 };

/* QUIT's flag (no reply; the pool closes the socket next): leave the
   teardown of the server's memory to an orphan that shares it, so that
   the server's exit, which the pool waits for, does not include it. */
#define WPOOL__QUIT_HANDOFF 1

/* Both ends are copies of one program: plain structs in host order. */
typedef struct wpool__srv_request {
  int32_t op, flags; /* flags: WPOOL__REAP_* (util.h) */
  int64_t pid;
} wpool__srv_request_t;

typedef struct wpool__srv_reply {
  int32_t err, status; /* err: errno of the server's failed call, or 0 */
  int64_t pid;
} wpool__srv_reply_t;

/* The thread that started the server: workers get its signal state back, as
   if they had been forked from there. */
typedef struct wpool__srv_origin {
  sigset_t mask;
  struct sigaction chld;
  pid_t parent;
} wpool__srv_origin_t;

/*
 * The server process: serve requests on sock until the pool closes it or
 * the parent process dies, then kill every worker (and whatever they left)
 * and _exit. Entered right after the fork, with every signal blocked.
 */
_Noreturn void wpool__srv_serve(int sock, const wpool__srv_origin_t *o);

#endif
