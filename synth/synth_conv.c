/*
 * synth_conv.c — conversations: what two hosts say to each other, packet by packet.
 *
 * A TCP conversation is a script of messages (plan: message i of the session's script,
 * drawn as it is needed) played by one state machine that does the handshake, segments
 * each message at the MSS, acknowledges every second segment, paces bulk transfers at the
 * client's bandwidth and closes with FINs or a RST. A message's bytes are rebuilt from the
 * session's salt at any offset (msg_bytes), so a 2 MB upload needs no buffer. DNS, NTP and
 * ping are two-packet exchanges, the lookup with an upstream query on a cache miss.
 * (Rejected: one hand-written state machine per protocol — eight copies of the same TCP
 * handshake, segmentation and close, which would drift apart.)
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "synth_conv.h"
#include "synth_engine.h"
#include "synth_population.h"
#include "synth_proto.h"
#include "synth_rng.h"

/* ================================================================ TCP conversations */

enum mkind {
    MK_TEXT,
    MK_TEXT_BODY,
    MK_HTTP_REQ,
    MK_HTTP_RESP,
    MK_TLS_CH,
    MK_TLS_SH,
    MK_TLS_CFIN,
    MK_TLS_DATA,
    MK_SSH_KEX,
    MK_SSH_ECDH_I,
    MK_SSH_ECDH_R,
    MK_SSH_NEWKEYS,
    MK_SSH_ENC
};

enum tstate { TS_SYN, TS_SYNACK, TS_ACK3, TS_MSG, TS_ACK, TS_FIN1, TS_FIN2, TS_FIN3 };

static const char *const http_paths[] = {"/",
                                         "/index.html",
                                         "/news/latest",
                                         "/static/app.js",
                                         "/api/v1/status",
                                         "/images/logo.png",
                                         "/search?q=weather",
                                         "/wiki/Tapir",
                                         "/debian/dists/bookworm/InRelease",
                                         "/favicon.ico",
                                         "/login",
                                         "/assets/style.css"};
#define N_PATHS (sizeof(http_paths) / sizeof(http_paths[0]))

static const char *const user_agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"};

static const char *const ssh_client_banners[] = {"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2",
                                                 "SSH-2.0-OpenSSH_for_Windows_8.6",
                                                 "SSH-2.0-OpenSSH_9.4",
                                                 "SSH-2.0-libssh_0.9.6",
                                                 "SSH-2.0-Go",
                                                 "SSH-2.0-PUTTY"};

enum text_id {
    TX_SSH_C,
    TX_SSH_S,
    TX_FTP_220,
    TX_FTP_USER,
    TX_FTP_331,
    TX_FTP_PASS,
    TX_FTP_230,
    TX_FTP_530,
    TX_FTP_SYST,
    TX_FTP_215,
    TX_FTP_QUIT,
    TX_FTP_221,
    TX_SMTP_220,
    TX_SMTP_EHLO,
    TX_SMTP_250EHLO,
    TX_SMTP_MAIL,
    TX_SMTP_250,
    TX_SMTP_RCPT,
    TX_SMTP_DATA,
    TX_SMTP_354,
    TX_SMTP_DOT,
    TX_SMTP_QUEUED,
    TX_SMTP_QUIT,
    TX_SMTP_221,
    TX_IMAP_OK,
    TX_IMAP_CAP,
    TX_IMAP_CAPR,
    TX_IMAP_LOGIN,
    TX_IMAP_LOGINOK,
    TX_IMAP_SELECT,
    TX_IMAP_SELECTR,
    TX_IMAP_NOOP,
    TX_IMAP_NOOPR,
    TX_IMAP_LOGOUT,
    TX_IMAP_BYE
};

static const char *const ftp_users[] = {"admin", "root",   "test",   "ftp",
                                        "user",  "backup", "oracle", "guest"};
static const char *const ftp_passwords[] = {"123456",  "password", "admin",    "qwerty",
                                            "letmein", "changeme", "1q2w3e4r", "root"};

