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
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "fg.h"
#include "cmds.h"
#include "synproxy.h"

#define FG_PPS_MAX   1000000000ULL /* packets per second (and packet bursts): far above line rate */
#define FG_MULT_MAX  1000	   /* ban escalation factor */
#define FG_MIN_FRAME 1514	   /* smallest default byte burst: one full Ethernet frame */

/* Long options of `limit set` (no short forms). */
enum {
	OPT_PPS = 0x200,
	OPT_BURST,
	OPT_BPS,
	OPT_BPS_BURST,
	OPT_SYN_PPS,
	OPT_SYN_BURST,
	OPT_TOTAL_PPS,
	OPT_TOTAL_BURST,
	OPT_PREFIX4,
	OPT_PREFIX6,
	OPT_ACTION,
	OPT_BAN_FOR,
	OPT_BAN_MULT,
	OPT_BAN_MAX,
	OPT_SYN_PROXY,
	OPT_END,
};

static const char *const opt_names[OPT_END - OPT_PPS] = {
	"--pps",       "--burst",     "--bps",	       "--bps-burst", "--syn-pps",
	"--syn-burst", "--total-pps", "--total-burst", "--prefix4",   "--prefix6",
	"--action",    "--ban-for",   "--ban-mult",    "--ban-max",   "--syn-proxy",
};

static void limit_usage(FILE *f)
{
	fprintf(f,
		"usage: floodgate limit set ENDPOINT [OPTIONS]\n"
		"       floodgate limit del ENDPOINT\n"
		"       floodgate limit list\n"
		"\n"
		"ENDPOINT is default, tcp/PORT, udp/PORT, tcp/LO-HI or udp/LO-HI. Packets to\n"
		"a port without an endpoint rule get the default rule. Limits are per source\n"
		"(the source address masked to the rule's prefix) unless they say otherwise.\n"
		"\n"
		"set: change only the options given; a new endpoint starts with no limits,\n"
		"prefixes /32 and /64 and action drop. A rate is N, or `off` for no limit.\n"
		"  --pps N              packets per second\n"
		"  --burst N            packets let through at once (default: the rate)\n"
		"  --bps RATE           bits per second (500k, 100m, 10g)\n"
		"  --bps-burst SIZE     bytes at once (64k, 1m; default: one second of RATE,\n"
		"                       at least %d bytes)\n"
		"  --syn-pps N          TCP SYN without ACK (new connections) per second\n"
		"  --syn-burst N        SYNs at once (default: the rate)\n"
		"  --total-pps N        packets per second of all sources together\n"
		"  --total-burst N      all sources' packets at once (default: the rate)\n"
		"  --prefix4 LEN        IPv4 sources share a limit per /LEN (0..32)\n"
		"  --prefix6 LEN        IPv6 sources share a limit per /LEN (0..128)\n"
		"  --action ACTION      over a limit: drop, monitor (count as would-drop and\n"
		"                       pass) or ban (drop and ban the source prefix)\n"
		"  --ban-for DURATION   first ban length (30s, 5m, 2h, 1d); also sets\n"
		"                       --ban-mult 2 and --ban-max 1d when not set before\n"
		"  --ban-mult N         each repeat ban lasts N times the previous one\n"
		"  --ban-max DURATION   longest ban\n"
		"  --syn-proxy on|off   TCP endpoints: answer SYNs in XDP with SYN cookies and "
		"let\n"
		"                       only completed handshakes through (netfilter's SYNPROXY\n"
		"                       connects them: floodgate keeps `table inet floodgate`)\n"
		"A rate given without its burst sets the burst to the default above. Changing a\n"
		"rate or a prefix restarts the endpoint's per-source buckets (full bursts).\n"
		"\n"
		"del: remove an endpoint rule (its traffic falls back to the default rule); the\n"
		"default rule cannot be deleted.\n"
		"list: every rule; -j prints an array of objects, rates 0 meaning no limit.\n",
		FG_MIN_FRAME);
}

#define N_OPTS (OPT_END - OPT_PPS)

/* The options of `limit set`, parsed (no rule needed yet). */
struct limit_edit {
	const char *arg[N_OPTS]; /* optarg per option, NULL when not given */
	__u64 v[N_OPTS];	 /* parsed value: count, bits, bytes, seconds, length, action */
	bool off[N_OPTS];	 /* rate options: `off` */
};

static const char *opt_name(int opt)
{
	return opt_names[opt - OPT_PPS];
}

