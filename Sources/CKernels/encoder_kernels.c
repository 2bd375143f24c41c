#include "ragpipe_encoder.h"
#include <math.h>
#include <string.h>

typedef float rp_v4f __attribute__((ext_vector_type(4)));
typedef int32_t rp_v4i __attribute__((ext_vector_type(4)));
typedef float rp_v8f __attribute__((ext_vector_type(8)));
typedef int32_t rp_v8i __attribute__((ext_vector_type(8)));
typedef float rp_v16f __attribute__((ext_vector_type(16)));
typedef int32_t rp_v16i __attribute__((ext_vector_type(16)));

// The baseline: four lanes, no FMA (a fused multiply-add would be a libm call per lane).
#define RP_SUFFIX portable
#define RP_ROWS 4
#define RP_W 4
#define RP_V rp_v4f
#define RP_VI rp_v4i
#define RP_FMA(a, b, c) ((a) * (b) + (c))
#include "encoder_level.h"
#undef RP_FMA

#if defined(__x86_64__) || defined(__i386__)
#define RP_ENCODER_X86 1
#include <immintrin.h>
#define RP_FMA(a, b, c) __builtin_elementwise_fma((a), (b), (c))

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define RP_SUFFIX avx2
#define RP_ROWS 4
#define RP_W 8
#define RP_V rp_v8f
#define RP_VI rp_v8i
#include "encoder_level.h"
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))), apply_to = function)
#define RP_SUFFIX avx512
#define RP_ROWS 8
#define RP_W 16
#define RP_V rp_v16f
#define RP_VI rp_v16i
#include "encoder_level.h"
#pragma clang attribute pop
#undef RP_FMA

/// Context rows i0…i0+3 from bf16 weights `pb` (rows of `padded`) and pair-packed values `vp`;
/// inlined with a constant `chunks` (head size / 16) so the sums stay in registers.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16"), always_inline))
static inline void weighted_values_bf16(const uint16_t *pb, size_t padded, const uint16_t *vp, size_t length, size_t d,
                                        const float *inv, float *context, size_t i0, size_t width, size_t column,
                                        const size_t chunks) {
    __m512 acc[4][8];
    for (int r = 0; r < 4; r++) for (size_t c = 0; c < chunks; c++) acc[r][c] = _mm512_setzero_ps();
    for (size_t j = 0; j < length; j += 2) {
        __m512bh weight[4];
        for (int r = 0; r < 4; r++) {
            uint32_t pair;
            memcpy(&pair, pb + r * padded + j, 4);
            weight[r] = (__m512bh)_mm512_set1_epi32((int)pair);
        }
        for (size_t c = 0; c < chunks; c++) {
            __m512bh value = (__m512bh)_mm512_loadu_si512(vp + ((j / 2) * d + c * 16) * 2);
            for (int r = 0; r < 4; r++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], weight[r], value);
        }
    }
    for (int r = 0; r < 4 && i0 + r < length; r++) {
        float *out = context + (i0 + r) * width + column;
        for (size_t c = 0; c < chunks; c++) _mm512_storeu_ps(out + c * 16, _mm512_mul_ps(acc[r][c], _mm512_set1_ps(inv[r])));
    }
}

