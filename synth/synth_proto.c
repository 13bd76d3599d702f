/*
 * synth_proto.c — the bytes `tapir synth` puts on the wire.
 *
 * Every builder writes real protocol bytes (RFC layouts, correct lengths and checksums)
 * so that tshark shows no malformed packet and nDPI recognises DNS, HTTP, TLS and SSH by
 * their payload, not by their port. Random-looking fields (TLS randoms, keys, encrypted
 * records) are pure functions of a salt and a position, so a segment can be rebuilt at
 * any offset without keeping the message in memory: a 2 MB upload costs no buffer.
 * (Rejected: replaying snippets of real captures — licensing, and fixed sizes.)
 */
#include <string.h>

#include "synth_proto.h"
#include "synth_rng.h"

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------- fillers */

void synth_fill_random(uint8_t *out, size_t n, uint64_t salt, uint64_t pos)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t p = pos + i;
        out[i] = (uint8_t)(synth_mix(salt, p >> 3) >> (8 * (p & 7)));
    }
}

void synth_fill_text(uint8_t *out, size_t n, uint64_t salt, uint64_t pos)
{
    static const char alpha[] = "etaoin shrdlu cmfwyp vbgkqj xz ETAOIN SHRDLU,.";
    for (size_t i = 0; i < n; i++) {
        uint64_t p = pos + i, col = p % 72;
        if (col == 70)
            out[i] = '\r';
        else if (col == 71)
            out[i] = '\n';
        else {
            uint8_t r = (uint8_t)(synth_mix(salt, p >> 3) >> (8 * (p & 7)));
            out[i] = (uint8_t)alpha[r % (sizeof(alpha) - 1)];
        }
    }
}

/* ---------------------------------------------------------------- frames */

uint32_t synth_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    while (n > 1) {
        sum += (uint32_t)(p[0] << 8 | p[1]);
        p += 2;
        n -= 2;
    }
    if (n)
        sum += (uint32_t)(p[0] << 8);
    return sum;
}

uint16_t synth_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static bool is_internal(const struct ip_addr *a)
{
    if (ip_addr_is_v4(a))
        return a->b[12] == 10;
    return (a->b[0] & 0xfe) == 0xfc;
}

static void mac_for(uint8_t mac[6], const struct ip_addr *a)
{
    static const uint8_t gateway[6] = {0x02, 0x54, 0x41, 0x50, 0x00, 0x01};
    if (!is_internal(a)) {
        memcpy(mac, gateway, 6);
        return;
    }
    /* A dual-stack host keeps one MAC: derive it from the low 16 bits, which the
     * population gives the same value in both families. */
    uint64_t h = synth_mix(0x7a91, (uint64_t)(a->b[14] << 8 | a->b[15]) |
                                       (ip_addr_is_v4(a) ? (uint64_t)a->b[13] << 16 : 0));
    mac[0] = 0x02;
    mac[1] = 0x54;
    mac[2] = (uint8_t)(h >> 8);
    mac[3] = (uint8_t)(h >> 16);
    mac[4] = a->b[14];
    mac[5] = a->b[15];
}

