/*
 * blocklist_apply.c — the privileged helper of --blocklist-apply (privilege separation,
 * as OpenSSH's monitor): a process forked by cmd_run.c before any thread starts and
 * before the capabilities are dropped, so it alone keeps CAP_NET_ADMIN. It does one thing:
 * when a byte arrives on its pipe, it loads the one file it was given at fork time
 * (nft -f, ipset restore) and answers one byte, 0 loaded or 1 failed. The capture, DPI
 * and analyzer threads never hold firewall rights; what they can do to the firewall is
 * write that file.
 *
 * Because the file is written by the unprivileged sensor, the helper does not trust it:
 * it opens it without following links, reads it whole (bounded), checks every line
 * against the shapes the writer produces for this table (statements on the table's own
 * sets and its two drop rules, elements made only of address characters), and hands
 * nft or ipset exactly the bytes it checked, on a pipe (no second open of the path, so
 * no swap between check and load). A compromised sensor can therefore ban addresses in
 * Tapir's own sets, which is its job, but not flush the ruleset, add an accept rule, or
 * touch another table.
 *
 * Rejected: the sensor running nft itself (it would keep CAP_NET_ADMIN in every thread,
 * the packet parsers included), a setuid wrapper (NoNewPrivileges forbids it, rightly),
 * and libnftables / libipset in the helper (two more libraries for one statement each;
 * the command-line tools are what operators debug with anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blocklist.h"

#define APPLY_MAX_BYTES (64u << 20) /* a file larger than this is refused */

