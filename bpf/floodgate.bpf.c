// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * floodgate.bpf.c: the XDP program. Per packet, in this order (the stages
 * of floodgate() at the end of the file): parse (parse.h), rule (the
 * endpoint's), cache (a drop this CPU decided for the source this tick,
 * or a lease of its tokens this CPU took), lists (the allow/deny/manual-ban
 * trie), source (its bucket, with its cached ban state, and the
 * per-source limits), SYN proxy (for
 * endpoints that have it, synproxy.h), endpoint (the rule's total),
 * action, one count. The rate math is in rate.h. DESIGN.md
 * explains each step; headers/floodgate.h holds every map layout.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "floodgate.h"
#include "parse.h"
#include "synproxy.h"

/* Load-time knobs (skeleton rodata). */
const volatile __u64 fg_hz = 250;      /* clock ticks per second (kernel HZ, or the test clock's) */
const volatile __u8 fg_test_clock = 0; /* 1: read the time from fg_state.test_now (tests only) */
const volatile __u8 fg_test_lose = 0;  /* 1: every compare-and-swap of a limit loses (tests only) */
const volatile __u8 fg_test_moved = 0; /* 1: a bucket moves to newer units mid-packet (tests only) */
/* 1: right after a packet's ban check, another CPU's bans its bucket (tests only) */
const volatile __u8 fg_test_banned = 0;
/* fg_seen: log2 of its stamps (8 per entry) and the period shift; set from the pinned map and HZ */
const volatile __u32 fg_seen_bits = 19; /* FG_DEF_SOURCES / FG_SEEN_SOURCES_PER_SLOT */
const volatile __u8 fg_period_shift = 14;
const volatile __u64 fg_seed = 0; /* fg_newcomers' secret: random at every load (fg_seen_knobs) */
const volatile __u8 fg_sp_shift_ticks = 8; /* fg_sp_peers' period shift (fg_sp_shift(HZ)) */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FG_CONFIG_SLOTS);
	__type(key, __u32);
	__type(value, struct fg_config);
} fg_config SEC(".maps");

/* Rule index per (slot, protocol, destination port); 0 is the default rule. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FG_CONFIG_SLOTS * 2 * FG_PORT_SPACE);
	__type(key, __u32);
	__type(value, __u16);
} fg_ports SEC(".maps");

/* mmap()able so userspace flips the slot and bumps ban_gen with single atomic stores */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct fg_state);
} fg_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fg_pressure);
} fg_pressure SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fg_attack);
} fg_attack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FG_VC_SLOTS);
	__type(key, __u32);
	__type(value, struct fg_verdict);
} fg_verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FG_DEF_LIST);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fg_lpm_key);
	__type(value, struct fg_list_val);
} fg_lists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FG_LF_SLOTS * 2);
	__type(key, __u32);
	__type(value, struct fg_lfilter);
} fg_lfilter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FG_DEF_SOURCES);
	__type(key, struct fg_src_key);
	__type(value, struct fg_src);
} fg_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FG_DEF_SOURCES / FG_SEEN_SOURCES_PER_SLOT / 8);
	__type(key, __u32);
	__type(value, __u64);
} fg_seen SEC(".maps");

/* The SYN proxy's peers (floodgate.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FG_SP_PEER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} fg_sp_peers SEC(".maps");

/* The attack's own sources (floodgate.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FG_NEWCOMER_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} fg_newcomers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FG_DEF_BANS);
	__type(key, struct fg_ban_key);
	__type(value, struct fg_ban);
} fg_bans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FG_MAX_RULES);
	__type(key, __u32);
	__type(value, struct fg_total);
} fg_totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FG_COUNTER_MAX);
	__type(key, __u32);
	__type(value, struct fg_count);
} fg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FG_MAX_RULES);
	__type(key, __u32);
	__type(value, struct fg_rule_count);
} fg_rule_stats SEC(".maps");

/* fg_barrier's inner maps: never read. */
struct fg_barrier_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

/*
 * Never read by the program either: replacing its element makes the
 * kernel wait for an RCU grace period, after which no packet that
 * started before is still in the program. Userspace does it before it
 * writes an idle slot (fg_sync): no packet still reads what it overwrites.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct fg_barrier_inner);
} fg_barrier SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FG_EVENTS_BYTES);
} fg_events SEC(".maps");

#include "rate.h"

/* dst = src & mask, over the 16 address bytes (IPv4 uses the first 4, the rest are zero). */
static __always_inline void fg_mask(__u8 *dst, const __u8 *src, const __be32 *mask)
{
	__u32 *d = (__u32 *)dst;
	const __u32 *s = (const __u32 *)src;

	d[0] = s[0] & mask[0];
	d[1] = s[1] & mask[1];
	d[2] = s[2] & mask[2];
	d[3] = s[3] & mask[3];
}

/* dst = the packet's 16 address bytes in two words (byte copies into the key cost a dozen stores). */
static __always_inline void fg_copy_addr(__u8 *dst, const struct fg_pkt *p)
{
	__u64 *d = (__u64 *)dst;

	d[0] = p->addr64[0];
	d[1] = p->addr64[1];
}

/*
 * Expiry of the longest-lived active automatic ban covering the source,
 * 0 when none: bans are keyed at the bucket's own prefix or at any prefix
 * length a rule of this rule set aggregates to. longer 0 checks the own
 * prefix and shorter ones, which cover every source of the bucket, so the
 * bucket may cache the answer; longer 1 checks the prefixes longer than
 * the bucket's, which hold for this source only (fg_bans_finer).
 */
__noinline __u64 fg_ban_check(const struct fg_config *cfg, const struct fg_pkt *p,
			      const struct fg_plen *prefix, int longer)
{
	struct fg_ban_key bk = {};
	const struct fg_plen *lens;
	__u64 until = 0, now;
	struct fg_ban *b;
	__u32 i, n;

	if (!cfg || !p || !prefix)
		return 0;
	lens = p->family == FG_FAM_IPV4 ? cfg->ban4 : cfg->ban6;
	n = p->family == FG_FAM_IPV4 ? cfg->n_ban4 : cfg->n_ban6;
	now = p->now;
	bk.family = p->family;
	if (!longer) {
		bk.plen = prefix->plen;
		fg_mask(bk.addr, p->addr, prefix->mask);
		b = bpf_map_lookup_elem(&fg_bans, &bk);
		if (b && b->expires > now)
			until = b->expires;
	}
	for (i = 0; i < FG_MAX_BAN_PLENS && i < n; i++) {
		if (lens[i].plen == prefix->plen || (lens[i].plen > prefix->plen) != !!longer)
			continue;
		bk.plen = lens[i].plen;
		fg_mask(bk.addr, p->addr, lens[i].mask);
		b = bpf_map_lookup_elem(&fg_bans, &bk);
		if (b && b->expires > now && b->expires > until)
			until = b->expires;
	}
	return until;
}

/*
 * The ban group of this source: the address masked to cfg's ban group
 * prefix, hashed (see FG_BAN_GEN_SLOTS). A bucket keeps its group
 * (fg_src.ban_group), so that a packet reads the generation without the
 * hash; a new rule set (another group prefix) moves every generation, and
 * the bucket then takes its group again.
 */
static __always_inline __u32 fg_ban_group(const struct fg_config *cfg, const struct fg_pkt *p)
{
	const __be32 *m = p->family == FG_FAM_IPV4 ? cfg->ban_group4.mask : cfg->ban_group6.mask;
	const __u32 *a = (const __u32 *)p->addr;
	__u64 w0 = (__u64)(a[0] & m[0]) << 32 | (a[1] & m[1]);
	__u64 w1 = (__u64)(a[2] & m[2]) << 32 | (a[3] & m[3]);

	return fg_hash(w0 ^ p->family, w1, FG_BAN_GEN_BITS) & (FG_BAN_GEN_SLOTS - 1);
}

