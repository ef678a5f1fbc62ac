/* placement: which host each rank runs on, told once at start-up.
 *
 * A job spread over nodes by a host list or a batch system can land other
 * than meant (a node missing, one taken twice, ranks dealt round-robin).
 * When the ranks span more than one host, rank 0 says where they went, in
 * one line: "ranks on 2 nodes: nodea (ranks 0-1), nodeb (ranks 2-3)". The
 * host is the name gethostname gives each rank; the local rank that picks a
 * rank's GPU comes from MPI's own grouping of the ranks by node
 * (comm_mpi.c), and each rank's start-up line shows both. */
#ifndef ACCEL_PLACEMENT_H
#define ACCEL_PLACEMENT_H

#include <stddef.h>

#include "comm/comm.h"

/* The longest host name kept, with its terminating zero. */
enum { COMM_HOST_MAX = 64 };

/* hosts holds n names of COMM_HOST_MAX bytes, rank r's at hosts + r *
 * COMM_HOST_MAX. Writes the line into buf (cut short with "..." when it
 * does not fit) and returns the number of distinct hosts. Hosts are listed
 * in the order of their lowest rank, each with its ranks as ranges. */
int comm_placement_text(const char *hosts, int n, char *buf, size_t size);

/* Collective: every rank's host name ("?" where gethostname fails),
 * gathered, made into the line on every rank. Returns the number of
 * distinct hosts, or -1 with the error set (out of memory, the gather). */
int comm_placement(const comm_info *ci, char *buf, size_t size);

#endif
