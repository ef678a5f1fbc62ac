/* hd: the marker for code that both backends compile.
 * Under nvcc a function marked ACCEL_HD is built for host and device, so the
 * CUDA kernels and the CPU loops call the very same formula. */
#ifndef ACCEL_HD_H
#define ACCEL_HD_H

#ifdef __CUDACC__
#define ACCEL_HD __host__ __device__
#else
#define ACCEL_HD
#endif

#endif
