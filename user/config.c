// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * config.c: the YAML config file, and `floodgate config check|apply|dump`.
 *
 * The file's shape is the libcyaml schema below; every leaf is loaded as a
 * string and goes through the parsers of util.c, so the file and the
 * command line accept the same syntax. Loading takes four steps:
 *
 * 1. libyaml builds the node tree: it knows the line and column of every
 *    key and value, and reports syntax errors with their position.
 * 2. A walk of that tree against the same libcyaml schema reports every
 *    structural problem (unknown or repeated key, a list where one value
 *    belongs, too many entries) at its position. libcyaml stops at the
 *    first problem and places it only roughly, and `config check` must
 *    list them all.
 * 3. libcyaml loads the document into the y_* structs: the file itself
 *    when the walk found nothing (its own errors, should it find one the
 *    walk missed, are captured from its log and reported with the line
 *    and column of its backtrace), else a copy without the bad parts, so
 *    the values that remain still get checked.
 * 4. Every value is parsed and the cross-field checks run; each problem is
 *    reported at the position of the value that causes it.
 *
 * `config apply` validates first, then replaces the allow and deny lists
 * and swaps the rule set in one commit; `config dump` prints the live
 * state in this format, and applying a dump changes nothing.
 */
#define _GNU_SOURCE /* asprintf, vasprintf, open_memstream */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <cyaml/cyaml.h>
#include <json-c/json.h>
#include <yaml.h>

#include "fg.h"
#include "synproxy.h"
#include "cmds.h"
#include "metrics.h"

#define CFG_FILE_MAX	(16 << 20)    /* bytes: a config file is small, refuse a runaway one */
#define CFG_PPS_MAX	1000000000ULL /* packets per second a limit may name (as limit set) */
#define CFG_BURST_MAX	1000000000ULL /* packets a burst may hold */
#define CFG_BYTES_MAX	(1ULL << 32)  /* bytes a byte burst may hold (fg_parse_size's limit) */
#define CFG_FRAME	1514	/* a full-size Ethernet frame: the smallest useful byte burst */
#define CFG_MULT_MAX	1000	/* ban multiplier (as limit set) */
#define CFG_EVENTS_MAX	1000000 /* ban events per second */
#define CFG_NEW_SRC_MAX 1000000000ULL /* new sources per second of the under-attack threshold */
#define CFG_TOP_MAX	10000	      /* metrics top_sources */
#define CFG_FORGET_DEF	86400	      /* seconds: ban_policy forget_after when not given */
#define CFG_CHECK_HZ	1000	      /* `config check` only validates: any tick rate does */
#define CFG_WHAT	128	      /* bytes of a "section: key" label */

/* ---- the file as libcyaml loads it: every leaf a string ---------------- */

/* A rule: `default:` or one entry of `endpoints:`. NULL = not given. */
struct y_rule {
	char *endpoint;	      /* endpoints only: tcp/PORT, udp/PORT, tcp/LO-HI, udp/LO-HI */
	char *pps;	      /* per-source packets per second, or off */
	char *burst;	      /* per-source packet burst */
	char *bps;	      /* per-source bits per second (RATE), or off */
	char *bps_burst;      /* per-source byte burst (SIZE) */
	char *syn_pps;	      /* per-source TCP SYN per second, or off */
	char *syn_burst;      /* per-source SYN burst */
	char *total_pps;      /* all sources together, packets per second, or off */
	char *total_burst;    /* all sources together, burst */
	char *prefix4;	      /* IPv4 prefix length sources are counted at */
	char *prefix6;	      /* IPv6 prefix length sources are counted at */
	char *action;	      /* drop, monitor or ban */
	char *ban_for;	      /* first ban length (DURATION) */
	char *ban_multiplier; /* each strike multiplies the ban by this */
	char *ban_max;	      /* longest ban (DURATION) */
	char *syn_proxy;      /* TCP endpoints: on or off (user/synproxy.c) */
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
};

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
/* Sections and lists may be left empty (`deny:` with every entry commented out). */
#define OPT_NULL     (CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL)
#define STR(k, s, m) CYAML_FIELD_STRING_PTR(k, OPT, s, m, 0, CYAML_UNLIMITED)

#define RULE_FIELDS                                                                                 \
	STR("pps", struct y_rule, pps), STR("burst", struct y_rule, burst),                         \
		STR("bps", struct y_rule, bps), STR("bps_burst", struct y_rule, bps_burst),         \
		STR("syn_pps", struct y_rule, syn_pps), STR("syn_burst", struct y_rule, syn_burst), \
		STR("total_pps", struct y_rule, total_pps),                                         \
		STR("total_burst", struct y_rule, total_burst),                                     \
		STR("prefix4", struct y_rule, prefix4), STR("prefix6", struct y_rule, prefix6),     \
		STR("action", struct y_rule, action), STR("ban_for", struct y_rule, ban_for),       \
		STR("ban_multiplier", struct y_rule, ban_multiplier),                               \
		STR("ban_max", struct y_rule, ban_max), STR("syn_proxy", struct y_rule, syn_proxy)

static const cyaml_schema_field_t default_fields[] = {
	RULE_FIELDS,
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t endpoint_fields[] = {
	STR("endpoint", struct y_rule, endpoint),
	RULE_FIELDS,
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t endpoint_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct y_rule, endpoint_fields),
};

static const cyaml_schema_value_t string_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_value_t ifname_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, IF_NAMESIZE - 1),
};

static const cyaml_schema_field_t policy_fields[] = {
	STR("forget_after", struct y_policy, forget_after),
	STR("events_per_second", struct y_policy, events_per_second),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t attack_fields[] = {
	STR("new_sources_per_second", struct y_attack, new_sources_per_second),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t tables_fields[] = {
	STR("sources", struct y_tables, sources),
	STR("bans", struct y_tables, bans),
	STR("lists", struct y_tables, lists),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t metrics_fields[] = {
	STR("listen", struct y_metrics, listen),
	STR("top_sources", struct y_metrics, top_sources),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t file_fields[] = {
	CYAML_FIELD_SEQUENCE("interfaces", OPT_NULL, struct y_file, interfaces, &ifname_entry, 0,
			     FG_MAX_IFACES),
	CYAML_FIELD_MAPPING_PTR("default", OPT_NULL, struct y_file, def, default_fields),
	CYAML_FIELD_SEQUENCE("endpoints", OPT_NULL, struct y_file, endpoints, &endpoint_entry, 0,
			     FG_MAX_RULES - 1),
	CYAML_FIELD_SEQUENCE("allow", OPT_NULL, struct y_file, allow, &string_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("deny", OPT_NULL, struct y_file, deny, &string_entry, 0, CYAML_UNLIMITED),
	CYAML_FIELD_MAPPING_PTR("ban_policy", OPT_NULL, struct y_file, ban_policy, policy_fields),
	CYAML_FIELD_MAPPING_PTR("under_attack", OPT_NULL, struct y_file, under_attack, attack_fields),
	CYAML_FIELD_MAPPING_PTR("tables", OPT_NULL, struct y_file, tables, tables_fields),
	CYAML_FIELD_MAPPING_PTR("metrics", OPT_NULL, struct y_file, metrics, metrics_fields),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t file_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct y_file, file_fields),
};

/* ---- problems, with their position ------------------------------------- */

/* One problem found in the file: FILE:LINE:COL: error: MSG. */
struct diag {
	unsigned int line; /* 1-based */
	unsigned int col;  /* 1-based */
	unsigned int seq;  /* order of discovery: keeps the sort stable */
	bool warn;	   /* a warning: printed, not counted */
	char *msg;	   /* the message, without "error: " (NULL: out of memory) */
};

/* Everything a load needs and finds. */
struct load {
	const char *path;    /* the file as named, for messages */
	__u64 hz;	     /* ticks per second: durations become ticks */
	yaml_document_t doc; /* libyaml's node tree: positions */
	bool have_doc;	     /* doc holds a tree to free */
	unsigned char *bad;  /* per node (id - 1): reported by the walk, left out of the load */
	size_t n_nodes;	     /* entries in bad */
	bool sanitize;	     /* the walk found problems: libcyaml loads a cleaned copy */
	struct diag *d;	     /* problems so far */
	size_t n_d;	     /* entries in d */
	size_t cap_d;	     /* allocated entries of d */
	int errors;	     /* entries of d that are errors */
	char cy_msg[256];    /* libcyaml's first error message */
	unsigned int cy_line, cy_col; /* where libcyaml's backtrace placed it */
};

static void diag_vadd(struct load *l, unsigned int line, unsigned int col, bool warn,
		      const char *fmt, va_list ap)
{
	struct diag *d;
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (l->n_d == l->cap_d) {
		size_t cap = l->cap_d ? 2 * l->cap_d : 16;

		d = realloc(l->d, cap * sizeof(*d));
		if (!d) {
			free(msg);
			l->errors += !warn; /* still counted: the file is not valid */
			return;
		}
		l->d = d;
		l->cap_d = cap;
	}
	d = &l->d[l->n_d];
	*d = (struct diag){
		.line = line ?: 1, .col = col ?: 1, .seq = l->n_d, .warn = warn, .msg = msg
	};
	l->n_d++;
	l->errors += !warn;
}

/* A problem at node n (NULL: the top of the file). */
static void __attribute__((format(printf, 4, 5)))
diag(struct load *l, const yaml_node_t *n, bool warn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(l, n ? n->start_mark.line + 1 : 1, n ? n->start_mark.column + 1 : 1, warn, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 5, 6)))
diag_at(struct load *l, unsigned int line, unsigned int col, bool warn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(l, line, col, warn, fmt, ap);
	va_end(ap);
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort by position and drop repeats (an alias reaches one bad node twice). */
static void diag_sort(struct load *l)
{
	size_t i, n = 0;

	if (!l->n_d)
		return;
	qsort(l->d, l->n_d, sizeof(*l->d), diag_cmp);
	for (i = 0; i < l->n_d; i++) {
		struct diag *p = n ? &l->d[n - 1] : NULL;

		if (p && p->line == l->d[i].line && p->col == l->d[i].col && p->warn == l->d[i].warn &&
		    p->msg && l->d[i].msg && !strcmp(p->msg, l->d[i].msg)) {
			l->errors -= !l->d[i].warn;
			free(l->d[i].msg);
			continue;
		}
		l->d[n++] = l->d[i];
	}
	l->n_d = n;
}

static void diag_print(const struct load *l)
{
	size_t i;

	for (i = 0; i < l->n_d; i++)
		fprintf(stderr, "%s:%u:%u: %s: %s\n", l->path, l->d[i].line, l->d[i].col,
			l->d[i].warn ? "warning" : "error",
			l->d[i].msg ? l->d[i].msg : "out of memory");
}

/*
 * The parsers of util.c print their one `error: ...` line to stderr. To
 * place it in the file, stderr is pointed at a memory stream around the
 * call (glibc's stderr is an assignable variable, as its manual says) and
 * each captured line becomes a problem at the value's node.
 */
struct capture {
	FILE *saved; /* the real stderr */
	FILE *mem;   /* the memory stream, NULL when none could be opened */
	char *buf;   /* what was written */
	size_t len;  /* bytes in buf */
};

static void capture_begin(struct capture *c)
{
	c->buf = NULL;
	c->len = 0;
	c->saved = stderr;
	c->mem = open_memstream(&c->buf, &c->len);
	if (c->mem)
		stderr = c->mem;
}

/* Restore stderr; returns what was captured (free it), NULL when nothing could be. */
static char *capture_stop(struct capture *c)
{
	if (!c->mem)
		return NULL; /* the messages went to the real stderr, unplaced */
	fclose(c->mem);
	stderr = c->saved;
	return c->buf;
}

static void capture_end(struct load *l, struct capture *c, const yaml_node_t *at)
{
	char *buf = capture_stop(c), *line, *next;

	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strncmp(line, "error: ", 7))
			diag(l, at, false, "%s", line + 7);
		else if (!strncmp(line, "warning: ", 9))
			diag(l, at, true, "%s", line + 9);
		else if (*line)
			diag(l, at, false, "%s", line);
	}
	free(buf);
}

/* Run a util.c parser (or anything that reports through error()) with its message placed at node. */
#define PLACED(l, node, call)                                                                      \
	({                                                                                         \
		struct capture _c;                                                                 \
		int _e;                                                                            \
                                                                                                   \
		capture_begin(&_c);                                                                \
		_e = (call);                                                                       \
		capture_end((l), &_c, (node));                                                     \
		_e;                                                                                \
	})

/* ---- the node tree ----------------------------------------------------- */

static yaml_node_t *node(struct load *l, int id)
{
	return l->have_doc ? yaml_document_get_node(&l->doc, id) : NULL;
}

static size_t node_idx(const struct load *l, const yaml_node_t *n)
{
	return n - l->doc.nodes.start;
}

static bool is_bad(const struct load *l, const yaml_node_t *n)
{
	return n && node_idx(l, n) < l->n_nodes && l->bad[node_idx(l, n)];
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Value node of `key` in mapping node map (the first one), NULL when absent. */
static yaml_node_t *map_get(struct load *l, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = scalar(node(l, p->key));

		if (k && !strcmp(k, key))
			return node(l, p->value);
	}
	return NULL;
}

static yaml_node_t *seq_item(struct load *l, const yaml_node_t *seq, size_t i)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE ||
	    i >= (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start))
		return NULL;
	return node(l, seq->data.sequence.items.start[i]);
}