size_t synth_frame(uint8_t *out, size_t cap, const struct synth_hdr *h, const uint8_t *payload,
                   size_t plen, size_t *ip_len)
{
    bool v4 = ip_addr_is_v4(h->src);
    size_t l4h;
    switch (h->proto) {
    case 6:
        l4h = 20 + h->optlen;
        break;
    case 17:
    case 1:
    case 58:
        l4h = 8;
        break;
    default:
        return 0;
    }
    size_t iph = v4 ? 20 : 40, l4len = l4h + plen, total = 14 + iph + l4len;
    if (total > cap || l4len > 65535 - 40)
        return 0;
    uint8_t smac[6], dmac[6];
    mac_for(smac, h->src);
    mac_for(dmac, h->dst);
    memcpy(out, dmac, 6);
    memcpy(out + 6, smac, 6);
    wr16(out + 12, v4 ? 0x0800 : 0x86dd);
    uint8_t *ip = out + 14, *l4 = ip + iph;

    /* Pseudo-header sum for TCP, UDP and ICMPv6. */
    uint32_t pseudo = 0;
    if (v4) {
        ip[0] = 0x45;
        ip[1] = 0;
        wr16(ip + 2, (uint16_t)(iph + l4len));
        wr16(ip + 4, h->ip_id);
        wr16(ip + 6, h->proto == 6 ? 0x4000 : 0); /* DF on TCP, as stacks do */
        ip[8] = h->ttl;
        ip[9] = h->proto;
        wr16(ip + 10, 0);
        memcpy(ip + 12, h->src->b + 12, 4);
        memcpy(ip + 16, h->dst->b + 12, 4);
        wr16(ip + 10, synth_csum_fold(synth_csum_add(0, ip, 20)));
        pseudo = synth_csum_add(0, ip + 12, 8) + h->proto + (uint32_t)l4len;
    } else {
        wr32(ip, 0x60000000u | (h->flow_label & 0xfffff));
        wr16(ip + 4, (uint16_t)l4len);
        ip[6] = h->proto;
        ip[7] = h->ttl;
        memcpy(ip + 8, h->src->b, 16);
        memcpy(ip + 24, h->dst->b, 16);
        pseudo = synth_csum_add(0, ip + 8, 32) + h->proto + (uint32_t)l4len;
    }

    if (plen)
        memcpy(l4 + l4h, payload, plen);
    size_t csum_at;
    switch (h->proto) {
    case 6:
        wr16(l4, h->sport);
        wr16(l4 + 2, h->dport);
        wr32(l4 + 4, h->seq);
        wr32(l4 + 8, h->ack);
        l4[12] = (uint8_t)((l4h / 4) << 4);
        l4[13] = h->flags;
        wr16(l4 + 14, h->win);
        wr16(l4 + 16, 0);
        wr16(l4 + 18, 0);
        if (h->optlen)
            memcpy(l4 + 20, h->opt, h->optlen);
        csum_at = 16;
        break;
    case 17:
        wr16(l4, h->sport);
        wr16(l4 + 2, h->dport);
        wr16(l4 + 4, (uint16_t)l4len);
        wr16(l4 + 6, 0);
        csum_at = 6;
        break;
    default: /* ICMP, ICMPv6 */
        l4[0] = h->icmp_type;
        l4[1] = h->icmp_code;
        wr16(l4 + 2, 0);
        wr32(l4 + 4, h->icmp_rest);
        csum_at = 2;
        if (h->proto == 1)
            pseudo = 0; /* ICMPv4 has no pseudo-header */
        break;
    }
    uint16_t c = synth_csum_fold(synth_csum_add(pseudo, l4, l4len));
    if (h->proto == 17 && c == 0)
        c = 0xffff;
    wr16(l4 + csum_at, c);
    *ip_len = iph + l4len;
    return total;
}

/* ---------------------------------------------------------------- DNS */

/* Encodes a dotted name as labels; returns bytes written or 0. */
static size_t dns_name(uint8_t *out, size_t cap, const char *name)
{
    size_t o = 0;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63 || o + 1 + l + 1 > cap)
            return 0;
        out[o++] = (uint8_t)l;
        memcpy(out + o, p, l);
        o += l;
        p += l;
        if (*p == '.')
            p++;
    }
    if (o + 1 > cap || o + 1 > 255)
        return 0;
    out[o++] = 0;
    return o;
}

size_t synth_dns_query(uint8_t *out, size_t cap, uint16_t id, const char *name, uint16_t qtype)
{
    if (cap < 12 + 4)
        return 0;
    wr16(out, id);
    wr16(out + 2, 0x0100); /* RD */
    wr16(out + 4, 1);
    wr16(out + 6, 0);
    wr16(out + 8, 0);
    wr16(out + 10, 0);
    size_t n = dns_name(out + 12, cap - 12 - 4, name);
    if (!n)
        return 0;
    size_t o = 12 + n;
    wr16(out + o, qtype);
    wr16(out + o + 2, 1);
    return o + 4;
}

