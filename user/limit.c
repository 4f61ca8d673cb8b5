// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * limit.c: `floodgate limit set|del|list`, the per-endpoint rate limits.
 *
 * Every change reads the live rule set, edits one rule in memory, and
 * makes the whole set live with fg_ruleset_commit (validate, write the
 * idle slot, flip), so a bad value changes nothing and no packet sees
 * half a change. A changed per-source rate keeps the buckets: the data
 * path moves each to the new rate with the tokens it had (fg_rebase). A
 * changed prefix changes the buckets' keys, so they are dropped after the
 * commit and start again full; so are a deleted rule's buckets, counters
 * and endpoint total, so a later rule in its slot starts from zero.
 */
#include <stdio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "util.h"
#include "maps.h"
#include "ruleset.h"
#include "cli.h"
#include "cmds.h"
#include "rule.h"
#include "synproxy.h"

static void limit_usage(FILE *f)
{
	char opt[64];
	int i;

	fprintf(f, "ENDPOINT is default, tcp/PORT, udp/PORT, tcp/LO-HI or udp/LO-HI. Packets to\n"
		   "a port without an endpoint rule get the default rule. Limits are per source\n"
		   "(the source address masked to the rule's prefix) unless they say otherwise.\n"
		   "\n"
		   "set: change only the options given; a new endpoint starts with no limits,\n"
		   "prefixes /32 and /64 and action drop. A rate is N, or `off` for no limit.\n");
	for (i = 0; i < FG_RF_MAX; i++) {
		snprintf(opt, sizeof(opt), "--%s %s", fg_rule_fields[i].opt, fg_rule_fields[i].arg);
		fprintf(f, "  %-20s %s\n", opt, fg_rule_fields[i].help);
	}
	fprintf(f,
		"A rate given without its burst sets the burst to the default above. Changing a\n"
		"rate or a prefix restarts the endpoint's per-source buckets (full bursts).\n"
		"\n"
		"del: remove an endpoint rule (its traffic falls back to the default rule); the\n"
		"default rule cannot be deleted.\n"
		"list: every rule; -j prints an array of objects, rates 0 meaning no limit.\n");
}

/*
 * What `limit set` adds to the shared rules (rule.c): --ban-for on a rule
 * without ban settings also sets a multiplier of 2 and a longest ban of a
 * day (or the first ban, when longer), unless given.
 */
static void ban_defaults(struct fg_rule *r, const struct fg_rule_edit *e, const struct fg_rule *old,
			 __u64 hz)
{
	__u64 f = e->v[FG_RF_BAN_FOR];

	if (!e->text[FG_RF_BAN_FOR])
		return;
	if (!old->ban_mult && !e->text[FG_RF_BAN_MULT])
		r->ban_mult = 2;
	if (!old->ban_max_ticks && !e->text[FG_RF_BAN_MAX])
		r->ban_max_ticks = (f > 86400 ? f : 86400) * hz;
}

/*
 * Apply parsed options to rule r (hz converts seconds to ticks); *reset
 * when a prefix moved: the buckets are keyed by it. A new per-source rate
 * keeps the buckets, the data path moves their state to the new rate
 * (fg_rebase). Returns 0 or -EINVAL after the errors.
 */
static int edit_rule(const char *ep, struct fg_rule *r, const struct fg_rule_edit *e, __u64 hz,
		     bool *reset)
{
	const struct fg_rule old = *r;
	char label[64];
	const struct fg_rule_where w = { .label = label, .cli = true };

	snprintf(label, sizeof(label), "limit set %s", ep);
	if (fg_rule_apply(r, e, hz, &w))
		return -EINVAL;
	ban_defaults(r, e, &old, hz);
	if (fg_rule_check_bans(r, e, hz, &w) || fg_rule_check_proto(r, e, &w))
		return -EINVAL;
	*reset = old.plen4 != r->plen4 || old.plen6 != r->plen6;
	return 0;
}

