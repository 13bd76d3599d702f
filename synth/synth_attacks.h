/*
 * synth_attacks.h — the attacks of `tapir synth`: when each enabled class runs, and the
 * sessions that carry it (scans, floods, and campaigns that start conversations).
 */
#ifndef TAPIR_SYNTH_ATTACKS_H
#define TAPIR_SYNTH_ATTACKS_H

#include <stdint.h>

#include "synth_engine.h"

/* Schedules the attacks of g->o.attacks (none if 0): one K_EPOCH session at the start
 * that places each class in the capture. Call once, after synth_hosts_start. */
void synth_attacks_start(struct gen *g);
/* Step a K_PROBE, K_FLOOD, K_CAMP or K_EPOCH session at t (synth_run's table picks the
 * one of the session's kind); return the delay to its next step, 0 when it is done. */
uint64_t synth_attacks_probe_step(struct gen *g, struct sess *s, uint64_t t);
uint64_t synth_attacks_flood_step(struct gen *g, struct sess *s, uint64_t t);
uint64_t synth_attacks_camp_step(struct gen *g, struct sess *s, uint64_t t);
uint64_t synth_attacks_epoch_step(struct gen *g, struct sess *s, uint64_t t);

#endif
