/*
 * synth_conv.h — the conversations of `tapir synth`: a TCP connection with a scripted
 * exchange (HTTPS, HTTP, SSH, FTP, SMTP, IMAP, an upload, a beacon), a DNS lookup through
 * the resolver, an NTP poll, a ping. Benign hosts (synth_hosts.c) and attack campaigns
 * (synth_attacks.c) start them; the engine steps them.
 */
#ifndef TAPIR_SYNTH_CONV_H
#define TAPIR_SYNTH_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "synth_engine.h"

/* The script of a TCP conversation (struct sess.sub of a K_TCP session). */
enum tproto {
    TP_HTTPS,
    TP_HTTP,
    TP_SSH,
    TP_SSH_BRUTE,
    TP_FTP,
    TP_FTP_BRUTE,
    TP_SMTP,
    TP_IMAP,
    TP_UPLOAD,
    TP_BEACON
};

/* Starts a TCP conversation of script p from client ci to server si, port dport, at t
 * (IPv6 if v6). Returns the session for the caller to tune (s->n: exchanges, s->a1, a2,
 * a3, closer, rst_close, bw_kbps as the script reads them), or NULL when the pool is full. */
struct sess *synth_conv_tcp_start(struct gen *g, uint64_t t, uint32_t ci, int si, bool v6,
                                  enum tproto p, uint16_t dport);
/* A DNS lookup of name (qtype 1, 28 or 16) from client ci through the resolver. an_srv:
 * the server whose address the answer carries, or -1 for a TXT answer (tunnel). */
struct sess *synth_conv_dns_start(struct gen *g, uint64_t t, uint32_t ci, const char *name,
                                  uint16_t qtype, int an_srv, bool v6);
/* A UDP-like exchange with server si: k is K_NTP (one poll) or K_PING (the caller sets n,
 * a1 = the OS, a2 = the echo id, and zeroes the ports). */
struct sess *synth_conv_udp_start(struct gen *g, enum kind k, uint64_t t, uint32_t ci, int si,
                                  bool v6);

/* Emit the next packet of a K_TCP, K_DNS, K_NTP or K_PING session at t (synth_run's
 * table picks the one of the session's kind); return the delay to its following one, 0
 * when it is done. */
uint64_t synth_conv_tcp_step(struct gen *g, struct sess *s, uint64_t t);
uint64_t synth_conv_dns_step(struct gen *g, struct sess *s, uint64_t t);
uint64_t synth_conv_ntp_step(struct gen *g, struct sess *s, uint64_t t);
uint64_t synth_conv_ping_step(struct gen *g, struct sess *s, uint64_t t);

#endif
