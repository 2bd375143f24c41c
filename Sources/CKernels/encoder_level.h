// One instruction-set level of the encoder kernels, included by encoder_kernels.c once per level
// with RP_SUFFIX, RP_W (lanes), RP_ROWS (query rows per attention pass), RP_V / RP_VI (float /
// int32 vectors of RP_W lanes) and RP_FMA set, inside a `#pragma clang attribute` that gives every
// function the level's target. It undefines all but RP_FMA at its end.

#define RP_CAT2(a, b) a##_##b
#define RP_CAT(a, b) RP_CAT2(a, b)
#define RP_FN(name) RP_CAT(name, RP_SUFFIX)

static inline RP_V RP_FN(load)(const float *p) { RP_V v; memcpy(&v, p, sizeof v); return v; }
static inline void RP_FN(store)(float *p, RP_V v) { memcpy(p, &v, sizeof v); }

/// The first `n` (< RP_W) values at `p`, the rest `fill`.
static inline RP_V RP_FN(load_partial)(const float *p, size_t n, float fill) {
    float lanes[RP_W];
    for (int l = 0; l < RP_W; l++) lanes[l] = fill;
    memcpy(lanes, p, n * sizeof(float));
    return RP_FN(load)(lanes);
}

static inline float RP_FN(sum)(RP_V v) {
    float lanes[RP_W];
    RP_FN(store)(lanes, v);
    float s = 0;
    for (int l = 0; l < RP_W; l++) s += lanes[l];
    return s;
}

static inline float RP_FN(maximum)(RP_V v) {
    float lanes[RP_W];
    RP_FN(store)(lanes, v);
    float m = lanes[0];
    for (int l = 1; l < RP_W; l++) m = lanes[l] > m ? lanes[l] : m;
    return m;
}

