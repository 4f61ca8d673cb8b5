// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * ruleset.c: the rule set as userspace edits it, and its atomic commit.
 *
 * The program reads fg_config[fg_state.slot] and the matching block of
 * fg_ports. A commit writes the whole new set into the idle slot and then
 * flips fg_state.slot with one atomic store, so every packet sees either
 * the old set or the new one, never a mix. Before it writes, it waits for
 * the packets still in the program (fg_sync): one that read the slot
 * number before the last flip may still read the idle slot. `limit`,
 * `config apply` and the daemon's reload all go through
 * fg_ruleset_commit().
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "util.h"
#include "maps.h"
#include "ruleset.h"
#include "metrics.h"
#include "rule.h"

void fg_ruleset_defaults(struct fg_ruleset *rs, __u64 hz)
{
	struct fg_rule *r = &rs->cfg.rules[FG_RULE_DEFAULT];

	memset(rs, 0, sizeof(*rs));
	r->used = 1;
	r->pps = (struct fg_limit){ .rate = 10000, .burst = 20000 };
	r->syn = (struct fg_limit){ .rate = 2000, .burst = 4000 };
	r->plen4 = 32;
	r->plen6 = 64;
	r->action = FG_ACT_DROP;
	r->ban_ticks = 60 * hz;
	r->ban_mult = 2;
	r->ban_max_ticks = 86400 * hz;
	rs->cfg.attack_new_per_sec = 20000;
	rs->cfg.events_per_sec = 100;
}

int fg_ruleset_read(const struct fg_maps *m, struct fg_ruleset *rs)
{
	__u32 slot = __atomic_load_n(&m->st->slot, __ATOMIC_ACQUIRE) & 1;

	if (bpf_map_lookup_elem(m->config, &slot, &rs->cfg))
		return error("read fg_config[%u]: %s", slot, strerror(errno)), -errno;
	fg_ruleset_finish(rs); /* the port table is derived from the rules */
	return 0;
}

static int plen_add(struct fg_plen *lens, __u32 *n, __u8 plen)
{
	__u32 i;

	for (i = 0; i < *n; i++)
		if (lens[i].plen == plen)
			return 0;
	if (*n == FG_MAX_BAN_PLENS)
		return -E2BIG;
	lens[*n].plen = plen;
	fg_netmask(lens[*n].mask, plen);
	(*n)++;
	return 0;
}

static bool ranges_overlap(const struct fg_rule *a, const struct fg_rule *b)
{
	return a->proto == b->proto && a->port_lo <= b->port_hi && b->port_lo <= a->port_hi;
}

/*
 * A rate field and its burst within the bounds of the field table
 * (rule.c), which keep the data path's rate math exact (floodgate.h):
 * ticks per second times rate and burst stay far below 2^62 rate units.
 */
static int check_limit(const char *ep, const struct fg_rule *r, int i)
{
	const struct fg_rule_field *f = &fg_rule_fields[i], *b = &fg_rule_fields[f->burst];
	__u64 rate = fg_rf_get(r, i), burst = fg_rf_get(r, f->burst);

	if (rate && !burst)
		return error("%s: %s burst: must be at least 1", ep, f->opt);
	if (!rate && burst)
		return error("%s: %s burst set without a rate", ep, f->opt);
	if (rate > f->max)
		return error("%s: %s %llu: at most %llu", ep, f->opt, (unsigned long long)rate,
			     (unsigned long long)f->max);
	if (burst > b->max)
		return error("%s: %s burst %llu: at most %llu", ep, f->opt,
			     (unsigned long long)burst, (unsigned long long)b->max);
	return 0;
}

/*
 * The fields the table bounds alone: rates with their bursts, prefix
 * lengths, switches, fields for TCP endpoints only.
 */
