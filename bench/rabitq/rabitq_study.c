// RaBitQ-style 1-bit IVF codes with exact re-ranking, against the sq8 scan of the same index:
// a study harness (docs/bench/rabitq-study.md). It reads a ragpipe IVF sq8 index (centroids,
// lists, sq8 codes), the fp32 rows it was built from (.npy), queries and their exact top-10,
// encodes every row's residual to its list's stored centroid as sign bits of a seeded random
// rotation, and times one query at a time, one core, the sq8 scan and the 1-bit scan + re-rank
// back to back per setting.
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../../Sources/CKernels/kernels.c"
#include "../../Sources/CKernels/rabitq.c"
#include <x86intrin.h>

static void die(const char *m) { fprintf(stderr, "rabitq_study: %s\n", m); exit(1); }
static const uint8_t *map_file(const char *p, size_t *n) {
    int fd = open(p, O_RDONLY); if (fd < 0) die(p);
    struct stat st; fstat(fd, &st); *n = st.st_size;
    void *m = mmap(0, *n, PROT_READ, MAP_SHARED, fd, 0); if (m == MAP_FAILED) die("mmap");
    close(fd); return m;
}
static const float *npy(const char *p, size_t *rows, size_t d) {
    size_t n; const uint8_t *m = map_file(p, &n);
    if (n < 10 || memcmp(m, "\x93NUMPY\x01", 7)) die("not a version-1 .npy file");
    uint16_t hl; memcpy(&hl, m + 8, 2);
    size_t off = 10 + hl;
    char want[32]; snprintf(want, sizeof want, ", %zu)", d);
    char *h = strndup((const char *)m + 10, hl);
    if (off > n || !strstr(h, "'<f4'") || !strstr(h, "'fortran_order': False") || !strstr(h, want)) die("need a float32 .npy of the index's dimension");
    free(h);
    *rows = (n - off) / (4 * d); return (const float *)(m + off);
}
typedef struct { const uint8_t *p; uint64_t len; } sect;
static sect section(const uint8_t *f, const char *kind) {
    uint64_t off; uint32_t cnt; memcpy(&off, f + 24, 8); memcpy(&cnt, f + 32, 4);
    for (uint32_t i = 0; i < cnt; i++) {
        const uint8_t *e = f + off + 32 * i;
        if (!memcmp(e, kind, 4)) { uint64_t o, l; memcpy(&o, e + 8, 8); memcpy(&l, e + 16, 8); return (sect){f + o, l}; }
    }
    return (sect){0, 0};
}
static int CPUCLOCK = 1;
static double now(void) { struct timespec t; clock_gettime(CPUCLOCK ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

// Top-k min-heap of (score, id).
typedef struct { float *s; int32_t *id; int n, k; } heap;
static void hpush(heap *h, float s, int32_t id) {
    if (h->n < h->k) {
        int i = h->n++; h->s[i] = s; h->id[i] = id;
        while (i > 0) { int p = (i - 1) / 2; if (h->s[p] <= h->s[i]) break;
            float ts = h->s[p]; h->s[p] = h->s[i]; h->s[i] = ts; int32_t ti = h->id[p]; h->id[p] = h->id[i]; h->id[i] = ti; i = p; }
    } else if (s > h->s[0]) {
        h->s[0] = s; h->id[0] = id; int i = 0;
        for (;;) { int l = 2 * i + 1, r = l + 1, m = i;
            if (l < h->n && h->s[l] < h->s[m]) m = l; if (r < h->n && h->s[r] < h->s[m]) m = r;
            if (m == i) break; float ts = h->s[m]; h->s[m] = h->s[i]; h->s[i] = ts; int32_t ti = h->id[m]; h->id[m] = h->id[i]; h->id[i] = ti; i = m; }
    }
}

static size_t D, NL, N, W;   // dimension, lists, rows, 64-bit words per code
static const uint16_t *IVFC; static const uint8_t *IVFL; static const uint64_t *IVFDp;
static float *sq8min, *sq8step;
static const float *BASE;
static float *CENT;          // decoded centroids
static uint64_t **BITS;      // per list: n × W words
static float **FSCALE, **FERR;
static uint32_t *LCOUNT; static const uint32_t **LIDS; static const uint8_t **LCODES;

static size_t DP, HB;       // padded dimension (W·64), largest power of two ≤ DP
static float *SIGNS;         // ROUNDS × DP random ±1
#define ROUNDS 4
static void rotate(const float *x, float *out) { rp_rbq_rotate(SIGNS, ROUNDS, x, D, DP, out); }
static void make_rotation(uint64_t seed) {
    DP = W * 64; HB = 1; while (HB * 2 <= DP) HB *= 2;
    SIGNS = malloc(4 * ROUNDS * DP);
    rp_rbq_signs(seed, ROUNDS, DP, SIGNS);
}
static void encode_all(void) {
    float *r = malloc(4 * DP), *rr = malloc(4 * DP);
    BITS = malloc(sizeof(void *) * NL); FSCALE = malloc(sizeof(void *) * NL); FERR = malloc(sizeof(void *) * NL);
    for (size_t l = 0; l < NL; l++) {
        size_t n = LCOUNT[l], blocks = (n + 7) / 8;
        BITS[l] = aligned_alloc(64, blocks * W * 64 + 64); memset(BITS[l], 0, blocks * W * 64);
        FSCALE[l] = malloc(4 * blocks * 8 + 4); FERR[l] = malloc(4 * blocks * 8 + 4);
        const float *c = CENT + l * D;
        for (size_t e = 0; e < n; e++) {
            const float *x = BASE + (size_t)LIDS[l][e] * D;
            double nn = 0; for (size_t j = 0; j < D; j++) { r[j] = x[j] - c[j]; nn += (double)r[j] * r[j]; }
            rotate(r, rr);
            double norm = sqrt(nn), abs = 0;
            uint64_t *code = BITS[l] + (e / 8) * W * 8 + (e % 8);
            for (size_t j = 0; j < DP; j++) { abs += fabs(rr[j]); if (rr[j] > 0) code[(j / 64) * 8] |= 1ULL << (j % 64); }
            double xdot = norm > 0 ? abs / (sqrt((double)DP) * norm) : 1;   // <x̄, r̂>
            FSCALE[l][e] = (float)(norm / xdot);
            FERR[l][e] = (float)(norm * sqrt(fmax(0, 1 - xdot * xdot)) / xdot / sqrt((double)DP - 1));
        }
    }
    free(r); free(rr);
}
static void probe(const float *q, size_t nprobe, int32_t *out, float *cscore) {
    static float *sc; if (!sc) sc = malloc(4 * NL);
    rp_f16_scores(q, IVFC, NL, D, sc);
    float hs[4096]; int32_t hi[4096]; heap h = {hs, hi, 0, (int)nprobe};
    for (size_t l = 0; l < NL; l++) hpush(&h, sc[l], (int32_t)l);
    for (int i = 0; i < h.n; i++) { out[i] = hi[i]; cscore[i] = hs[i]; }
}
typedef struct { int16_t *w; float off, scale; } sq8q;
static sq8q sq8_prepare(const float *q) {
    static int16_t *w; static float *fw; if (!w) { w = malloc(2 * D); fw = malloc(4 * D); }
    double off = 0; float largest = 0, total = 0;
    for (size_t j = 0; j < D; j++) { off += (double)q[j] * sq8min[j]; fw[j] = q[j] * sq8step[j]; largest = fmaxf(largest, fabsf(fw[j])); total += fabsf(fw[j]); }
    float s = largest > 0 ? 32767 / largest : 1; if (total > 0) s = fminf(s, 2000000000.0f / 255 / total);
    for (size_t j = 0; j < D; j++) { float x = roundf(fw[j] * s); w[j] = (int16_t)fmaxf(-32767, fminf(32767, x)); }
    return (sq8q){w, (float)off, 1 / s};
}
static size_t LARGEST;
static void search_sq8(const float *q, size_t nprobe, int32_t *top10) {
    int32_t pr[4096]; float cs[4096]; probe(q, nprobe, pr, cs);
    sq8q sq = sq8_prepare(q);
    static int32_t *scr; if (!scr) scr = malloc(4 * LARGEST);
    float hs[10]; int32_t hi[10]; heap h = {hs, hi, 0, 10};
    for (size_t p = 0; p < nprobe; p++) {
        size_t l = pr[p], n = LCOUNT[l];
        rp_sq8_scores(sq.w, LCODES[l], n, D, scr);
        float thr = -INFINITY;
        for (size_t e = 0; e < n; e++) { float s = sq.off + sq.scale * scr[e]; if (s > thr || h.n < 10) { hpush(&h, s, LIDS[l][e]); if (h.n == 10) thr = hs[0]; } }
    }
    for (int i = 0; i < 10; i++) top10[i] = i < h.n ? hi[i] : -1;
}
static uint64_t PH[4]; static size_t NEXACT;
// Moves the k largest of v[0..<n] (with their ids) to the front; returns the k-th largest.
static float select_top(float *v, int32_t *id, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = v[(lo + hi) / 2]; int i = lo, j = hi;
        while (i <= j) {
            while (v[i] > pivot) i++;
            while (v[j] < pivot) j--;
            if (i <= j) { float t = v[i]; v[i] = v[j]; v[j] = t; int32_t u = id[i]; id[i] = id[j]; id[j] = u; i++; j--; }
        }
        if (k - 1 <= j) hi = j; else if (k - 1 >= i) lo = i; else break;
    }
    float m = v[0]; for (int i = 1; i < k; i++) if (v[i] < m) m = v[i];
    return m;
}
// 1-bit scan with a 4-bit query, keep the top R by estimate, re-rank them exactly (mode 0: sq8
// codes of the same rows, 1: fp32 rows).
static void search_rbq(const float *q, size_t nprobe, size_t R, int mode, int32_t *top10) {
    int32_t pr[4096]; float cs[4096]; probe(q, nprobe, pr, cs);
    static float *qr, *est; static int32_t *dots, *pops; static uint64_t *planes;
    if (!qr) { qr = aligned_alloc(64, 4 * DP); est = malloc(4 * LARGEST + 64); dots = malloc(4 * LARGEST + 64); pops = malloc(4 * LARGEST + 64); planes = malloc(8 * 4 * W); }
    uint64_t c0 = __rdtsc();
    rotate(q, qr);
    float lo, delta; int32_t usum;
    rp_rbq_quantize_query(qr, DP, planes, &lo, &delta, &usum);
    float invs = 1 / sqrtf((float)DP);
    float S = lo * DP + delta * usum;        // Σ of the quantized query
    float ca = 2 * delta * invs, cb = 2 * lo * invs, cc = S * invs;
    uint64_t c1 = __rdtsc(); PH[0] += c1 - c0;
    // Candidates above the threshold go to a buffer; past 2R it is cut to its best R (a
    // selection, not a heap: most candidates are rejected by one comparison).
    static float *hsv; static int32_t *hiv; if (!hsv) { hsv = malloc(4 * (4 * 4096 + LARGEST)); hiv = malloc(4 * (4 * 4096 + LARGEST)); }
    int cn = 0; float thr = -INFINITY;
    float tops[10]; int32_t topi[10]; heap top = {tops, topi, 0, 10};
    sq8q sq = sq8_prepare(q);
    float qn = 0; for (size_t j = 0; j < D; j++) qn += q[j] * q[j];
    float eps = (float)R / 10 * sqrtf(qn);
    for (size_t p = 0; p < nprobe; p++) {
        size_t l = pr[p], n = LCOUNT[l];
        if (p + 1 < nprobe) { size_t nl = pr[p + 1]; const char *nb = (const char *)BITS[nl]; size_t bytes = (LCOUNT[nl] + 7) / 8 * W * 64;
            for (size_t o = 0; o < bytes && o < 8192; o += 64) __builtin_prefetch(nb + o); __builtin_prefetch(FSCALE[nl]); }
        rp_rbq_dots(planes, BITS[l], n, W, dots, pops);
        const float *fs = FSCALE[l]; float cq = cs[p];
        for (size_t e = 0; e < n; e++) est[e] = cq + fs[e] * (ca * dots[e] + cb * pops[e] - cc);
        if (mode == 2) {   // error bound: a vector is scored exactly unless its bound rules it out
            const float *fe = FERR[l]; float t10 = top.n < 10 ? -INFINITY : top.s[0];
            for (size_t e = 0; e < n; e++) if (est[e] + eps * fe[e] > t10) {
                int32_t s32; rp_sq8_scores(sq.w, LCODES[l] + e * D, 1, D, &s32); hpush(&top, sq.off + sq.scale * s32, LIDS[l][e]);
                if (top.n == 10) t10 = top.s[0]; NEXACT++; }
            continue;
        }
        for (size_t e = 0; e < n; e++) if (est[e] > thr) { hsv[cn] = est[e]; hiv[cn] = (int32_t)((l << 20) | e); cn++; }
        if (cn > 2 * (int)R) { thr = select_top(hsv, hiv, cn, (int)R); cn = (int)R; }
    }
    if (cn > (int)R) { select_top(hsv, hiv, cn, (int)R); cn = (int)R; }
    heap h = {hsv, hiv, cn, (int)R};
    uint64_t c2 = __rdtsc(); PH[1] += c2 - c1;
    if (mode == 2) { for (int i = 0; i < 10; i++) top10[i] = i < top.n ? topi[i] : -1; return; }
    float hs[10]; int32_t hi10[10]; heap t = {hs, hi10, 0, 10};
    if (mode == 0) {
        for (int i = 0; i < h.n; i++) { size_t l = (uint32_t)hiv[i] >> 20, e = hiv[i] & 0xfffff; const uint8_t *cd = LCODES[l] + e * D;
            for (size_t o = 0; o < D; o += 64) __builtin_prefetch(cd + o); }
        for (int i = 0; i < h.n; i++) { size_t l = (uint32_t)hiv[i] >> 20, e = hiv[i] & 0xfffff; int32_t s32;
            rp_sq8_scores(sq.w, LCODES[l] + e * D, 1, D, &s32); hpush(&t, sq.off + sq.scale * s32, LIDS[l][e]); }
    } else {
        for (int i = 0; i < h.n; i++) { size_t l = (uint32_t)hiv[i] >> 20, e = hiv[i] & 0xfffff; const float *x = BASE + (size_t)LIDS[l][e] * D;
            for (size_t o = 0; o < D; o += 16) __builtin_prefetch(x + o); }
        for (int i = 0; i < h.n; i++) { size_t l = (uint32_t)hiv[i] >> 20, e = hiv[i] & 0xfffff; int32_t row = LIDS[l][e];
            float s; rp_gathered_dots(q, BASE, &row, 1, D, &s); hpush(&t, s, row); }
    }
    PH[2] += __rdtsc() - c2;
    for (int i = 0; i < 10; i++) top10[i] = i < t.n ? hi10[i] : -1;
}
static double recall(const int32_t *got, const int32_t *truth) {
    int hit = 0; for (int i = 0; i < 10; i++) for (int j = 0; j < 10; j++) if (got[i] == truth[j] && got[i] >= 0) { hit++; break; }
    return hit / 10.0;
}

int main(int argc, char **argv) {
    if (argc < 8) die("usage: rabitq_study INDEX.ragx BASE.npy QUERIES.npy TRUTH.i32 TRUTH_FIRST QUERY_FIRST COUNT [NPROBE,…] [R,…] [REPS]\n"
                      "  R ≥ 50: keep the R best estimates, re-rank them with sq8 and (separately) fp32;\n"
                      "  R < 50: error-bound run, a code is re-scored with sq8 when estimate + (R/10)·bound beats the 10th best");
    size_t n; const uint8_t *f = map_file(argv[1], &n);
    if (n < 64 || memcmp(f, "\x89RAGX\r\n\x1a", 8)) die("not a .ragx file");
    sect meta = section(f, "META"), c = section(f, "IVFC"), dd = section(f, "IVFD"), ll = section(f, "IVFL"), sp = section(f, "SQ8P");
    if (!c.p || !sp.p) die("need an IVF sq8 index");
    if (!meta.p || !dd.p || !ll.p) die("need an IVF sq8 index");
    char *m = strndup((const char *)meta.p, meta.len);
    if (!strstr(m, "\"codes\":\"sq8\"") || !strstr(m, "\"dim\":") || !strstr(m, "\"count\":")) die("need an IVF sq8 index");
    D = atoi(strstr(m, "\"dim\":") + 6); N = atol(strstr(m, "\"count\":") + 8); NL = dd.len / 16; W = (D + 63) / 64;
    IVFC = (const uint16_t *)c.p; IVFL = ll.p; IVFDp = (const uint64_t *)dd.p;
    sq8min = malloc(4 * D); sq8step = malloc(4 * D); memcpy(sq8min, sp.p, 4 * D); memcpy(sq8step, sp.p + 4 * D, 4 * D);
    CENT = malloc(4 * NL * D); rp_f16_to_f32(IVFC, CENT, NL * D);
    LCOUNT = malloc(4 * NL); LIDS = malloc(sizeof(void *) * NL); LCODES = malloc(sizeof(void *) * NL);
    for (size_t l = 0; l < NL; l++) {
        uint64_t off; uint32_t cnt; memcpy(&off, dd.p + 16 * l, 8); memcpy(&cnt, dd.p + 16 * l + 8, 4);
        LCOUNT[l] = cnt; LIDS[l] = (const uint32_t *)(IVFL + off); LCODES[l] = IVFL + off + (4 * (size_t)cnt + 63) / 64 * 64;
        if (cnt > LARGEST) LARGEST = cnt;
    }
    size_t rows; BASE = npy(argv[2], &rows, D); if (rows != N) die("base rows differ from the index");
    size_t qn; const float *Q = npy(argv[3], &qn, D);
    size_t tn; const int32_t *truth = (const int32_t *)map_file(argv[4], &tn);
    size_t tfirst = atol(argv[5]), first = atol(argv[6]), count = atol(argv[7]);
    if (count == 0 || first + count > qn) die("QUERY_FIRST + COUNT beyond the query file");
    if ((tfirst + count) * 40 > tn) die("TRUTH_FIRST + COUNT beyond the truth file");
    truth += tfirst * 10;
    const char *nps = argc > 8 ? argv[8] : "16,32,48,64,96", *rs = argc > 9 ? argv[9] : "50,100,200";
    int reps = argc > 10 ? atoi(argv[10]) : 3;
    if (reps < 1) reps = 1;
    if (getenv("WALL")) CPUCLOCK = 0;
    double t0 = now(); make_rotation(0x5eed); encode_all();
    fprintf(stderr, "d %zu, %zu rows, %zu lists, largest %zu; rotation + 1-bit encoding %.1f s; level %d\n", D, N, NL, LARGEST, now() - t0, rp_cpu_level());
    // Estimator quality: correlation of estimate and exact residual dot on the first query's probed lists.
    int32_t got[10];
    char buf[256]; strcpy(buf, nps);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(0, ",")) {
        size_t np = atol(tok); if (np > NL) np = NL;
        double best_sq8 = 1e9, rec_sq8 = 0;
        char rb[256]; strcpy(rb, rs);
        size_t Rs[16]; int nr = 0;
        { char *save, *t2 = strtok_r(rb, ",", &save); while (t2 && nr < 16) { Rs[nr++] = atol(t2); t2 = strtok_r(0, ",", &save); } }
        double best_rbq[16][2], rec_rbq[16][2];
        for (int i = 0; i < nr; i++) best_rbq[i][0] = best_rbq[i][1] = 1e9;
        for (int rep = 0; rep < reps; rep++) {
            double r = 0, t = now();
            for (size_t i = 0; i < count; i++) { search_sq8(Q + (first + i) * D, np, got); r += recall(got, truth + (first + i) * 10); }
            t = now() - t; if (t < best_sq8) best_sq8 = t; rec_sq8 = r / count;
            for (int k = 0; k < nr; k++) for (int mode = 0; mode < 2; mode++) { if (Rs[k] < 50 && mode == 1) continue; int md = Rs[k] < 50 ? 2 : mode; if (md == 2) NEXACT = 0;
                r = 0; t = now();
                for (size_t i = 0; i < count; i++) { search_rbq(Q + (first + i) * D, np, Rs[k], md, got); r += recall(got, truth + (first + i) * 10); }
                t = now() - t; if (t < best_rbq[k][mode]) best_rbq[k][mode] = t; rec_rbq[k][mode] = r / count;
            }
        }
        printf("nprobe %4zu  sq8: recall %.3f  %7.0f QPS", np, rec_sq8, count / best_sq8);
        for (int k = 0; k < nr; k++) if (Rs[k] < 50) printf(" | 1bit bound eps %.1f +sq8 %.3f %7.0f", Rs[k] / 10.0, rec_rbq[k][0], count / best_rbq[k][0]); else printf(" | 1bit R%zu+sq8 %.3f %7.0f | +fp32 %.3f %7.0f", Rs[k], rec_rbq[k][0], count / best_rbq[k][0], rec_rbq[k][1], count / best_rbq[k][1]);
        printf("\n"); if (getenv("PHASES")) printf("   cycles/query: rotate %.0f scan %.0f rerank %.0f\n", PH[0] / (double)(reps * count * nr * 2), PH[1] / (double)(reps * count * nr * 2), PH[2] / (double)(reps * count * nr * 2)); memset(PH, 0, sizeof PH); fflush(stdout);
    }
    return 0;
}
