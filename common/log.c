/*
 * log.c — stderr logging; a line is formatted whole, then written with one call, so lines
 * from the capture and analyzer threads never interleave.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

static _Atomic int level = LOG_INFO;

void log_set_level(enum log_level lvl)
{
    atomic_store(&level, (int)lvl);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&level);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if ((int)lvl > atomic_load(&level))
        return;
    char line[1024];
    int n = snprintf(line, sizeof(line), "tapir: %s: ", names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
