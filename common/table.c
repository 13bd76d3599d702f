/*
 * table.c — one zeroed allocation for a bounded table: its struct and its arrays.
 *
 * Each open-addressing table (flows, hosts, flood counters, conversations, baselines,
 * incidents, the HTTP limiter, the live blocklist...) is a struct plus a few arrays whose
 * lengths are fixed at creation. tapir_table_alloc lays them out in one calloc: the struct
 * first, then each array on the next 64-byte boundary (a cache line: the arrays are shifted
 * together past calloc's 16-byte alignment), and writes each array's address into its pointer
 * member. The table then has one allocation, one check and one free(), and its create/destroy
 * cannot forget an array.
 *
 * Paging stays lazy: a block this size is an mmap of zero pages (glibc's threshold is
 * 128 KiB to 32 MiB), and calloc does not write them, so a million-flow table (136 MB of
 * records) costs nothing until records are used, as it did with one calloc per array.
 * Every size and offset is checked for overflow: a count from the config cannot wrap
 * into a short block.
 *
 * Rejected: a calloc per array with a check and a free each (what every table did: 11
 * create/destroy pairs of the same lines, and an easy array to leak on a new field);
 * arrays of structs instead of the parallel arrays (the probes read only the tags or
 * slots, and a struct per slot would pull the whole entry into cache for each probe).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapir.h"

#define TABLE_ALIGN 64 /* bytes: each array starts on a cache line */

/* Places an array of count * size bytes at the first aligned offset >= *end: its offset
 * in *at, the new end in *end. -1 when a size overflows. */
static int place(size_t *end, size_t count, size_t size, size_t *at)
{
    size_t len, start;
    if (__builtin_mul_overflow(count, size, &len) ||
        __builtin_add_overflow(*end, (size_t)TABLE_ALIGN - 1, &start))
        return -1;
    start &= ~((size_t)TABLE_ALIGN - 1);
    if (__builtin_add_overflow(start, len, end))
        return -1;
    *at = start;
    return 0;
}

void *tapir_table_alloc(size_t head, const struct tapir_array *arrays, size_t n, char *errbuf,
                        const char *what, ...)
{
    size_t end = head, at;
    unsigned char *block = NULL;
    for (size_t i = 0; i < n; i++)
        if (place(&end, arrays[i].count, arrays[i].size, &at) < 0) {
            end = 0; /* the message says the size overflows */
            goto fail;
        }
    /* calloc aligns to 16 only (an mmap'd block starts 16 bytes into its page): the
     * offsets above are multiples of 64 from the block's start, so every array moves by
     * the one shift s < 64 that puts them on cache lines; the struct stays at the start,
     * for free(). */
    size_t total;
    if (__builtin_add_overflow(end, (size_t)TABLE_ALIGN - 1, &total)) {
        end = 0;
        goto fail;
    }
    if (!(block = calloc(1, total)))
        goto fail;
    size_t s = (size_t)(-(uintptr_t)block & (TABLE_ALIGN - 1));
    end = head;
    for (size_t i = 0; i < n; i++) {
        place(&end, arrays[i].count, arrays[i].size, &at); /* checked above */
        void *p = block + at + s;
        /* memcpy: the member is a T *, written without an aliasing cast (POSIX: every
         * object pointer has void *'s representation) */
        memcpy(block + arrays[i].field, &p, sizeof(p));
    }
    return block;
fail:;
    char name[TAPIR_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, what);
    vsnprintf(name, sizeof(name), what, ap);
    va_end(ap);
    if (end)
        tapir_errf(errbuf, "cannot allocate %s (%zu bytes)", name, end);
    else
        tapir_errf(errbuf, "cannot allocate %s: its size overflows", name);
    return NULL;
}
