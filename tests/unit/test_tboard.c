/* tboard: CRC-32C against its published check value, and the TFRecord
 * framing of an event file read back byte by byte. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "trainer/tboard.h"
#include "util/crc32c.h"

START_TEST(crc32c_check_value)
{
    /* the check value of CRC-32C (RFC 3720, appendix B.4) */
    ck_assert_uint_eq(crc32c("123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(crc32c("", 0), 0u);
}
END_TEST

static uint32_t masked(const void *p, size_t n)
{
    uint32_t c = crc32c(p, n);
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

START_TEST(records_are_framed)
{
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    tboard tb;
    ck_assert_int_eq(tboard_open(&tb, dir), 0);
    ck_assert_int_eq(tboard_scalar(&tb, "train/loss", 7, 0.5f), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s", tb.path);
    ck_assert_ptr_nonnull(strstr(path, "/events.out.tfevents."));
    ck_assert_int_eq(tboard_close(&tb), 0);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t at = 0;
    int records = 0;
    while (at < n) {
        uint64_t len;
        uint32_t len_crc, data_crc;
        memcpy(&len, buf + at, 8);
        memcpy(&len_crc, buf + at + 8, 4);
        ck_assert_uint_eq(len_crc, masked(buf + at, 8));
        ck_assert_uint_le(at + 16 + len, n);
        memcpy(&data_crc, buf + at + 12 + len, 4);
        ck_assert_uint_eq(data_crc, masked(buf + at + 12, len));
        at += 16 + len;
        records++;
    }
    ck_assert_int_eq(at, n);
    ck_assert_int_eq(records, 2); /* the file version, then the scalar */
    ck_assert_ptr_nonnull(memmem(buf, n, "brain.Event:2", 13));
    ck_assert_ptr_nonnull(memmem(buf, n, "train/loss", 10));
    remove(path);
    remove(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tboard");
    TCase *tc = tcase_create("tboard");
    tcase_add_test(tc, crc32c_check_value);
    tcase_add_test(tc, records_are_framed);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