/// Attention with bf16 operands and fp32 sums (vdpbf16ps: two products per lane per
/// instruction), for the reduced precisions: Q, K, V and the softmax weights are rounded to
/// bf16; scores, softmax and the context stay fp32. Keys are packed as pairs of dimensions
/// [d/2][keys][2] and values as pairs of keys [keys/2][d][2], the layouts vdpbf16ps multiplies.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")))
static void attention_bf16(const float *qkv, size_t length, size_t heads, size_t d, size_t stride, float scale,
                           float *context, float *scratch) {
    enum { ROWS = 4 };
    size_t padded = (length + 15) / 16 * 16;          // keys, a multiple of 16 (and so even)
    size_t width = heads * d, pairs = d / 2, chunks = d / 16;
    uint16_t *kp = (uint16_t *)scratch;                // d × padded
    uint16_t *vp = kp + d * padded;                    // padded × d
    uint16_t *qb = vp + d * padded;                    // ROWS × d
    uint16_t *pb = qb + ROWS * d;                      // ROWS × padded
    float *p = (float *)(pb + ROWS * padded + 32);     // ROWS × padded
    p = (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (size_t h = 0; h < heads; h++) {
        const float *q = qkv + h * d, *k = qkv + width + h * d, *v = qkv + 2 * width + h * d;
        for (size_t j = 0; j < padded; j++) {
            uint16_t kj[128], vj[128];
            if (j < length) {
                to_bf16_avx512(k + j * stride, kj, d);
                to_bf16_avx512(v + j * stride, vj, d);
            } else {
                memset(kj, 0, d * 2);
                memset(vj, 0, d * 2);
            }
            for (size_t c = 0; c < pairs; c++) {
                kp[(c * padded + j) * 2] = kj[2 * c];
                kp[(c * padded + j) * 2 + 1] = kj[2 * c + 1];
            }
            for (size_t c = 0; c < d; c++) vp[((j / 2) * d + c) * 2 + (j & 1)] = vj[c];
        }
        for (size_t i0 = 0; i0 < length; i0 += ROWS) {
            for (int r = 0; r < ROWS; r++) to_bf16_avx512(q + (i0 + r < length ? i0 + r : length - 1) * stride, qb + r * d, d);
            __m512 best[ROWS];
            for (int r = 0; r < ROWS; r++) best[r] = _mm512_set1_ps(-__builtin_inff());
            for (size_t j = 0; j < padded; j += 16) {
                __m512 acc[ROWS];
                for (int r = 0; r < ROWS; r++) acc[r] = _mm512_setzero_ps();
                for (size_t c = 0; c < pairs; c++) {
                    __m512bh key = (__m512bh)_mm512_loadu_si512(kp + (c * padded + j) * 2);
                    for (int r = 0; r < ROWS; r++) {
                        uint32_t pair;
                        memcpy(&pair, qb + r * d + 2 * c, 4);
                        acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_set1_epi32((int)pair), key);
                    }
                }
                __mmask16 valid = _mm512_cmplt_epi32_mask(lanes, _mm512_set1_epi32((int)(length - j)));
                for (int r = 0; r < ROWS; r++) {
                    __m512 s = _mm512_mask_mul_ps(_mm512_set1_ps(-__builtin_inff()), valid, acc[r], _mm512_set1_ps(scale));
                    _mm512_storeu_ps(p + r * padded + j, s);
                    best[r] = _mm512_max_ps(best[r], s);
                }
            }
            float inv[ROWS];
            for (int r = 0; r < ROWS; r++) {
                __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(best[r]));
                __m512 sum = _mm512_setzero_ps();
                for (size_t j = 0; j < padded; j += 16) {
                    __m512 s = _mm512_loadu_ps(p + r * padded + j);
                    __mmask16 live = _mm512_cmp_ps_mask(s, _mm512_set1_ps(-__builtin_inff()), _CMP_NEQ_OQ);
                    __m512 e = _mm512_maskz_mov_ps(live, (__m512)exp_avx512((rp_v16f)_mm512_sub_ps(s, top)));
                    // Sum the rounded weights, so the normalization matches what is multiplied.
                    __m256bh eb = _mm512_cvtneps_pbh(e);
                    _mm256_storeu_si256((__m256i *)(pb + r * padded + j), (__m256i)eb);
                    sum = _mm512_add_ps(sum, _mm512_cvtpbh_ps(eb));
                }
                inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
            }
            switch (chunks) {
            case 1: weighted_values_bf16(pb, padded, vp, length, d, inv, context, i0, width, h * d, 1); break;
            case 2: weighted_values_bf16(pb, padded, vp, length, d, inv, context, i0, width, h * d, 2); break;
            case 3: weighted_values_bf16(pb, padded, vp, length, d, inv, context, i0, width, h * d, 3); break;
            case 4: weighted_values_bf16(pb, padded, vp, length, d, inv, context, i0, width, h * d, 4); break;
            default: weighted_values_bf16(pb, padded, vp, length, d, inv, context, i0, width, h * d, chunks); break;
            }
        }
    }
}
#endif

// MARK: scalar oracles (libm), the reference every level is tested against

static void softmax_rows_scalar(float *m, size_t rows, size_t columns, size_t stride) {
    for (size_t r = 0; r < rows; r++) {
        float *row = m + r * stride;
        float top = -INFINITY, sum = 0;
        for (size_t j = 0; j < columns; j++) top = row[j] > top ? row[j] : top;
        for (size_t j = 0; j < columns; j++) { row[j] = expf(row[j] - top); sum += row[j]; }
        for (size_t j = 0; j < columns; j++) row[j] /= sum;
    }
}