/* libcyaml's NULL for CYAML_FLAG_POINTER_NULL_STR: empty, ~ or null. */
static bool is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	const char *s = scalar(n);
	size_t i;

	for (i = 0; s && i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!strcmp(s, nulls[i]))
			return true;
	return false;
}

static const char *kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a single value";
	}
}

/* ---- step 2: the structural walk --------------------------------------- */

/* A structural problem: reported, and the node is left out of the load. */
static void __attribute__((format(printf, 3, 4)))
bad(struct load *l, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(l, n->start_mark.line + 1, n->start_mark.column + 1, false, fmt, ap);
	va_end(ap);
	if (node_idx(l, n) < l->n_nodes)
		l->bad[node_idx(l, n)] = 1;
	l->sanitize = true;
}

/* Edit distance of two short keys, for "did you mean"; large when either is long. */
static unsigned int distance(const char *a, const char *b)
{
	unsigned int d[33][33], i, j, la = strlen(a), lb = strlen(b);

	if (la > 32 || lb > 32)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			unsigned int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			unsigned int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;

			d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
	return d[la][lb];
}

static void walk(struct load *l, yaml_node_t *n, const cyaml_schema_value_t *s, const char *what);

static void walk_mapping(struct load *l, yaml_node_t *n, const cyaml_schema_value_t *s,
			 const char *what)
{
	const char *sep = *what ? ": " : "";
	yaml_node_pair_t *p, *q;

	if (n->type != YAML_MAPPING_NODE) {
		bad(l, n, "%s%sexpected KEY: VALUE lines, got %s", what, sep, kind_name(n));
		return;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
		const cyaml_schema_field_t *f, *best = NULL;
		const char *key = scalar(k);
		char sub[CFG_WHAT];
		bool dup = false;

		if (!key) {
			bad(l, k, "%s%sa key must be a name, got %s", what, sep, kind_name(k));
			continue;
		}
		for (f = s->mapping.fields; f->key && strcmp(f->key, key); f++)
			if (!best || distance(f->key, key) < distance(best->key, key))
				best = f;
		if (!f->key) {
			if (best && distance(best->key, key) <= 2)
				bad(l, k, "%s%sunknown key '%s' (did you mean '%s'?)", what, sep,
				    key, best->key);
			else
				bad(l, k, "%s%sunknown key '%s'", what, sep, key);
			continue;
		}
		for (q = n->data.mapping.pairs.start; q < p && !dup; q++) {
			yaml_node_t *qk = node(l, q->key);

			if (scalar(qk) && !strcmp(scalar(qk), key)) {
				bad(l, k, "%s%s'%s' given twice (first on line %zu)", what, sep,
				    key, qk->start_mark.line + 1);
				dup = true;
			}
		}
		if (dup)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", what, sep, key);
		walk(l, v, &f->value, sub);
	}
}

/* How an entry of `endpoints:` is named in messages: its endpoint, else its number. */
static void entry_label(struct load *l, yaml_node_t *item, size_t i, char *buf, size_t len)
{
	const char *ep = scalar(map_get(l, item, "endpoint"));

	if (ep && *ep && strlen(ep) < 40)
		snprintf(buf, len, "%s", ep);
	else
		snprintf(buf, len, "endpoints entry %zu", i + 1);
}

static void walk(struct load *l, yaml_node_t *n, const cyaml_schema_value_t *s, const char *what)
{
	const bool nullable = (s->flags & CYAML_FLAG_POINTER_NULL) == CYAML_FLAG_POINTER_NULL;
	const char *v;
	size_t i, count;

	switch (s->type) {
	case CYAML_MAPPING:
		if (!(nullable && is_null(n)))
			walk_mapping(l, n, s, what);
		break;
	case CYAML_SEQUENCE:
		if (nullable && is_null(n))
			break;
		if (n->type != YAML_SEQUENCE_NODE) {
			bad(l, n, "%s: expected a list ('- ITEM' lines or [A, B]), got %s", what,
			    kind_name(n));
			break;
		}
		count = n->data.sequence.items.top - n->data.sequence.items.start;
		for (i = 0; i < count; i++) {
			yaml_node_t *item = seq_item(l, n, i);
			char label[CFG_WHAT];

			if (i == s->sequence.max) {
				/* the cleaned copy stops at max: the entries after it are not loaded */
				diag(l, item, false, "%s: more than %u entries", what,
				     s->sequence.max);
				l->sanitize = true;
				break;
			}
			if (s->sequence.entry->type == CYAML_MAPPING)
				entry_label(l, item, i, label, sizeof(label));
			else
				snprintf(label, sizeof(label), "%s", what);
			walk(l, item, s->sequence.entry, label);
		}
		break;
	case CYAML_STRING:
		v = scalar(n);
		if (!v)
			bad(l, n, "%s: expected one value, got %s", what, kind_name(n));
		else if (strlen(v) > s->string.max)
			bad(l, n, "%s: %s: longer than %u characters", what, v, s->string.max);
		else if (strlen(v) < s->string.min)
			bad(l, n, "%s: empty value", what);
		break;
	default:
		break;
	}
}

/* ---- step 3: libcyaml ---------------------------------------------------- */

static void emit_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/*
 * The document without its bad parts, as flow YAML: a bad mapping entry is
 * left out, a bad list entry becomes a placeholder so that the entries
 * after it keep their index (the checks skip placeholders).
 */
