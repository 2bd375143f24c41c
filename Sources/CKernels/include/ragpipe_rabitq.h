#ifndef RAGPIPE_RABITQ_H
#define RAGPIPE_RABITQ_H
// Kernels of RaBitQ-style 1-bit codes (Gao & Long, SIGMOD 2024): a vector's residual to its IVF
// centroid, rotated by a seeded orthogonal map, is stored as the signs of its components; a query
// is rotated the same way and quantized to 4 bits a component, so a code's estimate needs one AND
// and one popcount per bit plane and 64-bit word. docs/bench/rabitq-study.md measures them.
//
// Codes are stored in blocks of 8, word-major: word w of code v of block b is at
// `(b · words + w) · 8 + v`, so one 512-bit load holds the same word of 8 codes. A run of n codes
// takes ceil(n / 8) whole blocks; the padding codes are read, and their results not written.

#include <stddef.h>
#include <stdint.h>
#include "ragpipe_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The ±1 signs of the rotation for `seed`: `rounds · padded` floats (a fixed generator, so a
/// seed stored in a file names the same rotation on every machine).
void rp_rbq_signs(uint64_t seed, size_t rounds, size_t padded, float *signs);

/// out = R·x for the rotation of `signs`: x (d floats) zero-padded to `padded` (a multiple of 64,
/// ≥ d), then `rounds` times: multiply by that round's signs, and apply the normalized Walsh–
/// Hadamard transform to the first h components (even rounds) or the last h (odd rounds), h the
/// largest power of two ≤ padded. Orthogonal, so norms and dot products are kept.
void rp_rbq_rotate(const float *signs, size_t rounds, const float *x, size_t d, size_t padded, float *out);

/// A rotated query as 4 bit planes: component j ≈ lo + delta · u_j, u_j in 0…15 rounded to
/// nearest, bit k of u_j in planes[k · words + j / 64] at bit j % 64 (words = padded / 64).
/// Returns Σ u_j in *usum. delta is 1 when every component is equal.
void rp_rbq_quantize_query(const float *rotated, size_t padded, uint64_t *planes, float *lo, float *delta, int32_t *usum);

/// For each of the `count` codes: dots[i] = Σ_k 2^k · popcount(code_i & plane_k) (= Σ over the
/// code's set bits of u_j) and pops[i] = popcount(code_i).
void rp_rbq_dots(const uint64_t *planes, const uint64_t *codes, size_t count, size_t words, int32_t *dots, int32_t *pops);

/// The same at a chosen level (RP_LEVEL_SCALAR or RP_LEVEL_PORTABLE: the plain loop, the
/// oracle). AVX-512 needs VPOPCNTDQ as well; without it that level runs the AVX2 body.
void rp_rbq_dots_at(rp_level level, const uint64_t *planes, const uint64_t *codes, size_t count, size_t words, int32_t *dots, int32_t *pops);

#ifdef __cplusplus
}
#endif
#endif
