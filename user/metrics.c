// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * metrics.c: the pinned state read for people and for Prometheus. The
 * snapshot `stats` prints, batched walks of the hash tables, the
 * Prometheus text of /metrics, the request router and the libmicrohttpd
 * server the daemon drives from its own event loop.
 *
 * Every read goes to the maps: a scrape or a `stats` shows the state of
 * the moment, not a cache. The walks use batched lookups in chunks, so a
 * table of a million sources is read in a few hundred syscalls with a
 * fixed amount of memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <microhttpd.h>

#include "util.h"
#include "maps.h"
#include "metrics.h"

/* What the HTTP server keeps. */
struct fg_metrics_server {
	struct MHD_Daemon *d;		 /* libmicrohttpd, no threads of its own */
	const struct fg_maps *m;	 /* maps every scrape reads */
	const struct fg_metrics_opts *o; /* per-source series and the like */
	unsigned int port;		 /* bound port */
	bool starting;			 /* in MHD_start_daemon: its failure is said by ours */
	char why[160];			 /* its last line meanwhile, for when errno says nothing */
	__u64 log_sec;			 /* second of the lines mhd_log counts in logged */
	unsigned int logged;		 /* lines of libmicrohttpd logged in that second */
	unsigned long long unlogged;	 /* lines left out since the last logged one */
};

/*
 * Packets the CPUs' verdict caches decided (drops, and the passes of
 * leases) and have not yet added to their buckets (struct fg_verdict): at
 * most a second's worth, per source. fg_sources_each adds them to the buckets it hands out.
 */
struct pending {
	struct fg_src_key key; /* the bucket */
	__u64 packets;	       /* its packets still in a cache */
	__u64 bytes;	       /* their bytes */
	__u64 drops;	       /* those of them dropped (the rest a lease passed) */
};

/*
 * Every CPU's verdict cache entries in one batched read: FG_VC_SLOTS *
 * ncpus of them, slot by slot, into *out (free() it). 0 (an older
 * program's maps without a cache: *out NULL) or -errno.
 */
static int vc_read(const struct fg_maps *m, struct fg_verdict **out)
{
	__u32 n = FG_VC_SLOTS, next, *keys = calloc(FG_VC_SLOTS, sizeof(*keys));
	struct fg_verdict *v = calloc((size_t)FG_VC_SLOTS * m->ncpus, sizeof(*v));
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	int err = 0;

	*out = NULL;
	if (!keys || !v) {
		err = -ENOMEM;
	} else if (m->verdicts >= 0) {
		err = bpf_map_lookup_batch(m->verdicts, NULL, &next, keys, v, &n, &o);
		if (err == -ENOENT) /* the whole array read: the end */
			err = 0;
		if (!err && n != FG_VC_SLOTS)
			err = -EIO;
	}
	free(keys);
	if (err || m->verdicts < 0)
		free(v);
	else
		*out = v;
	return err;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct fg_src_key));
}

/*
 * The cache entries that hold packets, one per bucket (summed over CPUs),
 * sorted by key for bsearch: how many went to *out (free() it), or
 * -errno.
 */
static int pending_read(const struct fg_maps *m, struct pending **out)
{
	size_t i, total = (size_t)FG_VC_SLOTS * m->ncpus;
	struct fg_verdict *v;
	struct pending *p;
	int n = 0, err, j;

	*out = NULL;
	if ((err = vc_read(m, &v)))
		return err;
	p = calloc(total, sizeof(*p));
	if (!p) {
		free(v);
		return -ENOMEM;
	}
	for (i = 0; v && i < total; i++)
		if (v[i].packets)
			p[n++] = (struct pending){ v[i].key, v[i].packets, v[i].bytes,
						   v[i].reason == FG_R_PASS ? 0 : v[i].packets };
	free(v);
	qsort(p, n, sizeof(*p), key_cmp);
	for (i = 1, j = 0; n && i < (size_t)n; i++) { /* one per bucket: CPUs may share one */
		if (!key_cmp(&p[i], &p[j])) {
			p[j].packets += p[i].packets;
			p[j].bytes += p[i].bytes;
			p[j].drops += p[i].drops;
		} else {
			p[++j] = p[i];
		}
	}
	*out = p;
	return n ? j + 1 : 0;
}

int fg_vc_pending(const struct fg_maps *m, const struct fg_config *cfg, struct fg_count *counters,
		  struct fg_rule_count *rules)
{
	const struct fg_rule *r;
	struct fg_verdict *v;
	size_t i;
	int err;