static void emit(struct load *l, FILE *f, yaml_node_t *n, const cyaml_schema_value_t *s)
{
	const char *sep = "";
	size_t i, count;

	switch (s->type) {
	case CYAML_MAPPING:
		fputc('{', f);
		count = n->type == YAML_MAPPING_NODE
				? n->data.mapping.pairs.top - n->data.mapping.pairs.start
				: 0;
		for (i = 0; i < count; i++) {
			yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
			yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
			const cyaml_schema_field_t *fl;

			if (is_bad(l, k) || is_bad(l, v) || !scalar(k))
				continue;
			for (fl = s->mapping.fields; fl->key && strcmp(fl->key, scalar(k)); fl++)
				;
			if (!fl->key)
				continue;
			fputs(sep, f);
			emit_str(f, fl->key);
			fputs(": ", f);
			if (fl->value.type == CYAML_MAPPING && is_null(v))
				fputs("{}", f);
			else if (fl->value.type == CYAML_SEQUENCE && is_null(v))
				fputs("[]", f);
			else
				emit(l, f, v, &fl->value);
			sep = ", ";
		}
		fputc('}', f);
		break;
	case CYAML_SEQUENCE:
		fputc('[', f);
		count = n->type == YAML_SEQUENCE_NODE
				? n->data.sequence.items.top - n->data.sequence.items.start
				: 0;
		for (i = 0; i < count && i < s->sequence.max; i++) {
			yaml_node_t *item = seq_item(l, n, i);

			fputs(sep, f);
			if (is_bad(l, item) && s->sequence.entry->type == CYAML_MAPPING)
				fputs("{}", f);
			else if (is_bad(l, item)) /* the shortest string the schema takes */
				fprintf(f, "\"%.*s\"", (int)s->sequence.entry->string.min,
					"????????????????");
			else
				emit(l, f, item, s->sequence.entry);
			sep = ", ";
		}
		fputc(']', f);
		break;
	default:
		emit_str(f, scalar(n) ?: "");
		break;
	}
}

/* "DIGITS" then `after` at s: the number and the position past `after`, or NULL. */
static const char *scan_uint(const char *s, const char *after, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return NULL; /* strtoul would also take spaces and a sign */
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || v > UINT_MAX || strncmp(end, after, strlen(after)))
		return NULL;
	*out = v;
	return end + strlen(after);
}

/* libcyaml's log: keep its first error and the position of the first backtrace line. */
static void cy_log(cyaml_log_t level, void *ctx, const char *fmt, va_list ap)
{
	struct load *l = ctx;
	unsigned int line, col;
	char buf[512], *p;
	const char *at;

	if (level < CYAML_LOG_ERROR)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	p = buf;
	if (!strncmp(p, "Load: ", 6))
		p += 6;
	if (!l->cy_msg[0]) {
		snprintf(l->cy_msg, sizeof(l->cy_msg), "%.*s", (int)sizeof(l->cy_msg) - 1, p);
		return;
	}
	at = strstr(p, "(line: ");
	if (!l->cy_line && at && (at = scan_uint(at + 7, ", column: ", &line)) &&
	    scan_uint(at, ")", &col)) {
		l->cy_line = line;
		l->cy_col = col;
	}
}

/* ---- steps 1 to 3: from bytes to the y_file ------------------------------ */

static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	char *b = NULL, *nb;
	int err = 0;

	if (!f)
		return error("config %s: %s", path, strerror(errno)), -errno;
	for (;;) {
		nb = realloc(b, cap + 1);
		if (!nb) {
			err = -ENOMEM;
			error("config %s: out of memory", path);
			break;
		}
		b = nb;
		n += fread(b + n, 1, cap - n, f);
		if (n < cap) {
			if (ferror(f)) {
				err = -EIO;
				error("config %s: read error", path);
			}
			break;
		}
		if (cap >= CFG_FILE_MAX) {
			err = -EFBIG;
			error("config %s: larger than %d MiB", path, CFG_FILE_MAX >> 20);
			break;
		}
		cap *= 2;
	}
	fclose(f);
	if (err) {
		free(b);
		return err;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static void parser_problem(struct load *l, yaml_parser_t *p, const char *buf, size_t len)
{
	const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->mark;
	const char *problem = p->problem ?: "YAML syntax error", *hint;

	if (p->error == YAML_READER_ERROR) { /* bad bytes: libyaml gives only the offset */
		unsigned int line = 1, col = 1;
		size_t i;

		for (i = 0; i < p->problem_offset && i < len; i++, col++)
			if (buf[i] == '\n') {
				line++;
				col = 0;
			}
		diag_at(l, line, col, false, "%s (byte offset %zu)", problem, p->problem_offset);
		return;
	}
	hint = m->index < len && buf[m->index] == '\t' ? " (a tab: YAML indents with spaces only)"
						       : "";
	if (p->context && p->context_mark.line != m->line)
		diag_at(l, m->line + 1, m->column + 1, false, "%s %s started on line %zu%s",
			problem, p->context, p->context_mark.line + 1, hint);
	else if (p->context)
		diag_at(l, m->line + 1, m->column + 1, false, "%s %s%s", problem, p->context, hint);
	else
		diag_at(l, m->line + 1, m->column + 1, false, "%s%s", problem, hint);
}

/*
 * Steps 1-3. *out is the loaded file, NULL for an empty one (or when
 * nothing could be loaded: then l->errors says why). Returns 0 or -errno
 * when the file cannot be read at all.
 */
static int load_yaml(struct load *l, struct y_file **out)
{
	cyaml_config_t cfg = {
		.log_fn = cy_log,
		.log_ctx = l,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
	};
	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_node_t *root;
	cyaml_err_t cerr;
	char *buf = NULL, *clean = NULL;
	size_t len = 0, clean_len = 0;
	FILE *f;
	int err;

	*out = NULL;
	if ((err = read_file(l->path, &buf, &len)))
		return err;
	if (!yaml_parser_initialize(&parser)) {
		free(buf);
		return error("config %s: cannot set up the YAML parser", l->path), -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &l->doc)) {
		parser_problem(l, &parser, buf, len);
		goto out;
	}
	l->have_doc = true;
	root = yaml_document_get_root_node(&l->doc);
	if (root) {
		/* libcyaml reads one document: a second one would be silently ignored */
		if (!yaml_parser_load(&parser, &extra)) {
			parser_problem(l, &parser, buf, len);
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2)
				diag(l, r2, false, "only one YAML document per file (remove '---')");
			yaml_document_delete(&extra);
		}
	}
	if (!root || is_null(root))
		goto out; /* an empty file: every built-in default */
	l->n_nodes = l->doc.nodes.top - l->doc.nodes.start;
	l->bad = calloc(l->n_nodes, 1);
	if (!l->bad) {
		err = -ENOMEM;
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		bad(l, root, "expected KEY: VALUE lines at the top of the file, got %s",
		    kind_name(root));
		goto out;
	}
	walk(l, root, &file_schema, "");
	if (l->errors && !l->sanitize)
		goto out; /* a second document: nothing more to check */
	if (l->sanitize) {
		f = open_memstream(&clean, &clean_len);
		if (!f) {
			err = -ENOMEM;
			goto out;
		}
		emit(l, f, root, &file_schema);
		fclose(f);
		cerr = cyaml_load_data((const uint8_t *)clean, clean_len, &cfg, &file_schema,
				       (cyaml_data_t **)out, NULL);
	} else {
		cerr = cyaml_load_data((const uint8_t *)buf, len, &cfg, &file_schema,
				       (cyaml_data_t **)out, NULL);
	}
	if (cerr != CYAML_OK) {
		*out = NULL;
		if (l->sanitize) /* positions in the cleaned copy mean nothing: the walk's stand */
			diag(l, root, false, "the rest of the file could not be checked: %s",
			     l->cy_msg[0] ? l->cy_msg : cyaml_strerror(cerr));
		else
			diag_at(l, l->cy_line, l->cy_col, false, "%s",
				l->cy_msg[0] ? l->cy_msg : cyaml_strerror(cerr));
	}
out:
	yaml_parser_delete(&parser);
	free(clean);
	free(buf);
	return err;
}

static void y_free(struct y_file *y)
{
	cyaml_config_t cfg = { .mem_fn = cyaml_mem, .log_level = CYAML_LOG_ERROR };

	if (y)
		cyaml_free(&cfg, &file_schema, y, 0);
}

/* ---- step 4: values and cross-field checks -------------------------------- */

/* Where a rule's values are: its mapping node (or the top when absent) and its name. */
struct rule_src {
	struct load *l;	   /* the load */
	yaml_node_t *map;  /* the rule's mapping node; NULL when the section is absent */
	yaml_node_t *top;  /* the root node, the position of problems of an absent section */
	const char *label; /* "default" or the endpoint as written */
};

/* Node of key in the rule, else the rule, else the top of the file. */
static yaml_node_t *rule_at(const struct rule_src *rs, const char *key)
{
	yaml_node_t *n = map_get(rs->l, rs->map, key);

	return n ?: rs->map ?: rs->top;
}

/*
 * One limit: rate and burst. A rate without a burst gets a burst of one
 * second of the rate (bytes: at least a full frame, as `limit set`); `off`
 * removes the limit. Packets, or bits per second with a burst in bytes
 * when bytes.
 */