/// e^x for x in [-87.3, 88.3] within 2 ulp (clamped outside): x = k·ln2 + r, |r| ≤ ln2/2, a
/// degree-6 Taylor polynomial for e^r, and 2^k built in the exponent bits.
static inline RP_V RP_FN(exp)(RP_V x) {
    x = __builtin_elementwise_max(x, (RP_V)(-87.3f));
    x = __builtin_elementwise_min(x, (RP_V)(88.3f));
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer without a rounding instruction.
    RP_V k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    RP_V r = RP_FMA(k, (RP_V)(-0.693145751953125f), x);
    r = RP_FMA(k, (RP_V)(-1.428606765330187e-06f), r);
    RP_V p = (RP_V)(1.0f / 720);
    p = RP_FMA(p, r, (RP_V)(1.0f / 120));
    p = RP_FMA(p, r, (RP_V)(1.0f / 24));
    p = RP_FMA(p, r, (RP_V)(1.0f / 6));
    p = RP_FMA(p, r, (RP_V)(0.5f));
    p = RP_FMA(p, r, (RP_V)(1.0f));
    p = RP_FMA(p, r, (RP_V)(1.0f));
    RP_VI bits = (__builtin_convertvector(k, RP_VI) + 127) << 23;
    RP_V scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/// x·Φ(x), Φ the standard normal CDF through erf: |1 + erf(z)| has absolute error ≤ 1.5e-7
/// (Abramowitz & Stegun 7.1.26), which is what GELU's relative error depends on.
static inline RP_V RP_FN(gelu)(RP_V x) {
    RP_V z = __builtin_elementwise_abs(x) * 0.70710678118654752f;
    RP_V t = 1.0f / RP_FMA(z, (RP_V)(0.3275911f), (RP_V)(1.0f));
    RP_V p = (RP_V)(1.061405429f);
    p = RP_FMA(p, t, (RP_V)(-1.453152027f));
    p = RP_FMA(p, t, (RP_V)(1.421413741f));
    p = RP_FMA(p, t, (RP_V)(-0.284496736f));
    p = RP_FMA(p, t, (RP_V)(0.254829592f));
    RP_V erfc = p * t * RP_FN(exp)(-(z * z));          // erfc(|x|/√2)
    RP_V phi = x < 0.0f ? 0.5f * erfc : 1.0f - 0.5f * erfc;
    return x * phi;
}

static void RP_FN(softmax_rows)(float *m, size_t rows, size_t columns, size_t stride) {
    for (size_t r = 0; r < rows; r++) {
        float *row = m + r * stride;
        size_t full = columns / RP_W * RP_W, tail = columns - full;
        RP_V mx = (RP_V)(-__builtin_inff());
        for (size_t j = 0; j < full; j += RP_W) mx = __builtin_elementwise_max(mx, RP_FN(load)(row + j));
        if (tail) mx = __builtin_elementwise_max(mx, RP_FN(load_partial)(row + full, tail, -__builtin_inff()));
        RP_V top = (RP_V)(RP_FN(maximum)(mx));
        RP_V sum = (RP_V)(0.0f);
        for (size_t j = 0; j < full; j += RP_W) {
            RP_V e = RP_FN(exp)(RP_FN(load)(row + j) - top);
            RP_FN(store)(row + j, e);
            sum += e;
        }
        float lanes[RP_W];
        if (tail) {
            RP_V e = RP_FN(exp)(RP_FN(load_partial)(row + full, tail, 0.0f) - top);
            RP_FN(store)(lanes, e);
            for (size_t l = 0; l < tail; l++) { row[full + l] = lanes[l]; }
            for (size_t l = tail; l < RP_W; l++) lanes[l] = 0;
            sum += RP_FN(load)(lanes);
        }
        RP_V inv = (RP_V)(1.0f / RP_FN(sum)(sum));
        for (size_t j = 0; j < full; j += RP_W) RP_FN(store)(row + j, RP_FN(load)(row + j) * inv);
        for (size_t j = full; j < columns; j++) row[j] *= inv[0];
    }
}

static void RP_FN(bias_gelu)(float *m, size_t rows, size_t columns, const float *bias) {
    size_t full = columns / RP_W * RP_W;
    for (size_t r = 0; r < rows; r++) {
        float *row = m + r * columns;
        for (size_t j = 0; j < full; j += RP_W)
            RP_FN(store)(row + j, RP_FN(gelu)(RP_FN(load)(row + j) + RP_FN(load)(bias + j)));
        if (full < columns) {
            float lanes[RP_W];
            RP_V v = RP_FN(load_partial)(row + full, columns - full, 0) + RP_FN(load_partial)(bias + full, columns - full, 0);
            RP_FN(store)(lanes, RP_FN(gelu)(v));
            memcpy(row + full, lanes, (columns - full) * sizeof(float));
        }
    }
}

static void RP_FN(residual_layer_norm)(float *x, const float *y, const float *bias, size_t rows, size_t width,
                                       const float *gamma, const float *beta, float epsilon) {
    size_t full = width / RP_W * RP_W;
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * width;
        const float *add = y ? y + r * width : NULL;
        RP_V acc = (RP_V)(0.0f);
        for (size_t j = 0; j < full; j += RP_W) {
            RP_V v = RP_FN(load)(row + j);
            if (add) v += RP_FN(load)(add + j);
            if (bias) v += RP_FN(load)(bias + j);
            RP_FN(store)(row + j, v);
            acc += v;
        }
        float total = RP_FN(sum)(acc);
        for (size_t j = full; j < width; j++) {
            float v = row[j] + (add ? add[j] : 0) + (bias ? bias[j] : 0);
            row[j] = v;
            total += v;
        }
        float mean = total / (float)width;
        RP_V squares = (RP_V)(0.0f);
        for (size_t j = 0; j < full; j += RP_W) { RP_V c = RP_FN(load)(row + j) - mean; squares = RP_FMA(c, c, squares); }
        float sq = RP_FN(sum)(squares);
        for (size_t j = full; j < width; j++) { float c = row[j] - mean; sq += c * c; }
        float inv = 1.0f / sqrtf(sq / (float)width + epsilon);
        for (size_t j = 0; j < full; j += RP_W) {
            RP_V c = (RP_FN(load)(row + j) - mean) * inv;
            RP_FN(store)(row + j, RP_FMA(c, RP_FN(load)(gamma + j), RP_FN(load)(beta + j)));
        }
        for (size_t j = full; j < width; j++) row[j] = (row[j] - mean) * inv * gamma[j] + beta[j];
    }
}

