/*
 * dpi.c — nDPI detection states from a fixed pool.
 *
 * nDPI 4.2's struct ndpi_flow_struct is 688 bytes; keeping one per tracked flow would
 * cost 688 MB at a million flows, most of them scans. The pool (default 65,536 states,
 * 45 MB, touched only as used) is allocated once; ndpi_free_flow_data() releases the
 * few buffers nDPI allocates inside a state when it goes back.
 *
 * Risks: nDPI sets most of a flow's risk bits while it dissects, some only in the
 * packets after the verdict (the certificate after a TLS ClientHello, the HTTP response,
 * the DNS answer, SSH's key exchange), so a detected flow keeps its state while
 * ndpi_extra_dissection_possible() says so, inside the same DPI_MAX_PACKETS payload
 * packets (the capture thread and the DPI worker then see the same packets as before,
 * and stay identical). nDPI 4.2 never checks a URL for injections itself (ndpiReader
 * does, with ndpi_validate_url, when it prints a flow); we do the same once per HTTP
 * flow, when its detection ends. Cost: about 1.75x the nDPI calls (pcaps/mixed.pcap: 2,307 ->
 * 4,016; ndpi_1kxun.pcap: 227 -> 400), and states held a few packets longer. Rejected: a larger cap
 * for the extra packets, which would copy more packets of every flow to the DPI thread (the capture
 * thread cannot know when nDPI is done), for little: the cap cuts 4.5% of the flows kept for risks
 * on pcaps/baseline.pcap (56 of 1,251), 5 of 97 on ndpi_1kxun.pcap (docs/detection.md). A held
 * state is a state a new flow cannot have, so flows are kept only while the pool is not short
 * (DPI_POOL_RESERVE): with a pool of one state, pcaps/mixed.pcap classified 748 flows instead of
 * 1,871 without it.
 *
 * Only what the analyzer weighs is worth those packets (issue 10's replay speed: the extra
 * dissection was 813 instructions a packet of a 1 M-packet synthetic replay, cachegrind). A
 * flow is kept past its verdict only for a protocol whose later packets can raise a risk the
 * analyzer weighs (risks_weighed_later: HTTP, DNS, the certificate of a TLS flow that named no
 * server, the clear-text logins;
 * not SSH, QUIC), and a DNS reply that could add nothing weighed is not shown to nDPI
 * (dns_reply_plain: 343 instructions a packet less on the synthetic replay). Rejected: a
 * packet cap per flow for the extra packets (it cuts HTTP responses, certificates and logins,
 * the packets that matter, as readily as the rest).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include "dpi.h"
#include "tapir.h"

/* A detected flow keeps its state for its risks only while more than 1/DPI_POOL_RESERVE
 * of the pool is free: a flood of flows that never finish (DNS queries nothing answers,
 * one-packet TLS hellos) would otherwise hold states until their idle timeout and leave
 * new flows unclassified. */
#define DPI_POOL_RESERVE 8

struct dpi {
    struct ndpi_detection_module_struct *mod;
    uint8_t *states; /* pool_size x state_size bytes */
    size_t state_size;
    uint32_t *free_stack;
    uint32_t n_free;
    uint8_t *verdict; /* per slot: 1 once the flow's protocol was given */
    struct dpi_stats st;
};

dpi_t *dpi_create(uint32_t pool_size, char *errbuf)
{
    if (pool_size < 1 || pool_size > (1u << 24)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "DPI pool size %u out of range (1 .. 16777216)",
                 pool_size);
        return NULL;
    }
    dpi_t *d = calloc(1, sizeof(*d));
    if (!d)
        goto fail;
    d->mod = ndpi_init_detection_module(ndpi_no_prefs);
    if (!d->mod) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "nDPI initialisation failed");
        dpi_destroy(d);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(d->mod, &all);
    ndpi_finalize_initialization(d->mod);
    d->state_size = (ndpi_detection_get_sizeof_ndpi_flow_struct() + 15) & ~(size_t)15;
    d->states = calloc(pool_size, d->state_size);
    d->free_stack = malloc(pool_size * sizeof(uint32_t));
    d->verdict = calloc(pool_size, 1);
    if (!d->states || !d->free_stack || !d->verdict)
        goto fail;
    for (uint32_t i = 0; i < pool_size; i++)
        d->free_stack[i] = pool_size - i; /* pop gives 1, 2, ...: pages touched in order */
    d->n_free = pool_size;
    d->st.pool_size = pool_size;
    return d;
