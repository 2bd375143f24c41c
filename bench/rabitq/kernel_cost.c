// Cost a code of the sq8 and the 1-bit kernels, d = 384, 2,000 codes in cache (docs/bench/rabitq-study.md).
//   kernel_cost sq8|rbq|none avx2 REPS   under valgrind --tool=callgrind: instructions (AVX2 bodies;
//                                        callgrind cannot run AVX-512); subtract the `none` run
//   kernel_cost sq8|rbq best REPS        TSC ticks a code at the CPU's best level
#include "../../Sources/CKernels/kernels.c"
#include "../../Sources/CKernels/rabitq.c"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>
int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: kernel_cost sq8|rbq|none avx2|best REPS\n"); return 2; }
    size_t n = 2000, W = 6; int which = argv[1][0] == 's' ? 0 : argv[1][0] == 'r' ? 1 : 2;
    rp_level level = strcmp(argv[2], "avx2") == 0 ? RP_LEVEL_AVX2 : rp_cpu_level();
    long reps = atol(argv[3]);
    uint64_t *c = aligned_alloc(64, n * W * 8 + 64); for (size_t i = 0; i < n * W; i++) c[i] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 2) ^ rand();
    uint64_t planes[24]; for (int i = 0; i < 24; i++) planes[i] = ((uint64_t)rand() << 33) ^ rand();
    int32_t *o = calloc(n + 16, 4), *p = calloc(n + 16, 4), *s = calloc(n + 16, 4);
    uint8_t *codes = malloc(n * 384); for (size_t i = 0; i < n * 384; i++) codes[i] = rand();
    int16_t w[384]; for (int i = 0; i < 384; i++) w[i] = rand() % 30000;
    long acc = 0; uint64_t t = __rdtsc();
    for (long k = 0; k < reps; k++) {
        if (which == 0) rp_sq8_scores_at(level, w, codes, n, 384, s);
        else if (which == 1) rp_rbq_dots_at(level, planes, c, n, W, o, p);
        acc += s[k % n] + o[k % n];
    }
    printf("%s at level %d: %.1f TSC ticks a code (%ld)\n", argv[1], level, (__rdtsc() - t) / (double)(reps * n), acc);
}
