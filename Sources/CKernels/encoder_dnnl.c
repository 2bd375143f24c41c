// Linear layers through oneDNN's matmul, loaded with dlopen so that tools which never embed do
// not pay for loading it. oneDNN compiles its kernels at run time for the CPU it finds (SSE4.1 to
// AVX-512 with VNNI, BF16 or AMX), which a BLAS built with a fixed list of CPU models cannot.
//
// One primitive per (precision, n, k) and thread, with the row count given at execution
// (DNNL_RUNTIME_DIM_VAL): oneDNN's default scratchpad requires a primitive to run on the thread
// that created it, and one primitive then serves every sequence length.

#include "ragpipe_encoder.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>
#endif

#if defined(DNNL_VERSION_MAJOR) && DNNL_VERSION_MAJOR == 2

#define RP_DNNL_FUNCTIONS(X)                                                                          \
    X(dnnl_engine_create) X(dnnl_stream_create) X(dnnl_memory_desc_init_by_tag) X(dnnl_matmul_desc_init) \
    X(dnnl_primitive_desc_create) X(dnnl_primitive_desc_destroy) X(dnnl_primitive_create)              \
    X(dnnl_primitive_destroy) X(dnnl_primitive_desc_query_md) X(dnnl_memory_create)                    \
    X(dnnl_memory_destroy) X(dnnl_primitive_execute) X(dnnl_stream_wait) X(dnnl_stream_destroy)       \
    X(dnnl_reorder_primitive_desc_create) X(dnnl_get_effective_cpu_isa) X(dnnl_memory_desc_get_size)

#define RP_DECLARE(name) static __typeof__(&name) p_##name;
RP_DNNL_FUNCTIONS(RP_DECLARE)
#undef RP_DECLARE

static void (*p_omp_set_num_threads)(int);
static dnnl_engine_t engine;
static char load_error[256];
static int load_status = -1;   // -1 not tried, 0 loaded, 1 failed
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;

static void destroy_thread_state(void *state);

static void load(void) {
    // ragpipe runs one sequence per thread (embed --threads); OpenMP teams inside each product
    // would only fight those threads for the cores. libgomp reads this when it loads.
    setenv("OMP_NUM_THREADS", "1", 0);
    void *handle = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(load_error, sizeof load_error, "oneDNN not found (%s): apt-get install libdnnl2", dlerror());
        load_status = 1;
        return;
    }
#define RP_RESOLVE(name)                                                                  \
    p_##name = (__typeof__(p_##name))dlsym(handle, #name);                               \
    if (!p_##name) {                                                                      \
        snprintf(load_error, sizeof load_error, "libdnnl.so.2 lacks %s", #name);         \
        load_status = 1;                                                                  \
        return;                                                                           \
    }
    RP_DNNL_FUNCTIONS(RP_RESOLVE)
#undef RP_RESOLVE
    p_omp_set_num_threads = (void (*)(int))dlsym(handle, "omp_set_num_threads");
    if (p_dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) {
        snprintf(load_error, sizeof load_error, "oneDNN could not create a CPU engine");
        load_status = 1;
        return;
    }
    pthread_key_create(&thread_key, destroy_thread_state);
    load_status = 0;
}

int rp_dnnl_load(char *error, size_t error_size) {
    pthread_once(&load_once, load);
    if (load_status != 0 && error && error_size) snprintf(error, error_size, "%s", load_error);
    return load_status;
}

int rp_dnnl_native_int8(void) {
    if (load_status != 0) return 0;
    dnnl_cpu_isa_t isa = p_dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx512_core_vnni || isa == dnnl_cpu_isa_avx512_core_bf16
        || isa == dnnl_cpu_isa_avx512_core_amx || isa == dnnl_cpu_isa_avx2_vnni;
}

int rp_dnnl_native_bf16(void) {
    if (load_status != 0) return 0;
    dnnl_cpu_isa_t isa = p_dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
}

