/*
 * csv_num.h — the number kernels of the CSV reader (csv.c): a cell's decimal text to the
 * float numpy's astype(float32) gives, as the fast pass reads a line. Private to csv.c,
 * which includes it once: every function here is static and most are inlined into
 * fast_line, where the digit loads and the float rounding are most of a read's work
 * (csv.c's opening comment has the design, the numbers and what was rejected). Kept
 * apart from the line and batch reader because they are a different job: exact
 * decimal-to-binary rounding (Clinger's fast path, SWAR and SSE digit reads), tested
 * against strtod by test_csv.
 */
#ifndef TAPIR_CSV_NUM_H
#define TAPIR_CSV_NUM_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* 10^0 .. 10^22: every one an exact double. */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define FAST_MAX_DIGITS   19                  /* digits that fit a uint64_t */
#define FAST_MAX_MANTISSA ((uint64_t)1 << 53) /* exact in a double */

static inline int is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* Reads an exponent at s, if any, into *e10; returns s past it, or NULL (no digits, or
 * over 100,000). */
static inline const char *read_exponent(const char *s, long *e10)
{
    if (*s == 'e' || *s == 'E') {
        int eneg = 0;
        long x = 0;
        s++;
        if (*s == '-' || *s == '+')
            eneg = *s++ == '-';
        if (!is_digit(*s))
            return NULL;
        for (; is_digit(*s); s++) {
            if (x > 100000)
                return NULL;
            x = x * 10 + (*s - '0');
        }
        *e10 += eneg ? -x : x;
    }
    return s;
}

/* The exponent and the conversion to double: s is past the mantissa's digits (nd of
 * them, summed into w, e10 from the point). */
__attribute__((always_inline)) static inline const char *
finish_double(const char *s, int neg, uint64_t w, long nd, long e10, double *out)
{
    if (nd == 0 || nd > FAST_MAX_DIGITS || !(s = read_exponent(s, &e10)))
        return NULL;
    double d;
    if (w == 0)
        d = 0;
    else if (w > FAST_MAX_MANTISSA || e10 < -22 || e10 > 22)
        return NULL;
    else if (e10 < 0)
        d = (double)w / pow10_exact[-e10];
    else
        d = (double)w * pow10_exact[e10];
    /* the sign as a bit, not a branch the compiler would make of `neg ? -d : d` (the
     * sign is a coin toss in most vectors) */
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    bits ^= (uint64_t)neg << 63;
    memcpy(out, &bits, sizeof(bits));
    return s;
}

/* csv_fast_double on a string that ends in a byte that is no part of a number (the
 * line's NUL, a comma, a blank): no bounds checks. Digits are summed without looking at
 * them (leading zeros add nothing; a wrapped sum of over 19 digits is thrown away), so
 * the loops are one multiply-add a digit and no test but the digit's. */
__attribute__((always_inline)) static inline const char *fast_double(const char *s, double *out)
{
#if FLT_EVAL_METHOD != 0 /* x87: a product may be rounded twice; leave it to strtod */
    (void)s, (void)out;
    return NULL;
#else
    int neg = 0;
    uint64_t w = 0;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    const char *d0 = s;
    while (is_digit(*s))
        w = w * 10 + (uint64_t)(*s++ - '0');
    long nd = s - d0, e10 = 0;
    if (*s == '.') {
        const char *f0 = ++s;
        while (is_digit(*s))
            w = w * 10 + (uint64_t)(*s++ - '0');
        e10 = -(s - f0);
        nd -= e10;
    }
    return finish_double(s, neg, w, nd, e10, out);
#endif
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && FLT_EVAL_METHOD == 0
#define HAVE_SWAR 1
#define SWAR_ONES 0x0101010101010101ull
#define WIDE_READ 64 /* bytes wide_double may read from a number's start (50 at most) */

/* The 8 bytes at s xor '0' in each byte: a digit becomes its value 0..9, any other byte
 * something above 9. */
static inline uint64_t load_digits(const char *s)
{
    uint64_t v;
    memcpy(&v, s, sizeof(v));
    return v ^ (SWAR_ONES * '0');
}

/* How many of x's bytes, from the first, are digits: 0..8. A byte is flagged when its
 * value is above 9 (+ 0x76 reaches 0x80) or its top bit is set. A byte of 0x8a or more
 * carries into the next one and may flag it wrongly, but only bytes that are flagged
 * themselves carry (no byte <= 9 does, even with a carry in: 9 + 0x76 + 1 = 0x80 needs
 * a carry from below, which no digit gives), so the first flagged byte is right: one
 * mask fewer than keeping each byte's sum apart. */
static inline unsigned digit_run(uint64_t x)
{
    uint64_t m = ((x + SWAR_ONES * 0x76) | x) & (SWAR_ONES * 0x80);
    return m ? (unsigned)__builtin_ctzll(m) >> 3 : 8;
}

/* The value of 8 digit bytes (0..9 each, the first in the low byte): summed in pairs,
 * fours and eights with three multiplies (Lemire's eight-digit step). */
static inline uint64_t eight_digits(uint64_t x)
{
    x = x * 10 + (x >> 8);
    x = (((x & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
         (((x >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >>
        32;
    return (uint32_t)x;
}

/* x's first n (0..8) bytes moved to the top, zeros below: as digits, the same number
 * with leading zeros. */
static inline uint64_t digits_top(uint64_t x, unsigned n)
{
    return (x << (32 - 4 * n)) << (32 - 4 * n); /* two shifts: n = 0 shifts by 64 */
}

/* The value of x's first n (1..8) digits. */
static inline uint64_t digits_value(uint64_t x, unsigned n)
{
    return eight_digits(digits_top(x, n));
}

static const uint64_t pow10_u64[9] = {1,      10,      100,      1000,     10000,
                                      100000, 1000000, 10000000, 100000000};

/* Adds the digit run at *s to *w, 8 digits a step, and moves *s past it; returns the
 * digits read. Stops early once over 19 (the caller then declines the number): at most
 * 3 loads, 24 bytes. */
static inline long wide_digits(const char **s, uint64_t *w)
{
    long nd = 0;
    for (;;) {
        uint64_t x = load_digits(*s);
        unsigned n = digit_run(x);
        if (n == 0)
            return nd;
        *w = *w * pow10_u64[n] + digits_value(x, n);
        *s += n;
        nd += n;
        if (n < 8 || nd > FAST_MAX_DIGITS)
            return nd;
    }
}

/* 10^0 .. 10^-22 rounded to doubles. */
static const double pow10_inv[23] = {1e0,   1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                     1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15,
                                     1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22};

#define MID_ULPS 8 /* see wide_float: y is within 5 double ulps of the true double */

/* The float of (neg ? -1 : 1) * w * 10^e10 into *out, bit for bit (float)strtod's, for
 * w <= 2^53 and e10 in [-22, 22] (see wide_float). */
__attribute__((always_inline)) static inline void to_float(uint64_t w, long e10, int neg,
                                                           float *out)
{
    double d;
    if (e10 >= 0) {
        d = (double)w * pow10_exact[e10];
    } else {
        d = (double)w * pow10_inv[-e10];
        uint64_t b;
        memcpy(&b, &d, sizeof(b));
        if ((b & 0x1fffffff) - ((1u << 28) - MID_ULPS) <= 2 * MID_ULPS)
            d = (double)w / pow10_exact[-e10];
    }
    float f = (float)d;
    uint32_t fb;
    memcpy(&fb, &f, sizeof(fb));
    fb ^= (uint32_t)neg << 31;
    memcpy(out, &fb, sizeof(fb));
}

/* fast_double reading 8 digits at a time, and rounded on to the float the reader keeps:
 * the same numbers taken as fast_double, and for each (float)(what strtod gives), bit for
 * bit. s must have WIDE_READ readable bytes.
 *
 * The division w / 10^k (a third of the parse time: its latency is not hidden) becomes a
 * multiply y = w * RN(10^-k), within 2 ulps of x = w / 10^k, so within 2.5 ulps of RN(x),
 * the double strtod gives (5 across a power of two). Rounding to float gives the same
 * result from y as from RN(x) unless a float rounding boundary, a midpoint between two
 * floats, lies between them: then y's 29 bits below the float's are within 5 of a
 * midpoint's pattern (1 << 28), and that rare case takes the division. Every value taken
 * is a normal float: 1e-22 <= |x| <= 2^53 * 1e22 < FLT_MAX, so no range check either. */
__attribute__((always_inline)) static inline const char *wide_float(const char *s, float *out)
{
    int neg = *s == '-'; /* no branch: the sign is a coin toss in most vectors */
    s += neg | (*s == '+');
    uint64_t w = 0, x = load_digits(s);
    unsigned n = digit_run(x);
    long nd, e10 = 0;
    if (n < 8 && (uint8_t)(x >> (8 * n)) == ('.' ^ '0')) {
        /* up to 8 digits around the point (vectors printed %.6g): one eight-digit step
         * over the integer digits, shifted down to make room, and the fraction's */
        uint64_t y = load_digits(s + n + 1);
        unsigned m = digit_run(y);
        if (m < 8 && n + m <= 8) { /* m < 8: the fraction ends here */
            uint64_t a = digits_top(x, n), b = digits_top(y, m);
            w = eight_digits(a >> (8 * m) | b); /* m < 8: a shift below 64 */
            nd = n + m, e10 = -(long)m;
            s += n + 1 + m;
            if ((*s | 0x20) != 'e' && nd > 0)
                goto convert; /* w < 10^8, e10 in [-7, 0]: in range */
            goto exponent;
        }
    } else if (n < 8) { /* an integer, or digits then an exponent */
        w = n ? digits_value(x, n) : 0;
        nd = n;
        s += n;
        goto exponent;
    }
    nd = wide_digits(&s, &w); /* the general case: 8 digits a step */
    if (*s == '.' && nd <= FAST_MAX_DIGITS) {
        s++;
        e10 = -wide_digits(&s, &w);
        nd -= e10;
    }
exponent:
    if (nd == 0 || nd > FAST_MAX_DIGITS || !(s = read_exponent(s, &e10)))
        return NULL;
    if (w > FAST_MAX_MANTISSA || e10 < -22 || e10 > 22) {
        if (w != 0)
            return NULL;
        e10 = 0;
    }
convert:
    to_float(w, e10, neg, out);
    return s;
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define HAVE_V3_NUMBER 1
#include <immintrin.h>

/* wide_float for the x86-64-v3 reader: a number of at most 16 digits and one point in
 * the 16 bytes after its sign (every %.6g value without an exponent) in one SSE pass:
 * the digits found by one compare, the point dropped and the digits right-aligned by
 * one byte shuffle (its indices computed, no table), and their value summed in pairs,
 * fours and eights by three multiply-adds (pmaddubsw, pmaddwd, pmaddwd). The same w and
 * e10 as wide_float, so the same to_float and the same bits; anything else (an
 * exponent, more digits, no digit) is wide_float's. */
__attribute__((always_inline, target("arch=x86-64-v3"))) static inline const char *
wide_float_v3(const char *s, float *out)
{
    const char *s0 = s;
    int neg = *s == '-';
    s += neg | (*s == '+');
    __m128i v = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(const void *)s), _mm_set1_epi8('0'));
    __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(9)), v);
    unsigned other = ~(unsigned)_mm_movemask_epi8(digit) | 0x10000u; /* 16: none */
    unsigned n1 = (unsigned)__builtin_ctz(other), end = n1, dot = 16;
    if (n1 < 16 && s[n1] == '.') {
        dot = n1;
        end = (unsigned)__builtin_ctz(other & (other - 1));
    }
    unsigned nd = end - (dot < 16);
    if (end >= 16 || nd == 0 || (s[end] | 0x20) == 'e')
        return wide_float(s0, out);
    /* byte i of the 16 takes digit i - (16 - nd) (negative: a leading zero), past the point */
    __m128i idx = _mm_add_epi8(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                               _mm_set1_epi8((char)(nd - 16)));
    idx = _mm_sub_epi8(idx, _mm_cmpgt_epi8(idx, _mm_set1_epi8((char)(dot - 1))));
    __m128i d = _mm_shuffle_epi8(v, idx);
    __m128i d2 =
        _mm_maddubs_epi16(d, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
    __m128i d4 = _mm_madd_epi16(d2, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    __m128i d8 = _mm_madd_epi16(_mm_packus_epi32(d4, d4),
                                _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
    uint64_t w =
        (uint64_t)(uint32_t)_mm_cvtsi128_si32(d8) * 100000000u + (uint32_t)_mm_extract_epi32(d8, 1);
    to_float(w, dot < 16 ? -(long)(end - dot - 1) : 0, neg, out);
    return s + end;
}

__attribute__((target("arch=x86-64-v3"))) static const char *fast_float_v3(const char *s,
                                                                           float *out)
{
    return wide_float_v3(s, out);
}
#endif
#endif /* HAVE_SWAR */

#endif