/*
 * Parse every given value; prints one error naming the option and value.
 * Returns 0 or -EINVAL.
 */
static int parse_edit(struct limit_edit *e)
{
	int o;

	for (o = OPT_PPS; o < OPT_END; o++) {
		const char *s = e->arg[o - OPT_PPS];
		__u64 *v = &e->v[o - OPT_PPS];
		int err = 0;

		if (!s)
			continue;
		switch (o) {
		case OPT_PPS:
		case OPT_SYN_PPS:
		case OPT_TOTAL_PPS:
		case OPT_BPS:
			if (!strcmp(s, "off")) {
				e->off[o - OPT_PPS] = true;
				break;
			}
			err = o == OPT_BPS ? fg_parse_rate("--bps", s, v)
					   : fg_parse_u64(opt_name(o), s, 1, FG_PPS_MAX, v);
			break;
		case OPT_BURST:
		case OPT_SYN_BURST:
		case OPT_TOTAL_BURST:
			err = fg_parse_u64(opt_name(o), s, 1, FG_PPS_MAX, v);
			break;
		case OPT_BPS_BURST:
			err = fg_parse_size("--bps-burst", s, v);
			break;
		case OPT_PREFIX4:
			err = fg_parse_u64("--prefix4", s, 0, 32, v);
			break;
		case OPT_PREFIX6:
			err = fg_parse_u64("--prefix6", s, 0, 128, v);
			break;
		case OPT_ACTION: {
			int act = fg_action_parse(s);

			if (act < 0)
				return error("--action: %s: must be drop, monitor or ban", s),
				       -EINVAL;
			*v = act;
			break;
		}
		case OPT_BAN_FOR:
		case OPT_BAN_MAX:
			err = fg_parse_duration(opt_name(o), s, v);
			break;
		case OPT_BAN_MULT:
			err = fg_parse_u64("--ban-mult", s, 1, FG_MULT_MAX, v);
			break;
		case OPT_SYN_PROXY:
			if (strcmp(s, "on") && strcmp(s, "off"))
				return error("--syn-proxy: %s: must be on or off", s), -EINVAL;
			*v = !strcmp(s, "on");
			break;
		}
		if (err)
			return -EINVAL;
	}
	return 0;
}

static bool has(const struct limit_edit *e, int opt)
{
	return e->arg[opt - OPT_PPS] != NULL;
}

static __u64 val(const struct limit_edit *e, int opt)
{
	return e->v[opt - OPT_PPS];
}

/*
 * A rate and its burst. A rate without a burst gets def_burst; a burst
 * needs a rate. *changed when the rate moved. 0 or -EINVAL after an error.
 */
static int edit_limit(const char *ep, struct fg_limit *l, const struct limit_edit *e, int ropt,
		      int bopt, __u64 def_burst, bool *changed)
{
	if (e->off[ropt - OPT_PPS]) {
		if (has(e, bopt))
			return error("limit set %s: %s %s: %s off has no burst", ep, opt_name(bopt),
				     e->arg[bopt - OPT_PPS], opt_name(ropt)),
			       -EINVAL;
		*changed |= l->rate != 0;
		l->rate = l->burst = 0;
		return 0;
	}
	if (has(e, ropt)) {
		*changed |= l->rate != val(e, ropt);
		l->rate = val(e, ropt);
		l->burst = def_burst;
	}
	if (has(e, bopt)) {
		if (!l->rate)
			return error("limit set %s: %s %s: no rate to go with it (give %s)", ep,
				     opt_name(bopt), e->arg[bopt - OPT_PPS], opt_name(ropt)),
			       -EINVAL;
		l->burst = val(e, bopt);
	}
	return 0;
}

static void edit_plen(const struct limit_edit *e, int opt, __u8 *plen, bool *changed)
{
	if (!has(e, opt))
		return;
	*changed |= *plen != val(e, opt);
	*plen = val(e, opt);
}

/*
 * Apply parsed options to rule r (hz converts seconds to ticks); *reset
 * when a prefix moved: the buckets are keyed by it. A new per-source rate
 * keeps the buckets, the data path moves their state to the new rate
 * (fg_rebase). Returns 0 or -EINVAL after one error line.
 */
