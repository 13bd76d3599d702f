/*
 * alert.c — names of the alert's enums, shared by every sink that writes an alert and
 * every reader that filters by them (the API's ?detector= and ?category=, `tapir alerts
 * --detector/--category`).
 *
 * The names come from alert.h's X-lists, so an enum value and its name cannot drift
 * apart, and a new detector or category is one line there; the sides and directions,
 * fixed sets, are tables indexed by their enum here. Every name goes through name_of, with
 * the name a value out of range falls back to. Rejected: a switch per enum, which for
 * twelve categories is twelve places to forget.
 */
#include <stdio.h>
#include <string.h>

#include "alert.h"

#define NAME_(id, name) name,
static const char *const detector_names[] = {ALERT_DETECTORS(NAME_)};
static const char *const category_names[] = {ALERT_CATEGORIES(NAME_)};
#undef NAME_
_Static_assert(sizeof(detector_names) / sizeof(detector_names[0]) == ALERT_DETECTOR_COUNT,
               "one name per detector");
_Static_assert(sizeof(category_names) / sizeof(category_names[0]) == ALERT_CATEGORY_COUNT,
               "one name per category");

static const char *const side_names[] = {
    [ALERT_SIDE_SOURCE] = "source",
    [ALERT_SIDE_DESTINATION] = "destination",
    [ALERT_SIDE_PREFIX] = "prefix",
};
static const char *const direction_names[] = {
    [ALERT_DIRECTION_UNKNOWN] = "unknown",   [ALERT_DIRECTION_INBOUND] = "inbound",
    [ALERT_DIRECTION_OUTBOUND] = "outbound", [ALERT_DIRECTION_INTERNAL] = "internal",
    [ALERT_DIRECTION_EXTERNAL] = "external",
};

#define COUNT_(names) (sizeof(names) / sizeof(names[0]))

/* names[i], or fallback for a value out of the enum. */
static const char *name_of(const char *const *names, unsigned n, unsigned i, const char *fallback)
{
    return i < n ? names[i] : fallback;
}

const char *alert_side_name(enum alert_side s)
{
    return name_of(side_names, COUNT_(side_names), (unsigned)s, "source");
}

const char *alert_detector_name(enum alert_detector d)
{
    return name_of(detector_names, ALERT_DETECTOR_COUNT, (unsigned)d, "forest");
}

const char *alert_category_name(enum alert_category c)
{
    return name_of(category_names, ALERT_CATEGORY_COUNT, (unsigned)c, "anomaly");
}

const char *alert_direction_name(enum alert_direction d)
{
    return name_of(direction_names, COUNT_(direction_names), (unsigned)d, "unknown");
}

const char *alert_detectors_str(uint32_t mask, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (int d = 0; d < ALERT_DETECTOR_COUNT; d++) {
        if (!(mask & (1u << d)))
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", detector_names[d]);
        if (w < 0 || (size_t)w >= len - used) {
            if (len)
                buf[used] = '\0'; /* whole names only */
            break;
        }
        used += (size_t)w;
    }
    return buf;
}

static int parse(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

int alert_detector_parse(const char *name)
{
    return parse(detector_names, ALERT_DETECTOR_COUNT, name);
}

int alert_category_parse(const char *name)
{
    return parse(category_names, ALERT_CATEGORY_COUNT, name);
}

#define LIST_(id, name) ", " name
static const char detector_list[] = ALERT_DETECTORS(LIST_);
static const char category_list[] = ALERT_CATEGORIES(LIST_);
#undef LIST_

const char *alert_detector_list(void)
{
    return detector_list + 2; /* without the leading ", " */
}

const char *alert_category_list(void)
{
    return category_list + 2;
}
