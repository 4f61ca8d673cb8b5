// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * config_diag.c: the config loader's problems, each recorded with its position in
 * the file, and the libyaml node tree they are placed in.
 */
#define _GNU_SOURCE /* vasprintf */
#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "config.h"
#include "config_yaml.h"

void cfg_diag_vadd(struct cfg_load *l, unsigned int line, unsigned int col, bool warn,
		   const char *fmt, va_list ap)
{
	struct fg_diag *d;
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
	*d = (struct fg_diag){
		.line = line ?: 1, .col = col ?: 1, .seq = l->n_d, .warn = warn, .msg = msg
	};
	l->n_d++;
	l->errors += !warn;
}

/* A problem at node n (NULL: the top of the file). */
void cfg_diag(struct cfg_load *l, const yaml_node_t *n, bool warn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_diag_vadd(l, n ? n->start_mark.line + 1 : 1, n ? n->start_mark.column + 1 : 1, warn,
		      fmt, ap);
	va_end(ap);
}

void __attribute__((format(printf, 5, 6)))
cfg_diag_at(struct cfg_load *l, unsigned int line, unsigned int col, bool warn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_diag_vadd(l, line, col, warn, fmt, ap);
	va_end(ap);
}

static int diag_cmp(const void *a, const void *b)
{
	const struct fg_diag *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort by position and drop repeats (an alias reaches one bad node twice). */
void cfg_diag_sort(struct cfg_load *l)
{
	size_t i, n = 0;

	if (!l->n_d)
		return;
	qsort(l->d, l->n_d, sizeof(*l->d), diag_cmp);
	for (i = 0; i < l->n_d; i++) {
		struct fg_diag *p = n ? &l->d[n - 1] : NULL;

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

void cfg_diag_print(const char *path, const struct fg_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		fprintf(stderr, "%s:%u:%u: %s: %s\n", path, d->v[i].line, d->v[i].col,
			d->v[i].warn ? "warning" : "error",
			d->v[i].msg ? d->v[i].msg : "out of memory");
}

/*
 * The parsers of util.c report their one problem through error(). While
 * the values are checked, cfg_load_file() installs cfg_load_report() as the
 * routine, which records each message as a problem at l->at: the node
 * whose value is being parsed, set by AT() around the call.
 */
void cfg_load_report(void *ctx, bool warn, const char *msg)
{
	struct cfg_load *l = ctx;

	cfg_diag(l, l->at, warn, "%s", msg);
}

/* ---- the node tree ----------------------------------------------------- */

yaml_node_t *y_node(struct cfg_load *l, int id)
{
	return l->have_doc ? yaml_document_get_node(&l->doc, id) : NULL;
}

size_t y_node_idx(const struct cfg_load *l, const yaml_node_t *n)
{
	return n - l->doc.nodes.start;
}

bool y_is_bad(const struct cfg_load *l, const yaml_node_t *n)
{
	return n && y_node_idx(l, n) < l->n_nodes && l->bad[y_node_idx(l, n)];
}

const char *y_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Value node of `key` in mapping node map (the first one), NULL when absent. */
yaml_node_t *y_map_get(struct cfg_load *l, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = y_scalar(y_node(l, p->key));

		if (k && !strcmp(k, key))
			return y_node(l, p->value);
	}
	return NULL;
}

yaml_node_t *y_seq_item(struct cfg_load *l, const yaml_node_t *seq, size_t i)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE ||
	    i >= (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start))
		return NULL;
	return y_node(l, seq->data.sequence.items.start[i]);
}

/* libcyaml's NULL for CYAML_FLAG_POINTER_NULL_STR: empty, ~ or null. */
bool y_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	const char *s = y_scalar(n);
	size_t i;

	for (i = 0; s && i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!strcmp(s, nulls[i]))
			return true;
	return false;
}

const char *y_kind_name(const yaml_node_t *n)
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
