/*
 * grumpy_arrow._kernels: the compiled kernels behind grumpy_arrow._native.
 *
 * Three loops NumPy cannot write in one pass: copying many ranges of a buffer (a ragged
 * gather), summing integer segments into 64-bit totals, and comparing values straight into
 * an Arrow validity-style bitmap. Each takes whole buffers through the buffer protocol (no
 * NumPy headers: the module builds against Python alone), checks every index and length it
 * is given before it touches memory, and runs with the GIL released.
 *
 * The module is optional: grumpy_arrow._native falls back to NumPy when it is missing, and
 * the tests run both ways.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Loops the compiler vectorises are built twice on x86-64 Linux with GCC or Clang and glibc
 * (whose ifuncs pick one): for AVX2 and for the baseline (SSE2), the right one picked when
 * the module loads. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__) \
    && (defined(__GNUC__) || defined(__clang__)) && !defined(GRUMPY_NO_CLONES)
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

/* What a buffer's struct format says about its items. */
enum kind { K_BAD, K_INT, K_UINT, K_FLOAT, K_BOOL };

static enum kind kind_of(const Py_buffer *b)
{
    const char *f = b->format ? b->format : "B";
    char c;
    /* A byte-order prefix for native order ('@', '=', '<' on a little-endian host). */
    if (*f == '@' || *f == '=') f++;
#if PY_LITTLE_ENDIAN
    if (*f == '<') f++;
#else
    if (*f == '>' || *f == '!') f++;
#endif
    if (f[0] == '\0' || f[1] != '\0') return K_BAD;
    c = f[0];
    switch (c) {
    case 'b': case 'h': case 'i': case 'l': case 'q': case 'n': return K_INT;
    case 'B': case 'H': case 'I': case 'L': case 'Q': case 'N': return K_UINT;
    case 'f': case 'd': return K_FLOAT;
    case '?': return K_BOOL;
    default: return K_BAD;
    }
}