static int check_fields(const char *ep, const struct fg_rule *r)
{
	int i, bad = 0;

	for (i = 0; i < FG_RF_MAX; i++) {
		const struct fg_rule_field *f = &fg_rule_fields[i];
		__u64 v = fg_rf_get(r, i);

		if (f->burst >= 0)
			bad += !!check_limit(ep, r, i);
		else if ((f->kind == FG_RK_COUNT || f->kind == FG_RK_SWITCH) && f->rate < 0 &&
			 !f->inherit && (v < f->min || v > f->max))
			bad += !!error("%s: %s %llu: must be %llu..%llu", ep, f->opt,
				       (unsigned long long)v, (unsigned long long)f->min,
				       (unsigned long long)f->max);
		if (f->tcp && v && r->proto != IPPROTO_TCP)
			bad += !!error("%s: %s: only for TCP endpoints", ep, f->opt);
	}
	return bad;
}

int fg_ruleset_check(const struct fg_ruleset *rs)
{
	return fg_ruleset_check_at(rs, NULL, NULL);
}

int fg_ruleset_check_at(const struct fg_ruleset *rs, void (*at)(void *ctx, int rule), void *ctx)
{
	const struct fg_config *c = &rs->cfg;
	struct fg_plen l4[FG_MAX_BAN_PLENS], l6[FG_MAX_BAN_PLENS];
	__u32 n4 = 0, n6 = 0;
	int bad = 0, i, j;

	if (at)
		at(ctx, -1);
	if (!c->rules[FG_RULE_DEFAULT].used || c->rules[FG_RULE_DEFAULT].proto)
		bad += !!error("rule set: the default rule is missing");
	for (i = 0; i < FG_MAX_RULES; i++) {
		const struct fg_rule *r = &c->rules[i];
		char ep[32];

		if (!r->used)
			continue;
		if (at)
			at(ctx, i);
		fg_format_endpoint(ep, sizeof(ep), r);
		if (i != FG_RULE_DEFAULT && ((r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP) ||
					     !r->port_lo || r->port_hi < r->port_lo))
			bad += !!error("%s: bad protocol or port range", ep);
		bad += check_fields(ep, r);
		if (r->action > FG_ACT_BAN)
			bad += !!error("%s: unknown action %u", ep, r->action);
		if (r->action == FG_ACT_BAN) {
			if (!r->ban_ticks)
				bad += !!error("%s: action ban needs a ban duration", ep);
			if (!r->ban_mult)
				bad += !!error("%s: ban multiplier must be at least 1", ep);
			if (r->ban_max_ticks < r->ban_ticks)
				bad += !!error("%s: longest ban is shorter than the first", ep);
			if (plen_add(l4, &n4, r->plen4) || plen_add(l6, &n6, r->plen6))
				bad += !!error("%s: more than %d distinct ban prefix lengths", ep,
					       FG_MAX_BAN_PLENS);
		}
		for (j = 1; j < i; j++)
			if (c->rules[j].used && ranges_overlap(&c->rules[j], r)) {
				char other[32];

				bad += !!error("%s: overlaps %s", ep,
					       fg_format_endpoint(other, sizeof(other), &c->rules[j]));
			}
	}
	if (at)
		at(ctx, -1);
	if (!c->events_per_sec)
		bad += !!error("rule set: events per second must be at least 1");
	return bad;
}

/* The ban groups' prefix (see FG_BAN_GEN_SLOTS): the shortest any ban may be keyed at. */
static void ban_group(struct fg_plen *g, const struct fg_plen *lens, __u32 n,
		      const struct fg_plen *coarse)
{
	__u32 i;

	*g = *coarse;
	for (i = 0; i < n; i++)
		if (lens[i].plen < g->plen)
			*g = lens[i];
}