static const char *find_tool(const char *name)
{
    static char path[64];
    static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

static bool starts(const char *line, const char *prefix)
{
    return !strncmp(line, prefix, strlen(prefix));
}

/* Only what an element list may hold: addresses, '/', ',', spaces, "timeout Ns". */
static bool element_chars(const char *p, size_t n)
{
    return strspn(p, "0123456789abcdefABCDEF.:/, timeouts") >= n;
}

/* The table (or ipset prefix) the file speaks of: letters, digits, '_'. */
static bool name_ok(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && n <= 26 &&
           strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

static bool set_ok(const char *name)
{
    return !strcmp(name, "blocklist4") || !strcmp(name, "blocklist6") ||
           !strcmp(name, "quarantine4") || !strcmp(name, "quarantine6");
}

/* One line of an nft script for table t. */
static bool nft_line_ok(const char *line, const char *t)
{
    char want[256], set[32];
    unsigned fam, size;
    int used = 0;
    if (line[0] == '#' || line[0] == '\0' || !strcmp(line, "}"))
        return true;
    snprintf(want, sizeof(want), "table inet %s {", t);
    if (!strcmp(line, want))
        return true;
    if (sscanf(line, "\tset %31s { type ipv%u_addr; flags interval, timeout;%n", set, &fam,
               &used) == 2 &&
        used > 0 && set_ok(set) && (fam == 4 || fam == 6)) {
        const char *rest = line + used;
        if (!strcmp(rest, " }"))
            return true;
        int u2 = 0;
        return sscanf(rest, " size %u; }%n", &size, &u2) == 1 && rest[u2] == '\0';
    }
    for (int h = 0; h < 2; h++) {
        const char *hk = h ? "forward" : "input";
        snprintf(want, sizeof(want),
                 "\tchain %s { type filter hook %s priority -10; policy accept; }", hk, hk);
        if (!strcmp(line, want))
            return true;
        snprintf(want, sizeof(want), "flush chain inet %s %s", t, hk);
        if (!strcmp(line, want))
            return true;
        snprintf(want, sizeof(want), "add rule inet %s %s ip saddr @blocklist4 drop", t, hk);
        if (!strcmp(line, want))
            return true;
        snprintf(want, sizeof(want), "add rule inet %s %s ip6 saddr @blocklist6 drop", t, hk);
        if (!strcmp(line, want))
            return true;
    }
    snprintf(want, sizeof(want), "flush set inet %s ", t);
    if (starts(line, want))
        return set_ok(line + strlen(want));
    snprintf(want, sizeof(want), "add element inet %s ", t);
    if (starts(line, want)) {
        const char *p = line + strlen(want);
        const char *brace = strstr(p, " { ");
        if (!brace || (size_t)(brace - p) >= sizeof(set))
            return false;
        memcpy(set, p, (size_t)(brace - p));
        set[brace - p] = '\0';
        size_t n = strlen(brace);
        return set_ok(set) && n >= 5 && !strcmp(brace + n - 2, " }") &&
               element_chars(brace + 3, n - 5) && !strchr(brace + 3, '{');
    }
    return false;
}

/* One line of an ipset restore file for prefix t (sets t4, t6, tq4, tq6). */
static bool ipset_line_ok(const char *line, const char *t)
{
    size_t tl = strlen(t);
    const char *p;
    if (line[0] == '\0')
        return true;
    if (starts(line, "create ") && !strncmp(line + 7, t, tl)) {
        p = line + 7 + tl;
        return (starts(p, "4 hash:net family inet timeout ") ||
                starts(p, "6 hash:net family inet6 timeout ") ||
                starts(p, "q4 hash:net family inet timeout ") ||
                starts(p, "q6 hash:net family inet6 timeout ")) &&
               strspn(strstr(p, "timeout ") + 8, "0123456789 maxelm-xist") ==
                   strlen(strstr(p, "timeout ") + 8);
    }
    if (starts(line, "flush ") && !strncmp(line + 6, t, tl)) {
        p = line + 6 + tl;
        return !strcmp(p, "4") || !strcmp(p, "6") || !strcmp(p, "q4") || !strcmp(p, "q6");
    }
    if (starts(line, "add ") && !strncmp(line + 4, t, tl)) {
        p = line + 4 + tl;
        if (starts(p, "q"))
            p++;
        if (!starts(p, "4 ") && !starts(p, "6 "))
            return false;
        p += 2;
        return strspn(p, "0123456789abcdefABCDEF.:/ timeout-xis") == strlen(p);
    }
    return false;
}

/* Reads fd whole into a NUL-terminated buffer (malloc'd), at most APPLY_MAX_BYTES. */
static char *read_all(int fd, size_t *len, char *errbuf)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size > APPLY_MAX_BYTES) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "not a regular file of at most %u bytes",
                 APPLY_MAX_BYTES);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    ssize_t r;
    while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Checks every line against the shapes for table. */
static int check_script(char *buf, enum blocklist_format f, const char *table, char *errbuf)
{
    int lineno = 0;
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        bool ok = f == BLOCKLIST_NFT ? nft_line_ok(line, table) : ipset_line_ok(line, table);
        if (nl)
            *nl = '\n';
        if (!ok) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "line %d is not one the blocklist writer produces; file refused", lineno);
            return -1;
        }
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

int blocklist_apply_load(const char *path, enum blocklist_format f, const char *table, char *errbuf)
{
    if (!name_ok(table)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "bad table name");
        return -1;
    }
    const char *tool = find_tool(f == BLOCKLIST_NFT ? "nft" : "ipset");
    if (f == BLOCKLIST_PLAIN || !tool) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s",
                 f == BLOCKLIST_PLAIN ? "a plain list cannot be loaded"
                                      : "nft or ipset is not installed");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = 0;
    char *buf = read_all(fd, &len, errbuf);
    close(fd);
    if (!buf)
        return -1;
    if (check_script(buf, f, table, errbuf) < 0) {
        free(buf);
        return -1;
    }
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "pipe: %s", strerror(errno));
        free(buf);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "fork: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        free(buf);
        return -1;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        char *const nft_argv[] = {"nft", "-f", "/dev/stdin", NULL};
        char *const ipset_argv[] = {"ipset", "restore", NULL};
        execve(tool, f == BLOCKLIST_NFT ? nft_argv : ipset_argv, env);
        _exit(127);
    }
    close(in[0]);
    signal(SIGPIPE, SIG_IGN);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(in[1], buf + off, len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(in[1]);
    free(buf);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "%s exited with status %d", tool,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return -1;
    }
    return 0;
}

