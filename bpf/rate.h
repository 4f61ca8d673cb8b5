/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * rate.h: the rate math of the data path, every limit a GCRA (the
 * generic cell rate algorithm: a token bucket kept as one number).
 * Included by floodgate.bpf.c after its maps and load-time knobs.
 *
 * Invariants, which every function here keeps:
 *
 * - Units. A limit of R per second keeps its theoretical arrival time
 *   (tat) in rate units of 1 / (R * HZ) s: now is ticks * R, one token is
 *   HZ units, a burst of B tokens is B * HZ units. All of it is exact
 *   integer math; now * R wraps modulo 2^64 and is compared only as a
 *   signed difference, which holds while tat stays within 2^63 units of
 *   now. A tat behind now is a full bucket.
 * - Bounds. A tat at most 2^62 units from now is trusted; one that fell
 *   more than 2^61 behind is pulled up to exactly 2^61 behind (fg_tat_in_range),
 *   at least once per FG_RANGE_TICKS ticks, so no tat ever drifts to 2^63
 *   and reads as "far ahead". Limits stop at 10^12 per second (about
 *   2^40), far below the 2^49 these bounds allow.
 * - Epochs. A bucket's tats are kept in the units of the rates its rule
 *   had at rule-set epoch `units` (fg_src.units, fg_total.units). A rule
 *   whose limits change gets a new `since`; the first packet to meet an
 *   older bucket moves its tats to the new units (fg_rebase), keeping its
 *   tokens. While it does, units reads FG_EPOCH_BUSY. Every compare-and-
 *   swap of a tat reads units after the tat: a packet judged under other
 *   units than the bucket's never writes it (it passes uncharged, as on a
 *   lost race).
 * - Races. A lost compare-and-swap is retried FG_CAS_TRIES times, then the
 *   packet is undecided: it passes uncharged and is counted
 *   (FG_C_LOST_RACE), never dropped or banned for a race.
 * - Leases (floodgate.bpf.c, struct fg_verdict) take up to FG_VC_LEASE
 *   tokens of a packet limit at once and may give the unspent ones back
 *   (fg_vc_refund): a tat moves back by at most that many tokens, which
 *   can leave it a little more than 2^61 behind now, still read as full
 *   and still far from 2^63.
 *
 * Memory order: the units read after the tat relies on loads not being
 * reordered with loads (x86). Other architectures would need an acquire.
 */
#ifndef FG_RATE_H
#define FG_RATE_H

/* compare-and-swap retries before a packet passes uncharged (FG_C_LOST_RACE) */
#define FG_CAS_TRIES 16
/* fg_tat_in_range checks a bucket's unconsulted limits once per this many ticks */
#define FG_RANGE_TICKS 4096
/* reads of a bucket another CPU is moving to new rates (fg_rebase) */
#define FG_REBASE_TRIES 64