static int edit_rule(const char *ep, struct fg_rule *r, const struct limit_edit *e, __u64 hz,
		     bool *reset)
{
	__u64 bps = val(e, OPT_BPS), bps_burst = bps / 8 > FG_MIN_FRAME ? bps / 8 : FG_MIN_FRAME;
	bool total_changed = false, rates_changed = false;

	if (edit_limit(ep, &r->pps, e, OPT_PPS, OPT_BURST, val(e, OPT_PPS), &rates_changed) ||
	    edit_limit(ep, &r->bps, e, OPT_BPS, OPT_BPS_BURST, bps_burst, &rates_changed) ||
	    edit_limit(ep, &r->syn, e, OPT_SYN_PPS, OPT_SYN_BURST, val(e, OPT_SYN_PPS),
		       &rates_changed) ||
	    edit_limit(ep, &r->total, e, OPT_TOTAL_PPS, OPT_TOTAL_BURST, val(e, OPT_TOTAL_PPS),
		       &total_changed))
		return -EINVAL;
	edit_plen(e, OPT_PREFIX4, &r->plen4, reset);
	edit_plen(e, OPT_PREFIX6, &r->plen6, reset);
	if (has(e, OPT_ACTION))
		r->action = val(e, OPT_ACTION);
	if (has(e, OPT_SYN_PROXY)) {
		if (val(e, OPT_SYN_PROXY) && r->proto != IPPROTO_TCP)
			return error("limit set %s: --syn-proxy on: only for TCP endpoints "
				     "(tcp/PORT)",
				     ep),
			       -EINVAL;
		r->syn_proxy = val(e, OPT_SYN_PROXY);
	}
	if (has(e, OPT_BAN_FOR)) {
		__u64 f = val(e, OPT_BAN_FOR);

		r->ban_ticks = f * hz;
		if (!r->ban_mult && !has(e, OPT_BAN_MULT))
			r->ban_mult = 2;
		if (!r->ban_max_ticks && !has(e, OPT_BAN_MAX))
			r->ban_max_ticks = (f > 86400 ? f : 86400) * hz;
	}
	if (has(e, OPT_BAN_MULT))
		r->ban_mult = val(e, OPT_BAN_MULT);
	if (has(e, OPT_BAN_MAX))
		r->ban_max_ticks = val(e, OPT_BAN_MAX) * hz;
	if (r->ban_ticks && r->ban_max_ticks < r->ban_ticks) {
		char f[32], m[32];

		return error("limit set %s: a first ban of %s is longer than the longest ban %s "
			     "(give --ban-max)",
			     ep, fg_format_duration(f, sizeof(f), r->ban_ticks / hz),
			     fg_format_duration(m, sizeof(m), r->ban_max_ticks / hz)),
		       -EINVAL;
	}
	if (r->action == FG_ACT_BAN && !r->ban_ticks)
		return error("limit set %s: --action ban needs --ban-for DURATION", ep), -EINVAL;
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

/*
 * Delete every per-source bucket of rule idx, read in batches. Returns
 * how many, or -errno. Entries the data path adds meanwhile are already
 * in the new rule's units and may stay.
 */
static long purge_sources(const struct fg_maps *m, __u16 idx)
{
	const __u32 chunk = 8192;
	struct fg_src_key *keys = calloc(chunk, sizeof(*keys)), *del = calloc(chunk, sizeof(*del));
	struct fg_src *vals = calloc(chunk, sizeof(*vals));
	__u64 in = 0, out = 0;
	void *inp = NULL;
	long gone = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, o);

	if (!keys || !del || !vals) {
		gone = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 n = chunk, nd = 0, i;
		int err = bpf_map_lookup_batch(m->sources, inp, &out, keys, vals, &n, &o);

		if (err && errno != ENOENT) {
			gone = -errno;
			break;
		}
		for (i = 0; i < n; i++)
			if (keys[i].rule == idx)
				del[nd++] = keys[i];
		for (i = 0; i < nd; i++) /* one by one: an entry evicted meanwhile is no error */
			if (!bpf_map_delete_elem(m->sources, &del[i]))
				gone++;
		if (err)
			break; /* ENOENT: that was the last batch */
		in = out;
		inp = &in;
	}
out:
	free(keys);
	free(del);
	free(vals);
	return gone;
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

static int limit_set(const char *ep_s, struct limit_edit *e)
{
	struct fg_ruleset *rs = calloc(1, sizeof(*rs));
	struct fg_endpoint ep;
	struct fg_rule *r, old;
	bool fresh = false, reset = false;
	struct fg_maps m;
	int idx, ret = FG_EXIT_ERR;

	if (!rs)
		return error("limit set: out of memory"), FG_EXIT_ERR;
	/* values are checked before any map is touched: a typo needs no attached program */
	if (fg_parse_endpoint("limit set", ep_s, &ep) || parse_edit(e))
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
		memset(r, 0, sizeof(*r));
		r->used = 1;
		r->proto = ep.proto;
		r->port_lo = ep.port_lo;
		r->port_hi = ep.port_hi;
		r->plen4 = 32;
		r->plen6 = 64;
		r->action = FG_ACT_DROP;
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

static int limit_del(const char *ep_s)
{
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

/* 10g, 500k, 1234: the form fg_parse_rate reads back. */
static char *format_rate(char *buf, size_t len, __u64 v)
{
	static const char sfx[] = "kmgt";
	int i = -1;

	while (v && v % 1000 == 0 && i < 3) {
		v /= 1000;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%" PRIu64, (uint64_t)v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", (uint64_t)v, sfx[i]);
	return buf;
}

/* 64k, 1m, 1500: the form fg_parse_size reads back. */
static char *format_size(char *buf, size_t len, __u64 v)
{
	if (v && v % (1024 * 1024) == 0)
		snprintf(buf, len, "%" PRIu64 "m", (uint64_t)(v / (1024 * 1024)));
	else if (v && v % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 "k", (uint64_t)(v / 1024));
	else
		snprintf(buf, len, "%" PRIu64, (uint64_t)v);
	return buf;
}

static char *format_pair(char *buf, size_t len, const char *rate, const char *burst, bool on)
{
	if (on)
		snprintf(buf, len, "%s/%s", rate, burst);
	else
		snprintf(buf, len, "-");
	return buf;
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

	json_object_object_add(o, "endpoint",
			       json_object_new_string(fg_format_endpoint(ep, sizeof(ep), r)));
	json_object_object_add(o, "pps", json_object_new_int64(r->pps.rate));
	json_object_object_add(o, "burst", json_object_new_int64(r->pps.burst));
	json_object_object_add(o, "bps", json_object_new_int64(r->bps.rate));
	json_object_object_add(o, "bps_burst", json_object_new_int64(r->bps.burst));
	json_object_object_add(o, "syn_pps", json_object_new_int64(r->syn.rate));
	json_object_object_add(o, "syn_burst", json_object_new_int64(r->syn.burst));
	json_object_object_add(o, "total_pps", json_object_new_int64(r->total.rate));
	json_object_object_add(o, "total_burst", json_object_new_int64(r->total.burst));
	json_object_object_add(o, "prefix4", json_object_new_int(r->plen4));
	json_object_object_add(o, "prefix6", json_object_new_int(r->plen6));
	json_object_object_add(o, "action", json_object_new_string(fg_action_name(r->action)));
	json_object_object_add(o, "ban_for", json_object_new_int64(r->ban_ticks / hz));
	json_object_object_add(o, "ban_mult", json_object_new_int64(r->ban_mult));
	json_object_object_add(o, "ban_max", json_object_new_int64(r->ban_max_ticks / hz));
	json_object_object_add(o, "syn_proxy", json_object_new_boolean(r->syn_proxy));
	return o;
}

static int limit_list(void)
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
		puts(json_object_to_json_string_ext(ja, fg_opts.pretty ? JSON_C_TO_STRING_PRETTY
								       : JSON_C_TO_STRING_PLAIN));
		json_object_put(ja);
		ret = FG_EXIT_OK;
		goto out;
	}
	printf("%-14s %-17s %-15s %-17s %-17s %-9s %s\n", "ENDPOINT", "PPS/BURST", "BPS/BURST",
	       "SYN/BURST", "TOTAL/BURST", "PREFIX", "ACTION");
	for (i = 0; i < n; i++) {
		const struct fg_rule *r = &rs->cfg.rules[order[i]];
		char ep[32], pps[48], bps[48], syn[48], tot[48], pfx[16], act[96];
		char x[24], y[24], d1[16], d2[16];

		fg_format_endpoint(ep, sizeof(ep), r);
		snprintf(x, sizeof(x), "%" PRIu64, (uint64_t)r->pps.rate);
		snprintf(y, sizeof(y), "%" PRIu64, (uint64_t)r->pps.burst);
		format_pair(pps, sizeof(pps), x, y, r->pps.rate);
		format_pair(bps, sizeof(bps), format_rate(x, sizeof(x), r->bps.rate),
			    format_size(y, sizeof(y), r->bps.burst), r->bps.rate);
		snprintf(x, sizeof(x), "%" PRIu64, (uint64_t)r->syn.rate);
		snprintf(y, sizeof(y), "%" PRIu64, (uint64_t)r->syn.burst);
		format_pair(syn, sizeof(syn), x, y, r->syn.rate);
		snprintf(x, sizeof(x), "%" PRIu64, (uint64_t)r->total.rate);
		snprintf(y, sizeof(y), "%" PRIu64, (uint64_t)r->total.burst);
		format_pair(tot, sizeof(tot), x, y, r->total.rate);
		snprintf(pfx, sizeof(pfx), "/%u /%u", r->plen4, r->plen6);
		if (r->action == FG_ACT_BAN)
			snprintf(act, sizeof(act), "ban %s (x%u, max %s)",
				 fg_format_duration(d1, sizeof(d1), r->ban_ticks / hz), r->ban_mult,
				 fg_format_duration(d2, sizeof(d2), r->ban_max_ticks / hz));
		else
			snprintf(act, sizeof(act), "%s", fg_action_name(r->action));
		if (r->syn_proxy) /* appended: the columns before it stay where scripts expect them */
			strncat(act, ", syn-proxy", sizeof(act) - strlen(act) - 1);
		printf("%-14s %-17s %-15s %-17s %-17s %-9s %s\n", ep, pps, bps, syn, tot, pfx, act);
	}
	ret = FG_EXIT_OK;
out:
	fg_maps_close(&m);
out_free:
	free(rs);
	return ret;
}

int cmd_limit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pps", required_argument, NULL, OPT_PPS },
		{ "burst", required_argument, NULL, OPT_BURST },
		{ "bps", required_argument, NULL, OPT_BPS },
		{ "bps-burst", required_argument, NULL, OPT_BPS_BURST },
		{ "syn-pps", required_argument, NULL, OPT_SYN_PPS },
		{ "syn-burst", required_argument, NULL, OPT_SYN_BURST },
		{ "total-pps", required_argument, NULL, OPT_TOTAL_PPS },
		{ "total-burst", required_argument, NULL, OPT_TOTAL_BURST },
		{ "prefix4", required_argument, NULL, OPT_PREFIX4 },
		{ "prefix6", required_argument, NULL, OPT_PREFIX6 },
		{ "action", required_argument, NULL, OPT_ACTION },
		{ "ban-for", required_argument, NULL, OPT_BAN_FOR },
		{ "ban-mult", required_argument, NULL, OPT_BAN_MULT },
		{ "ban-max", required_argument, NULL, OPT_BAN_MAX },
		{ "syn-proxy", required_argument, NULL, OPT_SYN_PROXY },
		{ "help", no_argument, NULL, 'h' },
		FG_COMMON_LONGOPTS,
		{},
	};
	struct limit_edit a = {};
	int given = -1; /* the first option of limit set given, or -1 */
	const char *sub;
	int c;

	while ((c = getopt_long(argc, argv, "h" FG_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (fg_common_opt(c))
			continue;
		if (c >= OPT_PPS && c < OPT_END) {
			a.arg[c - OPT_PPS] = optarg;
			if (given < 0)
				given = c;
			continue;
		}
		if (c == 'h') {
			limit_usage(stdout);
			return FG_EXIT_OK;
		}
		limit_usage(stderr);
		return FG_EXIT_USAGE;
	}
	if (optind >= argc) {
		limit_usage(stderr);
		return FG_EXIT_USAGE;
	}
	sub = argv[optind++];
	if (!strcmp(sub, "list")) {
		if (optind != argc) {
			error("limit list: unexpected argument '%s'", argv[optind]);
			return FG_EXIT_USAGE;
		}
	} else if (!strcmp(sub, "set") || !strcmp(sub, "del")) {
		if (optind != argc - 1) {
			error("limit %s: expects one ENDPOINT", sub);
			return FG_EXIT_USAGE;
		}
	} else {
		error("limit %s: unknown subcommand (set, del or list)", sub);
		return FG_EXIT_USAGE;
	}
	if (given >= 0 && strcmp(sub, "set")) {
		error("limit %s: %s only goes with limit set", sub, opt_name(given));
		return FG_EXIT_USAGE;
	}
	if (!strcmp(sub, "list"))
		return limit_list();
	if (!strcmp(sub, "del"))
		return limit_del(argv[optind]);
	return limit_set(argv[optind], &a);
}
