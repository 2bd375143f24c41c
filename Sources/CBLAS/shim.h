#ifndef RAGPIPE_CBLAS_SHIM_H
#define RAGPIPE_CBLAS_SHIM_H
// OpenBLAS (libopenblas-dev) provides cblas.h and openblas_set_num_threads.
#include <cblas.h>
#endif