fail:
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot allocate %u DPI states", pool_size);
    dpi_destroy(d);
    return NULL;
}

void dpi_destroy(dpi_t *d)
{
    if (!d)
        return;
    if (d->states) /* states still held keep nDPI buffers: free them */
        for (uint64_t i = 0; i < d->st.pool_size; i++)
            ndpi_free_flow_data((struct ndpi_flow_struct *)(d->states + i * d->state_size));
    if (d->mod)
        ndpi_exit_detection_module(d->mod);
    free(d->states);
    free(d->free_stack);
    free(d->verdict);
    free(d);
}

static struct ndpi_flow_struct *state(dpi_t *d, uint32_t slot)
{
    return (struct ndpi_flow_struct *)(d->states + (size_t)(slot - 1) * d->state_size);
}

uint32_t dpi_acquire(dpi_t *d)
{
    if (!d->n_free) {
        d->st.pool_empty++;
        return 0;
    }
    uint32_t slot = d->free_stack[--d->n_free];
    memset(state(d, slot), 0, d->state_size);
    d->verdict[slot - 1] = 0;
    d->st.in_use++;
    return slot;
}

static void fill(dpi_t *d, uint32_t slot, ndpi_protocol p, struct dpi_result *out)
{
    out->app = p.app_protocol;
    out->master = p.master_protocol;
    const char *n = state(d, slot)->host_server_name;
    size_t i = 0;
    for (; i + 1 < sizeof(out->name) && n[i]; i++)
        out->name[i] = (n[i] >= 0x20 && n[i] < 0x7f) ? n[i] : '?';
    out->name[i] = '\0';
}

uint64_t dpi_risk_kept(uint64_t risk)
{
    if (!(risk & (1ULL << NDPI_TLS_MISSING_SNI)))
        risk &= ~(1ULL << NDPI_TLS_SELFSIGNED_CERTIFICATE);
    return risk;
}

/* Detection is over: the flow's risks, the URL checked as ndpiReader does. */
static int finish(dpi_t *d, uint32_t slot, struct dpi_result *out)
{
    struct ndpi_flow_struct *f = state(d, slot);
    uint64_t risk = f->risk;
    if (f->http.url && f->http.url[0]) {
        ndpi_risk_enum r = ndpi_validate_url(f->http.url);
        if (r > NDPI_NO_RISK && r < NDPI_MAX_RISK)
            risk |= 1ULL << r;
    }
    out->risk = dpi_risk_kept(risk & ~1ULL); /* bit 0 is NDPI_NO_RISK */
    if (out->risk)
        d->st.risky++;
    return DPI_FINAL;
}

/* Protocols whose packets after the verdict can still raise a risk the analyzer weighs
 * (analyzer/behaviour.c: the injection, web, DNS and credential classes, and the TLS C2
 * rule's self-signed certificate): HTTP (the response: suspicious content, binary
 * transfer, headers; basic auth), DNS and its relatives (the answer: large, fragmented,
 * odd record types), TLS and DTLS whose ClientHello named no server (NDPI_TLS_MISSING_SNI
 * at the verdict: the certificate, for the TLS C2 rule, which weighs a self-signed one
 * only on such a flow; nDPI stops at it, or at the ServerHello of TLS 1.3), the
 * clear-text logins (POP, SMTP, IMAP, telnet, FTP). A TLS flow that named its server ends
 * at the verdict: its certificate's risks weigh 0 (crypto class), and dpi_risk_kept drops
 * a self-signed bit nDPI might still give it (a capture that starts at the certificate), so
 * the rule and this dissection agree by construction (tests/unit/test_risk.c). SSH,
 * QUIC, Kerberos and the rest raise crypto or other risks after their verdict (versions,
 * ciphers), which weigh 0: those flows end at the verdict, as before risks were read. On
 * the synthetic replay (1 M packets) SSH's key exchange was 78 of the 813 instructions a
 * packet of extra dissection, the certificates of TLS flows with an SNI about 320 (session
 * 6, cachegrind). Cost: those risk names no longer reach an alert's `risks`, which lists
 * them only when a weighed risk put risk_score among the top features. */