static __always_inline void fg_count(__u32 idx, __u32 len)
{
	struct fg_count *c = bpf_map_lookup_elem(&fg_counters, &idx);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

/* One packet against one limit, in its rate units (fg_gcra's arguments). */
struct fg_gcra_args {
	__u64 now_u; /* now * rate */
	__u64 limit; /* burst * HZ: how far ahead of now tat may be after this packet */
	__u64 step;  /* cost * HZ: how far this packet moves tat */
	__u64 far;  /* a tat further ahead than this is not of these units (0: idle, see fg_idle) */
	__u32 want; /* the units the caller judged it in (with a units pointer) */
	__u32 pad;  /* zero */
};

/*
 * Whether a tat reads as a full bucket at now_u: behind now, or further
 * ahead than `far` (see fg_gcra_try), where it counts from now.
 */
static __always_inline int fg_full(__u64 tat, __u64 now_u, __u64 far)
{
	__s64 ahead = (__s64)(tat - now_u);

	return ahead < 0 || (__u64)ahead > far;
}

/*
 * One attempt: 1 conforms (tat moved), 0 does not, -1 another CPU moved
 * tat first, or moved the bucket to other units (units is not want). A
 * tat more than `far` units ahead cannot come from this limit (a full
 * bucket read by a CPU whose clock is at most a second stale is limit +
 * HZ * rate ahead): the bucket went untouched long enough for it to wrap
 * (far 0, see fg_idle), and then it is simply full.
 */
static __always_inline int fg_gcra_try(__u64 *tat, __u32 *units, const struct fg_gcra_args *a)
{
	__u64 old = *(volatile __u64 *)tat, need;
	__s64 ahead = (__s64)(old - a->now_u);

	if (fg_test_moved && units) /* tests: another CPU moves the bucket on right now */
		*(volatile __u32 *)units = a->want + 1;
	/* after the tat: a rebase marks units before it writes any tat */
	if (units && *(volatile __u32 *)units != a->want)
		return -1;
	if (fg_full(old, a->now_u, a->far))
		ahead = 0;
	need = (__u64)ahead + a->step;
	if (need > a->limit)
		return 0;
	if (fg_test_lose)
		return -1;
	return __sync_val_compare_and_swap(tat, old, a->now_u + need) == old ? 1 : -1;
}

/*
 * The retries after a lost compare-and-swap: a global function, so the
 * verifier walks the loop once and the common path makes no call. After
 * FG_CAS_TRIES lost races the answer is -1, undecided: every race lost
 * was a packet of another CPU that this limit admitted (or a rebase), and
 * says nothing about this one. The caller lets it pass uncharged: at most
 * one packet past the limit per FG_CAS_TRIES admitted.
 */
__noinline int fg_gcra(__u64 *tat, __u32 *units, const struct fg_gcra_args *a)
{
	int i, r;

	if (!tat || !a)
		return -1;
	for (i = 0; i < FG_CAS_TRIES; i++) {
		r = fg_gcra_try(tat, units, a);
		if (r >= 0)
			return r;
		if (units && *(volatile __u32 *)units != a->want)
			break; /* the bucket moved on: no retry can be right */
	}
	fg_count(FG_C_LOST_RACE, 0);
	return -1;
}

/*
 * A limit of rate per second, burst tokens, a packet of cost tokens, on a
 * tat kept in the units of epoch want (units NULL: of no epoch). Returns
 * 1 when it conforms, 0 when it does not, -1 when undecided (pass,
 * uncharged).
 */
static __always_inline int fg_conform(__u64 *tat, __u32 *units, __u32 want, __u64 now, __u64 rate,
				      __u64 burst, __u64 cost, int idle)
{
	struct fg_gcra_args a = { .now_u = now * rate,
				  .limit = burst * fg_hz,
				  .step = cost * fg_hz,
				  .far = idle ? 0 : (burst + rate) * fg_hz,
				  .want = want };
	int r = fg_gcra_try(tat, units, &a);

	return r >= 0 ? r : fg_gcra(tat, units, &a);
}

/* Whether a bucket last touched at `last` may hold a wrapped tat for `rate` (see fg_gcra_try). */
static __always_inline int fg_idle(__u64 now, __u64 last, __u64 rate)
{
	__s64 gap = (__s64)(now - last);

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
 * The check runs only when a packet starts a new block of FG_RANGE_TICKS
 * (a flood's packets then do not read the limits they do not consult,
 * another cache line). The worst case is a check at a block's start,
 * packets up to its end, then the longest gap that is not idle (fg_idle:
 * 2^62 units): 2^61 + FG_RANGE_TICKS * rate + 2^62 < 2^63 units for any
 * rate below 2^49 per second.
 */
static __always_inline void fg_tat_in_range(__u64 *tat, __u64 now, __u64 rate, __u64 last)
{
	__u64 now_u, old;

	if (!rate || !((now ^ last) & ~(FG_RANGE_TICKS - 1)))
		return;
	now_u = now * rate;
	old = *(volatile __u64 *)tat;
	if (fg_idle(now, last, rate) || (__s64)(old - now_u) < -(1LL << 61))
		__sync_val_compare_and_swap(tat, old, now_u - (1ULL << 61));
}

/*
 * One limit's tat, kept in units of rate `from` (0: none), moved to units
 * of rate `to` at tick now. A token is HZ units at any rate, so the debt
 * ahead of now keeps its number of units: the bucket holds as many tokens
 * as before (a rate change grants none) and refills at the new rate, up to
 * the new burst (a debt past a smaller burst is an empty bucket). A tat
 * behind now, or any tat without `from` or of an idle bucket, is a full
 * bucket. The caller holds the bucket (units FG_EPOCH_BUSY), so only
 * packets that read the tat before that can still move it, once each:
 * after FG_CAS_TRIES of them the new tat is stored whatever they did (at
 * most their charge is lost), never left in the old units.
 */
static __always_inline void fg_rescale(__u64 *tat, __u64 now, __u64 from, __u64 to, __u64 limit,
				       int idle)
{
	__u64 old, now_u = now * to, ahead, moved = 0;
	__s64 d;
	int i;

	if (!to)
		return; /* a limit that is off: fg_tat_in_range leaves its tat alone */
	for (i = 0; i < FG_CAS_TRIES; i++) {
		old = *(volatile __u64 *)tat;
		d = (__s64)(old - now * from);
		ahead = 0;
		if (from && !idle && d > 0)
			ahead = (__u64)d < limit ? (__u64)d : limit;
		moved = ahead ? now_u + ahead : now_u - (1ULL << 61);
		if (!fg_test_lose && __sync_val_compare_and_swap(tat, old, moved) == old)
			return;
	}
	__sync_lock_test_and_set(tat, moved);
}

/*
 * Claim `units` (from anything older than since to FG_EPOCH_BUSY), or
 * learn that it needs no move. Returns 1 claimed (the caller moves its
 * tats and stores since), 0 already in since's units, -1 not in them
 * (its units are newer: this packet read the rule set before a change
 * another CPU already applied; or another CPU held it too long).
 */
static __always_inline int fg_claim(__u32 *units, __u32 since, __u32 *was)
{
	__u32 old;
	int i;

	for (i = 0; i < FG_REBASE_TRIES; i++) {
		old = *(volatile __u32 *)units;
		if (old == FG_EPOCH_BUSY)
			continue;
		if (old == since)
			return 0;
		if ((__s32)(old - since) > 0)
			return -1;
		if (__sync_val_compare_and_swap(units, old, FG_EPOCH_BUSY) == old) {
			*was = old;
			return 1;
		}
	}
	return -1;
}

/*
 * A bucket whose tats are kept in the units of rates its rule had before
 * the rule's latest change (units != rule->since): the rule names the
 * rates it had from prev_since on (userspace keeps them, for the same
 * rule only), so a change of limits carries a source's tokens over
 * instead of handing every source a fresh burst; older units start full.
 * One CPU claims the bucket (FG_EPOCH_BUSY) and moves its tats; another
 * that meets it waits up to FG_REBASE_TRIES reads. Returns 1 when the
 * bucket is not in this rule's units; the caller then leaves it alone.
 */
__noinline int fg_rebase(struct fg_src *b, const struct fg_rule *r, __u64 now, __u64 last)
{
	__u32 was = 0;
	int c, prev;

	if (!b || !r)
		return 1;
	c = fg_claim(&b->units, r->since, &was);
	if (c <= 0)
		return c < 0;
	prev = was == r->prev_since;
	fg_rescale(&b->tat_pps, now, prev ? r->prev_pps : 0, r->pps.rate, r->pps.burst * fg_hz,
		   fg_idle(now, last, prev ? r->prev_pps : 0));
	fg_rescale(&b->tat_bps, now, prev ? r->prev_bps : 0, r->bps.rate, r->bps.burst * 8 * fg_hz,
		   fg_idle(now, last, prev ? r->prev_bps : 0));
	fg_rescale(&b->tat_syn, now, prev ? r->prev_syn : 0, r->syn.rate, r->syn.burst * fg_hz,
		   fg_idle(now, last, prev ? r->prev_syn : 0));
	*(volatile __u32 *)&b->units = r->since;
	return 0;
}

/* The endpoint total's fg_rebase: its one tat, from prev_total to total. */
__noinline int fg_total_rebase(struct fg_total *t, const struct fg_rule *r, __u64 now, __u64 last)
{
	__u32 was = 0;
	__u64 from;
	int c;

	if (!t || !r)
		return 1;
	c = fg_claim(&t->units, r->since, &was);
	if (c <= 0)
		return c < 0;
	from = was == r->prev_since ? r->prev_total : 0;
	fg_rescale(&t->tat, now, from, r->total.rate, r->total.burst * fg_hz,
		   fg_idle(now, last, from));
	*(volatile __u32 *)&t->units = r->since;
	return 0;
}

#endif /* FG_RATE_H */