static void parse_limit(const struct rule_src *rs, const char *rate_key, const char *rate,
			const char *burst_key, const char *burst, bool bytes, struct fg_limit *lim)
{
	char what[CFG_WHAT];
	bool off = false, rate_bad = false;
	__u64 v = 0;

	if (rate) {
		snprintf(what, sizeof(what), "%s: %s", rs->label, rate_key);
		if (!strcmp(rate, "off")) {
			lim->rate = lim->burst = 0;
			off = true;
		} else if (bytes ? PLACED(rs->l, rule_at(rs, rate_key), fg_parse_rate(what, rate, &v))
				 : PLACED(rs->l, rule_at(rs, rate_key),
					  fg_parse_u64(what, rate, 1, CFG_PPS_MAX, &v))) {
			rate_bad = true;
		} else {
			lim->rate = v;
			if (!bytes)
				lim->burst = v;
			else if (v / 8 < CFG_FRAME)
				lim->burst = CFG_FRAME;
			else
				lim->burst = v / 8 < CFG_BYTES_MAX ? v / 8 : CFG_BYTES_MAX;
		}
	}
	if (!burst)
		return;
	snprintf(what, sizeof(what), "%s: %s", rs->label, burst_key);
	if (off) {
		diag(rs->l, rule_at(rs, burst_key), false, "%s: %s: set while %s is off", what,
		     burst, rate_key);
	} else if (bytes ? PLACED(rs->l, rule_at(rs, burst_key), fg_parse_size(what, burst, &v))
			 : PLACED(rs->l, rule_at(rs, burst_key),
				  fg_parse_u64(what, burst, 1, CFG_BURST_MAX, &v))) {
		/* reported */
	} else if (!lim->rate && !rate_bad && !map_get(rs->l, rs->map, rate_key)) {
		diag(rs->l, rule_at(rs, burst_key), false, "%s: %s: set without %s", what, burst,
		     rate_key);
	} else {
		lim->burst = v;
		if (bytes && lim->burst < CFG_FRAME)
			diag(rs->l, rule_at(rs, burst_key), true,
			     "%s: %s is less than one full-size frame (%d bytes): such frames "
			     "never pass",
			     what, burst, CFG_FRAME);
	}
}

static void parse_rule(const struct rule_src *rs, const struct y_rule *y, struct fg_rule *r)
{
	char what[CFG_WHAT];
	__u64 v = 0;
	int a;

	parse_limit(rs, "pps", y->pps, "burst", y->burst, false, &r->pps);
	parse_limit(rs, "bps", y->bps, "bps_burst", y->bps_burst, true, &r->bps);
	parse_limit(rs, "syn_pps", y->syn_pps, "syn_burst", y->syn_burst, false, &r->syn);
	parse_limit(rs, "total_pps", y->total_pps, "total_burst", y->total_burst, false, &r->total);
	if (y->prefix4) {
		snprintf(what, sizeof(what), "%s: prefix4", rs->label);
		if (!PLACED(rs->l, rule_at(rs, "prefix4"), fg_parse_u64(what, y->prefix4, 0, 32, &v)))
			r->plen4 = v;
	}
	if (y->prefix6) {
		snprintf(what, sizeof(what), "%s: prefix6", rs->label);
		if (!PLACED(rs->l, rule_at(rs, "prefix6"), fg_parse_u64(what, y->prefix6, 0, 128, &v)))
			r->plen6 = v;
	}
	if (y->action) {
		a = fg_action_parse(y->action);
		if (a < 0)
			diag(rs->l, rule_at(rs, "action"), false,
			     "%s: action: %s: unknown action (use drop, monitor or ban)", rs->label,
			     y->action);
		else
			r->action = a;
	}
	if (y->ban_for) {
		snprintf(what, sizeof(what), "%s: ban_for", rs->label);
		if (!PLACED(rs->l, rule_at(rs, "ban_for"), fg_parse_duration(what, y->ban_for, &v)))
			r->ban_ticks = v * rs->l->hz;
	}
	if (y->ban_multiplier) {
		snprintf(what, sizeof(what), "%s: ban_multiplier", rs->label);
		if (!PLACED(rs->l, rule_at(rs, "ban_multiplier"),
			    fg_parse_u64(what, y->ban_multiplier, 1, CFG_MULT_MAX, &v)))
			r->ban_mult = v;
	}
	if (y->ban_max) {
		snprintf(what, sizeof(what), "%s: ban_max", rs->label);
		if (!PLACED(rs->l, rule_at(rs, "ban_max"), fg_parse_duration(what, y->ban_max, &v)))
			r->ban_max_ticks = v * rs->l->hz;
	}
	if (y->syn_proxy) {
		if (!strcmp(y->syn_proxy, "on") || !strcmp(y->syn_proxy, "off"))
			r->syn_proxy = !strcmp(y->syn_proxy, "on");
		else
			diag(rs->l, rule_at(rs, "syn_proxy"), false,
			     "%s: syn_proxy: %s: must be on or off", rs->label, y->syn_proxy);
	}
	if ((y->ban_for || y->ban_max) && r->ban_max_ticks < r->ban_ticks) {
		char a1[32], a2[32];

		diag(rs->l, rule_at(rs, y->ban_max ? "ban_max" : "ban_for"), false,
		     "%s: ban_max %s is shorter than ban_for %s", rs->label,
		     fg_format_duration(a1, sizeof(a1), r->ban_max_ticks / rs->l->hz),
		     fg_format_duration(a2, sizeof(a2), r->ban_ticks / rs->l->hz));
	}
}

static bool same_cidr(const struct fg_cidr *a, const struct fg_cidr *b)
{
	return a->family == b->family && a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

/* A list entry with where it was written, for duplicate checks. */
struct list_item {
	struct fg_cidr c; /* the prefix */
	yaml_node_t *n;	  /* its node */
	size_t order;	  /* index in the file's list */
};

/* Order of prefixes alone, for the cross-list search. */
static int cidr_cmp(const void *a, const void *b)
{
	const struct list_item *x = a, *y = b;

	return memcmp(&x->c, &y->c, sizeof(x->c));
}

/* Order of prefixes, then of appearance: the first of equal prefixes comes first. */
static int item_cmp(const void *a, const void *b)
{
	const struct list_item *x = a, *y = b;
	int d = cidr_cmp(a, b);

	if (d)
		return d;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Parse one list into out (file order, repeats left out) and a copy sorted
 * by prefix for the cross-list check.
 */
static void parse_list(struct load *l, yaml_node_t *seq, char **v, unsigned int n, const char *name,
		       struct fg_cidr **out, size_t *n_out, struct list_item **sorted,
		       size_t *n_sorted)
{
	struct list_item *it = calloc(n ?: 1, sizeof(*it));
	bool *keep = calloc(n ?: 1, sizeof(*keep));
	struct fg_cidr *all = calloc(n ?: 1, sizeof(*all));
	size_t i, k = 0;

	*out = all;
	*n_out = 0;
	*sorted = it;
	*n_sorted = 0;
	if (!it || !keep || !all) {
		diag(l, seq, false, "%s: out of memory", name);
		free(keep);
		return;
	}
	for (i = 0; i < n; i++) {
		yaml_node_t *item = seq_item(l, seq, i);

		if (is_bad(l, item) || PLACED(l, item, fg_parse_cidr(name, v[i], true, &all[i])))
			continue;
		keep[i] = true;
		it[k].c = all[i];
		it[k].n = item;
		it[k].order = i;
		k++;
	}
	qsort(it, k, sizeof(*it), item_cmp);
	for (i = 1; i < k; i++)
		if (same_cidr(&it[i].c, &it[i - 1].c)) {
			char buf[64];

			diag(l, it[i].n, false, "%s: %s: listed twice (first on line %zu)", name,
			     fg_format_cidr(buf, sizeof(buf), it[i].c.family, it[i].c.addr,
					    it[i].c.plen),
			     it[i - 1].n->start_mark.line + 1);
			keep[it[i].order] = false;
		}
	*n_sorted = k;
	for (i = 0; i < n; i++) /* compact in file order: reads run ahead of writes */
		if (keep[i])
			all[(*n_out)++] = all[i];
	free(keep);
}

/* An interface name the kernel would accept. */
static bool ifname_ok(const char *s)
{
	const char *p;

	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (p = s; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) ||
		    !isprint((unsigned char)*p))
			return false;
	return true;
}

/* metrics listen: what `run --metrics` takes (metrics.c), and short enough to keep. */
static int parse_listen(const char *what, const char *s)
{
	struct sockaddr_storage ss;
	unsigned int sl;

	if (strlen(s) >= sizeof(((struct fg_file_config *)0)->metrics))
		return error("%s: %s: too long", what, s), -EINVAL;
	return fg_parse_listen(what, s, &ss, &sl);
}

/* Per-family distinct prefix lengths of ban rules (the data path checks at most 8). */
static void check_ban_plens(struct load *l, const struct fg_ruleset *rs, yaml_node_t *const *at,
			    const char *const *labels)
{
	__u8 l4[FG_MAX_BAN_PLENS] = { 0 }, l6[FG_MAX_BAN_PLENS] = { 0 };
	unsigned int n4 = 0, n6 = 0, j;
	int i;

	for (i = 0; i < FG_MAX_RULES; i++) {
		const struct fg_rule *r = &rs->cfg.rules[i];
		bool new4 = true, new6 = true, full4;

		if (!r->used || r->action != FG_ACT_BAN)
			continue;
		for (j = 0; j < n4; j++)
			new4 &= l4[j] != r->plen4;
		for (j = 0; j < n6; j++)
			new6 &= l6[j] != r->plen6;
		full4 = new4 && n4 == FG_MAX_BAN_PLENS;
		if (full4 || (new6 && n6 == FG_MAX_BAN_PLENS)) {
			diag(l, map_get(l, at[i], full4 ? "prefix4" : "prefix6") ?: at[i], false,
			     "%s: more than %d distinct prefix4 or prefix6 lengths among ban rules",
			     labels[i], FG_MAX_BAN_PLENS);
			continue;
		}
		if (new4)
			l4[n4++] = r->plen4;
		if (new6)
			l6[n6++] = r->plen6;
	}
}

/* fg_ruleset_check() as a last guard: place each line at the rule it names. */
static void ruleset_guard(struct load *l, const struct fg_ruleset *rs, yaml_node_t *const *at,
			  yaml_node_t *top)
{
	struct capture c;
	char *buf, *line, *next;
	int i;

	capture_begin(&c);
	fg_ruleset_check(rs);
	buf = capture_stop(&c);
	for (line = buf; line && *line; line = next) {
		yaml_node_t *where = top;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strncmp(line, "error: ", 7))
			line += 7;
		for (i = 0; i < FG_MAX_RULES; i++) {
			char ep[32];
			size_t n;

			if (!rs->cfg.rules[i].used)
				continue;
			n = strlen(fg_format_endpoint(ep, sizeof(ep), &rs->cfg.rules[i]));
			if (!strncmp(line, ep, n) && line[n] == ':') {
				where = at[i];
				break;
			}
		}
		if (*line)
			diag(l, where, false, "%s", line);
	}
	free(buf);
}

