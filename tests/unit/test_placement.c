/* placement: the start-up line that says which host holds which ranks,
 * over host lists made up here as the ranks would report them. */
#include <string.h>

#include "comm/placement.h"
#include "testutil.h"

/* names[i] as rank i's host, in the layout comm_placement_text reads */
static const char *layout(const char *const *names, int n)
{
    static char hosts[16][COMM_HOST_MAX];
    memset(hosts, 0, sizeof hosts);
    for (int i = 0; i < n; i++)
        strcpy(hosts[i], names[i]);
    return hosts[0];
}

/* mpirun --host nodea:2,nodeb:2: each node's ranks are consecutive. */
START_TEST(nodes_in_blocks)
{
    const char *names[] = {"nodea", "nodea", "nodeb", "nodeb"};
    char line[256];
    ck_assert_int_eq(comm_placement_text(layout(names, 4), 4, line, sizeof line), 2);
    ck_assert_str_eq(line, "ranks on 2 nodes: nodea (ranks 0-1), nodeb (ranks 2-3)");
}
END_TEST

/* --map-by node deals ranks round-robin; a node with one rank says "rank". */
START_TEST(round_robin_and_single)
{
    const char *names[] = {"n1", "n2", "n1", "n2", "n1", "n3"};
    char line[256];
    ck_assert_int_eq(comm_placement_text(layout(names, 6), 6, line, sizeof line), 3);
    ck_assert_str_eq(line, "ranks on 3 nodes: n1 (ranks 0, 2, 4), n2 (ranks 1, 3), n3 (rank 5)");
    const char *mixed[] = {"n1", "n1", "n2", "n1", "n1", "n1"};
    comm_placement_text(layout(mixed, 6), 6, line, sizeof line);
    ck_assert_str_eq(line, "ranks on 2 nodes: n1 (ranks 0-1, 3-5), n2 (rank 2)");
}
END_TEST

START_TEST(one_node)
{
    const char *names[] = {"vm", "vm"};
    char line[256];
    ck_assert_int_eq(comm_placement_text(layout(names, 2), 2, line, sizeof line), 1);
    ck_assert_str_eq(line, "ranks on 1 node: vm (ranks 0-1)");
}
END_TEST

/* A line longer than the buffer ends in "...", within the buffer. */
START_TEST(cut_short)
{
    const char *names[] = {"a-long-node-name-1", "a-long-node-name-2", "a-long-node-name-3"};
    char line[40];
    memset(line, 'x', sizeof line);
    ck_assert_int_eq(comm_placement_text(layout(names, 3), 3, line, sizeof line), 3);
    ck_assert_uint_eq(strlen(line), sizeof line - 1);
    ck_assert_str_eq(line + sizeof line - 4, "...");
    ck_assert(!strncmp(line, "ranks on 3 nodes: a-long-node-name-1", 36));
}
END_TEST

/* One rank alone: the gather runs without MPI and names this host. */
START_TEST(gather_on_one_rank)
{
    comm_info ci = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1};
    char line[256];
    ck_assert_int_eq(comm_placement(&ci, line, sizeof line), 1);
    ck_assert(strstr(line, "(rank 0)"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("placement");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, nodes_in_blocks);
    tcase_add_test(tc, round_robin_and_single);
    tcase_add_test(tc, one_node);
    tcase_add_test(tc, cut_short);
    tcase_add_test(tc, gather_on_one_rank);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
