/*
 * tapir.h — types and helpers every part of Tapir shares.
 *
 * Addresses are kept in one 16-byte form: IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d).
 * One key type for both families keeps every table single-keyed; the cost is 12 bytes
 * per IPv4 key, which we accept over two parallel code paths.
 */
#ifndef TAPIR_H
#define TAPIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define TAPIR_VERSION "0.1.0"

/* Exit statuses (DESIGN.md). */
#define TAPIR_EXIT_OK    0
#define TAPIR_EXIT_FAIL  1 /* runtime failure */
#define TAPIR_EXIT_USAGE 2 /* bad usage or bad input files */

#define TAPIR_ERRBUF_SIZE 256

struct ip_addr {
    uint8_t b[16]; /* network order; IPv4 is ::ffff:a.b.c.d */
};

/* Whether the address is an IPv4-mapped one. */
static inline bool ip_addr_is_v4(const struct ip_addr *a)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    for (int i = 0; i < 12; i++)
        if (a->b[i] != pfx[i])
            return false;
    return true;
}

void ip_addr_from_v4(struct ip_addr *a, const uint8_t v4[4]);
void ip_addr_from_v6(struct ip_addr *a, const uint8_t v6[16]);
/* Text form ("192.0.2.1", "2001:db8::1"); buf needs 46 bytes. Returns buf. */
const char *ip_addr_str(const struct ip_addr *a, char *buf, size_t len);
/* Parses either family. Returns 0 or -1. */
int ip_addr_parse(const char *s, struct ip_addr *a);
/* Zeroes the bits past prefix_len (prefix_len counts in the 128-bit form, so an IPv4 /24
 * is 96 + 24 = 120). */
void ip_addr_mask(struct ip_addr *a, unsigned prefix_len);
/* True for private, loopback, link-local, multicast, documentation and other reserved
 * ranges: addresses that must never be geolocated. */
bool ip_addr_is_reserved(const struct ip_addr *a);
int ip_addr_cmp(const struct ip_addr *a, const struct ip_addr *b);

/* Gives up every capability of the calling thread (capabilities are per thread) when the
 * process is not root: ambient, effective, permitted, inheritable. 1 dropped, 0 none
 * held (or root), -1 failed (errno). */
int tapir_drop_capabilities(void);

/* Files tapir writes (alert log, CSVs, database, model) are created 0640 at most:
 * TAPIR_FILE_MODE goes to open(), where the umask can only remove bits. */
#define TAPIR_FILE_MODE 0640

/* Opens path for writing (flags: O_APPEND or O_TRUNC, plus O_CREAT) without following a
 * symbolic link in its last component and without taking a terminal; created with
 * TAPIR_FILE_MODE. what names it in the error ("alert log"): "cannot open alert log
 * PATH: ..." or "PATH is a symbolic link; refusing". Returns the descriptor or -1. */
int tapir_open_output(const char *path, int flags, const char *what, char *errbuf);

/* The process's umask, read without changing it (/proc/self/status; 022 if unknown):
 * umask() both reads and sets, which races with other threads creating files. */
unsigned tapir_umask(void);

/* s as one CSV field (RFC 4180) in out (cap bytes, always terminated; a value that does
 * not fit is cut): in double quotes, quotes doubled, when it holds a comma, a quote, CR
 * or LF; a leading = + - @ (or tab, CR) gets a ' in front, so a spreadsheet does not run
 * it as a formula (OWASP "CSV injection"). Returns out. No allocation; any thread. */
const char *tapir_csv_field(const char *s, char *out, size_t cap);

/* Seeded 64-bit hash (the attacker picks the source IPs, so every table hash is
 * seeded). */
uint64_t tapir_hash(const void *data, size_t len, uint64_t seed);

/* A 64-bit finaliser: every input bit reaches every output bit. */
static inline uint64_t tapir_mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