/* A C-contiguous, one-dimensional view of obj (writable when asked). */
static int get_vector(PyObject *obj, Py_buffer *b, int writable, const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, b, flags) < 0) return -1;
    if (b->ndim > 1 || b->itemsize <= 0 || b->len % b->itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: expected a contiguous vector", what);
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

/* A vector of int64 (native order). */
static int get_int64(PyObject *obj, Py_buffer *b, int writable, const char *what)
{
    if (get_vector(obj, b, writable, what) < 0) return -1;
    if (b->itemsize != 8 || kind_of(b) != K_INT) {
        PyErr_Format(PyExc_TypeError, "%s: expected int64 values, got format '%s'", what,
                     b->format ? b->format : "B");
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

/* ---- take_ranges ----------------------------------------------------------------------- */

PyDoc_STRVAR(take_ranges_doc,
"take_ranges(src, starts, lens, out) -> int\n\n"
"Copy src[starts[i] : starts[i] + lens[i]] for every i, one after the other, into out\n"
"(items of src's size; starts and lens int64). Every range is checked against src and the\n"
"total against out before anything is copied; returns the number of items copied.");

static PyObject *take_ranges(PyObject *self, PyObject *args)
{
    PyObject *o_src, *o_starts, *o_lens, *o_out;
    Py_buffer src, starts, lens, out;
    Py_ssize_t n, nsrc, nout, i, bad = -1, total = 0;
    size_t w;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO:take_ranges", &o_src, &o_starts, &o_lens, &o_out))
        return NULL;
    if (get_vector(o_src, &src, 0, "take_ranges source") < 0) return NULL;
    if (get_int64(o_starts, &starts, 0, "take_ranges starts") < 0) goto fail_src;
    if (get_int64(o_lens, &lens, 0, "take_ranges lengths") < 0) goto fail_starts;
    if (get_vector(o_out, &out, 1, "take_ranges output") < 0) goto fail_lens;
    if (out.itemsize != src.itemsize) {
        PyErr_Format(PyExc_ValueError, "take_ranges: output items of %zd bytes, source %zd",
                     out.itemsize, src.itemsize);
        goto fail;
    }
    n = starts.len / 8;
    if (lens.len / 8 != n) {
        PyErr_Format(PyExc_ValueError, "take_ranges: %zd starts but %zd lengths", n,
                     lens.len / 8);
        goto fail;
    }
    nsrc = src.len / src.itemsize;
    nout = out.len / out.itemsize;
    w = (size_t)src.itemsize;
    {
        const int64_t *s = (const int64_t *)starts.buf, *l = (const int64_t *)lens.buf;
        const char *from = (const char *)src.buf;
        char *to = (char *)out.buf;
        Py_BEGIN_ALLOW_THREADS
        for (i = 0; i < n; i++) {  /* every range checked first: nothing copied on error */
            int64_t a = s[i], k = l[i];
            if (a < 0 || k < 0 || a > nsrc || k > nsrc - a || k > nout - total) {
                bad = i;
                break;
            }
            total += (Py_ssize_t)k;
        }
        if (bad < 0) {
            char *at = to;
            for (i = 0; i < n; i++) {
                size_t bytes = (size_t)l[i] * w;
                memcpy(at, from + (size_t)s[i] * w, bytes);
                at += bytes;
            }
        }
        Py_END_ALLOW_THREADS
        if (bad >= 0) {
            PyErr_Format(PyExc_IndexError,
                         "take_ranges: range %zd (start %lld, length %lld) is outside the "
                         "source's %zd items or the output's %zd",
                         bad, (long long)s[bad], (long long)l[bad], nsrc, nout);
            goto fail;
        }
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&lens);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&src);
    return PyLong_FromSsize_t(total);
fail:
    PyBuffer_Release(&out);
fail_lens:
    PyBuffer_Release(&lens);
fail_starts:
    PyBuffer_Release(&starts);
fail_src:
    PyBuffer_Release(&src);
    return NULL;
}

/* ---- take_rows ------------------------------------------------------------------------- */

PyDoc_STRVAR(take_rows_doc,
"take_rows(values, offsets, rows, new_offsets, out) -> int\n\n"
"Rows of a list array: row r is values[offsets[r] : offsets[r + 1]]. With out None,\n"
"fills new_offsets (int64, len(rows) + 1) with the offsets of the chosen rows, one after\n"
"the other from 0, and returns their total length; with out (items of values' size,\n"
"that total long), copies the rows into it. rows (int64) count from the end when\n"
"negative, as NumPy's do; a row outside the array, or offsets that decrease or end past\n"
"values, raise IndexError before anything is written.");

static PyObject *take_rows(PyObject *self, PyObject *args)
{
    PyObject *o_values, *o_off, *o_rows, *o_new, *o_out;
    Py_buffer values, off, rows, newoff, out;
    Py_ssize_t nrows, n, nvalues, i, bad = -1, total = 0;
    int copy;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOO:take_rows", &o_values, &o_off, &o_rows, &o_new, &o_out))
        return NULL;
    copy = o_out != Py_None;
    if (get_vector(o_values, &values, 0, "take_rows values") < 0) return NULL;
    if (get_int64(o_off, &off, 0, "take_rows offsets") < 0) goto fail_values;
    if (get_int64(o_rows, &rows, 0, "take_rows rows") < 0) goto fail_off;
    if (get_int64(o_new, &newoff, !copy, "take_rows new offsets") < 0) goto fail_rows;
    if (copy) {
        if (get_vector(o_out, &out, 1, "take_rows output") < 0) goto fail_new;
    } else {
        memset(&out, 0, sizeof(out));
    }
    n = off.len / 8 - 1;
    nrows = rows.len / 8;
    nvalues = values.len / values.itemsize;
    if (n < 0 || newoff.len / 8 != nrows + 1 || (copy && out.itemsize != values.itemsize)) {
        PyErr_Format(PyExc_ValueError,
                     "take_rows: %zd offsets, %zd rows, %zd new offsets (expected rows + 1)",
                     off.len / 8, nrows, newoff.len / 8);
        goto fail;
    }
    {
        const int64_t *o = (const int64_t *)off.buf, *r = (const int64_t *)rows.buf;
        int64_t *no = (int64_t *)newoff.buf;
        int64_t got = 0;
        Py_BEGIN_ALLOW_THREADS
        for (i = 0; i < nrows; i++) {
            int64_t k = r[i] < 0 ? r[i] + n : r[i];
            if (k < 0 || k >= n || o[k] < 0 || o[k + 1] < o[k] || o[k + 1] > nvalues) {
                bad = i;
                break;
            }
            if (copy) {
                if (no[i] != got || o[k + 1] - o[k] > (int64_t)(out.len / out.itemsize) - got) {
                    bad = i;
                    break;
                }
            } else {
                no[i] = got;
            }
            got += o[k + 1] - o[k];
        }
        if (bad < 0 && !copy) no[nrows] = got;
        if (bad < 0 && copy) {
            size_t w = (size_t)values.itemsize;
            const char *from = (const char *)values.buf;
            char *to = (char *)out.buf;
            for (i = 0; i < nrows; i++) {
                int64_t k = r[i] < 0 ? r[i] + n : r[i];
                memcpy(to + (size_t)no[i] * w, from + (size_t)o[k] * w, (size_t)(o[k + 1] - o[k]) * w);
            }
        }
        total = (Py_ssize_t)got;
        Py_END_ALLOW_THREADS
        if (bad >= 0) {
            PyErr_Format(PyExc_IndexError,
                         "take_rows: row %lld (at %zd) is outside the %zd rows, or its offsets "
                         "do not fit the %zd values or the output",
                         (long long)r[bad], bad, n, nvalues);
            goto fail;
        }
    }
    if (copy) PyBuffer_Release(&out);
    PyBuffer_Release(&newoff);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&off);
    PyBuffer_Release(&values);
    return PyLong_FromSsize_t(total);
fail:
    if (copy) PyBuffer_Release(&out);
fail_new:
    PyBuffer_Release(&newoff);
fail_rows:
    PyBuffer_Release(&rows);
fail_off:
    PyBuffer_Release(&off);
fail_values:
    PyBuffer_Release(&values);
    return NULL;
}

/* ---- segment_sum ----------------------------------------------------------------------- */

PyDoc_STRVAR(segment_sum_doc,
"segment_sum(values, offsets, out) -> None\n\n"
"out[i] = sum(values[offsets[i] : offsets[i + 1]]) for integer or bool values, summed in\n"
"64 bits (int64 for signed and bool values, uint64 for unsigned; wrapping on overflow,\n"
"as NumPy does). offsets (int64, one more than out) must start at 0 or more, never\n"
"decrease and end inside values.");

#define SEGMENT_SUM(T, ACC)                                                              \
    WIDE static void segsum_##T(const T *x, const int64_t *off, Py_ssize_t n, ACC *out)       \
    {                                                                                    \
        Py_ssize_t i;                                                                    \
        for (i = 0; i < n; i++) {                                                        \
            ACC acc = 0;                                                                 \
            int64_t j, stop = off[i + 1];                                                \
            for (j = off[i]; j < stop; j++) acc += (ACC)x[j];                            \
            out[i] = acc;                                                                \
        }                                                                                \
    }

SEGMENT_SUM(int8_t, int64_t)
SEGMENT_SUM(int16_t, int64_t)
SEGMENT_SUM(int32_t, int64_t)
SEGMENT_SUM(int64_t, uint64_t) /* (unsigned: wrapping, as NumPy's int64 sum does) */
SEGMENT_SUM(uint8_t, uint64_t)
SEGMENT_SUM(uint16_t, uint64_t)
SEGMENT_SUM(uint32_t, uint64_t)
SEGMENT_SUM(uint64_t, uint64_t)

static PyObject *segment_sum(PyObject *self, PyObject *args)
{
    PyObject *o_values, *o_offsets, *o_out;
    Py_buffer values, offsets, out;
    Py_ssize_t n, nvalues, i, bad = -1;
    enum kind k;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO:segment_sum", &o_values, &o_offsets, &o_out)) return NULL;
    if (get_vector(o_values, &values, 0, "segment_sum values") < 0) return NULL;
    if (get_int64(o_offsets, &offsets, 0, "segment_sum offsets") < 0) goto fail_values;
    if (get_vector(o_out, &out, 1, "segment_sum output") < 0) goto fail_offsets;
    k = kind_of(&values);
    if (k != K_INT && k != K_UINT && k != K_BOOL) {
        PyErr_Format(PyExc_TypeError, "segment_sum: expected integer or bool values, got '%s'",
                     values.format ? values.format : "B");
        goto fail;
    }
    n = out.len / out.itemsize;
    if (out.itemsize != 8 || offsets.len / 8 != n + 1) {
        PyErr_Format(PyExc_ValueError,
                     "segment_sum: expected an output of 8-byte items and one more offset "
                     "than outputs, got %zd-byte items, %zd outputs, %zd offsets",
                     out.itemsize, n, offsets.len / 8);
        goto fail;
    }
    nvalues = values.len / values.itemsize;
    {
        const int64_t *off = (const int64_t *)offsets.buf;
        Py_BEGIN_ALLOW_THREADS
        if (off[0] < 0 || off[n] > nvalues) bad = n;
        for (i = 0; bad < 0 && i < n; i++)
            if (off[i + 1] < off[i]) bad = i;
        if (bad < 0) {
            switch (k == K_BOOL ? 1 : values.itemsize * (k == K_INT ? 1 : -1)) {
            case 1: segsum_int8_t((const int8_t *)values.buf, off, n, (int64_t *)out.buf); break;
            case 2: segsum_int16_t((const int16_t *)values.buf, off, n, (int64_t *)out.buf); break;
            case 4: segsum_int32_t((const int32_t *)values.buf, off, n, (int64_t *)out.buf); break;
            case 8: segsum_int64_t((const int64_t *)values.buf, off, n, (uint64_t *)out.buf); break;
            case -1: segsum_uint8_t((const uint8_t *)values.buf, off, n, (uint64_t *)out.buf); break;
            case -2: segsum_uint16_t((const uint16_t *)values.buf, off, n, (uint64_t *)out.buf); break;
            case -4: segsum_uint32_t((const uint32_t *)values.buf, off, n, (uint64_t *)out.buf); break;
            case -8: segsum_uint64_t((const uint64_t *)values.buf, off, n, (uint64_t *)out.buf); break;
            default: bad = -2;
            }
        }
        Py_END_ALLOW_THREADS
        if (bad == -2) {
            PyErr_Format(PyExc_TypeError, "segment_sum: items of %zd bytes", values.itemsize);
            goto fail;
        }
        if (bad >= 0) {
            PyErr_Format(PyExc_ValueError,
                         "segment_sum: offsets must start at 0 or more, never decrease and "
                         "end inside the %zd values (at offset %zd)", nvalues, bad);
            goto fail;
        }
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&values);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&out);
fail_offsets:
    PyBuffer_Release(&offsets);
fail_values:
    PyBuffer_Release(&values);
    return NULL;
}

/* ---- compare_bits ---------------------------------------------------------------------- */

PyDoc_STRVAR(compare_bits_doc,
"compare_bits(x, y, op, out) -> None\n\n"
"x <op> y for every value of x as a bitmap, least significant bit first (Arrow's order):\n"
"bit i of out is set where the comparison holds. y has x's format and either x's length\n"
"or one item (a scalar). op: 0 ==, 1 !=, 2 <, 3 <=, 4 >, 5 >=. IEEE rules for floats\n"
"(NaN compares unequal to everything). Bits past len(x) in the last byte are zero.");