/*
 * The ban generation a bucket of group `group` compares with the one it
 * cached: the group's, mixed with the hand-lifted bans' and the rule
 * set's number, so that a ban anywhere in the group, a ban lifted by
 * hand, or a new rule set all move it.
 */
static __always_inline __u32 fg_ban_gen(struct fg_state *st, const struct fg_config *cfg, __u32 group)
{
	return *(volatile __u32 *)&st->ban_gens[group & (FG_BAN_GEN_SLOTS - 1)] +
	       (*(volatile __u32 *)&st->ban_gen + cfg->epoch) * 0x9e3779b1U;
}

/* Whether bans may be keyed longer than the bucket's prefix: they cannot be cached in it. */
static __always_inline int fg_bans_finer(const struct fg_config *cfg, __u8 family, __u8 plen)
{
	const struct fg_plen *lens = family == FG_FAM_IPV4 ? cfg->ban4 : cfg->ban6;
	__u32 n = family == FG_FAM_IPV4 ? cfg->n_ban4 : cfg->n_ban6, i;

	for (i = 0; i < FG_MAX_BAN_PLENS && i < n; i++)
		if (lens[i].plen > plen)
			return 1;
	return 0;
}

/* Whether the list filter lets the source's address have a trie entry (see floodgate.h). */
static __always_inline int fg_lf_maybe(struct fg_state *st, const struct fg_pkt *p)
{
	__u32 idx = (*(volatile __u32 *)&st->lf_slot & 1) * 2 + (p->family == FG_FAM_IPV6), bit;
	struct fg_lfilter *lf = bpf_map_lookup_elem(&fg_lfilter, &idx);

	if (!lf)
		return 1;
	bit = fg_lf_bit(p->addr64[0] & lf->mask[0], p->addr64[1] & lf->mask[1]);
	return (int)(lf->bits[(bit >> 6) & (FG_LF_WORDS - 1)] >> (bit & 63) & 1);
}

