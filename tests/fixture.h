/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * fixture.h: what the BPF_PROG_TEST_RUN tests share. Loading the XDP
 * program with the test clock, the maps as user/ sees them (so rule sets
 * go through fg_ruleset_commit), running frames and reading which verdict
 * counter moved, and a frame builder that writes headers byte by byte
 * (it does not use the program's structs, so a wrong layout there shows).
 *
 * Every function returns 0 or -errno unless it says otherwise.
 */
#ifndef FG_TEST_FIXTURE_H
#define FG_TEST_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util.h"
#include "lists.h"
#include "maps.h"
#include "metrics.h"
#include "ruleset.h"
#include "attach.h"
#include "floodgate.skel.h"

#define FX_PKT_MAX 9216 /* largest frame the builder writes (a jumbo frame) */

/* Ethertypes, IP protocols and TCP flags, spelled out here on purpose. */
#define FX_ETH_IP4     0x0800
#define FX_ETH_IP6     0x86dd
#define FX_ETH_ARP     0x0806
#define FX_ETH_LLDP    0x88cc
#define FX_ETH_8021Q   0x8100
#define FX_ETH_8021AD  0x88a8
#define FX_IP_HOPOPTS  0
#define FX_IP_ICMP     1
#define FX_IP_TCP      6
#define FX_IP_UDP      17
#define FX_IP_ROUTING  43
#define FX_IP_FRAGMENT 44
#define FX_IP_GRE      47
#define FX_IP_AH       51
#define FX_IP_ICMP6    58
#define FX_IP_NONE     59
#define FX_IP_DSTOPTS  60
#define FX_TCP_SYN     0x02
#define FX_TCP_ACK     0x10

/* A loaded program with the test clock. */
struct fx {
	struct floodgate *skel; /* program and maps */
	struct fg_maps m;	/* the same maps as user/ opens them; m.st is fg_state, mmap()ed */
	int prog;		/* fd of the floodgate program */
	__u64 hz;		/* test clock ticks per second */
	int ncpus;		/* possible CPUs: per-CPU values */
	void *scratch;		/* per-CPU values of every counter, for batch reads */
};

/* Which counters one frame moved, and how (fx_send). */
struct fx_result {
	int err;	  /* 0, or -errno from BPF_PROG_TEST_RUN */
	__u32 xdp;	  /* the program's return value */
	int reason;	  /* the one verdict counter (FG_R_*) that moved, -1 none, -2 several */
	__u64 bytes;	  /* bytes added to that counter */
	__u32 notes;	  /* bit per informational counter (past FG_R_DROP_LAST) that moved */
	int rule;	  /* rule whose fg_rule_stats moved, -1 none, -2 several */
	int rule_field;	  /* 0 passed, 1 dropped, 2 would_drop moved for that rule, -1 none */
	__u64 rule_bytes; /* bytes added to that rule */
};

static inline int fx_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !getenv("FG_VERBOSE"))
		return 0;
	if (level != LIBBPF_WARN && !getenv("FG_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * Every list filter slot admits every address: for tests that write
 * fg_lists directly instead of through user/lists.c, which keeps the
 * filters.
 */
static inline int fx_lfilter_open(const struct fx *f)
{
	struct fg_lfilter *lf = malloc(sizeof(*lf));
	__u32 i;
	int err = 0;

	if (!lf)
		return -ENOMEM;
	memset(lf, 0xff, sizeof(*lf));
	for (i = 0; i < FG_LF_SLOTS * 2 && !err; i++)
		if (bpf_map_update_elem(f->m.lfilter, &i, lf, BPF_ANY))
			err = -errno;
	free(lf);
	return err;
}

static inline void fx_close(struct fx *f);

/*
 * Load the program with the test clock at `hz` ticks per second and a
 * source table of `sources` entries (0: a small default that keeps tests
 * light). The rule set is empty until the test commits one. knobs:
 * FX_LOSE, every compare-and-swap of a limit loses (fg_test_lose), as when
 * other CPUs keep winning the race; FX_MOVED, every bucket is moved to
 * newer units between the packet's read of a tat and its compare-and-swap
 * (fg_test_moved), as when another CPU applies a new rule set just then;
 * FX_BANNED, right after a packet's ban check another CPU bans its bucket
 * and moves its ban group on (fg_test_banned).
 */
enum fx_knob {
	FX_LOSE = 1,
	FX_MOVED = 2,
	FX_BANNED = 4,
};

static inline int fx_open_knobs(struct fx *f, __u64 hz, __u32 sources, unsigned int knobs)
{
	int err;

	memset(f, 0, sizeof(*f));
	libbpf_set_print(fx_libbpf_print);
	f->ncpus = libbpf_num_possible_cpus();
	if (f->ncpus <= 0)
		return f->ncpus ? f->ncpus : -EINVAL;
	f->skel = floodgate__open();
	if (!f->skel)
		return -errno;
	f->skel->rodata->fg_test_clock = 1;
	f->skel->rodata->fg_test_lose = !!(knobs & FX_LOSE);
	f->skel->rodata->fg_test_moved = !!(knobs & FX_MOVED);
	f->skel->rodata->fg_test_banned = !!(knobs & FX_BANNED);
	f->skel->rodata->fg_hz = hz;
	bpf_map__set_max_entries(f->skel->maps.fg_sources, sources ? sources : 65536);
	fg_seen_knobs(f->skel, hz, true); /* as attach sets them */
	bpf_map__set_max_entries(f->skel->maps.fg_bans, 4096);
	err = floodgate__load(f->skel);
	if (err) {
		fprintf(stderr, "error: load floodgate: %s\n", strerror(-err));
		floodgate__destroy(f->skel);
		f->skel = NULL;
		return err;
	}
	f->hz = hz;
	f->prog = bpf_program__fd(f->skel->progs.floodgate);
	f->m.config = bpf_map__fd(f->skel->maps.fg_config);
	f->m.ports = bpf_map__fd(f->skel->maps.fg_ports);
	f->m.state = bpf_map__fd(f->skel->maps.fg_state);
	f->m.pressure = bpf_map__fd(f->skel->maps.fg_pressure);
	f->m.attack = bpf_map__fd(f->skel->maps.fg_attack);
	f->m.verdicts = bpf_map__fd(f->skel->maps.fg_verdicts);
	f->m.lists = bpf_map__fd(f->skel->maps.fg_lists);
	f->m.lfilter = bpf_map__fd(f->skel->maps.fg_lfilter);
	f->m.sources = bpf_map__fd(f->skel->maps.fg_sources);
	f->m.bans = bpf_map__fd(f->skel->maps.fg_bans);
	f->m.totals = bpf_map__fd(f->skel->maps.fg_totals);
	f->m.counters = bpf_map__fd(f->skel->maps.fg_counters);
	f->m.rule_stats = bpf_map__fd(f->skel->maps.fg_rule_stats);
	f->m.events = bpf_map__fd(f->skel->maps.fg_events);
	f->m.barrier = bpf_map__fd(f->skel->maps.fg_barrier);
	f->m.clock = bpf_program__fd(f->skel->progs.fg_clock);
	f->m.lock = -1;
	f->m.writable = true;
	f->m.ncpus = f->ncpus;
	f->m.st = mmap(NULL, sizeof(*f->m.st), PROT_READ | PROT_WRITE, MAP_SHARED, f->m.state, 0);
	if (f->m.st == MAP_FAILED) {
		err = -errno;
		f->m.st = NULL;
		floodgate__destroy(f->skel);
		f->skel = NULL;
		return err;
	}
	f->m.st->hz = hz;
	f->m.st->layout = FG_LAYOUT_VERSION;
	f->scratch = calloc((size_t)f->ncpus * FG_MAX_RULES, sizeof(struct fg_rule_count));
	err = f->scratch ? fx_lfilter_open(f) : -ENOMEM;
	if (err)
		fx_close(f);
	return err;
}

static inline int fx_open(struct fx *f, __u64 hz, __u32 sources)
{
	return fx_open_knobs(f, hz, sources, 0);
}

static inline void fx_close(struct fx *f)
{
	if (f->m.st)
		munmap(f->m.st, sizeof(*f->m.st));
	floodgate__destroy(f->skel); /* closes every map fd of f->m */
	free(f->scratch);
	memset(f, 0, sizeof(*f));
}

/* Every entry of an array map (per-CPU too: every CPU's) back to 0, in one batch. */
static inline int fx_array_clear(const struct bpf_map *map)
{
	int cpus = bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_ARRAY ? libbpf_num_possible_cpus() : 1;
	__u32 n = bpf_map__max_entries(map), i, *keys = calloc(n, sizeof(*keys));
	size_t vs = (bpf_map__value_size(map) + 7) & ~(size_t)7; /* as the kernel lays them out */
	void *zero = cpus > 0 ? calloc((size_t)n * cpus, vs) : NULL;
	int err = 0;

	if (!keys || !zero) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		keys[i] = i;
	if (bpf_map_update_batch(bpf_map__fd(map), keys, zero, &n, NULL))
		err = -errno;
out:
	free(keys);
	free(zero);
	return err;
}

/*
 * Every fg_seen, fg_sp_peers stamp, fg_newcomers note and fg_sp_flows
 * entry back to 0: what a test before left.
 */
static inline int fx_seen_clear(const struct fx *f)
{
	int err = fx_array_clear(f->skel->maps.fg_seen);

	err = err ? err : fx_array_clear(f->skel->maps.fg_sp_peers);
	err = err ? err : fx_array_clear(f->skel->maps.fg_sp_flows);
	return err ? err : fx_array_clear(f->skel->maps.fg_newcomers);
}

/* The test clock: every later packet is handled at tick t. */
static inline void fx_set_now(struct fx *f, __u64 t)
{
	__atomic_store_n(&f->m.st->test_now, t, __ATOMIC_RELEASE);
}

static inline __u64 fx_now(const struct fx *f)
{
	return __atomic_load_n(&f->m.st->test_now, __ATOMIC_ACQUIRE);
}

/* Defaults of user/ruleset.c with the under-attack detector off (tests create many sources). */
static inline void fx_ruleset_init(struct fg_ruleset *rs, __u64 hz)
{
	fg_ruleset_defaults(rs, hz);
	rs->cfg.attack_new_per_sec = 0;
}

/* A rule with no limits at all: every packet passes (unless a list or ban says otherwise). */
static inline void fx_rule_open(struct fg_rule *r)
{
	r->pps = r->bps = r->syn = r->total = (struct fg_limit){ 0, 0 };
}

static inline int fx_commit(struct fx *f, struct fg_ruleset *rs)
{
	return fg_ruleset_commit(&f->m, rs);
}

/*
 * Run a frame `repeat` times. linear, when below len, is the length of
 * the frame's linear part (the rest goes to fragments, as a multi-buffer
 * driver would deliver it); linear >= len leaves that to the kernel.
 */
static inline int fx_run_linear(struct fx *f, const void *pkt, __u32 len, __u32 linear,
				__u32 repeat, __u32 *retval)
{
	struct xdp_md ctx = { .data = 0, .data_end = linear };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = repeat);
	int err;

	if (linear < len) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(f->prog, &o);
	if (err)
		return err;
	if (retval)
		*retval = o.retval;
	return 0;
}

static inline int fx_run(struct fx *f, const void *pkt, __u32 len, __u32 repeat, __u32 *retval)
{
	return fx_run_linear(f, pkt, len, len, repeat, retval);
}

/*
 * Add what the verdict caches hold and have not settled to counters
 * (FG_COUNTER_MAX) and rules (FG_MAX_RULES, or NULL), as stats does.
 */
static inline int fx_pending(struct fx *f, struct fg_count *counters, struct fg_rule_count *rules)
{
	struct fg_rule_count none[FG_MAX_RULES] = {};
	struct fg_config *cfg = malloc(sizeof(*cfg));
	__u32 slot = __atomic_load_n(&f->m.st->slot, __ATOMIC_ACQUIRE) & 1;
	int err = -ENOMEM;

	if (cfg) {
		err = bpf_map_lookup_elem(f->m.config, &slot, cfg) ? -errno : 0;
		if (!err)
			err = fg_vc_pending(&f->m, cfg, counters, rules ? rules : none);
	}
	free(cfg);
	return err;
}

/* Sums over CPUs of every fg_counters cell, with the caches' part: out[FG_COUNTER_MAX]. */
static inline int fx_counters(struct fx *f, struct fg_count *out)
{
	struct fg_count *v = f->scratch;
	__u32 keys[FG_COUNTER_MAX], count = FG_COUNTER_MAX, out_batch, i;
	int c, err;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	err = bpf_map_lookup_batch(f->m.counters, NULL, &out_batch, keys, v, &count, &bo);
	if (err && err != -ENOENT)
		return err;
	if (count != FG_COUNTER_MAX)
		return -EIO;
	memset(out, 0, FG_COUNTER_MAX * sizeof(*out));
	for (i = 0; i < FG_COUNTER_MAX; i++)
		for (c = 0; c < f->ncpus; c++) {
			out[keys[i]].packets += v[i * f->ncpus + c].packets;
			out[keys[i]].bytes += v[i * f->ncpus + c].bytes;
		}
	return fx_pending(f, out, NULL);
}

/* Sum over CPUs of one counter's packets, with the caches' part. */
static inline __u64 fx_counter(struct fx *f, __u32 idx)
{
	struct fg_count all[FG_COUNTER_MAX];

	if (idx >= FG_COUNTER_MAX || fx_counters(f, all))
		return ~0ULL;
	return all[idx].packets;
}

/* Sums over CPUs of every fg_rule_stats cell, with the caches' part: out[FG_MAX_RULES]. */
static inline int fx_rule_stats(struct fx *f, struct fg_rule_count *out)
{
	struct fg_rule_count *v = f->scratch;
	__u32 keys[FG_MAX_RULES], count = FG_MAX_RULES, out_batch, i;
	int c, err;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	err = bpf_map_lookup_batch(f->m.rule_stats, NULL, &out_batch, keys, v, &count, &bo);
	if (err && err != -ENOENT)
		return err;
	if (count != FG_MAX_RULES)
		return -EIO;
	memset(out, 0, FG_MAX_RULES * sizeof(*out));
	for (i = 0; i < FG_MAX_RULES; i++)
		for (c = 0; c < f->ncpus; c++) {
			out[keys[i]].passed += v[i * f->ncpus + c].passed;
			out[keys[i]].dropped += v[i * f->ncpus + c].dropped;
			out[keys[i]].would_drop += v[i * f->ncpus + c].would_drop;
			out[keys[i]].bytes += v[i * f->ncpus + c].bytes;
		}
	return fx_pending(f, (struct fg_count[FG_COUNTER_MAX]){}, out);
}

/*
 * Run one frame and say which verdict counter, informational counters and
 * rule counters it moved. with_rules 0 skips the rule counters (faster).
 */
static inline struct fx_result fx_send_linear(struct fx *f, const void *pkt, __u32 len,
					      __u32 linear, int with_rules)
{
	struct fg_count before[FG_COUNTER_MAX], after[FG_COUNTER_MAX];
	struct fg_rule_count rb[FG_MAX_RULES], ra[FG_MAX_RULES];
	struct fx_result r = { .reason = -1, .rule = -1, .rule_field = -1 };
	int i;

	if ((r.err = fx_counters(f, before)))
		return r;
	if (with_rules && (r.err = fx_rule_stats(f, rb)))
		return r;
	if ((r.err = fx_run_linear(f, pkt, len, linear, 1, &r.xdp)))
		return r;
	if ((r.err = fx_counters(f, after)))
		return r;
	if (with_rules && (r.err = fx_rule_stats(f, ra)))
		return r;
	for (i = 0; i < FG_COUNTER_MAX; i++) {
		__u64 d = after[i].packets - before[i].packets;

		if (!d)
			continue;
		if (i > FG_R_DROP_LAST) {
			r.notes |= 1U << (i - FG_R_DROP_LAST - 1);
			continue;
		}
		r.reason = r.reason == -1 && d == 1 ? i : -2;
		r.bytes = after[i].bytes - before[i].bytes;
	}
	for (i = 0; with_rules && i < FG_MAX_RULES; i++) {
		__u64 d[3] = { ra[i].passed - rb[i].passed, ra[i].dropped - rb[i].dropped,
			       ra[i].would_drop - rb[i].would_drop };
		int k, moved = 0;

		for (k = 0; k < 3; k++)
			if (d[k]) {
				moved++;
				r.rule_field = d[k] == 1 ? k : -2;
			}
		if (moved || ra[i].bytes != rb[i].bytes) {
			r.rule = r.rule == -1 && moved == 1 ? i : -2;
			r.rule_bytes = ra[i].bytes - rb[i].bytes;
		}
	}
	return r;
}

static inline struct fx_result fx_send(struct fx *f, const void *pkt, __u32 len)
{
	return fx_send_linear(f, pkt, len, len, 1);
}

/* Bit of an informational counter in fx_result.notes. */
#define FX_NOTE(c) (1U << ((c)-FG_R_DROP_LAST - 1))

/* ---- frame builder ---- */

enum fx_frag {
	FX_FRAG_NONE = 0,  /* not a fragment */
	FX_FRAG_FIRST = 1, /* first fragment: offset 0, more fragments */
	FX_FRAG_LATER = 2, /* a later fragment: offset 1480 (IPv4) or 1448 (IPv6), no L4 header */
};

/* What to build; zero fields mean the obvious default. */
struct fx_spec {
	__u8 vlans;	    /* VLAN tags (0..4) */
	__u16 tpid[4];	    /* TPID of each tag, outermost first; 0 means 802.1Q */
	__u16 ethertype;    /* for a non-IP frame (family 0): its ethertype */
	__u8 family;	    /* 4, 6, or 0 for a non-IP frame */
	const char *src;    /* source address, NULL: 198.18.0.1 or 2001:db8::1 */
	const char *dst;    /* destination address, NULL: 198.19.0.1 or 2001:db8:ffff::1 */
	__u8 proto;	    /* L4 protocol; 0 means TCP */
	__u16 sport;	    /* source port, 0: 40000 */
	__u16 dport;	    /* destination port */
	__u8 tcp_flags;	    /* TCP flags (FX_TCP_SYN...) */
	__u8 icmp_type;	    /* ICMP or ICMPv6 type */
	__u8 n_ext;	    /* IPv6 extension headers before the L4 header */
	__u8 ext[12];	    /* their protocol numbers (FX_IP_HOPOPTS, ...) */
	__u8 frag;	    /* enum fx_frag (IPv4; IPv6 uses a FX_IP_FRAGMENT entry in ext) */
	__u16 payload;	    /* bytes after the L4 header */
	__u8 ip4_opt_words; /* IPv4 option words (IHL = 5 + this) */
	__u8 hop_limit;	    /* IPv6 hop limit (IPv4: TTL), 0: 64 */
};

/* A built frame and where its headers start. */
struct fx_pkt {
	__u8 b[FX_PKT_MAX]; /* the frame */
	__u32 len;	    /* its length */
	__u32 l3;	    /* offset of the IPv4/IPv6 header (or the non-IP payload) */
	__u32 l4;	    /* offset of the L4 header (after options and extension headers) */
	__u32 ext[12];	    /* offset of each IPv6 extension header */
	__u32 tag[4];	    /* offset of each VLAN tag */
};

static inline void fx_put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline __u16 fx_get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* Length of an IPv6 extension header as the builder writes it. */
static inline __u32 fx_ext_len(__u8 type)
{
	return type == FX_IP_AH ? 12 : 8;
}

/*
 * Build a frame from a spec. Lengths in the headers (IPv4 total length,
 * IPv6 payload length, UDP length) are those of the frame as built; tests
 * lie about them afterwards by patching bytes. Returns the frame length,
 * or 0 when the spec does not fit.
 */
static inline __u32 fx_build(struct fx_pkt *p, const struct fx_spec *s)
{
	__u8 proto = s->proto ? s->proto : FX_IP_TCP, *b = p->b;
	__u32 off = 12, l4len, iphl, i, exts = 0;
	int later = 0;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < 6; i++) {
		b[i] = 0x02 + (i == 5);		/* 02:02:02:02:02:03 */
		b[6 + i] = 0x02 + 2 * (i == 5); /* 02:02:02:02:02:04 */
	}
	for (i = 0; i < s->vlans && i < 4; i++) {
		p->tag[i] = off;
		fx_put16(b + off, s->tpid[i] ? s->tpid[i] : FX_ETH_8021Q);
		fx_put16(b + off + 2, 0x0064 + i); /* VLAN 100, 101, ... */
		off += 4;
	}
	fx_put16(b + off, s->family == 4 ? FX_ETH_IP4 : s->family == 6 ? FX_ETH_IP6 : s->ethertype);
	off += 2;
	p->l3 = off;
	if (!s->family) {
		p->l4 = off;
		p->len = off + (s->payload ? s->payload : 28);
		memset(b + off, 0x5a, p->len - off);
		return p->len <= FX_PKT_MAX ? p->len : 0;
	}
	if (s->family == 4) {
		iphl = 20 + 4 * s->ip4_opt_words;
		later = s->frag == FX_FRAG_LATER;
	} else {
		iphl = 40;
		for (i = 0; i < s->n_ext; i++) {
			p->ext[i] = off + iphl + exts;
			exts += fx_ext_len(s->ext[i]);
			if (s->ext[i] == FX_IP_FRAGMENT && s->frag == FX_FRAG_LATER)
				later = 1;
		}
	}
	p->l4 = off + iphl + exts;
	if (later)
		l4len = 0; /* a later fragment carries only data */
	else if (proto == FX_IP_TCP)
		l4len = 20;
	else if (proto == FX_IP_UDP || proto == FX_IP_ICMP || proto == FX_IP_ICMP6)
		l4len = 8;
	else
		l4len = 0;
	p->len = p->l4 + l4len + s->payload;
	if (p->len > FX_PKT_MAX)
		return 0;
	if (s->family == 4) {
		__u8 *ip = b + off;
		__u32 a = htonl(0xc6120001), d = htonl(0xc6130001); /* 198.18.0.1, 198.19.0.1 */

		if (s->src && inet_pton(AF_INET, s->src, &a) != 1)
			return 0;
		if (s->dst && inet_pton(AF_INET, s->dst, &d) != 1)
			return 0;
		ip[0] = 0x40 | (iphl / 4);
		fx_put16(ip + 2, p->len - off);
		fx_put16(ip + 4, 0x1234);
		if (s->frag == FX_FRAG_FIRST)
			fx_put16(ip + 6, 0x2000); /* MF, offset 0 */
		else if (s->frag == FX_FRAG_LATER)
			fx_put16(ip + 6, 185); /* offset 185 * 8 = 1480 */
		ip[8] = s->hop_limit ? s->hop_limit : 64;
		ip[9] = proto;
		memcpy(ip + 12, &a, 4);
		memcpy(ip + 16, &d, 4);
		for (i = 20; i < iphl; i++)
			ip[i] = 1; /* NOP options */
	} else {
		__u8 *ip = b + off, a[16], d[16];

		if (inet_pton(AF_INET6, s->src ? s->src : "2001:db8::1", a) != 1)
			return 0;
		if (inet_pton(AF_INET6, s->dst ? s->dst : "2001:db8:ffff::1", d) != 1)
			return 0;
		ip[0] = 0x60;
		fx_put16(ip + 4, p->len - off - 40);
		ip[6] = s->n_ext ? s->ext[0] : proto;
		ip[7] = s->hop_limit ? s->hop_limit : 64;
		memcpy(ip + 8, a, 16);
		memcpy(ip + 24, d, 16);
		for (i = 0; i < s->n_ext; i++) {
			__u8 *e = b + p->ext[i];

			e[0] = i + 1 < s->n_ext ? s->ext[i + 1] : proto;
			if (s->ext[i] == FX_IP_AH) {
				e[1] = 1; /* (1 + 2) * 4 = 12 bytes */
			} else if (s->ext[i] == FX_IP_FRAGMENT) {
				if (s->frag == FX_FRAG_FIRST)
					fx_put16(e + 2, 0x0001); /* offset 0, M */
				else if (s->frag == FX_FRAG_LATER)
					fx_put16(e + 2, 1448); /* offset 181 * 8, M clear */
				e[4] = 0x12;
			} else {
				e[2] = 1; /* PadN filling the 6 option bytes */
				e[3] = 4;
			}
		}
	}
	if (later) {
		memset(b + p->l4, 0xa5, s->payload);
		return p->len;
	}
	if (proto == FX_IP_TCP) {
		__u8 *t = b + p->l4;

		fx_put16(t, s->sport ? s->sport : 40000);
		fx_put16(t + 2, s->dport);
		t[7] = 1; /* sequence number 1 */
		t[12] = 5 << 4;
		t[13] = s->tcp_flags;
		fx_put16(t + 14, 65535);
	} else if (proto == FX_IP_UDP) {
		__u8 *u = b + p->l4;

		fx_put16(u, s->sport ? s->sport : 40000);
		fx_put16(u + 2, s->dport);
		fx_put16(u + 4, 8 + s->payload);
	} else if (proto == FX_IP_ICMP || proto == FX_IP_ICMP6) {
		b[p->l4] = s->icmp_type;
	}
	memset(b + p->l4 + l4len, 0x3c, s->payload);
	return p->len;
}