size_t synth_dns_answer(uint8_t *out, size_t cap, const uint8_t *query, size_t qlen, uint16_t rtype,
                        uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
    size_t need = qlen + (rdlen ? 12u + rdlen : 0u);
    if (qlen < 12 || need > cap)
        return 0;
    memcpy(out, query, qlen);
    wr16(out + 2, 0x8180); /* QR, RD, RA, NOERROR */
    wr16(out + 6, rdlen ? 1 : 0);
    if (!rdlen)
        return qlen;
    uint8_t *a = out + qlen;
    wr16(a, 0xc00c); /* pointer to the question's name */
    wr16(a + 2, rtype);
    wr16(a + 4, 1);
    wr32(a + 6, ttl);
    wr16(a + 10, rdlen);
    memcpy(a + 12, rdata, rdlen);
    return need;
}

/* ---------------------------------------------------------------- TLS */

static const uint8_t tls_suites[] = {0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f,
                                     0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x13,
                                     0xc0, 0x14, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35};
static const uint8_t tls_sigalgs[] = {0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03,
                                      0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01};

/* Appends an extension header; returns the new offset. */
static size_t ext(uint8_t *b, size_t o, uint16_t type, uint16_t len)
{
    wr16(b + o, type);
    wr16(b + o + 2, len);
    return o + 4;
}

/* Finishes a hello of o bytes at out + 9: the length of its extensions (which start at
 * ext_len_at), then the record header (a handshake record of version rec_version) and the
 * handshake header of type. Returns the bytes of the whole record. */
static size_t hello_close(uint8_t *out, size_t o, size_t ext_len_at, uint16_t rec_version,
                          uint8_t type)
{
    wr16(out + 9 + ext_len_at, (uint16_t)(o - ext_len_at - 2));
    out[0] = 0x16;
    wr16(out + 1, rec_version);
    wr16(out + 3, (uint16_t)(o + 4));
    out[5] = type;
    wr24(out + 6, (uint32_t)o);
    return 9 + o;
}

size_t synth_tls_client_hello(uint8_t *out, size_t cap, const char *sni, uint64_t salt)
{
    size_t sl = strlen(sni);
    if (sl > 255 || cap < 600 + sl)
        return 0;
    uint8_t *h = out + 9; /* after record (5) and handshake (4) headers */
    size_t o = 0;
    wr16(h, 0x0303);
    o = 2;
    synth_fill_random(h + o, 32, salt, 0); /* random */
    o += 32;
    h[o++] = 32; /* legacy session id, echoed by the server */
    synth_fill_random(h + o, 32, salt, 32);
    o += 32;
    wr16(h + o, sizeof(tls_suites));
    o += 2;
    memcpy(h + o, tls_suites, sizeof(tls_suites));
    o += sizeof(tls_suites);
    h[o++] = 1; /* compression methods: null */
    h[o++] = 0;
    size_t ext_len_at = o;
    o += 2;
    o = ext(h, o, 0x0000, (uint16_t)(sl + 5)); /* server_name */
    wr16(h + o, (uint16_t)(sl + 3));
    h[o + 2] = 0; /* host_name */
    wr16(h + o + 3, (uint16_t)sl);
    memcpy(h + o + 5, sni, sl);
    o += 5 + sl;
    o = ext(h, o, 0x0017, 0); /* extended_master_secret */
    o = ext(h, o, 0xff01, 1); /* renegotiation_info */
    h[o++] = 0;
    o = ext(h, o, 0x000a, 8); /* supported_groups: x25519, secp256r1, secp384r1 */
    wr16(h + o, 6);
    wr16(h + o + 2, 0x001d);
    wr16(h + o + 4, 0x0017);
    wr16(h + o + 6, 0x0018);
    o += 8;
    o = ext(h, o, 0x000b, 2); /* ec_point_formats: uncompressed */
    h[o++] = 1;
    h[o++] = 0;
    o = ext(h, o, 0x0023, 0);  /* session_ticket */
    o = ext(h, o, 0x0010, 14); /* ALPN: h2, http/1.1 */
    wr16(h + o, 12);
    memcpy(h + o + 2, "\x02h2\x08http/1.1", 12);
    o += 14;
    o = ext(h, o, 0x0005, 5); /* status_request: OCSP */
    memcpy(h + o, "\x01\x00\x00\x00\x00", 5);
    o += 5;
    o = ext(h, o, 0x000d, (uint16_t)(2 + sizeof(tls_sigalgs))); /* signature_algorithms */
    wr16(h + o, sizeof(tls_sigalgs));
    memcpy(h + o + 2, tls_sigalgs, sizeof(tls_sigalgs));
    o += 2 + sizeof(tls_sigalgs);
    o = ext(h, o, 0x0012, 0);  /* signed_certificate_timestamp */
    o = ext(h, o, 0x0033, 38); /* key_share: x25519 */
    wr16(h + o, 36);
    wr16(h + o + 2, 0x001d);
    wr16(h + o + 4, 32);
    synth_fill_random(h + o + 6, 32, salt, 64);
    o += 38;
    o = ext(h, o, 0x002d, 2); /* psk_key_exchange_modes: psk_dhe_ke */
    h[o++] = 1;
    h[o++] = 1;
    o = ext(h, o, 0x002b, 5); /* supported_versions: TLS 1.3, 1.2 */
    h[o++] = 4;
    wr16(h + o, 0x0304);
    wr16(h + o + 2, 0x0303);
    o += 4;
    return hello_close(out, o, ext_len_at, 0x0301, 1); /* client_hello */
}

