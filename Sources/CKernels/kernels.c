#include "ragpipe_kernels.h"
#include <math.h>
#include <string.h>

// Every kernel body is written once, as a plain loop over 16 independent lanes: integer sums
// vectorize as they stand, and float sums need the explicit lanes because the compiler may not
// reassociate a single float accumulator. The bodies are instantiated per target below.

static inline float half_bits_to_float(uint32_t h) {
    // Exponent and mantissa shifted into float position and rescaled by 2^112 turn every
    // normal and subnormal half into the exact float; Inf/NaN get the float's all-ones exponent.
    uint32_t em = h & 0x7fffu;
    uint32_t bits = em << 13;
    float f;
    memcpy(&f, &bits, 4);
    f *= 0x1p112f;
    uint32_t out;
    memcpy(&out, &f, 4);
    if (em >= 0x7c00u) out |= 0x7f800000u;
    out |= (h & 0x8000u) << 16;
    memcpy(&f, &out, 4);
    return f;
}

#define RP_SQ8_BODY                                                                     \
    for (size_t i = 0; i < count; i++) {                                                \
        const uint8_t *c = codes + i * dimension;                                       \
        int32_t sum = 0;                                                                \
        for (size_t j = 0; j < dimension; j++) sum += (int32_t)c[j] * (int32_t)query[j]; \
        scores[i] = sum;                                                                \
    }

#define RP_F16_BODY                                                                     \
    for (size_t i = 0; i < count; i++) {                                                \
        const uint16_t *c = codes + i * dimension;                                      \
        float lanes[16] = {0};                                                          \
        size_t j = 0;                                                                   \
        for (; j + 16 <= dimension; j += 16)                                            \
            for (int l = 0; l < 16; l++) lanes[l] += query[j + l] * half_bits_to_float(c[j + l]); \
        float sum = 0;                                                                  \
        for (int l = 0; l < 16; l++) sum += lanes[l];                                   \
        for (; j < dimension; j++) sum += query[j] * half_bits_to_float(c[j]);          \
        scores[i] = sum;                                                                \
    }

// Sixteen running maxima with a select per lane vectorize without fast-math; the index is found
// by a second, early-exiting pass.
#define RP_ARGMAX_BODY                                                                  \
    float lanes[16];                                                                    \
    for (int l = 0; l < 16; l++) lanes[l] = -__builtin_inff();                          \
    size_t j = 0;                                                                       \
    for (; j + 16 <= count; j += 16)                                                    \
        for (int l = 0; l < 16; l++) lanes[l] = values[j + l] > lanes[l] ? values[j + l] : lanes[l]; \
    float m = -__builtin_inff();                                                        \
    for (int l = 0; l < 16; l++) m = lanes[l] > m ? lanes[l] : m;                       \
    for (; j < count; j++) m = values[j] > m ? values[j] : m;                           \
    *best = m;                                                                          \
    for (size_t i = 0; i < count; i++) if (values[i] == m) return i;                    \
    return 0;

static size_t argmax_portable(const float *values, size_t count, float *best) { RP_ARGMAX_BODY }

static void sq8_portable(const int16_t *query, const uint8_t *codes, size_t count, size_t dimension, int32_t *scores) { RP_SQ8_BODY }
static void f16_portable(const float *query, const uint16_t *codes, size_t count, size_t dimension, float *scores) { RP_F16_BODY }

#if defined(__x86_64__) || defined(__i386__)
#define RP_X86 1
#include <immintrin.h>

__attribute__((target("avx2,fma,f16c")))
static void sq8_avx2(const int16_t *query, const uint8_t *codes, size_t count, size_t dimension, int32_t *scores) { RP_SQ8_BODY }

__attribute__((target("avx2,fma,f16c")))
static size_t argmax_avx2(const float *values, size_t count, float *best) { RP_ARGMAX_BODY }

__attribute__((target("avx512f,avx512bw,avx512vl")))
static size_t argmax_avx512(const float *values, size_t count, float *best) { RP_ARGMAX_BODY }

__attribute__((target("avx512f,avx512bw,avx512vl")))
static void sq8_avx512(const int16_t *query, const uint8_t *codes, size_t count, size_t dimension, int32_t *scores) { RP_SQ8_BODY }