/* Sizes under tables:, their ranges, and where they go. */
static const struct {
	const char *key; /* key under tables: */
	size_t y_off;	 /* offsetof(struct y_tables, ...) */
	size_t out_off;	 /* offsetof(struct fg_sizes, ...) */
	__u64 min, max;	 /* accepted range */
} table_keys[] = {
	{ "sources", offsetof(struct y_tables, sources), offsetof(struct fg_sizes, sources), 1024,
	  1 << 26 },
	{ "bans", offsetof(struct y_tables, bans), offsetof(struct fg_sizes, bans), 64, 1 << 24 },
	{ "lists", offsetof(struct y_tables, lists), offsetof(struct fg_sizes, lists), 16, 1 << 24 },
};

static void parse_rules(struct load *l, const struct y_file *y, yaml_node_t *top,
			struct fg_file_config *out)
{
	static const struct y_rule none;
	yaml_node_t *rule_node[FG_MAX_RULES] = {}, *sec, *n;
	const char *labels[FG_MAX_RULES] = { "default" };
	struct fg_config *cfg = &out->rs->cfg;
	struct fg_rule tmpl;
	struct rule_src src;
	unsigned int i, j, nrules = 1;

	/* the default rule: built-in values unless given */
	src = (struct rule_src){
		.l = l, .map = map_get(l, top, "default"), .top = top, .label = "default"
	};
	if (is_null(src.map))
		src.map = NULL;
	rule_node[FG_RULE_DEFAULT] = src.map ?: top;
	parse_rule(&src, y->def ?: &none, &cfg->rules[FG_RULE_DEFAULT]);
	if (cfg->rules[FG_RULE_DEFAULT].syn_proxy)
		diag(l, rule_at(&src, "syn_proxy"), false,
		     "default: syn_proxy: only for TCP endpoints (give it under endpoints:)");

	/* endpoint rules: no limits, /32 and /64, drop, the default rule's ban_* values */
	tmpl = (struct fg_rule){ .plen4 = 32, .plen6 = 64, .action = FG_ACT_DROP, .used = 1 };
	tmpl.ban_ticks = cfg->rules[FG_RULE_DEFAULT].ban_ticks;
	tmpl.ban_mult = cfg->rules[FG_RULE_DEFAULT].ban_mult;
	tmpl.ban_max_ticks = cfg->rules[FG_RULE_DEFAULT].ban_max_ticks;
	sec = map_get(l, top, "endpoints");
	for (i = 0; i < y->endpoints_count; i++) {
		const struct y_rule *e = &y->endpoints[i];
		struct fg_endpoint ep;
		struct fg_rule r = tmpl;
		char label[CFG_WHAT];
		yaml_node_t *epn;
		bool ok = true;

		n = seq_item(l, sec, i);
		if (!n || is_bad(l, n))
			continue; /* a placeholder for an entry the walk reported */
		entry_label(l, n, i, label, sizeof(label));
		epn = map_get(l, n, "endpoint");
		if (!e->endpoint) {
			diag(l, n, false,
			     "%s: endpoint: missing (tcp/PORT, udp/PORT, tcp/LO-HI or udp/LO-HI)",
			     label);
			ok = false;
		} else if (!strcmp(e->endpoint, "default")) {
			diag(l, epn,
			     false, "endpoint: default: the default rule is the top-level 'default:' section");
			ok = false;
		} else if (PLACED(l, epn, fg_parse_endpoint("endpoint", e->endpoint, &ep))) {
			ok = false;
		}
		src = (struct rule_src){ .l = l, .map = n, .top = top, .label = label };
		parse_rule(&src, e, &r); /* its values are checked even when the endpoint is bad */
		if (!ok)
			continue;
		r.proto = ep.proto;
		r.port_lo = ep.port_lo;
		r.port_hi = ep.port_hi;
		if (r.syn_proxy && r.proto != IPPROTO_TCP) {
			diag(l, rule_at(&src, "syn_proxy"), false,
			     "%s: syn_proxy: only for TCP endpoints", label);
			continue;
		}
		for (j = 1; j < nrules; j++) {
			const struct fg_rule *o = &cfg->rules[j];
			char buf[32];

			if (o->proto != r.proto || o->port_lo > r.port_hi || r.port_lo > o->port_hi)
				continue;
			if (o->port_lo == r.port_lo && o->port_hi == r.port_hi)
				diag(l, epn, false, "endpoint: %s: listed twice (first on line %zu)",
				     e->endpoint, rule_node[j]->start_mark.line + 1);
			else
				diag(l, epn, false, "endpoint: %s: overlaps %s (line %zu)",
				     e->endpoint, fg_format_endpoint(buf, sizeof(buf), o),
				     rule_node[j]->start_mark.line + 1);
			ok = false;
			break;
		}
		if (!ok)
			continue;
		if (nrules == FG_MAX_RULES) { /* the walk stops at the schema's maximum; a guard */
			diag(l, n, false, "endpoints: more than %d rules", FG_MAX_RULES - 1);
			continue;
		}
		rule_node[nrules] = n;
		labels[nrules] = e->endpoint;
		cfg->rules[nrules++] = r;
	}
	check_ban_plens(l, out->rs, rule_node, labels);
	if (!l->errors)
		ruleset_guard(l, out->rs, rule_node, top);
}

static void parse_file(struct load *l, const struct y_file *y, struct fg_file_config *out)
{
	yaml_node_t *top = yaml_document_get_root_node(&l->doc), *sec, *n;
	struct fg_config *cfg = &out->rs->cfg;
	struct list_item *sa = NULL, *sd = NULL;
	size_t n_sa = 0, n_sd = 0;
	char what[CFG_WHAT];
	unsigned int i, j;
	__u64 v;

	if (!y)
		return; /* an empty file: the defaults set by the caller */
	sec = map_get(l, top, "interfaces");
	for (i = 0; i < y->interfaces_count; i++) {
		n = seq_item(l, sec, i);
		if (is_bad(l, n))
			continue;
		if (!ifname_ok(y->interfaces[i])) {
			diag(l, n, false, "interfaces: %s: not an interface name", y->interfaces[i]);
			continue;
		}
		for (j = 0; j < (unsigned int)out->n_ifaces; j++)
			if (!strcmp(out->ifaces[j], y->interfaces[i]))
				break;
		if (j < (unsigned int)out->n_ifaces) {
			diag(l, n, false, "interfaces: %s: listed twice", y->interfaces[i]);
			continue;
		}
		snprintf(out->ifaces[out->n_ifaces++], sizeof(out->ifaces[0]), "%s",
			 y->interfaces[i]);
	}

	/* tables first: the lists' check below needs their size */
	if (y->tables) {
		sec = map_get(l, top, "tables");
		for (i = 0; i < sizeof(table_keys) / sizeof(table_keys[0]); i++) {
			const char *s = *(char **)((char *)y->tables + table_keys[i].y_off);

			snprintf(what, sizeof(what), "tables: %s", table_keys[i].key);
			if (s &&
			    !PLACED(l, map_get(l, sec, table_keys[i].key),
				    fg_parse_u64(what, s, table_keys[i].min, table_keys[i].max, &v)))
				*(__u32 *)((char *)&out->sizes + table_keys[i].out_off) = v;
		}
	}

	parse_rules(l, y, top, out);

	parse_list(l, map_get(l, top, "allow"), y->allow, y->allow_count, "allow", &out->allow,
		   &out->n_allow, &sa, &n_sa);
	parse_list(l, map_get(l, top, "deny"), y->deny, y->deny_count, "deny", &out->deny,
		   &out->n_deny, &sd, &n_sd);
	for (i = 0; i < n_sd; i++) {
		struct list_item *hit = bsearch(&sd[i], sa, n_sa, sizeof(*sa), cidr_cmp);
		char buf[64];

		if (hit)
			diag(l, sd[i].n, false, "deny: %s: also on the allow list (line %zu)",
			     fg_format_cidr(buf, sizeof(buf), sd[i].c.family, sd[i].c.addr,
					    sd[i].c.plen),
			     hit->n->start_mark.line + 1);
	}
	v = out->sizes.lists ?: FG_DEF_LIST;
	if (out->n_allow + out->n_deny > v)
		diag(l, map_get(l, top, out->n_deny ? "deny" : "allow"), false,
		     "allow and deny: %zu prefixes do not fit tables: lists (%" PRIu64 ")",
		     out->n_allow + out->n_deny, (uint64_t)v);
	free(sa);
	free(sd);

	if (y->ban_policy) {
		sec = map_get(l, top, "ban_policy");
		if (y->ban_policy->forget_after &&
		    !PLACED(l, map_get(l, sec, "forget_after"),
			    fg_parse_duration("ban_policy: forget_after",
					      y->ban_policy->forget_after, &v)))
			out->forget_after = v;
		if (y->ban_policy->events_per_second &&
		    !PLACED(l, map_get(l, sec, "events_per_second"),
			    fg_parse_u64("ban_policy: events_per_second",
					 y->ban_policy->events_per_second, 1, CFG_EVENTS_MAX, &v)))
			cfg->events_per_sec = v;
	}
	if (y->under_attack && y->under_attack->new_sources_per_second) {
		const char *s = y->under_attack->new_sources_per_second;

		sec = map_get(l, top, "under_attack");
		if (!strcmp(s, "off"))
			cfg->attack_new_per_sec = 0;
		else if (!PLACED(l, map_get(l, sec, "new_sources_per_second"),
				 fg_parse_u64("under_attack: new_sources_per_second", s, 0,
					      CFG_NEW_SRC_MAX, &v)))
			cfg->attack_new_per_sec = v;
	}
	if (y->metrics) {
		sec = map_get(l, top, "metrics");
		if (y->metrics->listen && !PLACED(l, map_get(l, sec, "listen"),
						  parse_listen("metrics: listen", y->metrics->listen)))
			snprintf(out->metrics, sizeof(out->metrics), "%s", y->metrics->listen);
		if (y->metrics->top_sources &&
		    !PLACED(l, map_get(l, sec, "top_sources"),
			    fg_parse_u64("metrics: top_sources", y->metrics->top_sources, 0,
					 CFG_TOP_MAX, &v)))
			out->metrics_top = v;
	}
}