	if ((err = vc_read(m, &v)))
		return err;
	for (i = 0; v && i < (size_t)FG_VC_SLOTS * m->ncpus; i++) {
		if (!v[i].packets || v[i].reason >= FG_COUNTER_MAX)
			continue;
		counters[v[i].reason].packets += v[i].packets;
		counters[v[i].reason].bytes += v[i].bytes;
		/* as fg_vc_settle: not for a rule that took the index since */
		r = &cfg->rules[v[i].key.rule % FG_MAX_RULES];
		if (!r->used || (__s32)(v[i].epoch - r->born) < 0)
			continue;
		if (v[i].reason == FG_R_PASS)
			rules[v[i].key.rule].passed += v[i].packets;
		else
			rules[v[i].key.rule].dropped += v[i].packets;
		rules[v[i].key.rule].bytes += v[i].bytes;
	}
	free(v);
	return 0;
}

/* fg_sources_each's adapter from chunks to entries, with the caches' packets added. */
struct each_ctx {
	int (*fn)(const struct fg_src_key *k, const struct fg_src *v, void *ctx);
	void *ctx;
	struct pending *pending; /* pending_read's, sorted by key */
	int n_pending;		 /* entries in it */
};

static int each_chunk(const void *keys, const void *vals, __u32 n, void *ctx)
{
	const struct fg_src_key *k = keys;
	const struct fg_src *v = vals;
	struct each_ctx *e = ctx;
	const struct pending *pd;
	struct fg_src sum;
	__u32 i;
	int ret;

	for (i = 0; i < n; i++) {
		pd = e->n_pending ? bsearch(&k[i], e->pending, e->n_pending, sizeof(*pd), key_cmp)
				  : NULL;
		if (pd) {
			sum = v[i];
			sum.packets += pd->packets;
			sum.bytes += pd->bytes;
			sum.drops += pd->drops;
			ret = e->fn(&k[i], &sum, e->ctx);
		} else {
			ret = e->fn(&k[i], &v[i], e->ctx);
		}
		if (ret)
			return ret;
	}
	return 0;
}

int fg_sources_each(const struct fg_maps *m,
		    int (*fn)(const struct fg_src_key *k, const struct fg_src *v, void *ctx),
		    void *ctx)
{
	struct each_ctx e = { .fn = fn, .ctx = ctx };
	int err;

	e.n_pending = pending_read(m, &e.pending);
	if (e.n_pending < 0) {
		err = e.n_pending;
		error("read fg_verdicts: %s", strerror(-err));
		goto out;
	}
	err = fg_map_walk(m->sources, sizeof(struct fg_src_key), sizeof(struct fg_src), each_chunk,
			  &e);
	if (err < 0)
		error("read fg_sources: %s", strerror(-err));
out:
	free(e.pending);
	return err;
}

/* Counting bans: entries, and those still in force at now. */
struct ban_count {
	__u64 now;     /* current tick */
	bool have_now; /* now is valid */
	__u64 entries; /* all entries */
	__u64 active;  /* expires > now */
};

static int ban_chunk(const void *keys, const void *vals, __u32 n, void *ctx)
{
	const struct fg_ban *b = vals;
	struct ban_count *c = ctx;
	__u32 i;

	c->entries += n;
	for (i = 0; i < n && c->have_now; i++)
		c->active += b[i].expires > c->now;
	return 0;
}

int fg_attack_read(const struct fg_maps *m, __u64 now, __u64 hz, struct fg_attack *a, bool *active)
{
	if (bpf_map_lookup_elem(m->attack, &(__u32){ 0 }, a))
		return error("read fg_attack: %s", strerror(errno)), -errno;
	/* the flag clears only when packets arrive: without them there is no attack to be under */
	*active = a->on && (!now || now - a->window < (FG_CALM_WINDOWS + 1) * hz);
	return 0;
}

/* Count fg_lists entries by the kind added at each prefix (LPM tries have no batch lookup). */
static int count_lists(const struct fg_maps *m, __u64 by_kind[4])
{
	struct fg_lpm_key k, next;
	struct fg_list_val v;
	void *prev = NULL;

	memset(by_kind, 0, 4 * sizeof(*by_kind));
	while (!bpf_map_get_next_key(m->lists, prev, &next)) {
		if (!bpf_map_lookup_elem(m->lists, &next, &v) && v.kind < 4)
			by_kind[v.kind]++;
		k = next;
		prev = &k;
	}
	return errno == ENOENT ? 0 : -errno;
}

