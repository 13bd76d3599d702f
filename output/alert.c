/*
 * alert.c — names of the alert's enums, shared by every sink that writes an alert.
 */
#include "alert.h"

const char *alert_side_name(enum alert_side s)
{
    switch (s) {
    case ALERT_SIDE_SOURCE:
        return "source";
    case ALERT_SIDE_DESTINATION:
        return "destination";
    case ALERT_SIDE_PREFIX:
        return "prefix";
    }
    return "source";
}