const char *rp_dnnl_isa(void) {
    if (load_status != 0) return "none";
    switch (p_dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

struct rp_linear {
    rp_precision precision;          // what the primitive computes in
    int round_inputs_to_bf16;        // bf16 emulated: fp32 products of bf16-rounded operands
    rp_precision quantize_inputs;    // int8/uint8 emulated (this kind, else FP32): fp32 products of the same integers
    size_t n, k;
    dnnl_memory_desc_t weights_md;   // the layout oneDNN chose, fixed at creation
    void *weights;                   // in that layout
    float *row_scales;               // int8 weights: per output row
    int32_t *column_sums;            // uint8 inputs: Σ_k of each output row's int8 weights
    float *inverse_smoothing;        // int8 and uint8: per input column, or NULL
};

static int integer(rp_precision p) { return p == RP_PRECISION_INT8 || p == RP_PRECISION_UINT8; }
static dnnl_data_type_t input_type(rp_precision p) {
    return p == RP_PRECISION_BF16 ? dnnl_bf16 : p == RP_PRECISION_INT8 ? dnnl_s8 : p == RP_PRECISION_UINT8 ? dnnl_u8 : dnnl_f32;
}
static dnnl_data_type_t weight_type(rp_precision p) {
    return p == RP_PRECISION_BF16 ? dnnl_bf16 : integer(p) ? dnnl_s8 : dnnl_f32;
}
static dnnl_data_type_t result_type(rp_precision p) { return integer(p) ? dnnl_s32 : dnnl_f32; }
static const char *precision_name(rp_precision p) {
    return p == RP_PRECISION_BF16 ? "bf16" : p == RP_PRECISION_INT8 ? "int8" : p == RP_PRECISION_UINT8 ? "uint8" : "fp32";
}

/// A matmul descriptor for `? × k` by `k × n` with the given weight layout.
static int describe(rp_precision precision, size_t n, size_t k, const dnnl_memory_desc_t *weights_md,
                    dnnl_primitive_desc_t *pd) {
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t src_dims = {DNNL_RUNTIME_DIM_VAL, (dnnl_dim_t)k}, wei_dims = {(dnnl_dim_t)k, (dnnl_dim_t)n},
                dst_dims = {DNNL_RUNTIME_DIM_VAL, (dnnl_dim_t)n};
    if (p_dnnl_memory_desc_init_by_tag(&src, 2, src_dims, input_type(precision), dnnl_ab) != dnnl_success) return 1;
    if (weights_md) wei = *weights_md;
    else if (p_dnnl_memory_desc_init_by_tag(&wei, 2, wei_dims, weight_type(precision), dnnl_format_tag_any) != dnnl_success) return 1;
    if (p_dnnl_memory_desc_init_by_tag(&dst, 2, dst_dims, result_type(precision), dnnl_ab) != dnnl_success) return 1;
    dnnl_matmul_desc_t desc;
    if (p_dnnl_matmul_desc_init(&desc, &src, &wei, NULL, &dst) != dnnl_success) return 1;
    return p_dnnl_primitive_desc_create(pd, &desc, NULL, engine, NULL) != dnnl_success;
}

// MARK: per-thread state

enum { MAX_PRIMITIVES = 16 };

struct thread_state {
    dnnl_stream_t stream;
    struct { rp_precision precision; size_t n, k; dnnl_primitive_t primitive; } cache[MAX_PRIMITIVES];
    int cached;
    void *buffer;           // converted inputs (bf16 or int8) and int8 results
    size_t buffer_bytes;
    float *scales;          // per input row: int8/uint8 steps
    int32_t *zeros;         // per input row: uint8 zero points
    size_t scales_count;
};

static void destroy_thread_state(void *opaque) {
    struct thread_state *state = opaque;
    if (!state) return;
    for (int i = 0; i < state->cached; i++) p_dnnl_primitive_destroy(state->cache[i].primitive);
    if (state->stream) p_dnnl_stream_destroy(state->stream);
    free(state->buffer);
    free(state->scales);
    free(state->zeros);
    free(state);
}

static struct thread_state *thread_state(void) {
    struct thread_state *state = pthread_getspecific(thread_key);
    if (state) return state;
    state = calloc(1, sizeof *state);
    if (!state) return NULL;
    // ragpipe runs one sequence per thread; an OpenMP team per call would fight it for the cores.
    if (p_omp_set_num_threads) p_omp_set_num_threads(1);
    if (p_dnnl_stream_create(&state->stream, engine, dnnl_stream_default_flags) != dnnl_success) {
        free(state);
        return NULL;
    }
    pthread_setspecific(thread_key, state);
    return state;
}

static dnnl_primitive_t primitive_for(struct thread_state *state, const rp_linear *linear) {
    for (int i = 0; i < state->cached; i++)
        if (state->cache[i].precision == linear->precision && state->cache[i].n == linear->n && state->cache[i].k == linear->k)
            return state->cache[i].primitive;
    dnnl_primitive_desc_t pd;
    if (describe(linear->precision, linear->n, linear->k, &linear->weights_md, &pd)) return NULL;
    dnnl_primitive_t primitive;
    dnnl_status_t status = p_dnnl_primitive_create(&primitive, pd);
    p_dnnl_primitive_desc_destroy(pd);
    if (status != dnnl_success) return NULL;
    // A full cache (many encoders in one process) gives up its oldest entry rather than fail.
    int slot = state->cached;
    if (slot == MAX_PRIMITIVES) {
        p_dnnl_primitive_destroy(state->cache[0].primitive);
        memmove(state->cache, state->cache + 1, (MAX_PRIMITIVES - 1) * sizeof state->cache[0]);
        slot = MAX_PRIMITIVES - 1;
    } else {
        state->cached++;
    }
    state->cache[slot].precision = linear->precision;
    state->cache[slot].n = linear->n;
    state->cache[slot].k = linear->k;
    state->cache[slot].primitive = primitive;
    return primitive;
}

static void *grow(struct thread_state *state, size_t bytes) {
    if (bytes <= state->buffer_bytes) return state->buffer;
    void *buffer = realloc(state->buffer, bytes);
    if (!buffer) return NULL;
    state->buffer = buffer;
    state->buffer_bytes = bytes;
    return buffer;
}

// MARK: linear layers

static int reorder_weights(rp_linear *linear, const void *plain) {
    dnnl_memory_desc_t plain_md;
    dnnl_dims_t dims = {(dnnl_dim_t)linear->k, (dnnl_dim_t)linear->n};
    // PyTorch's [n × k] row-major weight is the k × n matrix in column-major ("ba") order.
    if (p_dnnl_memory_desc_init_by_tag(&plain_md, 2, dims, weight_type(linear->precision), dnnl_ba) != dnnl_success) return 1;
    dnnl_memory_t from, to;
    if (p_dnnl_memory_create(&from, &plain_md, engine, (void *)plain) != dnnl_success) return 1;
    if (p_dnnl_memory_create(&to, &linear->weights_md, engine, linear->weights) != dnnl_success) { p_dnnl_memory_destroy(from); return 1; }
    dnnl_primitive_desc_t pd;
    int failed = p_dnnl_reorder_primitive_desc_create(&pd, &plain_md, engine, &linear->weights_md, engine, NULL) != dnnl_success;
    if (!failed) {
        dnnl_primitive_t reorder;
        failed = p_dnnl_primitive_create(&reorder, pd) != dnnl_success;
        p_dnnl_primitive_desc_destroy(pd);
        if (!failed) {
            dnnl_stream_t stream;
            failed = p_dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success;
            if (!failed) {
                dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
                failed = p_dnnl_primitive_execute(reorder, stream, 2, args) != dnnl_success
                    || p_dnnl_stream_wait(stream) != dnnl_success;
                p_dnnl_stream_destroy(stream);
            }
            p_dnnl_primitive_destroy(reorder);
        }
    }
    p_dnnl_memory_destroy(from);
    p_dnnl_memory_destroy(to);
    return failed;
}

/// Int8 weights per output row of `weight · smoothing` (per column): `q`, `scales`.
static void quantize_weights(const float *weight, size_t n, size_t k, const float *smoothing, int8_t *q, float *scales,
                             float *work) {
    // x·Wᵀ = (x / s)·(W·s)ᵀ: the input's outlier columns shrink, the weights' grow.
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < k; j++) work[r * k + j] = weight[r * k + j] * (smoothing ? smoothing[j] : 1.0f);
    rp_quantize_rows_s8(work, n, k, k, q, scales);
}

rp_linear *rp_linear_create(rp_precision precision, const float *weight, size_t n, size_t k,
                            const float *smoothing, char *error, size_t error_size) {
    if (rp_dnnl_load(error, error_size) != 0) return NULL;
    rp_linear *linear = calloc(1, sizeof *linear);
    float *work = malloc(n * k * sizeof(float));
    int8_t *q = integer(precision) ? malloc(n * k) : NULL;
    uint16_t *halves = precision == RP_PRECISION_BF16 ? malloc(n * k * sizeof(uint16_t)) : NULL;
    if (linear && integer(precision)) {
        linear->row_scales = malloc(n * sizeof(float));
        if (smoothing) linear->inverse_smoothing = malloc(k * sizeof(float));
        if (precision == RP_PRECISION_UINT8) linear->column_sums = malloc(n * sizeof(int32_t));
    }
    if (!linear || !work || (integer(precision) && (!q || !linear->row_scales || (smoothing && !linear->inverse_smoothing)
                                                    || (precision == RP_PRECISION_UINT8 && !linear->column_sums)))
        || (precision == RP_PRECISION_BF16 && !halves)) {
        snprintf(error, error_size, "out of memory");
        free(work); free(q); free(halves); rp_linear_destroy(linear);
        return NULL;
    }
    linear->n = n;
    linear->k = k;
    const void *source = weight;   // what is reordered into oneDNN's layout
    if (precision == RP_PRECISION_BF16) {
        if (rp_dnnl_native_bf16()) {
            rp_f32_to_bf16(weight, halves, n * k);
            source = halves;
        } else {
            // Without AVX512_BF16, oneDNN emulates bf16 slower than fp32 (AVX-512) or not at all
            // (AVX2): the same products of bf16-rounded operands run as fp32 instead.
            rp_round_to_bf16(weight, work, n * k);
            source = work;
            linear->round_inputs_to_bf16 = 1;
            precision = RP_PRECISION_FP32;
        }
    } else if (integer(precision)) {
        quantize_weights(weight, n, k, smoothing, q, linear->row_scales, work);
        if (smoothing) for (size_t j = 0; j < k; j++) linear->inverse_smoothing[j] = 1.0f / smoothing[j];
        if (linear->column_sums)
            for (size_t r = 0; r < n; r++) {
                int32_t sum = 0;
                for (size_t j = 0; j < k; j++) sum += q[r * k + j];
                linear->column_sums[r] = sum;
            }
        if (rp_dnnl_native_int8()) {
            source = q;
        } else {
            // Without VNNI, oneDNN's integer kernels sum pairs of products in 16 bits, which
            // saturate: the same integer products run exactly in fp32 (|Σ| < 2^24 here).
            for (size_t r = 0; r < n; r++)
                for (size_t j = 0; j < k; j++) work[r * k + j] = (float)q[r * k + j] * linear->row_scales[r];
            source = work;
            linear->quantize_inputs = precision;
            precision = RP_PRECISION_FP32;
        }
    }
    linear->precision = precision;
    dnnl_primitive_desc_t pd;
    int failed = describe(precision, n, k, NULL, &pd);
    if (failed) {
        snprintf(error, error_size, "oneDNN has no %s matmul for %zu × %zu on this CPU", precision_name(precision), n, k);
    } else {
        linear->weights_md = *p_dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        p_dnnl_primitive_desc_destroy(pd);
        size_t bytes = p_dnnl_memory_desc_get_size(&linear->weights_md);
        linear->weights = aligned_alloc(64, (bytes + 63) / 64 * 64);
        failed = !linear->weights || reorder_weights(linear, source);
        if (failed) snprintf(error, error_size, "could not prepare %zu × %zu weights for oneDNN", n, k);
    }
    free(work); free(q); free(halves);
    if (failed) { rp_linear_destroy(linear); return NULL; }
    return linear;
}

void rp_linear_destroy(rp_linear *linear) {
    if (!linear) return;
    free(linear->weights);
    free(linear->row_scales);
    free(linear->column_sums);
    free(linear->inverse_smoothing);
    free(linear);
}

static int reserve_scales(struct thread_state *state, size_t m) {
    if (m <= state->scales_count) return 0;
    float *scales = realloc(state->scales, m * sizeof(float));
    if (!scales) return 1;
    state->scales = scales;
    int32_t *zeros = realloc(state->zeros, m * sizeof(int32_t));
    if (!zeros) return 1;
    state->zeros = zeros;
    state->scales_count = m;
    return 0;
}

int rp_linear_apply(const rp_linear *linear, const float *x, size_t m, size_t ldx, float *y, size_t ldy) {
    if (m == 0) return 0;
    if (ldx != linear->k || ldy != linear->n) return 1;   // rows are contiguous everywhere we call it
    struct thread_state *state = thread_state();
    if (!state) return 1;
    dnnl_primitive_t primitive = primitive_for(state, linear);
    if (!primitive) return 1;
    size_t n = linear->n, k = linear->k;
    rp_level level = rp_cpu_level();
    const void *source = x;
    void *result = y;
    if (linear->round_inputs_to_bf16) {
        float *converted = grow(state, m * k * sizeof(float));
        if (!converted) return 1;
        rp_round_to_bf16(x, converted, m * k);
        source = converted;
    } else if (linear->quantize_inputs != RP_PRECISION_FP32) {
        float *converted = grow(state, m * k * (sizeof(float) + 1));
        if (!converted || reserve_scales(state, m)) return 1;
        void *q = converted + m * k;
        if (linear->quantize_inputs == RP_PRECISION_UINT8)
            rp_quantize_rows_u8_at(level, x, m, k, linear->inverse_smoothing, q, state->scales, state->zeros);
        else
            rp_quantize_rows_smoothed_at(level, x, m, k, linear->inverse_smoothing, q, state->scales);
        for (size_t r = 0; r < m; r++)
            for (size_t j = 0; j < k; j++)
                converted[r * k + j] = linear->quantize_inputs == RP_PRECISION_UINT8
                    ? (float)((int32_t)((uint8_t *)q)[r * k + j] - state->zeros[r]) * state->scales[r]
                    : (float)((int8_t *)q)[r * k + j] * state->scales[r];
        source = converted;
    } else if (linear->precision == RP_PRECISION_BF16) {
        uint16_t *converted = grow(state, m * k * sizeof(uint16_t));
        if (!converted) return 1;
        rp_f32_to_bf16(x, converted, m * k);
        source = converted;
    } else if (integer(linear->precision)) {
        size_t result_bytes = (m * n * sizeof(int32_t) + 63) / 64 * 64;
        unsigned char *buffer = grow(state, result_bytes + m * k);
        if (!buffer || reserve_scales(state, m)) return 1;
        if (linear->precision == RP_PRECISION_UINT8)
            rp_quantize_rows_u8_at(level, x, m, k, linear->inverse_smoothing, buffer + result_bytes, state->scales, state->zeros);
        else
            rp_quantize_rows_smoothed_at(level, x, m, k, linear->inverse_smoothing, (int8_t *)(buffer + result_bytes), state->scales);
        source = buffer + result_bytes;
        result = buffer;
    }
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_dims_t src_dims = {(dnnl_dim_t)m, (dnnl_dim_t)k}, dst_dims = {(dnnl_dim_t)m, (dnnl_dim_t)n};
    if (p_dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, input_type(linear->precision), dnnl_ab) != dnnl_success) return 1;
    if (p_dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, result_type(linear->precision), dnnl_ab) != dnnl_success) return 1;
    dnnl_memory_t src, wei, dst;
    if (p_dnnl_memory_create(&src, &src_md, engine, (void *)source) != dnnl_success) return 1;
    if (p_dnnl_memory_create(&wei, &linear->weights_md, engine, linear->weights) != dnnl_success) { p_dnnl_memory_destroy(src); return 1; }
    if (p_dnnl_memory_create(&dst, &dst_md, engine, result) != dnnl_success) {
        p_dnnl_memory_destroy(src); p_dnnl_memory_destroy(wei); return 1;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    int failed = p_dnnl_primitive_execute(primitive, state->stream, 3, args) != dnnl_success
        || p_dnnl_stream_wait(state->stream) != dnnl_success;
    p_dnnl_memory_destroy(src);
    p_dnnl_memory_destroy(wei);
    p_dnnl_memory_destroy(dst);
    if (failed) return 1;
    if (integer(linear->precision))
        rp_dequantize(result, m, n, state->scales, linear->row_scales,
                      linear->precision == RP_PRECISION_UINT8 ? state->zeros : NULL, linear->column_sums, y);
    return 0;
}

#else   // no oneDNN 2.x headers at build time: report it, and the encoder uses its BLAS path

int rp_dnnl_native_bf16(void) { return 0; }
int rp_dnnl_native_int8(void) { return 0; }
int rp_dnnl_load(char *error, size_t error_size) {
    if (error && error_size)
        snprintf(error, error_size, "built without oneDNN 2.x headers (apt-get install libdnnl-dev, then rebuild)");
    return 1;
}
const char *rp_dnnl_isa(void) { return "none"; }
rp_linear *rp_linear_create(rp_precision precision, const float *weight, size_t n, size_t k,
                            const float *smoothing, char *error, size_t error_size) {
    (void)precision; (void)weight; (void)n; (void)k; (void)smoothing;
    rp_dnnl_load(error, error_size);
    return NULL;
}
void rp_linear_destroy(rp_linear *linear) { (void)linear; }
int rp_linear_apply(const rp_linear *linear, const float *x, size_t m, size_t ldx, float *y, size_t ldy) {
    (void)linear; (void)x; (void)m; (void)ldx; (void)y; (void)ldy;
    return 1;
}
#endif
