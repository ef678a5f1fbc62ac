/* fault: ACCEL_FAULT names a site, alone or with the rank it fails on (as
 * the launcher numbers it); nothing else matches. */
#include <errno.h>
#include <stdlib.h>

#include "testutil.h"
#include "util/fault.h"

START_TEST(unset_or_other_sites_never_fail)
{
    unsetenv("ACCEL_FAULT");
    ck_assert(!fault_at("sync"));
    setenv("ACCEL_FAULT", "sync", 1);
    ck_assert(!fault_at("syn"));
    ck_assert(!fault_at("sync.more"));
    ck_assert(!fault_at("checksum"));
    setenv("ACCEL_FAULT", "sync.more", 1);
    ck_assert(!fault_at("sync"));
    setenv("ACCEL_FAULT", "", 1);
    ck_assert(!fault_at("sync"));
}
END_TEST

START_TEST(a_site_alone_fails_everywhere_with_an_errno)
{
    setenv("ACCEL_FAULT", "resume.load", 1);
    errno = 0;
    ck_assert(fault_at("resume.load"));
    ck_assert_int_eq(errno, EIO);
}
END_TEST

START_TEST(a_site_at_a_rank_fails_that_rank_only)
{
    unsetenv("PMIX_RANK");
    unsetenv("SLURM_PROCID");
    setenv("ACCEL_FAULT", "sync@2", 1);
    setenv("OMPI_COMM_WORLD_RANK", "2", 1);
    ck_assert(fault_at("sync"));
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    ck_assert(!fault_at("sync"));
    unsetenv("OMPI_COMM_WORLD_RANK");
    setenv("SLURM_PROCID", "2", 1); /* srun without PMIx */
    ck_assert(fault_at("sync"));
    unsetenv("SLURM_PROCID");
    ck_assert(!fault_at("sync")); /* no launcher: rank 0 */
    setenv("ACCEL_FAULT", "sync@0", 1);
    ck_assert(fault_at("sync"));
    setenv("ACCEL_FAULT", "sync@", 1);
    ck_assert(!fault_at("sync"));
    setenv("ACCEL_FAULT", "sync@0x", 1);
    ck_assert(!fault_at("sync"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("fault");
    tcase_add_test(tc, unset_or_other_sites_never_fail);
    tcase_add_test(tc, a_site_alone_fails_everywhere_with_an_errno);
    tcase_add_test(tc, a_site_at_a_rank_fails_that_rank_only);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