/// Symmetric int8 rows of `x · inverse_smoothing` (per column, or 1): scale = max|·| / 127,
/// rounded half away from zero, as `rp_quantize_rows_s8`.
static void RP_FN(quantize_rows)(const float *x, size_t rows, size_t columns, const float *inverse_smoothing,
                                 int8_t *q, float *scales) {
    typedef int8_t RP_V8 __attribute__((ext_vector_type(RP_W)));
    size_t full = columns / RP_W * RP_W;
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * columns;
        RP_V top = (RP_V)(0.0f);
        for (size_t j = 0; j < full; j += RP_W) {
            RP_V v = RP_FN(load)(row + j);
            if (inverse_smoothing) v *= RP_FN(load)(inverse_smoothing + j);
            top = __builtin_elementwise_max(top, __builtin_elementwise_abs(v));
        }
        float m = RP_FN(maximum)(top);
        for (size_t j = full; j < columns; j++) {
            float a = fabsf(row[j] * (inverse_smoothing ? inverse_smoothing[j] : 1.0f));
            m = a > m ? a : m;
        }
        float scale = m > 0 ? m / 127.0f : 1.0f, inv = 1.0f / scale;
        int8_t *out = q + r * columns;
        for (size_t j = 0; j < full; j += RP_W) {
            RP_V v = RP_FN(load)(row + j);
            if (inverse_smoothing) v *= RP_FN(load)(inverse_smoothing + j);
            v *= inv;
            v += v >= 0.0f ? (RP_V)(0.5f) : (RP_V)(-0.5f);
            v = __builtin_elementwise_min(__builtin_elementwise_max(v, (RP_V)(-127.0f)), (RP_V)(127.0f));
            RP_V8 n = __builtin_convertvector(__builtin_convertvector(v, RP_VI), RP_V8);
            memcpy(out + j, &n, sizeof n);
        }
        for (size_t j = full; j < columns; j++) {
            float v = row[j] * (inverse_smoothing ? inverse_smoothing[j] : 1.0f) * inv;
            int32_t n = (int32_t)(v + (v >= 0 ? 0.5f : -0.5f));
            out[j] = (int8_t)(n > 127 ? 127 : (n < -127 ? -127 : n));
        }
        scales[r] = scale;
    }
}

/// Round to nearest even bfloat16 (NaN stays a quiet NaN), as `rp_f32_to_bf16`.
static void RP_FN(to_bf16)(const float *input, uint16_t *output, size_t count) {
    typedef uint16_t RP_V16 __attribute__((ext_vector_type(RP_W)));
    size_t full = count / RP_W * RP_W;
    for (size_t i = 0; i < full; i += RP_W) {
        RP_VI bits;
        memcpy(&bits, input + i, sizeof bits);
        // Signed arithmetic cannot overflow here (finite magnitudes stay below 0x7f808000), and
        // the arithmetic shift's sign bits fall outside the 16 kept.
        RP_VI magnitude = bits & 0x7fffffff;
        RP_VI rounded = (bits + 0x7fff + ((bits >> 16) & 1)) >> 16;
        RP_VI quiet = (bits >> 16) | 0x40;
        RP_VI chosen = magnitude > 0x7f800000 ? quiet : rounded;
        RP_V16 h = __builtin_convertvector(chosen & 0xffff, RP_V16);
        memcpy(output + i, &h, sizeof h);
    }
    rp_f32_to_bf16_scalar(input + full, output + full, count - full);
}

/// As `rp_dequantize`.
static void RP_FN(dequantize)(const int32_t *sums, size_t rows, size_t columns, const float *row_scales,
                              const float *column_scales, const int32_t *zeros, const int32_t *column_sums, float *y) {
    size_t full = columns / RP_W * RP_W;
    for (size_t r = 0; r < rows; r++) {
        const int32_t *in = sums + r * columns;
        float *out = y + r * columns;
        RP_V a = (RP_V)(row_scales[r]);
        int32_t zero = zeros ? zeros[r] : 0;
        for (size_t j = 0; j < full; j += RP_W) {
            RP_VI s, c = (RP_VI)(0);
            memcpy(&s, in + j, sizeof s);
            if (zeros) memcpy(&c, column_sums + j, sizeof c);
            s -= zero * c;
            RP_FN(store)(out + j, __builtin_convertvector(s, RP_V) * (a * RP_FN(load)(column_scales + j)));
        }
        for (size_t j = full; j < columns; j++)
            out[j] = (float)(in[j] - zero * (zeros ? column_sums[j] : 0)) * (row_scales[r] * column_scales[j]);
    }
}

