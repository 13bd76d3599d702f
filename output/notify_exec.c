/*
 * notify_exec.c — --notify-exec PROGRAM: runs PROGRAM ACTION IP SIDE CATEGORY for each
 * notification, without a shell (nothing from the traffic is ever parsed as a command
 * line), with the alert's JSON on its standard input, as FastNetMon runs its notify
 * script (`notify_script.sh ban 192.0.2.7 incoming 1000` with the details on stdin).
 * ACTION is alert or end (an incident opened or closed), or ban or unban (from the live
 * blocklist, through notify_event in sink_notify.h).
 *
 * posix_spawn (a vfork underneath), not fork: a sensor with a large flow table would
 * copy its page tables for every hook, and between fork and exec a threaded program
 * may only call async-signal-safe functions. The child gets its own process group, an
 * empty signal mask, default signal actions and no descriptor but 0-2 (closefrom), so
 * the capture socket or the database never leak into a hook. Timeout: after
 * --notify-exec-timeout S (default 10) the whole group is killed (SIGKILL), and every
 * child is reaped here with waitpid, so no zombie is ever left. A non-zero exit is
 * retried with backoff (hooks should be idempotent, as `ipset add -exist` is); a hook
 * that timed out is not (it would likely hang again and hold the queue).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "notify_int.h"
#include "timeutil.h"

extern char **environ;

#define EXEC_POLL_US 5000 /* waitpid polling while the hook runs */

struct exec_hook {
    char program[1024];
    uint64_t timeout_us;
};

/* Writes all of buf to the non-blocking fd until deadline (monotonic); a hook that
 * does not read its stdin (EPIPE) is fine. */
static void feed(int fd, const char *buf, size_t len, uint64_t deadline)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w > 0) {
            buf += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN)
            return;
        uint64_t now = tapir_monotonic_us();
        if (now >= deadline)
            return;
        struct pollfd p = {fd, POLLOUT, 0};
        uint64_t ms = (deadline - now) / 1000 + 1;
        poll(&p, 1, ms > 1000 ? 1000 : (int)ms);
    }
}

static enum notify_result exec_send(void *ctx, const struct notify_job *j, char *err, size_t errlen)
{
    struct exec_hook *h = ctx;
    char ip[64];
    alert_ip_str(&j->al, ip, sizeof(ip));
    char action[8], side[16], category[24];
    snprintf(action, sizeof(action), "%s", notify_action_name(j->action));
    snprintf(side, sizeof(side), "%s", alert_side_name(j->al.side));
    snprintf(category, sizeof(category), "%s", alert_category_name(j->al.category));
    char *argv[] = {h->program, action, ip, side, category, NULL};
    char *json = alert_to_json(&j->al);
    if (!json) {
        snprintf(err, errlen, "out of memory");
        return NOTIFY_FAILED;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "%s: pipe: %s", h->program, strerror(errno));
        free(json);
        return NOTIFY_RETRY;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int e = posix_spawn(&pid, h->program, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fds[0]);
    if (e) {
        close(fds[1]);
        free(json);
        snprintf(err, errlen, "cannot run %s: %s", h->program, strerror(e));
        return NOTIFY_RETRY;
    }
    uint64_t deadline = tapir_monotonic_us() + h->timeout_us;
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    size_t jl = strlen(json);
    json[jl] = '\n'; /* the JSON and a newline, as the alert log's line */
    feed(fds[1], json, jl + 1, deadline);
    close(fds[1]);
    free(json);
    int status = 0;
    bool killed = false;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "%s: waitpid: %s", h->program, strerror(errno));
            return NOTIFY_FAILED;
        }
        if (!killed && tapir_monotonic_us() >= deadline) {
            kill(-pid, SIGKILL); /* its group: the hook and what it started */
            kill(pid, SIGKILL);
            killed = true;
        }
        struct timespec ts = {0, EXEC_POLL_US * 1000};
        nanosleep(&ts, NULL);
    }
    if (killed) {
        snprintf(err, errlen, "%s %s %s: killed after %.0f s (--notify-exec-timeout)", h->program,
                 action, ip, (double)h->timeout_us / 1e6);
        return NOTIFY_FAILED;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return NOTIFY_SENT;
    if (WIFEXITED(status))
        snprintf(err, errlen, "%s %s %s: exit status %d", h->program, action, ip,
                 WEXITSTATUS(status));
    else
        snprintf(err, errlen, "%s %s %s: killed by signal %d", h->program, action, ip,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? NOTIFY_FAILED : NOTIFY_RETRY;
}

static void exec_destroy(void *ctx)
{
    free(ctx);
}

int notify_exec_create(const struct output_config *c, struct notify_transport *t, char *errbuf)
{
    if (!c->notify_exec)
        return 0;
    struct stat sb;
    errno = 0;
    if (c->notify_exec[0] != '/') {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "--notify-exec: '%.120s' is not an absolute path (it runs without a shell "
                 "or PATH)",
                 c->notify_exec);
        return -1;
    }
    if (stat(c->notify_exec, &sb) < 0 || !S_ISREG(sb.st_mode) || access(c->notify_exec, X_OK)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--notify-exec: %.120s is not an executable file%s%s",
                 c->notify_exec, errno ? ": " : "", errno ? strerror(errno) : "");
        return -1;
    }
    struct exec_hook *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return -1;
    }
    if (snprintf(h->program, sizeof(h->program), "%s", c->notify_exec) >= (int)sizeof(h->program)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--notify-exec: the path is too long");
        free(h);
        return -1;
    }
    h->timeout_us = (uint64_t)(c->notify_exec_timeout_s ? c->notify_exec_timeout_s : 10) * 1000000;
    *t = (struct notify_transport){
        .name = "exec", .ctx = h, .send = exec_send, .destroy = exec_destroy};
    return 1;
}
