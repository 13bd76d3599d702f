/*
 * cmd_serve.c — `tapir serve`: the HTTP API, metrics and dashboard (http.c) over a
 * stored database, without capturing: for an analyst looking at a replay's results, or
 * a second box reading a copy of the sensor's database.
 *
 * The store is opened read-write because ack and delete write; SQLite's WAL lets it sit
 * beside a running sensor, each writer waiting up to STORE_BUSY_TIMEOUT_MS for the other.
 * The token comes from a file (not the command line, where `ps` shows it to every user)
 * or from TAPIR_TOKEN; a token file others can read is refused rather than warned about,
 * since a warning in a service's log is read after the fact.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "http.h"
#include "log.h"
#include "opts.h"
#include "parse.h"
#include "store.h"

#define SERVE_TOKEN_MAX 256 /* bytes of a token */
#define SERVE_TOKEN_MIN 16  /* shorter tokens are accepted with a warning */

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: tapir serve [--db FILE] [--listen ADDR:PORT] [--token-file FILE]\n"
            "                   [--rate N]\n\n"
            "Serves the HTTP API, /metrics and the dashboard over a stored database until\n"
            "SIGTERM or SIGINT.\n\n"
            "  --db FILE          the database (default %s)\n"
            "  --listen ADDR:PORT where to listen (default %s; [::1]:8080 for IPv6;\n"
            "                     port 0 picks a free port)\n"
            "  --token-file FILE  the bearer token, first line of FILE (mode 0600);\n"
            "                     else the environment variable TAPIR_TOKEN. Without a\n"
            "                     token, auth is off, allowed on loopback addresses only\n"
            "  --rate N           requests per second per client IP (default %g, burst x%g)\n",
            STORE_DEFAULT_PATH, HTTP_DEFAULT_LISTEN, HTTP_DEFAULT_RATE, HTTP_BURST_FACTOR);
}

/* Checks a token is something a client can put in a header: printable ASCII, no
 * spaces. */