int fg_snapshot_read(const struct fg_maps *m, struct fg_snapshot *s, bool count_sources)
{
	struct ban_count bc = {};
	struct fg_attack at;
	__u32 i, slot;
	int err;

	memset(s, 0, sizeof(*s));
	if ((err = fg_state_read(m, &s->st)))
		return err;
	s->hz = s->st.hz ? s->st.hz : 250;
	s->ncpus = m->ncpus;
	slot = s->st.slot & 1;
	if (bpf_map_lookup_elem(m->config, &slot, &s->cfg))
		return error("read fg_config[%u]: %s", slot, strerror(errno)), -errno;
	for (i = 0; i < FG_COUNTER_MAX; i++)
		if ((err = fg_percpu_sum(m, m->counters, i, &s->counters[i], sizeof(s->counters[i]))))
			return error("read fg_counters: %s", strerror(-err)), err;
	for (i = 0; i < FG_MAX_RULES; i++)
		if ((err = fg_percpu_sum(m, m->rule_stats, i, &s->rules[i], sizeof(s->rules[i]))))
			return error("read fg_rule_stats: %s", strerror(-err)), err;
	if ((err = fg_vc_pending(m, &s->cfg, s->counters, s->rules)))
		return error("read fg_verdicts: %s", strerror(-err)), err;
	/* the clock pin may be unreadable (group members): then bans_active is unknown */
	if (m->clock >= 0 && !fg_now(m, &s->now))
		s->have_now = true;

	if ((err = fg_attack_read(m, s->have_now ? s->now : 0, s->hz, &at, &s->under_attack)))
		return err;
	s->attack_since = at.since;
	/*
	 * The last whole second: the window rolls only when a new source
	 * comes, so after a flood the one it counted in has ended too, and
	 * both are history once a second has passed since.
	 */
	s->new_sources = at.last;
	if (s->have_now && s->now >= at.window + s->hz)
		s->new_sources = s->now < at.window + 2 * s->hz ? at.inserts : 0;

	bc.now = s->now;
	bc.have_now = s->have_now;
	err = fg_map_walk(m->bans, sizeof(struct fg_ban_key), sizeof(struct fg_ban), ban_chunk, &bc);
	if (err)
		return error("read fg_bans: %s", strerror(-err)), err;
	s->bans = bc.entries;
	s->bans_active = bc.active;
	if ((err = count_lists(m, s->list_entries)))
		return error("read fg_lists: %s", strerror(-err)), err;
	{
		char ifs[FG_MAX_LINKS][16];
		int n = fg_attached_ifaces(ifs, FG_MAX_LINKS);

		while (n-- > 0)
			s->ifaces += fg_iface_attached(ifs[n]);
	}
	s->sources = (__u64)-1;
	if (count_sources) {
		long n = fg_map_count_entries(m->sources, sizeof(struct fg_src_key),
					      sizeof(struct fg_src));

		if (n < 0)
			return error("read fg_sources: %s", strerror((int)-n)), (int)n;
		s->sources = n;
	}
	s->sources_max = fg_map_capacity(m->sources);
	s->bans_max = fg_map_capacity(m->bans);
	s->lists_max = fg_map_capacity(m->lists);
	return 0;
}

void fg_snapshot_verdicts(const struct fg_snapshot *s, struct fg_count *passed,
			  struct fg_count *dropped)
{
	unsigned int i;

	memset(passed, 0, sizeof(*passed));
	memset(dropped, 0, sizeof(*dropped));
	for (i = 0; i <= FG_R_DROP_LAST; i++) {
		struct fg_count *c = fg_counter_is_drop(i) ? dropped : passed;

		c->packets += s->counters[i].packets;
		c->bytes += s->counters[i].bytes;
	}
}

/* --- top N selection (a min-heap of the N largest) --- */

static bool top_less(const struct fg_top_item *a, const struct fg_top_item *b)
{
	if (a->key[0] != b->key[0])
		return a->key[0] < b->key[0];
	if (a->key[1] != b->key[1])
		return a->key[1] < b->key[1];
	/* a total order, so equal scores come out the same way every time */
	return memcmp(&a->e.key, &b->e.key, sizeof(a->e.key)) > 0;
}

int fg_top_init(struct fg_top *t, size_t cap)
{
	t->n = 0;
	t->cap = cap;
	t->v = cap ? calloc(cap, sizeof(*t->v)) : NULL;
	return cap && !t->v ? -ENOMEM : 0;
}

static void top_swap(struct fg_top_item *a, struct fg_top_item *b)
{
	struct fg_top_item tmp = *a;

	*a = *b;
	*b = tmp;
}

static void top_down(struct fg_top_item *v, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;

		if (l < n && top_less(&v[l], &v[min]))
			min = l;
		if (r < n && top_less(&v[r], &v[min]))
			min = r;
		if (min == i)
			return;
		top_swap(&v[i], &v[min]);
		i = min;
	}
}