/* Seeded hash of an address for table placement (flow and host indexes): one multiply
 * and one tapir_mix64, a third of tapir_hash over 16 bytes. The packet path computes it
 * once per address and both tables use it. Not for sketches: their values are features,
 * so they stay on tapir_hash. */
static inline uint64_t tapir_ip_hash(const struct ip_addr *a, uint64_t seed)
{
    uint64_t lo, hi;
    __builtin_memcpy(&lo, a->b, 8);
    __builtin_memcpy(&hi, a->b + 8, 8);
    uint64_t h = hi + (seed >> 7);
    /* hi rotated: flipping bit 63 of both halves must not cancel out (it would for any
     * seed: bit 63 of a product changes without a carry) */
    return tapir_mix64(((lo ^ seed) * 0x9e3779b97f4a7c15ULL) ^ ((h << 31) | (h >> 33)));
}

/* A bounded table's size for want entries: the smallest power of two >= want, starting
 * from lo (a power of two) and not beyond hi. For the masks of the open-addressing
 * tables; at set-up only. */
static inline uint64_t tapir_pow2_size(uint64_t want, uint64_t lo, uint64_t hi)
{
    uint64_t n = lo;
    while (n < want && n < hi)
        n <<= 1;
    return n;
}

/* One array of a table made by tapir_table_alloc: where its pointer lives in the table's
 * struct, and its length. TAPIR_ARRAY(type, member, n) describes member, a T * of type,
 * as n elements of T. */
struct tapir_array {
    size_t field; /* offsetof the pointer member in the table's struct, bytes */
    size_t count; /* elements */
    size_t size;  /* bytes per element */
};
#define TAPIR_ARRAY(type, member, n)                                                               \
    {                                                                                              \
        offsetof(type, member), (n), sizeof(*((type *)0)->member)                                  \
    }
#define TAPIR_NELEM(a) (sizeof(a) / sizeof((a)[0])) /* elements of an array */

/* A table's struct (head bytes) and its n arrays in one zeroed block: each array on a
 * 64-byte boundary after the struct, its address written into its member. Returns the
 * struct, released with one free(). When out of memory or when a size overflows: NULL,
 * and errbuf (may be NULL) says "cannot allocate WHAT (N bytes)" (or that the size
 * overflows), WHAT formatted from what and its arguments. Big blocks stay lazily paged,
 * as with calloc (common/table.c). At set-up only. */
void *tapir_table_alloc(size_t head, const struct tapir_array *arrays, size_t n, char *errbuf,
                        const char *what, ...) __attribute__((format(printf, 5, 6)));

/* Fills errbuf (TAPIR_ERRBUF_SIZE bytes) with a printf-style message: the one way a
 * set-up function reports an error a user can act on. errbuf may be NULL. */
void tapir_errf(char *errbuf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 0 when lo <= v <= hi; else -1, errbuf saying "WHAT V out of range (LO .. HI)". For the
 * sizes a set-up function checks again after the option table. */
int tapir_check_range(uint64_t v, uint64_t lo, uint64_t hi, const char *what, char *errbuf);

/* Opens path to read (O_RDONLY | O_CLOEXEC | flags) and fstat()s it into *st: the fd, or -1
 * with errbuf saying "cannot open WHAT PATH: REASON" (errno kept: ENOENT for a missing file)
 * or "WHAT PATH is not a regular file". Pass O_NONBLOCK for a path a user names: a FIFO
 * would block the open for ever. */
struct stat;
int tapir_open_input(const char *path, int flags, const char *what, struct stat *st, char *errbuf);

/* Runs fn(items + k * size) for each of the n items (n at most TAPIR_PARALLEL_MAX): item 0
 * on this thread, every other on a thread of its own, or on this one when that thread
 * cannot start. Returns when all n are done. */
#define TAPIR_PARALLEL_MAX 256
void tapir_run_parallel(void *(*fn)(void *), void *items, size_t size, unsigned n);

#include "timeutil.h" /* tapir_iso8601 and the clocks were declared here before */

#endif