static int token_check(const char *tok, const char *from)
{
    size_t n = strlen(tok);
    if (n == 0) {
        fprintf(stderr, "tapir serve: the token in %s is empty\n", from);
        return -1;
    }
    if (n > SERVE_TOKEN_MAX) {
        fprintf(stderr, "tapir serve: the token in %s is longer than %d bytes\n", from,
                SERVE_TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (tok[i] <= ' ' || tok[i] > '~') {
            fprintf(stderr, "tapir serve: the token in %s has a space or a non-printable byte\n",
                    from);
            return -1;
        }
    }
    if (n < SERVE_TOKEN_MIN)
        fprintf(stderr,
                "tapir serve: warning: the token in %s is short (%zu bytes); use %d or "
                "more random characters\n",
                from, n, SERVE_TOKEN_MIN);
    return 0;
}

/* Reads the first line of path into tok (SERVE_TOKEN_MAX + 2 bytes). */
int serve_token_file(const char *path, char *tok, size_t toklen)
{
    /* O_NONBLOCK: a FIFO with no writer would block open() for ever (fstat refuses it). */
    struct stat sb;
    char errbuf[TAPIR_ERRBUF_SIZE];
    int fd = tapir_open_input(path, O_NONBLOCK | O_NOCTTY, "token file", &sb, errbuf);
    if (fd < 0) {
        fprintf(stderr, "tapir serve: %s\n", errbuf);
        return -1;
    }
    if (sb.st_mode & (S_IROTH | S_IWOTH)) {
        fprintf(stderr,
                "tapir serve: token file %s is accessible to every user (mode %04o); "
                "run: chmod 600 %s\n",
                path, (unsigned)(sb.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    ssize_t n = read(fd, tok, toklen - 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        fprintf(stderr, "tapir serve: cannot read token file %s: %s\n", path, strerror(e));
        return -1;
    }
    tok[n] = '\0';
    if (memchr(tok, '\0', (size_t)n)) {
        fprintf(stderr, "tapir serve: token file %s holds a NUL byte\n", path);
        return -1;
    }
    tok[strcspn(tok, "\r\n")] = '\0';
    size_t len = strlen(tok);
    while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
        tok[--len] = '\0';
    return token_check(tok, path);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    log_info("serve: %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopexit((struct event_base *)arg, NULL);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {OPTS_DB,
                                         {"listen", required_argument, NULL, 'l'},
                                         {"token-file", required_argument, NULL, 't'},
                                         {"rate", required_argument, NULL, 'r'},
                                         OPTS_HELP_END};
    const char *db = STORE_DEFAULT_PATH, *token_file = NULL;
    struct http_config hc = {.listen = HTTP_DEFAULT_LISTEN, .rate_per_s = HTTP_DEFAULT_RATE};
    int c;
    optind = 0;
    while ((c = opts_store_getopt(argc, argv, "h", opts, &db, NULL)) != -1) {
        switch (c) {
        case 'l':
            hc.listen = optarg;
            break;
        case 't':
            token_file = optarg;
            break;
        case 'r':
            if (parse_f64(optarg, &hc.rate_per_s) < 0 ||
                !(hc.rate_per_s > 0 && hc.rate_per_s <= 1e6))
                return parse_opt_bad("tapir serve", "--rate", optarg, "requests per second, > 0");
            break;
        default:
            return parse_opt_other(c, "tapir serve", argv, serve_usage);
        }
    }
    if (parse_opt_no_operands(argc, argv, "tapir serve", serve_usage) < 0)
        return TAPIR_EXIT_USAGE;

    char token[SERVE_TOKEN_MAX + 2] = "";
    if (token_file) {
        if (serve_token_file(token_file, token, sizeof(token)) < 0)
            return TAPIR_EXIT_USAGE;
    } else if (getenv("TAPIR_TOKEN") && getenv("TAPIR_TOKEN")[0]) {
        if (snprintf(token, sizeof(token), "%s", getenv("TAPIR_TOKEN")) >= (int)sizeof(token) ||
            token_check(token, "TAPIR_TOKEN") < 0) {
            if (strlen(getenv("TAPIR_TOKEN")) >= sizeof(token))
                fprintf(stderr, "tapir serve: the token in TAPIR_TOKEN is too long\n");
            return TAPIR_EXIT_USAGE;
        }
    }
    hc.token = token[0] ? token : NULL;

    char errbuf[TAPIR_ERRBUF_SIZE];
    int status;
    store_t *store = opts_store_open("tapir serve", db, true, &status);
    if (!store)
        return status;

    int rc = TAPIR_EXIT_FAIL;
    struct event *sigterm = NULL, *sigint = NULL;
    http_t *http = NULL;
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "tapir serve: cannot create the event loop\n");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0) {
        fprintf(stderr, "tapir serve: cannot install signal handlers\n");
        goto out;
    }
    http = http_create(base, &hc, store, NULL, NULL, errbuf);
    if (!http) {
        fprintf(stderr, "tapir serve: %s\n", errbuf);
        rc = strncmp(errbuf, "cannot listen", 13) ? TAPIR_EXIT_USAGE : TAPIR_EXIT_FAIL;
        goto out;
    }
    explicit_bzero(token, sizeof(token));
    const char *host_end = strrchr(hc.listen, ':');
    fprintf(stderr, "tapir serve: listening on http://%.*s:%u/ (database %s, auth %s)\n",
            (int)(host_end - hc.listen), hc.listen, http_port(http), db, hc.token ? "on" : "off");
    if (event_base_dispatch(base) < 0) {
        fprintf(stderr, "tapir serve: the event loop failed\n");
        goto out;
    }
    rc = TAPIR_EXIT_OK;
out:
    explicit_bzero(token, sizeof(token));
    http_destroy(http);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (base)
        event_base_free(base);
    store_close(store);
    return rc;
}
