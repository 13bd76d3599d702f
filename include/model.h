/*
 * model.h — the model file: one or more named sections ("source", "destination",
 * "prefix", or "forest" for `tapir forest`), each a fitted Isolation Forest with the
 * feature names, scaling and threshold it was trained with. Versioned and checksummed;
 * the layout is in forest/model.c's header.
 *
 * A struct model owns everything it points to; model_free releases it. Loading and saving
 * run in set-up paths (CLI, analyzer start, SIGHUP reload), never per packet.
 */
#ifndef TAPIR_MODEL_H
#define TAPIR_MODEL_H

#include <stdint.h>

#include "iforest.h"
#include "tapir.h"

#define MODEL_FORMAT_VERSION                                                                       \
    4 /* 2: training rows, pooling, limit factor, medians, notes;                                  \
         3: the conversations section; 4: the per-second rate maxima */
#define MODEL_MAX_SECTIONS   64
#define MODEL_NAME_LEN       16 /* section name, NUL included */
#define MODEL_FEATURE_LEN    40 /* feature name, NUL included */
#define MODEL_ID_LEN         40
#define MODEL_TRAINED_ON_LEN 128
#define MODEL_NOTES_LEN      512        /* what training could not do, NUL included */
#define MODEL_MAX_BYTES      (1u << 30) /* a bigger file is refused, not read */

/* Per-feature scaling the analyzer applies before scoring (stored, not applied, here):
 * the one list of codes, used by the feature lists of behaviour.h, the model file (as u8)
 * and `tapir model info`. The values are in model files: append, never renumber. */
enum model_scaling {
    MODEL_SCALE_RAW = 0,
    MODEL_SCALE_LOG1P = 1,
    MODEL_SCALE_RATIO = 2,
};

struct model_section {
    char name[MODEL_NAME_LEN];
    iforest_t *forest;                        /* owned */
    uint32_t n_features;                      /* == iforest_n_features(forest) */
    char (*feature_names)[MODEL_FEATURE_LEN]; /* n_features, owned */
    uint8_t *scaling;                         /* n_features enum model_scaling codes, owned */
    double threshold;                         /* score at or above which a vector is an anomaly */
    double contamination; /* share of training rows above threshold; 0 if fixed */
    double *train_mean;   /* n_features or NULL, owned */
    double *train_std;    /* n_features or NULL (both or neither), owned */
    double *train_max;    /* n_features or NULL (needs mean/std too): largest training
                             value, scaled; bounds the 'threshold' rules; owned */
    double *train_median; /* n_features or NULL (needs mean/std too): median training value,
                             scaled; the forest's "quiet side" is below it; owned */
    uint64_t train_rows;  /* vectors the forest was fitted on (0: not recorded) */
    uint64_t pooled_rows; /* of those, borrowed from another side (prefix: source vectors) */
    double limit_factor;  /* learned limits fire at this many times train_max; 0: none */
};

/* What the conversation detectors (analyzer/conv.c) learned in training: the
 * conversations and services that were periodic or login-like (and how fast), those with
 * bulk uploads, and the largest upload episode per host and network-wide. Capped: what
 * did not fit is counted, not kept. */
#define MODEL_CONV_MAX_KNOWN 8192 /* conversations and services kept */
#define MODEL_CONV_MAX_HOSTS 8192 /* hosts with a learned upload maximum */
enum { MODEL_CONV_PERIODIC = 1, MODEL_CONV_LOGIN = 2, MODEL_CONV_BULK = 4 };
struct model_conv_known {
    struct ip_addr src; /* all zero: the service (dst, port, proto), whatever the source */
    struct ip_addr dst;
    uint16_t port;
    uint8_t proto;
    uint8_t kinds;     /* MODEL_CONV_* seen in training */
    uint32_t sources;  /* service: sources seen periodic or login-like to it */
    double periodic_s; /* shortest median interval while periodic, s */
    double login_s;    /* shortest median interval between login-like sessions, s */
    double bulk_bytes; /* largest upload episode (bytes out - in), bytes */
};
struct model_conv_host {
    struct ip_addr ip;
    uint64_t up_src[2]; /* largest upload episode it sent, bytes: [0] internal, [1] public */
};
struct model_conv {
    uint8_t present;        /* 1: learned (0: trained without conversations) */
    uint64_t up_net[2];     /* largest upload episode: [0] internal, [1] public, bytes */
    uint64_t known_dropped; /* conversations or services that did not fit */
    uint64_t hosts_dropped; /* hosts that did not fit */
    uint32_t n_known, n_hosts;
    struct model_conv_known *known; /* n_known, owned */
    struct model_conv_host *hosts;  /* n_hosts, owned */
};

/* What the per-second flood counters (sensor/rate.c) saw in training: the largest
 * one-second rate of any IP, per side (0 source, 1 destination) and kind (0 unanswered
 * SYNs, 1 UDP, 2 ICMP, 3 amplification: window.h's enum rate_kind), packets/s. */
#define MODEL_RATE_SIDES 2
#define MODEL_RATE_KINDS 4
struct model_rate {
    uint8_t present;  /* 1: learned (0: trained without the counters) */
    uint32_t seconds; /* packet-time seconds they cover */
    double max_pps[MODEL_RATE_SIDES][MODEL_RATE_KINDS]; /* packets/s */
};

struct model {
    char id[MODEL_ID_LEN];                 /* e.g. model_assign_id's 16 hex digits */
    uint64_t created_us;                   /* microseconds since the epoch */
    char trained_on[MODEL_TRAINED_ON_LEN]; /* free text: input files, window range, ... */
    char notes[MODEL_NOTES_LEN];           /* free text: sides trained on too few vectors and
                                              what they fell back to; "" when none */
    uint32_t n_sections;
    struct model_section *sections; /* n_sections, owned */
    struct model_conv conv;         /* the conversation detectors' section */
    struct model_rate rate;         /* the flood counters' section (version 4) */
};

/* Writes m to path atomically: a temporary file in the same directory, fsync, rename.
 * Returns 0, or -1 with errbuf (TAPIR_ERRBUF_SIZE) filled. */
int model_save(const struct model *m, const char *path, char *errbuf);

/* Reads path into *out (zeroed first). Returns 0, or -1 with errbuf filled and *out
 * empty; every failure is one sentence naming the file: "X: not a Tapir model file",
 * "X: truncated (N of M bytes)", "X: checksum mismatch: corrupt file", "X: model format
 * version 7, this tapir reads 2: retrain it", "X: malformed model: ...". A hostile file cannot make
 * it read out of bounds, loop, or allocate more than the file's size suggests. */
int model_load(const char *path, struct model *out, char *errbuf);

/* The section called name, or NULL. Borrowed from m. */
const struct model_section *model_find(const struct model *m, const char *name);

/* 0 if the section was trained on exactly these feature names in this order; else -1
 * with errbuf naming the first difference. */
int model_check_features(const struct model_section *s, const char *const *names, uint32_t n,
                         char *errbuf);

/* Sets m->id to 16 hex digits of a hash over m's content and created time. Returns 0, or
 * -1 out of memory. */
int model_assign_id(struct model *m);

/* Allocates a section's per-feature arrays (names, scaling zeroed = raw; no mean/std) for
 * n features. Returns 0 or -1. */
int model_section_alloc(struct model_section *s, uint32_t n_features);

/* Frees everything m owns and zeroes it. NULL ok. */
void model_free(struct model *m);

#endif
