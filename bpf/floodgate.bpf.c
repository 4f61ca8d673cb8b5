// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * floodgate.bpf.c: the XDP program. Per packet, in this order: parse,
 * allow/deny/manual-ban trie, endpoint rule, per-source bucket (with its
 * cached ban state), GCRA limits, the SYN proxy (synproxy.h) for endpoints
 * that have it, the endpoint total, the rule's action, counters. DESIGN.md
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
/* fg_seen: log2 of its stamps (8 per entry) and the period shift; set from the pinned map and HZ */
const volatile __u32 fg_seen_bits = 19; /* FG_DEF_SOURCES / FG_SEEN_SOURCES_PER_SLOT */
const volatile __u8 fg_period_shift = 14;

/* compare-and-swap retries before a packet passes uncharged (FG_C_LOST_RACE) */
#define FG_CAS_TRIES 16
/* fg_keep checks a bucket's unconsulted limits once per this many ticks */
#define FG_KEEP_TICKS 4096
/* reads of a bucket another CPU is moving to new rates (fg_rebase) */
#define FG_REBASE_TRIES 64

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

static __always_inline void fg_count(__u32 idx, __u32 len)
{
	struct fg_count *c = bpf_map_lookup_elem(&fg_counters, &idx);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

/*
 * GCRA in rate units (see floodgate.h): the packet conforms when the
 * bucket's theoretical arrival time, at most `limit` units ahead of now
 * after adding `step`, allows it. now_u (ticks * rate) wraps modulo 2^64,
 * which is harmless while tat stays within 2^63 units of now. A tat more
 * than `far` units ahead cannot come from this limit (a full bucket read
 * by a CPU whose clock is at most a second stale is limit + HZ * rate
 * ahead): it was kept in other units (the rule set changed the rate) or
 * the bucket went untouched long enough for it to wrap (far 0, see
 * fg_idle), and then the bucket is simply full.
 *
 * One attempt: 1 conforms (tat moved), 0 does not, -1 another CPU moved
 * tat first.
 */
static __always_inline int fg_gcra_try(__u64 *tat, __u64 now_u, __u64 limit, __u64 step, __u64 far)
{
	__u64 old = *(volatile __u64 *)tat;
	__s64 ahead = (__s64)(old - now_u);
	__u64 need;

	if (ahead < 0 || (__u64)ahead > far)
		ahead = 0;
	need = (__u64)ahead + step;
	if (need > limit)
		return 0;
	if (fg_test_lose)
		return -1;
	return __sync_val_compare_and_swap(tat, old, now_u + need) == old ? 1 : -1;
}

/*
 * The retries after a lost compare-and-swap: a global function, so the
 * verifier walks the loop once and the common path makes no call. After
 * FG_CAS_TRIES lost races the answer is -1, undecided: every race lost
 * was a packet of another CPU that this limit admitted, and says nothing
 * about this one. The caller lets it pass uncharged (FG_C_LOST_RACE):
 * never a drop or a ban for a lost race, and at most one packet past the
 * limit per FG_CAS_TRIES admitted.
 */
__noinline int fg_gcra(__u64 *tat, __u64 now_u, __u64 limit, __u64 step, __u64 far)
{
	int i, r;

	if (!tat)
		return -1;
	for (i = 0; i < FG_CAS_TRIES; i++) {
		r = fg_gcra_try(tat, now_u, limit, step, far);
		if (r >= 0)
			return r;
	}
	fg_count(FG_C_LOST_RACE, 0);
	return -1;
}

/*
 * A limit of rate per second, burst tokens, a packet of cost tokens.
 * Returns 1 when it conforms, 0 when it does not, -1 when undecided (lost
 * races: pass, uncharged).
 */
static __always_inline int fg_conform(__u64 *tat, __u64 now, __u64 rate, __u64 burst, __u64 cost,
				      int idle)
{
	__u64 now_u = now * rate, limit = burst * fg_hz, step = cost * fg_hz;
	__u64 far = idle ? 0 : (burst + rate) * fg_hz;
	int r = fg_gcra_try(tat, now_u, limit, step, far);

	return r >= 0 ? r : fg_gcra(tat, now_u, limit, step, far);
}

/* Whether a bucket last touched at `seen` may hold a wrapped tat for `rate` (see fg_gcra). */
static __always_inline int fg_idle(__u64 now, __u64 seen, __u64 rate)
{
	__s64 gap = (__s64)(now - seen);

	if (gap < (__s64)fg_hz)
		return 0; /* the common case, without a division */
	return rate && (__u64)gap > (1ULL << 62) / rate;
}

/*
 * A limit this packet does not consult (a banned source, a limit after
 * one that failed, the SYN limit for other packets) or that failed
 * without moving: its tat stays where it was while last_seen moves on, so
 * over a long ban or a long run without SYNs it could fall more than 2^63
 * units behind now and wrap into "far ahead". A tat behind now (or any
 * tat of an idle bucket) means a full bucket, so one more than 2^61 units
 * behind is pulled up to exactly 2^61 behind: still full, and in range.
 *
 * The check runs only when a packet starts a new block of FG_KEEP_TICKS
 * (a flood's packets then do not read the limits they do not consult,
 * another cache line). The worst case is a check at a block's start,
 * packets up to its end, then the longest gap that is not idle (fg_idle:
 * 2^62 units): 2^61 + FG_KEEP_TICKS * rate + 2^62 < 2^63 units for any
 * rate below 2^49 per second (limits stop at 10^12, about 2^40).
 */
static __always_inline void fg_keep(__u64 *tat, __u64 now, __u64 rate, __u64 seen)
{
	__u64 now_u, old;

	if (!rate || !((now ^ seen) & ~(FG_KEEP_TICKS - 1)))
		return;
	now_u = now * rate;
	old = *(volatile __u64 *)tat;
	if (fg_idle(now, seen, rate) || (__s64)(old - now_u) < -(1LL << 61))
		__sync_val_compare_and_swap(tat, old, now_u - (1ULL << 61));
}

/*
 * One limit's tat, kept in units of rate `from` (0: none), moved to units
 * of rate `to` at tick now. A token is HZ units at any rate, so the debt
 * ahead of now keeps its number of units: the bucket holds as many tokens
 * as before (a rate change grants none) and refills at the new rate, up to
 * the new burst (a debt past a smaller burst is an empty bucket). A tat
 * behind now, or any tat without `from` or of an idle bucket, is a full
 * bucket.
 */
static __always_inline void fg_rescale(__u64 *tat, __u64 now, __u64 from, __u64 to, __u64 limit,
				       int idle)
{
	__u64 old, now_u = now * to, ahead;
	__s64 d;
	int i;

	if (!to)
		return; /* a limit that is off: fg_keep leaves its tat alone */
	/* a packet of the rule set before may still move the tat (in the old units): retry */
	for (i = 0; i < FG_CAS_TRIES; i++) {
		old = *(volatile __u64 *)tat;
		d = (__s64)(old - now * from);
		ahead = 0;
		if (from && !idle && d > 0)
			ahead = (__u64)d < limit ? (__u64)d : limit;
		if (__sync_val_compare_and_swap(tat, old,
						ahead ? now_u + ahead : now_u - (1ULL << 61)) == old)
			return;
	}
}

/*
 * A bucket whose tats are kept in the units of rates its rule had before
 * the rule's latest change (units != rule->since): the rule names the
 * rates it had from prev_since on (userspace keeps them, for the same
 * rule only), so a change of limits carries a source's tokens over
 * instead of handing every source a fresh burst; older units start full.
 * One CPU claims the bucket (FG_EPOCH_BUSY) and moves its tats; another
 * that meets it waits up to FG_REBASE_TRIES reads. Returns 1 when the
 * bucket is not in this rule's units: its units are newer (this packet
 * read the rule set before a change another CPU already applied) or it
 * stayed busy; the caller then leaves the bucket alone.
 */
__noinline int fg_rebase(struct fg_src *b, const struct fg_rule *r, __u64 now, __u64 seen)
{
	__u32 old;
	int i, prev;

	if (!b || !r)
		return 1;
	for (i = 0; i < FG_REBASE_TRIES; i++) {
		old = *(volatile __u32 *)&b->units;
		if (old == FG_EPOCH_BUSY)
			continue;
		if (old == r->since)
			return 0;
		if ((__s32)(old - r->since) > 0)
			return 1;
		if (__sync_val_compare_and_swap(&b->units, old, FG_EPOCH_BUSY) != old)
			continue;
		prev = old == r->prev_since;
		fg_rescale(&b->tat_pps, now, prev ? r->prev_pps : 0, r->pps.rate,
			   r->pps.burst * fg_hz, fg_idle(now, seen, prev ? r->prev_pps : 0));
		fg_rescale(&b->tat_bps, now, prev ? r->prev_bps : 0, r->bps.rate,
			   r->bps.burst * 8 * fg_hz, fg_idle(now, seen, prev ? r->prev_bps : 0));
		fg_rescale(&b->tat_syn, now, prev ? r->prev_syn : 0, r->syn.rate,
			   r->syn.burst * fg_hz, fg_idle(now, seen, prev ? r->prev_syn : 0));
		*(volatile __u32 *)&b->units = r->since;
		return 0;
	}
	return 1;
}

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
 * the bucket's, which hold for this source only (fg_ban_split).
 */
__noinline __u64 fg_ban_check(const struct fg_config *cfg, const struct fg_pkt *p,
			      const struct fg_plen *own, int longer)
{
	struct fg_ban_key bk = {};
	const struct fg_plen *lens;
	__u64 until = 0, now;
	struct fg_ban *b;
	__u32 i, n;

	if (!cfg || !p || !own)
		return 0;
	lens = p->family == FG_FAM_IPV4 ? cfg->ban4 : cfg->ban6;
	n = p->family == FG_FAM_IPV4 ? cfg->n_ban4 : cfg->n_ban6;
	now = p->now;
	bk.family = p->family;
	if (!longer) {
		bk.plen = own->plen;
		fg_mask(bk.addr, p->addr, own->mask);
		b = bpf_map_lookup_elem(&fg_bans, &bk);
		if (b && b->expires > now)
			until = b->expires;
	}
	for (i = 0; i < FG_MAX_BAN_PLENS && i < n; i++) {
		if (lens[i].plen == own->plen || (lens[i].plen > own->plen) != !!longer)
			continue;
		bk.plen = lens[i].plen;
		fg_mask(bk.addr, p->addr, lens[i].mask);
		b = bpf_map_lookup_elem(&fg_bans, &bk);
		if (b && b->expires > now && b->expires > until)
			until = b->expires;
	}
	return until;
}

/* Whether bans may be keyed longer than the bucket's prefix: they cannot be cached in it. */
static __always_inline int fg_ban_split(const struct fg_config *cfg, __u8 family, __u8 plen)
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
	struct fg_event *e;

	if (!st || !cfg || !ev)
		return 0;
	if (fg_conform(&st->events_tat, now, cfg->events_per_sec, cfg->events_per_sec, 1, 0) != 1) {
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
	if (now - w >= fg_hz && __sync_val_compare_and_swap(&at->window, w, now) == w) {
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
 * The fg_seen word and byte of a bucket key (see floodgate.h): fg_hash of
 * its 20 bytes. NULL only if the map were smaller than fg_seen_bits says.
 */
static __always_inline __u64 *fg_seen_word(const struct fg_src_key *k, __u32 *byte)
{
	const __u32 *w = (const __u32 *)k->addr;
	/* the key's first word from its fields: a word load of three smaller stores would stall */
	__u32 head = k->rule | (__u32)k->family << 16 | (__u32)k->plen << 24;
	__u32 slot, idx;

	slot = fg_hash(((__u64)w[0] << 32 | w[1]) ^ head, (__u64)w[2] << 32 | w[3], fg_seen_bits);
	idx = slot >> 3;
	*byte = slot & 7;
	return bpf_map_lookup_elem(&fg_seen, &idx);
}

/* The stamp period of a tick: tick >> fg_period_shift, modulo 256. */
static __always_inline __u8 fg_period(__u64 now)
{
	return (__u8)(now >> fg_period_shift);
}

/* Whether the key's stamp holds this period or the one before (no map: assume it does). */
static __always_inline int fg_seen_recent(const struct fg_src_key *k, __u8 period)
{
	__u32 byte;
	__u64 *w = fg_seen_word(k, &byte);
	__u8 s;

	if (!w)
		return 1;
	s = *((__u8 *)w + byte);
	/* period + 1: stamped by a CPU whose clock is a tick ahead (fg_seen_touch keeps it) */
	return s == period || s == (__u8)(period - 1) || s == (__u8)(period + 1);
}

/*
 * Stamp the key with `period`: once per period per bucket (its first
 * packet in it) and when it is created. A compare-and-swap of the word,
 * so that a CPU whose clock read is a period behind cannot put back an
 * older stamp over a newer one (the bucket would not stamp again before
 * the next period, and under attack it would look new).
 */
static __always_inline void fg_seen_touch(const struct fg_src_key *k, __u8 period)
{
	__u64 *w, old, shift;
	__u32 byte;
	__u8 s;
	int i;

	w = fg_seen_word(k, &byte);
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

/*
 * Create the bucket `key` (own: its prefix) with the source's ban state,
 * unless another CPU just did. The caller looks the bucket up again: a
 * global function cannot hand out a map value.
 */
__noinline int fg_bucket_new(struct fg_state *st, const struct fg_config *cfg, const struct fg_pkt *p,
			     const struct fg_plen *own, const struct fg_src_key *key)
{
	struct fg_src fresh = {};

	if (!st || !cfg || !p || !own || !key)
		return 0;
	/* last_seen 0: a new bucket is idle, hence full, whatever now * rate wraps to */
	fresh.first_seen = p->now;
	fresh.ban_gen = st->ban_gen;
	fresh.units = cfg->rules[key->rule & (FG_MAX_RULES - 1)].since;
	fresh.ban_until = fg_ban_check(cfg, p, own, 0);
	/* EEXIST means another CPU created it first: theirs is used */
	if (!bpf_map_update_elem(&fg_sources, key, &fresh, BPF_NOEXIST)) {
		fg_count(FG_C_SOURCE_NEW, 0);
		fg_seen_touch(key, fg_period(p->now)); /* its packets stamp it from the next period on */
	}
	return 0;
}

/* The bucket for this packet under `rule`, created if missing; own = its prefix. */
static __always_inline struct fg_src *fg_bucket(struct fg_state *st, const struct fg_config *cfg,
						const struct fg_rule *rule, __u32 ridx,
						const struct fg_pkt *p, struct fg_plen *own)
{
	struct fg_src_key key = { .rule = ridx, .family = p->family };
	__u8 period = fg_period(p->now);
	const struct fg_plen *coarse;
	struct fg_pressure *pr;
	struct fg_attack *at;
	struct fg_src *b;
	const __be32 *mask;
	__u32 zero = 0;
	int on;

	pr = bpf_map_lookup_elem(&fg_pressure, &zero);
	at = bpf_map_lookup_elem(&fg_attack, &zero);
	if (!pr || !at)
		return NULL;
	if (p->now - pr->window >= fg_hz)
		fg_attack_roll(st, cfg, at, pr, p->now);
	if (p->family == FG_FAM_IPV4) {
		own->plen = rule->plen4;
		mask = rule->mask4;
	} else {
		own->plen = rule->plen6;
		mask = rule->mask6;
	}
	__builtin_memcpy(own->mask, mask, sizeof(own->mask));
	key.plen = own->plen;
	/* the rule's mask, not the copy just stored: reading that back would stall */
	fg_mask(key.addr, p->addr, mask);
	coarse = p->family == FG_FAM_IPV4 ? &cfg->coarse4 : &cfg->coarse6;
	/*
	 * Under attack (and for a rule's prefix longer than the coarse one: else
	 * the key is its own coarse prefix), a key not stamped lately has no
	 * bucket worth a cache miss: it goes to its coarse prefix
	 */
	on = *(volatile __u32 *)&at->on && coarse->plen < key.plen;
	if (!on || fg_seen_recent(&key, period)) {
		b = bpf_map_lookup_elem(&fg_sources, &key);
		/* under attack, a source first met during it has its coarse prefix, not this bucket */
		if (b && (!on || b->first_seen < *(volatile __u64 *)&at->from)) {
			if ((b->last_seen ^ p->now) >> fg_period_shift)
				fg_seen_touch(&key, period);
			return b;
		}
		if (b)
			goto charge_coarse;
	}
	/* a new source: under attack, charged to its coarse prefix's bucket */
	if (fg_attack_new(st, cfg, at, pr, p->now) && coarse->plen < key.plen) {
	charge_coarse:
		*own = *coarse;
		key.plen = own->plen;
		fg_mask(key.addr, p->addr, own->mask);
		fg_count(FG_C_ATTACK_NEW, 0);
		b = bpf_map_lookup_elem(&fg_sources, &key);
		if (b)
			return b;
	}
	fg_bucket_new(st, cfg, p, own, &key);
	b = bpf_map_lookup_elem(&fg_sources, &key);
	if (!b)
		fg_count(FG_C_SOURCE_INSERT_FAIL, 0);
	return b;
}

/*
 * Record a ban of the bucket's prefix, escalating for repeat offenders.
 * Returns its expiry, with FG_BAN_UNRECORDED when the table was full.
 */
__noinline __u64 fg_ban(struct fg_state *st, const struct fg_config *cfg, __u32 ridx,
			const struct fg_pkt *p, const struct fg_plen *own)
{
	struct fg_ban_key bk = {};
	struct fg_ban nb = { .strikes = 1 };
	struct fg_event ev = { .type = FG_EV_BAN };
	const struct fg_rule *rule;
	struct fg_ban *old;
	__u64 dur, now;
	int i;

	if (!st || !cfg || !p || !own)
		return 0;
	ridx &= FG_MAX_RULES - 1;
	rule = &cfg->rules[ridx];
	now = p->now;
	dur = rule->ban_ticks;
	bk.family = p->family;
	bk.plen = own->plen;
	nb.created = now;
	nb.rule = ridx;
	ev.tick = now;
	ev.rule = ridx;
	ev.family = p->family;
	ev.plen = own->plen;
	ev.cpu = bpf_get_smp_processor_id();

	fg_mask(bk.addr, p->addr, own->mask);
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
	if (bpf_map_update_elem(&fg_bans, &bk, &nb, BPF_ANY)) {
		fg_count(FG_C_BAN_INSERT_FAIL, 0);
		return nb.expires | FG_BAN_UNRECORDED; /* enforced by the bucket alone */
	}
	fg_count(FG_C_BANS, 0);
	__sync_fetch_and_add(&st->ban_gen, 1);
	ev.duration = dur;
	ev.strikes = nb.strikes;
	__builtin_memcpy(ev.addr, bk.addr, sizeof(ev.addr));
	fg_emit(st, cfg, &ev, now);
	return nb.expires;
}

/*
 * Per-source limits in order pps, bps, SYN. Returns FG_R_PASS or the limit
 * exceeded; limits after a failed one are not consulted (fg_keep).
 */
static __always_inline int fg_limits(struct fg_src *b, const struct fg_rule *r,
				     const struct fg_pkt *p, __u64 now, __u64 seen)
{
	int reason = FG_R_PASS;

	if (r->pps.rate && !fg_conform(&b->tat_pps, now, r->pps.rate, r->pps.burst, 1,
				       fg_idle(now, seen, r->pps.rate))) { /* 0: over; -1 passes */
		fg_keep(&b->tat_pps, now, r->pps.rate, seen);
		reason = FG_R_RATE_PPS;
	}
	if (r->bps.rate) {
		if (reason != FG_R_PASS) {
			fg_keep(&b->tat_bps, now, r->bps.rate, seen);
		} else if (!fg_conform(&b->tat_bps, now, r->bps.rate, r->bps.burst * 8,
				       (__u64)p->len * 8, fg_idle(now, seen, r->bps.rate))) {
			fg_keep(&b->tat_bps, now, r->bps.rate, seen);
			reason = FG_R_RATE_BPS;
		}
	}
	if (r->syn.rate) {
		if (reason != FG_R_PASS || !p->syn) {
			fg_keep(&b->tat_syn, now, r->syn.rate, seen);
		} else if (!fg_conform(&b->tat_syn, now, r->syn.rate, r->syn.burst, 1,
				       fg_idle(now, seen, r->syn.rate))) {
			fg_keep(&b->tat_syn, now, r->syn.rate, seen);
			reason = FG_R_RATE_SYN;
		}
	}
	return reason;
}

SEC("xdp.frags")
int floodgate(struct xdp_md *ctx)
{
	__u32 zero = 0, ridx = FG_RULE_DEFAULT, len;
	struct fg_pkt p = {};
	struct fg_rule_count *rc;
	struct fg_total *tot;
	const struct fg_config *cfg;
	const struct fg_rule *rule;
	struct fg_state *st;
	struct fg_src *b;
	__u64 now, seen;
	struct fg_plen own = {};
	__u32 slot;
	int reason, stale, sp;

	reason = fg_parse(ctx, &p);
	len = p.len;
	if (reason != FG_R_PASS) {
		len = bpf_xdp_get_buff_len(ctx); /* not the hot path: count the whole frame */
		goto out;
	}
	if (p.note)
		fg_count(p.note, len);

	st = bpf_map_lookup_elem(&fg_state, &zero);
	if (!st)
		goto out;
	now = fg_test_clock ? st->test_now : bpf_jiffies64();
	p.now = now;
	/* one read of the slot for the config and the port table: never half of each */
	slot = *(volatile __u32 *)&st->slot & 1;
	cfg = bpf_map_lookup_elem(&fg_config, &slot);
	if (!cfg)
		goto out;

	/* allow, deny and manual bans: one trie, one lookup, only when non-empty and not filtered */
	if ((p.family == FG_FAM_IPV4 ? st->lists4 : st->lists6) && fg_lf_maybe(st, &p)) {
		struct fg_lpm_key lk = { .prefixlen = FG_LPM_HDR_BITS +
						      (p.family == FG_FAM_IPV4 ? 32 : 128),
					 .family = p.family };
		struct fg_list_val *lv;

		fg_copy_addr(lk.addr, &p);
		lv = bpf_map_lookup_elem(&fg_lists, &lk);
		if (lv) {
			if (lv->verdict == FG_LIST_ALLOW) {
				reason = FG_R_ALLOW;
				goto out;
			}
			if (lv->verdict == FG_LIST_DENY) {
				reason = FG_R_DENY;
				goto out;
			}
			if (lv->verdict == FG_LIST_BAN && (!lv->expires || lv->expires > now)) {
				reason = FG_R_BANNED;
				goto out;
			}
		}
	}

	if (p.has_ports && cfg->n_endpoints) {
		__u32 pk = (slot * 2 + (p.proto == IPPROTO_UDP)) * FG_PORT_SPACE + p.dport;
		__u16 *ri = bpf_map_lookup_elem(&fg_ports, &pk);

		if (ri)
			ridx = *ri & (FG_MAX_RULES - 1);
	}
	/* the verifier must see the bound where the pointer is made, not just earlier */
	asm volatile("" : "+r"(ridx));
	ridx &= FG_MAX_RULES - 1;
	rule = &cfg->rules[ridx];
	rc = bpf_map_lookup_elem(&fg_rule_stats, &ridx);

	b = fg_bucket(st, cfg, rule, ridx, &p, &own);
	if (!b)
		goto rule_out; /* table refused the insert (counted): only the endpoint limit applies */
	seen = b->last_seen;
	/*
	 * stale: a packet of the rule set before a change, whose limits are not
	 * this bucket's (another CPU moved it), or that started before a flip
	 * and must not write tats in units the bucket may be leaving
	 */
	stale = (b->units != rule->since && fg_rebase(b, rule, now, seen)) ||
		(*(volatile __u32 *)&st->slot & 1) != slot;
	b->last_seen = now;
	b->packets++;
	b->bytes += len;

	if (b->ban_gen != st->ban_gen) {
		__u64 until = fg_ban_check(cfg, &p, &own, 0);

		b->ban_gen = st->ban_gen;
		/* a ban the table could not hold stays, until it ends or the table has a longer one */
		if (!(b->ban_until & FG_BAN_UNRECORDED) ||
		    (b->ban_until & ~FG_BAN_UNRECORDED) <= (until > now ? until : now))
			b->ban_until = until;
	}
	if ((b->ban_until & ~FG_BAN_UNRECORDED) > now ||
	    (fg_ban_split(cfg, p.family, own.plen) && fg_ban_check(cfg, &p, &own, 1) > now)) {
		/* however long the ban, the limits must come back full, not wrapped */
		if (!stale) {
			fg_keep(&b->tat_pps, now, rule->pps.rate, seen);
			fg_keep(&b->tat_bps, now, rule->bps.rate, seen);
			fg_keep(&b->tat_syn, now, rule->syn.rate, seen);
		}
		reason = FG_R_BANNED;
		goto drop_src;
	}
	if (stale)
		goto rule_out; /* the endpoint limit alone, for one packet per CPU at a flip */
	reason = fg_limits(b, rule, &p, now, seen);
	if (reason != FG_R_PASS)
		goto over;
rule_out:
	/*
	 * The SYN proxy, after lists, bans and per-source limits and before the
	 * endpoint total: a SYN it answers never reaches the host, so a spoofed
	 * flood of them must not use up the total that real clients need
	 */
	sp = FG_R_PASS;
	if (rule->syn_proxy && p.proto == IPPROTO_TCP && p.has_ports) {
		sp = fg_synproxy(ctx, &p, rule->action == FG_ACT_MONITOR);
		if (sp == FG_R_SP_SYNACK || sp == FG_R_SP_REFUSED) {
			reason = sp;
			if (rule->action == FG_ACT_MONITOR) {
				fg_count(sp == FG_R_SP_SYNACK ? FG_C_SP_WOULD_SYNACK
							      : FG_C_SP_WOULD_REFUSE,
					 0);
				goto over;
			}
			if (sp == FG_R_SP_REFUSED)
				goto drop_src; /* no ban: its source may be anyone's */
			if (rc)
				rc->passed++;
			goto out_rule;
		}
	}
	if (rule->total.rate) {
		tot = bpf_map_lookup_elem(&fg_totals, &ridx);
		if (tot) {
			seen = tot->seen;
			tot->seen = now; /* before the CAS, as for buckets: see fg_gcra */
			if (!fg_conform(&tot->tat, now, rule->total.rate, rule->total.burst, 1,
					fg_idle(now, seen, rule->total.rate))) { /* -1 passes */
				reason = FG_R_ENDPOINT;
				goto over;
			}
		}
	}
	reason = sp; /* FG_R_PASS, or FG_R_SP_COOKIE */
	if (rc)
		rc->passed++;
	goto out_rule;

over:
	if (rule->action == FG_ACT_MONITOR) {
		reason = FG_R_MONITOR;
		if (rc)
			rc->would_drop++;
		goto out_rule;
	}
	if (rule->action == FG_ACT_BAN && b && reason != FG_R_ENDPOINT) {
		b->ban_until = fg_ban(st, cfg, ridx, &p, &own);
	}
drop_src:
	if (b)
		b->drops++;
	if (rc)
		rc->dropped++;
out_rule:
	if (rc)
		rc->bytes += len;
out:
	fg_count(reason, len);
	if (reason == FG_R_SP_SYNACK)
		return XDP_TX;
	return reason > FG_R_MONITOR ? XDP_DROP : XDP_PASS;
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
