// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * config_apply.c: `config apply` and the daemon's reload: a loaded config made live,
 * lists first, then the rule set in one commit, nothing changed when
 * anything refuses.
 */
#include <errno.h>
#include <stdlib.h>

#include "util.h"
#include "maps.h"
#include "ruleset.h"
#include "lists.h"
#include "config.h"
#include "config_yaml.h"
#include "synproxy.h"

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
		if (cfg_same_cidr(&v[i], c))
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
 * What could refuse the new lists, checked before anything changes: a
 * ban in the trie (manual, or a fleet ban of a length no rule bans at) on
 * a prefix the file allows or denies, and room in fg_lists for both lists
 * and those bans. 0 or -errno after an error.
 */
static int lists_fit(const struct fg_maps *m, const struct fg_file_config *c,
		     const struct fg_list_entry *cur, size_t n_cur)
{
	__u32 cap = fg_map_capacity(m->lists);
	size_t n_bans = 0, i;
	char buf[64];

	for (i = 0; i < n_cur; i++) {
		bool on_allow;

		if (cur[i].kind != FG_LIST_BAN)
			continue;
		n_bans++;
		on_allow = in_list(c->allow, c->n_allow, &cur[i].cidr);
		if (on_allow || in_list(c->deny, c->n_deny, &cur[i].cidr)) {
			fg_format_cidr(buf, sizeof(buf), cur[i].cidr.family, cur[i].cidr.addr,
				       cur[i].cidr.plen);
			return error("%s: on the ban list (a manual or fleet ban), so it cannot go "
				     "on "
				     "the %s list (ban del %s first)",
				     buf, on_allow ? "allow" : "deny", buf),
			       -EEXIST;
		}
	}
	if (cap && c->n_allow + c->n_deny + n_bans > cap)
		return error("allow and deny: %zu prefixes and %zu bans do not fit fg_lists "
			     "(%u)",
			     c->n_allow + c->n_deny, n_bans, cap),
		       -ENOSPC;
	return 0;
}

/*
 * After the commit: a deleted rule, or a slot another endpoint took,
 * loses its buckets, total and counters; a kept rule its buckets when its
 * prefixes moved, its total when the total rate did (new per-source rates
 * keep the buckets: the data path rescales them).
 */
static void rules_reset(const struct fg_maps *m, const struct fg_ruleset *live,
			const struct fg_ruleset *next)
{
	int k;

	for (k = 0; k < FG_MAX_RULES; k++) {
		const struct fg_rule *o = &live->cfg.rules[k], *r = &next->cfg.rules[k];

		if (!o->used)
			continue;
		if (!same_endpoint(o, r))
			fg_rule_reset(m, k, true, true, true);
		else
			fg_rule_reset(m, k, o->plen4 != r->plen4 || o->plen6 != r->plen6,
				      o->total.rate != r->total.rate, false);
	}
}

void fg_config_warn_sizes(const struct fg_maps *m, const struct fg_sizes *want, const char *path)
{
	int i;

	for (i = 0; i < CFG_TABLE_KEYS; i++) {
		__u32 w = *(const __u32 *)((const char *)want + cfg_table_keys[i].out_off);
		__u32 live = fg_map_capacity(
			*(const int *)((const char *)m + cfg_table_keys[i].fd_off));

		if (w && live && w != live)
			warning("%s: tables: %s: %u in the file, %u live: table sizes change only "
				"when the maps are created (detach --all, then attach)",
				path, cfg_table_keys[i].key, w, live);
	}
}

int fg_config_apply(const struct fg_maps *m, struct fg_file_config *c)
{
	struct fg_ruleset *live = NULL, *next = NULL;
	struct fg_list_entry *cur = NULL;
	struct fg_cidr *old_a = NULL, *old_d = NULL;
	size_t n_cur = 0, n_oa = 0, n_od = 0;
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
	if ((err = fg_list_read(m, &cur, &n_cur)) || (err = lists_fit(m, c, cur, n_cur)))
		goto out;
	old_a = kind_of(cur, n_cur, FG_LIST_ALLOW, &n_oa);
	old_d = kind_of(cur, n_cur, FG_LIST_DENY, &n_od);
	if (!old_a || !old_d) {
		err = -ENOMEM;
		goto out;
	}
	err = fg_list_replace(m, c->allow, c->n_allow, c->deny, c->n_deny);
	if (!err) {
		for (k = 1; k < FG_MAX_RULES; k++) /* a new rule must not inherit a slot's leftovers */
			if (next->cfg.rules[k].used &&
			    !same_endpoint(&live->cfg.rules[k], &next->cfg.rules[k]))
				fg_rule_reset(m, k, true, true, true);
		err = fg_ruleset_commit_proxied(m, next);
	}
	if (err) {
		if (fg_list_replace(m, old_a, n_oa, old_d, n_od))
			error("config apply: the allow and deny lists could not be restored");
		goto out;
	}
	rules_reset(m, live, next);
out:
	free(cur);
	free(old_a);
	free(old_d);
	free(live);
	free(next);
	return err;
}
