/*
 * synth_truth.h — the ground truth of a synthetic capture: what every host and every flow
 * did, counted as the sensor will count it, and the labels, hosts and flows CSVs.
 */
#ifndef TAPIR_SYNTH_TRUTH_H
#define TAPIR_SYNTH_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "synth.h"
#include "tapir.h"

struct synth_truth;

/* max_hosts bounds the distinct IPs (the table never grows). flows may be NULL (no flow
 * file); it is borrowed: the caller closes it after synth_truth_destroy. Returns NULL with
 * a sentence in errbuf. Single-threaded, like all of synth. */
struct synth_truth *synth_truth_create(uint32_t max_hosts, FILE *flows, char *errbuf,
                                       size_t errlen);
/* destroy(NULL) is a no-op. */
void synth_truth_destroy(struct synth_truth *t);
/* Accounts one packet at time ts_us sent by src with the given label (see
 * SYNTH_LABEL_BENIGN). ports are ignored for protocols other than TCP and UDP; tcp_flags
 * are SYNTH_TCP_* (synth_proto.h). */
void synth_truth_packet(struct synth_truth *t, uint64_t ts_us, const struct ip_addr *src,
                        const struct ip_addr *dst, uint16_t sport, uint16_t dport, uint8_t proto,
                        uint8_t tcp_flags, uint32_t ip_len, int label);
/* Whether the IP has a table entry already. */
bool synth_truth_known(const struct synth_truth *t, const struct ip_addr *ip);
/* Ends every flow still open, then writes the labels and (if non-NULL) hosts CSVs.
 * Returns 0, or -1 with errbuf (write error, host table overflow). */
int synth_truth_finish(struct synth_truth *t, FILE *labels, FILE *hosts, struct synth_stats *st,
                       char *errbuf, size_t errlen);

#endif