// Half to float is one instruction with F16C (AVX2 level) or AVX-512F.
__attribute__((target("avx2,fma,f16c")))
static void f16_avx2(const float *query, const uint16_t *codes, size_t count, size_t dimension, float *scores) {
    for (size_t i = 0; i < count; i++) {
        const uint16_t *c = codes + i * dimension;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        size_t j = 0;
        for (; j + 16 <= dimension; j += 16) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(query + j), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(c + j))), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(query + j + 8), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(c + j + 8))), a1);
        }
        __m256 a = _mm256_add_ps(a0, a1);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        float sum = _mm_cvtss_f32(s);
        for (; j < dimension; j++) sum += query[j] * half_bits_to_float(c[j]);
        scores[i] = sum;
    }
}

__attribute__((target("avx512f")))
static void f16_avx512(const float *query, const uint16_t *codes, size_t count, size_t dimension, float *scores) {
    for (size_t i = 0; i < count; i++) {
        const uint16_t *c = codes + i * dimension;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        size_t j = 0;
        for (; j + 32 <= dimension; j += 32) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(query + j), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(c + j))), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(query + j + 16), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(c + j + 16))), a1);
        }
        for (; j + 16 <= dimension; j += 16)
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(query + j), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(c + j))), a0);
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        for (; j < dimension; j++) sum += query[j] * half_bits_to_float(c[j]);
        scores[i] = sum;
    }
}
#endif

rp_level rp_cpu_level(void) {
    static int cached = -1;
    int level = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (level >= 0) return (rp_level)level;
    level = RP_LEVEL_PORTABLE;
#ifdef RP_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        level = RP_LEVEL_AVX2;
    if (level == RP_LEVEL_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl"))
        level = RP_LEVEL_AVX512;
#endif
    __atomic_store_n(&cached, level, __ATOMIC_RELAXED);
    return (rp_level)level;
}

int rp_cpu_has_avx512_bf16(void) {
#ifdef RP_X86
    __builtin_cpu_init();
    return rp_cpu_level() >= RP_LEVEL_AVX512 && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

void rp_sq8_scores_at(rp_level level, const int16_t *query, const uint8_t *codes, size_t count, size_t dimension, int32_t *scores) {
#ifdef RP_X86
    if (level >= RP_LEVEL_AVX512) { sq8_avx512(query, codes, count, dimension, scores); return; }
    if (level >= RP_LEVEL_AVX2) { sq8_avx2(query, codes, count, dimension, scores); return; }
#endif
    (void)level;
    sq8_portable(query, codes, count, dimension, scores);
}

void rp_f16_scores_at(rp_level level, const float *query, const uint16_t *codes, size_t count, size_t dimension, float *scores) {
#ifdef RP_X86
    if (level >= RP_LEVEL_AVX512) { f16_avx512(query, codes, count, dimension, scores); return; }
    if (level >= RP_LEVEL_AVX2) { f16_avx2(query, codes, count, dimension, scores); return; }
#endif
    (void)level;
    f16_portable(query, codes, count, dimension, scores);
}

void rp_sq8_scores(const int16_t *query, const uint8_t *codes, size_t count, size_t dimension, int32_t *scores) {
    rp_sq8_scores_at(rp_cpu_level(), query, codes, count, dimension, scores);
}

void rp_f16_scores(const float *query, const uint16_t *codes, size_t count, size_t dimension, float *scores) {
    rp_f16_scores_at(rp_cpu_level(), query, codes, count, dimension, scores);
}

size_t rp_argmax(const float *values, size_t count, float *best) {
#ifdef RP_X86
    rp_level level = rp_cpu_level();
    if (level >= RP_LEVEL_AVX512) return argmax_avx512(values, count, best);
    if (level >= RP_LEVEL_AVX2) return argmax_avx2(values, count, best);
#endif
    return argmax_portable(values, count, best);
}

// Whether kept entry a leaves before b: the lower value, and of equal values the higher index.
static inline int top_leaves_first(const float *v, const int32_t *ix, size_t a, size_t b) {
    return v[a] < v[b] || (v[a] == v[b] && ix[a] > ix[b]);
}

static void top_sift_down(float *v, int32_t *ix, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && top_leaves_first(v, ix, l, m)) m = l;
        if (r < n && top_leaves_first(v, ix, r, m)) m = r;
        if (m == i) return;
        float tv = v[i]; v[i] = v[m]; v[m] = tv;
        int32_t ti = ix[i]; ix[i] = ix[m]; ix[m] = ti;
        i = m;
    }
}

