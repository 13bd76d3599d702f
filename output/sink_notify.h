/*
 * sink_notify.h — the notification sink's one call for other sinks: the live blocklist
 * fires the command hook's `ban` and `unban` through it (docs/notifications.md).
 */
#ifndef TAPIR_SINK_NOTIFY_H
#define TAPIR_SINK_NOTIFY_H

#include "alert.h"

/* Queues action ("alert", "end", "ban" or "unban") for the incident a (copied: ip,
 * prefix_len, side, category and the rest of its JSON) to --notify-exec PROGRAM (argv:
 * action, IP, side, category; the JSON on stdin) and to --syslog. Never waits.
 * Returns 0 queued, 1 nothing to do (no notification sink, or neither --notify-exec nor
 * --syslog), -1 an unknown action or a full queue (counted as a drop).
 * Call on the analyzer thread, while the output set lives. */
int notify_event(const char *action, const struct alert *a);

#endif