/* Rate-limited ring buffer output; a suppressed event is counted, never silent. Returns 1 if sent. */
__noinline int fg_emit(struct fg_state *st, const struct fg_config *cfg, const struct fg_event *ev,
		       __u64 now)
{
	struct fg_gcra_args a = {};
	struct fg_event *e;

	if (!st || !cfg || !ev)
		return 0;
	a.now_u = now * cfg->events_per_sec;
	a.limit = cfg->events_per_sec * fg_hz;
	a.step = fg_hz;
	a.far = 2 * cfg->events_per_sec * fg_hz;
	/* one attempt (no fg_gcra: the call chain would pass the stack's bound); a lost race drops */
	if (fg_gcra_try(&st->events_tat, NULL, &a) != 1) {
		fg_count(FG_C_EVENTS_LOST, 0);
		return 0;
	}
	e = bpf_ringbuf_reserve(&fg_events, sizeof(*e), 0);
	if (!e) {
		fg_count(FG_C_EVENTS_LOST, 0);
		return 0;
	}
	*e = *ev;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

/*
 * A bucket key's five words, as fg_stage_cache computes them: the first
 * (rule, family, prefix length: fg_key_head) and the masked address.
 * Kept in registers for the cache's hash and check, which then read back
 * no store of the key.
 */
struct fg_vc_key {
	__u32 head;    /* the key's first word */
	__u32 addr[4]; /* its address words */
};

/* The verdict cache entry of bucket key k (see struct fg_verdict). */
static __always_inline struct fg_verdict *fg_vc_slot(const struct fg_vc_key *k)
{
	/*
	 * The words folded and one multiplication (the top bits, which
	 * every bit reaches) spread a run of addresses over the slots well
	 * enough, and cost half of fg_hash's two on every cached drop's path
	 */
	__u32 idx = ((k->addr[0] ^ k->addr[1] ^ k->addr[2] ^ k->addr[3] ^ k->head) * 0x9e3779b1U) >>
		    (32 - FG_VC_BITS);

	return bpf_map_lookup_elem(&fg_verdicts, &idx);
}

/* Whether entry v holds bucket key k. */
static __always_inline int fg_vc_holds(const struct fg_verdict *v, const struct fg_vc_key *k)
{
	const __u32 *a = (const __u32 *)&v->key;

	return a[0] == k->head && a[1] == k->addr[0] && a[2] == k->addr[1] && a[3] == k->addr[2] &&
	       a[4] == k->addr[3];
}

/*
 * Whether the drops of entry v count for the rule at its index in cfg:
 * that rule judged them, not one a later rule set put at that index
 * (whose counters started at zero). fg_vc_pending asks the same.
 */
static __always_inline int fg_vc_rules(const struct fg_verdict *v, const struct fg_rule *r)
{
	return r->used && (__s32)(v->epoch - r->born) >= 0;
}

/*
 * A lease's unspent tokens back into its bucket's packet limit: one
 * compare-and-swap, only to the bucket it was taken from (not one made
 * again after the table evicted it), while that keeps the units the lease
 * was taken in (the same rule set, not rebased since), and only if no
 * packet found the bucket full since (fg_src.fulls): a full bucket has
 * refilled past the lease, which then owes nothing, and a refund would
 * hand out tokens above the burst. A lost race or a new rule set keeps
 * them spent: the source loses at most FG_VC_LEASE tokens. Across CPUs
 * it can gain as many in narrow races (a bucket evicted and made again
 * in the tick the lease was taken in, which `born` cannot tell apart; a
 * refund landing between another CPU's look at the bucket and its
 * compare-and-swap; a CPU whose clock read lags a tick), never on one.
 */
static __always_inline void fg_vc_refund(const struct fg_verdict *v, const struct fg_config *cfg,
					 struct fg_src *b)
{
	const struct fg_rule *r = &cfg->rules[v->key.rule & (FG_MAX_RULES - 1)];
	__u64 old = *(volatile __u64 *)&b->tat_pps;

	if (v->epoch != cfg->epoch || (__u32)b->first_seen != v->born ||
	    *(volatile __u32 *)&b->fulls != v->fulls || *(volatile __u32 *)&b->units != r->since)
		return;
	__sync_val_compare_and_swap(&b->tat_pps, old, old - (__u64)v->credit * fg_hz);
}

/*
 * Put the packets an entry decided where every packet is counted: its
 * bucket, the reason's counter and its rule's (fg_vc_rules, in the live
 * rule set cfg); and a lease's unspent tokens back (fg_vc_refund). b: the
 * entry's bucket, or NULL to look it up. Before the entry is reused, on
 * the CPU it belongs to: when another verdict takes it, before its
 * source's next packet meets its limits (fg_vc_reclaim), or in the
 * once-a-second sweep. A global function: called only for an entry that
 * holds packets or a lease.
 */
__noinline int fg_vc_settle(struct fg_verdict *v, const struct fg_config *cfg, struct fg_src *b)
{
	struct fg_rule_count *rc = NULL;
	struct fg_count *c;
	__u32 idx;

	if (!v || !cfg || !(v->packets | v->credit))
		return 0;
	if (!b)
		b = bpf_map_lookup_elem(&fg_sources, &v->key);
	if (b) {
		__sync_fetch_and_add(&b->packets, v->packets);
		__sync_fetch_and_add(&b->bytes, v->bytes);
		if (v->reason != FG_R_PASS)
			__sync_fetch_and_add(&b->drops, v->packets);
		if (v->credit)
			fg_vc_refund(v, cfg, b);
	}
	v->credit = 0;
	if (!v->packets)
		return 0;
	idx = v->reason;
	c = bpf_map_lookup_elem(&fg_counters, &idx);
	if (c) {
		c->packets += v->packets;
		c->bytes += v->bytes;
	}
	idx = v->key.rule & (FG_MAX_RULES - 1);
	if (fg_vc_rules(v, &cfg->rules[idx]))
		rc = bpf_map_lookup_elem(&fg_rule_stats, &idx);
	if (rc) {
		if (v->reason == FG_R_PASS)
			rc->passed += v->packets;
		else
			rc->dropped += v->packets;
		rc->bytes += v->bytes;
	}
	v->packets = 0;
	v->bytes = 0;
	return 0;
}

/* What fg_vc_sweep's steps need. */
struct fg_vc_sweep_ctx {
	__u64 now;  /* this tick */
	__u32 slot; /* the live rule set's fg_config slot */
	__u32 pad;  /* zero */
};

/* fg_vc_sweep's step: settle entry i if it holds packets or a lease of a tick before now. */
static long fg_vc_sweep_one(__u64 i, void *ctx)
{
	const struct fg_vc_sweep_ctx *sw = ctx;
	__u32 k = (__u32)i, slot = sw->slot;
	struct fg_verdict *v = bpf_map_lookup_elem(&fg_verdicts, &k);
	const struct fg_config *cfg = bpf_map_lookup_elem(&fg_config, &slot);

	if (v && cfg && (v->packets | v->credit) && v->tick != sw->now)
		fg_vc_settle(v, cfg, NULL);
	return 0;
}

/*
 * Settle this CPU's entries of ticks before `now` (the packets of a source
 * that stopped, which no later lookup would settle): once a second per
 * CPU, with fg_attack_roll.
 */
static __always_inline void fg_vc_sweep(__u64 now, __u32 slot)
{
	struct fg_vc_sweep_ctx sw = { .now = now, .slot = slot };

	bpf_loop(FG_VC_SLOTS, fg_vc_sweep_one, &sw, 0);
}

/*
 * Close the machine's one-second window of new sources (fg_attack), once
 * per window: the CPU that moves fg_attack.window on takes the count and
 * decides whether the mode ends (FG_CALM_WINDOWS windows under half the
 * limit, or a limit set to 0). Every CPU calls it when its own copy of the
 * window (fg_pressure.window) is a second old, so the shared line is read
 * once per second per CPU, not per packet. This CPU's pending count goes
 * in first, into the window it belongs to.
 */
__noinline int fg_attack_roll(struct fg_state *st, const struct fg_config *cfg,
			      struct fg_attack *at, struct fg_pressure *pr, __u64 now)
{
	__u64 w, n, windows;

	if (!st || !cfg || !at || !pr)
		return 0;
	if (pr->pending) {
		__sync_fetch_and_add(&at->inserts, pr->pending);
		pr->pending = 0;
	}
	w = *(volatile __u64 *)&at->window;
	/* signed: a tick read just before another CPU moved the window on is behind it */
	if ((__s64)(now - w) >= (__s64)fg_hz &&
	    __sync_val_compare_and_swap(&at->window, w, now) == w) {
		windows = (now - w) / fg_hz;
		n = __sync_lock_test_and_set(&at->inserts, 0);
		at->last = windows == 1 ? n : 0; /* several windows passed: the last had none */
		if (at->on) {
			if (n * 2 <= cfg->attack_limit * windows)
				at->calm += windows > FG_CALM_WINDOWS ? FG_CALM_WINDOWS : windows;
			else
				at->calm = 0;
			if (at->calm >= FG_CALM_WINDOWS || !cfg->attack_limit) {
				struct fg_event ev = { .tick = now,
						       .type = FG_EV_ATTACK_OFF,
						       .cpu = bpf_get_smp_processor_id() };

				at->on = 0;
				fg_emit(st, cfg, &ev, now);
			}
		}
	}
	pr->window = *(volatile __u64 *)&at->window;
	return 0;
}

/* Add this CPU's pending new sources to the window's count; enter the mode past the limit. */
__noinline int fg_attack_add(struct fg_state *st, const struct fg_config *cfg, struct fg_attack *at,
			     struct fg_pressure *pr, __u64 now)
{
	__u64 n, total;

	if (!st || !cfg || !at || !pr)
		return 0;
	n = pr->pending;
	pr->pending = 0;
	total = __sync_fetch_and_add(&at->inserts, n) + n;
	if (total > cfg->attack_limit && !at->on && __sync_val_compare_and_swap(&at->on, 0, 1) == 0) {
		struct fg_event ev = { .tick = now,
				       .type = FG_EV_ATTACK_ON,
				       .cpu = bpf_get_smp_processor_id() };

		at->since = now;
		at->from = *(volatile __u64 *)&at->window;
		at->calm = 0;
		fg_count(FG_C_ATTACK_ENTER, 0);
		fg_emit(st, cfg, &ev, now);
	}
	return 0;
}

/* Count a new source (added to the machine's count in batches); returns 1 while under attack. */
static __always_inline int fg_attack_new(struct fg_state *st, const struct fg_config *cfg,
					 struct fg_attack *at, struct fg_pressure *pr, __u64 now)
{
	if (!cfg->attack_limit)
		return 0;
	if (++pr->pending >= cfg->attack_batch)
		fg_attack_add(st, cfg, at, pr, now);
	return *(volatile __u32 *)&at->on;
}

/*
 * The fg_seen word and byte of a bucket key, by its hash (fg_key_hash).
 * NULL only if the map were smaller than fg_seen_bits says.
 */
static __always_inline __u64 *fg_stamp_word(__u64 h, __u32 *byte)
{
	__u32 slot = (__u32)(h >> (64 - fg_seen_bits)), idx = slot >> 3;

	*byte = slot & 7;
	return bpf_map_lookup_elem(&fg_seen, &idx);
}

/* The stamp period of a tick: tick >> fg_period_shift, modulo 256. */
static __always_inline __u8 fg_period(__u64 now)
{
	return (__u8)(now >> fg_period_shift);
}

/*
 * Whether stamp `byte` of word w holds `period` or one of the `keep`
 * before it (no word: assume it does). Period + 1 counts too: stamped by a
 * CPU whose clock is a tick ahead (fg_stamp_put keeps it).
 */
static __always_inline int fg_stamp_within(const __u64 *w, __u32 byte, __u8 period, __u32 keep)
{
	__u8 age;

	if (!w)
		return 1;
	age = period - *((const __u8 *)w + byte);
	return age <= keep || age == 0xff;
}

/* Whether the key's fg_seen stamp holds this period or the one before. */
static __always_inline int fg_stamp_recent(__u64 h, __u8 period)
{
	__u32 byte;
	__u64 *w = fg_stamp_word(h, &byte);

	return fg_stamp_within(w, byte, period, 1);
}

/*
 * Write `period` into stamp `byte` of word w, unless it holds it (or the
 * next) already. A compare-and-swap of the word, so that a CPU whose
 * clock read is a period behind cannot put back an older stamp over a
 * newer one (fg_seen: the bucket would not stamp again before the next
 * period, and under attack it would look new).
 */
static __always_inline void fg_stamp_put(__u64 *w, __u32 byte, __u8 period)
{
	__u64 old, shift;
	__u8 s;
	int i;

	if (!w)
		return;
	/* the byte's bits in the word: a constant test, folded by the compiler */
	shift = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? byte * 8 : 56 - byte * 8;
	for (i = 0; i < FG_CAS_TRIES; i++) {
		old = *(volatile __u64 *)w;
		s = (__u8)(old >> shift);
		if (s == period || s == (__u8)(period + 1))
			return;
		if (__sync_val_compare_and_swap(
			    w, old, (old & ~(0xffULL << shift)) | (__u64)period << shift) == old)
			return;
	}
}

/* Stamp the key in fg_seen: once per period per bucket (its first packet in it) and when made. */
static __always_inline void fg_stamp(__u64 h, __u8 period)
{
	__u32 byte;
	__u64 *w = fg_stamp_word(h, &byte);

	fg_stamp_put(w, byte, period);
}

/* The fg_sp_peers word and byte of source address hash h (fg_sp_peer_hash). */
static __always_inline __u64 *fg_sp_peer_word(__u64 h, __u32 *byte)
{
	__u32 slot = (__u32)(h >> (64 - FG_SP_PEER_BITS)), idx = slot >> 3;

	*byte = slot & 7;
	return bpf_map_lookup_elem(&fg_sp_peers, &idx);
}

/*
 * Whether fg_sp_peers stamp `byte` of w holds `period` or one of the
 * `keep` before it. 0 is no stamp (a source never seen, which the period
 * counter's wrap must not make recent): fg_sp_peer_stamp writes period 0
 * as 1, which only keeps that stamp a period longer.
 */
static __always_inline int fg_sp_peer_recent(const __u64 *w, __u32 byte, __u8 period, __u32 keep)
{
	if (w && !*((const __u8 *)w + byte))
		return 0;
	return fg_stamp_within(w, byte, period, keep);
}

/* Stamp a peer: once per period while its segments pass. */
static __always_inline void fg_sp_peer_stamp(__u64 *w, __u32 byte, __u8 period)
{
	fg_stamp_put(w, byte, period ? period : 1);
}

/* Whether key hash h is noted in fg_newcomers as the own of the attack whose window began at from. */
static __always_inline int fg_newcomer(__u64 h, __u64 from)
{
	__u32 slot = fg_newcomer_slot(h);
	__u64 *w = bpf_map_lookup_elem(&fg_newcomers, &slot);

	return w && *(volatile __u64 *)w == fg_newcomer_word(h, fg_seed, from);
}

/* Note key hash h as the attack's own: its bucket was made since the attack's window began. */
static __always_inline void fg_newcomer_note(__u64 h, __u64 from)
{
	__u32 slot = fg_newcomer_slot(h);
	__u64 *w = bpf_map_lookup_elem(&fg_newcomers, &slot);

	if (w)
		*(volatile __u64 *)w = fg_newcomer_word(h, fg_seed, from);
}

/*
 * Create the bucket `key` (prefix: its prefix length and mask) with the source's ban state,
 * unless another CPU just did. The caller looks the bucket up again: a
 * global function cannot hand out a map value.
 */
__noinline int fg_bucket_new(struct fg_state *st, const struct fg_config *cfg, const struct fg_pkt *p,
			     const struct fg_plen *prefix, const struct fg_src_key *key)
{
	struct fg_src fresh = {};

	if (!st || !cfg || !p || !prefix || !key)
		return 0;
	/* last_seen 0: a new bucket is idle, hence full, whatever now * rate wraps to */
	fresh.first_seen = p->now;
	fresh.ban_group = fg_ban_group(cfg, p);
	fresh.ban_gen = fg_ban_gen(st, cfg, fresh.ban_group);
	fresh.units = cfg->rules[key->rule & (FG_MAX_RULES - 1)].since;
	fresh.ban_until = fg_ban_check(cfg, p, prefix, 0);
	/* EEXIST means another CPU created it first: theirs is used */
	if (!bpf_map_update_elem(&fg_sources, key, &fresh, BPF_NOEXIST)) {
		fg_count(FG_C_SOURCE_NEW, 0);
		/* its packets stamp it from the next period on */
		fg_stamp(fg_key_hash(key), fg_period(p->now));
	}
	return 0;
}

/* What the stages of one packet share (floodgate() below). */
struct fg_judge {
	struct fg_pkt p;	     /* the parsed packet, with its tick */
	struct fg_state *st;	     /* fg_state[0] */
	const struct fg_config *cfg; /* the live rule set */
	const struct fg_rule *rule;  /* the packet's rule in it */
	struct fg_src *b;	     /* the source's bucket; NULL when the table refused it */
	struct fg_plen prefix;	     /* the bucket's prefix: the rule's, or coarse under attack */
	struct fg_src_key key;	     /* the source's own bucket key (the rule's prefix) */
	struct fg_src_key ckey;	     /* its coarse prefix's, when charged to it under attack */
	struct fg_pressure *pr;	     /* this CPU's fg_pressure[0] */
	struct fg_verdict *vc;	     /* its verdict cache entry, when free for it (else NULL) */
	__u32 lists;		     /* fg_state.list_gen, read once */
	__u32 ban_group;	     /* the bucket's ban group, as its ban check used it */
	__u32 ban_gen;		     /* that group's generation the check read: a lease's */
	__u32 slot;		     /* the rule set's slot, read once */
	__u32 ridx;		     /* the rule's index */
	int stale;		     /* judged under a rule set the bucket is not in (fg_rebase) */
	int leasable;		     /* its verdict may be a lease (fg_vc_leasable) */
};

/* fg_stage_cache's and fg_bucket's answer when the cache does not decide the packet */
#define FG_VC_MISS (-1)
/* fg_bucket's (and fg_stage_source's) when a coarse prefix's entry dropped it, counted there */
#define FG_VC_DROPPED (-2)

/*
 * Under attack, this CPU's verdict cache entry for the coarse prefix the
 * packet is charged to (j->ckey): a drop decided for the prefix this tick
 * (fg_vc_put) drops the packet here, counted in the entry, without the
 * prefix's bucket (a spoofed flood's packets mostly end here).
 * FG_VC_DROPPED, or FG_VC_MISS with j->vc the entry when it is free for
 * the prefix's verdict (else NULL).
 */
static __always_inline int fg_vc_coarse(struct fg_judge *j)
{
	const __u32 *w = (const __u32 *)j->ckey.addr;
	struct fg_vc_key k = { .head = *(const __u32 *)&j->ckey, .addr = { w[0], w[1], w[2], w[3] } };
	struct fg_verdict *v = fg_vc_slot(&k);

	j->vc = v;
	if (!v || v->tick != j->p.now || v->epoch != j->cfg->epoch || v->lists != j->lists)
		return FG_VC_MISS;
	/* of this tick: another key's verdict, or a lease (never a coarse prefix's) */
	if (!fg_vc_holds(v, &k) || v->reason == FG_R_PASS) {
		j->vc = NULL;
		return FG_VC_MISS;
	}
	v->packets++;
	v->bytes += j->p.len;
	return FG_VC_DROPPED;
}

/*
 * The bucket for this packet in j->b, created if missing (NULL: the table
 * refused it): the source's own (j->key, j->prefix: fg_stage_cache made
 * both) or, under attack, its coarse prefix's (j->ckey, and j->prefix
 * becomes the coarse one). FG_VC_MISS, or FG_VC_DROPPED when this CPU
 * decided a drop for the coarse prefix this tick (fg_vc_coarse): j->b is
 * not looked up then.
 */
static __always_inline int fg_bucket(struct fg_judge *j)
{
	const struct fg_pkt *p = &j->p;
	const struct fg_config *cfg = j->cfg;
	const struct fg_src_key *exact = &j->key, *key = exact;
	struct fg_pressure *pr = j->pr;
	__u8 period = fg_period(p->now);
	const struct fg_plen *coarse;
	struct fg_attack *at;
	__u64 h = 0, from = 0;
	struct fg_src *b;
	__u32 zero = 0;
	int on;

	j->b = NULL;
	at = bpf_map_lookup_elem(&fg_attack, &zero);
	if (!pr || !at)
		return FG_VC_MISS;
	if ((__s64)(p->now - pr->window) >= (__s64)fg_hz) { /* signed: see fg_attack_roll */
		fg_attack_roll(j->st, cfg, at, pr, p->now);
		fg_vc_sweep(p->now, j->slot);
	}
	coarse = p->family == FG_FAM_IPV4 ? &cfg->coarse4 : &cfg->coarse6;
	/*
	 * Under attack (and for a rule's prefix longer than the coarse one: else
	 * the key is its own coarse prefix), a key not stamped lately has no
	 * bucket worth a cache miss: it goes to its coarse prefix
	 */
	on = *(volatile __u32 *)&at->on && coarse->plen < exact->plen;
	if (on) {
		h = fg_key_hash(exact);
		from = *(volatile __u64 *)&at->from;
	}
	if (!on || fg_stamp_recent(h, period)) {
		/* noted as the attack's own by an earlier packet: not looked up again */
		if (on && fg_newcomer(h, from))
			goto charge_coarse;
		b = bpf_map_lookup_elem(&fg_sources, exact);
		/* under attack, a source first met during it has its coarse prefix, not this bucket */
		if (b && (!on || b->first_seen < from)) {
			if ((b->last_seen ^ p->now) >> fg_period_shift)
				fg_stamp(fg_key_hash(exact), period);
			j->b = b;
			return FG_VC_MISS;
		}
		if (b) {
			fg_newcomer_note(h, from);
			goto charge_coarse;
		}
	}
	/* a new source: under attack, charged to its coarse prefix's bucket */
	if (fg_attack_new(j->st, cfg, at, pr, p->now) && coarse->plen < exact->plen) {
	charge_coarse:
		j->prefix = *coarse;
		*(__u32 *)&j->ckey = fg_key_head(exact->rule, p->family, coarse->plen);
		fg_mask(j->ckey.addr, p->addr, coarse->mask);
		key = &j->ckey;
		fg_count(FG_C_ATTACK_NEW, 0);
		if (fg_vc_coarse(j) == FG_VC_DROPPED)
			return FG_VC_DROPPED;
		b = bpf_map_lookup_elem(&fg_sources, key);
		if (b) {
			j->b = b;
			return FG_VC_MISS;
		}
	}
	fg_bucket_new(j->st, cfg, p, &j->prefix, key);
	j->b = bpf_map_lookup_elem(&fg_sources, key);
	if (!j->b)
		fg_count(FG_C_SOURCE_INSERT_FAIL, 0);
	return FG_VC_MISS;
}

/*
 * Record a ban of the bucket's prefix, escalating for repeat offenders.
 * Returns its expiry, with FG_BAN_UNRECORDED when the table was full.
 */
__noinline __u64 fg_ban(struct fg_state *st, const struct fg_config *cfg, __u32 ridx,
			const struct fg_pkt *p, const struct fg_plen *prefix)
{
	struct fg_ban_key bk = {};
	struct fg_ban nb = { .strikes = 1 };
	struct fg_event ev = { .type = FG_EV_BAN };
	const struct fg_rule *rule;
	struct fg_ban *old;
	__u64 dur, now;
	__u32 group;
	int i;

	if (!st || !cfg || !p || !prefix)
		return 0;
	ridx &= FG_MAX_RULES - 1;
	rule = &cfg->rules[ridx];
	now = p->now;
	dur = rule->ban_ticks;
	bk.family = p->family;
	bk.plen = prefix->plen;
	nb.created = now;
	nb.rule = ridx;
	ev.tick = now;
	ev.rule = ridx;
	ev.family = p->family;
	ev.plen = prefix->plen;
	ev.cpu = bpf_get_smp_processor_id();

	fg_mask(bk.addr, p->addr, prefix->mask);
	old = bpf_map_lookup_elem(&fg_bans, &bk);
	if (old) {
		if (old->expires > now)
			return old->expires; /* another CPU banned it already */
		nb.strikes = old->strikes + 1;
	}
	for (i = 1; i < 32; i++) {
		if (i >= nb.strikes || dur >= rule->ban_max_ticks)
			break;
		if (dur > rule->ban_max_ticks / rule->ban_mult) {
			dur = rule->ban_max_ticks; /* dur * mult would pass the maximum, or 2^64 */
			break;
		}
		dur *= rule->ban_mult;
	}
	if (rule->ban_max_ticks && dur > rule->ban_max_ticks)
		dur = rule->ban_max_ticks;
	nb.expires = now + dur;
	group = fg_ban_group(cfg, p);
	if (bpf_map_update_elem(&fg_bans, &bk, &nb, BPF_ANY)) {
		fg_count(FG_C_BAN_INSERT_FAIL, 0);
		/* enforced by the bucket alone; the group moves all the same, ending its leases */
		__sync_fetch_and_add(&st->ban_gens[group], 1);
		return nb.expires | FG_BAN_UNRECORDED;
	}
	fg_count(FG_C_BANS, 0);
	__sync_fetch_and_add(&st->ban_gens[group], 1); /* its group's buckets check again */
	ev.duration = dur;
	ev.strikes = nb.strikes;
	__builtin_memcpy(ev.addr, bk.addr, sizeof(ev.addr));
	fg_emit(st, cfg, &ev, now);
	return nb.expires;
}

/*
 * Per-source limits in order pps, bps, SYN. Returns FG_R_PASS or the limit
 * exceeded; limits after a failed one are not consulted (fg_tat_in_range).
 */
static __always_inline int fg_limits(struct fg_src *b, const struct fg_rule *r,
				     const struct fg_pkt *p, __u64 now, __u64 last, int leasable)
{
	int reason = FG_R_PASS, idle;

	idle = fg_idle(now, last, r->pps.rate);
	/* a full bucket forgets the debt of any lease taken before (fg_vc_refund) */
	if (leasable && fg_full(*(volatile __u64 *)&b->tat_pps, now * r->pps.rate,
				idle ? 0 : (r->pps.burst + r->pps.rate) * fg_hz))
		b->fulls++;
	if (r->pps.rate &&
	    !fg_conform(&b->tat_pps, &b->units, r->since, now, r->pps.rate, r->pps.burst, 1, idle)) {
		/* 0: over; -1 passes */
		fg_tat_in_range(&b->tat_pps, now, r->pps.rate, last);
		reason = FG_R_RATE_PPS;
	}
	if (r->bps.rate) {
		if (reason != FG_R_PASS) {
			fg_tat_in_range(&b->tat_bps, now, r->bps.rate, last);
		} else if (!fg_conform(&b->tat_bps, &b->units, r->since, now, r->bps.rate,
				       r->bps.burst * 8, (__u64)p->len * 8,
				       fg_idle(now, last, r->bps.rate))) {
			fg_tat_in_range(&b->tat_bps, now, r->bps.rate, last);
			reason = FG_R_RATE_BPS;
		}
	}
	if (r->syn.rate) {
		if (reason != FG_R_PASS || !p->syn) {
			fg_tat_in_range(&b->tat_syn, now, r->syn.rate, last);
		} else if (!fg_conform(&b->tat_syn, &b->units, r->since, now, r->syn.rate,
				       r->syn.burst, 1, fg_idle(now, last, r->syn.rate))) {
			fg_tat_in_range(&b->tat_syn, now, r->syn.rate, last);
			reason = FG_R_RATE_SYN;
		}
	}
	return reason;
}

/* Stage 1, rule: the endpoint rule of the packet's protocol and port, or the default. */
static __always_inline void fg_stage_rule(struct fg_judge *j)
{
	__u32 ridx = FG_RULE_DEFAULT;

	if (j->p.has_ports && j->cfg->n_endpoints) {
		__u32 pk = (j->slot * 2 + (j->p.proto == IPPROTO_UDP)) * FG_PORT_SPACE + j->p.dport;
		__u16 *ri = bpf_map_lookup_elem(&fg_ports, &pk);

		if (ri)
			ridx = *ri & (FG_MAX_RULES - 1);
	}
	/* the verifier must see the bound where the pointer is made, not just earlier */
	asm volatile("" : "+r"(ridx));
	ridx &= FG_MAX_RULES - 1;
	j->ridx = ridx;
	j->rule = &j->cfg->rules[ridx];
}

/*
 * fg_stage_cache's miss: what the later stages read of the judge, set
 * only now, so that a cached verdict's path writes none of it (not even
 * the bucket key it probed with, k, nor the lists' generation). free: the
 * packet's entry when it may take it, else NULL.
 */
static __always_inline int fg_vc_miss(struct fg_judge *j, struct fg_verdict *free,
				      const struct fg_vc_key *k, __u32 lists, __u8 plen,
				      const __be32 *mask)
{
	__u32 *w = (__u32 *)j->key.addr;
	__u32 zero = 0;

	/* the bucket key in word stores: lookups hash words, and smaller stores would stall them */
	*(__u32 *)&j->key = k->head;
	w[0] = k->addr[0];
	w[1] = k->addr[1];
	w[2] = k->addr[2];
	w[3] = k->addr[3];
	j->lists = lists;
	j->vc = free;
	j->prefix.plen = plen;
	__builtin_memcpy(j->prefix.mask, mask, sizeof(j->prefix.mask));
	j->pr = bpf_map_lookup_elem(&fg_pressure, &zero);
	return FG_VC_MISS;
}

/*
 * Stage 2, cache: the source's own bucket key, and this CPU's verdict
 * cache entry for it. A drop decided this tick for the same rule set and
 * lists (fg_vc_put) drops the packet here, and a lease of this tick
 * (fg_vc_lease) with credit left passes it (not a SYN its rule limits,
 * nor after a ban in the source's group), counted in the entry only,
 * before the lists and without the bucket: the reason is returned.
 * Otherwise FG_VC_MISS, and j->vc is the entry when it is free (of
 * another tick, rule set or lists, or the source's own spent lease) for
 * this source's verdict.
 */
static __always_inline int fg_stage_cache(struct fg_judge *j)
{
	const struct fg_pkt *p = &j->p;
	const struct fg_rule *rule = j->rule;
	const __u32 *a = (const __u32 *)p->addr;
	struct fg_verdict *v;
	const __be32 *mask;
	struct fg_vc_key k;
	__u32 lists;
	__u8 plen;

	/* an IPv4 address and its mask are one word: the other three are zero */
	if (p->family == FG_FAM_IPV4) {
		plen = rule->plen4;
		mask = rule->mask4;
		k.addr[0] = a[0] & mask[0];
		k.addr[1] = 0;
		k.addr[2] = 0;
		k.addr[3] = 0;
	} else {
		plen = rule->plen6;
		mask = rule->mask6;
		k.addr[0] = a[0] & mask[0];
		k.addr[1] = a[1] & mask[1];
		k.addr[2] = a[2] & mask[2];
		k.addr[3] = a[3] & mask[3];
	}
	k.head = fg_key_head(j->ridx, p->family, plen);
	lists = *(volatile __u32 *)&j->st->list_gen;
	v = fg_vc_slot(&k);
	if (v && v->tick == p->now && v->epoch == j->cfg->epoch && v->lists == lists) {
		if (!fg_vc_holds(v, &k)) /* another source's, for this tick */
			return fg_vc_miss(j, NULL, &k, lists, plen, mask);
		if (v->reason == FG_R_PASS) {
			/* the whole way, and a new lease may take this entry */
			if (!v->credit || (p->syn && rule->syn.rate) ||
			    v->ban_gen != fg_ban_gen(j->st, j->cfg, v->ban_group))
				return fg_vc_miss(j, v, &k, lists, plen, mask);
			v->credit--;
		}
		v->packets++;
		v->bytes += p->len;
		return v->reason;
	}
	return fg_vc_miss(j, v, &k, lists, plen, mask);
}

/* Stage 3, lists: allow, deny and manual bans, one trie lookup when it may match. */
static __always_inline int fg_stage_lists(struct fg_judge *j)
{
	const struct fg_pkt *p = &j->p;
	struct fg_lpm_key lk = { .prefixlen = FG_LPM_HDR_BITS + (p->family == FG_FAM_IPV4 ? 32 : 128),
				 .family = p->family };
	struct fg_list_val *lv;

	if (!(p->family == FG_FAM_IPV4 ? j->st->lists4 : j->st->lists6) || !fg_lf_maybe(j->st, p))
		return FG_R_PASS;
	fg_copy_addr(lk.addr, p);
	lv = bpf_map_lookup_elem(&fg_lists, &lk);
	if (!lv)
		return FG_R_PASS;
	if (lv->verdict == FG_LIST_ALLOW)
		return FG_R_ALLOW;
	if (lv->verdict == FG_LIST_DENY)
		return FG_R_DENY;
	if (lv->verdict == FG_LIST_BAN && (!lv->expires || lv->expires > p->now))
		return FG_R_BANNED;
	return FG_R_PASS;
}

/*
 * Whether a verdict cache entry of the source's own bucket (j->key) may
 * decide for every address in it: fg_stage_cache finds it before the
 * lists, which judge addresses, so no list entry of the family may be
 * longer than the bucket (each then covers the bucket whole or none of
 * it). A list change moves fg_state.list_gen after list_plen4/6, and
 * voids the entries made before it.
 */
static __always_inline int fg_vc_lists_alike(const struct fg_judge *j)
{
	const struct fg_state *st = j->st;

	return j->key.plen >= (j->p.family == FG_FAM_IPV4 ? st->list_plen4 : st->list_plen6);
}

/*
 * Whether the source's packets may pass on a lease (struct fg_verdict):
 * its own bucket, no list entry longer than it (fg_vc_lists_alike) and a
 * rule whose packet limit is the only one a lease spends for every packet
 * (the caller adds: no ban finer than the bucket, which every packet must
 * check).
 */
static __always_inline int fg_vc_leasable(const struct fg_judge *j)
{
	const struct fg_rule *r = j->rule;

	return j->prefix.plen == j->key.plen && r->pps.rate && r->pps.burst >= FG_VC_LEASE_BURST &&
	       !r->bps.rate && !r->total.rate && !r->syn_proxy && fg_vc_lists_alike(j);
}

/* Whether entry v is of the bucket key k, whatever its tick. */
static __always_inline int fg_vc_mine(const struct fg_verdict *v, const struct fg_src_key *k)
{
	const __u32 *a = (const __u32 *)&v->key, *b = (const __u32 *)k;

	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4];
}

