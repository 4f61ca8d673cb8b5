// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * stats.c: the reading commands `stats` (verdict, reason and endpoint
 * counters, table fill, under-attack state) and `top` (the busiest
 * sources). Both open the pins read-only, so members of the floodgate
 * group can run them, and both change nothing.
 *
 * `top` measures current rates from two batched reads of the source
 * table an interval apart (default 1 s): the packets, bytes and drops a
 * bucket gained between them, over the time between them. A bucket that
 * appeared (or was evicted and came back) in between counts from zero.
 * With --interval 0 it reads once and gives each bucket's average since
 * it was created (first_seen) instead.
 */
#include <stdio.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "util.h"
#include "maps.h"
#include "bans.h"
#include "cli.h"
#include "cmds.h"
#include "metrics.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 12.3k, 4.56M: rates for people (SI, as `limit --bps` takes them). */
static char *human(char *buf, size_t len, double v)
{
	static const char *const sfx[] = { "", "k", "M", "G", "T", "P" };
	unsigned int i = 0;

	while (fabs(v) >= 1000 && i + 1 < sizeof(sfx) / sizeof(sfx[0])) {
		v /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.*f%s", v < 10 ? 2 : v < 100 ? 1 : 0, v, sfx[i]);
	return buf;
}

/* stats and top write slashes as they are (tcp/443), unlike the older outputs. */
#define JSON_FLAGS JSON_C_TO_STRING_NOSLASHESCAPE

/* A JSON number with `decimals` digits after the point, written as such (not 0.10000000000000001). */
static json_object *jdouble(double v, int decimals)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

/* --- stats --- */

/* The value a stats line shows: a counter, or its rate when `prev` and `dt` are given. */
static double shown(__u64 now, const __u64 *prev, double dt)
{
	if (!prev)
		return (double)now;
	return dt > 0 ? (double)(now - *prev) / dt : 0;
}

static json_object *num(double v, bool rate)
{
	return rate ? jdouble(v, 1) : json_object_new_uint64((__u64)v);
}

/*
 * Build the stats object. With prev (and dt seconds since it), packet and
 * byte values are rates per second instead of totals.
 */
/* "packets", "bytes", "verdicts" and "pressure" of stats -j into o. */
static void stats_json_counters(json_object *o, const struct fg_snapshot *s,
				const struct fg_snapshot *prev, double dt)
{
	json_object *pk = json_object_new_object(), *by = json_object_new_object(),
		    *pr = json_object_new_object(), *v = json_object_new_object();
	struct fg_count pass, drop, ppass, pdrop;
	bool rate = prev != NULL;
	unsigned int i;

	fg_snapshot_verdicts(s, &pass, &drop);
	if (prev)
		fg_snapshot_verdicts(prev, &ppass, &pdrop);
	for (i = 0; i <= FG_R_DROP_LAST; i++) {
		json_object_object_add(pk, fg_counter_name(i),
				       num(shown(s->counters[i].packets,
						 rate ? &prev->counters[i].packets : NULL, dt),
					   rate));
		json_object_object_add(
			by, fg_counter_name(i),
			num(shown(s->counters[i].bytes, rate ? &prev->counters[i].bytes : NULL, dt),
			    rate));
	}
	/* "dropped": every drop reason together (the contract scripts rely on) */
	json_object_object_add(pk, "dropped",
			       num(shown(drop.packets, rate ? &pdrop.packets : NULL, dt), rate));
	json_object_object_add(by, "dropped",
			       num(shown(drop.bytes, rate ? &pdrop.bytes : NULL, dt), rate));
	json_object_object_add(o, "packets", pk);
	json_object_object_add(o, "bytes", by);
	/* verdict totals: "passed" in packets is the reason (within limits), these are all */
	json_object_object_add(v, "pass_packets",
			       num(shown(pass.packets, rate ? &ppass.packets : NULL, dt), rate));
	json_object_object_add(v, "pass_bytes",
			       num(shown(pass.bytes, rate ? &ppass.bytes : NULL, dt), rate));
	json_object_object_add(v, "drop_packets",
			       num(shown(drop.packets, rate ? &pdrop.packets : NULL, dt), rate));
	json_object_object_add(v, "drop_bytes",
			       num(shown(drop.bytes, rate ? &pdrop.bytes : NULL, dt), rate));
	json_object_object_add(o, "verdicts", v);
	for (i = FG_R_DROP_LAST + 1; i < FG_COUNTER_MAX; i++)
		json_object_object_add(pr, fg_counter_name(i),
				       num(shown(s->counters[i].packets,
						 rate ? &prev->counters[i].packets : NULL, dt),
					   rate));
	json_object_object_add(o, "pressure", pr);
}

/* "endpoints" of stats -j: one object per rule. */
static json_object *stats_json_endpoints(const struct fg_snapshot *s,
					 const struct fg_snapshot *prev, double dt)
{
	json_object *eps = json_object_new_array();
	bool rate = prev != NULL;
	unsigned int i;

	for (i = 0; i < FG_MAX_RULES; i++) {
		const struct fg_rule *r = &s->cfg.rules[i];
		const struct fg_rule_count *c = &s->rules[i], *pc = rate ? &prev->rules[i] : NULL;
		json_object *e;
		char ep[32];

		if (!r->used)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "endpoint",
				       json_object_new_string(fg_format_endpoint(ep, sizeof(ep), r)));
		json_object_object_add(e, "action",
				       json_object_new_string(fg_action_name(r->action)));
		json_object_object_add(e, "passed",
				       num(shown(c->passed, pc ? &pc->passed : NULL, dt), rate));
		json_object_object_add(e, "dropped",
				       num(shown(c->dropped, pc ? &pc->dropped : NULL, dt), rate));
		json_object_object_add(
			e, "would_drop",
			num(shown(c->would_drop, pc ? &pc->would_drop : NULL, dt), rate));
		json_object_object_add(e, "bytes",
				       num(shown(c->bytes, pc ? &pc->bytes : NULL, dt), rate));
		json_object_array_add(eps, e);
	}
	return eps;
}