/* Zero one per-CPU slot of fg_rule_stats. */
static int zero_rule_stats(const struct fg_maps *m, __u32 idx)
{
	struct fg_rule_count *zero = calloc(m->ncpus, sizeof(*zero));
	int err = 0;

	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(m->rule_stats, &idx, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

static int zero_total(const struct fg_maps *m, __u32 idx)
{
	struct fg_total zero = {};

	return bpf_map_update_elem(m->totals, &idx, &zero, BPF_ANY) ? -errno : 0;
}

/* purge_sources' walk: the rule whose buckets go, and how many went. */
struct purge {
	const struct fg_maps *m; /* the maps */
	__u16 rule;		 /* rule index */
	long gone;		 /* buckets deleted */
};

static int purge_chunk(const void *keys, const void *vals, __u32 n, void *ctx)
{
	const struct fg_src_key *k = keys;
	struct purge *p = ctx;
	__u32 i;

	for (i = 0; i < n; i++) /* one by one: an entry evicted meanwhile is no error */
		if (k[i].rule == p->rule && !bpf_map_delete_elem(p->m->sources, &k[i]))
			p->gone++;
	return 0;
}

/*
 * Delete every per-source bucket of rule idx. Returns how many, or
 * -errno. Entries the data path adds meanwhile are already in the new
 * rule's units and may stay.
 */
static long purge_sources(const struct fg_maps *m, __u16 idx)
{
	struct purge p = { .m = m, .rule = idx };
	int err = fg_map_walk(m->sources, sizeof(struct fg_src_key), sizeof(struct fg_src),
			      purge_chunk, &p);

	return err ? err : p.gone;
}

void fg_rule_reset(const struct fg_maps *m, __u32 idx, bool buckets, bool total, bool stats)
{
	long n;

	if (buckets && (n = purge_sources(m, idx)) < 0)
		warning("rule %d: could not reset its source buckets: %s", idx, strerror((int)-n));
	if (total && zero_total(m, idx))
		warning("rule %d: could not reset its endpoint total: %s", idx, strerror(errno));
	if (stats && zero_rule_stats(m, idx))
		warning("rule %d: could not reset its counters: %s", idx, strerror(errno));
}

static int limit_set(const struct fg_args *a)
{
	const char *ep_s = a->pos[0];
	struct fg_rule_edit edit = {}, *e = &edit;
	struct fg_ruleset *rs = calloc(1, sizeof(*rs));
	struct fg_endpoint ep;
	struct fg_rule *r, old;
	bool fresh = false, reset = false;
	struct fg_maps m;
	int idx, ret = FG_EXIT_ERR;

	if (!rs)
		return error("limit set: out of memory"), FG_EXIT_ERR;
	for (idx = 0; idx < FG_RF_MAX; idx++)
		e->text[idx] = a->opt[idx];
	/* values are checked before any map is touched: a typo needs no attached program */
	if (fg_parse_endpoint("limit set", ep_s, &ep) ||
	    fg_rule_parse(e, &(struct fg_rule_where){ .cli = true }))
		goto out_free;
	if (fg_maps_open(&m, true))
		goto out_free;
	if (fg_maps_lock(&m) || fg_ruleset_read(&m, rs))
		goto out;
	idx = fg_ruleset_find(rs, &ep);
	if (idx < 0) {
		idx = fg_ruleset_free_slot(rs);
		if (idx < 0) {
			error("limit set %s: no room for another endpoint rule (%d at most)", ep_s,
			      FG_MAX_RULES - 1);
			goto out;
		}
		fresh = true;
		r = &rs->cfg.rules[idx];
		fg_rule_start(r);
		r->proto = ep.proto;
		r->port_lo = ep.port_lo;
		r->port_hi = ep.port_hi;
	}
	r = &rs->cfg.rules[idx];
	old = *r;
	if (edit_rule(ep_s, r, e, fg_hz(&m), &reset))
		goto out;
	if (!fresh && !memcmp(&old, r, sizeof(old))) {
		ret = FG_EXIT_OK; /* nothing to change */
		goto out;
	}
	if (fresh) /* leftovers of a rule deleted from this slot must not count for the new one */
		fg_rule_reset(&m, idx, true, true, true);
	if (fg_ruleset_commit_proxied(&m, rs))
		goto out;
	if (!fresh)
		fg_rule_reset(&m, idx, reset, old.total.rate != r->total.rate, false);
	ret = FG_EXIT_OK;
out:
	fg_maps_close(&m);
out_free:
	free(rs);
	return ret;
}

static int limit_del(const struct fg_args *a)
{
	const char *ep_s = a->pos[0];
	struct fg_ruleset *rs = calloc(1, sizeof(*rs));
	struct fg_endpoint ep;
	struct fg_maps m;
	int idx, ret = FG_EXIT_ERR;

	if (!rs)
		return error("limit del: out of memory"), FG_EXIT_ERR;
	if (fg_parse_endpoint("limit del", ep_s, &ep))
		goto out_free;
	if (!ep.proto) {
		error("limit del default: the default rule cannot be deleted (limit set default "
		      "changes it)");
		goto out_free;
	}
	if (fg_maps_open(&m, true))
		goto out_free;
	if (fg_maps_lock(&m) || fg_ruleset_read(&m, rs))
		goto out;
	idx = fg_ruleset_find(rs, &ep);
	if (idx < 0) {
		error("limit del %s: no such endpoint rule (floodgate limit list shows them)", ep_s);
		goto out;
	}
	memset(&rs->cfg.rules[idx], 0, sizeof(rs->cfg.rules[idx]));
	if (fg_ruleset_commit_proxied(&m, rs))
		goto out;
	fg_rule_reset(&m, idx, true, true, true);
	ret = FG_EXIT_OK;
out:
	fg_maps_close(&m);
out_free:
	free(rs);
	return ret;
}

/* Rule indexes in display order: default first, then by protocol and port. */
static int rule_order(const struct fg_ruleset *rs, int *order)
{
	int n = 0, i, j;

	for (i = 0; i < FG_MAX_RULES; i++)
		if (rs->cfg.rules[i].used)
			order[n++] = i;
	for (i = 1; i < n; i++) /* insertion sort: 64 rules at most */
		for (j = i; j > 0; j--) {
			const struct fg_rule *a = &rs->cfg.rules[order[j - 1]],
					     *b = &rs->cfg.rules[order[j]];
			int t;

			if (a->proto < b->proto || (a->proto == b->proto && a->port_lo <= b->port_lo))
				break;
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	return n;
}

static json_object *rule_json(const struct fg_rule *r, __u64 hz)
{
	json_object *o = json_object_new_object();
	char ep[32];
	int i;

	json_object_object_add(o, "endpoint",
			       json_object_new_string(fg_format_endpoint(ep, sizeof(ep), r)));
	for (i = 0; i < FG_RF_MAX; i++) {
		const struct fg_rule_field *f = &fg_rule_fields[i];
		__u64 v = fg_rf_get(r, i);

		if (f->kind == FG_RK_ACTION)
			json_object_object_add(o, f->json, json_object_new_string(fg_action_name(v)));
		else if (f->kind == FG_RK_SWITCH)
			json_object_object_add(o, f->json, json_object_new_boolean(v != 0));
		else
			json_object_object_add(
				o, f->json,
				json_object_new_int64(f->kind == FG_RK_DURATION ? v / hz : v));
	}
	return o;
}

/*
 * One line of `limit list`: the rate columns of the field table, then
 * prefixes, the action and the switches that are on (", syn-proxy").
 */
static void rule_line(const struct fg_rule *r, __u64 hz)
{
	char ep[32], col[48], x[24], y[24], act[96], d1[16], d2[16], m[16];
	int i;

	printf("%-14s", fg_format_endpoint(ep, sizeof(ep), r));
	for (i = 0; i < FG_RF_MAX; i++) {
		const struct fg_rule_field *f = &fg_rule_fields[i];

		if (!f->col)
			continue;
		if (fg_rf_get(r, i))
			snprintf(col, sizeof(col), "%s/%s", fg_rf_format(x, sizeof(x), r, i, hz),
				 fg_rf_format(y, sizeof(y), r, f->burst, hz));
		else
			snprintf(col, sizeof(col), "-");
		printf(" %-*s", f->width, col);
	}
	snprintf(col, sizeof(col), "/%u /%u", r->plen4, r->plen6);
	if (r->action == FG_ACT_BAN)
		snprintf(act, sizeof(act), "ban %s (x%s, max %s)",
			 fg_rf_format(d1, sizeof(d1), r, FG_RF_BAN_FOR, hz),
			 fg_rf_format(m, sizeof(m), r, FG_RF_BAN_MULT, hz),
			 fg_rf_format(d2, sizeof(d2), r, FG_RF_BAN_MAX, hz));
	else
		snprintf(act, sizeof(act), "%s", fg_action_name(r->action));
	/* switches that are on follow the action: the columns before stay where scripts expect */
	for (i = 0; i < FG_RF_MAX; i++)
		if (fg_rule_fields[i].kind == FG_RK_SWITCH && fg_rf_get(r, i))
			snprintf(act + strlen(act), sizeof(act) - strlen(act), ", %s",
				 fg_rule_fields[i].opt);
	printf(" %-9s %s\n", col, act);
}

static int limit_list(const struct fg_args *a)
{
	struct fg_ruleset *rs = calloc(1, sizeof(*rs));
	int order[FG_MAX_RULES], n, i, ret = FG_EXIT_ERR;
	struct fg_maps m;
	__u64 hz;

	if (!rs)
		return error("limit list: out of memory"), FG_EXIT_ERR;
	if (fg_maps_open(&m, false))
		goto out_free;
	if (fg_ruleset_read(&m, rs))
		goto out;
	hz = fg_hz(&m);
	n = rule_order(rs, order);
	if (fg_opts.json) {
		json_object *ja = json_object_new_array();

		for (i = 0; i < n; i++)
			json_object_array_add(ja, rule_json(&rs->cfg.rules[order[i]], hz));
		fg_print_json(ja, 0);
		ret = FG_EXIT_OK;
		goto out;
	}
	printf("%-14s", "ENDPOINT");
	for (i = 0; i < FG_RF_MAX; i++)
		if (fg_rule_fields[i].col)
			printf(" %-*s", fg_rule_fields[i].width, fg_rule_fields[i].col);
	printf(" %-9s %s\n", "PREFIX", "ACTION");
	for (i = 0; i < n; i++)
		rule_line(&rs->cfg.rules[order[i]], hz);
	ret = FG_EXIT_OK;
out:
	fg_maps_close(&m);
out_free:
	free(rs);
	return ret;
}

/* limit set's options: the rule fields (rule.h), filled in before main runs. */
static struct fg_opt limit_opts[FG_RF_MAX + 1];

__attribute__((constructor)) static void limit_opts_init(void)
{
	int i;

	for (i = 0; i < FG_RF_MAX; i++)
		limit_opts[i] = (struct fg_opt){ fg_rule_fields[i].opt, 0, fg_rule_fields[i].arg,
						 "set", FG_OPT_HIDDEN };
}

static const struct fg_sub limit_subs[] = {
	{ "set", "ENDPOINT [OPTIONS]", 1, limit_set },
	{ "del", "ENDPOINT", 1, limit_del },
	{ "list", NULL, 0, limit_list },
	{},
};

const struct fg_cmd fg_cmd_limit = {
	.name = "limit",
	.opts = limit_opts,
	.subs = limit_subs,
	.usage = limit_usage,
	.help = "limit set|del|list: per-endpoint rate limits",
};