/*
 * Before a leasable source's packet meets its limits: this CPU's entry
 * for it (j->vc, the cache looked at from here on), and what the entry
 * still holds of the source settled into its bucket, a lease's unspent
 * tokens first, so that the packet is judged as if the lease had taken
 * only what it passed.
 */
static __always_inline void fg_vc_reclaim(struct fg_judge *j)
{
	struct fg_verdict *v = j->vc;

	if (v && (v->packets | v->credit) && fg_vc_mine(v, &j->key))
		fg_vc_settle(v, j->cfg, j->b);
}

/*
 * Stage 4, source: the source's bucket (made if new), its bans and its
 * per-source limits. FG_R_PASS, FG_R_BANNED or the limit exceeded; or
 * FG_VC_DROPPED, dropped by its coarse prefix's cache entry (fg_bucket). A
 * packet whose bucket the table refused (counted), or that read a rule
 * set another CPU has moved its bucket past, passes here: the endpoint
 * limit alone applies to it.
 */
static __always_inline int fg_stage_source(struct fg_judge *j)
{
	const struct fg_rule *rule = j->rule;
	__u64 now = j->p.now, last;
	struct fg_src *b;
	__u32 gen, group;
	int stale, finer;

	if (!j->pr)
		return FG_R_PASS;
	if (fg_bucket(j) == FG_VC_DROPPED)
		return FG_VC_DROPPED;
	b = j->b;
	if (!b)
		return FG_R_PASS;
	last = b->last_seen;
	/*
	 * stale: a packet of the rule set before a change, whose limits are not
	 * this bucket's (another CPU moved it), or that started before a flip
	 * and must not write tats in units the bucket may be leaving
	 */
	stale = (b->units != rule->since && fg_rebase(b, rule, now, last)) ||
		(*(volatile __u32 *)&j->st->slot & 1) != j->slot;
	j->stale = stale;
	b->last_seen = now;
	b->packets++;
	b->bytes += j->p.len;

	group = b->ban_group;
	gen = fg_ban_gen(j->st, j->cfg, group);
	if (b->ban_gen != gen) {
		__u64 until;

		/* the group again first: the rule set may have another group prefix */
		group = fg_ban_group(j->cfg, &j->p);
		gen = fg_ban_gen(j->st, j->cfg, group);
		/* the generation before the table: a ban added meanwhile moves it again */
		until = fg_ban_check(j->cfg, &j->p, &j->prefix, 0);
		b->ban_group = group;
		b->ban_gen = gen;
		/* a ban the table could not hold stays, until it ends or the table has a longer one */
		if (!(b->ban_until & FG_BAN_UNRECORDED) ||
		    (b->ban_until & ~FG_BAN_UNRECORDED) <= (until > now ? until : now))
			b->ban_until = until;
	}
	/* what a lease keeps: a ban checked by another CPU since moves the group past it */
	j->ban_group = group;
	j->ban_gen = gen;
	finer = fg_bans_finer(j->cfg, j->p.family, j->prefix.plen);
	if ((b->ban_until & ~FG_BAN_UNRECORDED) > now ||
	    (finer && fg_ban_check(j->cfg, &j->p, &j->prefix, 1) > now)) {
		/* however long the ban, the limits must come back full, not wrapped */
		if (!stale) {
			fg_tat_in_range(&b->tat_pps, now, rule->pps.rate, last);
			fg_tat_in_range(&b->tat_bps, now, rule->bps.rate, last);
			fg_tat_in_range(&b->tat_syn, now, rule->syn.rate, last);
		}
		return FG_R_BANNED;
	}
	if (fg_test_banned) { /* a ban and its recheck, on another CPU */
		__sync_fetch_and_add(&j->st->ban_gens[group & (FG_BAN_GEN_SLOTS - 1)], 1);
		b->ban_until = now + fg_hz;
		b->ban_gen = fg_ban_gen(j->st, j->cfg, group);
	}
	if (stale)
		return FG_R_PASS; /* for one packet per CPU at a flip */
	j->leasable = !finer && fg_vc_leasable(j);
	if (j->leasable)
		fg_vc_reclaim(j);
	return fg_limits(b, rule, &j->p, now, last, j->leasable);
}

