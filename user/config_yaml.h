/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * config_yaml.h: what the parts of the config loader share (config_*.c,
 * not the rest of floodgate: config.h is the public side). The file's
 * shape is the libcyaml schema (config_schema.c); every leaf is loaded
 * as a string and goes through the parsers of util.c, so the file and
 * the command line accept the same syntax. Loading takes four steps:
 *
 * 1. libyaml builds the node tree: it knows the line and column of every
 *    key and value, and reports syntax errors with their position
 *    (config_yaml.c).
 * 2. A walk of that tree against the same libcyaml schema reports every
 *    structural problem (unknown or repeated key, a list where one value
 *    belongs, too many entries) at its position. libcyaml stops at the
 *    first problem and places it only roughly, and `config check` must
 *    list them all (config_walk.c).
 * 3. libcyaml loads the document into the y_* structs: the file itself
 *    when the walk found nothing (its own errors, should it find one the
 *    walk missed, are taken from its log and reported with the line and
 *    column of its backtrace), else a copy without the bad parts, so the
 *    values that remain still get checked (config_yaml.c).
 * 4. Every value is parsed and the cross-field checks run; each problem is
 *    reported at the position of the value that causes it
 *    (config_load.c).
 *
 * Problems are recorded with their position (config_diag.c); `config
 * apply` (config_apply.c) validates first, then replaces the allow and
 * deny lists and swaps the rule set in one commit; `config dump`
 * (config_dump.c) writes the live state in this format, and applying a
 * dump changes nothing. The `config` command is config_cmd.c.
 */
#ifndef FG_CONFIG_YAML_H
#define FG_CONFIG_YAML_H

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <cyaml/cyaml.h>
#include <yaml.h>

#include "util.h"
#include "maps.h"
#include "attach.h"
#include "config.h"
#include "rule.h"

#define CFG_FILE_MAX	(16 << 20)    /* bytes: a config file is small, refuse a runaway one */
#define CFG_EVENTS_MAX	1000000	      /* ban events per second */
#define CFG_NEW_SRC_MAX 1000000000ULL /* new sources per second of the under-attack threshold */
#define CFG_TOP_MAX	10000	      /* metrics top_sources */
#define CFG_FORGET_DEF	86400	      /* seconds: ban_policy forget_after when not given */
#define CFG_CHECK_HZ	1000	      /* `config check` only validates: any tick rate does */
#define CFG_WHAT	128	      /* bytes of a "section: key" label */

/* ---- the file as libcyaml loads it: every leaf a string ---------------- */

/* A rule: `default:` or one entry of `endpoints:`. NULL = not given. */
struct y_rule {
	char *endpoint;	    /* endpoints only: tcp/PORT, udp/PORT, tcp/LO-HI, udp/LO-HI */
	char *v[FG_RF_MAX]; /* the rule fields (rule.h), as written */
};

/* `ban_policy:` */
struct y_policy {
	char *forget_after;	 /* DURATION after a ban ends before its strikes are forgotten */
	char *events_per_second; /* ban events per second to the ring buffer */
};

/* `under_attack:` */
struct y_attack {
	char *new_sources_per_second; /* new sources per second, all CPUs, 0 or off = never */
};

/* `tables:` */
struct y_tables {
	char *sources; /* fg_sources entries */
	char *bans;    /* fg_bans entries */
	char *lists;   /* fg_lists entries */
};

/* `metrics:` */
struct y_metrics {
	char *listen;	   /* ADDR:PORT or [ADDR]:PORT */
	char *top_sources; /* per-source series for the top N sources */
};

/* `fleet:` (fleet.h) */
struct y_fleet {
	char *redis;	     /* HOST:PORT, [V6]:PORT or unix:/PATH */
	char *password_file; /* "PASSWORD" or "USER PASSWORD", mode 0600 or stricter */
	char *node;	     /* this node's name */
	char *ns;	     /* `namespace`: prefix of keys and channels */
	char *publish;	     /* auto, manual, both, none */
	char *accept;	     /* true, false */
	char *min_prefix4;   /* shortest IPv4 fleet ban accepted */
	char *min_prefix6;   /* shortest IPv6 fleet ban accepted */
	char *max_bans;	     /* fleet bans applied at once */
	char *queue;	     /* local bans kept while Redis is away */
};

/* The whole file. */
struct y_file {
	char **interfaces;	       /* interface names */
	unsigned int interfaces_count; /* entries in interfaces */
	struct y_rule *def;	       /* `default:` */
	struct y_rule *endpoints;      /* `endpoints:` */
	unsigned int endpoints_count;  /* entries in endpoints */
	char **allow;		       /* allow list CIDRs */
	unsigned int allow_count;      /* entries in allow */
	char **deny;		       /* deny list CIDRs */
	unsigned int deny_count;       /* entries in deny */
	struct y_policy *ban_policy;   /* `ban_policy:` */
	struct y_attack *under_attack; /* `under_attack:` */
	struct y_tables *tables;       /* `tables:` */
	struct y_metrics *metrics;     /* `metrics:` */
	struct y_fleet *fleet;	       /* `fleet:` */
};

/* The whole file's schema (config_schema.c). */
extern const cyaml_schema_value_t cfg_file_schema;
/* Free a loaded or dumped y_file (NULL: nothing). */
void y_free(struct y_file *y);

