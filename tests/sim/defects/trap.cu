// GPGPU-Sim defect: a kernel whose code ends in a path nvcc made
// unreachable crashed the simulator before it ran, though the path is never
// taken. Two forms, one kernel each (sm_75 PTX, CUDA 13):
//  - trap_last: the PTX's last instruction is `trap` (__trap() at the end).
//    The simulator did not end a basic block at a trap, and took the
//    instruction after it as the block's successor: past the end of the code,
//    a null pointer (segmentation fault in function_info::
//    connect_basic_blocks, at the launch).
//  - null_path: a store through a pointer that is null on one path; nvcc
//    branches to an empty label at the end of the code, and the loader read
//    the instruction there, past the end (segmentation fault in
//    function_info::ptx_assemble, as the PTX is loaded).
// On a GPU both run. Fixed by tests/sim/patches/trap.patch (a trap ends its
// block and the thread, as exit does; a trailing label gets a trap; a trap
// that runs stops the program with a message); this program crashes
// without it.
#include <cstdio>

__global__ void trap_last(int *out, int n)
{
    int t = threadIdx.x;
    if (t < n) {
        out[t] = 2 * t;
        return;
    }
    __trap();
    __builtin_unreachable();
}

__global__ void null_path(int *out, int n)
{
    int t = threadIdx.x;
    int *p = t < n ? out : nullptr;
    p[t] = 3 * t;
}

int main()
{
    int *d, h[64];
    if (cudaMalloc(&d, sizeof h) != cudaSuccess)
        return 2;
    trap_last<<<1, 32>>>(d, 32);
    null_path<<<1, 32>>>(d + 32, 32);
    if (cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost) != cudaSuccess)
        return 2;
    int bad = 0;
    for (int i = 0; i < 32; i++)
        bad += (h[i] != 2 * i) + (h[32 + i] != 3 * i);
    printf("%s: kernels ending in an unreachable trap or label %s\n", bad ? "FAILED" : "ok",
           bad ? "computed wrong" : "ran");
    return bad != 0;
}