/*
 * Stage 5, SYN proxy (synproxy.h), for the TCP endpoints that have it:
 * after the lists, bans and per-source limits, and before the endpoint
 * total, since a SYN it answers never reaches the host and a spoofed flood
 * of them must not use up the total real clients need. FG_R_PASS (no
 * proxy here, or a connection conntrack knows, or one this CPU's
 * fg_sp_flows had from it within the second), FG_R_SP_COOKIE,
 * FG_R_SP_SYNACK (the frame is now the answer), FG_R_SP_EXPIRED or
 * FG_R_SP_REFUSED. A monitor rule's frames are left as they are, and what
 * XDP would have done to them is counted beside. What passes stamps its
 * source in fg_sp_peers; a SYN from a source stamped too long ago (or
 * never) skips the conntrack lookup, once the rule is armed (floodgate.h).
 */
static __always_inline int fg_stage_synproxy(struct xdp_md *ctx, struct fg_judge *j)
{
	const struct fg_rule *rule = j->rule;
	int flags = rule->action == FG_ACT_MONITOR ? FG_SP_MONITOR : 0, sp;
	__u64 *w = NULL;
	__u32 byte = 0;
	__u8 period;

	if (!rule->syn_proxy || j->p.proto != IPPROTO_TCP || !j->p.has_ports)
		return FG_R_PASS;
	period = (__u8)(j->p.now >> fg_sp_shift_ticks);
	/* the source's stamp, read only for a SYN the armed rule may answer unlooked */
	if (j->p.syn && !flags && j->cfg->sp_keep && (__s64)(j->p.now - rule->sp_armed) >= 0) {
		w = fg_sp_peer_word(fg_sp_peer_hash(j->p.addr), &byte);
		if (!fg_sp_peer_recent(w, byte, period, j->cfg->sp_keep))
			flags = FG_SP_UNSEEN;
	}
	sp = fg_synproxy(ctx, &j->p, flags, fg_hz, fg_seed);
	if (sp == FG_SP_FLOW_PASS) {
		fg_count(FG_C_SP_FLOW_HIT, 0);
		sp = FG_R_PASS;
	}
	/* and written only on a pass: a refused segment (a forged ACK flood's) costs no stamp */
	if (sp == FG_R_PASS || sp == FG_R_SP_COOKIE) {
		if (!w)
			w = fg_sp_peer_word(fg_sp_peer_hash(j->p.addr), &byte);
		fg_sp_peer_stamp(w, byte, period);
	} else if (sp == FG_R_SP_SYNACK && flags == FG_SP_UNSEEN)
		fg_count(FG_C_SP_UNSEEN, 0);
	if ((flags & FG_SP_MONITOR) &&
	    (sp == FG_R_SP_SYNACK || sp == FG_R_SP_REFUSED || sp == FG_R_SP_EXPIRED))
		fg_count(sp == FG_R_SP_SYNACK ? FG_C_SP_WOULD_SYNACK : FG_C_SP_WOULD_REFUSE, 0);
	return sp;
}