void fg_config_free(struct fg_file_config *c)
{
	free(c->rs);
	free(c->allow);
	free(c->deny);
	memset(c, 0, sizeof(*c));
}

/*
 * Load and check path into out (freed again when it has a problem); the
 * problems are left in l, sorted. Returns 0 or -errno when the file cannot
 * be read.
 */
static int config_load(struct load *l, const char *path, __u64 hz, struct fg_file_config *out)
{
	struct y_file *y = NULL;
	int err;

	memset(l, 0, sizeof(*l));
	memset(out, 0, sizeof(*out));
	l->path = path;
	l->hz = hz ?: 250;
	out->rs = calloc(1, sizeof(*out->rs));
	if (!out->rs)
		return error("config %s: out of memory", path), -ENOMEM;
	fg_ruleset_defaults(out->rs, l->hz);
	out->forget_after = CFG_FORGET_DEF;
	err = load_yaml(l, &y);
	if (!err && l->have_doc && !(l->errors && !y))
		parse_file(l, y, out);
	y_free(y);
	diag_sort(l);
	if (err || l->errors)
		fg_config_free(out);
	return err;
}

static void load_free(struct load *l)
{
	size_t i;

	for (i = 0; i < l->n_d; i++)
		free(l->d[i].msg);
	free(l->d);
	free(l->bad);
	if (l->have_doc)
		yaml_document_delete(&l->doc);
	memset(l, 0, sizeof(*l));
}

int fg_config_load(const char *path, __u64 hz, struct fg_file_config *out)
{
	struct load l;
	int err, n;

	err = config_load(&l, path, hz, out);
	diag_print(&l);
	n = l.errors;
	load_free(&l);
	return err ? err : n;
}

/* ---- config apply ---------------------------------------------------------- */

static bool same_endpoint(const struct fg_rule *a, const struct fg_rule *b)
{
	return a->used && b->used && a->proto == b->proto && a->port_lo == b->port_lo &&
	       a->port_hi == b->port_hi;
}

/*
 * Give every endpoint that is live already its live rule index, so its
 * buckets, totals and counters stay its own; new endpoints take slots no
 * live rule uses, where possible.
 */
static void place_rules(const struct fg_ruleset *live, const struct fg_ruleset *file,
			struct fg_ruleset *next)
{
	bool taken[FG_MAX_RULES] = { [FG_RULE_DEFAULT] = true };
	int pending[FG_MAX_RULES], n_pending = 0, i, k, pass;

	next->cfg = file->cfg;
	memset(next->cfg.rules, 0, sizeof(next->cfg.rules));
	next->cfg.rules[FG_RULE_DEFAULT] = file->cfg.rules[FG_RULE_DEFAULT];
	for (i = 1; i < FG_MAX_RULES; i++) {
		const struct fg_rule *r = &file->cfg.rules[i];
		struct fg_endpoint ep = { r->proto, r->port_lo, r->port_hi };

		if (!r->used)
			continue;
		k = fg_ruleset_find(live, &ep);
		if (k > 0 && !taken[k]) {
			next->cfg.rules[k] = *r;
			taken[k] = true;
		} else {
			pending[n_pending++] = i;
		}
	}
	for (i = 0; i < n_pending; i++)
		for (pass = 0; pass < 2; pass++) {
			for (k = 1; k < FG_MAX_RULES; k++)
				if (!taken[k] && (pass || !live->cfg.rules[k].used))
					break;
			if (k < FG_MAX_RULES) {
				next->cfg.rules[k] = file->cfg.rules[pending[i]];
				taken[k] = true;
				break;
			}
		}
}

static bool in_list(const struct fg_cidr *v, size_t n, const struct fg_cidr *c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (same_cidr(&v[i], c))
			return true;
	return false;
}

/* The prefixes of kind in e[0..n); free() the result. */
static struct fg_cidr *kind_of(const struct fg_list_entry *e, size_t n, __u8 kind, size_t *out_n)
{
	struct fg_cidr *v = calloc(n ?: 1, sizeof(*v));
	size_t i;

	*out_n = 0;
	for (i = 0; v && i < n; i++)
		if (e[i].kind == kind)
			v[(*out_n)++] = e[i].cidr;
	return v;
}

/*
 * Make the allow and deny lists exactly a and d without a prefix ever being
 * on both (fg_list_replace refuses that): when a prefix moves from deny to
 * allow, allow first gets only what is not denied now.
 */
static int lists_set(const struct fg_maps *m, const struct fg_cidr *a, size_t na,
		     const struct fg_cidr *d, size_t nd)
{
	struct fg_list_entry *cur = NULL;
	struct fg_cidr *cur_deny = NULL, *tmp = NULL;
	size_t n_cur = 0, n_deny = 0, nt = 0, i;
	int err;

	if ((err = fg_list_read(m, &cur, &n_cur)))
		return err;
	cur_deny = kind_of(cur, n_cur, FG_LIST_DENY, &n_deny);
	tmp = calloc(na ?: 1, sizeof(*tmp));
	if (!cur_deny || !tmp) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < na; i++)
		if (!in_list(cur_deny, n_deny, &a[i]))
			tmp[nt++] = a[i];
	if (nt < na && (err = fg_list_replace(m, FG_LIST_ALLOW, tmp, nt)))
		goto out;
	if ((err = fg_list_replace(m, FG_LIST_DENY, d, nd)))
		goto out;
	err = fg_list_replace(m, FG_LIST_ALLOW, a, na);
out:
	free(cur);
	free(cur_deny);
	free(tmp);
	return err;
}

int fg_config_apply(const struct fg_maps *m, struct fg_file_config *c)
{
	struct fg_ruleset *live = NULL, *next = NULL;
	struct fg_list_entry *cur = NULL;
	struct fg_cidr *old_a = NULL, *old_d = NULL;
	size_t n_cur = 0, n_oa = 0, n_od = 0, n_bans = 0, i;
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	char buf[64];
	int err, k;

	live = malloc(sizeof(*live));
	next = calloc(1, sizeof(*next));
	if (!live || !next) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = fg_ruleset_read(m, live)))
		goto out;
	place_rules(live, c->rs, next);
	if (fg_ruleset_check(next)) {
		err = -EINVAL;
		goto out;
	}
	/* everything that could refuse the lists is checked before anything changes */
	if ((err = fg_list_read(m, &cur, &n_cur)))
		goto out;
	for (i = 0; i < n_cur; i++) {
		bool on_allow;

		if (cur[i].kind != FG_LIST_BAN)
			continue;
		n_bans++;
		on_allow = in_list(c->allow, c->n_allow, &cur[i].cidr);
		if (on_allow || in_list(c->deny, c->n_deny, &cur[i].cidr)) {
			fg_format_cidr(buf, sizeof(buf), cur[i].cidr.family, cur[i].cidr.addr,
				       cur[i].cidr.plen);
			error("%s: manually banned, so it cannot go on the %s list (ban del %s "
			      "first)",
			      buf, on_allow ? "allow" : "deny", buf);
			err = -EEXIST;
			goto out;
		}
	}
	if (!bpf_obj_get_info_by_fd(m->lists, &info, &ilen) &&
	    c->n_allow + c->n_deny + n_bans > info.max_entries) {
		error("allow and deny: %zu prefixes and %zu manual bans do not fit fg_lists (%u)",
		      c->n_allow + c->n_deny, n_bans, info.max_entries);
		err = -ENOSPC;
		goto out;
	}
	old_a = kind_of(cur, n_cur, FG_LIST_ALLOW, &n_oa);
	old_d = kind_of(cur, n_cur, FG_LIST_DENY, &n_od);
	if (!old_a || !old_d) {
		err = -ENOMEM;
		goto out;
	}
	err = lists_set(m, c->allow, c->n_allow, c->deny, c->n_deny);
	if (!err) {
		for (k = 1; k < FG_MAX_RULES; k++) /* a new rule must not inherit a slot's leftovers */
			if (next->cfg.rules[k].used &&
			    !same_endpoint(&live->cfg.rules[k], &next->cfg.rules[k]))
				fg_rule_reset(m, k, true, true, true);
		err = fg_ruleset_commit_proxied(m, next);
	}
	if (err) {
		if (lists_set(m, old_a, n_oa, old_d, n_od))
			error("config apply: the allow and deny lists could not be restored");
		goto out;
	}
	for (k = 0; k < FG_MAX_RULES; k++) {
		const struct fg_rule *o = &live->cfg.rules[k], *r = &next->cfg.rules[k];

		if (!o->used)
			continue;
		if (!same_endpoint(o, r)) /* deleted, or another endpoint took the slot */
			fg_rule_reset(m, k, true, true, true);
		else
			/* new per-source rates keep the buckets: the data path rescales them */
			fg_rule_reset(m, k, o->plen4 != r->plen4 || o->plen6 != r->plen6,
				      o->total.rate != r->total.rate, false);
	}