static bool risks_weighed_later(ndpi_protocol p, const struct ndpi_flow_struct *f)
{
    uint16_t ids[2] = {p.master_protocol, p.app_protocol};
    for (int i = 0; i < 2; i++)
        switch (ids[i]) {
        case NDPI_PROTOCOL_TLS: /* the certificate: self-signed, for the TLS C2 rule */
        case NDPI_PROTOCOL_DTLS:
            if (f->risk & (1ULL << NDPI_TLS_MISSING_SNI))
                return true;
            break;
        case NDPI_PROTOCOL_HTTP:
        case NDPI_PROTOCOL_HTTP_CONNECT:
        case NDPI_PROTOCOL_HTTP_PROXY:
        case NDPI_PROTOCOL_DNS:
        case NDPI_PROTOCOL_MDNS:
        case NDPI_PROTOCOL_LLMNR:
        case NDPI_PROTOCOL_MAIL_POP:
        case NDPI_PROTOCOL_MAIL_SMTP:
        case NDPI_PROTOCOL_MAIL_IMAP:
        case NDPI_PROTOCOL_TELNET:
        case NDPI_PROTOCOL_FTP_CONTROL:
            return true;
        default:
            break;
        }
    return false;
}

/* After the verdict, nDPI 4.2 dissects a packet only through the flow's extra-packet
 * function (until it clears it, or after max_extra_packets_to_check): without one a
 * packet teaches it nothing, whatever ndpi_extra_dissection_possible() says (IMAP before
 * a login, HTTP once it has the Host line, DNS after 5 packets without an answer). */
