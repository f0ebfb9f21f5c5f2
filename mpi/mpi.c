/*
 * wpool_mpi_init, wpool_mpi_create, wpool_mpi_finalize: MPI's start and end
 * on every rank, and pools whose channels are MPI channels (owner.c).
 */
#include "wire.h"
#include "wpool_mpi.h"
#include "wpool_transport.h"

#include <stdlib.h>
#include <string.h>

extern const wpool_chan_ops_t wpm_chan;

static void at_exit(void) { wpool_mpi_finalize(); }

/* Every rank's host and CPU count, to rank 0. */
static int gather_facts(void) {
  int n = 0;
  char name[MPI_MAX_PROCESSOR_NAME];
  if (MPI_Get_processor_name(name, &n) != MPI_SUCCESS)
    strcpy(name, "?");
  name[sizeof wpm_w.host - 1] = '\0';
  strcpy(wpm_w.host, name);
  int ncpu = wpm_ncpu();
  if (wpm_w.rank == 0) {
    wpm_w.hosts = calloc((size_t)wpm_w.size, sizeof *wpm_w.hosts);
    wpm_w.ncpu = calloc((size_t)wpm_w.size, sizeof *wpm_w.ncpu);
    if (!wpm_w.hosts || !wpm_w.ncpu)
      return WPOOL_ENOMEM; /* the others block in the gather: the job ends */
  }
  if (MPI_Gather(wpm_w.host, WPM_HOST_MAX, MPI_CHAR,
                 wpm_w.hosts ? wpm_w.hosts[0] : NULL, WPM_HOST_MAX, MPI_CHAR, 0,
                 wpm_w.comm) != MPI_SUCCESS ||
      MPI_Gather(&ncpu, 1, MPI_INT, wpm_w.ncpu, 1, MPI_INT, 0, wpm_w.comm) !=
          MPI_SUCCESS)
    return WPOOL_ESYS;
  return 0;
}

int wpool_mpi_init(int *argc, char ***argv, char **errmsg) {
  if (errmsg)
    *errmsg = NULL;
  if (!argc || !argv)
    return WPOOL_EINVAL;
  /* A spawned local worker stops here, before MPI: it must not join the
     job (nor need the launcher's variables, which are gone anyway). */
  int rc = wpool_bootstrap(*argc, *argv);
  if (rc)
    return rc;
  if (wpm_w.up) {
    wpm_msg(errmsg, "wpool_mpi_init() was called already");
    return WPOOL_ESTATE;
  }
  int inited = 0, provided = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) !=
        MPI_SUCCESS) {
      wpm_msg(errmsg, "MPI_Init_thread failed");
      return WPOOL_ESYS;
    }
    wpm_w.we_init = 1;
  } else {
    MPI_Query_thread(&provided);
  }
  wpm_w.multiple = provided >= MPI_THREAD_MULTIPLE;
  if (provided < MPI_THREAD_SERIALIZED) {
    wpm_msg(errmsg, "this MPI offers less than MPI_THREAD_SERIALIZED: the "
                    "pool's I/O thread could not call it");
    return WPOOL_ENOTSUP;
  }
  if (MPI_Comm_dup(MPI_COMM_WORLD, &wpm_w.comm) != MPI_SUCCESS) {
    wpm_msg(errmsg, "MPI_Comm_dup failed");
    return WPOOL_ESYS;
  }
  /* Errors come back as codes on our communicator, never as an abort of
     the job from inside the library. */
  MPI_Comm_set_errhandler(wpm_w.comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(wpm_w.comm, &wpm_w.rank);
  MPI_Comm_size(wpm_w.comm, &wpm_w.size);
  rc = gather_facts();
  if (rc) {
    wpm_msg(errmsg, "could not learn the ranks' hosts");
    return rc;
  }
  /* For tests and the benchmark only: a slow link, made by holding every
     message this many microseconds after it arrives (on every rank). */
  const char *delay = getenv("WPOOL_MPI_TEST_DELAY_US");
  if (delay && atol(delay) > 0)
    wpm_w.delay_ns = (int64_t)atol(delay) * 1000;
  wpm_w.up = 1;
  wpm_w.pid = wpm_getpid();
  if (wpm_w.rank == 0) {
    atexit(at_exit);
    return 0;
  }
  /* A serving rank: local workers and what their tasks start must not
     take themselves for MPI processes of this job. */
  wpm_scrub_env();
  rc = wpm_serve();
  MPI_Comm_free(&wpm_w.comm);
  if (wpm_w.we_init)
    MPI_Finalize();
  exit(rc ? 1 : 0);
}

typedef struct create_args {
  wpool_t **pool;
  const wpool_options_t *opts;
  char **errmsg;
} create_args_t;

/* A local pool's fork server must not inherit MPI's crash handlers, or a
   task's crash would print MPI's report of it. */
static int create_local(void *arg) {
  create_args_t *a = arg;
  return wpool_create(a->pool, a->opts, a->errmsg);
}

int wpool_mpi_create(wpool_t **pool, const wpool_options_t *opts,
                     char **errmsg) {
  if (errmsg)
    *errmsg = NULL;
  if (!pool)
    return WPOOL_EINVAL;
  *pool = NULL;
  if (!wpm_w.up || wpm_w.finished || wpm_w.rank != 0 ||
      wpm_w.pid != wpm_getpid()) {
    wpm_msg(errmsg, "wpool_mpi_create() needs wpool_mpi_init() first, on "
                    "rank 0, before wpool_mpi_finalize()");
    return WPOOL_ESTATE;
  }
  if (wpm_w.size < 2) {
    create_args_t a = {pool, opts, errmsg};
    return wpm_without_crash_handlers(create_local, &a);
  }
  wpool_options_t o;
  wpool_options_init(&o);
  if (opts)
    o = *opts;
  if (o.method == WPOOL_THREAD) {
    wpm_msg(errmsg, "an MPI pool runs process workers on its serving ranks "
                    "(WPOOL_FORK or WPOOL_SPAWN), not threads");
    return WPOOL_EINVAL;
  }
  if (o.processes == 0)
    for (int r = 1; r < wpm_w.size; r++)
      o.processes += wpm_w.ncpu[r];
  return wpool_create_with(pool, &o, &wpm_chan, errmsg);
}

int wpool_mpi_finalize(void) {
  /* A forked child of rank 0 (which may run atexit handlers) is not rank
     0: it must not end the job's MPI. */
  if (!wpm_w.up || wpm_w.rank != 0 || wpm_w.pid != wpm_getpid())
    return WPOOL_ESTATE;
  if (wpm_w.finished)
    return 0;
  if (atomic_load(&wpm_w.sessions) > 0)
    return WPOOL_ESTATE;
  wpm_w.finished = 1;
  wpm_outbox_t out = {NULL, 0};
  const wpm_hdr_t h = {M_SHUTDOWN, 0, 0, 0, 0};
  for (int r = 1; r < wpm_w.size; r++)
    wpm_send(&out, r, WPM_TAG, &h, NULL, 0, NULL, 0);
  wpm_outbox_drain(&out, 10000);
  MPI_Comm_free(&wpm_w.comm);
  free(wpm_w.hosts);
  free(wpm_w.ncpu);
  wpm_w.hosts = NULL;
  wpm_w.ncpu = NULL;
  if (wpm_w.we_init)
    MPI_Finalize();
  return 0;
}

int wpool_mpi_serving_ranks(void) { return wpm_w.up ? wpm_w.size - 1 : -1; }
