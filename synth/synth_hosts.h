/*
 * synth_hosts.h — the benign hosts of `tapir synth` going about their day: each internal
 * and external benign client has a driver session (K_HOST) that starts conversations.
 */
#ifndef TAPIR_SYNTH_HOSTS_H
#define TAPIR_SYNTH_HOSTS_H

#include <stdint.h>

#include "synth_engine.h"

/* Starts every benign client's driver at a random point of its rhythm, drawing from the
 * traffic PRNG. Call once, after the population is built and before the event loop. */
void synth_hosts_start(struct gen *g);
/* Steps a K_HOST session at t: a host's daily rhythm (active and idle periods), a task
 * now and then while active, NTP polls always. Returns the delay to its next step. */
uint64_t synth_hosts_step(struct gen *g, struct sess *s, uint64_t t);

#endif