/*
 * Stage 6, endpoint: all sources of the rule together. Returns reason (one
 * that passes: FG_R_PASS or FG_R_SP_COOKIE) within the total, FG_R_ENDPOINT
 * over it.
 */
static __always_inline int fg_stage_endpoint(struct fg_judge *j, int reason)
{
	const struct fg_rule *rule = j->rule;
	struct fg_total *tot;
	__u64 now = j->p.now, last;

	if (!rule->total.rate)
		return reason;
	tot = bpf_map_lookup_elem(&fg_totals, &j->ridx);
	if (!tot)
		return reason;
	last = tot->seen;
	tot->seen = now; /* before the CAS, as for buckets: see fg_gcra */
	if (tot->units != rule->since && fg_total_rebase(tot, rule, now, last)) {
		/* the rule set changed under this packet, or another CPU rebases: a race lost */
		fg_count(FG_C_LOST_RACE, 0);
		return reason;
	}
	/* 0 is over; -1, a lost race, passes */
	return fg_conform(&tot->tat, &tot->units, rule->since, now, rule->total.rate,
			  rule->total.burst, 1, fg_idle(now, last, rule->total.rate))
		       ? reason
		       : FG_R_ENDPOINT;
}

/*
 * A bucket banned as a whole, or over its packet limit, stays so for the
 * rest of the tick: this CPU drops the tick's next packets from it from
 * the verdict cache, unless a list entry is longer than the bucket
 * (fg_vc_lists_alike). A coarse prefix's too (fg_vc_coarse, after the
 * lists), unless bans may be keyed longer than it: a source's own ban
 * must name its drops.
 */