static bool wants_more(dpi_t *d, struct ndpi_flow_struct *f)
{
    return f->check_extra_packets && f->extra_packets_func &&
           ndpi_extra_dissection_possible(d->mod, f);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static bool is_dns(const struct ndpi_flow_struct *f)
{
    for (int i = 0; i < 2; i++)
        if (f->detected_protocol_stack[i] == NDPI_PROTOCOL_DNS ||
            f->detected_protocol_stack[i] == NDPI_PROTOCOL_MDNS ||
            f->detected_protocol_stack[i] == NDPI_PROTOCOL_LLMNR)
            return true;
    return false;
}

/* nDPI 4.2's dns.c: answer record types it calls DNS_SUSPICIOUS_TRAFFIC (obsolete,
 * experimental, or a tunnel's: NULL is iodine's). */
static bool dns_type_suspicious(uint16_t t)
{
    switch (t) {
    case 3:
    case 4:
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
    case 13:
    case 14:
    case 17:
    case 19:
    case 20:
    case 21:
    case 22:
    case 23:
    case 24:
    case 25:
    case 26:
    case 27:
    case 30:
    case 31:
    case 32:
    case 33:
    case 34:
    case 38:
    case 40:
    case 42:
    case 56:
    case 57:
    case 58:
    case 99:
    case 100:
    case 101:
    case 102:
    case 103:
    case 104:
    case 105:
    case 106:
    case 107:
    case 253:
    case 254:
    case 259:
        return true;
    default:
        return false;
    }
}

/* How dns.c spells a question's byte in the name it checks: letters lowered, digits, '-'
 * and '_' kept, other printable characters '_', the rest '?'. */
static const char dns_spelling[257] = "????????????????"
                                      "????????????????"
                                      "_____________-__"
                                      "0123456789______"
                                      "_abcdefghijklmno"
                                      "pqrstuvwxyz_____"
                                      "_abcdefghijklmno"
                                      "pqrstuvwxyz____?"
                                      "????????????????"
                                      "????????????????"
                                      "????????????????"
                                      "????????????????"
                                      "????????????????"
                                      "????????????????"
                                      "????????????????"
                                      "????????????????";

/* dns.c's getNameLength(), as it counts (a 0xC0 pointer is 2, other pointers are labels). */
static uint32_t dns_name_len(uint32_t i, const uint8_t *p, uint32_t n)
{
    uint32_t total = 0;
    for (;;) {
        if (i >= n)
            return total;
        if (p[i] == 0x00)
            return total + 1;
        if (p[i] == 0xC0)
            return total + 2;
        uint8_t off = (uint8_t)(p[i] + 1);
        if (off == 0)
            return total;
        total += off;
        i += off;
    }
}

/* A later packet of a DNS flow kept for its answer: true when nDPI 4.2 (dns.c, run on it
 * as an extra packet) could raise no risk of a class the analyzer weighs, so it need not
 * see it; f then holds what dns.c would have noted of it. Such a packet is a UDP reply, not
 * fragmented, of at most 512 bytes (else DNS_FRAGMENTED, DNS_LARGE_PACKET), whose answer records,
 * walked as dns.c walks them, have no odd type (DNS_SUSPICIOUS_TRAFFIC), and whose question,
 * spelled as dns.c spells it, is the query's name nDPI already checked (the DGA and risky-domain
 * checks repeat on it). Anything else goes to nDPI: a query, TCP, another name. What a
 * plain reply would still add weighs 0 (malformed, invalid characters). On the synthetic replay the
 * replies were 361 instructions a packet: nDPI matches the name against its host lists and reruns
 * the DGA check for each. */
static bool dns_reply_plain(struct ndpi_flow_struct *f, const uint8_t *l3, uint32_t len)
{
    const uint8_t *p;
    uint32_t n;
    if (len >= 28 && l3[0] >> 4 == 4) {
        uint32_t ihl = (l3[0] & 0x0fu) * 4u, tot = be16(l3 + 2);
        if (ihl < 20 || l3[9] != 17 || (l3[6] & 0x3f) || l3[7] || tot > len || tot < ihl + 8)
            return false;
        p = l3 + ihl + 8;
        n = tot - ihl - 8;
    } else if (len >= 48 && l3[0] >> 4 == 6) {
        uint32_t pl = be16(l3 + 4);
        if (l3[6] != 17 || 40 + pl > len || pl < 8)
            return false;
        p = l3 + 48;
        n = pl - 8;
    } else {
        return false;
    }
    if (n > 512)
        return false;
    if (n <= 12)
        return true; /* too short for dns.c to read */
    if (!(be16(p + 2) & 0x8000))
        return false; /* a query: nDPI reads its name afresh */
    /* The question's name as dns.c spells it (ndpi_search_dns). */
    char name[256];
    uint32_t j = 0, off = 12;
    while (j < 255 && off < n && p[off] != 0) {
        uint8_t cl = p[off++];
        if ((cl & 0xc0) || off + cl >= n) {
            j = 0;
            break;
        }
        if (j && j < 255)
            name[j++] = '.';
        for (; j < 255 && cl; cl--)
            name[j++] = dns_spelling[p[off++]];
    }
    if (j > 0) {
        /* nDPI keeps the name's last 79 characters (ndpi_hostname_sni_set) and checks those */
        uint32_t keep = (uint32_t)sizeof(f->host_server_name) - 1, k = j < keep ? j : keep;
        if (memcmp(name + (j - k), f->host_server_name, k) || f->host_server_name[k] != '\0')
            return false;
    }
    /* What dns.c keeps of a reply on its ports: ndpi_extra_dissection_possible() reads
     * num_answers (a DNS flow is done once it is not 0). If nDPI sees the packet after
     * all (an odd record below), it writes the same. */
    uint32_t qd = be16(p + 4), an = be16(p + 6), ns = be16(p + 8), ar = be16(p + 10);
    uint16_t sport = be16(p - 8), dport = be16(p - 6);
    if (sport == 53 || dport == 53 || sport == 5353 || dport == 5353 || dport == 5355) {
        f->protos.dns.is_query = 0;
        f->protos.dns.reply_code = (uint8_t)(be16(p + 2) & 0x0f);
        f->protos.dns.num_queries = (uint8_t)qd;
        f->protos.dns.num_answers = (uint8_t)(an + ns + ar);
    }
    /* The answers, walked as dns.c's search_valid_dns() walks them. */
    bool good = qd > 0 && qd <= 16 &&
                ((an > 0 && an <= 16) || (ns > 0 && ns <= 16) || (ar > 0 && ar <= 16));
    if (!good || an == 0)
        return true;
    uint32_t x = 13;
    if (x < n && p[x] != 0) {
        while (x < n && p[x] != 0)
            x++;
        x++;
    }
    x += 4;
    for (uint32_t k = 0; k < an; k++) {
        if (x + 6 >= n)
            break;
        uint32_t nl = dns_name_len(x, p, n);
        if (nl == 0)
            break;
        x += nl;
        if (x + 2 >= n)
            break;
        uint16_t type = be16(p + x);
        x += 2;
        if (dns_type_suspicious(type))
            return false;
        if (x + 12 > n)
            break;
        x += 6;
        uint32_t dl = be16(p + x);
        x += 2;
        if (x + dl > n || type != 5)
            break;
        x += dl; /* a CNAME: dns.c reads the next record */
    }
    return true;
}

int dpi_process(dpi_t *d, uint32_t slot, const uint8_t *l3, uint32_t len, uint64_t ts_us,
                struct dpi_result *out)
{
    if (len > 0xffff)
        len = 0xffff;
    struct ndpi_flow_struct *f = state(d, slot);
    /* A DNS flow held for its answer: a plain reply teaches nDPI nothing we weigh. It is
     * counted as ndpi_process_extra_packet() would count it, so the flow ends on the same
     * packet as before (its risks credited in the same window). */
    if (d->verdict[slot - 1] && is_dns(f) && dns_reply_plain(f, l3, len)) {
        f->num_processed_pkts++;
        if (f->extra_packets_func &&
            ++f->num_extra_packets_checked == f->max_extra_packets_to_check)
            f->extra_packets_func = NULL;
        return wants_more(d, f) ? 0 : finish(d, slot, out);
    }
    ndpi_protocol p =
        ndpi_detection_process_packet(d->mod, f, l3, (unsigned short)len, ts_us / 1000);
    int st = 0;
    if (!d->verdict[slot - 1]) {
        if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN && p.master_protocol == NDPI_PROTOCOL_UNKNOWN)
            return 0;
        fill(d, slot, p, out);
        d->verdict[slot - 1] = 1;
        d->st.detected++;
        st = DPI_VERDICT;
        if (risks_weighed_later(p, f) && wants_more(d, f)) {
            /* Classifying new flows comes first: a flow is kept for its risks only
             * while more than 1/8 of the pool is free (DPI_POOL_RESERVE). */
            if (d->n_free > d->st.pool_size / DPI_POOL_RESERVE) {
                d->st.extra++;
                return st;
            }
            d->st.extra_skipped++;
        }
    } else if (wants_more(d, f)) {
        return 0;
    }
    return st | finish(d, slot, out);
}