/* IPv4 total length or IPv6 payload length rewritten so the packet ends at `end`. */
static inline void fx_set_iplen(struct fx_pkt *p, __u32 end)
{
	if ((p->b[p->l3] >> 4) == 6)
		fx_put16(p->b + p->l3 + 4, end - p->l3 - 40);
	else
		fx_put16(p->b + p->l3 + 2, end - p->l3);
}

/* Name of a reason or counter for messages (user/util.c's names). */
static inline const char *fx_name(int idx)
{
	if (idx == -1)
		return "(none)";
	if (idx == -2)
		return "(several)";
	return fg_counter_name(idx);
}

/* Deterministic 64-bit generator (splitmix64) so a seed replays a run. */
static inline __u64 fx_rand(__u64 *s)
{
	__u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline __u64 fx_range(__u64 *s, __u64 lo, __u64 hi)
{
	if (hi - lo == UINT64_MAX)
		return fx_rand(s); /* the whole range: hi - lo + 1 wraps to 0 */
	return lo + fx_rand(s) % (hi - lo + 1);
}

/* Log-uniform in [lo, hi] (lo >= 1): every order of magnitude equally likely. */
static inline __u64 fx_logrange(__u64 *s, __u64 lo, __u64 hi)
{
	double e = (double)(fx_rand(s) >> 11) / 9007199254740992.0;
	double v = lo * __builtin_exp(e * __builtin_log((double)hi / lo));
	__u64 r = (__u64)v;

	return r < lo ? lo : r > hi ? hi : r;
}

/* The seed: FG_SEED from the environment (to replay), else from the time; printed either way. */
static inline __u64 fx_seed(const char *test)
{
	const char *env = getenv("FG_SEED");
	__u64 seed;

	if (env && *env)
		seed = strtoull(env, NULL, 0);
	else
		seed = (__u64)time(NULL) * 1000003ULL ^ (__u64)getpid();
	printf("# %s: seed %llu (replay with FG_SEED=%llu)\n", test, (unsigned long long)seed,
	       (unsigned long long)seed);
	fflush(stdout);
	return seed;
}

#endif /* FG_TEST_FIXTURE_H */