static __always_inline void fg_vc_put(struct fg_judge *j, int reason)
{
	struct fg_verdict *v = j->vc;
	int coarse = j->prefix.plen != j->key.plen;
	__u8 why = 0;

	if ((j->b->ban_until & ~FG_BAN_UNRECORDED) > j->p.now)
		why = FG_R_BANNED;
	else if (reason == FG_R_RATE_PPS)
		why = FG_R_RATE_PPS;
	if (!why || j->stale || !v ||
	    (coarse ? fg_bans_finer(j->cfg, j->p.family, j->prefix.plen) : !fg_vc_lists_alike(j)))
		return;
	if (v->packets | v->credit)
		fg_vc_settle(v, j->cfg, NULL);
	v->key = coarse ? j->ckey : j->key;
	v->epoch = j->cfg->epoch;
	v->lists = j->lists;
	v->tick = j->p.now;
	v->reason = why;
}

/*
 * A packet that passed its bucket's limits: a lease of this tick for the
 * source's next packets on this CPU (see struct fg_verdict), when its
 * rule allows one (fg_vc_leasable; fg_vc_reclaim gave back the source's
 * last one) and the bucket has room for it with half its burst left. Its
 * tokens are taken at once, in the bucket's units, in one
 * compare-and-swap; a lost race takes no lease.
 */
