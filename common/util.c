/*
 * util.c — address handling, the seeded hash and time formatting shared by every part.
 *
 * The hash is a 64-bit multiply-xorshift over 8-byte words with a per-run seed: strong
 * enough that an attacker who picks source IPs cannot aim collisions at one bucket
 * without knowing the seed, and a few ns per 16-byte key. (Rejected: an additive hash of
 * the 5-tuple as in nDPI's example reader, trivially collided.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <linux/capability.h>
#include <stdio.h>
#include <endian.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tapir.h"

void ip_addr_from_v4(struct ip_addr *a, const uint8_t v4[4])
{
    memset(a->b, 0, 10);
    a->b[10] = 0xff;
    a->b[11] = 0xff;
    memcpy(a->b + 12, v4, 4);
}

void ip_addr_from_v6(struct ip_addr *a, const uint8_t v6[16])
{
    memcpy(a->b, v6, 16);
}

const char *ip_addr_str(const struct ip_addr *a, char *buf, size_t len)
{
    const char *r;
    if (ip_addr_is_v4(a))
        r = inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
    else
        r = inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
    if (!r && len)
        buf[0] = '\0';
    return buf;
}

int ip_addr_parse(const char *s, struct ip_addr *a)
{
    uint8_t tmp[16];
    if (inet_pton(AF_INET, s, tmp) == 1) {
        ip_addr_from_v4(a, tmp);
        return 0;
    }
    if (inet_pton(AF_INET6, s, tmp) == 1) {
        ip_addr_from_v6(a, tmp);
        return 0;
    }
    return -1;
}

void ip_addr_mask(struct ip_addr *a, unsigned prefix_len)
{
    if (prefix_len >= 128)
        return;
    unsigned byte = prefix_len / 8, bits = prefix_len % 8;
    if (bits) {
        a->b[byte] &= (uint8_t)(0xff << (8 - bits));
        byte++;
    }
    for (unsigned i = byte; i < 16; i++)
        a->b[i] = 0;
}

int ip_addr_cmp(const struct ip_addr *a, const struct ip_addr *b)
{
    return memcmp(a->b, b->b, 16);
}

struct reserved_net {
    uint8_t b[16];
    unsigned len; /* in the 128-bit form */
};

#define V4(a, b, c, d, l)                                                                          \
    {                                                                                              \
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d}, 96 + (l)                           \
    }

static const struct reserved_net reserved[] = {
    V4(0, 0, 0, 0, 8),
    V4(10, 0, 0, 0, 8),
    V4(100, 64, 0, 0, 10),
    V4(127, 0, 0, 0, 8),
    V4(169, 254, 0, 0, 16),
    V4(172, 16, 0, 0, 12),
    V4(192, 0, 0, 0, 24),
    V4(192, 0, 2, 0, 24),
    V4(192, 168, 0, 0, 16),
    V4(198, 18, 0, 0, 15),
    V4(198, 51, 100, 0, 24),
    V4(203, 0, 113, 0, 24),
    V4(224, 0, 0, 0, 4),
    V4(240, 0, 0, 0, 4),
    {{0}, 128},                                              /* :: */
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128}, /* ::1 */
    {{0xfc}, 7},                                             /* unique local */
    {{0xfe, 0x80}, 10},                                      /* link-local */
    {{0xff}, 8},                                             /* multicast */
    {{0x20, 0x01, 0x0d, 0xb8}, 32},                          /* documentation */
};

#define N_RESERVED (sizeof(reserved) / sizeof(reserved[0]))

/* The ranges as 64-bit halves and masks, built once. */
static struct {
    uint64_t hi, lo, mhi, mlo;
} reserved64[N_RESERVED];
static pthread_once_t reserved64_once = PTHREAD_ONCE_INIT;

static uint64_t be64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return be64toh(v);
}

static void reserved64_init(void)
{
    for (size_t i = 0; i < N_RESERVED; i++) {
        unsigned len = reserved[i].len;
        reserved64[i].mhi = len >= 64 ? ~0ULL : ~0ULL << (64 - len);
        reserved64[i].mlo = len <= 64 ? 0 : len >= 128 ? ~0ULL : ~0ULL << (128 - len);
        reserved64[i].hi = be64_at(reserved[i].b) & reserved64[i].mhi;
        reserved64[i].lo = be64_at(reserved[i].b + 8) & reserved64[i].mlo;
    }
}

/* The address as two 64-bit halves against each range's, masked: no copy per range (it
 * runs for every new flow's responder when geolocation is on). */