void fg_top_offer(struct fg_top *t, const struct fg_top_item *it)
{
	size_t i;

	if (!t->cap)
		return;
	if (t->n == t->cap) {
		if (!top_less(&t->v[0], it))
			return; /* not bigger than the smallest kept */
		t->v[0] = *it;
		top_down(t->v, t->n, 0);
		return;
	}
	i = t->n++;
	t->v[i] = *it;
	while (i && top_less(&t->v[i], &t->v[(i - 1) / 2])) {
		top_swap(&t->v[i], &t->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

void fg_top_sort(struct fg_top *t)
{
	size_t n = t->n;

	/* heap sort in place: repeatedly move the smallest to the end */
	while (n > 1) {
		top_swap(&t->v[0], &t->v[n - 1]);
		n--;
		top_down(t->v, n, 0);
	}
}

void fg_top_free(struct fg_top *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

/* --- Prometheus text --- */

/* A label value with \, " and newline escaped as the exposition format wants. */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, __u64 v)
{
	fprintf(f, "%s %" PRIu64 "\n", name, (uint64_t)v);
}

/* The walk of fg_sources for /metrics: count, and keep the busiest when asked. */
struct render_walk {
	__u64 count;	   /* entries */
	struct fg_top top; /* top_n by packets */
};

static int render_source(const struct fg_src_key *k, const struct fg_src *v, void *ctx)
{
	struct render_walk *w = ctx;
	struct fg_top_item it;

	w->count++;
	if (!w->top.cap)
		return 0;
	memset(&it, 0, sizeof(it));
	it.e.key = *k;
	it.e.val = *v;
	it.key[0] = (double)v->packets;
	it.key[1] = (double)v->bytes;
	fg_top_offer(&w->top, &it);
	return 0;
}

static int memo_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct fg_source_entry *)a)->key,
		      &((const struct fg_source_entry *)b)->key, sizeof(struct fg_src_key));
}

void fg_metrics_memo_free(struct fg_metrics_memo *memo)
{
	if (!memo)
		return;
	free(memo->v);
	memo->v = NULL;
	memo->n = 0;
}

/*
 * The busiest sources' counters no lower than the last scrape said of the
 * same bucket (struct fg_metrics_memo); then the memo is what this one
 * says. Without memory for a new memo the old one goes: no clamp once.
 */
static void memo_apply(struct fg_metrics_memo *memo, struct fg_top *t)
{
	struct fg_source_entry *next = calloc(t->n ?: 1, sizeof(*next)), *old;
	struct fg_src *v;
	size_t i;

	for (i = 0; i < t->n; i++) {
		v = &t->v[i].e.val;
		old = memo->n ? bsearch(&t->v[i].e, memo->v, memo->n, sizeof(*memo->v), memo_cmp)
			      : NULL;
		if (old && old->val.first_seen == v->first_seen) {
			v->packets = v->packets > old->val.packets ? v->packets : old->val.packets;
			v->bytes = v->bytes > old->val.bytes ? v->bytes : old->val.bytes;
			v->drops = v->drops > old->val.drops ? v->drops : old->val.drops;
		}
		if (next)
			next[i] = t->v[i].e;
	}
	free(memo->v);
	memo->v = next;
	memo->n = next ? t->n : 0;
	if (memo->n)
		qsort(memo->v, memo->n, sizeof(*memo->v), memo_cmp);
}

static void render_sources(FILE *f, const struct fg_snapshot *s, struct fg_top *t)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} series[] = {
		{ "floodgate_source_packets_total", "Packets from one of the busiest sources (metrics.top_sources in the config), per endpoint rule.",
		  offsetof(struct fg_src, packets) },
		{ "floodgate_source_bytes_total", "Bytes from one of the busiest sources (metrics.top_sources in the config), per endpoint rule.",
		  offsetof(struct fg_src, bytes) },
		{ "floodgate_source_dropped_packets_total",
		  "Packets dropped from one of the busiest sources, per endpoint rule.",
		  offsetof(struct fg_src, drops) },
	};
	size_t i, j;

	for (j = 0; j < sizeof(series) / sizeof(series[0]); j++) {
		family(f, series[j].name, "counter", series[j].help);
		for (i = 0; i < t->n; i++) {
			const struct fg_source_entry *e = &t->v[i].e;
			char src[64], ep[32];
			__u64 v;

			memcpy(&v, (const char *)&e->val + series[j].off, sizeof(v));
			fg_format_cidr(src, sizeof(src), e->key.family, e->key.addr, e->key.plen);
			fprintf(f, "%s{source=\"", series[j].name);
			put_label(f, src);
			fputs("\",endpoint=\"", f);
			put_label(f, fg_rule_label(ep, sizeof(ep), &s->cfg, e->key.rule));
			fprintf(f, "\"} %" PRIu64 "\n", (uint64_t)v);
		}
	}
}