int dpi_giveup(dpi_t *d, uint32_t slot, struct dpi_result *out)
{
    if (d->verdict[slot - 1]) {
        d->st.extra_cut++; /* only a flow nDPI still wanted packets for is left undone */
        return finish(d, slot, out);
    }
    uint8_t guessed = 0;
    ndpi_protocol p = ndpi_detection_giveup(d->mod, state(d, slot), 1, &guessed);
    fill(d, slot, p, out);
    d->verdict[slot - 1] = 1;
    d->st.gave_up++;
    return DPI_VERDICT | finish(d, slot, out);
}

void dpi_release(dpi_t *d, uint32_t slot)
{
    ndpi_free_flow_data(state(d, slot));
    memset(state(d, slot), 0, d->state_size);
    d->free_stack[d->n_free++] = slot;
    d->st.in_use--;
}

const char *dpi_proto_name(dpi_t *d, uint16_t master, uint16_t app, char *buf, int len)
{
    ndpi_protocol p = {master, app, 0};
    if (master == 0 && app == 0) {
        snprintf(buf, (size_t)len, "Unknown");
        return buf;
    }
    return ndpi_protocol2name(d->mod, p, buf, (u_int)len);
}

const char *dpi_id_name(dpi_t *d, uint16_t id)
{
    return ndpi_get_proto_name(d->mod, id);
}

