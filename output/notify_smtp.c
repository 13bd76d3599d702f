/*
 * notify_smtp.c — --notify-email ADDR[,ADDR]: one plain-text mail per notification,
 * with what an on-call reader needs to decide without opening the dashboard (IP,
 * category, detector, direction, the top features with their values and baselines,
 * times, sensor) and the alert's JSON at the end for scripts; sent with libcurl's SMTP
 * on the queue's worker (STARTTLS when the server offers it, CURLUSESSL_TRY; smtps://
 * for TLS from the start; login from --smtp-credentials-file "user:password").
 *
 * --smtp-ca FILE trusts the PEM certificates in FILE (a private CA, or a self-signed
 * server) instead of the system's, and then requires TLS (CURLUSESSL_ALL): whoever names
 * a CA expects the mail encrypted, and with "where offered" a man in the middle who strips
 * STARTTLS from the server's answer would get it in clear. The file is read once at start
 * (CURLOPT_CAINFO_BLOB, at most CA_MAX_BYTES): the sensor may have dropped to a user that
 * cannot read it, or be in a read-only root, by the time the first mail goes. Rejected:
 * CURLOPT_CAINFO with the path, which libcurl opens again at every connection.
 *
 * A storm must not become a mail storm: the first --notify-digest N (default 10)
 * notifications of a wall-clock minute are mailed one by one, the rest of that minute
 * are held and go out as one digest mail (one line each, at most DIGEST_LINES listed)
 * when the minute is over, or at exit. Rejected: a digest on a sliding window, which
 * would need the last N send times and says nothing clearer in the subject line.
 *
 * Header values that come from traffic or a geolocation database are cut at control
 * characters, so a crafted AS name cannot add a header.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "notify_int.h"
#include "timeutil.h"

#define SMTP_CONNECT_TIMEOUT_MS 10000
#define SMTP_TIMEOUT_MS         20000
#define SMTP_MAX_RCPT           16
#define DIGEST_LINES            200 /* listed in a digest; the rest are counted */
#define MAIL_MAX                (64 * 1024)
#define CA_MAX_BYTES            (1024 * 1024) /* --smtp-ca: a bundle of a few hundred certs */

struct smtp {
    CURL *curl;
    struct curl_slist *rcpt;
    char url[1024];
    char from[256];
    char to[1024]; /* the To: header */
    char cred[512];
    char *ca;      /* --smtp-ca's content (PEM), or NULL: the system's CAs, TLS if offered */
    size_t ca_len; /* bytes of ca */
    const char *sensor;
    uint32_t digest_after; /* mails a minute before the digest */
    uint64_t minute;       /* wall-clock minute of the current count */
    uint32_t this_minute;  /* notifications seen in it */
    uint64_t seq;          /* Message-ID */
    /* The held notifications of the current minute. */
    char *digest; /* DIGEST_LINES lines */
    size_t digest_len;
    uint64_t held; /* notifications held, listed or not */
};