/* Verdict counters, then per endpoint rule. */
static void render_counters(FILE *f, const struct fg_snapshot *s)
{
	unsigned int i, r;

	family(f, "floodgate_packets_total", "counter",
	       "Packets seen by the XDP program, by verdict (action) and reason.");
	for (i = 0; i <= FG_R_DROP_LAST; i++)
		fprintf(f, "floodgate_packets_total{action=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
			fg_counter_action(i), fg_counter_name(i), (uint64_t)s->counters[i].packets);
	family(f, "floodgate_bytes_total", "counter",
	       "Bytes (whole frames) seen by the XDP program, by verdict (action) and reason.");
	for (i = 0; i <= FG_R_DROP_LAST; i++)
		fprintf(f, "floodgate_bytes_total{action=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
			fg_counter_action(i), fg_counter_name(i), (uint64_t)s->counters[i].bytes);

	family(f, "floodgate_endpoint_packets_total", "counter",
	       "Packets per endpoint rule: passed, dropped, or passed by a monitor rule that would "
	       "have dropped them (would_drop).");
	for (r = 0; r < FG_MAX_RULES; r++) {
		static const char *const act[] = { "pass", "drop", "would_drop" };
		const struct fg_rule_count *rc = &s->rules[r];
		__u64 v[3] = { rc->passed, rc->dropped, rc->would_drop };
		char ep[32];

		if (!s->cfg.rules[r].used)
			continue;
		fg_rule_label(ep, sizeof(ep), &s->cfg, r);
		for (i = 0; i < 3; i++)
			fprintf(f,
				"floodgate_endpoint_packets_total{endpoint=\"%s\",action=\"%s\"} "
				"%" PRIu64 "\n",
				ep, act[i], (uint64_t)v[i]);
	}
	family(f, "floodgate_endpoint_bytes_total", "counter",
	       "Bytes of all packets matched to each endpoint rule.");
	for (r = 0; r < FG_MAX_RULES; r++) {
		char ep[32];

		if (s->cfg.rules[r].used)
			fprintf(f, "floodgate_endpoint_bytes_total{endpoint=\"%s\"} %" PRIu64 "\n",
				fg_rule_label(ep, sizeof(ep), &s->cfg, r),
				(uint64_t)s->rules[r].bytes);
	}
}

/* Ban, source and list tables: fill and capacity. sources: buckets counted by the walk. */
static void render_tables(FILE *f, const struct fg_snapshot *s, __u64 sources)
{
	if (s->have_now) {
		family(f, "floodgate_bans_active",
		       "gauge", "Automatic bans in force (manual bans are floodgate_list_entries{list=\"ban\"}).");
		sample(f, "floodgate_bans_active", s->bans_active);
	}
	family(f, "floodgate_bans_total", "counter", "Bans created by the data path.");
	sample(f, "floodgate_bans_total", s->counters[FG_C_BANS].packets);
	family(f, "floodgate_ban_records", "gauge",
	       "Entries of the ban table, including ended bans that still remember strikes.");
	sample(f, "floodgate_ban_records", s->bans);
	family(f, "floodgate_ban_table_capacity", "gauge", "Entries the ban table can hold.");
	sample(f, "floodgate_ban_table_capacity", s->bans_max);
	family(f, "floodgate_sources_tracked", "gauge",
	       "Per-source buckets in the source table (one per source prefix and endpoint rule).");
	sample(f, "floodgate_sources_tracked", sources);
	family(f, "floodgate_sources_created_total", "counter",
	       "Per-source buckets created (a full table evicts the least recently used).");
	sample(f, "floodgate_sources_created_total", s->counters[FG_C_SOURCE_NEW].packets);
	family(f, "floodgate_source_table_capacity", "gauge",
	       "Buckets the source table can hold before the least recently used are evicted.");
	sample(f, "floodgate_source_table_capacity", s->sources_max);
	family(f, "floodgate_list_entries", "gauge",
	       "Prefixes on the allow, deny and manual ban lists.");
	fprintf(f, "floodgate_list_entries{list=\"allow\"} %" PRIu64 "\n",
		(uint64_t)s->list_entries[FG_LIST_ALLOW]);
	fprintf(f, "floodgate_list_entries{list=\"deny\"} %" PRIu64 "\n",
		(uint64_t)s->list_entries[FG_LIST_DENY]);
	fprintf(f, "floodgate_list_entries{list=\"ban\"} %" PRIu64 "\n",
		(uint64_t)s->list_entries[FG_LIST_BAN]);
	family(f, "floodgate_list_capacity", "gauge", "Prefixes the list table can hold.");
	sample(f, "floodgate_list_capacity", s->lists_max);
}