void fg_ruleset_finish(struct fg_ruleset *rs)
{
	struct fg_config *c = &rs->cfg;
	int i, p;

	memset(rs->ports, 0, sizeof(rs->ports));
	c->n_ban4 = c->n_ban6 = c->n_endpoints = 0;
	memset(c->ban4, 0, sizeof(c->ban4));
	memset(c->ban6, 0, sizeof(c->ban6));
	for (i = 0; i < FG_MAX_RULES; i++) {
		struct fg_rule *r = &c->rules[i];

		if (!r->used) {
			memset(r, 0, sizeof(*r));
			continue;
		}
		fg_netmask(r->mask4, r->plen4);
		fg_netmask(r->mask6, r->plen6);
		if (r->action == FG_ACT_BAN) {
			plen_add(c->ban4, &c->n_ban4, r->plen4);
			plen_add(c->ban6, &c->n_ban6, r->plen6);
		}
		if (i == FG_RULE_DEFAULT)
			continue;
		c->n_endpoints++;
		for (p = r->port_lo; p <= r->port_hi; p++)
			rs->ports[r->proto == IPPROTO_UDP][p] = i;
	}
	memset(&c->coarse4, 0, sizeof(c->coarse4));
	memset(&c->coarse6, 0, sizeof(c->coarse6));
	c->coarse4.plen = FG_COARSE_PLEN4;
	fg_netmask(c->coarse4.mask, FG_COARSE_PLEN4);
	c->coarse6.plen = FG_COARSE_PLEN6;
	fg_netmask(c->coarse6.mask, FG_COARSE_PLEN6);
	ban_group(&c->ban_group4, c->ban4, c->n_ban4, &c->coarse4);
	ban_group(&c->ban_group6, c->ban6, c->n_ban6, &c->coarse6);
}

/*
 * fg_config.sp_keep: the periods of conntrack's TIME_WAIT timeout in this
 * namespace (net.netfilter.nf_conntrack_tcp_timeout_time_wait, read at
 * every commit), 0 without conntrack: every SYN is looked up.
 */
static __u32 sp_keep(__u64 hz)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait", "r");
	char line[32], *end;
	unsigned long long tw;
	bool ok;

	if (!f)
		return 0;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	if (!ok)
		return 0;
	errno = 0;
	tw = strtoull(line, &end, 10);
	return !errno && end != line ? fg_sp_keep(tw, hz) : 0;
}

/*
 * fg_rule.sp_armed of a rule that gets the SYN proxy now: once its keep
 * periods have passed (the stamps of the connections it found then are
 * written), or never when the clock cannot be read.
 */
static __u64 sp_arm(const struct fg_maps *m, __u32 keep, __u64 hz)
{
	__u64 now;

	if (!keep || fg_now(m, &now))
		return (__u64)1 << 63;
	return now + ((__u64)(keep + 1) << fg_sp_shift(hz));
}

/*
 * Number the new rule set after the live one and carry, per rule, when
 * its limits last changed (since) and the rates before that
 * (prev_*, from prev_since on), so the data path moves a bucket to new
 * rates with the tokens it had instead of starting it full (fg_rebase).
 * A rule is the same one at the same index with the same endpoint and
 * prefixes (its buckets are the same keys); a new one starts its buckets
 * full. Commits that leave a rule's limits alone leave its buckets alone.
 * A syn-proxy rule that had the proxy keeps when it was armed.
 */
static int ruleset_link(const struct fg_maps *m, __u32 live, struct fg_ruleset *rs)
{
	struct fg_config *old = malloc(sizeof(*old));
	__u64 hz = fg_hz(m);
	__u32 epoch;
	int i;

	if (!old)
		return -ENOMEM;
	if (bpf_map_lookup_elem(m->config, &live, old)) {
		free(old);
		return error("read fg_config[%u]: %s", live, strerror(errno)), -errno;
	}
	epoch = old->epoch + 1;
	if (epoch == FG_EPOCH_BUSY)
		epoch = 1; /* after 2^32 commits; epochs compare as signed differences */
	rs->cfg.epoch = epoch;
	for (i = 0; i < FG_MAX_RULES; i++) {
		struct fg_rule *r = &rs->cfg.rules[i];
		const struct fg_rule *o = &old->rules[i];
		bool same = r->used && o->used && r->proto == o->proto && r->port_lo == o->port_lo &&
			    r->port_hi == o->port_hi && r->plen4 == o->plen4 && r->plen6 == o->plen6;
		/* since compares with buckets' units within 2^31 commits: renewed long before */
		bool kept = same && !memcmp(&r->pps, &o->pps, sizeof(r->pps)) &&
			    !memcmp(&r->bps, &o->bps, sizeof(r->bps)) &&
			    !memcmp(&r->syn, &o->syn, sizeof(r->syn)) &&
			    !memcmp(&r->total, &o->total, sizeof(r->total)) &&
			    (__s32)(epoch - o->since) <= (1 << 30);

		r->born = same ? o->born : epoch;
		if (!r->syn_proxy)
			r->sp_armed = 0;
		else if (same && o->syn_proxy && o->sp_armed)
			r->sp_armed = o->sp_armed;
		else
			r->sp_armed = sp_arm(m, rs->cfg.sp_keep, hz);
		if (!same) {
			r->since = r->prev_since = epoch;
			r->prev_pps = r->prev_bps = r->prev_syn = r->prev_total = 0;
		} else if (kept) {
			r->since = o->since;
			r->prev_since = o->prev_since;
			r->prev_pps = o->prev_pps;
			r->prev_bps = o->prev_bps;
			r->prev_syn = o->prev_syn;
			r->prev_total = o->prev_total;
		} else {
			r->since = epoch;
			r->prev_since = o->since;
			r->prev_pps = o->pps.rate;
			r->prev_bps = o->bps.rate;
			r->prev_syn = o->syn.rate;
			r->prev_total = o->total.rate;
		}
	}
	free(old);
	return 0;
}