/* Not root (the systemd unit: ambient CAP_NET_RAW and CAP_NET_ADMIN): keep CAP_NET_ADMIN
 * alone, also as an ambient capability so that nft and ipset get it across execve. */
static void keep_net_admin_only(void)
{
    if (geteuid() == 0)
        return;
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) < 0)
        return;
    uint32_t admin = 1u << CAP_NET_ADMIN; /* CAP_NET_ADMIN is 12: in data[0] */
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    data[0].permitted &= admin;
    data[0].effective &= admin;
    data[0].inheritable = data[0].permitted;
    data[1].permitted = data[1].effective = data[1].inheritable = 0;
    if (syscall(SYS_capset, &hdr, data) < 0)
        return;
    if (data[0].permitted & admin)
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0);
}

/* The helper's life: wait for a byte, load, answer; EOF (the sensor closed the pipe or
 * died) ends it. */
static void helper_main(int req, int res, const char *path, enum blocklist_format f,
                        const char *table)
{
    prctl(PR_SET_NAME, "tapir-blocklist", 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
    keep_net_admin_only();
    signal(SIGINT, SIG_IGN); /* ^C goes to the sensor, which then closes the pipe */
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    char buf[256];
    for (;;) {
        ssize_t n = read(req, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        char errbuf[TAPIR_ERRBUF_SIZE];
        unsigned char r = 0;
        if (blocklist_apply_load(path, f, table, errbuf) < 0) {
            fprintf(stderr, "tapir: blocklist helper: %s: %s\n", path, errbuf);
            r = 1;
        }
        if (write(res, &r, 1) < 0)
            break;
    }
    _exit(0);
}

int blocklist_apply_fork(struct blocklist_config *c, char *errbuf)
{
    c->apply_fd = c->apply_result_fd = -1;
    if (c->replay) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "--blocklist-apply is refused with -r: a replay must not change this host's "
                 "firewall (load the file by hand if you mean it)");
        return -1;
    }
    if (!c->path || c->format == BLOCKLIST_PLAIN) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "--blocklist-apply needs --blocklist FILE in the nft or ipset format");
        return -1;
    }
    if (!find_tool(c->format == BLOCKLIST_NFT ? "nft" : "ipset")) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--blocklist-apply: %s is not installed",
                 c->format == BLOCKLIST_NFT ? "nft" : "ipset");
        return -1;
    }
    char table[32];
    if (blocklist_table_name(c, table, errbuf) < 0)
        return -1;
    int req[2], res[2];
    if (pipe2(req, O_CLOEXEC) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--blocklist-apply: pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(res, O_CLOEXEC) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--blocklist-apply: pipe: %s", strerror(errno));
        goto fail_req;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--blocklist-apply: fork: %s", strerror(errno));
        goto fail_res;
    }
    if (pid == 0) {
        close(req[1]);
        close(res[0]);
        /* Nothing of the sensor's but the two pipe ends and stdio. */
        int keep_req = fcntl(req[0], F_DUPFD_CLOEXEC, 64),
            keep_res = fcntl(res[1], F_DUPFD_CLOEXEC, 65);
        if (keep_req < 0 || keep_res < 0)
            _exit(1);
        for (int fd = 3; fd < 64; fd++)
            close(fd);
        helper_main(keep_req, keep_res, c->path, c->format, table);
    }
    close(req[0]);
    close(res[1]);
    fcntl(req[1], F_SETFL, O_NONBLOCK);
    fcntl(res[0], F_SETFL, O_NONBLOCK);
    c->apply_fd = req[1];
    c->apply_result_fd = res[0];
    return 0;
fail_res:
    close(res[0]);
    close(res[1]);
fail_req:
    close(req[0]);
    close(req[1]);
    return -1;
}
