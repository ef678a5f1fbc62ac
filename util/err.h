/* err: the project's one error channel.
 *
 * Library code never prints and never exits. A function that fails records
 * one human-readable line with err_set() and returns -1 (or NULL); callers
 * may add context in front with err_prefix() and pass the failure up. Only
 * main() prints the message ("accel-train: error: <msg>") and exits.
 *
 * The buffer is thread-local so a background thread can fail without
 * clobbering the main thread's message. */
#ifndef ACCEL_ERR_H
#define ACCEL_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 1024

#if defined(__GNUC__)
#define ERR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ERR_PRINTF(a, b)
#endif

#ifdef __cplusplus /* the CUDA backend's .cu files are C++ */
extern "C" {
#endif

/* Replaces the current message. Always returns -1 so callers can write
 * `return err_set(...)`. */
int err_set(const char *fmt, ...) ERR_PRINTF(1, 2);

/* Puts formatted text in front of the current message ("ctx: old msg").
 * Returns -1. */
int err_prefix(const char *fmt, ...) ERR_PRINTF(1, 2);

/* Records a failed system call: "<what>: <strerror(errno)>". Returns -1. */
int err_errno(const char *fmt, ...) ERR_PRINTF(1, 2);

/* The current message ("" when none was set). */
const char *err_msg(void);

void err_clear(void);

#ifdef __cplusplus
}
#endif

#endif