size_t synth_tls_server_hello(uint8_t *out, size_t cap, uint64_t salt)
{
    if (cap < 140)
        return 0;
    uint8_t *h = out + 9;
    size_t o = 0;
    wr16(h, 0x0303);
    o = 2;
    synth_fill_random(h + o, 32, salt, 200); /* server random */
    o += 32;
    h[o++] = 32;
    synth_fill_random(h + o, 32, salt, 32); /* the client's session id */
    o += 32;
    wr16(h + o, 0x1301); /* TLS_AES_128_GCM_SHA256 */
    o += 2;
    h[o++] = 0;
    size_t ext_len_at = o;
    o += 2;
    o = ext(h, o, 0x002b, 2);
    wr16(h + o, 0x0304);
    o += 2;
    o = ext(h, o, 0x0033, 36);
    wr16(h + o, 0x001d);
    wr16(h + o + 2, 32);
    synth_fill_random(h + o + 4, 32, salt, 232);
    o += 36;
    size_t n = hello_close(out, o, ext_len_at, 0x0303, 2); /* server_hello */
    memcpy(out + n, "\x14\x03\x03\x00\x01\x01", 6);        /* change_cipher_spec */
    return n + 6;
}

/* ---------------------------------------------------------------- SSH */

static size_t put_str(uint8_t *b, const void *s, size_t n)
{
    wr32(b, (uint32_t)n);
    memcpy(b + 4, s, n);
    return 4 + n;
}

static size_t put_cstr(uint8_t *b, const char *s)
{
    return put_str(b, s, strlen(s));
}

/* Wraps payload (already at out + 5) into a binary packet: length, padding length,
 * payload, random padding to a multiple of 8 with at least 4 bytes. */
static size_t ssh_packet(uint8_t *out, size_t cap, size_t plen, uint64_t salt)
{
    size_t pad = 8 - ((5 + plen) % 8);
    if (pad < 4)
        pad += 8;
    size_t total = 5 + plen + pad;
    if (total > cap)
        return 0;
    wr32(out, (uint32_t)(1 + plen + pad));
    out[4] = (uint8_t)pad;
    synth_fill_random(out + 5 + plen, pad, salt, 1000);
    return total;
}

size_t synth_ssh_kexinit(uint8_t *out, size_t cap, bool server, uint64_t salt)
{
    static const char *client_lists[10] = {
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
        "diffie-hellman-group16-sha512,diffie-hellman-group14-sha256,ext-info-c",
        "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,"
        "rsa-sha2-256,ssh-rsa",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
        "aes128-gcm@openssh.com,aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
        "aes128-gcm@openssh.com,aes256-gcm@openssh.com",
        "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
        "hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512",
        "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
        "hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512",
        "none,zlib@openssh.com",
        "none,zlib@openssh.com",
        "",
        ""};
    static const char *server_lists[2] = {
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
        "diffie-hellman-group16-sha512,diffie-hellman-group14-sha256",
        "rsa-sha2-512,rsa-sha2-256,ssh-rsa,ecdsa-sha2-nistp256,ssh-ed25519"};
    if (cap < 1200)
        return 0;
    uint8_t *p = out + 5;
    size_t o = 0;
    p[o++] = 20;                                              /* SSH_MSG_KEXINIT */
    synth_fill_random(p + o, 16, salt, server ? 2000 : 3000); /* cookie */
    o += 16;
    for (int i = 0; i < 10; i++)
        o += put_cstr(p + o, server && i < 2 ? server_lists[i] : client_lists[i]);
    p[o++] = 0;     /* first_kex_packet_follows */
    wr32(p + o, 0); /* reserved */
    o += 4;
    return ssh_packet(out, cap, o, salt ^ (server ? 1 : 2));
}