/*
 * Under-attack mode's trigger for the data path (fg_attack): the
 * configured new sources per second, or fewer when that many would
 * replace the whole source table within FG_CHURN_SECONDS (known clients
 * would be evicted before the mode began). Each CPU adds its count to the
 * machine's in batches small enough that the sum is at most a sixteenth
 * of the limit behind, and never larger than 64.
 */
static void attack_trigger(const struct fg_maps *m, struct fg_config *c)
{
	__u64 churn = fg_map_capacity(m->sources) / FG_CHURN_SECONDS, batch;
	int ncpus = m->ncpus > 0 ? m->ncpus : 1;

	c->attack_limit = c->attack_new_per_sec;
	if (c->attack_limit && churn && churn < c->attack_limit)
		c->attack_limit = churn;
	batch = c->attack_limit / (16ULL * ncpus);
	c->attack_batch = batch < 1 ? 1 : batch > 64 ? 64 : batch;
}

int fg_ruleset_commit(const struct fg_maps *m, struct fg_ruleset *rs)
{
	__u32 live = __atomic_load_n(&m->st->slot, __ATOMIC_ACQUIRE) & 1, idle = !live;
	__u32 count = 2 * FG_PORT_SPACE, i, *keys;
	int err = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);

	if (fg_ruleset_check(rs))
		return -EINVAL;
	fg_ruleset_finish(rs);
	attack_trigger(m, &rs->cfg);
	rs->cfg.sp_keep = sp_keep(fg_hz(m));
	if ((err = ruleset_link(m, live, rs)))
		return err;
	/* packets that read the idle slot before the last flip are gone after this */
	if ((err = fg_sync(m)))
		return err;
	if (bpf_map_update_elem(m->config, &idle, &rs->cfg, BPF_ANY))
		return error("write fg_config[%u]: %s", idle, strerror(errno)), -errno;
	keys = malloc(count * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < count; i++)
		keys[i] = idle * count + i;
	if (bpf_map_update_batch(m->ports, keys, rs->ports, &count, &bopts)) {
		err = -errno;
		error("write fg_ports: %s", strerror(-err));
	}
	free(keys);
	if (err)
		return err; /* only the idle slot was touched: the live set is unchanged */
	__atomic_store_n(&m->st->slot, idle, __ATOMIC_RELEASE);
	__atomic_fetch_add(&m->st->generation, 1, __ATOMIC_RELAXED);
	return 0;
}

int fg_ruleset_find(const struct fg_ruleset *rs, const struct fg_endpoint *ep)
{
	int i;

	if (!ep->proto)
		return FG_RULE_DEFAULT;
	for (i = 1; i < FG_MAX_RULES; i++) {
		const struct fg_rule *r = &rs->cfg.rules[i];

		if (r->used && r->proto == ep->proto && r->port_lo == ep->port_lo &&
		    r->port_hi == ep->port_hi)
			return i;
	}
	return -1;
}

int fg_ruleset_free_slot(const struct fg_ruleset *rs)
{
	int i;

	for (i = 1; i < FG_MAX_RULES; i++)
		if (!rs->cfg.rules[i].used)
			return i;
	return -1;
}
