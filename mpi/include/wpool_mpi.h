/**
 * @file wpool_mpi.h
 * The same program on many machines, over MPI (wpool::mpi).
 *
 * Launch the program with `mpiexec -n K ./prog args` (or srun): rank 0 runs
 * main() and owns the pools; every other rank serves them. A program
 * becomes distributed by two changed lines:
 *
 *     int main(int argc, char **argv) {
 *       if (wpool_mpi_init(&argc, &argv, NULL))   // was wpool_bootstrap()
 *         return 1;
 *       ...
 *       wpool_mpi_create(&pool, &opts, &err);     // was wpool_create()
 *
 * Each worker slot of such a pool is a worker process on a serving rank,
 * started there by the ordinary fork or spawn machinery (opts.method): a
 * task that crashes, hangs past its time limit or is cancelled kills that
 * local worker, never a rank, and fails alone with a message that names
 * the host and the rank. Every Pool call works as with a local pool.
 *
 * Rules:
 * - wpool_mpi_init() replaces wpool_bootstrap() as the first line of main()
 *   (it calls it), before MPI_Init: the program must not call MPI_Init
 *   itself before it. If it has initialized MPI already, wpool uses it and
 *   leaves its finalization to the program.
 * - Functions are registered before wpool_mpi_init() (WPOOL_REGISTER does:
 *   it runs before main()); every rank must run the same program.
 * - One MPI pool at a time; local pools (wpool_create()) may coexist.
 * - Rank 0 makes every MPI call of the component from the pool's I/O thread
 *   (MPI_THREAD_SERIALIZED at least): a program that uses MPI itself
 *   between wpool_mpi_init() and wpool_mpi_finalize() must be initialized
 *   with MPI_THREAD_MULTIPLE and must not use wpool's communicator.
 */
#ifndef WPOOL_MPI_H
#define WPOOL_MPI_H

#include "wpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * First line of main(), in place of wpool_bootstrap(). In a spawned local
 * worker it serves tasks and exits (wpool_bootstrap()). Otherwise it
 * initializes MPI (MPI_Init_thread, unless the program did) and:
 * - on rank 0 returns 0, having arranged for wpool_mpi_finalize() to run at
 *   exit;
 * - on every other rank serves rank 0's MPI pools until rank 0 calls
 *   wpool_mpi_finalize() (or exits), then finalizes MPI and exits the
 *   process with status 0 (1 if serving failed): it does not return.
 * argc and argv are passed to MPI_Init_thread (which may change them).
 * Returns 0 on rank 0, or an error (the message in *errmsg when not NULL,
 * to release with wpool_free()): WPOOL_ENOTSUP (the MPI offers less than
 * MPI_THREAD_SERIALIZED), WPOOL_ESTATE (called twice), WPOOL_ESYS (an MPI
 * call failed), WPOOL_ENOMEM. Call it once, from the main thread.
 */
WPOOL_EXTERN int wpool_mpi_init(int *argc, char ***argv, char **errmsg);

/**
 * wpool_create() whose workers run on the serving ranks. opts may be NULL.
 * opts->processes = 0 means the CPUs of all serving ranks together; slots
 * are spread evenly over the serving ranks (slot g on rank 1 + g % K).
 * opts->method is how the serving ranks start their local workers
 * (WPOOL_FORK or WPOOL_SPAWN); WPOOL_THREAD is WPOOL_EINVAL. Every other
 * option (initializer, maxtasksperchild, time limits, memory limits)
 * applies on the serving ranks as it would locally.
 * With no serving rank (one process, or not under mpiexec) it is
 * wpool_create(): the same program runs on one machine.
 * Errors: those of wpool_create(), and WPOOL_ESTATE (wpool_mpi_init() was
 * not called, or an MPI pool exists already), WPOOL_ESPAWN with a message
 * naming the rank (a serving rank runs another program: its registered
 * functions differ, or it could not start its workers).
 * Call it on rank 0, from any thread.
 */
WPOOL_EXTERN int wpool_mpi_create(wpool_t **pool, const wpool_options_t *opts,
                                  char **errmsg);

/**
 * Rank 0: tell every serving rank to finalize and exit, then finalize MPI
 * (if wpool_mpi_init() initialized it). Idempotent; runs at exit on its
 * own. Every MPI pool must have been destroyed (else WPOOL_ESTATE and
 * nothing is done). On a serving rank, or in a forked child of rank 0:
 * WPOOL_ESTATE, and nothing is done.
 */
WPOOL_EXTERN int wpool_mpi_finalize(void);

/** Number of serving ranks (MPI size - 1), or -1 before wpool_mpi_init(). */
WPOOL_EXTERN int wpool_mpi_serving_ranks(void);

#ifdef __cplusplus
}
#endif

#endif