/* A size under tables:, its range, and where it goes. */
struct cfg_table_key {
	const char *key; /* key under tables: */
	size_t y_off;	 /* offsetof(struct y_tables, ...) */
	size_t out_off;	 /* offsetof(struct fg_sizes, ...) */
	size_t fd_off;	 /* offsetof(struct fg_maps, ...): the live table's fd */
	__u64 min, max;	 /* accepted range */
};
#define CFG_TABLE_KEYS 3
extern const struct cfg_table_key cfg_table_keys[CFG_TABLE_KEYS];

/* ---- problems, with their position (config_diag.c) -------------------- */

/* Everything a load needs and finds. */
struct cfg_load {
	const char *path;    /* the file as named, for messages */
	__u64 hz;	     /* ticks per second: durations become ticks */
	yaml_document_t doc; /* libyaml's node tree: positions */
	bool have_doc;	     /* doc holds a tree to free */
	unsigned char *bad;  /* per node (id - 1): reported by the walk, left out of the load */
	size_t n_nodes;	     /* entries in bad */
	bool sanitize;	     /* the walk found problems: libcyaml loads a cleaned copy */
	struct fg_diag *d;   /* problems so far */
	size_t n_d;	     /* entries in d */
	size_t cap_d;	     /* allocated entries of d */
	int errors;	     /* entries of d that are errors */
	yaml_node_t *at;     /* where a problem reported through error() goes (NULL: the top) */
	char cy_msg[256];    /* libcyaml's first error message */
	unsigned int cy_line, cy_col; /* where libcyaml's backtrace placed it */
};

void cfg_diag_vadd(struct cfg_load *l, unsigned int line, unsigned int col, bool warn,
		   const char *fmt, va_list ap);
/* A problem at node n (NULL: the top of the file). */
void __attribute__((format(printf, 4, 5)))
cfg_diag(struct cfg_load *l, const yaml_node_t *n, bool warn, const char *fmt, ...);
void __attribute__((format(printf, 5, 6)))
cfg_diag_at(struct cfg_load *l, unsigned int line, unsigned int col, bool warn, const char *fmt, ...);
/* Sort by position and drop repeats (an alias reaches one bad node twice). */
void cfg_diag_sort(struct cfg_load *l);
/* FILE:LINE:COL: error: MSG lines on stderr. */
void cfg_diag_print(const char *path, const struct fg_diags *d);
/* The error routine while values are checked: a problem at l->at. */
void cfg_load_report(void *ctx, bool warn, const char *msg);

/* Run a util.c parser (or anything that reports through error()) with its problem placed at node. */
#define AT(l, node, call)                                                                          \
	({                                                                                         \
		int _e;                                                                            \
                                                                                                   \
		(l)->at = (node);                                                                  \
		_e = (call);                                                                       \
		(l)->at = NULL;                                                                    \
		_e;                                                                                \
	})

/* ---- the node tree (config_diag.c) ----------------------------------- */

yaml_node_t *y_node(struct cfg_load *l, int id);
size_t y_node_idx(const struct cfg_load *l, const yaml_node_t *n);
/* Reported by the walk, left out of the load. */
bool y_is_bad(const struct cfg_load *l, const yaml_node_t *n);
/* A scalar's text, NULL for anything else. */
const char *y_scalar(const yaml_node_t *n);
/* Value node of `key` in mapping node map (the first one), NULL when absent. */
yaml_node_t *y_map_get(struct cfg_load *l, const yaml_node_t *map, const char *key);
yaml_node_t *y_seq_item(struct cfg_load *l, const yaml_node_t *seq, size_t i);
/* libcyaml's NULL for CYAML_FLAG_POINTER_NULL_STR: empty, ~ or null. */
bool y_is_null(const yaml_node_t *n);
/* "a mapping", "a list", "a single value". */
const char *y_kind_name(const yaml_node_t *n);

/* ---- loading ----------------------------------------------------------- */

/* A structural problem: reported, and node n is left out of the load (config_walk.c). */
void __attribute__((format(printf, 3, 4)))
cfg_bad(struct cfg_load *l, const yaml_node_t *n, const char *fmt, ...);
/* How an entry of `endpoints:` is named in messages: its endpoint, else its number (config_walk.c). */
void cfg_entry_label(struct cfg_load *l, yaml_node_t *item, size_t i, char *buf, size_t len);
/*
 * Report every structural problem of the tree under n against schema s,
 * marking the bad nodes (step 2, config_walk.c); what names the place.
 */
void cfg_walk(struct cfg_load *l, yaml_node_t *n, const cyaml_schema_value_t *s, const char *what);
/* The document without its bad nodes, as flow YAML (config_walk.c). */
void cfg_emit(struct cfg_load *l, FILE *f, yaml_node_t *n, const cyaml_schema_value_t *s);
/* Steps 1-3 (config_yaml.c): *out is the loaded file, NULL for an empty one. 0 or -errno. */
int cfg_load_yaml(struct cfg_load *l, struct y_file **out);
/* All four steps (config_load.c); the problems are left in l, sorted. 0 or -errno. */
int cfg_load_file(struct cfg_load *l, const char *path, __u64 hz, struct fg_file_config *out);
void cfg_load_free(struct cfg_load *l);

/* Two prefixes are the same. */
static inline bool cfg_same_cidr(const struct fg_cidr *a, const struct fg_cidr *b)
{
	return a->family == b->family && a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

/* ---- dump (config_dump.c) ---------------------------------------------- */

/* The live state as a y_file (every string on the heap: y_free releases it). 0 or -errno. */
int cfg_dump_build(const struct fg_maps *m, struct y_file **out);
/* A y_* value as JSON, driven by its schema: digit strings become numbers. */
struct json_object *cfg_to_json(const void *data, const cyaml_schema_value_t *s);

#endif /* FG_CONFIG_YAML_H */