out:
	free(cur);
	free(old_a);
	free(old_d);
	free(live);
	free(next);
	return err;
}

/* ---- config dump -------------------------------------------------------------- */

static char *str_u64(__u64 v)
{
	char *s;

	return asprintf(&s, "%" PRIu64, (uint64_t)v) < 0 ? NULL : s;
}

/* Bits per second with the largest SI suffix that keeps it exact. */
static char *str_rate(__u64 v)
{
	static const struct {
		char c;	 /* suffix */
		__u64 m; /* its multiplier */
	} sfx[] = {
		{ 't', 1000000000000ULL },
		{ 'g', 1000000000ULL },
		{ 'm', 1000000 },
		{ 'k', 1000 },
	};
	size_t i;
	char *s;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (v && v % sfx[i].m == 0) {
			if (asprintf(&s, "%" PRIu64 "%c", (uint64_t)(v / sfx[i].m), sfx[i].c) < 0)
				return NULL;
			return s;
		}
	return str_u64(v);
}

/* Bytes with k or m (x1024) when exact. */
static char *str_size(__u64 v)
{
	char *s;

	if (v && v % (1 << 20) == 0)
		return asprintf(&s, "%" PRIu64 "m", (uint64_t)(v >> 20)) < 0 ? NULL : s;
	if (v && v % 1024 == 0)
		return asprintf(&s, "%" PRIu64 "k", (uint64_t)(v >> 10)) < 0 ? NULL : s;
	return str_u64(v);
}

static char *str_ticks(__u64 ticks, __u64 hz)
{
	__u64 s = (ticks + hz / 2) / hz;
	char buf[32];

	return strdup(fg_format_duration(buf, sizeof(buf), s ?: 1));
}

/* A limit as the file writes it: rate and burst; `off` when all is true and there is none. */
static void dump_limit(const struct fg_limit *lim, bool bytes, bool all, char **rate, char **burst)
{
	if (!lim->rate) {
		if (all)
			*rate = strdup("off");
		return;
	}
	*rate = bytes ? str_rate(lim->rate) : str_u64(lim->rate);
	*burst = bytes ? str_size(lim->burst) : str_u64(lim->burst);
}

/*
 * A rule as the file writes it. The default rule says everything; an
 * endpoint rule only what differs from what it would start with.
 */
static void dump_rule(const struct fg_rule *r, const struct fg_rule *def, __u64 hz, struct y_rule *y)
{
	bool all = !r->proto, ban = r->action == FG_ACT_BAN;
	char buf[32];

	if (r->proto)
		y->endpoint = strdup(fg_format_endpoint(buf, sizeof(buf), r));
	dump_limit(&r->pps, false, all, &y->pps, &y->burst);
	dump_limit(&r->bps, true, all, &y->bps, &y->bps_burst);
	dump_limit(&r->syn, false, all, &y->syn_pps, &y->syn_burst);
	dump_limit(&r->total, false, all, &y->total_pps, &y->total_burst);
	if (all || r->plen4 != 32)
		y->prefix4 = str_u64(r->plen4);
	if (all || r->plen6 != 64)
		y->prefix6 = str_u64(r->plen6);
	if (all || r->action != FG_ACT_DROP)
		y->action = strdup(fg_action_name(r->action));
	if (r->ban_ticks && (all || ban || r->ban_ticks != def->ban_ticks))
		y->ban_for = str_ticks(r->ban_ticks, hz);
	if (r->ban_mult && (all || ban || r->ban_mult != def->ban_mult))
		y->ban_multiplier = str_u64(r->ban_mult);
	if (r->ban_max_ticks && (all || ban || r->ban_max_ticks != def->ban_max_ticks))
		y->ban_max = str_ticks(r->ban_max_ticks, hz);
	if (r->syn_proxy)
		y->syn_proxy = strdup("on");
}

/* Interfaces with a pinned link under the pin directory, sorted. */
static int attached_ifaces(char names[][IF_NAMESIZE], int max)
{
	size_t plen = strlen(FG_PIN_LINK_PREFIX);
	struct dirent *de;
	int n = 0, i, j;
	DIR *d;

	d = opendir(fg_opts.pin_dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		if (strncmp(de->d_name, FG_PIN_LINK_PREFIX, plen) ||
		    strlen(de->d_name + plen) >= IF_NAMESIZE)
			continue;
		snprintf(names[n++], IF_NAMESIZE, "%s", de->d_name + plen);
	}
	closedir(d);
	for (i = 1; i < n; i++) /* a handful of names: insertion sort */
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[IF_NAMESIZE];

			memcpy(t, names[j], IF_NAMESIZE);
			memcpy(names[j], names[j - 1], IF_NAMESIZE);
			memcpy(names[j - 1], t, IF_NAMESIZE);
		}
	return n;
}

static __u32 max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

/* The live state as a y_file (every string on the heap: y_free releases it). */
static int dump_build(const struct fg_maps *m, struct y_file **out)
{
	char ifs[FG_MAX_IFACES][IF_NAMESIZE];
	struct fg_list_entry *ents = NULL;
	struct fg_ruleset *rs;
	struct y_file *y;
	size_t n_ents = 0, i;
	__u64 hz = fg_hz(m);
	int err = 0, k;

	y = calloc(1, sizeof(*y));
	rs = malloc(sizeof(*rs));
	if (!y || !rs) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = fg_ruleset_read(m, rs)) || (err = fg_list_read(m, &ents, &n_ents)))
		goto out;

	k = attached_ifaces(ifs, FG_MAX_IFACES);
	y->interfaces = calloc(k ?: 1, sizeof(char *));
	for (i = 0; y->interfaces && i < (size_t)k; i++)
		y->interfaces[y->interfaces_count++] = strdup(ifs[i]);

	y->def = calloc(1, sizeof(*y->def));
	if (y->def)
		dump_rule(&rs->cfg.rules[FG_RULE_DEFAULT], &rs->cfg.rules[FG_RULE_DEFAULT], hz,
			  y->def);
	y->endpoints = calloc(FG_MAX_RULES, sizeof(*y->endpoints));
	for (k = 1; y->endpoints && k < FG_MAX_RULES; k++)
		if (rs->cfg.rules[k].used)
			dump_rule(&rs->cfg.rules[k], &rs->cfg.rules[FG_RULE_DEFAULT], hz,
				  &y->endpoints[y->endpoints_count++]);

	y->allow = calloc(n_ents ?: 1, sizeof(char *));
	y->deny = calloc(n_ents ?: 1, sizeof(char *));
	for (i = 0; y->allow && y->deny && i < n_ents; i++) {
		char buf[64];

		if (ents[i].kind != FG_LIST_ALLOW && ents[i].kind != FG_LIST_DENY)
			continue; /* manual bans are runtime state, not config */
		fg_format_cidr(buf, sizeof(buf), ents[i].cidr.family, ents[i].cidr.addr,
			       ents[i].cidr.plen);
		if (ents[i].kind == FG_LIST_ALLOW)
			y->allow[y->allow_count++] = strdup(buf);
		else
			y->deny[y->deny_count++] = strdup(buf);
	}

	y->ban_policy = calloc(1, sizeof(*y->ban_policy));
	if (y->ban_policy)
		y->ban_policy->events_per_second = str_u64(rs->cfg.events_per_sec);
	y->under_attack = calloc(1, sizeof(*y->under_attack));
	if (y->under_attack)
		y->under_attack->new_sources_per_second = rs->cfg.attack_new_per_sec
								  ? str_u64(rs->cfg.attack_new_per_sec)
								  : strdup("off");
	y->tables = calloc(1, sizeof(*y->tables));
	if (y->tables) {
		y->tables->sources = str_u64(max_entries(m->sources));
		y->tables->bans = str_u64(max_entries(m->bans));
		y->tables->lists = str_u64(max_entries(m->lists));
	}
	if (!y->interfaces || !y->def || !y->endpoints || !y->allow || !y->deny || !y->ban_policy ||
	    !y->under_attack || !y->tables)
		err = -ENOMEM;
out:
	free(ents);
	free(rs);
	if (err) {
		y_free(y);
		y = NULL;
	}
	*out = y;
	return err;
}