static void bias_gelu_scalar(float *m, size_t rows, size_t columns, const float *bias) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < columns; j++) {
            float v = m[r * columns + j] + bias[j];
            m[r * columns + j] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
        }
}

static void residual_layer_norm_scalar(float *x, const float *y, const float *bias, size_t rows, size_t width,
                                       const float *gamma, const float *beta, float epsilon) {
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * width;
        float total = 0;
        for (size_t j = 0; j < width; j++) {
            row[j] += (y ? y[r * width + j] : 0) + (bias ? bias[j] : 0);
            total += row[j];
        }
        float mean = total / (float)width, sq = 0;
        for (size_t j = 0; j < width; j++) sq += (row[j] - mean) * (row[j] - mean);
        float inv = 1.0f / sqrtf(sq / (float)width + epsilon);
        for (size_t j = 0; j < width; j++) row[j] = (row[j] - mean) * inv * gamma[j] + beta[j];
    }
}

static void attention_scalar(const float *qkv, size_t length, size_t heads, size_t d, size_t stride, float scale,
                             float *context, float *scratch) {
    size_t width = heads * d;
    for (size_t h = 0; h < heads; h++)
        for (size_t i = 0; i < length; i++) {
            const float *q = qkv + i * stride + h * d;
            for (size_t j = 0; j < length; j++) {
                const float *k = qkv + j * stride + width + h * d;
                float s = 0;
                for (size_t c = 0; c < d; c++) s += q[c] * k[c];
                scratch[j] = s * scale;
            }
            softmax_rows_scalar(scratch, 1, length, length);
            float *out = context + i * width + h * d;
            for (size_t c = 0; c < d; c++) out[c] = 0;
            for (size_t j = 0; j < length; j++) {
                const float *v = qkv + j * stride + 2 * width + h * d;
                for (size_t c = 0; c < d; c++) out[c] += scratch[j] * v[c];
            }
        }
}

// MARK: dispatch

size_t rp_attention_scratch_floats(size_t length, size_t head_dim) {
    size_t padded = (length + 15) / 16 * 16;
    // fp32: keys transposed + 4 score rows; bf16: keys + values + 4 query rows + 4 weight rows in
    // halves, 4 score rows in floats, and room to align them.
    size_t fp32 = (head_dim + 8) * padded + length;
    size_t bf16 = (2 * head_dim * padded + 4 * head_dim + 4 * padded + 32) / 2 + 4 * padded + 16;
    return fp32 > bf16 ? fp32 : bf16;
}

int rp_attention_bf16_available(void) {
    return rp_cpu_level() >= RP_LEVEL_AVX512 && rp_cpu_has_avx512_bf16();
}

void rp_attention_bf16(const float *qkv, size_t length, size_t heads, size_t head_dim, size_t stride, float scale,
                       float *context, float *scratch) {
#ifdef RP_ENCODER_X86
    if (length > 0 && head_dim % 16 == 0 && head_dim <= 128 && rp_attention_bf16_available()) {
        attention_bf16(qkv, length, heads, head_dim, stride, scale, context, scratch);
        return;
    }
#endif
    rp_attention(qkv, length, heads, head_dim, stride, scale, context, scratch);
}

void rp_softmax_rows_at(rp_level level, float *m, size_t rows, size_t columns, size_t stride) {
    if (level == RP_LEVEL_SCALAR) { softmax_rows_scalar(m, rows, columns, stride); return; }
#ifdef RP_ENCODER_X86
    if (level >= RP_LEVEL_AVX512) { softmax_rows_avx512(m, rows, columns, stride); return; }
    if (level >= RP_LEVEL_AVX2) { softmax_rows_avx2(m, rows, columns, stride); return; }
#endif
    softmax_rows_portable(m, rows, columns, stride);
}

void rp_bias_gelu_at(rp_level level, float *m, size_t rows, size_t columns, const float *bias) {
    if (level == RP_LEVEL_SCALAR) { bias_gelu_scalar(m, rows, columns, bias); return; }
#ifdef RP_ENCODER_X86
    if (level >= RP_LEVEL_AVX512) { bias_gelu_avx512(m, rows, columns, bias); return; }
    if (level >= RP_LEVEL_AVX2) { bias_gelu_avx2(m, rows, columns, bias); return; }
#endif
    bias_gelu_portable(m, rows, columns, bias);
}