/// As `rp_quantize_rows_u8_at`.
static void RP_FN(quantize_rows_u8)(const float *x, size_t rows, size_t columns, const float *inverse_smoothing,
                                    uint8_t *q, float *scales, int32_t *zeros) {
    typedef uint8_t RP_VU8 __attribute__((ext_vector_type(RP_W)));
    size_t full = columns / RP_W * RP_W;
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * columns;
        RP_V low = (RP_V)(0.0f), high = (RP_V)(0.0f);
        for (size_t j = 0; j < full; j += RP_W) {
            RP_V v = RP_FN(load)(row + j);
            if (inverse_smoothing) v *= RP_FN(load)(inverse_smoothing + j);
            low = __builtin_elementwise_min(low, v);
            high = __builtin_elementwise_max(high, v);
        }
        float lo = -RP_FN(maximum)(-low), hi = RP_FN(maximum)(high);
        for (size_t j = full; j < columns; j++) {
            float v = row[j] * (inverse_smoothing ? inverse_smoothing[j] : 1.0f);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        float scale = hi > lo ? (hi - lo) / 255.0f : 1.0f, inv = 1.0f / scale;
        int32_t zero = (int32_t)(-lo * inv + 0.5f);
        zero = zero < 0 ? 0 : zero > 255 ? 255 : zero;
        uint8_t *out = q + r * columns;
        for (size_t j = 0; j < full; j += RP_W) {
            RP_V v = RP_FN(load)(row + j);
            if (inverse_smoothing) v *= RP_FN(load)(inverse_smoothing + j);
            v = v * inv + (float)zero + 0.5f;           // non-negative after clamping: truncation rounds
            v = __builtin_elementwise_min(__builtin_elementwise_max(v, (RP_V)(0.0f)), (RP_V)(255.0f));
            RP_VU8 n = __builtin_convertvector(__builtin_convertvector(v, RP_VI), RP_VU8);
            memcpy(out + j, &n, sizeof n);
        }
        for (size_t j = full; j < columns; j++) {
            float v = row[j] * (inverse_smoothing ? inverse_smoothing[j] : 1.0f) * inv + (float)zero + 0.5f;
            v = v < 0 ? 0 : v > 255 ? 255 : v;
            out[j] = (uint8_t)(int32_t)v;
        }
        scales[r] = scale;
        zeros[r] = zero;
    }
}

/// `context` rows i0…i0+RP_ROWS-1 (as many as exist) = Σ_j p[r][j] · v[j] · inv[r], `chunks` vectors
/// wide; inlined with a constant `chunks` so the accumulators stay in registers.
__attribute__((always_inline))
static inline void RP_FN(weighted_values)(const float *p, size_t padded, const float *v, size_t length, size_t stride,
                                          const float *inv, float *context, size_t i0, size_t width, size_t column,
                                          const size_t chunks) {
    RP_V acc[RP_ROWS][32];
    for (int r = 0; r < RP_ROWS; r++) for (size_t c = 0; c < chunks; c++) acc[r][c] = (RP_V)(0.0f);
    for (size_t j = 0; j < length; j++) {
        const float *vj = v + j * stride;
        for (size_t c = 0; c < chunks; c++) {
            RP_V value = RP_FN(load)(vj + c * RP_W);
            for (int r = 0; r < RP_ROWS; r++) acc[r][c] = RP_FMA((RP_V)(p[r * padded + j]), value, acc[r][c]);
        }
    }
    for (int r = 0; r < RP_ROWS && i0 + r < length; r++) {
        float *out = context + (i0 + r) * width + column;
        for (size_t c = 0; c < chunks; c++) RP_FN(store)(out + c * RP_W, acc[r][c] * inv[r]);
    }
}

