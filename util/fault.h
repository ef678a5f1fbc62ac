/* fault: failures on purpose, for the tests of failure paths.
 *
 * Some failures are rare and hard to cause from outside (one rank out of
 * memory while its peers are fine, gethostname failing), yet what follows
 * them must be right: a rank that fails alone in start-up must not leave
 * its peers waiting in a collective. With ACCEL_FAULT=SITE or
 * ACCEL_FAULT=SITE@RANK in the environment, fault_at(SITE) is true at that
 * named place (in the process of that rank only, where one is given, as
 * the launcher numbers it), and the code there takes its failure path as if
 * the call had failed (errno is EIO). Unset, nothing changes. The sites
 * are named where they are used; tests/cli/startup_fault.sh exercises each. */
#ifndef ACCEL_FAULT_H
#define ACCEL_FAULT_H

#include <stdbool.h>

bool fault_at(const char *site);

#endif
