/* Unit tests: nDPI's flow risks — an HTTP request with an SQL injection in its URL gets
 * its verdict at the request and its risks at the end of detection (nDPI 4.2 leaves the
 * URL check to its caller: dpi.c does it); risk ids fall into the window's classes;
 * names and severities come from nDPI's tables; a short pool does not keep flows for
 * their risks; the analyzer's score and the risk detector's rule. */
#include <ndpi_api.h>

#include "behaviour.h"
#include "check.h"
#include "dpi.h"

/* An IPv4/TCP packet 10.9.0.5:40000 <-> 10.9.0.80:80 (to_server picks the direction)
 * with payload; checksums left 0 (nDPI does not check them). */
static uint32_t tcp_packet_n(uint8_t *p, int to_server, uint8_t flags, uint32_t seq, uint32_t ack,
                             const uint8_t *payload, uint32_t plen)
{
    uint32_t total = 40 + plen;
    static const uint8_t c[4] = {10, 9, 0, 5}, s[4] = {10, 9, 0, 80};
    memset(p, 0, 40);
    p[0] = 0x45;
    p[2] = (uint8_t)(total >> 8), p[3] = (uint8_t)total;
    p[8] = 64, p[9] = 6;
    memcpy(p + 12, to_server ? c : s, 4);
    memcpy(p + 16, to_server ? s : c, 4);
    uint16_t sp = to_server ? 40000 : 80, dp = to_server ? 80 : 40000;
    p[20] = (uint8_t)(sp >> 8), p[21] = (uint8_t)sp, p[22] = (uint8_t)(dp >> 8),
    p[23] = (uint8_t)dp;
    for (int i = 0; i < 4; i++) {
        p[24 + i] = (uint8_t)(seq >> (24 - 8 * i));
        p[28 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    p[32] = 5 << 4, p[33] = flags, p[34] = 0xff, p[35] = 0xff;
    memcpy(p + 40, payload, plen);
    return total;
}

static uint32_t tcp_packet(uint8_t *p, int to_server, uint8_t flags, uint32_t seq, uint32_t ack,
                           const char *payload)
{
    return tcp_packet_n(p, to_server, flags, seq, ack, (const uint8_t *)payload,
                        (uint32_t)strlen(payload));
}

/* A TLS 1.2 ClientHello, with an SNI (sni non-NULL) or none: its length. */
static uint32_t client_hello(uint8_t *b, const char *sni)
{
    uint32_t n = 0, sl = sni ? (uint32_t)strlen(sni) : 0;
    uint8_t ext[128];
    uint32_t e = 0;
    if (sni) {
        const uint8_t h[] = {0, 0, 0, (uint8_t)(sl + 5), 0, (uint8_t)(sl + 3), 0, 0, (uint8_t)sl};
        memcpy(ext, h, sizeof(h));
        e = sizeof(h);
        memcpy(ext + e, sni, sl);
        e += sl;
    }
    const uint8_t groups[] = {0, 10, 0, 4, 0, 2, 0, 23}; /* supported_groups: secp256r1 */
    memcpy(ext + e, groups, sizeof(groups));
    e += sizeof(groups);
    uint32_t body = 2 + 32 + 1 + 2 + 4 + 2 + 2 + e;
    const uint8_t rec[] = {0x16,
                           3,
                           1,
                           (uint8_t)((body + 4) >> 8),
                           (uint8_t)(body + 4),
                           1,
                           0,
                           (uint8_t)(body >> 8),
                           (uint8_t)body,
                           3,
                           3};
    memcpy(b, rec, sizeof(rec));
    n = sizeof(rec);
    for (int i = 0; i < 32; i++)
        b[n++] = (uint8_t)(i * 7 + 1); /* random */
    const uint8_t mid[] = {0, 0, 4, 0xc0, 0x2f, 0xc0, 0x30, 1, 0, (uint8_t)(e >> 8), (uint8_t)e};
    memcpy(b + n, mid, sizeof(mid));
    n += sizeof(mid);
    memcpy(b + n, ext, e);
    return n + e;
}

/* A TLS flow's ClientHello through dpi: the first step's result, the risks at the end. */
static int tls_flow(const char *sni, struct dpi_result *r)
{
    char err[TAPIR_ERRBUF_SIZE];
    uint8_t pkt[512], hello[256];
    dpi_t *d = dpi_create(16, err);
    CHECK(d != NULL);
    if (!d)
        return -1;
    uint32_t slot = dpi_acquire(d);
    memset(r, 0, sizeof(*r));
    uint32_t n = tcp_packet_n(pkt, 1, 0x18, 1001, 5001, hello, client_hello(hello, sni));
    int st = dpi_process(d, slot, pkt, n, 1000000, r);
    if (!(st & DPI_FINAL))
        dpi_giveup(d, slot, r);
    dpi_release(d, slot);
    dpi_destroy(d);
    return st;
}

static const char request_sqli[] = "GET /app/item.php?id=1%27%20OR%20%271%27%3D%271 HTTP/1.1\r\n"
                                   "Host: shop.example.com\r\nUser-Agent: Mozilla/5.0\r\n\r\n";
static const char request_plain[] = "GET /app/item.php?id=42 HTTP/1.1\r\n"
                                    "Host: shop.example.com\r\nUser-Agent: Mozilla/5.0\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                               "Content-Length: 5\r\n\r\nhello";

/* One HTTP exchange through a pool of pool_size states: the steps' results. */
static void http_flow(uint32_t pool_size, const char *request, int *st_req, int *st_resp,
                      struct dpi_result *r)
{
    char err[TAPIR_ERRBUF_SIZE];
    uint8_t pkt[512];
    dpi_t *d = dpi_create(pool_size, err);
    CHECK(d != NULL);
    if (!d)
        return;
    uint32_t slot = dpi_acquire(d);
    CHECK(slot != 0);
    memset(r, 0, sizeof(*r));
    uint32_t n = tcp_packet(pkt, 1, 0x18, 1001, 5001, request);
    *st_req = dpi_process(d, slot, pkt, n, 1000000, r);
    *st_resp = 0;
    if (!(*st_req & DPI_FINAL)) {
        n = tcp_packet(pkt, 0, 0x18, 5001, 1001 + (uint32_t)strlen(request), response);
        *st_resp = dpi_process(d, slot, pkt, n, 1010000, r);
        if (!(*st_resp & DPI_FINAL))
            *st_resp |= dpi_giveup(d, slot, r);
    }
    dpi_release(d, slot);
    dpi_destroy(d);
}

TEST(sql_injection_url_is_a_risk_at_the_end)
{
    int a, b;
    struct dpi_result r;
    http_flow(16, request_sqli, &a, &b, &r);
    CHECK(a & DPI_VERDICT);     /* the protocol at the request ... */
    CHECK_EQ(a & DPI_FINAL, 0); /* ... kept for the response (status code) */
    CHECK_EQ(b, DPI_FINAL);     /* the end: no second verdict */
    CHECK_EQ(r.master ? r.master : r.app, NDPI_PROTOCOL_HTTP);
    CHECK((r.risk >> NDPI_URL_POSSIBLE_SQL_INJECTION) & 1);
    CHECK_EQ(r.risk & 1, 0); /* never NDPI_NO_RISK */

    http_flow(16, request_plain, &a, &b, &r);
    CHECK_EQ((r.risk >> NDPI_URL_POSSIBLE_SQL_INJECTION) & 1, 0);
    CHECK(b & DPI_FINAL);
}

TEST(short_pool_does_not_keep_flows_for_risks)
{
    int a, b;
    struct dpi_result r;
    http_flow(1, request_sqli, &a, &b, &r); /* the one state in use: none free */
    CHECK_EQ(a, DPI_VERDICT | DPI_FINAL);
    CHECK((r.risk >> NDPI_URL_POSSIBLE_SQL_INJECTION) & 1); /* the URL was seen already */
}

TEST(risks_fall_into_classes)
{
    struct host_risk h;
    memset(&h, 0, sizeof(h));
    dpi_risk_credit(&h, 0);
    CHECK_EQ(h.flows, 0);
    uint64_t r1 = (1ULL << NDPI_URL_POSSIBLE_SQL_INJECTION) | (1ULL << NDPI_URL_POSSIBLE_XSS) |
                  (1ULL << NDPI_KNOWN_PROTOCOL_ON_NON_STANDARD_PORT);
    dpi_risk_credit(&h, r1);
    dpi_risk_credit(&h, 1ULL << NDPI_SUSPICIOUS_DGA_DOMAIN);
    dpi_risk_credit(&h, 1ULL << NDPI_CLEAR_TEXT_CREDENTIALS);
    dpi_risk_credit(&h, (1ULL << NDPI_TLS_SELFSIGNED_CERTIFICATE) |
                            (1ULL << NDPI_SSH_OBSOLETE_SERVER_VERSION_OR_CIPHER));
    CHECK_EQ(h.flows, 4);
    CHECK_EQ(h.cls[HOST_RISK_INJECTION], 1); /* once per flow and class */
    CHECK_EQ(h.cls[HOST_RISK_OTHER], 1);
    CHECK_EQ(h.cls[HOST_RISK_DNS], 1);
    CHECK_EQ(h.cls[HOST_RISK_CREDENTIALS], 1);
    CHECK_EQ(h.cls[HOST_RISK_CRYPTO], 1);
    CHECK_EQ(h.cls[HOST_RISK_WEB], 0);
    CHECK(h.seen & (1ULL << NDPI_SUSPICIOUS_DGA_DOMAIN));
    CHECK(h.seen & r1);

    struct host_window w;
    memset(&w, 0, sizeof(w));
    CHECK(!behaviour_risk_attack(&w));
    CHECK(behaviour_risk_score(&w.risk) == 0.0);
    w.risk.cls[HOST_RISK_CRYPTO] = 50; /* benign everywhere: weighs nothing */
    w.risk.cls[HOST_RISK_OTHER] = 50;
    CHECK(behaviour_risk_score(&w.risk) == 0.0);
    CHECK(!behaviour_risk_attack(&w));
    w.risk = h;
    CHECK(behaviour_risk_attack(&w));
    CHECK(behaviour_risk_score(&w.risk) >= 4.0);

    /* A TLS client that named no server, answered by a self-signed certificate: the C2
     * shape (ndpi_emotet). Either alone weighs nothing. */
    memset(&h, 0, sizeof(h));
    dpi_risk_credit(&h, (1ULL << NDPI_TLS_MISSING_SNI) | (1ULL << NDPI_TLS_NOT_CARRYING_HTTPS));
    CHECK_EQ(h.cls[HOST_RISK_CRYPTO], 1);
    CHECK(behaviour_risk_score(&h) == 0.0);
    memset(&h, 0, sizeof(h));
    dpi_risk_credit(&h, 1ULL << NDPI_TLS_SELFSIGNED_CERTIFICATE);
    CHECK(behaviour_risk_score(&h) == 0.0);
    dpi_risk_credit(&h, (1ULL << NDPI_TLS_MISSING_SNI) | (1ULL << NDPI_TLS_NOT_CARRYING_HTTPS));
    CHECK(behaviour_risk_score(&h) >= 8.0);
    w.risk = h;
    CHECK(!behaviour_risk_attack(&w)); /* a limit's, not the web-attack detector's */
}

/* An IPv4/UDP DNS packet 10.9.0.5:40001 <-> 10.9.0.53:53 for www.example.com: the query,
 * or a reply with one answer of type rtype and rdlen bytes of data. */
static uint32_t dns_packet(uint8_t *p, int reply, uint16_t rtype, uint16_t rdlen)
{
    static const uint8_t qname[] = "\3www\7example\3com";
    uint8_t *d = p + 28;
    uint32_t n = 0;
    memset(p, 0, 28);
    d[0] = 0x12, d[1] = 0x34;
    d[2] = reply ? 0x81 : 0x01, d[3] = reply ? 0x80 : 0x00;
    d[4] = 0, d[5] = 1;             /* one question */
    d[6] = 0, d[7] = reply ? 1 : 0; /* answers */
    d[8] = d[9] = d[10] = d[11] = 0;
    n = 12;
    memcpy(d + n, qname, sizeof(qname)); /* with its terminating 0 */
    n += sizeof(qname);
    d[n++] = 0, d[n++] = 1, d[n++] = 0, d[n++] = 1; /* A, IN */
    if (reply) {
        d[n++] = 0xc0, d[n++] = 12;
        d[n++] = (uint8_t)(rtype >> 8), d[n++] = (uint8_t)rtype;
        d[n++] = 0, d[n++] = 1;
        d[n++] = 0, d[n++] = 0, d[n++] = 0x0e, d[n++] = 0x10;
        d[n++] = (uint8_t)(rdlen >> 8), d[n++] = (uint8_t)rdlen;
        memset(d + n, 7, rdlen);
        n += rdlen;
    }
    uint32_t total = 28 + n;
    static const uint8_t c[4] = {10, 9, 0, 5}, s[4] = {10, 9, 0, 53};
    p[0] = 0x45;
    p[2] = (uint8_t)(total >> 8), p[3] = (uint8_t)total;
    p[8] = 64, p[9] = 17;
    memcpy(p + 12, reply ? s : c, 4);
    memcpy(p + 16, reply ? c : s, 4);
    uint16_t sp = reply ? 53 : 40001, dp = reply ? 40001 : 53;
    p[20] = (uint8_t)(sp >> 8), p[21] = (uint8_t)sp, p[22] = (uint8_t)(dp >> 8),
    p[23] = (uint8_t)dp;
    p[24] = (uint8_t)((8 + n) >> 8), p[25] = (uint8_t)(8 + n);
    return total;
}

/* A DNS query and its reply through dpi.c: the risks at the end of detection. */
static uint64_t dns_flow(uint16_t rtype, uint16_t rdlen, int *st_reply)
{
    char err[TAPIR_ERRBUF_SIZE];
    uint8_t pkt[2048];
    struct dpi_result r;
    memset(&r, 0, sizeof(r));
    dpi_t *d = dpi_create(64, err);
    CHECK(d != NULL);
    if (!d)
        return 0;
    uint32_t slot = dpi_acquire(d);
    int st = dpi_process(d, slot, pkt, dns_packet(pkt, 0, 1, 4), 1000000, &r);
    CHECK_EQ(st, DPI_VERDICT); /* kept for the answer */
    CHECK_EQ(r.app == NDPI_PROTOCOL_DNS || r.master == NDPI_PROTOCOL_DNS, 1);
    *st_reply = dpi_process(d, slot, pkt, dns_packet(pkt, 1, rtype, rdlen), 1010000, &r);
    if (!(*st_reply & DPI_FINAL))
        dpi_giveup(d, slot, &r);
    dpi_release(d, slot);
    dpi_destroy(d);
    return r.risk;
}

/* nDPI need not see a plain reply (dpi.c skips it: nothing it could add weighs), but a
 * reply with what the DNS class is made of still reaches it: an odd record type (iodine's
 * NULL), a reply over 512 bytes. */
TEST(dns_replies_that_matter_reach_ndpi)
{
    int st = -1;
    uint64_t risk = dns_flow(1, 4, &st);
    CHECK_EQ(st, DPI_FINAL); /* the answer ends it, as when nDPI reads it */
    CHECK_EQ((risk >> NDPI_DNS_SUSPICIOUS_TRAFFIC) & 1, 0);
    CHECK_EQ((risk >> NDPI_DNS_LARGE_PACKET) & 1, 0);
    risk = dns_flow(10, 40, &st); /* NULL */
    CHECK_EQ(st, DPI_FINAL);
    CHECK_EQ((risk >> NDPI_DNS_SUSPICIOUS_TRAFFIC) & 1, 1);
    risk = dns_flow(16, 600, &st); /* a TXT answer over 512 bytes */
    CHECK_EQ((risk >> NDPI_DNS_LARGE_PACKET) & 1, 1);
    CHECK_EQ((risk >> NDPI_DNS_SUSPICIOUS_TRAFFIC) & 1, 0);
}

TEST(names_and_severities_from_ndpi)
{
    const char *sev = NULL;
    const char *name = dpi_risk_name(NDPI_URL_POSSIBLE_SQL_INJECTION, &sev);
    CHECK(name && sev);
    if (name && sev) {
        CHECK_STR(name, "SQL Injection");
        CHECK_STR(sev, "Severe");
    }
    CHECK(dpi_risk_name(NDPI_CLEAR_TEXT_CREDENTIALS, &sev) != NULL);
    CHECK(dpi_risk_name(0, &sev) == NULL);
    CHECK(dpi_risk_name(NDPI_MAX_RISK, &sev) == NULL);
    CHECK(dpi_risk_name(63, NULL) == NULL);
}

/* The TLS C2 rule (analyzer/behaviour.c) is one flow's shape: no SNI and a self-signed
 * certificate. The sensor reads certificates only of no-SNI TLS flows and keeps the
 * self-signed bit only beside the missing-SNI one (sensor/dpi.c), so the analyzer's union
 * over a host's flows cannot pair two flows. Fails if either side drifts. */
TEST(tls_c2_rule_and_dissection_agree)
{
    const uint64_t ss = 1ULL << NDPI_TLS_SELFSIGNED_CERTIFICATE, ns = 1ULL << NDPI_TLS_MISSING_SNI;
    CHECK_EQ(dpi_risk_kept(ss), 0);
    CHECK_EQ(dpi_risk_kept(ss | ns), ss | ns);
    CHECK_EQ(dpi_risk_kept(ns), ns);
    CHECK_EQ(dpi_risk_kept(ss | 4), 4);

    /* Two flows of one host, one without SNI, one self-signed: no C2. */
    struct host_risk two;
    memset(&two, 0, sizeof(two));
    dpi_risk_credit(&two, dpi_risk_kept(ns));
    dpi_risk_credit(&two, dpi_risk_kept(ss));
    CHECK(behaviour_risk_score(&two) < 1.0);
    /* One flow with both: C2, past any benign training maximum. */
    struct host_risk one;
    memset(&one, 0, sizeof(one));
    dpi_risk_credit(&one, dpi_risk_kept(ss | ns));
    CHECK(behaviour_risk_score(&one) >= 8.0);

    /* The dissection: a ClientHello with an SNI ends at its verdict (its certificate is
     * never read), one without is kept for the certificate. */
    struct dpi_result r;
    int st = tls_flow("www.example.com", &r);
    CHECK(st & DPI_VERDICT);
    CHECK(st & DPI_FINAL);
    CHECK_EQ(r.master ? r.master : r.app, NDPI_PROTOCOL_TLS);
    CHECK_EQ(r.risk & ns, 0);
    st = tls_flow(NULL, &r);
    CHECK(st & DPI_VERDICT);
    CHECK_EQ(st & DPI_FINAL, 0);
    CHECK(r.risk & ns);
}

int main(void)
{
    RUN(sql_injection_url_is_a_risk_at_the_end);
    RUN(short_pool_does_not_keep_flows_for_risks);
    RUN(risks_fall_into_classes);
    RUN(dns_replies_that_matter_reach_ndpi);
    RUN(names_and_severities_from_ndpi);
    RUN(tls_c2_rule_and_dissection_agree);
    return CHECK_DONE();
}
