#ifndef RAGPIPE_KERNELS_H
#define RAGPIPE_KERNELS_H
// Distance kernels over compressed vector codes (docs/FORMAT.md, "Vector codes").
//
// Each kernel is one plain C loop compiled several times with per-function target attributes
// (AVX-512, AVX2, the baseline) and chosen once at run time from the CPU's features, so a plain
// `swift build -c release` gets the wide instructions without `-target-cpu` flags.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set levels a kernel can run at.
typedef enum {
    RP_LEVEL_SCALAR = -1,    ///< not a CPU level: plain libm loops, the oracle of the encoder kernels
    RP_LEVEL_PORTABLE = 0,   ///< the baseline the compiler targets (SSE2 on x86-64)
    RP_LEVEL_AVX2 = 1,       ///< AVX2 + FMA + F16C
    RP_LEVEL_AVX512 = 2,     ///< AVX-512 F + BW
} rp_level;

/// The best level this CPU supports (cached after the first call).
rp_level rp_cpu_level(void);

/// Whether the CPU has AVX-512 BF16 (vdpbf16ps), beside the AVX-512 level.
int rp_cpu_has_avx512_bf16(void);

/// SQ8: scores[i] = Σ_j query[j] · codes[i·d + j] with 16-bit query weights and 8-bit codes,
/// summed exactly in 32-bit integers. The caller keeps Σ_j |query[j]| · 255 below 2^31.
void rp_sq8_scores(const int16_t *query, const uint8_t *codes, size_t count, size_t dimension,
                   int32_t *scores);

/// FP16: scores[i] = Σ_j query[j] · half(codes[i·d + j]) in float.
void rp_f16_scores(const float *query, const uint16_t *codes, size_t count, size_t dimension,
                   float *scores);

/// The same kernels at a chosen level (tests compare every level the CPU has).
void rp_sq8_scores_at(rp_level level, const int16_t *query, const uint8_t *codes, size_t count,
                      size_t dimension, int32_t *scores);
void rp_f16_scores_at(rp_level level, const float *query, const uint16_t *codes, size_t count,
                      size_t dimension, float *scores);

/// The first index of the largest of `count` values (k-means assignment scans a score row per
/// point); `*best` receives the value. NaNs are never the largest.
size_t rp_argmax(const float *values, size_t count, float *best);

/// The indices of the `l` largest of `count` values (1 ≤ l ≤ count), ascending: the candidate
/// centroids k-means keeps per point between full assignments. Of equal values the lower
/// index is kept; NaNs are never kept while a number is left.
void rp_top_indices(const float *values, size_t count, size_t l, int32_t *indices);

/// out[c] = Σ_j x[j] · rows[ids[c]·d + j] for c < count: a point against chosen centroids.
void rp_gathered_dots(const float *x, const float *rows, const int32_t *ids, size_t count, size_t dimension, float *out);

/// IEEE binary16 conversions, round to nearest even; NaN stays NaN, overflow becomes infinity.
void rp_f32_to_f16(const float *input, uint16_t *output, size_t count);
void rp_f16_to_f32(const uint16_t *input, float *output, size_t count);

/// Atomically `(*counter)++`, returning the old value: threads taking work items one at a time.
size_t rp_take_next(size_t *counter);

#ifdef __cplusplus
}
#endif
#endif
