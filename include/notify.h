/*
 * notify.h — the systemd service manager protocol (sd_notify(3)) without libsystemd:
 * datagrams of "KEY=value" lines to the AF_UNIX socket named in $NOTIFY_SOCKET (a path,
 * or "@name" in the abstract namespace). Outside systemd ($NOTIFY_SOCKET unset) every
 * call does nothing.
 *
 * tapir sends READY=1 once the capture is open (and privileges dropped), RELOADING=1 /
 * READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM, and WATCHDOG=1 from the
 * capture loop while the analyzer's loop shows signs of life (see cmd_run.c), so that
 * WatchdogSec= restarts a sensor whose capture or analysis has hung.
 */
#ifndef TAPIR_NOTIFY_H
#define TAPIR_NOTIFY_H

#include <stdint.h>

/* Sends state (one or more "KEY=value" lines). 0 sent, 1 not under systemd, -1 failed. */
int notify_send(const char *state);

/* READY=1 with a STATUS= line, once the service is up; remembered, so that a reload
 * (RELOADING=1 ... READY=1) is told only after it (notify_reloading, notify_reloaded). */
int notify_ready(const char *status);
void notify_reloading(void);
void notify_reloaded(void);

/* printf-style notify_send. */
int notify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog interval systemd asked for ($WATCHDOG_USEC, for this process per
 * $WATCHDOG_PID), in microseconds; 0 when there is none. */
uint64_t notify_watchdog_us(void);

/* CLOCK_MONOTONIC in microseconds (what MONOTONIC_USEC= and the watchdog use). */
uint64_t notify_monotonic_us(void);

#endif
