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
#define RP_W 4
#define RP_V rp_v4f
#define RP_VI rp_v4i
#define RP_FMA(a, b, c) ((a) * (b) + (c))
#include "encoder_level.h"
#undef RP_SUFFIX
#undef RP_W
#undef RP_V
#undef RP_VI
#undef RP_FMA

#if defined(__x86_64__) || defined(__i386__)
#define RP_ENCODER_X86 1
#define RP_FMA(a, b, c) __builtin_elementwise_fma((a), (b), (c))

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define RP_SUFFIX avx2
#define RP_W 8
#define RP_V rp_v8f
#define RP_VI rp_v8i
#include "encoder_level.h"
#undef RP_SUFFIX
#undef RP_W
#undef RP_V
#undef RP_VI
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))), apply_to = function)
#define RP_SUFFIX avx512
#define RP_W 16
#define RP_V rp_v16f
#define RP_VI rp_v16i
#include "encoder_level.h"
#undef RP_SUFFIX
#undef RP_W
#undef RP_V
#undef RP_VI
#pragma clang attribute pop
#undef RP_FMA
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
    return (head_dim + 4) * padded + length;
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

void rp_f32_to_bf16(const float *input, uint16_t *output, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &input[i], 4);
        if ((bits & 0x7fffffffu) > 0x7f800000u) { output[i] = (uint16_t)((bits >> 16) | 0x40u); continue; }
        bits += 0x7fffu + ((bits >> 16) & 1u);
        output[i] = (uint16_t)(bits >> 16);
    }
}

void rp_quantize_rows_s8(const float *x, size_t rows, size_t columns, size_t ldx, int8_t *q, float *scales) {
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