bool ip_addr_is_reserved(const struct ip_addr *a)
{
    pthread_once(&reserved64_once, reserved64_init);
    uint64_t hi = be64_at(a->b), lo = be64_at(a->b + 8);
    for (size_t i = 0; i < N_RESERVED; i++)
        if ((hi & reserved64[i].mhi) == reserved64[i].hi &&
            (lo & reserved64[i].mlo) == reserved64[i].lo)
            return true;
    return false;
}

int tapir_drop_capabilities(void)
{
    if (geteuid() == 0)
        return 0;
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) < 0)
        return -1;
    if (!(data[0].permitted | data[1].permitted | data[0].effective | data[1].effective |
          data[0].inheritable | data[1].inheritable))
        return 0;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    memset(data, 0, sizeof(data));
    return syscall(SYS_capset, &hdr, data) < 0 ? -1 : 1;
}

uint64_t tapir_hash(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = tapir_mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = tapir_mix64(h ^ w ^ ((uint64_t)len << 56));
    }
    return tapir_mix64(h);
}

void tapir_errf(char *errbuf, const char *fmt, ...)
{
    if (!errbuf)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, TAPIR_ERRBUF_SIZE, fmt, ap);
    va_end(ap);
}

int tapir_check_range(uint64_t v, uint64_t lo, uint64_t hi, const char *what, char *errbuf)
{
    if (v >= lo && v <= hi)
        return 0;
    tapir_errf(errbuf, "%s %" PRIu64 " out of range (%" PRIu64 " .. %" PRIu64 ")", what, v, lo, hi);
    return -1;
}

int tapir_open_input(const char *path, int flags, const char *what, struct stat *st, char *errbuf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    if (fd < 0) {
        int e = errno;
        tapir_errf(errbuf, "cannot open %s %s: %s", what, path, strerror(e));
        errno = e;
        return -1;
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        tapir_errf(errbuf, "%s %s is not a regular file", what, path);
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

void tapir_run_parallel(void *(*fn)(void *), void *items, size_t size, unsigned n)
{
    pthread_t tid[TAPIR_PARALLEL_MAX];
    bool started[TAPIR_PARALLEL_MAX] = {0};
    char *item = items;
    if (n > TAPIR_PARALLEL_MAX)
        n = TAPIR_PARALLEL_MAX;
    for (unsigned k = 1; k < n; k++)
        started[k] = pthread_create(&tid[k], NULL, fn, item + k * size) == 0;
    if (n)
        fn(item);
    for (unsigned k = 1; k < n; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            fn(item + k * size);
    }
}

int tapir_open_output(const char *path, int flags, const char *what, char *errbuf)
{
    /* Non-blocking and without O_TRUNC until fstat says it is a regular file with one
     * link: a FIFO would block the open (and every write), and truncating a hard link
     * would overwrite the file it shares (a root-only model, say). */
    int fd =
        open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (flags & ~O_TRUNC),
             TAPIR_FILE_MODE);
    struct stat sb;
    if (fd >= 0) {
        const char *why = NULL;
        if (fstat(fd, &sb) < 0)
            why = strerror(errno);
        else if (!S_ISREG(sb.st_mode))
            why = "not a regular file";
        else if (sb.st_nlink > 1)
            why = "it has other hard links";
        else if ((flags & O_TRUNC) && ftruncate(fd, 0) < 0)
            why = strerror(errno);
        else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
            why = strerror(errno);
        if (!why)
            return fd;
        tapir_errf(errbuf, "cannot write %s %s: %s; refusing", what, path, why);
        close(fd);
        return -1;
    }
    if (errno == ELOOP && lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
        tapir_errf(errbuf, "%s is a symbolic link; refusing", path);
    else
        tapir_errf(errbuf, "cannot open %s %s: %s", what, path, strerror(errno));
    return -1;
}

unsigned tapir_umask(void)
{
    unsigned mask = 022;
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return mask;
    char line[256];
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Umask: %o", &mask) == 1)
            break;
    fclose(f);
    return mask & 0777;
}

const char *tapir_csv_field(const char *s, char *out, size_t cap)
{
    if (!cap)
        return out;
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    bool formula = s[0] && strchr("=+-@\t\r", s[0]);
    size_t n = 0, end = cap - 1; /* room for the terminator */
    if (quote && n < end)
        out[n++] = '"';
    if (formula && n < end)
        out[n++] = '\'';
    for (const char *p = s; *p; p++) {
        size_t need = (*p == '"' ? 2 : 1) + (quote ? 1 : 0); /* keep room for the close */
        if (n + need > end)
            break;
        if (*p == '"')
            out[n++] = '"';
        out[n++] = *p;
    }
    if (quote && n < end)
        out[n++] = '"';
    out[n] = '\0';
    return out;
}
