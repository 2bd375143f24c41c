#ifndef RAGPIPE_CBLAS_SHIM_H
#define RAGPIPE_CBLAS_SHIM_H
// Types and constants of the CBLAS interface (OpenBLAS's cblas.h, from libopenblas-dev).
// The library itself is loaded on first use (BLAS.swift), not linked: most runs of `query`
// and `chunk` never multiply a matrix and should not pay OpenBLAS's start-up.
#include <cblas.h>
#endif
