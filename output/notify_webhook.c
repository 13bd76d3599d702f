/*
 * notify_webhook.c — --notify-webhook URL: each notification as an HTTP POST of the
 * alert's JSON (json.c's object, the alert log's line), with libcurl on the queue's
 * worker thread; optionally signed: X-Tapir-Signature: sha256=HEX, the HMAC-SHA256 of
 * the exact body with the secret from --notify-webhook-secret-file (GitHub's scheme, so
 * receivers have code for it), with OpenSSL's libcrypto, which libcurl already loads.
 *
 * One curl handle for the run, so the connection (and TLS session) is reused between
 * posts. A 2xx answer is delivered; 408, 429, 5xx and transport errors are retried;
 * other 4xx are not (the receiver refused this body, sending it again will not help).
 * Timeouts: 5 s to connect, 10 s in all, so a hung receiver costs a bounded time per
 * attempt. Rejected: a hand-written HTTP/1.1 client over libevent (TLS, redirects,
 * proxies and chunked answers are libcurl's job and it is on every Debian box).
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "notify_int.h"

#define WEBHOOK_CONNECT_TIMEOUT_MS 5000
#define WEBHOOK_TIMEOUT_MS         10000

struct webhook {
    CURL *curl;
    char url[2048];
    char secret[512]; /* "" unsigned */
    size_t secret_len;
};

/* The answer's body is not kept. */
static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static enum notify_result webhook_send(void *ctx, const struct notify_job *j, char *err,
                                       size_t errlen)
{
    struct webhook *w = ctx;
    char *body = alert_to_json(&j->al);
    if (!body) {
        snprintf(err, errlen, "out of memory");
        return NOTIFY_FAILED;
    }
    size_t blen = strlen(body);
    struct curl_slist *h = NULL;
    char line[160];
    h = curl_slist_append(h, "Content-Type: application/json");
    snprintf(line, sizeof(line), "X-Tapir-Event: %s", notify_action_name(j->action));
    h = curl_slist_append(h, line);
    if (w->secret_len) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        HMAC(EVP_sha256(), w->secret, (int)w->secret_len, (const unsigned char *)body, blen, md,
             &mdlen);
        int u = snprintf(line, sizeof(line), "X-Tapir-Signature: sha256=");
        for (unsigned i = 0; i < mdlen && u + 3 < (int)sizeof(line); i++)
            u += snprintf(line + u, sizeof(line) - (size_t)u, "%02x", md[i]);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)blen);
    CURLcode rc = curl_easy_perform(w->curl);
    long code = 0;
    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    free(body);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "POST %s: %s", w->url, curl_easy_strerror(rc));
        return NOTIFY_RETRY;
    }
    if (code >= 200 && code < 300)
        return NOTIFY_SENT;
    snprintf(err, errlen, "POST %s: answered HTTP %ld", w->url, code);
    return code == 408 || code == 429 || code >= 500 ? NOTIFY_RETRY : NOTIFY_FAILED;
}

static void webhook_destroy(void *ctx)
{
    struct webhook *w = ctx;
    if (!w)
        return;
    curl_easy_cleanup(w->curl);
    memset(w->secret, 0, sizeof(w->secret));
    free(w);
}

int notify_webhook_create(const struct output_config *c, struct notify_transport *t, char *errbuf)
{
    if (!c->notify_webhook)
        return 0;
    if (strncmp(c->notify_webhook, "http://", 7) && strncmp(c->notify_webhook, "https://", 8)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "--notify-webhook: '%.200s' is not an http:// or "
                 "https:// URL",
                 c->notify_webhook);
        return -1;
    }
    struct webhook *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return -1;
    }
    if (snprintf(w->url, sizeof(w->url), "%s", c->notify_webhook) >= (int)sizeof(w->url)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--notify-webhook: the URL is longer than %zu bytes",
                 sizeof(w->url) - 1);
        goto fail;
    }
    if (c->notify_webhook_secret) {
        if (notify_read_secret(c->notify_webhook_secret, "--notify-webhook-secret-file", w->secret,
                               sizeof(w->secret), errbuf) < 0)
            goto fail;
        w->secret_len = strlen(w->secret);
    }
    if (!(w->curl = curl_easy_init())) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "--notify-webhook: cannot start libcurl");
        goto fail;
    }
    curl_easy_setopt(w->curl, CURLOPT_URL, w->url);
    curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)WEBHOOK_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "tapir/" TAPIR_VERSION);
    curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(w->curl, CURLOPT_FOLLOWLOCATION, 0L);
    *t = (struct notify_transport){
        .name = "webhook", .ctx = w, .send = webhook_send, .destroy = webhook_destroy};
    return 1;
fail:
    webhook_destroy(w);
    return -1;
}
