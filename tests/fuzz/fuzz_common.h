/*
 * fuzz_common.h — helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c).
 *
 * Most of Tapir's parsers take a path, not a buffer (model_load, csv_read,
 * rules_load_file, capture files through libpcap), and we fuzz them through that same
 * entry point rather than a test-only one: the input is written to one scratch file per
 * process (on tmpfs when /dev/shm exists), then parsed. Writing a few KiB to tmpfs costs
 * a few microseconds, well under the parsers' own work.
 */
#ifndef TAPIR_FUZZ_COMMON_H
#define TAPIR_FUZZ_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The scratch path of this process, made once: NAME-PID.ext under /dev/shm or $TMPDIR. */
static const char *fuzz_scratch_path(const char *name)
{
    static char path[256];
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(path, sizeof(path), "%s/tapir-fuzz-%s-%ld", dir ? dir : "/tmp", name,
                 (long)getpid());
    }
    return path;
}

/* Writes data to the scratch file, replacing it. Aborts on failure: a harness that cannot
 * write its input would otherwise report nothing and look clean. */
static const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_path(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            perror(path);
            abort();
        }
        off += (size_t)w;
    }
    close(fd);
    return path;
}

static void fuzz_remove_file(void)
{
    unlink(fuzz_scratch_path(""));
}

#endif