#define BLOCK 2048 /* values compared into bytes, then packed eight to a byte */

/* Eight 0/1 bytes (little-endian load) to eight bits, least significant first. */
static inline uint8_t pack8(const uint8_t *b)
{
    uint64_t v;
    memcpy(&v, b, 8);
#if !PY_LITTLE_ENDIAN
    v = __builtin_bswap64(v);
#endif
    return (uint8_t)((v * 0x0102040810204080ULL) >> 56);
}

#define CMP_LOOP(T, OP)                                                                  \
    do {                                                                                 \
        if (ystep)                                                                       \
            for (j = 0; j < m; j++) tmp[j] = (uint8_t)(x[i + j] OP y[i + j]);            \
        else                                                                             \
            for (j = 0; j < m; j++) tmp[j] = (uint8_t)(x[i + j] OP t);                   \
    } while (0)

#define COMPARE(T)                                                                       \
    WIDE static void cmp_##T(const T *x, const T *y, int ystep, Py_ssize_t n, int op,    \
                        uint8_t *out)                                                    \
    {                                                                                    \
        uint8_t tmp[BLOCK];                                                              \
        const T t = y[0];                                                                \
        Py_ssize_t i, j, m;                                                              \
        for (i = 0; i < n; i += BLOCK) {                                                 \
            m = n - i < BLOCK ? n - i : BLOCK;                                           \
            switch (op) {                                                                \
            case 0: CMP_LOOP(T, ==); break;                                              \
            case 1: CMP_LOOP(T, !=); break;                                              \
            case 2: CMP_LOOP(T, <); break;                                               \
            case 3: CMP_LOOP(T, <=); break;                                              \
            case 4: CMP_LOOP(T, >); break;                                               \
            default: CMP_LOOP(T, >=); break;                                             \
            }                                                                            \
            for (j = m; j < ((m + 7) & ~(Py_ssize_t)7); j++) tmp[j] = 0;                 \
            for (j = 0; j < m; j += 8) out[(i + j) >> 3] = pack8(tmp + j);               \
        }                                                                                \
    }

COMPARE(int8_t)
COMPARE(int16_t)
COMPARE(int32_t)
COMPARE(int64_t)
COMPARE(uint8_t)
COMPARE(uint16_t)
COMPARE(uint32_t)
COMPARE(uint64_t)
COMPARE(float)
COMPARE(double)

#if defined(__SSE2__)
/* SSE2 (every x86-64): 16 values compared at a time, their masks narrowed to 16 bits with
 * one movemask. Integers compare for ==, < or > and invert the bits for !=, >= and <=
 * (exact for integers; unsigned values compare as signed once their top bit is flipped).
 * Floats use their own six compares, so NaN follows IEEE. Each returns how many values it
 * did (a multiple of 16); the scalar loop does the rest. */

/* op -> (base compare: 0 ==, 1 <, 2 >; bits inverted?) for integers. */
static int int_base(int op) { return op <= 1 ? 0 : (op == 2 || op == 5) ? 1 : 2; }
static unsigned int_flip(int op) { return (op == 1 || op == 3 || op == 5) ? 0xFFFFu : 0u; }

static inline __m128i icmp(int base, __m128i a, __m128i b, int width)
{
    if (width == 1)
        return base == 0 ? _mm_cmpeq_epi8(a, b) : base == 1 ? _mm_cmpgt_epi8(b, a)
                                                             : _mm_cmpgt_epi8(a, b);
    if (width == 2)
        return base == 0 ? _mm_cmpeq_epi16(a, b) : base == 1 ? _mm_cmpgt_epi16(b, a)
                                                              : _mm_cmpgt_epi16(a, b);
    return base == 0 ? _mm_cmpeq_epi32(a, b) : base == 1 ? _mm_cmpgt_epi32(b, a)
                                                          : _mm_cmpgt_epi32(a, b);
}

#define SSE_INT(NAME, T, WIDTH, SIGNBIT, SET1)                                           \
    static Py_ssize_t NAME(const T *x, const T *y, int ystep, Py_ssize_t n, int op,      \
                           uint8_t *out)                                                 \
    {                                                                                    \
        const int base = int_base(op), per = 16 / (WIDTH);                               \
        const unsigned flip = int_flip(op);                                              \
        const __m128i s = SET1(SIGNBIT);                                                 \
        const __m128i t = _mm_xor_si128(SET1(y[0]), s);                                  \
        Py_ssize_t i;                                                                    \
        int k;                                                                           \
        for (i = 0; i + 16 <= n; i += 16) {                                              \
            __m128i m[4];                                                                \
            unsigned bits;                                                               \
            for (k = 0; k < 16 / per; k++) {                                             \
                __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + i + k * per)), s); \
                __m128i b = ystep ? _mm_xor_si128(                                       \
                    _mm_loadu_si128((const __m128i *)(y + i + k * per)), s) : t;         \
                m[k] = icmp(base, a, b, WIDTH);                                          \
            }                                                                            \
            if ((WIDTH) == 4)                                                            \
                m[0] = _mm_packs_epi16(_mm_packs_epi32(m[0], m[1]),                      \
                                       _mm_packs_epi32(m[2], m[3]));                     \
            else if ((WIDTH) == 2)                                                       \
                m[0] = _mm_packs_epi16(m[0], m[1]);                                      \
            bits = ((unsigned)_mm_movemask_epi8(m[0])) ^ flip;                           \
            out[i >> 3] = (uint8_t)bits;                                                 \
            out[(i >> 3) + 1] = (uint8_t)(bits >> 8);                                    \
        }                                                                                \
        return i;                                                                        \
    }

#define SET8(v) _mm_set1_epi8((char)(v))
#define SET16(v) _mm_set1_epi16((short)(v))
#define SET32(v) _mm_set1_epi32((int)(v))
SSE_INT(sse_int8_t, int8_t, 1, 0, SET8)
SSE_INT(sse_uint8_t, uint8_t, 1, 0x80, SET8)
SSE_INT(sse_int16_t, int16_t, 2, 0, SET16)
SSE_INT(sse_uint16_t, uint16_t, 2, 0x8000, SET16)
SSE_INT(sse_int32_t, int32_t, 4, 0, SET32)
SSE_INT(sse_uint32_t, uint32_t, 4, 0x80000000u, SET32)

#define SSE_FLOAT_LOOP(V, SUF, PER, LOAD, MOVEMASK, CMP)                                  \
    for (i = 0; i + 16 <= n; i += 16) {                                                  \
        unsigned bits = 0;                                                               \
        for (k = 0; k < 16 / (PER); k++) {                                               \
            V a = LOAD(x + i + (PER) * k), b = ystep ? LOAD(y + i + (PER) * k) : t;      \
            bits |= (unsigned)MOVEMASK(CMP(a, b)) << ((PER) * k);                        \
        }                                                                                \
        out[i >> 3] = (uint8_t)bits;                                                     \
        out[(i >> 3) + 1] = (uint8_t)(bits >> 8);                                        \
    }

