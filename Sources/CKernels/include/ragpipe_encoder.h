#ifndef RAGPIPE_ENCODER_H
#define RAGPIPE_ENCODER_H
// The BERT encoder's element-wise work and attention (encoder_kernels.c), and its matrix
// products through oneDNN (encoder_dnnl.c).
//
// Element-wise kernels are written once over a vector type and instantiated per instruction set
// (AVX-512, AVX2 + FMA, the baseline), like the distance kernels; `*_at` runs one level so tests
// can hold every level against the scalar oracle `RP_LEVEL_SCALAR`, which uses libm.

#include <stddef.h>
#include <stdint.h>
#include "ragpipe_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Row-wise softmax in place over `columns` values of each row (row stride `stride`).
void rp_softmax_rows_at(rp_level level, float *m, size_t rows, size_t columns, size_t stride);

/// `m[r][j] = gelu(m[r][j] + bias[j])` with the exact (erf) GELU, over rows of `columns`.
void rp_bias_gelu_at(rp_level level, float *m, size_t rows, size_t columns, const float *bias);

/// `x[r] = LayerNorm(x[r] + y[r] + bias)` per row of `width` (y and bias may be NULL), with
/// gain `gamma`, offset `beta` and `epsilon` inside the square root.
void rp_residual_layer_norm_at(rp_level level, float *x, const float *y, const float *bias, size_t rows,
                               size_t width, const float *gamma, const float *beta, float epsilon);

/// Scaled dot-product attention of every head over one unpadded sequence. `qkv` holds per
/// token the query, key and value rows (each `heads · head_dim` wide) at row stride `stride`;
/// `context` receives `length × heads·head_dim`. `scratch` holds
/// `rp_attention_scratch_floats(length, head_dim)` floats.
void rp_attention_at(rp_level level, const float *qkv, size_t length, size_t heads, size_t head_dim,
                     size_t stride, float scale, float *context, float *scratch);
size_t rp_attention_scratch_floats(size_t length, size_t head_dim);

/// The same with bf16 operands and fp32 sums where the CPU has AVX512_BF16 (head sizes a
/// multiple of 16), else `rp_attention`.
void rp_attention_bf16(const float *qkv, size_t length, size_t heads, size_t head_dim, size_t stride,
                       float scale, float *context, float *scratch);
int rp_attention_bf16_available(void);

/// The same at the CPU's best level.
void rp_softmax_rows(float *m, size_t rows, size_t columns, size_t stride);
void rp_bias_gelu(float *m, size_t rows, size_t columns, const float *bias);
void rp_residual_layer_norm(float *x, const float *y, const float *bias, size_t rows, size_t width,
                            const float *gamma, const float *beta, float epsilon);
void rp_attention(const float *qkv, size_t length, size_t heads, size_t head_dim, size_t stride,
                  float scale, float *context, float *scratch);

// MARK: matrix products through oneDNN

/// The arithmetic of a linear layer's product. Accumulation is fp32 (int32 for int8).
typedef enum {
    RP_PRECISION_FP32 = 0,
    RP_PRECISION_BF16 = 1,   ///< inputs and weights rounded to bfloat16
    RP_PRECISION_INT8 = 2,   ///< weights int8 per output row, inputs int8 per input row, both symmetric
    RP_PRECISION_UINT8 = 3,  ///< weights as INT8, inputs uint8 per row with a zero point (one-sided inputs)
} rp_precision;

/// Loads oneDNN (libdnnl.so.2) once. 0 on success; otherwise a reason in `error`.
int rp_dnnl_load(char *error, size_t error_size);

/// The instruction set oneDNN dispatches to ("avx512_core_bf16", "avx2", …), after a load.
const char *rp_dnnl_isa(void);

/// A weight matrix `[n × k]` (PyTorch `Linear` layout, y = x·Wᵀ) prepared for one precision.
typedef struct rp_linear rp_linear;

/// NULL on failure with a reason in `error`; `weight` is copied. For int8, `smoothing` (k
/// values, or NULL) moves input outliers into the weights: inputs are divided by it per column
/// before quantization and weight columns multiplied by it (SmoothQuant, Xiao et al. 2023).
rp_linear *rp_linear_create(rp_precision precision, const float *weight, size_t n, size_t k,
                            const float *smoothing, char *error, size_t error_size);
void rp_linear_destroy(rp_linear *linear);

/// `y[m × n] = x[m × k] · Wᵀ` (row strides `ldx`, `ldy`). Any thread may call it: each thread
/// keeps its own oneDNN primitives and conversion buffers. 0 on success.
int rp_linear_apply(const rp_linear *linear, const float *x, size_t m, size_t ldx, float *y, size_t ldy);

/// Whether oneDNN runs bf16 natively here (AVX512_BF16 or AMX); elsewhere bf16 layers run as
/// fp32 products of bf16-rounded operands.
int rp_dnnl_native_bf16(void);

/// Whether oneDNN runs int8 natively here (VNNI or AMX); elsewhere int8 layers run as exact fp32
/// products of the same int8 values (oneDNN's pre-VNNI kernels saturate 16-bit pair sums).
int rp_dnnl_native_int8(void);

/// Float32 to bfloat16, round to nearest even (NaN stays NaN).
void rp_f32_to_bf16(const float *input, uint16_t *output, size_t count);

/// Float32 rounded to the nearest bfloat16, kept as float32.
void rp_round_to_bf16(const float *input, float *output, size_t count);

/// The scalar oracle of rp_f32_to_bf16.
void rp_f32_to_bf16_scalar(const float *input, uint16_t *output, size_t count);

/// Symmetric int8 rows of `x[r][j] · inverse_smoothing[j]` (NULL: 1) at one level, contiguous rows.
void rp_quantize_rows_smoothed_at(rp_level level, const float *x, size_t rows, size_t columns,
                                  const float *inverse_smoothing, int8_t *q, float *scales);

/// Asymmetric uint8 rows of `x · inverse_smoothing`: `q = clamp(round(x / scale) + zero, 0, 255)`
/// with `scale = (max − min) / 255` over the row (which always spans 0) and `zero = round(−min / scale)`.
void rp_quantize_rows_u8_at(rp_level level, const float *x, size_t rows, size_t columns,
                            const float *inverse_smoothing, uint8_t *q, float *scales, int32_t *zeros);

/// `y[r][j] = (sums[r][j] − zeros[r] · column_sums[j]) · row_scales[r] · column_scales[j]`
/// (`zeros` and `column_sums` NULL for symmetric inputs), contiguous rows.
void rp_dequantize(const int32_t *sums, size_t rows, size_t columns, const float *row_scales,
                   const float *column_scales, const int32_t *zeros, const int32_t *column_sums, float *y);

/// The scalar oracle of rp_quantize_rows_s8.
void rp_quantize_rows_s8_scalar(const float *x, size_t rows, size_t columns, size_t ldx, int8_t *q, float *scales);

/// Symmetric int8 row quantization: `q[r][j] = round(x[r][j] / scale[r])`, `scale[r] = max|x[r]| / 127`.
void rp_quantize_rows_s8(const float *x, size_t rows, size_t columns, size_t ldx, int8_t *q, float *scales);

#ifdef __cplusplus
}
#endif
#endif
