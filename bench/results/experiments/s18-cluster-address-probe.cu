// Session 18: which shared-window addresses does a CTA see in a 2-CTA cluster launch?
#include <cstdio>
#include <cuda_runtime.h>
template <int Cluster> __device__ void body(unsigned long long *out) {
  extern __shared__ __align__(1024) char dyn[];
  __shared__ int stat;
  unsigned rank = 0;
  if (Cluster > 1) asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
  if (threadIdx.x == 0) {
    unsigned long long *o = out + 4 * blockIdx.x;
    o[0] = rank;
    o[1] = __cvta_generic_to_shared(dyn);
    o[2] = __cvta_generic_to_shared(&stat);
    o[3] = (unsigned long long)dyn;
    stat = 1;
  }
}
__global__ void one(unsigned long long *out) { body<1>(out); }
__global__ void __cluster_dims__(2, 1, 1) two(unsigned long long *out) { body<2>(out); }
int main() {
  unsigned long long *d, h[16];
  cudaMalloc(&d, sizeof h);
  for (int c = 1; c <= 2; ++c) {
    if (c == 1) one<<<4, 32, 4096>>>(d); else two<<<4, 32, 4096>>>(d);
    cudaError_t e = cudaDeviceSynchronize();
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    for (int b = 0; b < 4; ++b)
      printf("cluster %d cta %d rank %llu dyn.shared 0x%llx static.shared 0x%llx generic %p (%s)\n", c, b,
             h[4 * b], h[4 * b + 1], h[4 * b + 2], (void *)h[4 * b + 3], cudaGetErrorString(e));
  }
}