static json_object *stats_json(const struct fg_snapshot *s, const struct fg_snapshot *prev, double dt)
{
	json_object *o = json_object_new_object();
	bool rate = prev != NULL;

	stats_json_counters(o, s, prev, dt);
	json_object_object_add(o, "endpoints", stats_json_endpoints(s, prev, dt));
	if (rate)
		json_object_object_add(o, "interval", jdouble(dt, 3));
	json_object_object_add(o, "under_attack", json_object_new_boolean(s->under_attack));
	json_object_object_add(o, "new_sources_per_second", json_object_new_uint64(s->new_sources));
	json_object_object_add(o, "bans",
			       s->have_now ? json_object_new_uint64(s->bans_active) : NULL);
	json_object_object_add(o, "ban_records", json_object_new_uint64(s->bans));
	json_object_object_add(o, "manual_bans",
			       json_object_new_uint64(s->list_entries[FG_LIST_BAN]));
	json_object_object_add(o, "allow_entries",
			       json_object_new_uint64(s->list_entries[FG_LIST_ALLOW]));
	json_object_object_add(o, "deny_entries",
			       json_object_new_uint64(s->list_entries[FG_LIST_DENY]));
	json_object_object_add(o, "sources_tracked",
			       s->sources == (__u64)-1 ? NULL : json_object_new_uint64(s->sources));
	json_object_object_add(o, "source_table_capacity", json_object_new_uint64(s->sources_max));
	return o;
}