static __always_inline void fg_vc_lease(struct fg_judge *j)
{
	const struct fg_rule *r = j->rule;
	struct fg_verdict *v = j->vc;
	struct fg_gcra_args a = {};
	__u64 now = j->p.now, k;
	struct fg_src *b = j->b;
	__u32 fulls;

	if (!v || !b)
		return;
	if (v->packets | v->credit)
		fg_vc_settle(v, j->cfg, NULL); /* another source's, of another tick */
	/* before the tokens: a full bucket found after this read voids the refund */
	fulls = *(volatile __u32 *)&b->fulls;
	k = r->pps.burst >> 6 < FG_VC_LEASE ? r->pps.burst >> 6 : FG_VC_LEASE;
	a.now_u = now * r->pps.rate;
	a.limit = r->pps.burst * fg_hz / 2;
	a.step = k * fg_hz;
	a.far = (r->pps.burst + r->pps.rate) * fg_hz;
	a.want = r->since;
	if (fg_gcra_try(&b->tat_pps, &b->units, &a) != 1)
		return;
	v->key = j->key;
	v->epoch = j->cfg->epoch;
	v->lists = j->lists;
	v->tick = now;
	v->reason = FG_R_PASS;
	v->credit = (__u8)k;
	v->ban_group = (__u16)j->ban_group;
	v->ban_gen = j->ban_gen;
	v->born = (__u32)b->first_seen;
	v->fulls = fulls;
}

/*
 * Stage 7, action: what the rule does with a packet over a limit or
 * refused by the SYN proxy (drop, monitor: pass as would-drop, ban: drop
 * and ban its prefix), and the rule's and bucket's counters. A banned
 * source is dropped whatever the action; a refused segment bans no one
 * (its source address may be anyone's), nor does a coarse bucket under
 * attack (new sources of a whole prefix, spoofed as like as not: a ban
 * of it would take in the prefix's known clients); a SYN the proxy
 * answered counts as passed. Returns the final reason.
 */
static __always_inline int fg_stage_action(struct fg_judge *j, int reason)
{
	const struct fg_rule *rule = j->rule;
	struct fg_rule_count *rc = bpf_map_lookup_elem(&fg_rule_stats, &j->ridx);

	if (rc)
		rc->bytes += j->p.len;
	if (reason == FG_R_PASS || reason == FG_R_SP_COOKIE ||
	    (reason == FG_R_SP_SYNACK && rule->action != FG_ACT_MONITOR)) {
		if (rc)
			rc->passed++;
		if (reason == FG_R_PASS && j->leasable)
			fg_vc_lease(j);
		return reason;
	}
	if (reason != FG_R_BANNED && rule->action == FG_ACT_MONITOR) {
		if (rc)
			rc->would_drop++;
		return FG_R_MONITOR;
	}
	if (reason != FG_R_BANNED && reason != FG_R_ENDPOINT && reason != FG_R_SP_REFUSED &&
	    reason != FG_R_SP_EXPIRED && rule->action == FG_ACT_BAN && j->b &&
	    j->prefix.plen == j->key.plen)
		j->b->ban_until = fg_ban(j->st, j->cfg, j->ridx, &j->p, &j->prefix);
	if (j->b) {
		j->b->drops++;
		fg_vc_put(j, reason);
	}
	if (rc)
		rc->dropped++;
	return reason;
}

/*
 * The program: parse, then rule, cache, lists, source, SYN proxy, endpoint
 * and action, in this order; every packet leaves through the one count at
 * the end, but for what the verdict cache decides (the drops it repeats,
 * the passes of a lease): those are counted in its entry, which
 * fg_vc_settle adds to the same counters later (and readers add
 * meanwhile: fg_snapshot_read).
 */
SEC("xdp.frags")
int floodgate(struct xdp_md *ctx)
{
	struct fg_judge j;
	__u32 zero = 0, len;
	int reason;

	/*
	 * Not `= {}`: zeroing the whole judge is a score of stores on every
	 * packet's path. The packet starts zeroed, as fg_parse expects; these
	 * fields may be read on a path that never sets them; the stages set
	 * every other one before it is read.
	 */
	__builtin_memset(&j.p, 0, sizeof(j.p));
	j.b = NULL;
	j.stale = 0;
	j.leasable = 0;
	reason = fg_parse(ctx, &j.p);
	len = j.p.len;
	if (reason != FG_R_PASS) {
		len = bpf_xdp_get_buff_len(ctx); /* not the hot path: count the whole frame */
		goto out;
	}
	if (j.p.also_count)
		fg_count(j.p.also_count, len);
	j.st = bpf_map_lookup_elem(&fg_state, &zero);
	if (!j.st)
		goto out;
	j.p.now = fg_test_clock ? j.st->test_now : bpf_jiffies64();
	/* one read of the slot for the config and the port table: never half of each */
	j.slot = *(volatile __u32 *)&j.st->slot & 1;
	j.cfg = bpf_map_lookup_elem(&fg_config, &j.slot);
	if (!j.cfg)
		goto out;

	fg_stage_rule(&j);
	reason = fg_stage_cache(&j);
	if (reason != FG_VC_MISS) /* counted in its cache entry, and from there where the rest are */
		return reason == FG_R_PASS ? XDP_PASS : XDP_DROP;
	reason = fg_stage_lists(&j);
	if (reason != FG_R_PASS)
		goto out; /* the lists are no rule's: no rule counts them */
	reason = fg_stage_source(&j);
	if (reason == FG_VC_DROPPED) /* as fg_stage_cache's: counted in the entry */
		return XDP_DROP;
	if (reason == FG_R_PASS)
		reason = fg_stage_synproxy(ctx, &j);
	if (reason == FG_R_PASS || reason == FG_R_SP_COOKIE)
		reason = fg_stage_endpoint(&j, reason);
	reason = fg_stage_action(&j, reason);
out:
	fg_count(reason, len);
	/* the SYN proxy's answer goes back out of the interface; the rest is passed or dropped */
	return reason == FG_R_SP_SYNACK ? XDP_TX : reason > FG_R_MONITOR ? XDP_DROP : XDP_PASS;
}

/*
 * The data path's clock for userspace: run through BPF_PROG_TEST_RUN with
 * an 8-byte (or longer) packet, it writes the current tick into the first
 * 8 bytes, so ban expiry and `top` ages read the same clock as packets.
 */
SEC("xdp")
int fg_clock(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct fg_state *st = bpf_map_lookup_elem(&fg_state, &zero);
	__u64 now;

	if (!st || data + sizeof(now) > end)
		return XDP_ABORTED;
	now = fg_test_clock ? st->test_now : bpf_jiffies64();
	__builtin_memcpy(data, &now, sizeof(now));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