/* Under-attack mode, the data path's own failures, the rule set's generation. */
static void render_health(FILE *f, const struct fg_snapshot *s)
{
	static const struct {
		const char *map;  /* table */
		unsigned int idx; /* its insert-failure counter */
	} fails[] = { { "fg_bans", FG_C_BAN_INSERT_FAIL }, { "fg_sources", FG_C_SOURCE_INSERT_FAIL } };
	unsigned int i;

	family(f, "floodgate_interfaces_attached", "gauge",
	       "Interfaces floodgate's XDP program runs on now (0: it protects nothing).");
	sample(f, "floodgate_interfaces_attached", s->ifaces);
	family(f, "floodgate_under_attack", "gauge",
	       "1 while new sources are charged to coarse prefixes (under-attack mode), else 0.");
	sample(f, "floodgate_under_attack", s->under_attack);
	family(f, "floodgate_new_sources", "gauge",
	       "New sources, all CPUs together, in the last one-second window (under-attack mode "
	       "begins above the threshold).");
	sample(f, "floodgate_new_sources", s->new_sources);
	family(f, "floodgate_under_attack_entered_total", "counter",
	       "Times the machine entered under-attack mode.");
	sample(f, "floodgate_under_attack_entered_total", s->counters[FG_C_ATTACK_ENTER].packets);
	family(f, "floodgate_coarse_sources_total",
	       "counter", "Packets of new sources charged to their coarse prefix under attack (one per packet).");
	sample(f, "floodgate_coarse_sources_total", s->counters[FG_C_ATTACK_NEW].packets);
	family(f, "floodgate_map_insert_failures_total", "counter",
	       "Inserts a full table refused (the packet was still limited).");
	for (i = 0; i < sizeof(fails) / sizeof(fails[0]); i++)
		fprintf(f, "floodgate_map_insert_failures_total{map=\"%s\"} %" PRIu64 "\n",
			fails[i].map, (uint64_t)s->counters[fails[i].idx].packets);
	family(f, "floodgate_events_lost_total", "counter",
	       "Ban and under-attack events not sent (event rate limit or full ring buffer).");
	sample(f, "floodgate_events_lost_total", s->counters[FG_C_EVENTS_LOST].packets);
	family(f, "floodgate_lost_races_total", "counter",
	       "Packets passed uncharged: a limit's compare-and-swap lost to other CPUs 16 times "
	       "in a "
	       "row (never a drop or a ban).");
	sample(f, "floodgate_lost_races_total", s->counters[FG_C_LOST_RACE].packets);
	family(f, "floodgate_portless_packets_total",
	       "counter", "Packets charged without ports: non-first fragments, IPv6 extension chains too long.");
	fprintf(f, "floodgate_portless_packets_total{kind=\"fragment\"} %" PRIu64 "\n",
		(uint64_t)s->counters[FG_C_FRAGMENT].packets);
	fprintf(f, "floodgate_portless_packets_total{kind=\"ipv6_long_chain\"} %" PRIu64 "\n",
		(uint64_t)s->counters[FG_C_IP6_LONG_CHAIN].packets);
	family(f, "floodgate_syn_proxy_would_total", "counter",
	       "Packets a monitor rule with the SYN proxy passed that XDP would have answered "
	       "with a SYN-ACK (synack) or refused (refuse).");
	fprintf(f, "floodgate_syn_proxy_would_total{what=\"synack\"} %" PRIu64 "\n",
		(uint64_t)s->counters[FG_C_SP_WOULD_SYNACK].packets);
	fprintf(f, "floodgate_syn_proxy_would_total{what=\"refuse\"} %" PRIu64 "\n",
		(uint64_t)s->counters[FG_C_SP_WOULD_REFUSE].packets);
	family(f, "floodgate_syn_proxy_unseen_syns_total", "counter",
	       "SYNs the SYN proxy answered without a conntrack lookup: their source had no "
	       "connection through it lately.");
	sample(f, "floodgate_syn_proxy_unseen_syns_total", s->counters[FG_C_SP_UNSEEN].packets);
	family(f, "floodgate_syn_proxy_flow_hits_total", "counter",
	       "Segments the SYN proxy passed without a conntrack lookup: their connection was "
	       "confirmed on the same CPU within the second.");
	sample(f, "floodgate_syn_proxy_flow_hits_total", s->counters[FG_C_SP_FLOW_HIT].packets);
	family(f, "floodgate_rule_set_generation", "gauge",
	       "Rule-set swaps since the maps were made.");
	sample(f, "floodgate_rule_set_generation", s->st.generation);
}

int fg_metrics_render(const struct fg_maps *m, const struct fg_metrics_opts *o, char **text,
		      size_t *len)
{
	struct fg_snapshot *s = calloc(1, sizeof(*s));
	struct render_walk w = {};
	FILE *f = NULL;
	int err;

	*text = NULL;
	*len = 0;
	if (!s)
		return -ENOMEM;
	if ((err = fg_snapshot_read(m, s, false)))
		goto out;
	if ((err = fg_top_init(&w.top, o ? o->top_n : 0)))
		goto out;
	if ((err = fg_sources_each(m, render_source, &w)) < 0)
		goto out;
	fg_top_sort(&w.top);
	f = open_memstream(text, len);
	if (!f) {
		err = -errno;
		goto out;
	}

	render_counters(f, s);
	render_tables(f, s, w.count);
	render_health(f, s);
	if (o && o->memo)
		memo_apply(o->memo, &w.top);
	if (w.top.n)
		render_sources(f, s, &w.top);
	if (o && o->extra)
		o->extra(o->extra_ctx, f);
	family(f, "floodgate_build_info", "gauge",
	       "Always 1; the labels say which floodgate and map layout serve these metrics.");
	fprintf(f, "floodgate_build_info{version=\"%s\",layout=\"%" PRIu64 "\"} 1\n", FG_VERSION,
		(uint64_t)s->st.layout);
	if (fclose(f)) {
		f = NULL;
		err = -ENOMEM;
		goto out;
	}
	f = NULL;
	err = 0;
out:
	if (f)
		fclose(f);
	if (err) {
		free(*text);
		*text = NULL;
		*len = 0;
	}
	fg_top_free(&w.top);
	free(s);
	return err;
}

