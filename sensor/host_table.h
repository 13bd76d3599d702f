/*
 * host_table.h — per-IP window accumulators, filled in place inside a struct window.
 *
 * The records are the window buffer's hosts[] array itself, so closing a window hands
 * the analyzer the filled buffer with no copy; the index is reset in O(1) by bumping an
 * epoch. Owner: the capture thread.
 */
#ifndef TAPIR_HOST_TABLE_H
#define TAPIR_HOST_TABLE_H

#include "window.h"

typedef struct host_table host_table_t;

/* max_hosts must equal the cap_hosts of every window attached later. */
host_table_t *host_table_create(uint32_t max_hosts, uint64_t seed, char *errbuf);
void host_table_destroy(host_table_t *ht);

/* Starts filling w (its hosts[] must hold max_hosts records); forgets the previous one. */
void host_table_attach(host_table_t *ht, struct window *w);

/* The record of ip in the attached window, created zeroed on first use; NULL when the
 * window holds max_hosts IPs already (the caller counts the loss). */
struct host_window *host_table_get(host_table_t *ht, const struct ip_addr *ip);
/* The same with tapir_ip_hash(ip, seed) at hand (seed: the one given at creation). */
struct host_window *host_table_get_h(host_table_t *ht, const struct ip_addr *ip, uint64_t ip_h);

/* As host_table_get_h, but when the window is full an IP keeps being counted (a small
 * count-min sketch of a sample of the packets refused); after about a dozen refusals it
 * takes the record of a light IP (at most 2 packets, found by sampling), whose counts are
 * lost and whose generation is bumped. A flood of one-packet spoofed sources thus cannot
 * hide a scanner that starts after the table filled. Never takes `keep`. NULL when
 * refused. */
struct host_window *host_table_admit_h(host_table_t *ht, const struct ip_addr *ip, uint64_t ip_h,
                                       const struct host_window *keep);

/* A new TCP flow opened with a SYN from src to dst:dport (either record may be NULL;
 * dst_hash: the destination's seeded hash): the mail-port counts of the spam rule
 * (analyzer/behaviour.c). Once per flow, not per packet. */
void host_credit_smtp(struct host_window *src, struct host_window *dst, uint16_t dport,
                      uint64_t dst_hash);

/* Records given to another IP so far (all windows). */
uint64_t host_table_replaced(const host_table_t *ht);

#endif