void rp_residual_layer_norm_at(rp_level level, float *x, const float *y, const float *bias, size_t rows,
                               size_t width, const float *gamma, const float *beta, float epsilon) {
    if (level == RP_LEVEL_SCALAR) { residual_layer_norm_scalar(x, y, bias, rows, width, gamma, beta, epsilon); return; }
#ifdef RP_ENCODER_X86
    if (level >= RP_LEVEL_AVX512) { residual_layer_norm_avx512(x, y, bias, rows, width, gamma, beta, epsilon); return; }
    if (level >= RP_LEVEL_AVX2) { residual_layer_norm_avx2(x, y, bias, rows, width, gamma, beta, epsilon); return; }
#endif
    residual_layer_norm_portable(x, y, bias, rows, width, gamma, beta, epsilon);
}

void rp_attention_at(rp_level level, const float *qkv, size_t length, size_t heads, size_t head_dim,
                     size_t stride, float scale, float *context, float *scratch) {
    if (length == 0) return;
    // The vector kernels keep a head's context row in registers: whole vectors, at most 128 wide.
    int vector_ok = head_dim <= 128;
#ifdef RP_ENCODER_X86
    if (vector_ok && level >= RP_LEVEL_AVX512 && head_dim % 16 == 0) {
        attention_avx512(qkv, length, heads, head_dim, stride, scale, context, scratch); return;
    }
    if (vector_ok && level >= RP_LEVEL_AVX2 && head_dim % 8 == 0) {
        attention_avx2(qkv, length, heads, head_dim, stride, scale, context, scratch); return;
    }
#endif
    if (vector_ok && level != RP_LEVEL_SCALAR && head_dim % 4 == 0) {
        attention_portable(qkv, length, heads, head_dim, stride, scale, context, scratch); return;
    }
    attention_scalar(qkv, length, heads, head_dim, stride, scale, context, scratch);
}

void rp_softmax_rows(float *m, size_t rows, size_t columns, size_t stride) {
    rp_softmax_rows_at(rp_cpu_level(), m, rows, columns, stride);
}

void rp_bias_gelu(float *m, size_t rows, size_t columns, const float *bias) {
    rp_bias_gelu_at(rp_cpu_level(), m, rows, columns, bias);
}

void rp_residual_layer_norm(float *x, const float *y, const float *bias, size_t rows, size_t width,
                            const float *gamma, const float *beta, float epsilon) {
    rp_residual_layer_norm_at(rp_cpu_level(), x, y, bias, rows, width, gamma, beta, epsilon);
}

void rp_attention(const float *qkv, size_t length, size_t heads, size_t head_dim, size_t stride, float scale,
                  float *context, float *scratch) {
    rp_attention_at(rp_cpu_level(), qkv, length, heads, head_dim, stride, scale, context, scratch);
}

// MARK: conversions for reduced-precision products

void rp_f32_to_bf16_scalar(const float *input, uint16_t *output, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &input[i], 4);
        if ((bits & 0x7fffffffu) > 0x7f800000u) { output[i] = (uint16_t)((bits >> 16) | 0x40u); continue; }
        bits += 0x7fffu + ((bits >> 16) & 1u);
        output[i] = (uint16_t)(bits >> 16);
    }
}

void rp_round_to_bf16(const float *input, float *output, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint16_t half;
        rp_f32_to_bf16_scalar(&input[i], &half, 1);
        uint32_t bits = (uint32_t)half << 16;
        memcpy(&output[i], &bits, 4);
    }
}

void rp_quantize_rows_s8_scalar(const float *x, size_t rows, size_t columns, size_t ldx, int8_t *q, float *scales) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        float top = 0;
        for (size_t j = 0; j < columns; j++) { float a = fabsf(row[j]); top = a > top ? a : top; }
        float scale = top > 0 ? top / 127.0f : 1.0f;
        float inv = 1.0f / scale;
        int8_t *out = q + r * columns;
        for (size_t j = 0; j < columns; j++) {
            float v = row[j] * inv;
            // Round half away from zero without a libm call, so the loop vectorizes.
            int32_t n = (int32_t)(v + (v >= 0 ? 0.5f : -0.5f));
            out[j] = (int8_t)(n > 127 ? 127 : (n < -127 ? -127 : n));
        }
        scales[r] = scale;
    }
}

