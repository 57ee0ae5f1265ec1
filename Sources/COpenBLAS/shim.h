// OpenBLAS (Debian libopenblas-dev): its SGEMM picks AVX-512/AVX2/SSE kernels at run time, so LinAlg reaches
// the CPU's vector units without -march flags. This system library carries pkg-config `openblas`'s include
// and link flags to LinAlg; nothing is exported to Swift.
#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
#endif