/* The templated head of a message (everything but its filler body). */
static size_t msg_head(struct gen *g, const struct sess *s, const struct tmsg *m, uint8_t *b,
                       size_t cap)
{
    int n = 0;
    char date[40];
    (void)g;
    switch (m->kind) {
    case MK_TEXT_BODY:
        n = snprintf((char *)b, cap,
                     "From: %s\r\nTo: bob@corp.example\r\nSubject: Report %u\r\n"
                     "Message-ID: <%016" PRIx64 "@example.net>\r\n"
                     "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
                     s->a1 ? "newsletter@example.net" : "alice@corp.example", s->a2 % 1000,
                     s->salt);
        break;
    case MK_TEXT:
        switch (m->aux) {
        case TX_SSH_C:
            n = snprintf((char *)b, cap, "%s\r\n", ssh_client_banners[s->a1 % 6]);
            break;
        case TX_SSH_S:
            n = snprintf((char *)b, cap, "SSH-2.0-OpenSSH_%s\r\n",
                         s->a2 & 1 ? "8.9p1 Ubuntu-3ubuntu0.6" : "9.2p1 Debian-2+deb12u2");
            break;
        case TX_FTP_220:
            n = snprintf((char *)b, cap, "220 (vsFTPd 3.0.3)\r\n");
            break;
        case TX_FTP_USER:
            n = snprintf((char *)b, cap, "USER %s\r\n",
                         s->a3 ? ftp_users[(s->j + s->a1) % 8] : "alice");
            break;
        case TX_FTP_331:
            n = snprintf((char *)b, cap, "331 Please specify the password.\r\n");
            break;
        case TX_FTP_PASS:
            n = snprintf((char *)b, cap, "PASS %s\r\n",
                         s->a3 ? ftp_passwords[(s->j * 3 + s->a2) % 8] : "c0rrect-h0rse");
            break;
        case TX_FTP_230:
            n = snprintf((char *)b, cap, "230 Login successful.\r\n");
            break;
        case TX_FTP_530:
            n = snprintf((char *)b, cap, "530 Login incorrect.\r\n");
            break;
        case TX_FTP_SYST:
            n = snprintf((char *)b, cap, "SYST\r\n");
            break;
        case TX_FTP_215:
            n = snprintf((char *)b, cap, "215 UNIX Type: L8\r\n");
            break;
        case TX_FTP_QUIT:
        case TX_SMTP_QUIT:
            n = snprintf((char *)b, cap, "QUIT\r\n");
            break;
        case TX_FTP_221:
            n = snprintf((char *)b, cap, "221 Goodbye.\r\n");
            break;
        case TX_SMTP_220:
            n = snprintf((char *)b, cap, "220 mail.corp.example ESMTP Postfix (Debian/GNU)\r\n");
            break;
        case TX_SMTP_EHLO:
            n = snprintf((char *)b, cap, "EHLO %s\r\n",
                         s->a1 ? "mta-out.example.net" : "ws.corp.lan");
            break;
        case TX_SMTP_250EHLO:
            n = snprintf((char *)b, cap,
                         "250-mail.corp.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                         "250-8BITMIME\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
            break;
        case TX_SMTP_MAIL:
            n = snprintf((char *)b, cap, "MAIL FROM:<%s>\r\n",
                         s->a1 ? "newsletter@example.net" : "alice@corp.example");
            break;
        case TX_SMTP_250:
            n = snprintf((char *)b, cap, "250 2.1.0 Ok\r\n");
            break;
        case TX_SMTP_RCPT:
            n = snprintf((char *)b, cap, "RCPT TO:<%s>\r\n",
                         s->a1 ? "bob@corp.example" : "carol@example.org");
            break;
        case TX_SMTP_DATA:
            n = snprintf((char *)b, cap, "DATA\r\n");
            break;
        case TX_SMTP_354:
            n = snprintf((char *)b, cap, "354 End data with <CR><LF>.<CR><LF>\r\n");
            break;
        case TX_SMTP_DOT:
            n = snprintf((char *)b, cap, ".\r\n");
            break;
        case TX_SMTP_QUEUED:
            n = snprintf((char *)b, cap, "250 2.0.0 Ok: queued as %08X\r\n", (unsigned)s->salt);
            break;
        case TX_SMTP_221:
            n = snprintf((char *)b, cap, "221 2.0.0 Bye\r\n");
            break;
        case TX_IMAP_OK:
            n = snprintf((char *)b, cap,
                         "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                         "LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n");
            break;
        case TX_IMAP_CAP:
            n = snprintf((char *)b, cap, "a1 CAPABILITY\r\n");
            break;
        case TX_IMAP_CAPR:
            n = snprintf((char *)b, cap,
                         "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                         "LITERAL+ STARTTLS AUTH=PLAIN\r\na1 OK Pre-login capabilities listed, "
                         "post-login capabilities have more.\r\n");
            break;
        case TX_IMAP_LOGIN:
            n = snprintf((char *)b, cap, "a2 LOGIN user%u \"secret%u\"\r\n", s->a1 % 1000,
                         s->a1 % 97);
            break;
        case TX_IMAP_LOGINOK:
            n = snprintf((char *)b, cap, "a2 OK Logged in\r\n");
            break;
        case TX_IMAP_SELECT:
            n = snprintf((char *)b, cap, "a3 SELECT INBOX\r\n");
            break;
        case TX_IMAP_SELECTR:
            n = snprintf((char *)b, cap,
                         "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                         "* %u EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs "
                         "valid\r\na3 OK [READ-WRITE] Select completed.\r\n",
                         s->a1 % 500);
            break;
        case TX_IMAP_NOOP:
            n = snprintf((char *)b, cap, "a%u NOOP\r\n", 4 + s->j);
            break;
        case TX_IMAP_NOOPR:
            n = snprintf((char *)b, cap, "a%u OK NOOP completed.\r\n", 4 + s->j);
            break;
        case TX_IMAP_LOGOUT:
            n = snprintf((char *)b, cap, "a99 LOGOUT\r\n");
            break;
        case TX_IMAP_BYE:
            n = snprintf((char *)b, cap, "* BYE Logging out\r\na99 OK Logout completed.\r\n");
            break;
        }
        break;
    case MK_HTTP_REQ:
        n = snprintf((char *)b, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n"
                     "Accept-Language: en-US,en;q=0.7\r\nAccept-Encoding: gzip, deflate\r\n"
                     "Connection: keep-alive\r\n\r\n",
                     http_paths[m->aux % N_PATHS], s->name, user_agents[s->a1 % 3]);
        break;
    case MK_HTTP_RESP: {
        time_t tt = (time_t)(s->t0 / SYNTH_US);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        n = snprintf((char *)b, cap,
                     "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: %s\r\n"
                     "Content-Type: text/html; charset=utf-8\r\nContent-Length: %u\r\n"
                     "Connection: keep-alive\r\nCache-Control: max-age=600\r\n\r\n",
                     date, m->body);
        break;
    }
    case MK_TLS_CH:
        return synth_tls_client_hello(b, cap, s->name, s->salt);
    case MK_TLS_SH: {
        size_t k = synth_tls_server_hello(b, cap, s->salt);
        if (!k || k + 5 > cap)
            return 0;
        /* then the encrypted handshake (EncryptedExtensions .. Finished) as app data */
        memcpy(b + k, "\x17\x03\x03", 3);
        b[k + 3] = (uint8_t)(m->body >> 8);
        b[k + 4] = (uint8_t)m->body;
        return k + 5;
    }
    case MK_TLS_CFIN:
        memcpy(b, "\x14\x03\x03\x00\x01\x01\x17\x03\x03\x00\x35", 11);
        return 11;
    case MK_SSH_KEX:
        return synth_ssh_kexinit(b, cap, m->dir == 1, s->salt);
    case MK_SSH_ECDH_I:
        return synth_ssh_ecdh_init(b, cap, s->salt);
    case MK_SSH_ECDH_R:
        return synth_ssh_ecdh_reply(b, cap, s->salt);
    case MK_SSH_NEWKEYS:
        return synth_ssh_newkeys(b, cap, s->salt);
    default: /* MK_SSH_ENC, MK_TLS_DATA: no head */
        return 0;
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

#define TLS_REC 16384u

/* Bytes [off, off+n) of message m, rebuilt from the session's salt. */
static void msg_bytes(struct gen *g, const struct sess *s, const struct tmsg *m, uint32_t off,
                      uint32_t n, uint8_t *out)
{
    uint64_t salt = synth_mix(s->salt, (uint64_t)s->msg_i << 1 | m->dir);
    if (m->kind == MK_TLS_DATA) {
        /* A run of application_data records of at most 16384 bytes each. */
        uint32_t nrec = (m->body + TLS_REC - 1) / TLS_REC;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t o = off + k, rec = o / (TLS_REC + 5), r = o % (TLS_REC + 5);
            uint32_t rl = rec + 1 < nrec ? TLS_REC : m->body - TLS_REC * (nrec - 1);
            if (r == 0)
                out[k] = 0x17;
            else if (r < 3)
                out[k] = 0x03;
            else if (r == 3)
                out[k] = (uint8_t)(rl >> 8);
            else if (r == 4)
                out[k] = (uint8_t)rl;
            else
                synth_fill_random(out + k, 1, salt, o);
        }
        return;
    }
    uint32_t hl = (uint32_t)msg_head(g, s, m, g->scratch, sizeof(g->scratch));
    uint32_t k = 0;
    if (off < hl) {
        k = hl - off < n ? hl - off : n;
        memcpy(out, g->scratch + off, k);
    }
    if (k < n) {
        uint32_t bo = off + k - hl;
        if (m->kind == MK_TEXT_BODY || m->kind == MK_HTTP_RESP)
            synth_fill_text(out + k, n - k, salt, bo);
        else
            synth_fill_random(out + k, n - k, salt, bo);
    }
}

/* Response body sizes: log-normal around the client's habit. */
static uint32_t resp_size(struct sess *s, double mu, uint32_t cap)
{
    double v = exp(mu + 1.0 * synth_rng_gauss(&s->rng));
    if (v < 120)
        v = 120;
    if (v > cap)
        v = cap;
    return (uint32_t)v;
}

static uint32_t think_user(struct sess *s, double mean_s, double cap_s)
{
    double v = synth_rng_exp(&s->rng, mean_s);
    if (v > cap_s)
        v = cap_s;
    return (uint32_t)(v * 1e6) + 50;
}

/* Sets *m to message i of the session's script. Returns false after the last one. */
static bool plan(struct gen *g, struct sess *s, uint32_t i, struct tmsg *m)
{
    struct synth_rng *r = &s->rng;
    memset(m, 0, sizeof(*m));
#define MSG(d, k, a, bd, th)                                                                       \
    do {                                                                                           \
        m->dir = (d);                                                                              \
        m->kind = (k);                                                                             \
        m->aux = (uint16_t)(a);                                                                    \
        m->body = (uint32_t)(bd);                                                                  \
        m->think_us = (uint32_t)(th);                                                              \
    } while (0)
    uint32_t proc = (uint32_t)synth_rng_range(r, 300, 6000); /* server processing, us */
    switch (s->sub) {
    case TP_HTTPS:
    case TP_UPLOAD:
    case TP_BEACON:
        if (i == 0)
            MSG(0, MK_TLS_CH, 0, 0, synth_rng_range(r, 100, 800));
        else if (i == 1)
            /* the encrypted handshake: certificates, or a resumed session's few bytes */
            MSG(1, MK_TLS_SH, 0,
                s->sub != TP_UPLOAD && synth_rng_unit(r) < 0.7 ? synth_rng_range(r, 180, 420)
                                                               : synth_rng_range(r, 1200, 2600),
                proc);
        else if (i == 2)
            MSG(0, MK_TLS_CFIN, 0, 53, synth_rng_range(r, 200, 2000));
        else if (i - 3 < 2 * s->n) {
            uint32_t k = (i - 3) / 2;
            if ((i - 3) % 2 == 0) {
                uint32_t req = s->sub == TP_UPLOAD ? s->a1 : (uint32_t)synth_rng_range(r, 150, 600);
                MSG(0, MK_TLS_DATA, 0, req, k == 0 ? 100 : think_user(s, 1.5, 8));
            } else {
                uint32_t resp = s->sub == TP_HTTPS ? resp_size(s, log((double)s->a2), 30000)
                                                   : (uint32_t)synth_rng_range(r, 60, 500);
                MSG(1, MK_TLS_DATA, 0, resp, proc + synth_rng_range(r, 0, 40000));
            }
        } else
            return false;
        break;
    case TP_HTTP:
        if (i >= 2 * s->n)
            return false;
        if (i % 2 == 0)
            MSG(0, MK_HTTP_REQ, synth_rng_below(r, N_PATHS), 0,
                i == 0 ? 200 : think_user(s, 1.5, 8));
        else
            MSG(1, MK_HTTP_RESP, 0, resp_size(s, log((double)s->a2), 30000),
                proc + synth_rng_range(r, 0, 30000));
        break;
    case TP_SSH:
    case TP_SSH_BRUTE: {
        static const uint8_t pre_dir[] = {1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1};
        static const uint8_t pre_kind[] = {MK_TEXT,       MK_TEXT,       MK_SSH_KEX,     MK_SSH_KEX,
                                           MK_SSH_ECDH_I, MK_SSH_ECDH_R, MK_SSH_NEWKEYS, MK_SSH_ENC,
                                           MK_SSH_ENC,    MK_SSH_ENC,    MK_SSH_ENC};
        static const uint16_t pre_body[] = {0, 0, 0, 0, 0, 0, 0, 52, 52, 84, 36};
        uint32_t pre = s->sub == TP_SSH ? 11 : 9;
        if (i < pre) {
            MSG(pre_dir[i], pre_kind[i], i == 0 ? TX_SSH_S : TX_SSH_C, pre_body[i],
                pre_dir[i] ? proc : synth_rng_range(r, 100, 3000));
            break;
        }
        uint32_t k = i - pre;
        if (k >= 2 * s->n)
            return false;
        if (s->sub == TP_SSH_BRUTE) {
            if (k % 2 == 0)
                MSG(0, MK_SSH_ENC, 0, 84 + 16 * synth_rng_below(r, 3),
                    synth_rng_range(r, 200000, 1200000));
            else
                MSG(1, MK_SSH_ENC, 0, 52,
                    synth_rng_range(r, 300000, 2200000)); /* failure, delayed */
        } else if (k % 2 == 0) {
            /* keystrokes, now and then a pause to read */
            uint32_t th = synth_rng_unit(r) < 0.06 ? (uint32_t)synth_rng_range(r, 4e6, 20e6)
                                                   : think_user(s, 0.6, 4);
            MSG(0, MK_SSH_ENC, 0, 36, th);
        } else {
            uint32_t out = synth_rng_unit(r) < 0.05 ? (uint32_t)synth_rng_range(r, 200, 2500) : 36;
            MSG(1, MK_SSH_ENC, 0, out, proc);
        }
        break;
    }
    case TP_FTP:
    case TP_FTP_BRUTE: {
        if (i == 0) {
            MSG(1, MK_TEXT, TX_FTP_220, 0, proc);
            break;
        }
        uint32_t k = i - 1;
        if (s->sub == TP_FTP) {
            static const uint16_t t[] = {TX_FTP_USER, TX_FTP_331, TX_FTP_PASS, TX_FTP_230,
                                         TX_FTP_SYST, TX_FTP_215, TX_FTP_QUIT, TX_FTP_221};
            if (k >= 8)
                return false;
            MSG(k % 2, MK_TEXT, t[k], 0, k % 2 ? proc : think_user(s, 1.0, 5));
            break;
        }
        /* brute force: USER/331/PASS/530 per attempt, then the server hangs up */
        if (k >= 4 * s->n)
            return false;
        s->j = k / 4;
        static const uint16_t t[] = {TX_FTP_USER, TX_FTP_331, TX_FTP_PASS, TX_FTP_530};
        MSG(k % 2, MK_TEXT, t[k % 4], 0,
            k % 4 == 3 ? synth_rng_range(r, 800000, 2500000)
                       : (k % 2 ? proc : synth_rng_range(r, 2000, 60000)));
        break;
    }
    case TP_SMTP: {
        static const uint8_t d[] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1};
        static const uint16_t t[] = {
            TX_SMTP_220,  TX_SMTP_EHLO,   TX_SMTP_250EHLO, TX_SMTP_MAIL, TX_SMTP_250,
            TX_SMTP_RCPT, TX_SMTP_250,    TX_SMTP_DATA,    TX_SMTP_354,  0,
            TX_SMTP_DOT,  TX_SMTP_QUEUED, TX_SMTP_QUIT,    TX_SMTP_221};
        if (i >= 14)
            return false;
        if (i == 9)
            MSG(0, MK_TEXT_BODY, 0, 72 * (uint32_t)synth_rng_range(r, 5, 80), 300);
        else
            MSG(d[i], MK_TEXT, t[i], 0, d[i] ? proc : synth_rng_range(r, 200, 3000));
        break;
    }
    case TP_IMAP: {
        static const uint8_t d[] = {1, 0, 1, 0, 1, 0, 1};
        static const uint16_t t[] = {TX_IMAP_OK,      TX_IMAP_CAP,    TX_IMAP_CAPR,   TX_IMAP_LOGIN,
                                     TX_IMAP_LOGINOK, TX_IMAP_SELECT, TX_IMAP_SELECTR};
        if (i < 7) {
            MSG(d[i], MK_TEXT, t[i], 0, d[i] ? proc : synth_rng_range(r, 300, 5000));
            break;
        }
        uint32_t k = i - 7;
        if (k < 2 * s->n) {
            s->j = k / 2;
            MSG(k % 2, MK_TEXT, k % 2 ? TX_IMAP_NOOPR : TX_IMAP_NOOP, 0,
                k % 2 ? proc : synth_rng_range(r, 2e6, 20e6));
        } else if (k == 2 * s->n)
            MSG(0, MK_TEXT, TX_IMAP_LOGOUT, 0, synth_rng_range(r, 1e6, 5e6));
        else if (k == 2 * s->n + 1)
            MSG(1, MK_TEXT, TX_IMAP_BYE, 0, proc);
        else
            return false;
        break;
    }
    }
#undef MSG
    if (m->kind == MK_TLS_DATA)
        m->len = m->body + 5 * ((m->body + TLS_REC - 1) / TLS_REC);
    else
        m->len = (uint32_t)msg_head(g, s, m, g->scratch, sizeof(g->scratch)) + m->body;
    return m->len > 0;
}

/* One segment of session s in direction dir; a SYN carries MSS, NOP, window scale, SACK
 * permitted. Advances the sender's sequence number. */
static void tcp_put(struct gen *g, struct sess *s, uint64_t t, int dir, uint8_t flags,
                    const uint8_t *pl, size_t plen)
{
    struct synth_hdr h;
    uint8_t opt[12];
    synth_engine_hdr(s, dir, 6, &h);
    h.flags = flags;
    h.seq = dir ? s->seq_s : s->seq_c;
    h.ack = (flags & SYNTH_TCP_ACK) ? (dir ? s->seq_c : s->seq_s) : 0;
    h.win = dir ? s->win_s : s->win_c;
    if (flags & SYNTH_TCP_SYN) {
        /* MSS, NOP, window scale 7, NOP, NOP, SACK permitted */
        opt[0] = 2;
        opt[1] = 4;
        opt[2] = (uint8_t)(s->mss >> 8);
        opt[3] = (uint8_t)s->mss;
        opt[4] = 1;
        opt[5] = 3;
        opt[6] = 3;
        opt[7] = 7;
        opt[8] = 1;
        opt[9] = 1;
        opt[10] = 4;
        opt[11] = 2;
        h.opt = opt;
        h.optlen = 12;
        h.win = dir ? 65160 : 64240;
    }
    uint32_t adv = (uint32_t)plen + ((flags & (SYNTH_TCP_SYN | SYNTH_TCP_FIN)) ? 1 : 0);
    if (dir)
        s->seq_s += adv;
    else
        s->seq_c += adv;
    s->last_dir = (uint8_t)dir;
    synth_engine_emit(g, t, &h, pl, plen, dir ? s->lab_s : s->lab_c);
}

static uint64_t side_delay(const struct sess *s, int dir)
{
    return dir ? s->d_s : s->d_c;
}

/* Moves to the next message, or to the close. Returns the delay before it starts. */
static uint64_t tcp_next_msg(struct sess *s)
{
    if (!s->have_next) {
        s->state = TS_FIN1;
        uint64_t d = (uint64_t)synth_rng_range(&s->rng, 100, 200000);
        return d + (s->closer != s->last_dir ? side_delay(s, s->closer) : 0);
    }
    s->state = TS_MSG;
    s->off = 0;
    s->unacked = 0;
    return s->m.think_us + (s->m.dir != s->last_dir ? side_delay(s, s->m.dir) : 0);
}

/* Emits the session's next packet; returns the delay to the following one, 0 when done. */
uint64_t synth_conv_tcp_step(struct gen *g, struct sess *s, uint64_t t)
{
    switch (s->state) {
    case TS_SYN:
        tcp_put(g, s, t, 0, SYNTH_TCP_SYN, NULL, 0);
        s->state = TS_SYNACK;
        return s->d_s;
    case TS_SYNACK:
        tcp_put(g, s, t, 1, SYNTH_TCP_SYN | SYNTH_TCP_ACK, NULL, 0);
        s->state = TS_ACK3;
        return s->d_c;
    case TS_ACK3:
        tcp_put(g, s, t, 0, SYNTH_TCP_ACK, NULL, 0);
        s->msg_i = 0;
        s->have_next = plan(g, s, 0, &s->m);
        return tcp_next_msg(s);
    case TS_MSG: {
        struct tmsg *m = &s->m;
        uint32_t n = m->len - s->off;
        if (n > s->mss)
            n = s->mss;
        msg_bytes(g, s, m, s->off, n, g->pay);
        s->off += n;
        bool last = s->off == m->len;
        tcp_put(g, s, t, m->dir, SYNTH_TCP_ACK | (last ? SYNTH_TCP_PSH : 0), g->pay, n);
        s->unacked++;
        uint64_t pace = (uint64_t)n * 8000 / (s->bw_kbps ? s->bw_kbps : 10000) + 10;
        if (!last) {
            if (s->unacked >= 2) {
                s->state = TS_ACK;
                s->ack_from = !m->dir;
                s->ack_next = 0;
                uint64_t d = side_delay(s, !m->dir);
                return d < 400 ? d : 400;
            }
            return pace;
        }
        int dir = m->dir;
        s->msg_i++;
        s->have_next = plan(g, s, s->msg_i, &s->m);
        if (!s->have_next || s->m.dir == dir) {
            s->state = TS_ACK; /* the receiver acknowledges before anything else */
            s->ack_from = (uint8_t)!dir;
            s->ack_next = 1;
            return side_delay(s, !dir) + 40;
        }
        return tcp_next_msg(s); /* the answer carries the ACK */
    }
    case TS_ACK:
        tcp_put(g, s, t, s->ack_from, SYNTH_TCP_ACK, NULL, 0);
        s->unacked = 0;
        if (!s->ack_next) {
            s->state = TS_MSG;
            return (uint64_t)s->mss * 8000 / (s->bw_kbps ? s->bw_kbps : 10000) + 10;
        }
        return tcp_next_msg(s);
    case TS_FIN1:
        if (s->rst_close) {
            tcp_put(g, s, t, s->closer, SYNTH_TCP_RST | SYNTH_TCP_ACK, NULL, 0);
            return 0;
        }
        tcp_put(g, s, t, s->closer, SYNTH_TCP_FIN | SYNTH_TCP_ACK, NULL, 0);
        s->state = TS_FIN2;
        return side_delay(s, !s->closer) + 30;
    case TS_FIN2:
        tcp_put(g, s, t, !s->closer, SYNTH_TCP_FIN | SYNTH_TCP_ACK, NULL, 0);
        s->state = TS_FIN3;
        return side_delay(s, s->closer) + 20;
    case TS_FIN3:
        tcp_put(g, s, t, s->closer, SYNTH_TCP_ACK, NULL, 0);
        return 0;
    }
    return 0;
}

static const struct ip_addr *srv_addr(const struct server *sv, bool v6)
{
    return v6 ? &sv->v6 : &sv->v4;
}

struct sess *synth_conv_tcp_start(struct gen *g, uint64_t t, uint32_t ci, int si, bool v6,
                                  enum tproto p, uint16_t dport)
{
    struct client *c = &g->pop.cli[ci];
    struct server *sv = &g->pop.srv[si];
    struct sess *s = synth_engine_start(g, K_TCP, t, (int32_t)ci);
    if (!s)
        return NULL;
    struct synth_rng *r = &s->rng;
    s->sub = (uint8_t)p;
    s->v6 = v6;
    s->c = v6 ? c->v6 : c->v4;
    s->s = *srv_addr(sv, v6);
    s->cport = synth_population_next_port(&c->eport);
    s->sport = dport;
    s->lab_c = c->label;
    s->lab_s = sv->label;
    s->ttl_c = c->ttl;
    s->ttl_s = sv->ttl;
    s->d_c = c->internal ? (uint32_t)synth_rng_range(r, 30, 250)
                         : (uint32_t)(c->rtt_us * synth_rng_range(r, 0.9, 1.15));
    s->d_s = sv->internal ? (uint32_t)synth_rng_range(r, 80, 400)
                          : (uint32_t)(sv->rtt_us * synth_rng_range(r, 0.9, 1.15));
    uint16_t cm = v6 ? 1440 : 1460;
    s->mss = sv->mss < cm ? sv->mss : cm;
    if (v6 && s->mss > 1440)
        s->mss = 1440;
    s->seq_c = (uint32_t)synth_rng_next(r);
    s->seq_s = (uint32_t)synth_rng_next(r);
    s->win_c = (uint16_t)synth_rng_range(r, 480, 2050);
    s->win_s = (uint16_t)synth_rng_range(r, 480, 2050);
    s->bw_kbps = c->bw_kbps;
    s->closer = 0;
    s->rst_close = !c->label && synth_rng_unit(r) < 0.04;
    s->a1 = c->os;
    s->a2 = (uint32_t)synth_rng_next(r);
    snprintf(s->name, sizeof(s->name), "%s", sv->name);
    s->n = 1;
    return s;
}

/* ================================================================ UDP and ICMP */

struct sess *synth_conv_dns_start(struct gen *g, uint64_t t, uint32_t ci, const char *name,
                                  uint16_t qtype, int an_srv, bool v6)
{
    struct client *c = &g->pop.cli[ci];
    struct server *rs = &g->pop.srv[SRV_RESOLVER];
    struct sess *s = synth_engine_start(g, K_DNS, t, (int32_t)ci);
    if (!s)
        return NULL;
    v6 = v6 && c->has_v6;
    s->c = v6 ? c->v6 : c->v4;
    s->s = *srv_addr(rs, v6);
    s->cport = synth_population_next_port(&c->eport);
    s->sport = 53;
    s->lab_c = c->label;
    s->lab_s = rs->label;
    s->ttl_c = c->ttl;
    s->ttl_s = 64;
    s->a1 = qtype;
    s->a2 = (uint16_t)synth_rng_next(&s->rng);
    s->a3 = (uint32_t)(an_srv + 1);
    /* benign names miss the cache now and then: the resolver asks upstream */
    s->sub = an_srv >= SRV_FIRST_PUBLIC && synth_rng_unit(&s->rng) < 0.3;
    s->d_s = (uint32_t)synth_rng_range(&s->rng, 150, 900);
    snprintf(s->name, sizeof(s->name), "%s", name);
    return s;
}

static size_t dns_answer_for(struct gen *g, struct sess *s, uint8_t *out, size_t cap)
{
    uint8_t q[300], rd[260];
    size_t ql = synth_dns_query(q, sizeof(q), (uint16_t)s->a2, s->name, (uint16_t)s->a1);
    uint16_t rdl = 0, type = (uint16_t)s->a1;
    int an = (int)s->a3 - 1;
    if (type == 16) {
        /* tunnel downstream: base32-ish data in one TXT string */
        uint32_t l = 60 + synth_rng_below(&s->rng, 120);
        rd[0] = (uint8_t)l;
        synth_fill_random(rd + 1, l, s->salt, 0);
        for (uint32_t k = 1; k <= l; k++)
            rd[k] = (uint8_t) "abcdefghijklmnopqrstuvwxyz234567"[rd[k] & 31];
        rdl = (uint16_t)(l + 1);
    } else if (an >= 0 && type == 1) {
        memcpy(rd, g->pop.srv[an].v4.b + 12, 4);
        rdl = 4;
    } else if (an >= 0 && type == 28 && g->pop.srv[an].has_v6) {
        memcpy(rd, g->pop.srv[an].v6.b, 16);
        rdl = 16;
    }
    uint32_t ttl = 60 + synth_rng_below(&s->rng, 3540);
    return synth_dns_answer(out, cap, q, ql, type, ttl, rd, rdl);
}

uint64_t synth_conv_dns_step(struct gen *g, struct sess *s, uint64_t t)
{
    struct server *rs = &g->pop.srv[SRV_RESOLVER];
    size_t n;
    switch (s->state) {
    case 0:
        n = synth_dns_query(g->pay, sizeof(g->pay), (uint16_t)s->a2, s->name, (uint16_t)s->a1);
        synth_engine_udp(g, s, t, 0, g->pay, n);
        if (s->sub) {
            s->state = 1;
            return 120;
        }
        s->state = 3;
        return s->d_s;
    case 1:
    case 2: {
        /* resolver <-> upstream, as a second flow of the same lookup */
        struct server *up = &g->pop.srv[g->pop.upstream[s->a2 % 3]];
        struct synth_hdr h;
        memset(&h, 0, sizeof(h));
        h.proto = 17;
        if (s->state == 1) {
            s->j = synth_population_next_port(&rs->eport);
            h.src = &rs->v4;
            h.dst = &up->v4;
            h.sport = (uint16_t)s->j;
            h.dport = 53;
            h.ttl = 64;
            h.ip_id = s->ipid_s++;
            n = synth_dns_query(g->pay, sizeof(g->pay), (uint16_t)(s->a2 ^ 0x5a5a), s->name,
                                (uint16_t)s->a1);
            synth_engine_emit(g, t, &h, g->pay, n, rs->label);
            s->state = 2;
            return (uint64_t)(up->rtt_us * synth_rng_range(&s->rng, 0.95, 1.3));
        }
        h.src = &up->v4;
        h.dst = &rs->v4;
        h.sport = 53;
        h.dport = (uint16_t)s->j;
        h.ttl = up->ttl;
        h.ip_id = (uint16_t)synth_rng_next(&s->rng);
        uint16_t id = (uint16_t)s->a2;
        s->a2 ^= 0x5a5a;
        n = dns_answer_for(g, s, g->pay, sizeof(g->pay));
        s->a2 = id;
        synth_engine_emit(g, t, &h, g->pay, n, up->label);
        s->state = 3;
        return 100;
    }
    default:
        n = dns_answer_for(g, s, g->pay, sizeof(g->pay));
        synth_engine_udp(g, s, t, 1, g->pay, n);
        return 0;
    }
}

struct sess *synth_conv_udp_start(struct gen *g, enum kind k, uint64_t t, uint32_t ci, int si,
                                  bool v6)
{
    struct client *c = &g->pop.cli[ci];
    struct server *sv = &g->pop.srv[si];
    struct sess *s = synth_engine_start(g, k, t, (int32_t)ci);
    if (!s)
        return NULL;
    s->c = v6 ? c->v6 : c->v4;
    s->s = *srv_addr(sv, v6);
    s->cport = synth_population_next_port(&c->eport);
    s->sport = 123;
    s->lab_c = c->label;
    s->lab_s = sv->label;
    s->ttl_c = c->ttl;
    s->ttl_s = sv->ttl;
    s->d_s = sv->internal ? (uint32_t)synth_rng_range(&s->rng, 80, 400)
                          : (uint32_t)(sv->rtt_us * synth_rng_range(&s->rng, 0.95, 1.2));
    return s;
}

uint64_t synth_conv_ntp_step(struct gen *g, struct sess *s, uint64_t t)
{
    size_t n;
    if (s->state == 0) {
        s->mark = t;
        n = synth_ntp(g->pay, sizeof(g->pay), 3, t, 0);
        synth_engine_udp(g, s, t, 0, g->pay, n);
        s->state = 1;
        return s->d_s;
    }
    n = synth_ntp(g->pay, sizeof(g->pay), 4, t - s->d_s / 2, s->mark);
    synth_engine_udp(g, s, t, 1, g->pay, n);
    return 0;
}

/* Echo request/reply pairs, one per second, Linux or Windows style payloads. */
static void ping_payload(struct sess *s, uint8_t *p, size_t *n, uint64_t t)
{
    if (s->a1 == 1) { /* Windows: 32 bytes of the alphabet */
        for (int k = 0; k < 32; k++)
            p[k] = (uint8_t)('a' + k % 23);
        *n = 32;
        return;
    }
    uint64_t sec = t / SYNTH_US, usec = t % SYNTH_US; /* Linux: timeval then 0x10.. */
    for (int k = 0; k < 8; k++) {
        p[k] = (uint8_t)(sec >> (8 * k));
        p[8 + k] = (uint8_t)(usec >> (8 * k));
    }
    for (int k = 16; k < 56; k++)
        p[k] = (uint8_t)k;
    *n = 56;
}

uint64_t synth_conv_ping_step(struct gen *g, struct sess *s, uint64_t t)
{
    size_t n;
    uint32_t rest = (s->a2 & 0xffff) << 16 | ((s->i + 1) & 0xffff);
    if (s->state == 0) {
        s->mark = t;
        ping_payload(s, g->pay, &n, t);
        synth_engine_icmp(g, s, t, 0, IC_ECHO_REQ, rest, g->pay, n);
        s->state = 1;
        return s->d_s;
    }
    ping_payload(s, g->pay, &n, s->mark); /* the reply echoes the request's data */
    synth_engine_icmp(g, s, t, 1, IC_ECHO_REP, rest, g->pay, n);
    s->state = 0;
    if (++s->i >= s->n)
        return 0;
    uint64_t next = s->mark + SYNTH_US + (uint64_t)synth_rng_range(&s->rng, 0, 3000);
    return next > t ? next - t : 1;
}