struct upload {
    const char *p;
    size_t left;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = size * n < u->left ? size * n : u->left;
    memcpy(buf, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

/* Copies s into out with control characters as spaces (header values). */
static void header_safe(const char *s, char *out, size_t len)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < len; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    out[i] = '\0';
}

static int add(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int add(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    if (*used >= len)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (w < 0)
        return -1;
    *used = (size_t)w >= len - *used ? len - 1 : *used + (size_t)w;
    return 0;
}

/* Sends one mail (body with CRLF lines). */
static enum notify_result mail(struct smtp *m, const char *subject, const char *body, char *err,
                               size_t errlen)
{
    char *msg = malloc(MAIL_MAX);
    if (!msg) {
        snprintf(err, errlen, "out of memory");
        return NOTIFY_FAILED;
    }
    char date[64], subj[300];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    header_safe(subject, subj, sizeof(subj));
    size_t u = 0;
    add(msg, MAIL_MAX, &u,
        "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\n"
        "Message-ID: <%llu.%llu.%d@tapir>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        "X-Mailer: tapir/%s\r\n\r\n%s",
        date, m->from, m->to, subj, (unsigned long long)(tapir_wall_us() / 1000000),
        (unsigned long long)++m->seq, (int)getpid(), TAPIR_VERSION, body);
    struct upload up = {msg, u};
    curl_easy_setopt(m->curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(m->curl, CURLOPT_INFILESIZE, (long)u);
    CURLcode rc = curl_easy_perform(m->curl);
    free(msg);
    if (rc == CURLE_OK)
        return NOTIFY_SENT;
    long code = 0;
    curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, &code);
    snprintf(err, errlen, "mail through %s: %s (SMTP %ld)", m->url, curl_easy_strerror(rc), code);
    /* 5xx: the server refused the sender, a recipient or the login: for good. */
    return code >= 500 && code < 600 ? NOTIFY_FAILED : NOTIFY_RETRY;
}

/* "synflood from 192.0.2.7 (source, inbound)" */
static void summary(const struct alert *a, char *buf, size_t len)
{
    char ip[64];
    alert_ip_str(a, ip, sizeof(ip));
    snprintf(buf, len, "%s %s %s (%s, %s)", alert_category_name(a->category),
             a->side == ALERT_SIDE_DESTINATION ? "against" : "from", ip, alert_side_name(a->side),
             alert_direction_name(a->direction));
}

static enum notify_result one_mail(struct smtp *m, const struct notify_job *j, char *err,
                                   size_t errlen)
{
    const struct alert *a = &j->al;
    char *body = malloc(MAIL_MAX / 2);
    char *json = alert_to_json(a);
    if (!body || !json) {
        free(body);
        free(json);
        snprintf(err, errlen, "out of memory");
        return NOTIFY_FAILED;
    }
    char what[200], subject[300], ip[64], ts[32], ws[32], we[32], score[32], thr[32], why[1024];
    summary(a, what, sizeof(what));
    alert_ip_str(a, ip, sizeof(ip));
    notify_format_real(a->score, score, sizeof(score));
    notify_format_real(a->threshold, thr, sizeof(thr));
    notify_format_why(a, "\r\n  ", why, sizeof(why));
    const char *sensor = a->sensor[0] ? a->sensor : m->sensor ? m->sensor : "";
    snprintf(subject, sizeof(subject), "[tapir] %s%s%s%s",
             j->action == NOTIFY_END     ? "ended: "
             : j->action == NOTIFY_BAN   ? "banned: "
             : j->action == NOTIFY_UNBAN ? "unbanned: "
                                         : "",
             what, sensor[0] ? " on " : "", sensor);
    size_t u = 0;
    size_t cap = MAIL_MAX / 2;
    add(body, cap, &u, "Tapir %s an incident: %s.\r\n\r\n",
        j->action == NOTIFY_END ? "closed" : "opened", what);
    add(body, cap, &u, "IP:        %s\r\n", ip);
    add(body, cap, &u, "Category:  %s\r\n", alert_category_name(a->category));
    add(body, cap, &u, "Detector:  %s\r\n", alert_detector_name(a->detector));
    add(body, cap, &u, "Side:      %s\r\n", alert_side_name(a->side));
    add(body, cap, &u, "Direction: %s\r\n", alert_direction_name(a->direction));
    add(body, cap, &u, "Score:     %s (threshold %s)\r\n", score, thr);
    if (a->severity)
        add(body, cap, &u, "Severity:  %d (1 most severe)\r\n", a->severity);
    if (a->incident_id)
        add(body, cap, &u, "Incident:  %lld\r\n", (long long)a->incident_id);
    add(body, cap, &u, "Time:      %s (packet time)\r\n",
        tapir_iso8601(a->timestamp_us, ts, sizeof(ts)));
    add(body, cap, &u, "Window:    %s .. %s\r\n", tapir_iso8601(a->window_start_us, ws, sizeof(ws)),
        tapir_iso8601(a->window_end_us, we, sizeof(we)));
    add(body, cap, &u, "Sensor:    %s\r\n", sensor);
    add(body, cap, &u, "\r\nWhy (feature: value, the IP's own baseline):\r\n  %s\r\n",
        why[0] ? why : "(no features: see the detector)");
    if (a->risks[0])
        add(body, cap, &u, "\r\nnDPI risks: %.*s\r\n", (int)sizeof(a->risks), a->risks);
    if (a->geo.country[0] || a->geo.asn)
        add(body, cap, &u, "\r\nGeo: %.*s AS%u %.*s\r\n", (int)sizeof(a->geo.country),
            a->geo.country, (unsigned)a->geo.asn, (int)sizeof(a->geo.as_org), a->geo.as_org);
    if (a->l7[0])
        add(body, cap, &u, "L7: %.*s\r\n", (int)sizeof(a->l7), a->l7);
    add(body, cap, &u, "\r\nJSON:\r\n%s\r\n", json);
    enum notify_result r = mail(m, subject, body, err, errlen);
    free(body);
    free(json);
    return r;
}

static void hold(struct smtp *m, const struct notify_job *j)
{
    m->held++;
    if (m->held > DIGEST_LINES)
        return;
    char what[200], ts[32], score[32];
    summary(&j->al, what, sizeof(what));
    notify_format_real(j->al.score, score, sizeof(score));
    add(m->digest, DIGEST_LINES * 300, &m->digest_len, "%s  %-5s %s, %s, score %s\r\n",
        tapir_iso8601(j->al.timestamp_us, ts, sizeof(ts)), notify_action_name(j->action), what,
        alert_detector_name(j->al.detector), score);
}

static enum notify_result smtp_send(void *ctx, const struct notify_job *j, char *err, size_t errlen)
{
    struct smtp *m = ctx;
    uint64_t minute = tapir_wall_us() / 60000000;
    if (minute != m->minute) {
        m->minute = minute;
        m->this_minute = 0;
    }
    if (++m->this_minute > m->digest_after && m->digest) {
        hold(m, j);
        return NOTIFY_HELD;
    }
    return one_mail(m, j, err, errlen);
}

/* The held notifications as one mail, once their minute is over (or at exit). */
static void smtp_tick(void *ctx, bool final, uint64_t *sent, uint64_t *failed, char *err,
                      size_t errlen)
{
    struct smtp *m = ctx;
    if (!m->held || (!final && tapir_wall_us() / 60000000 == m->minute))
        return;
    char subject[200], *body = malloc(DIGEST_LINES * 300 + 512);
    if (!body) {
        *failed += m->held;
        m->held = m->digest_len = 0;
        return;
    }
    snprintf(subject, sizeof(subject), "[tapir] digest: %llu more incidents%s%s",
             (unsigned long long)m->held, m->sensor ? " on " : "", m->sensor ? m->sensor : "");
    size_t u = 0;
    add(body, DIGEST_LINES * 300 + 512, &u,
        "More than %u notifications in a minute: the rest of that minute in one mail.\r\n\r\n%s",
        (unsigned)m->digest_after, m->digest);
    if (m->held > DIGEST_LINES)
        add(body, DIGEST_LINES * 300 + 512, &u, "... and %llu more (see the alert log)\r\n",
            (unsigned long long)(m->held - DIGEST_LINES));
    enum notify_result r = mail(m, subject, body, err, errlen);
    if (r == NOTIFY_RETRY && !final) /* once more (not at exit): it has no queue slot */
        r = mail(m, subject, body, err, errlen);
    free(body);
    if (r == NOTIFY_SENT)
        *sent += m->held;
    else
        *failed += m->held;
    m->held = m->digest_len = 0;
    m->digest[0] = '\0';
}

static void smtp_destroy(void *ctx)
{
    struct smtp *m = ctx;
    if (!m)
        return;
    curl_easy_cleanup(m->curl);
    curl_slist_free_all(m->rcpt);
    memset(m->cred, 0, sizeof(m->cred));
    free(m->ca);
    free(m->digest);
    free(m);
}

/* Reads --smtp-ca: a regular file of PEM certificates, at most CA_MAX_BYTES. */
static int read_ca(const char *path, struct smtp *m, char *errbuf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--smtp-ca %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const char *bad = !S_ISREG(st.st_mode)        ? "not a regular file"
                      : st.st_size > CA_MAX_BYTES ? "larger than 1 MiB"
                      : st.st_size == 0           ? "empty"
                                                  : NULL;
    if (!bad && !(m->ca = malloc((size_t)st.st_size + 1)))
        bad = "out of memory";
    size_t n = 0;
    while (!bad && n < (size_t)st.st_size) {
        ssize_t k = read(fd, m->ca + n, (size_t)st.st_size - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            bad = k < 0 ? strerror(errno) : "shorter than its size";
            break;
        }
        n += (size_t)k;
    }
    close(fd);
    if (!bad) {
        m->ca[n] = '\0';
        if (!strstr(m->ca, "-----BEGIN CERTIFICATE-----"))
            bad = "no PEM certificate in it";
    }
    if (bad) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--smtp-ca %s: %s", path, bad);
        return -1;
    }
    m->ca_len = n;
    return 0;
}

int notify_smtp_create(const struct output_config *c, struct notify_transport *t, char *errbuf)
{
    if (!c->notify_email) {
        if (c->smtp_url || c->smtp_from || c->smtp_credentials || c->smtp_ca) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "--smtp-url, --smtp-from, --smtp-credentials-file "
                     "and --smtp-ca need --notify-email");
            return -1;
        }
        return 0;
    }
    if (!c->smtp_url || !c->smtp_from) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "--notify-email needs --smtp-url smtp[s]://HOST[:PORT] and --smtp-from ADDR");
        return -1;
    }
    if (strncmp(c->smtp_url, "smtp://", 7) && strncmp(c->smtp_url, "smtps://", 8)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--smtp-url: '%.200s' is not smtp:// or smtps://",
                 c->smtp_url);
        return -1;
    }
    struct smtp *m = calloc(1, sizeof(*m));
    if (!m || !(m->digest = calloc(1, DIGEST_LINES * 300))) {
        free(m);
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return -1;
    }
    m->sensor = c->sensor_name;
    m->digest_after = c->notify_digest ? c->notify_digest : 10;
    char from[256];
    header_safe(c->smtp_from, from, sizeof(from));
    if (snprintf(m->url, sizeof(m->url), "%s", c->smtp_url) >= (int)sizeof(m->url) ||
        snprintf(m->from, sizeof(m->from), "%s", from) >= (int)sizeof(m->from) ||
        !strchr(from, '@')) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "--smtp-url or --smtp-from too long, or '%.100s' "
                 "is not an address",
                 from);
        goto fail;
    }
    /* Recipients: a comma list, spaces around entries cut. */
    const char *p = c->notify_email;
    int n = 0;
    size_t tu = 0;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t k = strcspn(p, ",");
        size_t e = k;
        while (e && p[e - 1] == ' ')
            e--;
        if (e) {
            char addr[256], env[260];
            if (e >= sizeof(addr) || n >= SMTP_MAX_RCPT) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                         "--notify-email: at most %d addresses of "
                         "at most 255 bytes",
                         SMTP_MAX_RCPT);
                goto fail;
            }
            memcpy(addr, p, e);
            addr[e] = '\0';
            header_safe(addr, addr, sizeof(addr));
            if (!strchr(addr, '@') || strpbrk(addr, "<> ")) {
                snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--notify-email: '%.120s' is not an address",
                         addr);
                goto fail;
            }
            snprintf(env, sizeof(env), "<%s>", addr);
            struct curl_slist *r = curl_slist_append(m->rcpt, env);
            if (!r)
                goto oom;
            m->rcpt = r;
            add(m->to, sizeof(m->to), &tu, "%s%s", n ? ", " : "", addr);
            n++;
        }
        p += k;
    }
    if (!n) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--notify-email: no address given");
        goto fail;
    }
    if (c->smtp_credentials) {
        if (notify_read_secret(c->smtp_credentials, "--smtp-credentials-file", m->cred,
                               sizeof(m->cred), errbuf) < 0)
            goto fail;
        if (!strchr(m->cred, ':')) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "--smtp-credentials-file %s: expected one line user:password",
                     c->smtp_credentials);
            goto fail;
        }
    }
    if (c->smtp_ca && read_ca(c->smtp_ca, m, errbuf) < 0)
        goto fail;
    if (!(m->curl = curl_easy_init()))
        goto oom;
    char env_from[270];
    snprintf(env_from, sizeof(env_from), "<%s>", m->from);
    curl_easy_setopt(m->curl, CURLOPT_URL, m->url);
    curl_easy_setopt(m->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(m->curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(m->curl, CURLOPT_MAIL_FROM, env_from);
    curl_easy_setopt(m->curl, CURLOPT_MAIL_RCPT, m->rcpt);
    curl_easy_setopt(m->curl, CURLOPT_USE_SSL, (long)(m->ca ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    if (m->ca) {
        struct curl_blob blob = {m->ca, m->ca_len, CURL_BLOB_COPY};
        if (curl_easy_setopt(m->curl, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK) {
            snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                     "--smtp-ca: this libcurl cannot take CA certificates from memory");
            goto fail;
        }
    }
    curl_easy_setopt(m->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(m->curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(m->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)SMTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(m->curl, CURLOPT_TIMEOUT_MS, (long)SMTP_TIMEOUT_MS);
    if (m->cred[0])
        curl_easy_setopt(m->curl, CURLOPT_USERPWD, m->cred);
    *t = (struct notify_transport){
        .name = "email", .ctx = m, .send = smtp_send, .tick = smtp_tick, .destroy = smtp_destroy};
    return 1;
oom:
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
fail:
    smtp_destroy(m);
    return -1;
}
