/*
 * notify.c — sd_notify(3)'s datagram protocol, written against the documented wire
 * format: one sendto() per state on an AF_UNIX datagram socket. systemd learns the
 * sender's PID from the kernel (SO_PASSCRED on its socket), so nothing but the text is
 * sent. A fresh socket per message: messages are rare (start, reload, stop,
 * a watchdog ping every few seconds).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "timeutil.h"

int notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 1;
    size_t len = strlen(path);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
        return -1; /* vsock and other forms are not supported */
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); /* never wait */
    if (fd < 0)
        return -1;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(state) ? 0 : -1;
}

static _Atomic int ready; /* READY=1 sent by the start-up path */

int notify_ready(const char *status)
{
    atomic_store(&ready, 1);
    return notify_sendf("READY=1\nSTATUS=%s", status);
}

void notify_reloading(void)
{
    if (atomic_load(&ready))
        notify_sendf("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)notify_monotonic_us());
}

void notify_reloaded(void)
{
    if (atomic_load(&ready))
        notify_send("READY=1");
}

int notify_sendf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    return notify_send(buf);
}

uint64_t notify_watchdog_us(void)
{
    const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    if (!us || !*us)
        return 0;
    if (pid && *pid) {
        char *end;
        unsigned long long p = strtoull(pid, &end, 10);
        if (*end || p != (unsigned long long)getpid())
            return 0; /* meant for another process */
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(us, &end, 10);
    if (errno || *end || v == 0)
        return 0;
    return v;
}

uint64_t notify_monotonic_us(void)
{
    return tapir_monotonic_us();
}