/* --- HTTP --- */

static int reply_text(struct fg_http_reply *r, unsigned int status, const char *type, const char *body)
{
	r->status = status;
	r->type = type;
	r->len = strlen(body);
	r->body = strdup(body);
	return r->body ? 0 : -ENOMEM;
}

void fg_metrics_cache_free(struct fg_metrics_cache *c)
{
	if (!c)
		return;
	free(c->body);
	memset(c, 0, sizeof(*c));
}

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

/* The /metrics body (malloc()ed): o->cache's while it lives, else rendered (and kept). */
static int metrics_body(const struct fg_maps *m, const struct fg_metrics_opts *o, char **text,
			size_t *len)
{
	struct fg_metrics_cache *c = o ? o->cache : NULL;
	__u64 t0 = mono_ms(), took;
	int err;

	if (c && c->body && t0 - c->at_ms < c->ttl_ms) {
		*text = malloc(c->len + 1);
		if (!*text)
			return -ENOMEM;
		memcpy(*text, c->body, c->len + 1);
		*len = c->len;
		return 0;
	}
	err = fg_metrics_render(m, o, text, len);
	if (err || !c)
		return err;
	fg_metrics_cache_free(c);
	c->body = malloc(*len + 1);
	if (!c->body)
		return 0; /* not kept: the next scrape renders */
	memcpy(c->body, *text, *len + 1);
	c->len = *len;
	c->at_ms = mono_ms(); /* from the walk's end: then scrapes take a fifth at most */
	took = c->at_ms - t0;
	c->ttl_ms = took * 4 > FG_METRICS_TTL_MS ? took * 4 : FG_METRICS_TTL_MS;
	if (c->ttl_ms > FG_METRICS_TTL_MAX_MS)
		c->ttl_ms = FG_METRICS_TTL_MAX_MS;
	return 0;
}

int fg_http_handle(const struct fg_maps *m, const struct fg_metrics_opts *o, const char *method,
		   const char *url, size_t header_bytes, struct fg_http_reply *r)
{
	bool get, metrics, root;
	char *text;
	size_t len;
	int err;

	memset(r, 0, sizeof(*r));
	if (header_bytes > FG_HTTP_HEADER_MAX)
		return reply_text(r, 431, "text/plain", "request headers too large\n");
	metrics = url && !strcmp(url, "/metrics");
	root = url && !strcmp(url, "/");
	if (!metrics && !root)
		return reply_text(r, 404, "text/plain", "not found: try /metrics\n");
	get = method && (!strcmp(method, "GET") || !strcmp(method, "HEAD"));
	if (!get) {
		r->allow = "GET, HEAD";
		return reply_text(r, 405, "text/plain", "method not allowed: GET or HEAD\n");
	}
	if (root)
		return reply_text(r, 200, "text/html; charset=utf-8",
				  "<!DOCTYPE html>\n<html><head><title>floodgate</title></head>"
				  "<body><h1>floodgate</h1><p><a href=\"/metrics\">Metrics</a></p>"
				  "</body></html>\n");
	err = metrics_body(m, o, &text, &len);
	if (err)
		return reply_text(r, 500, "text/plain", "error: reading the floodgate maps failed\n");
	r->status = 200;
	r->type = "text/plain; version=0.0.4; charset=utf-8";
	r->body = text;
	r->len = len;
	return 0;
}

static enum MHD_Result add_header_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	/* "Name: value\r\n" */
	*(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct fg_metrics_server *s = cls;
	struct fg_http_reply r;
	struct MHD_Response *resp;
	size_t header_bytes = 0;
	enum MHD_Result ret;

	MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_bytes, &header_bytes);
	if (fg_http_handle(s->m, s->o, method, url, header_bytes, &r))
		return MHD_NO; /* out of memory: drop the connection */
	resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(r.body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.type);
	if (r.allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r.allow);
	if (r.status != 200)
		/* an error ends the connection: a request body we did not read cannot confuse it */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * libmicrohttpd's own complaints (bad requests, a full connection table, a
 * client over its connections): notices, FG_HTTP_LOG_PER_SEC lines a second
 * at most, the next one saying how many were left out (a client opening
 * connections by the thousand must not flood the log).
 */