void rp_f32_to_bf16(const float *input, uint16_t *output, size_t count) {
#ifdef RP_ENCODER_X86
    rp_level level = rp_cpu_level();
    if (level >= RP_LEVEL_AVX512) { to_bf16_avx512(input, output, count); return; }
    if (level >= RP_LEVEL_AVX2) { to_bf16_avx2(input, output, count); return; }
#endif
    to_bf16_portable(input, output, count);
}

void rp_quantize_rows_smoothed_at(rp_level level, const float *x, size_t rows, size_t columns,
                                  const float *inverse_smoothing, int8_t *q, float *scales) {
    if (level == RP_LEVEL_SCALAR) {
        for (size_t r = 0; r < rows; r++) {
            float row[columns > 0 ? columns : 1];
            for (size_t j = 0; j < columns; j++) row[j] = x[r * columns + j] * (inverse_smoothing ? inverse_smoothing[j] : 1.0f);
            rp_quantize_rows_s8_scalar(row, 1, columns, columns, q + r * columns, scales + r);
        }
        return;
    }
#ifdef RP_ENCODER_X86
    if (level >= RP_LEVEL_AVX512) { quantize_rows_avx512(x, rows, columns, inverse_smoothing, q, scales); return; }
    if (level >= RP_LEVEL_AVX2) { quantize_rows_avx2(x, rows, columns, inverse_smoothing, q, scales); return; }
#endif
    quantize_rows_portable(x, rows, columns, inverse_smoothing, q, scales);
}

void rp_quantize_rows_s8(const float *x, size_t rows, size_t columns, size_t ldx, int8_t *q, float *scales) {
    if (ldx != columns) { rp_quantize_rows_s8_scalar(x, rows, columns, ldx, q, scales); return; }
    rp_quantize_rows_smoothed_at(rp_cpu_level(), x, rows, columns, NULL, q, scales);
}

void rp_dequantize(const int32_t *sums, size_t rows, size_t columns, const float *row_scales,
                   const float *column_scales, const int32_t *zeros, const int32_t *column_sums, float *y) {
#ifdef RP_ENCODER_X86
    rp_level level = rp_cpu_level();
    if (level >= RP_LEVEL_AVX512) { dequantize_avx512(sums, rows, columns, row_scales, column_scales, zeros, column_sums, y); return; }
    if (level >= RP_LEVEL_AVX2) { dequantize_avx2(sums, rows, columns, row_scales, column_scales, zeros, column_sums, y); return; }
#endif
    dequantize_portable(sums, rows, columns, row_scales, column_scales, zeros, column_sums, y);
}

void rp_quantize_rows_u8_at(rp_level level, const float *x, size_t rows, size_t columns,
                            const float *inverse_smoothing, uint8_t *q, float *scales, int32_t *zeros) {
    if (level == RP_LEVEL_SCALAR) {
        for (size_t r = 0; r < rows; r++) {
            float lo = 0, hi = 0;
            for (size_t j = 0; j < columns; j++) {
                float v = x[r * columns + j] * (inverse_smoothing ? inverse_smoothing[j] : 1.0f);
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            float scale = hi > lo ? (hi - lo) / 255.0f : 1.0f, inv = 1.0f / scale;
            int32_t zero = (int32_t)(-lo * inv + 0.5f);
            zero = zero < 0 ? 0 : zero > 255 ? 255 : zero;
            for (size_t j = 0; j < columns; j++) {
                float v = x[r * columns + j] * (inverse_smoothing ? inverse_smoothing[j] : 1.0f) * inv + (float)zero + 0.5f;
                v = v < 0 ? 0 : v > 255 ? 255 : v;
                q[r * columns + j] = (uint8_t)(int32_t)v;
            }
            scales[r] = scale;
            zeros[r] = zero;
        }
        return;
    }
#ifdef RP_ENCODER_X86
    if (level >= RP_LEVEL_AVX512) { quantize_rows_u8_avx512(x, rows, columns, inverse_smoothing, q, scales, zeros); return; }
    if (level >= RP_LEVEL_AVX2) { quantize_rows_u8_avx2(x, rows, columns, inverse_smoothing, q, scales, zeros); return; }
#endif
    quantize_rows_u8_portable(x, rows, columns, inverse_smoothing, q, scales, zeros);
}
