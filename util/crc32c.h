/* crc32c: CRC-32C (Castagnoli), as TFRecord files and checkpoint headers
 * use it. */
#ifndef ACCEL_CRC32C_H
#define ACCEL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of data, continuing from crc (0 to start): crc32c_update(0, a)
 * then crc32c_update(that, b) is the CRC of a followed by b. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

/* The CRC of data alone; "123456789" gives 0xE3069283. */
uint32_t crc32c(const void *data, size_t len);

#endif