#define SSE_FLOAT(NAME, T, V, SUF, PER, LOAD, MOVEMASK, SET1)                            \
    static Py_ssize_t NAME(const T *x, const T *y, int ystep, Py_ssize_t n, int op,      \
                           uint8_t *out)                                                 \
    {                                                                                    \
        const V t = SET1(y[0]);                                                          \
        Py_ssize_t i = 0;                                                                \
        int k;                                                                           \
        switch (op) {                                                                    \
        case 0: SSE_FLOAT_LOOP(V, SUF, PER, LOAD, MOVEMASK, _mm_cmpeq_##SUF) break;      \
        case 1: SSE_FLOAT_LOOP(V, SUF, PER, LOAD, MOVEMASK, _mm_cmpneq_##SUF) break;     \
        case 2: SSE_FLOAT_LOOP(V, SUF, PER, LOAD, MOVEMASK, _mm_cmplt_##SUF) break;      \
        case 3: SSE_FLOAT_LOOP(V, SUF, PER, LOAD, MOVEMASK, _mm_cmple_##SUF) break;      \
        case 4: SSE_FLOAT_LOOP(V, SUF, PER, LOAD, MOVEMASK, _mm_cmpgt_##SUF) break;      \
        default: SSE_FLOAT_LOOP(V, SUF, PER, LOAD, MOVEMASK, _mm_cmpge_##SUF) break;     \
        }                                                                                \
        return i;                                                                        \
    }

SSE_FLOAT(sse_float, float, __m128, ps, 4, _mm_loadu_ps, _mm_movemask_ps, _mm_set1_ps)
SSE_FLOAT(sse_double, double, __m128d, pd, 2, _mm_loadu_pd, _mm_movemask_pd, _mm_set1_pd)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(GRUMPY_NO_CLONES)
/* AVX2 (chosen at run time): floats compare 32 at a time with 256-bit compares, a
 * movemask per 8 float32 or 4 float64, one 32-bit store. */
#include <immintrin.h>
#define HAVE_AVX 1

#define AVX_STEP(V, PER, LOAD, MOVEMASK, CMP, PRED, B)                                   \
    for (i = 0; i + 32 <= n; i += 32) {                                                  \
        uint32_t bits = 0;                                                               \
        for (k = 0; k < 32 / (PER); k++) {                                               \
            V a = LOAD(x + i + (PER) * k), b = B;                                        \
            bits |= (uint32_t)MOVEMASK(CMP(a, b, PRED)) << ((PER) * k);                  \
        }                                                                                \
        memcpy(out + (i >> 3), &bits, 4);                                                \
    }
/* (the right side, an array or the scalar, chosen outside the loop) */
#define AVX_LOOP(V, PER, LOAD, MOVEMASK, CMP, PRED)                                      \
    if (ystep) {                                                                         \
        AVX_STEP(V, PER, LOAD, MOVEMASK, CMP, PRED, LOAD(y + i + (PER) * k))             \
    } else {                                                                             \
        AVX_STEP(V, PER, LOAD, MOVEMASK, CMP, PRED, t)                                   \
    }

#define AVX_FLOAT(NAME, T, V, PER, LOAD, MOVEMASK, SET1, CMP)                            \
    __attribute__((target("avx2"))) static Py_ssize_t NAME(                              \
        const T *x, const T *y, int ystep, Py_ssize_t n, int op, uint8_t *out)           \
    {                                                                                    \
        const V t = SET1(y[0]);                                                          \
        Py_ssize_t i = 0;                                                                \
        int k;                                                                           \
        switch (op) {                                                                    \
        case 0: AVX_LOOP(V, PER, LOAD, MOVEMASK, CMP, _CMP_EQ_OQ) break;                 \
        case 1: AVX_LOOP(V, PER, LOAD, MOVEMASK, CMP, _CMP_NEQ_UQ) break;                \
        case 2: AVX_LOOP(V, PER, LOAD, MOVEMASK, CMP, _CMP_LT_OQ) break;                 \
        case 3: AVX_LOOP(V, PER, LOAD, MOVEMASK, CMP, _CMP_LE_OQ) break;                 \
        case 4: AVX_LOOP(V, PER, LOAD, MOVEMASK, CMP, _CMP_GT_OQ) break;                 \
        default: AVX_LOOP(V, PER, LOAD, MOVEMASK, CMP, _CMP_GE_OQ) break;                \
        }                                                                                \
        return i;                                                                        \
    }

AVX_FLOAT(avx_float, float, __m256, 8, _mm256_loadu_ps, _mm256_movemask_ps, _mm256_set1_ps,
          _mm256_cmp_ps)
AVX_FLOAT(avx_double, double, __m256d, 4, _mm256_loadu_pd, _mm256_movemask_pd, _mm256_set1_pd,
          _mm256_cmp_pd)

/* 32- and 64-bit integers: 256-bit compares for ==, < or > (bits inverted for !=, >=
 * and <=), a float movemask of the lanes, 32 values a step (one 32-bit store). The loop
 * is written out for each compare and for a scalar or an array on the right, so nothing
 * is decided inside it (with the choice inside, int32 > scalar ran at half NumPy's speed
 * of a bool array). */
#define AVX_INT_STEP(B, CMP, MM, CAST)                                                   \
    for (; i + 32 <= n; i += 32) {                                                       \
        uint32_t bits = 0;                                                               \
        for (k = 0; k < 32 / per; k++) {                                                 \
            __m256i a = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(x + i + per * k)), s); \
            __m256i b = B;                                                               \
            bits |= (uint32_t)MM(CAST(CMP)) << (per * k);                                \
        }                                                                                \
        bits ^= flip;                                                                    \
        memcpy(out + (i >> 3), &bits, 4);                                                \
    }
#define AVX_INT_LOOPS(B, EQ, GT, MM, CAST)                                               \
    if (base == 0) { AVX_INT_STEP(B, EQ(a, b), MM, CAST) }                               \
    else if (base == 1) { AVX_INT_STEP(B, GT(b, a), MM, CAST) }                          \
    else { AVX_INT_STEP(B, GT(a, b), MM, CAST) }

#define AVX_INT(NAME, T, PER, SIGNBIT, SET1, EQ, GT, MM, CAST)                           \
    __attribute__((target("avx2"))) static Py_ssize_t NAME(                              \
        const T *x, const T *y, int ystep, Py_ssize_t n, int op, uint8_t *out)           \
    {                                                                                    \
        const int base = int_base(op), per = (PER);                                      \
        const uint32_t flip = int_flip(op) ? 0xFFFFFFFFu : 0u;                           \
        const __m256i s = SET1(SIGNBIT);                                                 \
        const __m256i t = _mm256_xor_si256(SET1(y[0]), s);                               \
        Py_ssize_t i = 0;                                                                \
        int k;                                                                           \
        if (ystep) {                                                                     \
            AVX_INT_LOOPS(_mm256_xor_si256(                                              \
                _mm256_loadu_si256((const __m256i *)(y + i + per * k)), s), EQ, GT, MM, CAST) \
        } else {                                                                         \
            AVX_INT_LOOPS(t, EQ, GT, MM, CAST)                                           \
        }                                                                                \
        return i;                                                                        \
    }

#define SET32X(v) _mm256_set1_epi32((int)(v))
#define SET64X(v) _mm256_set1_epi64x((long long)(v))
#define I32_ _mm256_cmpeq_epi32, _mm256_cmpgt_epi32, _mm256_movemask_ps, _mm256_castsi256_ps
#define I64_ _mm256_cmpeq_epi64, _mm256_cmpgt_epi64, _mm256_movemask_pd, _mm256_castsi256_pd
#define AVX_INT_OF(...) AVX_INT(__VA_ARGS__) /* (expands I32_ / I64_ into four arguments) */
AVX_INT_OF(avx_int32_t, int32_t, 8, 0, SET32X, I32_)
AVX_INT_OF(avx_uint32_t, uint32_t, 8, 0x80000000u, SET32X, I32_)
AVX_INT_OF(avx_int64_t, int64_t, 4, 0, SET64X, I64_)
AVX_INT_OF(avx_uint64_t, uint64_t, 4, 0x8000000000000000ull, SET64X, I64_)

static int has_avx2 = -1;
static Py_ssize_t sse_or_avx_float(const float *x, const float *y, int ystep, Py_ssize_t n,
                                   int op, uint8_t *out)
{
    return has_avx2 ? avx_float(x, y, ystep, n, op, out) : sse_float(x, y, ystep, n, op, out);
}
static Py_ssize_t sse_or_avx_double(const double *x, const double *y, int ystep, Py_ssize_t n,
                                    int op, uint8_t *out)
{
    return has_avx2 ? avx_double(x, y, ystep, n, op, out) : sse_double(x, y, ystep, n, op, out);
}
static Py_ssize_t sse_or_avx_int32_t(const int32_t *x, const int32_t *y, int ystep,
                                     Py_ssize_t n, int op, uint8_t *out)
{
    return has_avx2 ? avx_int32_t(x, y, ystep, n, op, out) : sse_int32_t(x, y, ystep, n, op, out);
}
static Py_ssize_t sse_or_avx_uint32_t(const uint32_t *x, const uint32_t *y, int ystep,
                                      Py_ssize_t n, int op, uint8_t *out)
{
    return has_avx2 ? avx_uint32_t(x, y, ystep, n, op, out)
                    : sse_uint32_t(x, y, ystep, n, op, out);
}
static Py_ssize_t sse_or_avx_int64_t(const int64_t *x, const int64_t *y, int ystep,
                                     Py_ssize_t n, int op, uint8_t *out)
{
    return has_avx2 ? avx_int64_t(x, y, ystep, n, op, out) : 0;
}
static Py_ssize_t sse_or_avx_uint64_t(const uint64_t *x, const uint64_t *y, int ystep,
                                      Py_ssize_t n, int op, uint8_t *out)
{
    return has_avx2 ? avx_uint64_t(x, y, ystep, n, op, out) : 0;
}
#define SSE_F(T, x, y, ystep, n, op, o) sse_or_avx_##T(x, y, ystep, n, op, o)
#else /* SSE2 only: 64-bit integers take the scalar loop */
static Py_ssize_t sse_int64_t(const int64_t *x, const int64_t *y, int ystep, Py_ssize_t n,
                              int op, uint8_t *out)
{
    (void)x, (void)y, (void)ystep, (void)n, (void)op, (void)out;
    return 0;
}
static Py_ssize_t sse_uint64_t(const uint64_t *x, const uint64_t *y, int ystep, Py_ssize_t n,
                               int op, uint8_t *out)
{
    (void)x, (void)y, (void)ystep, (void)n, (void)op, (void)out;
    return 0;
}
#define SSE_F(T, x, y, ystep, n, op, o) sse_##T(x, y, ystep, n, op, o)
#endif
#define SSE(T, x, y, ystep, n, op, o) sse_##T(x, y, ystep, n, op, o)
#else
#define SSE(T, x, y, ystep, n, op, o) 0
#define SSE_F(T, x, y, ystep, n, op, o) 0
#endif

/* The SIMD part (where there is one), then the scalar loop from the first value it left. */
#define DISPATCH(T)                                                                      \
    do {                                                                                 \
        const T *xs = (const T *)x.buf, *ys = (const T *)y.buf;                          \
        Py_ssize_t done = SSE(T, xs, ys, ystep, n, op, o);                               \
        if (done < n)                                                                    \
            cmp_##T(xs + done, ys + (ystep ? done : 0), ystep, n - done, op, o + done / 8); \
    } while (0)

#define DISPATCH_F(T)                                                                    \
    do {                                                                                 \
        const T *xs = (const T *)x.buf, *ys = (const T *)y.buf;                          \
        Py_ssize_t done = SSE_F(T, xs, ys, ystep, n, op, o);                             \
        if (done < n)                                                                    \
            cmp_##T(xs + done, ys + (ystep ? done : 0), ystep, n - done, op, o + done / 8); \
    } while (0)


static PyObject *compare_bits(PyObject *self, PyObject *args)
{
    PyObject *o_x, *o_y, *o_out;
    Py_buffer x, y, out;
    int op, ystep, ok = 1;
    Py_ssize_t n, ny;
    enum kind k;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOiO:compare_bits", &o_x, &o_y, &op, &o_out)) return NULL;
    if (op < 0 || op > 5) {
        PyErr_Format(PyExc_ValueError, "compare_bits: op %d is not one of 0..5", op);
        return NULL;
    }
    if (get_vector(o_x, &x, 0, "compare_bits x") < 0) return NULL;
    if (get_vector(o_y, &y, 0, "compare_bits y") < 0) goto fail_x;
    if (get_vector(o_out, &out, 1, "compare_bits output") < 0) goto fail_y;
    k = kind_of(&x);
    if (k == K_BAD || k == K_BOOL || kind_of(&y) != k || y.itemsize != x.itemsize
        || (k == K_FLOAT && x.itemsize != 4 && x.itemsize != 8)) {
        PyErr_Format(PyExc_TypeError,
                     "compare_bits: expected numbers of one format on both sides, got '%s' "
                     "and '%s'", x.format ? x.format : "B", y.format ? y.format : "B");
        goto fail;
    }
    n = x.len / x.itemsize;
    ny = y.len / y.itemsize;
    if ((ny != n && ny != 1) || out.len < (n + 7) / 8) {
        PyErr_Format(PyExc_ValueError,
                     "compare_bits: %zd values against %zd (expected as many, or one), "
                     "into %zd bytes (%zd needed)", n, ny, out.len, (n + 7) / 8);
        goto fail;
    }
    ystep = ny == n && n != 1;
    if (n > 0) {
        uint8_t *o = (uint8_t *)out.buf;
        Py_BEGIN_ALLOW_THREADS
        switch (k == K_FLOAT ? 100 + x.itemsize : x.itemsize * (k == K_INT ? 1 : -1)) {
        case 1: DISPATCH(int8_t); break;
        case 2: DISPATCH(int16_t); break;
        case 4: DISPATCH_F(int32_t); break;
        case 8: DISPATCH_F(int64_t); break;
        case -1: DISPATCH(uint8_t); break;
        case -2: DISPATCH(uint16_t); break;
        case -4: DISPATCH_F(uint32_t); break;
        case -8: DISPATCH_F(uint64_t); break;
        case 104: DISPATCH_F(float); break;
        case 108: DISPATCH_F(double); break;
        default: ok = 0;
        }
        Py_END_ALLOW_THREADS
    }
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "compare_bits: items of %zd bytes", x.itemsize);
        goto fail;
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&y);
    PyBuffer_Release(&x);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&out);
fail_y:
    PyBuffer_Release(&y);
fail_x:
    PyBuffer_Release(&x);
    return NULL;
}

/* ---- crc32c and Blosc chunks ------------------------------------------------------------ */

/* crc32c (Castagnoli), as google_crc32c.value gives it: the SSE4.2 instruction where the
 * CPU has it, else eight tables (slice-by-8). */
static uint32_t crc_table[8][256];

static void crc_init(void)
{
    uint32_t i, j, c;
    for (i = 0; i < 256; i++) {
        c = i;
        for (j = 0; j < 8; j++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[0][i] = c;
    }
    for (i = 0; i < 256; i++)
        for (j = 1; j < 8; j++)
            crc_table[j][i] = (crc_table[j - 1][i] >> 8) ^ crc_table[0][crc_table[j - 1][i] & 0xFF];
}

static uint32_t crc_soft(uint32_t c, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint32_t lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        lo ^= c;
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF]
            ^ crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24]
            ^ crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF]
            ^ crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xFF];
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(GRUMPY_NO_CLONES)
#include <nmmintrin.h>
#define HAVE_CRC_HW 1
static int has_sse42 = 0;
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--) c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