size_t synth_ssh_ecdh_init(uint8_t *out, size_t cap, uint64_t salt)
{
    if (cap < 64)
        return 0;
    uint8_t *p = out + 5;
    uint8_t q[32];
    synth_fill_random(q, 32, salt, 4000);
    p[0] = 30; /* SSH_MSG_KEX_ECDH_INIT */
    size_t o = 1 + put_str(p + 1, q, 32);
    return ssh_packet(out, cap, o, salt ^ 3);
}

size_t synth_ssh_ecdh_reply(uint8_t *out, size_t cap, uint64_t salt)
{
    if (cap < 900)
        return 0;
    /* RSA host key and signature: the one kind tshark 4.0 decodes without a warning.
     * host key: string "ssh-rsa", mpint e, mpint n (2048 bits) */
    uint8_t blob[300], n257[257], q[32];
    size_t o, b;
    n257[0] = 0;
    synth_fill_random(n257 + 1, 256, salt, 5000);
    n257[1] |= 0x80;
    n257[256] |= 1;
    b = put_cstr(blob, "ssh-rsa");
    b += put_str(blob + b, "\x01\x00\x01", 3);
    b += put_str(blob + b, n257, 257);
    uint8_t *p = out + 5;
    p[0] = 31; /* SSH_MSG_KEX_ECDH_REPLY */
    o = 1 + put_str(p + 1, blob, b);
    synth_fill_random(q, 32, salt, 5100); /* server's ephemeral x25519 key */
    o += put_str(p + o, q, 32);
    /* signature: string "ssh-rsa", string s (256 bytes) */
    b = put_cstr(blob, "ssh-rsa");
    synth_fill_random(n257, 256, salt, 5200);
    b += put_str(blob + b, n257, 256);
    o += put_str(p + o, blob, b);
    size_t n = ssh_packet(out, cap, o, salt ^ 4);
    if (!n)
        return 0;
    size_t m = synth_ssh_newkeys(out + n, cap - n, salt ^ 5);
    return m ? n + m : 0;
}

size_t synth_ssh_newkeys(uint8_t *out, size_t cap, uint64_t salt)
{
    if (cap < 16)
        return 0;
    out[5] = 21; /* SSH_MSG_NEWKEYS */
    return ssh_packet(out, cap, 1, salt ^ 6);
}

/* ---------------------------------------------------------------- NTP */

static void ntp_ts(uint8_t *p, uint64_t us)
{
    uint64_t sec = us / 1000000 + 2208988800ULL;
    uint64_t frac = ((us % 1000000) << 32) / 1000000;
    wr32(p, (uint32_t)sec);
    wr32(p + 4, (uint32_t)frac);
}

size_t synth_ntp(uint8_t *out, size_t cap, int mode, uint64_t xmit_us, uint64_t orig_us)
{
    if (cap < 48)
        return 0;
    memset(out, 0, 48);
    out[0] = (uint8_t)((4 << 3) | (mode & 7)); /* LI 0, VN 4 */
    if (mode == 4) {
        out[1] = 2;                              /* stratum */
        out[2] = 6;                              /* poll */
        out[3] = 0xe9;                           /* precision 2^-23 */
        wr32(out + 4, 0x00000210);               /* root delay */
        wr32(out + 8, 0x00000340);               /* root dispersion */
        memcpy(out + 12, "\xc0\xa8\x01\x01", 4); /* reference id: upstream */
        ntp_ts(out + 16, xmit_us - 32000000);    /* reference */
        ntp_ts(out + 24, orig_us);               /* origin: the client's transmit */
        ntp_ts(out + 32, xmit_us - 40);          /* receive */
    } else {
        out[2] = 6;
        out[3] = 0xe9;
    }
    ntp_ts(out + 40, xmit_us);
    return 48;
}
