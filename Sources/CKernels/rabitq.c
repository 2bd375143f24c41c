#include "ragpipe_rabitq.h"
#include <math.h>
#include <string.h>

// The plain bodies, one per code; the AVX-512 one works on whole blocks of 8 (header comment).
#define RP_RBQ_DOTS_BODY                                                                \
    for (size_t i = 0; i < count; i++) {                                                \
        const uint64_t *c = codes + (i / 8) * words * 8 + (i % 8);                      \
        int32_t s = 0, p = 0;                                                           \
        for (size_t w = 0; w < words; w++) {                                            \
            uint64_t x = c[w * 8];                                                      \
            p += __builtin_popcountll(x);                                               \
            for (int k = 0; k < 4; k++) s += __builtin_popcountll(x & planes[k * words + w]) << k; \
        }                                                                               \
        dots[i] = s; pops[i] = p;                                                       \
    }

static void rbq_dots_portable(const uint64_t *planes, const uint64_t *codes, size_t count, size_t words, int32_t *dots, int32_t *pops) { RP_RBQ_DOTS_BODY }

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

// AVX2 machines all have POPCNT: one instruction per word and plane.
__attribute__((target("avx2,popcnt")))
static void rbq_dots_avx2(const uint64_t *planes, const uint64_t *codes, size_t count, size_t words, int32_t *dots, int32_t *pops) { RP_RBQ_DOTS_BODY }

// One 512-bit register holds word w of 8 codes: AND with each broadcast plane word, VPOPCNTQ,
// and 8 sums per block with no horizontal reduction.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq")))
static void rbq_dots_avx512(const uint64_t *planes, const uint64_t *codes, size_t count, size_t words, int32_t *dots, int32_t *pops) {
    size_t blocks = (count + 7) / 8;
    for (size_t b = 0; b < blocks; b++) {
        const uint64_t *c = codes + b * words * 8;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, ap = a0;
        for (size_t w = 0; w < words; w++) {
            __m512i x = _mm512_loadu_si512((const void *)(c + w * 8));
            ap = _mm512_add_epi64(ap, _mm512_popcnt_epi64(x));
            a0 = _mm512_add_epi64(a0, _mm512_popcnt_epi64(_mm512_and_si512(x, _mm512_set1_epi64((long long)planes[w]))));
            a1 = _mm512_add_epi64(a1, _mm512_popcnt_epi64(_mm512_and_si512(x, _mm512_set1_epi64((long long)planes[words + w]))));
            a2 = _mm512_add_epi64(a2, _mm512_popcnt_epi64(_mm512_and_si512(x, _mm512_set1_epi64((long long)planes[2 * words + w]))));
            a3 = _mm512_add_epi64(a3, _mm512_popcnt_epi64(_mm512_and_si512(x, _mm512_set1_epi64((long long)planes[3 * words + w]))));
        }
        __m512i s = _mm512_add_epi64(_mm512_add_epi64(a0, _mm512_slli_epi64(a1, 1)),
                                     _mm512_add_epi64(_mm512_slli_epi64(a2, 2), _mm512_slli_epi64(a3, 3)));
        size_t left = count - b * 8;
        __mmask8 m = left >= 8 ? (__mmask8)0xff : (__mmask8)((1u << left) - 1);
        _mm256_mask_storeu_epi32(dots + b * 8, m, _mm512_cvtepi64_epi32(s));
        _mm256_mask_storeu_epi32(pops + b * 8, m, _mm512_cvtepi64_epi32(ap));
    }
}

static int has_vpopcntdq(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512vpopcntdq") ? 1 : 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}
#endif

void rp_rbq_dots_at(rp_level level, const uint64_t *planes, const uint64_t *codes, size_t count, size_t words, int32_t *dots, int32_t *pops) {
#if defined(__x86_64__) || defined(__i386__)
    if (level >= RP_LEVEL_AVX512 && has_vpopcntdq()) { rbq_dots_avx512(planes, codes, count, words, dots, pops); return; }
    if (level >= RP_LEVEL_AVX2) { rbq_dots_avx2(planes, codes, count, words, dots, pops); return; }
#endif
    (void)level;
    rbq_dots_portable(planes, codes, count, words, dots, pops);
}

void rp_rbq_dots(const uint64_t *planes, const uint64_t *codes, size_t count, size_t words, int32_t *dots, int32_t *pops) {
    rp_rbq_dots_at(rp_cpu_level(), planes, codes, count, words, dots, pops);
}

void rp_rbq_signs(uint64_t seed, size_t rounds, size_t padded, float *signs) {
    // SplitMix64, the generator the Swift side uses for seeds (RagPipeSupport).
    uint64_t state = seed;
    for (size_t i = 0; i < rounds * padded; i++) {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        signs[i] = (z >> 63) ? -1.0f : 1.0f;
    }
}

// In-place normalized Walsh–Hadamard transform of n (a power of two) floats. Every butterfly is
// one add and one subtract, so the result does not depend on how the loop is vectorized.
static void fwht(float *x, size_t n) {
    for (size_t h = 1; h < n; h *= 2)
        for (size_t i = 0; i < n; i += 2 * h)
            for (size_t j = i; j < i + h; j++) {
                float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
    float s = 1.0f / sqrtf((float)n);
    for (size_t j = 0; j < n; j++) x[j] *= s;
}

void rp_rbq_rotate(const float *signs, size_t rounds, const float *x, size_t d, size_t padded, float *out) {
    size_t h = 1;
    while (h * 2 <= padded) h *= 2;
    memcpy(out, x, d * sizeof(float));
    for (size_t j = d; j < padded; j++) out[j] = 0;
    for (size_t r = 0; r < rounds; r++) {
        const float *sg = signs + r * padded;
        for (size_t j = 0; j < padded; j++) out[j] *= sg[j];
        fwht(out + ((r & 1) ? padded - h : 0), h);
    }
}

void rp_rbq_quantize_query(const float *rotated, size_t padded, uint64_t *planes, float *lo, float *delta, int32_t *usum) {
    float mn = rotated[0], mx = rotated[0];
    for (size_t j = 1; j < padded; j++) { mn = rotated[j] < mn ? rotated[j] : mn; mx = rotated[j] > mx ? rotated[j] : mx; }
    float step = mx > mn ? (mx - mn) / 15 : 1, inv = 1 / step;
    size_t words = padded / 64;
    int32_t sum = 0;
    for (size_t w = 0; w < words; w++) {
        uint64_t p0 = 0, p1 = 0, p2 = 0, p3 = 0;
        for (int b = 0; b < 64; b++) {
            float t = (rotated[w * 64 + b] - mn) * inv + 0.5f;
            int u = t >= 15 ? 15 : (t > 0 ? (int)t : 0);
            sum += u;
            p0 |= (uint64_t)(u & 1) << b;
            p1 |= (uint64_t)((u >> 1) & 1) << b;
            p2 |= (uint64_t)((u >> 2) & 1) << b;
            p3 |= (uint64_t)((u >> 3) & 1) << b;
        }
        planes[w] = p0; planes[words + w] = p1; planes[2 * words + w] = p2; planes[3 * words + w] = p3;
    }
    *lo = mn; *delta = step; *usum = sum;
}
