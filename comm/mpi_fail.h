/* mpi_fail: the message for a failed MPI call, shared by comm's MPI code. */
#ifndef ACCEL_MPI_FAIL_H
#define ACCEL_MPI_FAIL_H

/* Records "<call> failed: <MPI's words> (...)" and returns -1. */
int comm_mpi_fail(const char *call, int code);

#define MPI_CHECK(call)                                                                            \
    do {                                                                                           \
        int mpi_rc_ = (call);                                                                      \
        if (mpi_rc_ != MPI_SUCCESS)                                                                \
            return comm_mpi_fail(#call, mpi_rc_);                                                  \
    } while (0)

#endif
