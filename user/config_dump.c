// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * config_dump.c: the live state as a config file (`config dump`): built as the
 * y_* structs the loader reads, so libcyaml writes it and applying it
 * changes nothing; and any y_* value as JSON, driven by the schema.
 */
#define _GNU_SOURCE /* asprintf */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>

#include "util.h"
#include "maps.h"
#include "ruleset.h"
#include "lists.h"
#include "config.h"
#include "rule.h"
#include "config_yaml.h"

/* ---- config dump -------------------------------------------------------------- */

static char *str_u64(__u64 v)
{
	char *s;

	return asprintf(&s, "%" PRIu64, (uint64_t)v) < 0 ? NULL : s;
}

/*
 * Whether a dump writes field i of rule r. The default rule says
 * everything (`off` for a rate it lacks); an endpoint rule only what
 * differs from what it would start with (def: the default rule), and its
 * ban settings when it bans. A burst goes with its rate.
 */
static bool dump_wants(const struct fg_rule *r, const struct fg_rule *def, int i)
{
	const struct fg_rule_field *f = &fg_rule_fields[i];
	bool all = !r->proto;
	__u64 v = fg_rf_get(r, i);

	if (f->tcp && r->proto != IPPROTO_TCP)
		return false; /* the default rule and UDP endpoints cannot have it */
	if (f->burst >= 0)
		return v || all;
	if (f->rate >= 0)
		return fg_rf_get(r, f->rate) != 0;
	if (f->inherit)
		return v && (all || r->action == FG_ACT_BAN || v != fg_rf_get(def, i));
	return all || v != f->start;
}

/* A rule as the file writes it. */
static void dump_rule(const struct fg_rule *r, const struct fg_rule *def, __u64 hz, struct y_rule *y)
{
	char buf[64];
	int i;

	if (r->proto)
		y->endpoint = strdup(fg_format_endpoint(buf, sizeof(buf), r));
	for (i = 0; i < FG_RF_MAX; i++) {
		if (!dump_wants(r, def, i))
			continue;
		if (fg_rule_fields[i].burst >= 0 && !fg_rf_get(r, i))
			y->v[i] = strdup("off");
		else
			y->v[i] = strdup(fg_rf_format(buf, sizeof(buf), r, i, hz));
	}
}

/*
 * The fleet section the daemon runs with (its pinned status, fleet.h); none
 * when no daemon with a fleet section runs on these pins. -ENOMEM or 0.
 */
static int dump_fleet(struct y_file *y)
{
	struct fg_fleet_status st;
	struct y_fleet *f;

	if (fg_fleet_status_read(&st))
		return 0;
	f = y->fleet = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->redis = strdup(st.cfg.redis);
	if (st.cfg.password_file[0])
		f->password_file = strdup(st.cfg.password_file);
	f->node = strdup(st.cfg.node);
	f->ns = strdup(st.cfg.ns);
	f->publish = strdup(fg_fleet_publish_name(st.cfg.publish));
	f->accept = strdup(st.cfg.accept ? "true" : "false");
	f->min_prefix4 = str_u64(st.cfg.min_prefix4);
	f->min_prefix6 = str_u64(st.cfg.min_prefix6);
	f->max_bans = str_u64(st.cfg.max_bans);
	f->queue = str_u64(st.cfg.queue);
	if (!f->redis || !f->node || !f->ns || !f->publish || !f->accept || !f->min_prefix4 ||
	    !f->min_prefix6 || !f->max_bans || !f->queue)
		return -ENOMEM;
	return 0;
}

/* The live state as a y_file (every string on the heap: y_free releases it). */
int cfg_dump_build(const struct fg_maps *m, struct y_file **out)
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

	k = fg_attached_ifaces(ifs, FG_MAX_IFACES);
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
		y->tables->sources = str_u64(fg_map_capacity(m->sources));
		y->tables->bans = str_u64(fg_map_capacity(m->bans));
		y->tables->lists = str_u64(fg_map_capacity(m->lists));
	}
	if (!y->interfaces || !y->def || !y->endpoints || !y->allow || !y->deny || !y->ban_policy ||
	    !y->under_attack || !y->tables || dump_fleet(y))
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
json_object *cfg_to_json(const void *data, const cyaml_schema_value_t *s)
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
					json_object_object_add(o, f->key, cfg_to_json(v, &f->value));
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

				json_object_array_add(a, cfg_to_json((e->flags & CYAML_FLAG_POINTER)
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