/* A y_* value as JSON, driven by its schema: digit strings become numbers. */
static json_object *to_json(const void *data, const cyaml_schema_value_t *s)
{
	const cyaml_schema_field_t *f;
	const char *str, *p;
	json_object *o;
	unsigned int i;

	if (!data)
		return NULL; /* an optional value left out (a NULL pointer field) */
	switch (s->type) {
	case CYAML_MAPPING:
		o = json_object_new_object();
		for (f = s->mapping.fields; f->key; f++) {
			const void *field = (const char *)data + f->data_offset;
			const void *v = (f->value.flags & CYAML_FLAG_POINTER) ? *(void *const *)field
									      : field;
			const cyaml_schema_value_t *e;
			unsigned int count;
			json_object *a;
			size_t stride;

			if (f->value.type != CYAML_SEQUENCE) {
				if (v)
					json_object_object_add(o, f->key, to_json(v, &f->value));
				continue;
			}
			/* only a sequence's schema has an entry (the union member is the sequence's) */
			e = f->value.sequence.entry;
			if (!e)
				continue;
			count = *(const unsigned int *)((const char *)data + f->count_offset);
			stride = (e->flags & CYAML_FLAG_POINTER) ? sizeof(void *) : e->data_size;
			a = json_object_new_array();
			for (i = 0; v && i < count; i++) {
				const char *item = (const char *)v + i * stride;

				json_object_array_add(a, to_json((e->flags & CYAML_FLAG_POINTER)
									 ? *(void *const *)item
									 : item,
								 e));
			}
			json_object_object_add(o, f->key, a);
		}
		return o;
	case CYAML_STRING:
		str = data;
		for (p = str; isdigit((unsigned char)*p); p++)
			;
		if (*str && !*p && p - str < 19)
			return json_object_new_int64(strtoll(str, NULL, 10));
		return json_object_new_string(str);
	default:
		return NULL;
	}
}

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, fg_opts.pretty ? JSON_C_TO_STRING_PRETTY
							      : JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int config_dump(void)
{
	cyaml_config_t cfg = {
		.log_fn = cyaml_log,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_STYLE_BLOCK,
	};
	struct y_file *y = NULL;
	struct fg_maps m;
	char *text = NULL;
	size_t len = 0;
	int err;

	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	err = dump_build(&m, &y);
	fg_maps_close(&m);
	if (err) {
		if (err == -ENOMEM)
			error("config dump: out of memory");
		return FG_EXIT_ERR;
	}
	if (fg_opts.json) {
		print_json(to_json(y, &file_schema));
	} else if (cyaml_save_data(&text, &len, &cfg, &file_schema, y, 0) != CYAML_OK) {
		err = error("config dump: could not write YAML");
	} else {
		printf("# floodgate config dump of %s (floodgate config apply accepts it)\n",
		       fg_opts.pin_dir);
		if (fwrite(text, 1, len, stdout) != len)
			err = error("config dump: write: %s", strerror(errno));
		cyaml_mem(NULL, text, 0);
	}
	/* a dump cut short (full disk, closed pipe) must not look like a whole one */
	if (!err && (fflush(stdout) || ferror(stdout)))
		err = error("config dump: write: %s", strerror(errno));
	y_free(y);
	return err ? FG_EXIT_ERR : FG_EXIT_OK;
}

/* ---- config check, config apply --------------------------------------------------------- */

static void check_json(const struct load *l, const char *path, int err)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t i;

	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(o, "valid", json_object_new_boolean(!err && !l->errors));
	for (i = 0; i < l->n_d; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "line", json_object_new_int(l->d[i].line));
		json_object_object_add(d, "column", json_object_new_int(l->d[i].col));
		json_object_object_add(d, "severity",
				       json_object_new_string(l->d[i].warn ? "warning" : "error"));
		json_object_object_add(d, "message",
				       json_object_new_string(l->d[i].msg ?: "out of memory"));
		json_object_array_add(a, d);
	}
	json_object_object_add(o, "problems", a);
	print_json(o);
}

static int config_check(const char *path)
{
	struct fg_file_config c;
	struct load l;
	bool invalid;
	int err;

	err = config_load(&l, path, CFG_CHECK_HZ, &c);
	if (fg_opts.json)
		check_json(&l, path, err);
	else
		diag_print(&l);
	invalid = err || l.errors;
	if (!invalid && !fg_opts.json)
		printf("%s: ok\n", path);
	load_free(&l);
	fg_config_free(&c);
	return invalid ? FG_EXIT_ERR : FG_EXIT_OK;
}

/* What `config apply` leaves alone, said once so nobody expects otherwise. */
static void apply_warnings(const struct fg_maps *m, const struct fg_file_config *c, const char *path)
{
	char ifs[64][IF_NAMESIZE];
	int n = attached_ifaces(ifs, 64), i, j;
	const __u32 want[] = { c->sizes.sources, c->sizes.bans, c->sizes.lists };
	const int fds[] = { m->sources, m->bans, m->lists };

	for (i = 0; i < c->n_ifaces; i++) {
		for (j = 0; j < n && strcmp(ifs[j], c->ifaces[i]); j++)
			;
		if (j == n)
			warning("%s: interfaces: %s is not attached (config apply attaches "
				"nothing: "
				"floodgate attach %s --config %s)",
				path, c->ifaces[i], c->ifaces[i], path);
	}
	for (j = 0; c->n_ifaces && j < n; j++) {
		for (i = 0; i < c->n_ifaces && strcmp(ifs[j], c->ifaces[i]); i++)
			;
		if (i == c->n_ifaces)
			warning("%s: interfaces: %s is attached but not listed (it stays attached)",
				path, ifs[j]);
	}
	for (i = 0; i < 3; i++) {
		__u32 live = max_entries(fds[i]);

		if (want[i] && live && want[i] != live)
			warning("%s: tables: %s: %u in the file, %u live: table sizes change only "
				"when the maps are created (detach --all, then attach)",
				path, table_keys[i].key, want[i], live);
	}
}

static int config_apply(const char *path)
{
	struct fg_file_config c = {};
	struct fg_maps m;
	size_t rules = 0;
	int err, i;

	if (fg_maps_open(&m, true))
		return FG_EXIT_ERR;
	err = fg_config_load(path, fg_hz(&m), &c);
	if (err) {
		fg_maps_close(&m);
		return FG_EXIT_ERR; /* problems printed; nothing changed */
	}
	apply_warnings(&m, &c, path);
	for (i = 1; i < FG_MAX_RULES; i++)
		rules += c.rs->cfg.rules[i].used;
	err = fg_maps_lock(&m) ?: fg_config_apply(&m, &c);
	fg_maps_close(&m);
	if (!err && fg_opts.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "applied", json_object_new_string(path));
		json_object_object_add(o, "endpoints", json_object_new_int64(rules));
		json_object_object_add(o, "allow", json_object_new_int64(c.n_allow));
		json_object_object_add(o, "deny", json_object_new_int64(c.n_deny));
		print_json(o);
	} else if (!err) {
		printf("applied %s: default rule, %zu endpoint rules, %zu allow, %zu deny\n", path,
		       rules, c.n_allow, c.n_deny);
	}
	fg_config_free(&c);
	return err ? FG_EXIT_ERR : FG_EXIT_OK;
}

static void config_usage(FILE *f)
{
	fprintf(f,
		"usage: floodgate config check FILE\n"
		"       floodgate config apply FILE\n"
		"       floodgate config dump\n"
		"\n"
		"check  validate FILE: one FILE:LINE:COL: error: ... line per problem (exit 1),\n"
		"       else FILE: ok. -j: {\"file\", \"valid\", \"problems\": [{\"line\",\n"
		"       \"column\", \"severity\", \"message\"}]}.\n"
		"apply  validate FILE fully, then replace the allow and deny lists and swap the\n"
		"       whole rule set (default rule, endpoints, ban events per second, under-\n"
		"       attack threshold) in one step; nothing changes when FILE has a problem.\n"
		"       interfaces, tables, metrics and ban_policy.forget_after are read by\n"
		"       attach --config and run: apply warns when interfaces or tables differ\n"
		"       from the live ones. Manual bans are left alone.\n"
		"dump   print the live rules, lists and table sizes as a config file that apply\n"
		"       accepts (applying it changes nothing). -j: the same as JSON.\n"
		"\n"
		"Every key of the file, with comments: floodgate.example.yaml.\n");
}

int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		FG_COMMON_LONGOPTS,
		{},
	};
	const char *sub;
	int c;

	while ((c = getopt_long(argc, argv, "h" FG_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (fg_common_opt(c))
			continue;
		if (c == 'h') {
			config_usage(stdout);
			return FG_EXIT_OK;
		}
		config_usage(stderr);
		return FG_EXIT_USAGE;
	}
	if (optind >= argc) {
		config_usage(stderr);
		return FG_EXIT_USAGE;
	}
	sub = argv[optind++];
	if (!strcmp(sub, "dump")) {
		if (optind != argc) {
			error("config dump takes no argument");
			return FG_EXIT_USAGE;
		}
		return config_dump();
	}
	if (strcmp(sub, "check") && strcmp(sub, "apply")) {
		error("config %s: unknown subcommand (check, apply or dump)", sub);
		return FG_EXIT_USAGE;
	}
	if (optind != argc - 1) {
		error("config %s: needs exactly one FILE", sub);
		return FG_EXIT_USAGE;
	}
	return !strcmp(sub, "check") ? config_check(argv[optind]) : config_apply(argv[optind]);
}
