// Per-query cost of the rotations, d = 384: dense matrix (rp_gathered_dots over 384 rows) vs
// the Hadamard rotation + 4-bit quantization. Thread CPU time over 20,000 queries.
#include "../../Sources/CKernels/kernels.c"
#include "../../Sources/CKernels/rabitq.c"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(void) {
    size_t d = 384, n = 20000; float *m = malloc(4 * d * d), *q = malloc(4 * d), *o = malloc(4 * d), signs[4 * 384];
    int32_t ids[384]; for (int i = 0; i < 384; i++) ids[i] = i;
    for (size_t i = 0; i < d * d; i++) m[i] = rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < d; i++) q[i] = rand() / (float)RAND_MAX - 0.5f;
    rp_rbq_signs(7, 4, d, signs); uint64_t planes[24]; float lo, delta; int32_t us; double acc = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (size_t k = 0; k < n; k++) { q[k % d] += 1e-3f; rp_gathered_dots(q, m, ids, d, d, o); acc += o[k % d]; }
        double t1 = now();
        for (size_t k = 0; k < n; k++) { q[k % d] += 1e-3f; rp_rbq_rotate(signs, 4, q, d, d, o); rp_rbq_quantize_query(o, d, planes, &lo, &delta, &us); acc += us; }
        double t2 = now();
        printf("dense rotation %.2f us/query; Hadamard rotation + 4-bit planes %.2f us/query (%g)\n", (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6, acc);
    }
}