static uint32_t crc32c(const uint8_t *p, size_t n)
{
#ifdef HAVE_CRC_HW
    if (has_sse42) return ~crc_hw(0xFFFFFFFFu, p, n);
#endif
    return ~crc_soft(0xFFFFFFFFu, p, n);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

PyDoc_STRVAR(crc32c_rows_doc,
"crc32c_rows(data, width, out) -> None\n\n"
"out[j] = crc32c of data[j * width : (j + 1) * width] for every whole row of data\n"
"(out: uint32, as many as data has whole rows).");

static PyObject *crc32c_rows(PyObject *self, PyObject *args)
{
    PyObject *o_data, *o_out;
    Py_buffer data, out;
    Py_ssize_t width, rows, j;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnO:crc32c_rows", &o_data, &width, &o_out)) return NULL;
    if (width <= 0) {
        PyErr_Format(PyExc_ValueError, "crc32c_rows: width %zd", width);
        return NULL;
    }
    if (PyObject_GetBuffer(o_data, &data, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (get_vector(o_out, &out, 1, "crc32c_rows output") < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    rows = data.len / width;
    if (out.itemsize != 4 || out.len / 4 != rows) {
        PyErr_Format(PyExc_ValueError, "crc32c_rows: %zd rows into %zd items of %zd bytes",
                     rows, out.len / out.itemsize, out.itemsize);
        PyBuffer_Release(&out);
        PyBuffer_Release(&data);
        return NULL;
    }
    {
        const uint8_t *p = (const uint8_t *)data.buf;
        uint32_t *o = (uint32_t *)out.buf;
        Py_BEGIN_ALLOW_THREADS
        for (j = 0; j < rows; j++) o[j] = crc32c(p + j * width, (size_t)width);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&data);
    Py_RETURN_NONE;
}

typedef int (*blosc_decompress_ctx_fn)(const void *, void *, size_t, int);

PyDoc_STRVAR(blosc_chunks_doc,
"blosc_chunks(source, offsets, sizes, out, want, decode, bad) -> int\n\n"
"Check and decode Blosc inner chunks: chunk j is sizes[j] bytes at offsets[j] of source\n"
"(a bytes-like object, or an open file descriptor read with pread), a Blosc frame then\n"
"its crc32c (4 bytes, little-endian), and decodes into out[j * want : (j + 1) * want].\n"
"decode is the address of c-blosc's blosc_decompress_ctx. A chunk is decoded only when\n"
"it lies inside source, its size can hold a frame of want bytes, its checksum matches, its\n"
"header says want bytes in sizes[j] - 4, and c-blosc gives exactly want bytes; any other\n"
"chunk is left alone and bad[j] set to 1 (else 0). Returns how many were left. offsets\n"
"and sizes are int64; bad is uint8; the GIL is released throughout.");

/* One chunk's frame and checksum (k bytes at c) checked, then decoded into dest. */
static int decode_one(const uint8_t *c, int64_t k, Py_ssize_t want, char *dest,
                      blosc_decompress_ctx_fn decode)
{
    return crc32c(c, (size_t)(k - 4)) == le32(c + k - 4) && (int64_t)le32(c + 4) == want
           && (int64_t)le32(c + 12) == k - 4
           && decode(c, dest, (size_t)want, 1) == want;
}

#ifndef _WIN32
/* k bytes at offset a of fd into buf (pread, retried when interrupted or short). */
static int read_all(int fd, uint8_t *buf, int64_t k, int64_t a)
{
    int64_t got = 0;
    while (got < k) {
        ssize_t r = pread(fd, buf + got, (size_t)(k - got), (off_t)(a + got));
        if (r > 0)
            got += r;
        else if (!(r < 0 && errno == EINTR))
            return 0;
    }
    return 1;
}
#endif

/* The loop of blosc_chunks and blosc_files: chunk j from d (len bytes) when fds is NULL
   and fd < 0, else read from fds[j] (or fd when fds is NULL) into scratch. The GIL is
   released by the caller. Returns how many chunks were left. */
static Py_ssize_t blosc_loop(const uint8_t *d, Py_ssize_t len, int fd, const int64_t *fds,
                             const int64_t *o, const int64_t *s, Py_ssize_t n, Py_ssize_t want,
                             char *dest, uint8_t *flag, uint8_t *scratch,
                             blosc_decompress_ctx_fn decode)
{
    Py_ssize_t j, left = 0;
    for (j = 0; j < n; j++) {
        int64_t a = o[j], k = s[j];
        /* (A Blosc frame of want bytes takes at most want + 16: its overhead.) */
        int ok = a >= 0 && k >= 20 && k <= (int64_t)want + 20;
        if (ok && fds == NULL && fd < 0) {
            ok = a <= len && k <= len - a && decode_one(d + a, k, want, dest + j * want, decode);
        } else if (ok) {
#ifndef _WIN32
            int64_t f = fds == NULL ? fd : fds[j];
            ok = f >= 0 && f <= INT_MAX && read_all((int)f, scratch, k, a)
                 && decode_one(scratch, k, want, dest + j * want, decode);
#else
            ok = 0;
#endif
        }
        flag[j] = (uint8_t)!ok;
        left += !ok;
    }
    return left;
}

/* The shared body of blosc_chunks (o_fds NULL) and blosc_files (o_src NULL). */
static PyObject *blosc_run(const char *name, PyObject *o_src, PyObject *o_fds, PyObject *o_off,
                           PyObject *o_size, PyObject *o_out, Py_ssize_t want,
                           unsigned long long address, PyObject *o_bad)
{
    Py_buffer data, fds, off, size, out, bad;
    Py_ssize_t n, left = 0;
    blosc_decompress_ctx_fn decode;
    uint8_t *scratch = NULL;
    int fd = -1, have_data = 0, have_fds = 0;
    if (address == 0 || want <= 0 || want > (1 << 30)) {
        PyErr_Format(PyExc_ValueError, "%s: no decoder, or a size out of range", name);
        return NULL;
    }
    decode = (blosc_decompress_ctx_fn)(uintptr_t)address;
    memset(&data, 0, sizeof(data));
    if (o_fds != NULL) {
#ifdef _WIN32
        PyErr_Format(PyExc_NotImplementedError, "%s: reads from a file need pread", name);
        return NULL;
#else
        if (get_int64(o_fds, &fds, 0, "blosc_files descriptors") < 0) return NULL;
        have_fds = 1;
#endif
    } else if (PyLong_Check(o_src)) {
#ifdef _WIN32
        PyErr_Format(PyExc_NotImplementedError, "%s: reads from a file need pread", name);
        return NULL;
#else
        long v = PyLong_AsLong(o_src);
        if (v < 0 || v > INT_MAX) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "%s: file descriptor %ld", name, v);
            return NULL;
        }
        fd = (int)v;
#endif
    } else if (PyObject_GetBuffer(o_src, &data, PyBUF_C_CONTIGUOUS) < 0) {
        return NULL;
    } else {
        have_data = 1;
    }
    if (get_int64(o_off, &off, 0, "blosc_chunks offsets") < 0) goto fail_data;
    if (get_int64(o_size, &size, 0, "blosc_chunks sizes") < 0) goto fail_off;
    if (PyObject_GetBuffer(o_out, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) goto fail_size;
    if (get_vector(o_bad, &bad, 1, "blosc_chunks flags") < 0) goto fail_out;
    n = off.len / 8;
    if (size.len / 8 != n || bad.len != n || bad.itemsize != 1 || out.len / want < n
        || (have_fds && fds.len / 8 != n)) {
        PyErr_Format(PyExc_ValueError,
                     "%s: %zd offsets, %zd sizes, %zd flags, %zd descriptors, room for %zd "
                     "chunks", name, n, size.len / 8, bad.len,
                     have_fds ? fds.len / 8 : n, out.len / want);
        goto fail;
    }
    if (!have_data) {
        scratch = (uint8_t *)PyMem_RawMalloc((size_t)want + 20);
        if (scratch == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    left = blosc_loop((const uint8_t *)data.buf, data.len, fd,
                      have_fds ? (const int64_t *)fds.buf : NULL, (const int64_t *)off.buf,
                      (const int64_t *)size.buf, n, want, (char *)out.buf, (uint8_t *)bad.buf,
                      scratch, decode);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(scratch);
    PyBuffer_Release(&bad);
    PyBuffer_Release(&out);
    PyBuffer_Release(&size);
    PyBuffer_Release(&off);
    if (have_data) PyBuffer_Release(&data);
    if (have_fds) PyBuffer_Release(&fds);
    return PyLong_FromSsize_t(left);
fail:
    PyBuffer_Release(&bad);
fail_out:
    PyBuffer_Release(&out);
fail_size:
    PyBuffer_Release(&size);
fail_off:
    PyBuffer_Release(&off);
fail_data:
    if (have_data) PyBuffer_Release(&data);
    if (have_fds) PyBuffer_Release(&fds);
    return NULL;
}

static PyObject *blosc_chunks(PyObject *self, PyObject *args)
{
    PyObject *o_src, *o_off, *o_size, *o_out, *o_bad;
    Py_ssize_t want;
    unsigned long long address;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnKO:blosc_chunks", &o_src, &o_off, &o_size, &o_out,
                          &want, &address, &o_bad))
        return NULL;
    return blosc_run("blosc_chunks", o_src, NULL, o_off, o_size, o_out, want, address, o_bad);
}

PyDoc_STRVAR(blosc_files_doc,
"blosc_files(fds, offsets, sizes, out, want, decode, bad) -> int\n\n"
"As blosc_chunks, each chunk read from its own open file descriptor: chunk j is sizes[j]\n"
"bytes at offsets[j] of the file fds[j] (int64; a negative or too large descriptor flags\n"
"the chunk). The chunks of many shard files in one call, the GIL released throughout.");

static PyObject *blosc_files(PyObject *self, PyObject *args)
{
    PyObject *o_fds, *o_off, *o_size, *o_out, *o_bad;
    Py_ssize_t want;
    unsigned long long address;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnKO:blosc_files", &o_fds, &o_off, &o_size, &o_out, &want,
                          &address, &o_bad))
        return NULL;
    return blosc_run("blosc_files", NULL, o_fds, o_off, o_size, o_out, want, address, o_bad);
}

typedef int (*blosc_compress_ctx_fn)(int, int, size_t, size_t, const void *, void *, size_t,
                                     const char *, size_t, int);

PyDoc_STRVAR(blosc_encode_doc,
"blosc_encode(rows, width, out, sizes, clevel, shuffle, typesize, cname, encode) -> int\n\n"
"Compress each width-byte row of rows (a whole number of them) with c-blosc's\n"
"blosc_compress_ctx (address encode; clevel, shuffle, typesize and the codec name cname\n"
"as it takes them, one thread) and write, packed one after the other into out, each\n"
"frame followed by its crc32c (4 bytes, little-endian): the inner chunks of a shard. out\n"
"needs room for rows * (width + 20) bytes; sizes (int64, one per row) gets each chunk's\n"
"size with its checksum. Returns the bytes written, or -1 - j when c-blosc fails on row\n"
"j (nothing said about the rows after it). The GIL is released throughout.");

static PyObject *blosc_encode(PyObject *self, PyObject *args)
{
    PyObject *o_rows, *o_out, *o_sizes;
    Py_buffer rows, out, sizes;
    Py_ssize_t width, typesize, m, j, at = 0;
    int clevel, shuffle;
    const char *cname;
    unsigned long long address;
    blosc_compress_ctx_fn encode;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnOOiinsK:blosc_encode", &o_rows, &width, &o_out, &o_sizes,
                          &clevel, &shuffle, &typesize, &cname, &address))
        return NULL;
    if (address == 0 || width <= 0 || width > (1 << 30) || typesize <= 0 || typesize > 255) {
        PyErr_SetString(PyExc_ValueError,
                        "blosc_encode: no encoder, or a width or item size out of range");
        return NULL;
    }
    encode = (blosc_compress_ctx_fn)(uintptr_t)address;
    if (PyObject_GetBuffer(o_rows, &rows, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (PyObject_GetBuffer(o_out, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) goto fail_rows;
    if (get_int64(o_sizes, &sizes, 1, "blosc_encode sizes") < 0) goto fail_out;
    m = rows.len / width;
    if (rows.len % width != 0 || sizes.len / 8 != m || out.len / (width + 20) < m) {
        PyErr_Format(PyExc_ValueError,
                     "blosc_encode: %zd bytes of rows are not whole rows of %zd, or %zd sizes "
                     "and %zd bytes of room do not fit %zd rows",
                     rows.len, width, sizes.len / 8, out.len, m);
        goto fail;
    }
    {
        const char *src = (const char *)rows.buf;
        uint8_t *dest = (uint8_t *)out.buf;
        int64_t *size = (int64_t *)sizes.buf;
        Py_BEGIN_ALLOW_THREADS
        for (j = 0; j < m; j++) {
            /* (room: the frame's overhead is at most 16 bytes, then the checksum) */
            int n = encode(clevel, shuffle, (size_t)typesize, (size_t)width, src + j * width,
                           dest + at, (size_t)width + 16, cname, 0, 1);
            if (n <= 0) {
                at = -1 - j;
                break;
            }
            uint32_t c = crc32c(dest + at, (size_t)n);
            dest[at + n] = (uint8_t)c;
            dest[at + n + 1] = (uint8_t)(c >> 8);
            dest[at + n + 2] = (uint8_t)(c >> 16);
            dest[at + n + 3] = (uint8_t)(c >> 24);
            size[j] = n + 4;
            at += n + 4;
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&sizes);
    PyBuffer_Release(&out);
    PyBuffer_Release(&rows);
    return PyLong_FromSsize_t(at);
fail:
    PyBuffer_Release(&sizes);
fail_out:
    PyBuffer_Release(&out);
fail_rows:
    PyBuffer_Release(&rows);
    return NULL;
}

/* ---- int_rows -------------------------------------------------------------------------- */

PyDoc_STRVAR(int_rows_doc,
"int_rows(rows, itemsize, signed) -> (offsets, values) | None\n\n"
"A list (or tuple) of lists (or tuples) of Python ints as int64 offsets (one more than\n"
"rows) and values of itemsize bytes (1, 2, 4 or 8; signed or not), both bytearrays in\n"
"native order. None, and nothing built, as soon as anything is not exactly that: a row\n"
"that is not a list or tuple, a value that is not an int (bools, floats, None, NumPy\n"
"scalars) or an int outside the type's range. The caller's general path takes those.");

static PyObject *int_rows(PyObject *self, PyObject *args)
{
    PyObject *rows, *offsets = NULL, *values = NULL, **items;
    int itemsize, is_signed;
    Py_ssize_t n, i, j, total = 0, pos = 0;
    long long lo = 0, hi = 0;
    unsigned long long uhi = 0;
    int64_t *off;
    char *out;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oip:int_rows", &rows, &itemsize, &is_signed)) return NULL;
    if (itemsize != 1 && itemsize != 2 && itemsize != 4 && itemsize != 8) {
        PyErr_Format(PyExc_ValueError, "int_rows: itemsize %d is not 1, 2, 4 or 8", itemsize);
        return NULL;
    }
    if (!PyList_CheckExact(rows) && !PyTuple_CheckExact(rows)) Py_RETURN_NONE;
    if (is_signed) {
        hi = itemsize == 8 ? LLONG_MAX : (long long)((1ULL << (8 * itemsize - 1)) - 1);
        lo = -hi - 1;
    } else {
        uhi = itemsize == 8 ? ULLONG_MAX : (1ULL << (8 * itemsize)) - 1;
    }
    n = PySequence_Fast_GET_SIZE(rows);
    items = PySequence_Fast_ITEMS(rows);
    for (i = 0; i < n; i++) {
        PyObject *r = items[i];
        if (!PyList_CheckExact(r) && !PyTuple_CheckExact(r)) Py_RETURN_NONE;
        total += PySequence_Fast_GET_SIZE(r);
    }
    offsets = PyByteArray_FromStringAndSize(NULL, (n + 1) * 8);
    values = PyByteArray_FromStringAndSize(NULL, total * itemsize);
    if (offsets == NULL || values == NULL) goto fail;
    off = (int64_t *)PyByteArray_AS_STRING(offsets);
    out = PyByteArray_AS_STRING(values);
    off[0] = 0;
    /* (No Python code runs below: exact ints and lists call nothing back, so the rows
     * keep the lengths counted above; the bound is checked anyway.) */
    for (i = 0; i < n; i++) {
        PyObject *r = items[i], **vals = PySequence_Fast_ITEMS(r);
        Py_ssize_t m = PySequence_Fast_GET_SIZE(r);
        if (m > total - pos) goto decline;
        for (j = 0; j < m; j++) {
            PyObject *v = vals[j];
            unsigned long long u;
            if (!PyLong_CheckExact(v)) goto decline;
            if (is_signed) {
                int overflow;
                long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
                if (overflow || (x == -1 && PyErr_Occurred()) || x < lo || x > hi) goto decline;
                u = (unsigned long long)x;
            } else {
                u = PyLong_AsUnsignedLongLong(v);
                if (u == (unsigned long long)-1 && PyErr_Occurred()) goto decline;
                if (u > uhi) goto decline;
            }
            switch (itemsize) {
            case 1: { uint8_t b = (uint8_t)u; memcpy(out + pos + j, &b, 1); break; }
            case 2: { uint16_t b = (uint16_t)u; memcpy(out + 2 * (pos + j), &b, 2); break; }
            case 4: { uint32_t b = (uint32_t)u; memcpy(out + 4 * (pos + j), &b, 4); break; }
            default: memcpy(out + 8 * (pos + j), &u, 8);
            }
        }
        pos += m;
        off[i + 1] = pos;
    }
    return Py_BuildValue("(NN)", offsets, values);
decline:
    PyErr_Clear(); /* (an OverflowError of a negative or too large int) */
    Py_DECREF(offsets);
    Py_DECREF(values);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(offsets);
    Py_XDECREF(values);
    return NULL;
}

/* ---- scaled_floats ---------------------------------------------------------------------- */

PyDoc_STRVAR(scaled_floats_doc,
"scaled_floats(q, scale, out) -> None\n\n"
"The floats of a decimal-scaled leaf: out[i] = q[i] / scale, divided in float64 and\n"
"rounded to out's width (as NumPy's divide in float64 then a cast), except that q's\n"
"smallest integer gives -0.0. q int32 with out float32, or q int64 with out float64, of\n"
"one length; the GIL is released.");

/* One value's float bits, -0.0 for the smallest integer, with no branch: the loops below
 * vectorize (with a branch GCC kept them scalar: 10M int32 in 15 ms, 4 ms once vectorized
 * on AVX2). The same pointer for q and out (a leaf decoded over its integers) takes a loop
 * of its own: each value is read, then its place written, which GCC vectorizes too where
 * two pointers that overlap would send it to the scalar loop. */
static inline uint32_t f32_bits(int32_t v, double scale)
{
    float f = (float)((double)v / scale);
    uint32_t bits, m = (uint32_t) - (int32_t)(v == INT32_MIN);
    memcpy(&bits, &f, 4);
    return (bits & ~m) | (0x80000000u & m);
}

static inline uint64_t f64_bits(int64_t v, double scale)
{
    double f = (double)v / scale;
    uint64_t bits, m = (uint64_t) - (int64_t)(v == INT64_MIN);
    memcpy(&bits, &f, 8);
    return (bits & ~m) | (0x8000000000000000ull & m);
}

/* q / scale over n values into out, or in place when out is q's memory. */
#define SCALED(NAME, IT, UT, BITS)                                                       \
    WIDE static void NAME(const IT *q, double scale, Py_ssize_t n, UT *out)              \
    {                                                                                    \
        Py_ssize_t i;                                                                    \
        if ((const void *)q == (const void *)out) {                                      \
            for (i = 0; i < n; i++) {                                                    \
                IT v;                                                                    \
                memcpy(&v, out + i, sizeof v);                                           \
                out[i] = BITS(v, scale);                                                 \
            }                                                                            \
        } else {                                                                         \
            for (i = 0; i < n; i++) out[i] = BITS(q[i], scale);                          \
        }                                                                                \
    }

SCALED(scaled_f32, int32_t, uint32_t, f32_bits)
SCALED(scaled_f64, int64_t, uint64_t, f64_bits)

static PyObject *scaled_floats(PyObject *self, PyObject *args)
{
    PyObject *o_q, *o_out;
    Py_buffer q, out;
    double scale;
    Py_ssize_t n;
    int kq, ko;
    (void)self;
    if (!PyArg_ParseTuple(args, "OdO:scaled_floats", &o_q, &scale, &o_out)) return NULL;
    if (get_vector(o_q, &q, 0, "scaled_floats integers") < 0) return NULL;
    if (get_vector(o_out, &out, 1, "scaled_floats output") < 0) {
        PyBuffer_Release(&q);
        return NULL;
    }
    kq = kind_of(&q);
    ko = kind_of(&out);
    n = q.len / q.itemsize;
    if (kq != K_INT || ko != K_FLOAT || q.itemsize != out.itemsize
        || (q.itemsize != 4 && q.itemsize != 8) || out.len / out.itemsize != n) {
        PyErr_Format(PyExc_ValueError,
                     "scaled_floats: expected int32 -> float32 or int64 -> float64 of one "
                     "length, got '%s' (%zd) -> '%s' (%zd)",
                     q.format ? q.format : "B", n, out.format ? out.format : "B",
                     out.len / out.itemsize);
        PyBuffer_Release(&out);
        PyBuffer_Release(&q);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (q.itemsize == 4)
        scaled_f32((const int32_t *)q.buf, scale, n, (uint32_t *)out.buf);
    else
        scaled_f64((const int64_t *)q.buf, scale, n, (uint64_t *)out.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    PyBuffer_Release(&q);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"take_ranges", take_ranges, METH_VARARGS, take_ranges_doc},
    {"take_rows", take_rows, METH_VARARGS, take_rows_doc},
    {"segment_sum", segment_sum, METH_VARARGS, segment_sum_doc},
    {"compare_bits", compare_bits, METH_VARARGS, compare_bits_doc},
    {"int_rows", int_rows, METH_VARARGS, int_rows_doc},
    {"crc32c_rows", crc32c_rows, METH_VARARGS, crc32c_rows_doc},
    {"blosc_chunks", blosc_chunks, METH_VARARGS, blosc_chunks_doc},
    {"blosc_files", blosc_files, METH_VARARGS, blosc_files_doc},
    {"blosc_encode", blosc_encode, METH_VARARGS, blosc_encode_doc},
    {"scaled_floats", scaled_floats, METH_VARARGS, scaled_floats_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "grumpy_arrow._kernels",
    "Compiled kernels behind grumpy_arrow._native (optional; NumPy stands in without them).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void)
{
    crc_init();
#if defined(HAVE_AVX) || defined(HAVE_CRC_HW)
    __builtin_cpu_init();
#endif
#ifdef HAVE_AVX
    has_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
#ifdef HAVE_CRC_HW
    has_sse42 = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
    return PyModule_Create(&module);
}
