/* Tiny helpers for the MPI semantics programs in tests/mpi: CHECK prints
 * what failed with the rank and exits non-zero (which ends the job).
 * Uses only mpi.h and libc, so the programs also build with Open MPI. */
#ifndef MT_H
#define MT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

static int mt_rank, mt_size;

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", mt_rank, __FILE__, \
                    __LINE__, #cond);                                            \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

#define OK(call) CHECK((call) == MPI_SUCCESS, "%s", #call)

/* Printed by rank 0 only, so the log says what was checked. */
#define SAY(...)                                                                 \
    do {                                                                         \
        if (mt_rank == 0) {                                                      \
            printf(__VA_ARGS__);                                                 \
            printf("\n");                                                        \
            fflush(stdout);                                                      \
        }                                                                        \
    } while (0)

static inline void mt_init(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &mt_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mt_size);
}

#endif