void rp_top_indices(const float *values, size_t count, size_t l, int32_t *indices) {
    // A min-heap of the kept values (the one to leave at the root): a value enters only when it
    // beats the root, which after the first few hundred values is rare, and costs log l then.
    float kept[256];
    if (l > 256) l = 256;
    if (l > count) l = count;
    if (l == 0) return;
    for (size_t i = 0; i < l; i++) {
        kept[i] = values[i] == values[i] ? values[i] : -INFINITY;
        indices[i] = (int32_t)i;
    }
    for (size_t i = l / 2; i-- > 0;) top_sift_down(kept, indices, l, i);
    for (size_t i = l; i < count; i++) {
        if (!(values[i] > kept[0])) continue;
        kept[0] = values[i];
        indices[0] = (int32_t)i;
        top_sift_down(kept, indices, l, 0);
    }
    // Ascending indices: insertion sort of at most 256.
    for (size_t i = 1; i < l; i++) {
        int32_t v = indices[i];
        size_t j = i;
        while (j > 0 && indices[j - 1] > v) { indices[j] = indices[j - 1]; j--; }
        indices[j] = v;
    }
}

#define RP_GATHERED_DOTS_BODY                                                           \
    for (size_t c = 0; c < count; c++) {                                                \
        const float *y = rows + (size_t)ids[c] * dimension;                             \
        float lanes[16] = {0};                                                          \
        size_t j = 0;                                                                   \
        for (; j + 16 <= dimension; j += 16)                                            \
            for (int l = 0; l < 16; l++) lanes[l] += x[j + l] * y[j + l];               \
        float sum = 0;                                                                  \
        for (int l = 0; l < 16; l++) sum += lanes[l];                                   \
        for (; j < dimension; j++) sum += x[j] * y[j];                                  \
        out[c] = sum;                                                                   \
    }

static void gathered_dots_portable(const float *x, const float *rows, const int32_t *ids, size_t count, size_t dimension, float *out) { RP_GATHERED_DOTS_BODY }
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma")))
static void gathered_dots_avx2(const float *x, const float *rows, const int32_t *ids, size_t count, size_t dimension, float *out) { RP_GATHERED_DOTS_BODY }
__attribute__((target("avx512f")))
static void gathered_dots_avx512(const float *x, const float *rows, const int32_t *ids, size_t count, size_t dimension, float *out) { RP_GATHERED_DOTS_BODY }
#endif

void rp_gathered_dots(const float *x, const float *rows, const int32_t *ids, size_t count, size_t dimension, float *out) {
#if defined(__x86_64__) || defined(__i386__)
    rp_level level = rp_cpu_level();
    if (level >= RP_LEVEL_AVX512) { gathered_dots_avx512(x, rows, ids, count, dimension, out); return; }
    if (level >= RP_LEVEL_AVX2) { gathered_dots_avx2(x, rows, ids, count, dimension, out); return; }
#endif
    gathered_dots_portable(x, rows, ids, count, dimension, out);
}

void rp_f16_to_f32(const uint16_t *input, float *output, size_t count) {
    for (size_t i = 0; i < count; i++) output[i] = half_bits_to_float(input[i]);
}

void rp_f32_to_f16(const float *input, uint16_t *output, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t f;
        memcpy(&f, &input[i], 4);
        uint32_t sign = f & 0x80000000u;
        f ^= sign;
        uint16_t h;
        if (f >= 0x47800000u) {                 // ≥ 65520 rounds to infinity; NaN stays quiet NaN
            h = f > 0x7f800000u ? 0x7e00u : 0x7c00u;
        } else if (f < 0x38800000u) {           // below the smallest normal half: add 0.5 so the
            float v;                            // FPU rounds the mantissa at the subnormal position
            memcpy(&v, &f, 4);
            v += 0.5f;
            uint32_t b;
            memcpy(&b, &v, 4);
            h = (uint16_t)(b - 0x3f000000u);
        } else {                                // normal: rebias, round half to even on bit 13
            uint32_t odd = (f >> 13) & 1u;
            f += ((uint32_t)(15 - 127) << 23) + 0xfffu + odd;
            h = (uint16_t)(f >> 13);
        }
        output[i] = h | (uint16_t)(sign >> 16);
    }
}

size_t rp_take_next(size_t *counter) { return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }
