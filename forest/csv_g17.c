/*
 * csv_g17.c — the %.17g printer of `tapir forest score` (csv.h has the contract).
 *
 * csv_format_g17: the score printer of `tapir forest score`. A score in [1e-4, 1) is
 * m * 2^-s with s <= 67, so its 17 significant digits are an exact 128-bit integer
 * product and shift, rounded half to even on the exact remainder as glibc's printf does:
 * the same bytes as "%.17g", 100,000 scores in 5 ms of CPU instead of 36-42 ms with
 * fprintf. Everything else (1, 0, tiny, large, NaN) goes to snprintf. Rejected: shortest
 * round-trip digits (Ryu), which would change the output the tests and users compare
 * with.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"

#define G17_LO 1e-4 /* below: %g's exponent form, left to snprintf */

size_t csv_format_g17(double x, char *buf)
{
    if (!(x >= G17_LO && x < 1.0))
        return (size_t)snprintf(buf, CSV_G17_MAX, "%.17g", x);
    uint64_t bits; /* x = m / 2^s exactly, from its bits (a normal double here) */
    memcpy(&bits, &x, sizeof(bits));
    uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    unsigned s = (unsigned)(1075 - (int)(bits >> 52));                    /* 53 .. 66 */
    const uint64_t lo = 10000000000000000ull, hi = 100000000000000000ull; /* 10^16, 10^17 */
    unsigned __int128 q = 0;
    uint64_t digits = 0;
    int X = -1;            /* decimal exponent of x: 10^X <= x < 10^(X+1) */
    uint64_t p10 = hi;     /* 10^(16 - X), with X from -1 down to -4: 10^17 .. 10^20 */
    for (; X >= -4; X--) { /* x >= 1e-4, so this ends by X = -4 */
        q = (unsigned __int128)m * p10;
        digits = (uint64_t)(q >> s);
        if (digits >= lo)
            break;
        if (X == -4) /* not reached: the double 1e-4 is above 10^-4 */
            return (size_t)snprintf(buf, CSV_G17_MAX, "%.17g", x);
        p10 *= 10;
    }
    unsigned __int128 rem = q & (((unsigned __int128)1 << s) - 1);
    unsigned __int128 half = (unsigned __int128)1 << (s - 1);
    if (rem > half || (rem == half && (digits & 1)))
        digits++;
    if (digits == hi) { /* rounded up to the next power of ten */
        digits = lo;
        X++;
        if (X == 0) /* "1" */
            return (size_t)snprintf(buf, CSV_G17_MAX, "%.17g", x);
    }
    /* %g with X in [-4, -1]: "0." then -X-1 zeros then the 17 digits, trailing zeros cut */
    char *p = buf;
    *p++ = '0';
    *p++ = '.';
    for (int k = 0; k < -X - 1; k++)
        *p++ = '0';
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    /* the 17 digits in place (at most 2 + 3 + 17 + 1 bytes of buf), then the trailing
     * zeros cut by moving the end back: no copy through a digit array */
    for (int k = 15; k >= 1; k -= 2, digits /= 100) /* two digits a division */
        memcpy(p + k, pairs + 2 * (digits % 100), 2);
    p[0] = (char)('0' + digits);
    char *e = p + 17;
    while (e > p && e[-1] == '0')
        e--;
    *e = '\0';
    return (size_t)(e - buf);
}