/* Risk id -> class. Sorted by what a risk says about the host that started the flow;
 * weights per class are the analyzer's (behaviour.c). */
static enum host_risk_class risk_class(unsigned id)
{
    _Static_assert(HOST_RISK_ID_TLS_SELFSIGNED == NDPI_TLS_SELFSIGNED_CERTIFICATE &&
                       HOST_RISK_ID_TLS_MISSING_SNI == NDPI_TLS_MISSING_SNI,
                   "window.h's risk ids follow nDPI's");
    switch (id) {
    case NDPI_URL_POSSIBLE_XSS:
    case NDPI_URL_POSSIBLE_SQL_INJECTION:
    case NDPI_URL_POSSIBLE_RCE_INJECTION:
    case NDPI_POSSIBLE_EXPLOIT:
        return HOST_RISK_INJECTION;
    case NDPI_HTTP_SUSPICIOUS_USER_AGENT:
    case NDPI_HTTP_SUSPICIOUS_URL:
    case NDPI_HTTP_SUSPICIOUS_HEADER:
    case NDPI_HTTP_SUSPICIOUS_CONTENT:
    case NDPI_BINARY_APPLICATION_TRANSFER:
        return HOST_RISK_WEB;
    case NDPI_SUSPICIOUS_DGA_DOMAIN:
    case NDPI_DNS_SUSPICIOUS_TRAFFIC:
    case NDPI_DNS_LARGE_PACKET:
    case NDPI_DNS_FRAGMENTED:
    case NDPI_RISKY_DOMAIN:
        return HOST_RISK_DNS;
    case NDPI_TLS_SELFSIGNED_CERTIFICATE:
    case NDPI_TLS_OBSOLETE_VERSION:
    case NDPI_TLS_WEAK_CIPHER:
    case NDPI_TLS_CERTIFICATE_EXPIRED:
    case NDPI_TLS_CERTIFICATE_MISMATCH:
    case NDPI_TLS_NOT_CARRYING_HTTPS:
    case NDPI_TLS_SUSPICIOUS_ESNI_USAGE:
    case NDPI_TLS_MISSING_SNI:
    case NDPI_MALICIOUS_JA3:
    case NDPI_MALICIOUS_SHA1_CERTIFICATE:
    case NDPI_TLS_UNCOMMON_ALPN:
    case NDPI_TLS_CERT_VALIDITY_TOO_LONG:
    case NDPI_TLS_SUSPICIOUS_EXTENSION:
    case NDPI_TLS_FATAL_ALERT:
    case NDPI_TLS_CERTIFICATE_ABOUT_TO_EXPIRE:
    case NDPI_SSH_OBSOLETE_CLIENT_VERSION_OR_CIPHER:
    case NDPI_SSH_OBSOLETE_SERVER_VERSION_OR_CIPHER:
        return HOST_RISK_CRYPTO;
    case NDPI_CLEAR_TEXT_CREDENTIALS:
        return HOST_RISK_CREDENTIALS;
    default:
        return HOST_RISK_OTHER;
    }
}

void dpi_risk_credit(struct host_risk *acc, uint64_t risk)
{
    if (!risk)
        return;
    acc->seen |= risk;
    acc->flows++;
    unsigned classes = 0;
    for (uint64_t r = risk; r; r &= r - 1)
        classes |= 1u << risk_class((unsigned)__builtin_ctzll(r));
    for (int c = 0; c < HOST_RISK_CLASSES; c++)
        if (classes & (1u << c))
            acc->cls[c]++;
}

const char *dpi_risk_name(unsigned id, const char **severity)
{
    if (id == NDPI_NO_RISK || id >= NDPI_MAX_RISK)
        return NULL; /* ndpi_risk2str would write a shared static buffer */
    ndpi_risk_info *ri = ndpi_risk2severity((ndpi_risk_enum)id);
    if (severity)
        *severity = ri ? ndpi_severity2str(ri->severity) : "";
    return ndpi_risk2str((ndpi_risk_enum)id);
}

void dpi_stats(const dpi_t *d, struct dpi_stats *st)
{
    *st = d->st;
}