static void stats_text(const struct fg_snapshot *s, const struct fg_snapshot *prev, double dt)
{
	const char *pu = prev ? "pkt/s" : "packets", *bu = prev ? "bit/s" : "bytes";
	struct fg_count pass, drop, ppass = {}, pdrop = {};
	char a[32], b[32], c[32], d[32];
	unsigned int i;

	fg_snapshot_verdicts(s, &pass, &drop);
	if (prev) {
		fg_snapshot_verdicts(prev, &ppass, &pdrop);
		printf("rates per second over the last %.1f s\n\n", dt);
	}
/* bytes as bit/s when showing rates: what link speeds and --bps are written in */
#define PK(now, old) human(a, sizeof(a), shown((now), prev ? &(old) : NULL, dt))
#define BY(now, old) human(b, sizeof(b), shown((now), prev ? &(old) : NULL, dt) * (prev ? 8 : 1))
	printf("%-30s %12s %12s\n", "verdict / reason", pu, bu);
	printf("%-30s %12s %12s\n", "passed (all)", PK(pass.packets, ppass.packets),
	       BY(pass.bytes, ppass.bytes));
	for (i = 0; i <= FG_R_DROP_LAST; i++) {
		const struct fg_count *cn = &s->counters[i];
		const struct fg_count *co = prev ? &prev->counters[i] : cn;

		if (fg_counter_is_drop(i) || (!cn->packets && i != FG_R_PASS))
			continue;
		printf("  %-28s %12s %12s\n", fg_counter_name(i), PK(cn->packets, co->packets),
		       BY(cn->bytes, co->bytes));
	}
	printf("%-30s %12s %12s\n", "dropped (all)", PK(drop.packets, pdrop.packets),
	       BY(drop.bytes, pdrop.bytes));
	for (i = 0; i <= FG_R_DROP_LAST; i++) {
		const struct fg_count *cn = &s->counters[i];
		const struct fg_count *co = prev ? &prev->counters[i] : cn;

		if (!fg_counter_is_drop(i) || !cn->packets)
			continue;
		printf("  %-28s %12s %12s\n", fg_counter_name(i), PK(cn->packets, co->packets),
		       BY(cn->bytes, co->bytes));
	}

	printf("\n%-30s %12s\n", "pressure", prev ? "per s" : "count");
	for (i = FG_R_DROP_LAST + 1; i < FG_COUNTER_MAX; i++)
		printf("  %-28s %12s\n", fg_counter_name(i),
		       PK(s->counters[i].packets, (prev ? prev : s)->counters[i].packets));

	printf("\n%-18s %-8s %10s %10s %10s %10s\n", "endpoint", "action", prev ? "pass/s" : "passed",
	       prev ? "drop/s" : "dropped", prev ? "wdrop/s" : "would_drop", bu);
	for (i = 0; i < FG_MAX_RULES; i++) {
		const struct fg_rule *r = &s->cfg.rules[i];
		const struct fg_rule_count *rn = &s->rules[i], *ro = prev ? &prev->rules[i] : rn;
		char ep[32];

		if (!r->used)
			continue;
		printf("%-18s %-8s %10s %10s %10s %10s\n", fg_format_endpoint(ep, sizeof(ep), r),
		       fg_action_name(r->action), PK(rn->passed, ro->passed),
		       human(c, sizeof(c), shown(rn->dropped, prev ? &ro->dropped : NULL, dt)),
		       human(d, sizeof(d), shown(rn->would_drop, prev ? &ro->would_drop : NULL, dt)),
		       BY(rn->bytes, ro->bytes));
	}
#undef PK
#undef BY

	printf("\nunder attack: ");
	if (s->under_attack && s->have_now)
		printf("YES, for %" PRIu64 " s", (uint64_t)((s->now - s->attack_since) / s->hz));
	else
		printf("%s", s->under_attack ? "YES" : "no");
	printf(" (%" PRIu64 " new sources in the last second; the mode begins above %" PRIu64 ")\n",
	       (uint64_t)s->new_sources, (uint64_t)s->cfg.attack_limit);
	if (s->have_now)
		printf("bans: %" PRIu64 " automatic in force (%" PRIu64 " records)",
		       (uint64_t)s->bans_active, (uint64_t)s->bans);
	else
		printf("bans: %" PRIu64 " automatic records", (uint64_t)s->bans);
	printf(", %" PRIu64 " manual; lists: %" PRIu64 " allow, %" PRIu64 " deny\n",
	       (uint64_t)s->list_entries[FG_LIST_BAN], (uint64_t)s->list_entries[FG_LIST_ALLOW],
	       (uint64_t)s->list_entries[FG_LIST_DENY]);
	if (s->sources != (__u64)-1)
		printf("sources tracked: %" PRIu64 " of %u\n", (uint64_t)s->sources, s->sources_max);
}

