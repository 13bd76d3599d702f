/*
 * alert_log.c — the JSON-lines alert log (Suricata eve.json style).
 *
 Each line is the alert's JSON form (json.c: jansson escapes quotes, backslashes and
 * control characters; strings from the wire or a geolocation database are made valid
 * UTF-8 first), built in memory in one piece. The line is then appended
 * with a single write() on an O_APPEND descriptor: POSIX makes such a write atomic with
 * respect to the file offset, so lines from a restarted process or a second writer never
 * interleave. Rejected: stdio (fprintf) buffering, which splits a line over several
 * write()s when the buffer fills and hides errors until fflush.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert_log.h"
#include "json.h"

struct alert_log {
    int fd;
    char *path;
    uint64_t lines;  /* lines written whole */
    uint64_t errors; /* failed or short writes, failed reopens */
    char err[TAPIR_ERRBUF_SIZE];
};

static int open_fd(const char *path, char *errbuf)
{
    /* No link followed: in a directory another user can write, a link planted at the
     * log's name would have root append alerts to any file. Created 0640 at most. */
    return tapir_open_output(path, O_APPEND | O_CREAT, "alert log", errbuf);
}

alert_log_t *alert_log_open(const char *path, char *errbuf)
{
    alert_log_t *l = calloc(1, sizeof(*l));
    if (!l || !(l->path = strdup(path))) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot open alert log %s: out of memory", path);
        free(l);
        return NULL;
    }
    l->fd = open_fd(path, errbuf);
    if (l->fd < 0) {
        free(l->path);
        free(l);
        return NULL;
    }
    return l;
}

int alert_log_write(alert_log_t *l, const struct alert *a)
{
    char *s = alert_to_json(a);
    if (!s) {
        l->errors++;
        snprintf(l->err, sizeof(l->err), "alert log %s: out of memory", l->path);
        return -1;
    }
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        l->errors++;
        snprintf(l->err, sizeof(l->err), "alert log %s: out of memory", l->path);
        return -1;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    ssize_t w;
    do {
        w = write(l->fd, line, n + 1);
    } while (w < 0 && errno == EINTR);
    int saved = errno;
    free(line);
    if (w < 0) {
        l->errors++;
        snprintf(l->err, sizeof(l->err), "cannot write alert log %s: %s", l->path, strerror(saved));
        return -1;
    }
    if ((size_t)w != n + 1) {
        l->errors++;
        snprintf(l->err, sizeof(l->err),
                 "short write to alert log %s: %zd of %zu bytes (disk full?)", l->path, w, n + 1);
        return -1;
    }
    l->lines++;
    return 0;
}

int alert_log_reopen(alert_log_t *l)
{
    char errbuf[TAPIR_ERRBUF_SIZE];
    int fd = open_fd(l->path, errbuf);
    if (fd < 0) {
        l->errors++;
        snprintf(l->err, sizeof(l->err), "%s", errbuf);
        return -1;
    }
    close(l->fd);
    l->fd = fd;
    return 0;
}

void alert_log_close(alert_log_t *l)
{
    if (!l)
        return;
    close(l->fd);
    free(l->path);
    free(l);
}

void alert_log_counters(const alert_log_t *l, uint64_t *lines, uint64_t *errors)
{
    *lines = l->lines;
    *errors = l->errors;
}

const char *alert_log_errmsg(const alert_log_t *l)
{
    return l->err[0] ? l->err : "no error";
}
