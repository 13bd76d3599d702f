/*
 * json.c — the alert's JSON form: the object every sink writes (the alert log's line,
 * the store's top_features and features columns, the HTTP API's alerts), and the
 * helpers that make hostile bytes safe to put in it.
 *
 * Strings that come from the wire or from a geolocation database (l7, as_org, feature
 * names) are first made valid UTF-8, bad bytes becoming U+FFFD: jansson refuses invalid
 * UTF-8 and a log shipper would choke on it. NaN and infinity become null, since JSON
 * has neither. Rejected: escaping by hand with snprintf, which every sink would have to
 * get right on its own; jansson escapes quotes, backslashes and control characters once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rules.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

json_t *alert_json_string(const char *s, size_t maxlen)
{
    if (!s)
        s = "";
    size_t n = strnlen(s, maxlen);
    char *buf = malloc(n * 3 + 1); /* each bad byte may become 3 bytes of U+FFFD */
    if (!buf)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) {
            memcpy(buf + w, "\xef\xbf\xbd", 3);
            w += 3;
            i++;
        } else {
            memcpy(buf + w, p + i, k);
            w += k;
            i += k;
        }
    }
    json_t *j = json_stringn(buf, w);
    free(buf);
    return j;
}

json_t *alert_json_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *alert_json_value(double v)
{
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) < 9007199254740992.0) /* 2^53: exact */
        return json_real(v);
    char buf[40];
    if ((double)(float)v == v) {
        /* The shortest form that reads back as the same float. */
        for (int p = 1; p <= 9; p++) {
            snprintf(buf, sizeof(buf), "%.*g", p, v);
            if ((float)strtod(buf, NULL) == (float)v)
                return json_real(strtod(buf, NULL));
        }
    }
    snprintf(buf, sizeof(buf), "%.6g", v);
    return json_real(strtod(buf, NULL));
}

const char *alert_ip_str(const struct alert *a, char *buf, size_t len)
{
    return rules_cidr_str(&a->ip, a->prefix_len ? a->prefix_len : 128, buf, len);
}

json_t *alert_top_features_json(const struct alert *a)
{
    json_t *arr = json_array();
    int n = a->n_top < 0 ? 0 : a->n_top > ALERT_TOP_FEATURES ? ALERT_TOP_FEATURES : a->n_top;
    for (int i = 0; arr && i < n; i++) {
        const struct alert_feature *f = &a->top[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", alert_json_string(f->name, sizeof(f->name)));
        json_object_set_new(o, "value", alert_json_value(f->value));
        json_object_set_new(o, "baseline", alert_json_value(f->baseline));
        json_object_set_new(o, "contribution", alert_json_value(f->contribution));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *alert_l7_json(const char *l7, size_t maxlen)
{
    json_t *arr = json_array();
    size_t n = strnlen(l7 ? l7 : "", maxlen);
    size_t start = 0;
    for (size_t i = 0; arr && i <= n; i++) {
        if (i == n || l7[i] == ',') {
            size_t b = start, e = i;
            while (b < e && l7[b] == ' ')
                b++;
            while (e > b && l7[e - 1] == ' ')
                e--;
            if (e > b)
                json_array_append_new(arr, alert_json_string(l7 + b, e - b));
            start = i + 1;
        }
    }
    return arr;
}

json_t *alert_incident_json(const struct alert *a)
{
    const struct alert_incident *in = &a->incident;
    char st[32], ls[32], en[32], det[128];
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "start", json_string(tapir_iso8601(in->start_us, st, sizeof(st))));
    json_object_set_new(o, "last_seen", json_string(tapir_iso8601(in->last_us, ls, sizeof(ls))));
    json_object_set_new(o, "end",
                        in->end_us ? json_string(tapir_iso8601(in->end_us, en, sizeof(en)))
                                   : json_null());
    json_object_set_new(o, "duration_s", /* first window's start to its latest alert */
                        json_integer(in->last_us > in->start_us
                                         ? (json_int_t)((in->last_us - in->start_us) / 1000000)
                                         : 0));
    json_object_set_new(o, "windows", json_integer(in->windows));
    json_object_set_new(o, "alert_count", json_integer(in->alerts));
    json_object_set_new(o, "peak_score", alert_json_value(in->peak_score));
    json_object_set_new(
        o, "detectors",
        alert_l7_json(alert_detectors_str(in->detectors, det, sizeof(det)), sizeof(det)));
    return o;
}

json_t *alert_to_json_obj(const struct alert *a)
{
    char ts[32], ws[32], we[32], ip[64];
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "format", json_integer(ALERT_JSON_FORMAT));
    json_object_set_new(o, "timestamp",
                        json_string(tapir_iso8601(a->timestamp_us, ts, sizeof(ts))));
    json_object_set_new(o, "event_type",
                        alert_json_string(a->event_type ? a->event_type : "alert", 32));
    json_object_set_new(o, "alert_id", a->id > 0 ? json_integer(a->id) : json_null());
    json_object_set_new(o, "incident_id",
                        a->incident_id > 0 ? json_integer(a->incident_id) : json_null());
    json_object_set_new(o, "category", json_string(alert_category_name(a->category)));
    json_object_set_new(o, "detector", json_string(alert_detector_name(a->detector)));
    json_object_set_new(o, "severity", a->severity > 0 ? json_integer(a->severity) : json_null());
    json_object_set_new(o, "ip", json_string(alert_ip_str(a, ip, sizeof(ip))));
    json_object_set_new(o, "side", json_string(alert_side_name(a->side)));
    json_object_set_new(o, "direction", json_string(alert_direction_name(a->direction)));
    json_object_set_new(
        o, "sensor", a->sensor[0] ? alert_json_string(a->sensor, sizeof(a->sensor)) : json_null());
    json_object_set_new(o, "score", alert_json_value(a->score));
    json_object_set_new(o, "threshold", alert_json_value(a->threshold));
    json_object_set_new(o, "window_start",
                        json_string(tapir_iso8601(a->window_start_us, ws, sizeof(ws))));
    json_object_set_new(o, "window_end",
                        json_string(tapir_iso8601(a->window_end_us, we, sizeof(we))));
    json_object_set_new(o, "top_features", alert_top_features_json(a));
    json_t *geo = json_object();
    json_object_set_new(geo, "country",
                        a->geo.country[0]
                            ? alert_json_string(a->geo.country, sizeof(a->geo.country))
                            : json_null());
    json_object_set_new(geo, "asn", a->geo.asn ? json_integer(a->geo.asn) : json_null());
    json_object_set_new(geo, "as_org",
                        a->geo.as_org[0] ? alert_json_string(a->geo.as_org, sizeof(a->geo.as_org))
                                         : json_null());
    json_object_set_new(o, "geo", geo);
    json_object_set_new(o, "l7", alert_l7_json(a->l7, sizeof(a->l7)));
    if (a->risks[0]) /* only when risks explain the alert */
        json_object_set_new(o, "risks", alert_l7_json(a->risks, sizeof(a->risks)));
    json_t *model = json_object();
    json_object_set_new(model, "id",
                        a->model_id[0] ? alert_json_string(a->model_id, sizeof(a->model_id))
                                       : json_null());
    json_object_set_new(o, "model", model);
    if (a->incident_id > 0)
        json_object_set_new(o, "incident", alert_incident_json(a));
    return o;
}

char *alert_to_json(const struct alert *a)
{
    json_t *o = alert_to_json_obj(a);
    if (!o)
        return NULL;
    char *s = json_dumps(o, ALERT_JSON_FLAGS);
    json_decref(o);
    return s;
}