static void stats_usage(FILE *f)
{
	fprintf(f,
		"Packets and bytes by verdict and reason (summed over CPUs), pressure counters,\n"
		"per-endpoint passed / dropped / would-drop (monitor rules), under-attack state,\n"
		"bans and sources tracked.\n"
		"\n"
		"  -w, --watch SECONDS   redraw rates per second every SECONDS until interrupted\n"
		"                        (with -j: one JSON object per interval, one per line)\n"
		"\n"
		"JSON (-j): {\"packets\": {REASON: N, ..., \"dropped\": N}, \"bytes\": {...},\n"
		"\"verdicts\": {...}, \"pressure\": {...}, \"endpoints\": [{\"endpoint\", "
		"\"action\",\n"
		"\"passed\", \"dropped\", \"would_drop\", \"bytes\"}], \"under_attack\", "
		"\"bans\",\n"
		"\"sources_tracked\", ...}. \"dropped\" totals every drop reason; \"passed\" is\n"
		"the reason \"within every limit\" (all passing reasons: "
		"verdicts.pass_packets).\n");
}

static const struct fg_opt stats_opts[] = {
	{ .name = "watch", .letter = 'w', .arg = "SECONDS" },
	{},
};

static int stats_run(const struct fg_args *a)
{
	struct fg_snapshot *s = NULL, *prev = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	int ret = FG_EXIT_ERR, moved;
	bool gone = false; /* the pins vanished under --watch: said once */
	__u64 watch = 0;
	struct fg_maps m;
	double t0, t1;

	if (a->opt[0] && fg_parse_u64("stats --watch", a->opt[0], 1, 3600, &watch))
		return FG_EXIT_ERR;
	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	s = calloc(1, sizeof(*s));
	prev = calloc(1, sizeof(*prev));
	if (!s || !prev)
		goto out;
	if (!watch) {
		if (fg_snapshot_read(&m, s, true))
			goto out;
		if (fg_opts.json) {
			json_object *o = stats_json(s, NULL, 0);

			fg_print_json(o, JSON_FLAGS);
		} else {
			stats_text(s, NULL, 0);
		}
		ret = FG_EXIT_OK;
		goto out;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	t0 = mono_seconds();
	if (fg_snapshot_read(&m, prev, false))
		goto out;
	while (!stop) {
		struct fg_snapshot *tmp;
		struct timespec ts = { .tv_sec = watch };

		while (nanosleep(&ts, &ts) && !stop)
			;
		if (stop)
			break;
		moved = fg_maps_follow(&m, false, &gone, "stats");
		if (moved == -ENOENT)
			continue; /* nothing to show until they are back */
		if (moved < 0)
			goto out;
		if (moved) { /* new counters: rates from the next interval on */
			if (fg_snapshot_read(&m, prev, false))
				goto out;
			t0 = mono_seconds();
			continue;
		}
		t1 = mono_seconds();
		if (fg_snapshot_read(&m, s, true))
			goto out;
		if (fg_opts.json) {
			json_object *o = stats_json(s, prev, t1 - t0);

			fg_print_json(o, JSON_FLAGS | FG_JSON_LINE);
		} else {
			if (isatty(STDOUT_FILENO))
				fputs("\033[H\033[2J", stdout);
			stats_text(s, prev, t1 - t0);
			if (!isatty(STDOUT_FILENO))
				putchar('\n');
		}
		fflush(stdout);
		tmp = prev;
		prev = s;
		s = tmp;
		t0 = t1;
	}
	ret = FG_EXIT_OK;
out:
	free(s);
	free(prev);
	fg_maps_close(&m);
	return ret;
}

const struct fg_cmd fg_cmd_stats = {
	.name = "stats",
	.opts = stats_opts,
	.run = stats_run,
	.usage = stats_usage,
	.help = "stats [--watch SECONDS]: verdict and endpoint counters",
};

/* --- top --- */

/* The first read of `top`, kept compactly and found again by key. */
struct seen {
	struct fg_src_key key; /* bucket */
	__u64 packets;	       /* counters at the first read */
	__u64 bytes;
	__u64 drops;
	__u64 first_seen; /* tells a re-created bucket from the old one */
};

struct first_read {
	struct seen *v; /* entries in read order */
	size_t n, cap;	/* used, allocated */
	__u32 *index;	/* open addressing: 1 + position in v, 0 empty */
	size_t slots;	/* a power of 2 */
};

static __u64 key_hash(const struct fg_src_key *k)
{
	const __u8 *p = (const __u8 *)k;
	__u64 h = 1469598103934665603ULL; /* FNV-1a */
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static int first_add(const struct fg_src_key *k, const struct fg_src *v, void *ctx)
{
	struct first_read *f = ctx;
	struct seen *e;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4096;
		struct seen *nv = realloc(f->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		f->v = nv;
		f->cap = cap;
	}
	e = &f->v[f->n++];
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->packets = v->packets;
	e->bytes = v->bytes;
	e->drops = v->drops;
	e->first_seen = v->first_seen;
	return 0;
}

static int first_index(struct first_read *f)
{
	size_t i, mask;

	f->slots = 1;
	while (f->slots < 2 * f->n + 2)
		f->slots <<= 1;
	f->index = calloc(f->slots, sizeof(*f->index));
	if (!f->index)
		return -ENOMEM;
	mask = f->slots - 1;
	for (i = 0; i < f->n; i++) {
		size_t s = key_hash(&f->v[i].key) & mask;

		while (f->index[s])
			s = (s + 1) & mask;
		f->index[s] = i + 1;
	}
	return 0;
}

static const struct seen *first_find(const struct first_read *f, const struct fg_src_key *k)
{
	size_t mask = f->slots - 1, s;

	if (!f->index)
		return NULL;
	for (s = key_hash(k) & mask; f->index[s]; s = (s + 1) & mask) {
		const struct seen *e = &f->v[f->index[s] - 1];

		if (!memcmp(&e->key, k, sizeof(*k)))
			return e;
	}
	return NULL;
}

enum top_by { BY_PPS, BY_BPS, BY_DROPS };

/* The second read: rates against the first, offered to the top-N heap. */
struct second_read {
	const struct first_read *first; /* NULL: averages since first_seen */
	double dt;			/* seconds between the reads */
	__u64 now, hz;			/* for averages */
	enum top_by by;			/* sort order */
	struct fg_top top;		/* the N busiest */
	__u64 count;			/* buckets seen */
};

static int second_add(const struct fg_src_key *k, const struct fg_src *v, void *ctx)
{
	struct second_read *r = ctx;
	__u64 dp = v->packets, db = v->bytes, dd = v->drops;
	struct fg_top_item it;
	double dt = r->dt;

	r->count++;
	if (r->first) {
		const struct seen *o = first_find(r->first, k);

		/* same bucket only if it was not evicted and created again in between */
		if (o && o->first_seen == v->first_seen && v->packets >= o->packets) {
			dp -= o->packets;
			db -= o->bytes;
			dd -= o->drops;
		}
	} else {
		/* average over the bucket's life, at least one tick */
		__u64 life = r->now > v->first_seen ? r->now - v->first_seen : 0;

		dt = (double)(life ? life : 1) / r->hz;
	}
	memset(&it, 0, sizeof(it));
	it.e.key = *k;
	it.e.val = *v;
	it.pps = dt > 0 ? dp / dt : 0;
	it.bps = dt > 0 ? db * 8.0 / dt : 0;
	it.dps = dt > 0 ? dd / dt : 0;
	switch (r->by) {
	case BY_PPS:
		it.key[0] = it.pps;
		it.key[1] = (double)v->packets;
		break;
	case BY_BPS:
		it.key[0] = it.bps;
		it.key[1] = (double)v->bytes;
		break;
	case BY_DROPS:
		it.key[0] = it.dps;
		it.key[1] = (double)v->drops;
		break;
	}
	if (r->first && !dp && !dd)
		it.key[0] = -1; /* idle between the reads: after every active one */
	fg_top_offer(&r->top, &it);
	return 0;
}

/* Find the max last_seen: the clock of a reader that cannot run the clock program. */
static int max_seen(const struct fg_src_key *k, const struct fg_src *v, void *ctx)
{
	__u64 *m = ctx;

	if (v->last_seen > *m)
		*m = v->last_seen;
	return 0;
}

static void top_usage(FILE *f)
{
	fprintf(f,
		"The busiest sources (one row per source prefix and endpoint rule): current\n"
		"packets and bits per second, drops per second, totals, ban state.\n"
		"\n"
		"  -n, --count N            rows to show (default 10)\n"
		"  -b, --by pps|bps|drops   sort order (default pps)\n"
		"  -i, --interval SECONDS   rates from two reads this far apart (default 1);\n"
		"                           0: one read, averages since each bucket was created\n");
}

enum { TOP_COUNT, TOP_BY, TOP_INTERVAL };

static const struct fg_opt top_opts[] = {
	[TOP_COUNT] = { "count", 'n', "N", NULL, FG_OPT_LETTER },
	[TOP_BY] = { "by", 'b', "pps|bps|drops" },
	[TOP_INTERVAL] = { "interval", 'i', "SECONDS" },
	{},
};

/* One row of `top`: into arr (-j), else a text line. left: seconds of ban left, 0 none. */
static void top_row(json_object *arr, const struct fg_top_item *it, const char *src, const char *ep,
		    const char *ban, __u64 left)
{
	const struct fg_src *v = &it->e.val;
	char a[32], b[32], d[32];
	json_object *o;

	if (!arr) {
		printf("%-40s %-12s %9s %9s %9s %12" PRIu64 " %10" PRIu64 " %s\n", src, ep,
		       human(a, sizeof(a), it->pps), human(b, sizeof(b), it->bps),
		       human(d, sizeof(d), it->dps), (uint64_t)v->packets, (uint64_t)v->drops, ban);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "source", json_object_new_string(src));
	json_object_object_add(o, "endpoint", json_object_new_string(ep));
	json_object_object_add(o, "pps", jdouble(it->pps, 1));
	json_object_object_add(o, "bps", jdouble(it->bps, 0));
	json_object_object_add(o, "drops_per_sec", jdouble(it->dps, 1));
	json_object_object_add(o, "packets", json_object_new_uint64(v->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(v->bytes));
	json_object_object_add(o, "drops", json_object_new_uint64(v->drops));
	json_object_object_add(o, "banned", json_object_new_boolean(left > 0));
	json_object_object_add(o, "ban_expires_in", left ? json_object_new_uint64(left) : NULL);
	json_object_array_add(arr, o);
}

/* Print the sorted top list; cfg names the endpoints, now and hz give the bans' time left. */
static void top_print(const struct fg_maps *m, const struct second_read *sr,
		      const struct fg_config *cfg, bool have_now)
{
	json_object *arr = fg_opts.json ? json_object_new_array() : NULL;
	size_t i;

	if (!arr)
		printf("%-40s %-12s %9s %9s %9s %12s %10s %s\n", "SOURCE", "ENDPOINT", "PPS", "BPS",
		       "DROP/S", "PACKETS", "DROPS", "BAN");
	for (i = 0; i < sr->top.n; i++) {
		const struct fg_top_item *it = &sr->top.v[i];
		const struct fg_src_key *k = &it->e.key;
		__u64 until = fg_ban_expiry(m, k->family, k->plen, k->addr), left = 0;
		char src[64], ep[32], ban[32] = "-";

		if ((it->e.val.ban_until & ~FG_BAN_UNRECORDED) > until)
			until = it->e.val.ban_until & ~FG_BAN_UNRECORDED;
		if (until > sr->now) {
			left = (until - sr->now + sr->hz - 1) / sr->hz;
			fg_format_duration(ban, sizeof(ban), left);
		}
		fg_format_cidr(src, sizeof(src), k->family, k->addr, k->plen);
		fg_rule_label(ep, sizeof(ep), cfg, k->rule);
		top_row(arr, it, src, ep, ban, left);
	}
	if (arr)
		fg_print_json(arr, JSON_FLAGS);
	else if (!have_now && sr->top.n)
		printf("(clock not readable: ages from the newest packet seen)\n");
}

/* top's options: 0, or -1 after an error. */
static int top_opts_parse(const struct fg_args *args, __u64 *n, __u64 *interval, int *by)
{
	static const char *const by_names[] = { "pps", "bps", "drops" };
	int i;

	if (args->opt[TOP_COUNT] && fg_parse_u64("top -n", args->opt[TOP_COUNT], 1, 1000000, n))
		return -1;
	for (i = 0; args->opt[TOP_BY] && i < 3 && strcmp(args->opt[TOP_BY], by_names[i]); i++)
		;
	if (i == 3)
		return error("top --by: %s: use pps, bps or drops", args->opt[TOP_BY]);
	*by = args->opt[TOP_BY] ? i : BY_PPS;
	if (args->opt[TOP_INTERVAL] &&
	    fg_parse_u64("top --interval", args->opt[TOP_INTERVAL], 0, 60, interval))
		return -1;
	return 0;
}

static int top_run(const struct fg_args *args)
{
	struct first_read first = {};
	struct second_read sr = {};
	struct fg_config *cfg = NULL;
	__u64 n = 10, interval = 1, now = 0;
	int ret = FG_EXIT_ERR, by = BY_PPS;
	bool have_now = false;
	struct fg_maps m;
	__u32 slot;
	double t0;

	if (top_opts_parse(args, &n, &interval, &by))
		return FG_EXIT_ERR;
	sr.by = by;
	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || fg_top_init(&sr.top, n))
		goto out;
	sr.hz = fg_hz(&m);
	if (interval) {
		t0 = mono_seconds();
		if (fg_sources_each(&m, first_add, &first) || first_index(&first))
			goto out;
		sleep(interval);
		sr.first = &first;
		sr.dt = mono_seconds() - t0;
	}
	if (m.clock >= 0 && !fg_now(&m, &now))
		have_now = true;
	else if (fg_sources_each(&m, max_seen, &now))
		goto out;
	sr.now = now;
	if (fg_sources_each(&m, second_add, &sr))
		goto out;
	fg_top_sort(&sr.top);
	/* the live config (fg_state names its slot); zeros (from calloc) when unreadable */
	if (!fg_state_read(&m, m.st)) {
		slot = m.st->slot & 1;
		if (bpf_map_lookup_elem(m.config, &slot, cfg))
			memset(cfg, 0, sizeof(*cfg));
	}
	top_print(&m, &sr, cfg, have_now);
	ret = FG_EXIT_OK;
out:
	free(first.v);
	free(first.index);
	fg_top_free(&sr.top);
	free(cfg);
	fg_maps_close(&m);
	return ret;
}

const struct fg_cmd fg_cmd_top = {
	.name = "top",
	.opts = top_opts,
	.run = top_run,
	.usage = top_usage,
	.help = "top [-n N] [--by pps|bps|drops]: busiest sources",
};
