// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * config_walk.c: step 2 of loading a config file (config_yaml.h): the structural
 * walk of the node tree against the schema, and the cleaned copy of the
 * document libcyaml loads when the walk found problems.
 */
#include <stdio.h>
#include <string.h>

#include "config_yaml.h"

/* ---- step 2: the structural walk --------------------------------------- */

/* A structural problem: reported, and the node is left out of the load. */
void __attribute__((format(printf, 3, 4)))
cfg_bad(struct cfg_load *l, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_diag_vadd(l, n->start_mark.line + 1, n->start_mark.column + 1, false, fmt, ap);
	va_end(ap);
	if (y_node_idx(l, n) < l->n_nodes)
		l->bad[y_node_idx(l, n)] = 1;
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

static void walk_mapping(struct cfg_load *l, yaml_node_t *n, const cyaml_schema_value_t *s,
			 const char *what)
{
	const char *sep = *what ? ": " : "";
	yaml_node_pair_t *p, *q;

	if (n->type != YAML_MAPPING_NODE) {
		cfg_bad(l, n, "%s%sexpected KEY: VALUE lines, got %s", what, sep, y_kind_name(n));
		return;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = y_node(l, p->key), *v = y_node(l, p->value);
		const cyaml_schema_field_t *f, *best = NULL;
		const char *key = y_scalar(k);
		char sub[CFG_WHAT];
		bool dup = false;

		if (!key) {
			cfg_bad(l, k, "%s%sa key must be a name, got %s", what, sep, y_kind_name(k));
			continue;
		}
		for (f = s->mapping.fields; f->key && strcmp(f->key, key); f++)
			if (!best || distance(f->key, key) < distance(best->key, key))
				best = f;
		if (!f->key) {
			if (best && distance(best->key, key) <= 2)
				cfg_bad(l, k, "%s%sunknown key '%s' (did you mean '%s'?)", what,
					sep, key, best->key);
			else
				cfg_bad(l, k, "%s%sunknown key '%s'", what, sep, key);
			continue;
		}
		for (q = n->data.mapping.pairs.start; q < p && !dup; q++) {
			yaml_node_t *qk = y_node(l, q->key);

			if (y_scalar(qk) && !strcmp(y_scalar(qk), key)) {
				cfg_bad(l, k, "%s%s'%s' given twice (first on line %zu)", what, sep,
					key, qk->start_mark.line + 1);
				dup = true;
			}
		}
		if (dup)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", what, sep, key);
		cfg_walk(l, v, &f->value, sub);
	}
}

/* How an entry of `endpoints:` is named in messages: its endpoint, else its number. */
void cfg_entry_label(struct cfg_load *l, yaml_node_t *item, size_t i, char *buf, size_t len)
{
	const char *ep = y_scalar(y_map_get(l, item, "endpoint"));

	if (ep && *ep && strlen(ep) < 40)
		snprintf(buf, len, "%s", ep);
	else
		snprintf(buf, len, "endpoints entry %zu", i + 1);
}

void cfg_walk(struct cfg_load *l, yaml_node_t *n, const cyaml_schema_value_t *s, const char *what)
{
	const bool nullable = (s->flags & CYAML_FLAG_POINTER_NULL) == CYAML_FLAG_POINTER_NULL;
	const char *v;
	size_t i, count;

	switch (s->type) {
	case CYAML_MAPPING:
		if (!(nullable && y_is_null(n)))
			walk_mapping(l, n, s, what);
		break;
	case CYAML_SEQUENCE:
		if (nullable && y_is_null(n))
			break;
		if (n->type != YAML_SEQUENCE_NODE) {
			cfg_bad(l, n, "%s: expected a list ('- ITEM' lines or [A, B]), got %s",
				what, y_kind_name(n));
			break;
		}
		count = n->data.sequence.items.top - n->data.sequence.items.start;
		for (i = 0; i < count; i++) {
			yaml_node_t *item = y_seq_item(l, n, i);
			char label[CFG_WHAT];

			if (i == s->sequence.max) {
				/* the cleaned copy stops at max: the entries after it are not loaded */
				cfg_diag(l, item, false, "%s: more than %u entries", what,
					 s->sequence.max);
				l->sanitize = true;
				break;
			}
			if (s->sequence.entry->type == CYAML_MAPPING)
				cfg_entry_label(l, item, i, label, sizeof(label));
			else
				snprintf(label, sizeof(label), "%s", what);
			cfg_walk(l, item, s->sequence.entry, label);
		}
		break;
	case CYAML_STRING:
		v = y_scalar(n);
		if (!v)
			cfg_bad(l, n, "%s: expected one value, got %s", what, y_kind_name(n));
		else if (strlen(v) > s->string.max)
			cfg_bad(l, n, "%s: %s: longer than %u characters", what, v, s->string.max);
		else if (strlen(v) < s->string.min)
			cfg_bad(l, n, "%s: empty value", what);
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
void cfg_emit(struct cfg_load *l, FILE *f, yaml_node_t *n, const cyaml_schema_value_t *s)
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
			yaml_node_t *k = y_node(l, p->key), *v = y_node(l, p->value);
			const cyaml_schema_field_t *fl;

			if (y_is_bad(l, k) || y_is_bad(l, v) || !y_scalar(k))
				continue;
			for (fl = s->mapping.fields; fl->key && strcmp(fl->key, y_scalar(k)); fl++)
				;
			if (!fl->key)
				continue;
			fputs(sep, f);
			emit_str(f, fl->key);
			fputs(": ", f);
			if (fl->value.type == CYAML_MAPPING && y_is_null(v))
				fputs("{}", f);
			else if (fl->value.type == CYAML_SEQUENCE && y_is_null(v))
				fputs("[]", f);
			else
				cfg_emit(l, f, v, &fl->value);
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
			yaml_node_t *item = y_seq_item(l, n, i);

			fputs(sep, f);
			if (y_is_bad(l, item) && s->sequence.entry->type == CYAML_MAPPING)
				fputs("{}", f);
			else if (y_is_bad(l, item)) /* the shortest string the schema takes */
				fprintf(f, "\"%.*s\"", (int)s->sequence.entry->string.min,
					"????????????????");
			else
				cfg_emit(l, f, item, s->sequence.entry);
			sep = ", ";
		}
		fputc(']', f);
		break;
	default:
		emit_str(f, y_scalar(n) ?: "");
		break;
	}
}