/// RP_ROWS query rows at a time (the key or value vector loaded once serves them all): their scores against every key (keys transposed into `kt`, padded
/// to a multiple of RP_W with -inf scores), softmax, then the weighted sum of value rows.
static void RP_FN(attention)(const float *qkv, size_t length, size_t heads, size_t d, size_t stride, float scale,
                             float *context, float *scratch) {
    enum { ROWS = RP_ROWS };
    size_t padded = (length + RP_W - 1) / RP_W * RP_W;
    size_t chunks = d / RP_W;
    size_t width = heads * d;
    float *kt = scratch, *p = scratch + d * padded;
    float lane_index[RP_W];
    for (int l = 0; l < RP_W; l++) lane_index[l] = (float)l;
    RP_V lanes = RP_FN(load)(lane_index);
    for (size_t h = 0; h < heads; h++) {
        const float *q = qkv + h * d, *k = qkv + width + h * d, *v = qkv + 2 * width + h * d;
        for (size_t c = 0; c < d; c++) {
            float *dst = kt + c * padded;
            for (size_t j = 0; j < length; j++) dst[j] = k[j * stride + c];
            for (size_t j = length; j < padded; j++) dst[j] = 0;
        }
        for (size_t i0 = 0; i0 < length; i0 += ROWS) {
            const float *qr[ROWS];
            for (int r = 0; r < ROWS; r++) qr[r] = q + (i0 + r < length ? i0 + r : length - 1) * stride;
            RP_V best[ROWS];
            for (int r = 0; r < ROWS; r++) best[r] = (RP_V)(-__builtin_inff());
            for (size_t j = 0; j < padded; j += RP_W) {
                RP_V acc[ROWS];
                for (int r = 0; r < ROWS; r++) acc[r] = (RP_V)(0.0f);
                for (size_t c = 0; c < d; c++) {
                    RP_V key = RP_FN(load)(kt + c * padded + j);
                    for (int r = 0; r < ROWS; r++) acc[r] = RP_FMA((RP_V)(qr[r][c]), key, acc[r]);
                }
                RP_V valid = (RP_V)((float)(length - j)) > lanes ? (RP_V)(0.0f) : (RP_V)(-__builtin_inff());
                for (int r = 0; r < ROWS; r++) {
                    RP_V s = RP_FMA(acc[r], (RP_V)(scale), valid);
                    RP_FN(store)(p + r * padded + j, s);
                    best[r] = __builtin_elementwise_max(best[r], s);
                }
            }
            float inv[ROWS];
            for (int r = 0; r < ROWS; r++) {
                RP_V top = (RP_V)(RP_FN(maximum)(best[r]));
                RP_V sum = (RP_V)(0.0f);
                float *pr = p + r * padded;
                for (size_t j = 0; j < padded; j += RP_W) {
                    RP_V s = RP_FN(load)(pr + j);
                    RP_V e = RP_FN(exp)(s - top);
                    e = s == -__builtin_inff() ? (RP_V)(0.0f) : e;
                    RP_FN(store)(pr + j, e);
                    sum += e;
                }
                inv[r] = 1.0f / RP_FN(sum)(sum);
            }
            switch (chunks) {
#define RP_PV_CASE(C) case C: RP_FN(weighted_values)(p, padded, v, length, stride, inv, context, i0, width, h * d, C); break;
            RP_PV_CASE(1) RP_PV_CASE(2) RP_PV_CASE(3) RP_PV_CASE(4) RP_PV_CASE(5) RP_PV_CASE(6) RP_PV_CASE(7) RP_PV_CASE(8)
#if RP_W < 16
            RP_PV_CASE(9) RP_PV_CASE(10) RP_PV_CASE(11) RP_PV_CASE(12) RP_PV_CASE(13) RP_PV_CASE(14) RP_PV_CASE(15) RP_PV_CASE(16)
#endif
#if RP_W < 8
            RP_PV_CASE(17) RP_PV_CASE(18) RP_PV_CASE(19) RP_PV_CASE(20) RP_PV_CASE(21) RP_PV_CASE(22) RP_PV_CASE(23) RP_PV_CASE(24)
            RP_PV_CASE(25) RP_PV_CASE(26) RP_PV_CASE(27) RP_PV_CASE(28) RP_PV_CASE(29) RP_PV_CASE(30) RP_PV_CASE(31) RP_PV_CASE(32)
#endif
#undef RP_PV_CASE
            default: break;
            }
        }
    }
}

#undef RP_FN
#undef RP_CAT
#undef RP_CAT2
#undef RP_SUFFIX
#undef RP_ROWS
#undef RP_W
#undef RP_V
#undef RP_VI