#define FG_HTTP_LOG_PER_SEC 5
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct fg_metrics_server *s = cls;
	__u64 sec = mono_ms() / 1000;
	char buf[512];
	size_t n;

	if (s && s->starting) { /* "Failed to bind to port 0": the port was in the address */
		vsnprintf(s->why, sizeof(s->why), fmt, ap);
		s->why[strcspn(s->why, "\r\n")] = 0;
		return;
	}
	if (s && sec != s->log_sec) {
		s->log_sec = sec;
		s->logged = 0;
	}
	if (s && s->logged >= FG_HTTP_LOG_PER_SEC) {
		s->unlogged++;
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (s && s->unlogged)
		fprintf(stderr, "<5>metrics: %s (and %llu more lines left out)\n", buf, s->unlogged);
	else
		fprintf(stderr, "<5>metrics: %s\n", buf);
	if (s) {
		s->logged++;
		s->unlogged = 0;
	}
}

void fg_metrics_tick(struct fg_metrics_server *s)
{
	if (!s || !s->unlogged || mono_ms() / 1000 == s->log_sec)
		return;
	fprintf(stderr, "<5>metrics: %llu more lines left out\n", s->unlogged);
	s->unlogged = 0;
}

int fg_parse_listen(const char *what, const char *s, void *sockaddr, unsigned int *socklen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	__u64 port;
	size_t hl;

	colon = s ? strrchr(s, ':') : NULL;
	/* a bracketed IPv6 address without its port ("[::1]"): the last colon is the address's */
	if (colon && s[0] == '[' && s[strlen(s) - 1] == ']')
		colon = NULL;
	if (!colon || colon == s)
		return error("%s: %s: expected ADDR:PORT (127.0.0.1:9419, [::1]:9419)", what,
			     s ? s : ""),
		       -EINVAL;
	hl = colon - s;
	if (hl >= sizeof(host))
		return error("%s: %s: not an address", what, s), -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (fg_parse_u64(what, colon + 1, 0, 65535, &port))
		return -EINVAL;
	if (host[0] == '[') {
		struct sockaddr_in6 *a = sockaddr;

		if (hl < 3 || host[hl - 1] != ']')
			return error("%s: %s: unbalanced [ ]", what, s), -EINVAL;
		host[hl - 1] = '\0';
		memset(a, 0, sizeof(*a));
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return error("%s: %s: not an IPv6 address", what, s), -EINVAL;
		*socklen = sizeof(*a);
	} else {
		struct sockaddr_in *a = sockaddr;

		memset(a, 0, sizeof(*a));
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return error("%s: %s: not an IPv4 address (IPv6 goes in [ ])", what, s),
			       -EINVAL;
		*socklen = sizeof(*a);
	}
	return 0;
}

/*
 * Limits against slow or many clients: a scrape must get through while
 * hundreds of idle connections are held open, so the connection limit is
 * well above that, one address may hold only a few of them (a client
 * holding a thousand would keep every other one out), and idle ones are
 * closed after a timeout.
 */
#define FG_HTTP_CONNECTIONS 1000       /* open connections at most */
#define FG_HTTP_PER_IP	    64	       /* of them from one address */
#define FG_HTTP_TIMEOUT	    10	       /* seconds a connection may stay silent */
#define FG_HTTP_POOL	    (32 << 10) /* per-connection memory: headers beyond it get 431 */

int fg_metrics_start(struct fg_metrics_server **out, const char *listen, const struct fg_maps *m,
		     const struct fg_metrics_opts *o)
{
	struct sockaddr_storage ss;
	struct fg_metrics_server *s;
	const union MHD_DaemonInfo *info;
	unsigned int sl;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	*out = NULL;
	if (fg_parse_listen("metrics", listen, &ss, &sl))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->m = m;
	s->o = o;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the logger first: libmicrohttpd warns (through its own logger) when it is not */
	s->starting = true;
	errno = 0;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
				mhd_log, s, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned int)FG_HTTP_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				(unsigned int)FG_HTTP_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)FG_HTTP_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)FG_HTTP_POOL, MHD_OPTION_END);
	if (!s->d) {
		int err = errno ? -errno : -EADDRINUSE;

		error("metrics: listen on %s: %s", listen,
		      errno || !s->why[0] ? strerror(-err) : s->why);
		free(s);
		return err;
	}
	s->starting = false;
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	*out = s;
	return 0;
}

int fg_metrics_fd(const struct fg_metrics_server *s)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);

	return info ? info->epoll_fd : -1;
}

unsigned int fg_metrics_port(const struct fg_metrics_server *s)
{
	return s->port;
}

int fg_metrics_run(struct fg_metrics_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(s->d);
	if (MHD_get_timeout(s->d, &ms) != MHD_YES)
		return -1;
	return ms > 60000 ? 60000 : (int)ms;
}

void fg_metrics_stop(struct fg_metrics_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d);
	free(s);
}
