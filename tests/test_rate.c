// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * test_rate.c: the rate limits are exact. Random sequences of packets
 * (rates 1..10^7 pps and 1 kbit/s..100 Gbit/s, bursts 1..10^6, idle gaps
 * up to 24 hours, stale timestamps) run through the program with the test
 * clock, and every packet's verdict must equal an exact model in GMP
 * rationals, written here from the specification and not from bpf/:
 *
 *   time t ticks is t/HZ seconds; a limit of R per second, burst B tokens
 *   and packet cost c tokens is GCRA with tat starting long ago (full);
 *   a packet conforms iff max(tat, now) + c/R - now <= B/R, and then
 *   tat = max(tat, now) + c/R; a non-conforming packet changes nothing.
 *   pps: c = 1. bps: R in bits/s, B = 8 * burst bytes, c = 8 * frame
 *   length. syn: like pps, TCP SYN without ACK only. Limits in order
 *   pps, bps, syn, endpoint total; a packet failing one leaves the later
 *   ones untouched.
 *
 * A stale timestamp is one up to one second behind the latest one (what
 * another CPU may have read). The program is loaded at HZ 1, 250, 1000 and
 * 10^7 (HZ x rate stays below 2^62, which the program's integer units
 * need). Also: all CPUs hammering one bucket with the clock frozen admit
 * exactly the burst.
 *
 * Packets run one BPF_PROG_TEST_RUN each, so every packet's verdict is
 * checked; only long drains use repeat=N (which costs ~40 ms a call: the
 * kernel swaps the XDP dispatcher around it) and check the counters.
 *
 * FG_SEED=N replays a run; FG_RATE_SEQS=N changes the number of sequences.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <gmp.h>

#include "fixture.h"

#define N_SEQS_DEFAULT 100000
#define MAX_STEPS      10
#define SINGLE_MAX     2000    /* steps of up to this many packets run them one by one */
#define BIG_DRAINS     40      /* steps longer than that per run (each one a repeat=N call) */
#define BIG_PACKETS    4000000 /* packets in those steps together */
#define DAY	       86400ULL
#define SOURCES	       (1U << 17) /* 198.18.0.0/15: a source per sequence */

/* The clocks the program is loaded with: one tick per second up to 10^7 per second. */
static const __u64 hzs[] = { 1, 250, 1000, 10000000 };
#define N_HZ (sizeof(hzs) / sizeof(hzs[0]))
static struct fx fxs[N_HZ];

/* ---- the model ---- */

enum { L_PPS, L_BPS, L_SYN, L_TOTAL, N_LIMITS };
static const char *const limit_names[] = { "pps", "bps", "syn", "total" };
static const int limit_reason[] = { FG_R_RATE_PPS, FG_R_RATE_BPS, FG_R_RATE_SYN, FG_R_ENDPOINT };

struct mlimit {
	__u64 rate;  /* per second (bits for bps); 0: no limit */
	__u64 burst; /* tokens (bytes for bps, as configured) */
	int full;    /* tat is "long ago" */
	mpq_t tat;   /* theoretical arrival time, seconds */
};

/* How many of up to `cap` identical packets of cost c tokens conform at `now`. */
static __u64 m_room(struct mlimit *l, int bits, const mpq_t now, __u64 c, __u64 cap)
{
	mpq_t x, y;
	mpz_t q;
	__u64 room;

	if (!cap)
		return 0;
	mpq_inits(x, y, NULL);
	mpz_init(q);
	/* x = B - R * (max(tat, now) - now), in tokens */
	if (l->full || mpq_cmp(l->tat, now) <= 0)
		mpq_set_ui(x, 0, 1);
	else
		mpq_sub(x, l->tat, now);
	mpq_set_ui(y, 0, 1);
	mpz_set_ui(mpq_numref(y), l->rate);
	mpq_mul(x, x, y);
	mpz_set_ui(mpq_numref(y), l->burst);
	mpz_set_ui(mpq_denref(y), 1);
	if (bits)
		mpz_mul_ui(mpq_numref(y), mpq_numref(y), 8);
	mpq_sub(x, y, x);
	if (mpq_sgn(x) < 0) {
		room = 0;
	} else {
		/* floor(x / c) */
		mpz_mul_ui(q, mpq_denref(x), c);
		mpz_fdiv_q(q, mpq_numref(x), q);
		room = mpz_cmp_ui(q, cap) >= 0 ? cap : mpz_get_ui(q);
	}
	mpq_clears(x, y, NULL);
	mpz_clear(q);
	return room;
}

/* k packets of cost c conformed at now: tat = max(tat, now) + k * c / R. */
static void m_take(struct mlimit *l, const mpq_t now, __u64 c, __u64 k)
{
	mpq_t d;

	if (!k)
		return;
	if (l->full || mpq_cmp(l->tat, now) < 0)
		mpq_set(l->tat, now);
	l->full = 0;
	mpq_init(d);
	mpz_set_ui(mpq_numref(d), k);
	mpz_mul_ui(mpq_numref(d), mpq_numref(d), c);
	mpz_set_ui(mpq_denref(d), l->rate);
	mpq_canonicalize(d);
	mpq_add(l->tat, l->tat, d);
	mpq_clear(d);
}

/* ---- one sequence ---- */

struct step {
	__u64 t;			/* tick */
	__u64 n;			/* packets */
	__u32 len;			/* frame length */
	int syn;			/* TCP SYN without ACK */
	__u64 want[FG_R_DROP_LAST + 1]; /* the model's verdicts for these n packets */
};

struct seq {
	__u64 seed;		   /* of this sequence */
	int hz_idx;		   /* which program */
	int monitor;		   /* action monitor instead of drop */
	struct mlimit l[N_LIMITS]; /* limits */
	__u64 t0;		   /* first tick */
	struct step steps[MAX_STEPS];
	int n_steps;
};

static void seq_print(const struct seq *q, int upto, const char *why)
{
	int i, k;

	print_error("rate disagreement: %s\n", why);
	print_error("  sequence seed %llu, HZ %llu, action %s\n", (unsigned long long)q->seed,
		    (unsigned long long)hzs[q->hz_idx], q->monitor ? "monitor" : "drop");
	for (k = 0; k < N_LIMITS; k++)
		if (q->l[k].rate)
			print_error("  %s: rate %llu/s burst %llu\n", limit_names[k],
				    (unsigned long long)q->l[k].rate,
				    (unsigned long long)q->l[k].burst);
	for (i = 0; i <= upto && i < q->n_steps; i++) {
		const struct step *s = &q->steps[i];

		print_error("  step %d: tick %llu (+%lld), %llu x %u-byte %s; model: pass %llu pps "
			    "%llu bps %llu syn %llu total %llu monitor %llu\n",
			    i, (unsigned long long)s->t,
			    (long long)(s->t - (i ? q->steps[i - 1].t : q->t0)),
			    (unsigned long long)s->n, s->len, s->syn ? "SYN" : "ACK",
			    (unsigned long long)s->want[FG_R_PASS],
			    (unsigned long long)s->want[FG_R_RATE_PPS],
			    (unsigned long long)s->want[FG_R_RATE_BPS],
			    (unsigned long long)s->want[FG_R_RATE_SYN],
			    (unsigned long long)s->want[FG_R_ENDPOINT],
			    (unsigned long long)s->want[FG_R_MONITOR]);
	}
}

/* The model's verdicts for step s (and its state moved past it). */
static void model_step(struct seq *q, struct step *s)
{
	__u64 hz = hzs[q->hz_idx], pass = s->n, before, k;
	mpq_t now;
	int i;

	mpq_init(now);
	mpz_set_ui(mpq_numref(now), s->t);
	mpz_set_ui(mpq_denref(now), hz);
	mpq_canonicalize(now);
	memset(s->want, 0, sizeof(s->want));
	for (i = 0; i < N_LIMITS; i++) {
		struct mlimit *l = &q->l[i];
		__u64 c = i == L_BPS ? 8ULL * s->len : 1;

		if (!l->rate || (i == L_SYN && !s->syn))
			continue;
		before = pass;
		k = m_room(l, i == L_BPS, now, c, pass);
		m_take(l, now, c, k);
		pass = k;
		s->want[q->monitor ? FG_R_MONITOR : limit_reason[i]] += before - pass;
	}
	s->want[FG_R_PASS] = pass;
	mpq_clear(now);
}

/* Tokens of the first limit in force that one packet of this step costs, and its rate. */
static void first_limit(const struct seq *q, const struct step *s, __u64 *c, __u64 *rate)
{
	int i;

	for (i = 0; i < N_LIMITS; i++)
		if (q->l[i].rate && (i != L_SYN || s->syn)) {
			*c = i == L_BPS ? 8ULL * s->len : 1;
			*rate = q->l[i].rate;
			return;
		}
	*c = 1;
	*rate = 1;
}

static __u64 packets_drawn, big_drains, big_packets;

/* Bursts 1..10^6, most of them small so that a few packets reach them. */
static __u64 draw_burst(__u64 *r)
{
	int b = fx_range(r, 0, 9);

	if (b < 7)
		return fx_logrange(r, 1, 64);
	if (b < 9)
		return fx_logrange(r, 64, 10000);
	return fx_range(r, 0, 4) ? fx_logrange(r, 10000, 1000000) : 1000000;
}

/* Draw the whole sequence: limits, then steps (each step's count looks at the model's state). */
static void seq_draw(struct seq *q, __u64 seed)
{
	__u64 *r = &seed, hz, tmax;
	int kind, i;

	q->seed = seed;
	q->hz_idx = fx_range(r, 0, N_HZ - 1);
	hz = hzs[q->hz_idx];
	q->monitor = fx_range(r, 0, 9) == 0;
	kind = fx_range(r, 0, 99);
	for (i = 0; i < N_LIMITS; i++) {
		q->l[i].rate = q->l[i].burst = 0;
		q->l[i].full = 1;
	}
	if (kind < 35 || kind >= 80) {
		q->l[L_PPS].rate = fx_range(r, 0, 9) ? fx_logrange(r, 1, 10000000)
						     : (fx_rand(r) & 1 ? 1 : 10000000);
		q->l[L_PPS].burst = draw_burst(r);
	}
	if ((kind >= 35 && kind < 65) || (kind >= 80 && fx_range(r, 0, 1))) {
		q->l[L_BPS].rate = fx_range(r, 0, 9) ? fx_logrange(r, 1000, 100000000000ULL)
						     : (fx_rand(r) & 1 ? 1000 : 100000000000ULL);
		q->l[L_BPS].burst = fx_range(r, 0, 9) < 7 ? fx_logrange(r, 54, 20000)
							  : fx_logrange(r, 1, 1000000);
	}
	if ((kind >= 65 && kind < 80) || (kind >= 80 && fx_range(r, 0, 1))) {
		q->l[L_SYN].rate = fx_logrange(r, 1, 10000000);
		q->l[L_SYN].burst = draw_burst(r);
	}
	if (kind >= 80 && fx_range(r, 0, 1)) {
		q->l[L_TOTAL].rate = fx_logrange(r, 1, 10000000);
		q->l[L_TOTAL].burst = draw_burst(r);
	}
	switch (fx_range(r, 0, 3)) {
	case 0:
		q->t0 = fx_range(r, 0, 3);
		break;
	case 1:
		q->t0 = fx_range(r, 0, 100000);
		break;
	default:
		q->t0 = fx_range(r, 0, 1ULL << 40); /* t * rate wraps 2^64 for most rates */
	}
	tmax = q->t0;
	q->n_steps = fx_range(r, 1, MAX_STEPS);
	for (i = 0; i < q->n_steps; i++) {
		struct step *s = &q->steps[i];
		__u64 c, rate, gap = 0, thr, room;
		int g = fx_range(r, 0, 99);
		mpq_t now;

		s->syn = q->l[L_SYN].rate ? fx_range(r, 0, 3) != 0 : fx_range(r, 0, 1);
		switch (fx_range(r, 0, 5)) {
		case 0:
			s->len = 54;
			break;
		case 1:
			s->len = 9000; /* multi-buffer */
			break;
		default:
			s->len = fx_range(r, 54, 1514);
		}
		first_limit(q, s, &c, &rate);
		if ((i == 0 && g < 50) || g < 15) {
			gap = 0; /* back to back; often so for the first packet of a fresh bucket */
		} else if (g < 30) {
			gap = fx_range(r, 1, 3);
		} else if (g < 55) {
			/* the time k tokens take to come back, give or take a tick */
			__u64 k = fx_logrange(r, 1, q->l[L_PPS].burst + q->l[L_BPS].burst + 2);
			double tk = (double)k * c * hz / rate;
			__s64 d = (__s64)fx_range(r, 0, 2) - 1;

			gap = tk > 1e15 ? (__u64)1e15 : (__u64)tk;
			gap = (__s64)gap + d < 0 ? 0 : gap + d;
		} else if (g < 68) {
			gap = fx_range(r, 0, hz);
		} else if (g < 76) {
			gap = fx_range(r, 0, DAY * hz);
		} else if (g < 82) {
			/* around the point where the program stops trusting old state */
			thr = (1ULL << 62) / rate;
			gap = thr <= DAY * hz ? thr - 2 + fx_range(r, 0, 4)
					      : fx_range(r, 0, DAY * hz);
		} else if (g < 85) {
			gap = fx_logrange(r, 1, DAY * hz);
		}
		if (g >= 85 && i > 0) {
			/* stale: up to one second behind the latest tick seen */
			__u64 back = fx_range(r, 1, hz);

			s->t = tmax >= back ? tmax - back : 0;
		} else {
			tmax = (g >= 85 ? tmax : tmax + gap);
			s->t = tmax;
		}
		/* how many packets: around where the first limit runs out, or a few */
		mpq_init(now);
		mpz_set_ui(mpq_numref(now), s->t);
		mpz_set_ui(mpq_denref(now), hz);
		mpq_canonicalize(now);
		room = 0;
		for (int k = 0; k < N_LIMITS; k++)
			if (q->l[k].rate && (k != L_SYN || s->syn)) {
				room = m_room(&q->l[k], k == L_BPS, now,
					      k == L_BPS ? 8ULL * s->len : 1, ~0ULL >> 1);
				break;
			}
		mpq_clear(now);
		switch (fx_range(r, 0, 9)) {
		case 0:
		case 1:
		case 2:
		case 3:
			/* around where the first limit runs out */
			s->n = room + fx_range(r, 0, 4);
			s->n = s->n > 2 ? s->n - 2 : 1;
			/* mostly 1..4 instead: long steps stay rare and within BIG_DRAINS, BIG_PACKETS */
			if ((s->n > SINGLE_MAX &&
			     (big_drains >= BIG_DRAINS || big_packets + s->n > BIG_PACKETS ||
			      fx_range(r, 0, 199))) ||
			    (s->n > 64 && s->n <= SINGLE_MAX && fx_range(r, 0, 49)))
				s->n = fx_range(r, 1, 4);
			if (s->n > SINGLE_MAX) {
				big_drains++;
				big_packets += s->n;
			}
			break;
		case 4:
		case 5:
		case 6:
		case 7:
			s->n = 1;
			break;
		default:
			s->n = fx_range(r, 1, 6);
		}
		packets_drawn += s->n;
		model_step(q, s);
	}
}

static struct fg_ruleset *base_rs;

/* The frame of a step: TCP from the sequence's source to the default rule. */
static __u32 step_frame(struct fx_pkt *p, const struct step *s, __u32 src)
{
	char addr[32];
	struct fx_spec sp = { .family = 4,
			      .src = addr,
			      .dport = 80,
			      .tcp_flags = s->syn ? FX_TCP_SYN : FX_TCP_ACK,
			      .payload = s->len - 54 };

	snprintf(addr, sizeof(addr), "198.%u.%u.%u", 18 + (src >> 16 & 1), src >> 8 & 0xff,
		 src & 0xff);
	return fx_build(p, &sp);
}

/* Verdicts of all sequences by reason, model and program. */
static __u64 all_total[FG_R_DROP_LAST + 1];

/*
 * Run one sequence through the program; each sequence has a source (and
 * so a bucket) of its own. check_reasons also compares which limit
 * dropped. Returns 1 when every packet agrees.
 */
static int seq_run(struct seq *q, __u32 src, struct fx_pkt *p, int check_reasons)
{
	struct fx *f = &fxs[q->hz_idx];
	struct fg_config *cfg = &base_rs->cfg;
	struct fg_rule *r = &cfg->rules[FG_RULE_DEFAULT];
	struct fg_count c0[FG_COUNTER_MAX], c1[FG_COUNTER_MAX];
	struct fg_src_key key = { .rule = 0, .family = FG_FAM_IPV4, .plen = 32 };
	struct fg_total zt = {};
	__u64 total[FG_R_DROP_LAST + 1] = {}, pass0, pass1;
	__u32 slot = f->m.st->slot & 1, zero = 0, ret = ~0U;
	char why[160];
	int i, k;

	r->pps = (struct fg_limit){ q->l[L_PPS].rate, q->l[L_PPS].burst };
	r->bps = (struct fg_limit){ q->l[L_BPS].rate, q->l[L_BPS].burst };
	r->syn = (struct fg_limit){ q->l[L_SYN].rate, q->l[L_SYN].burst };
	r->total = (struct fg_limit){ q->l[L_TOTAL].rate, q->l[L_TOTAL].burst };
	r->action = q->monitor ? FG_ACT_MONITOR : FG_ACT_DROP;
	/* one thread, one bucket: writing the live slot directly is safe and much cheaper */
	assert_int_equal(bpf_map_update_elem(f->m.config, &slot, cfg, BPF_ANY), 0);
	/* a fresh bucket: the source's last one (a run of more than SOURCES sequences) goes */
	key.addr[0] = 198;
	key.addr[1] = 18 + (src >> 16 & 1);
	key.addr[2] = src >> 8 & 0xff;
	key.addr[3] = src & 0xff;
	if (bpf_map_delete_elem(f->m.sources, &key) && errno != ENOENT)
		fail_msg("delete bucket: %s", strerror(errno));
	if (q->l[L_TOTAL].rate)
		assert_int_equal(bpf_map_update_elem(f->m.totals, &zero, &zt, BPF_ANY), 0);
	if (check_reasons)
		assert_int_equal(fx_counters(f, c0), 0);
	for (i = 0; i < q->n_steps; i++) {
		struct step *s = &q->steps[i];
		__u64 j, pass = s->want[FG_R_PASS] + s->want[FG_R_MONITOR];

		assert_true(step_frame(p, s, src));
		fx_set_now(f, s->t);
		for (k = 0; k <= FG_R_DROP_LAST; k++)
			total[k] += s->want[k];
		if (s->n > SINGLE_MAX) {
			pass0 = fx_counter(f, FG_R_PASS);
			assert_int_equal(fx_run(f, p->b, p->len, s->n, &ret), 0);
			pass1 = fx_counter(f, FG_R_PASS);
			if (pass1 - pass0 == s->want[FG_R_PASS])
				continue;
			snprintf(why, sizeof(why), "step %d: program admitted %llu, model %llu", i,
				 (unsigned long long)(pass1 - pass0),
				 (unsigned long long)s->want[FG_R_PASS]);
			seq_print(q, i, why);
			return 0;
		}
		/* one by one: the first `pass` packets pass, the rest drop (or pass, monitored) */
		for (j = 0; j < s->n; j++) {
			assert_int_equal(fx_run(f, p->b, p->len, 1, &ret), 0);
			if (ret == (j < pass ? XDP_PASS : XDP_DROP))
				continue;
			snprintf(why, sizeof(why), "step %d, packet %llu: program returned %u", i,
				 (unsigned long long)j, ret);
			seq_print(q, i, why);
			return 0;
		}
	}
	for (k = 0; k <= FG_R_DROP_LAST; k++)
		all_total[k] += total[k];
	if (!check_reasons)
		return 1;
	/* which limit said no, by reason */
	assert_int_equal(fx_counters(f, c1), 0);
	for (k = 0; k <= FG_R_DROP_LAST; k++) {
		if (c1[k].packets - c0[k].packets == total[k])
			continue;
		snprintf(why, sizeof(why), "sequence total of %s: program %llu, model %llu",
			 fg_counter_name(k), (unsigned long long)(c1[k].packets - c0[k].packets),
			 (unsigned long long)total[k]);
		seq_print(q, q->n_steps - 1, why);
		return 0;
	}
	return 1;
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static void test_rate_exact(void **state)
{
	const char *env = getenv("FG_RATE_SEQS");
	__u64 seed = fx_seed("test_rate"), n = env ? strtoull(env, NULL, 0) : N_SEQS_DEFAULT, i;
	struct fx_pkt *p = malloc(sizeof(*p));
	struct seq *q = calloc(1, sizeof(*q));
	__u64 steps = 0, hits = 0, kinds[N_LIMITS] = {}, stale = 0, idle = 0;
	struct fg_count c0[N_HZ][FG_COUNTER_MAX], c1[FG_COUNTER_MAX];
	__u64 got[FG_R_DROP_LAST + 1] = {};
	int k, h, bad = 0;

	assert_non_null(p);
	assert_non_null(q);
	pin_cpu(0); /* one CPU: per-source counters are not atomic */
	for (h = 0; h < (int)N_HZ; h++)
		assert_int_equal(fx_counters(&fxs[h], c0[h]), 0);
	for (k = 0; k < N_LIMITS; k++)
		mpq_init(q->l[k].tat);
	for (i = 0; i < n && !bad; i++) {
		__u64 s = seed ^ (i * 0x9e3779b97f4a7c15ULL);
		int several = 0;

		seq_draw(q, fx_rand(&s));
		steps += q->n_steps;
		for (k = 0; k < q->n_steps; k++) {
			const struct step *st = &q->steps[k];
			__u64 prev = k ? q->steps[k - 1].t : q->t0;

			hits += st->want[FG_R_PASS] < st->n;
			stale += st->t < prev;
			idle += st->t > prev && st->t - prev > (1ULL << 62) / 100000000000ULL;
		}
		for (k = 0; k < N_LIMITS; k++) {
			kinds[k] += !!q->l[k].rate;
			several += !!q->l[k].rate;
		}
		if (!seq_run(q, i % SOURCES, p, several > 1 || i % 64 == 0)) {
			print_error("  sequence %llu of run seed %llu (FG_SEED=%llu)\n",
				    (unsigned long long)i, (unsigned long long)seed,
				    (unsigned long long)seed);
			bad = 1;
		}
	}
	printf("# %llu sequences, %llu steps, %llu packets (%llu in %llu long drains), %llu steps "
	       "over a limit, %llu stale steps, %llu long idle steps; limits: pps %llu bps %llu "
	       "syn %llu total %llu\n",
	       (unsigned long long)i, (unsigned long long)steps, (unsigned long long)packets_drawn,
	       (unsigned long long)big_packets, (unsigned long long)big_drains,
	       (unsigned long long)hits, (unsigned long long)stale, (unsigned long long)idle,
	       (unsigned long long)kinds[0], (unsigned long long)kinds[1],
	       (unsigned long long)kinds[2], (unsigned long long)kinds[3]);
	/* every verdict of the run by reason, against the model */
	for (h = 0; !bad && h < (int)N_HZ; h++) {
		assert_int_equal(fx_counters(&fxs[h], c1), 0);
		for (k = 0; k <= FG_R_DROP_LAST; k++)
			got[k] += c1[k].packets - c0[h][k].packets;
	}
	for (k = 0; !bad && k <= FG_R_DROP_LAST; k++)
		if (got[k] != all_total[k]) {
			print_error("run total of %s: program %llu, model %llu\n", fg_counter_name(k),
				    (unsigned long long)got[k], (unsigned long long)all_total[k]);
			bad = 1;
		}
	for (k = 0; k < N_LIMITS; k++)
		mpq_clear(q->l[k].tat);
	free(q);
	free(p);
	assert_int_equal(bad, 0);
	assert_true(n < N_SEQS_DEFAULT || hits > n / 4); /* the sequences do reach the limits */
}

/* ---- concurrency: every CPU on one bucket, clock frozen ---- */

struct hammer {
	pthread_t thread;
	int cpu;		/* CPU this thread runs on */
	struct fx *f;		/* program */
	const struct fx_pkt *p; /* frame to send */
	__u32 rounds, repeat;	/* test runs and packets per run */
	pthread_barrier_t *start;
	int err; /* first error */
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	__u32 i, ret;

	h->err = pin_cpu(h->cpu);
	pthread_barrier_wait(h->start);
	for (i = 0; i < h->rounds && !h->err; i++)
		h->err = fx_run(h->f, h->p->b, h->p->len, h->repeat, &ret);
	return NULL;
}

/* All CPUs send `per_cpu` packets each; returns how many the program passed. */
static __u64 hammer(struct fx *f, struct fx_pkt *frames, int ncpu, __u32 per_cpu)
{
	struct hammer *h = calloc(ncpu, sizeof(*h));
	pthread_barrier_t start;
	__u64 before = fx_counter(f, FG_R_PASS);
	int i;

	assert_non_null(h);
	pthread_barrier_init(&start, NULL, ncpu);
	for (i = 0; i < ncpu; i++) {
		h[i] = (struct hammer){ .cpu = i,
					.f = f,
					.p = &frames[i],
					.rounds = 20,
					.repeat = per_cpu / 20,
					.start = &start };
		assert_int_equal(pthread_create(&h[i].thread, NULL, hammer_run, &h[i]), 0);
	}
	for (i = 0; i < ncpu; i++) {
		pthread_join(h[i].thread, NULL);
		assert_int_equal(h[i].err, 0);
	}
	pthread_barrier_destroy(&start);
	free(h);
	return fx_counter(f, FG_R_PASS) - before;
}

static void test_concurrency(void **state)
{
	struct fx *f = &fxs[2];
	struct fg_rule *r = &base_rs->cfg.rules[FG_RULE_DEFAULT];
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN), i, round;
	struct fx_pkt *frames = calloc(ncpu, sizeof(*frames));
	__u32 per_cpu = 200000, zero = 0;
	const __u64 burst = 100000;
	struct fg_src_key key;

	assert_non_null(frames);
	for (round = 0; round < 3; round++) {
		struct fg_total zt = {};
		__u64 passed, lost;

		fx_ruleset_init(base_rs, f->hz);
		r->plen4 = 32;
		if (round == 0) {
			r->pps = (struct fg_limit){ 1, burst };
		} else if (round == 1) {
			r->bps = (struct fg_limit){ 8, burst * 100 }; /* 100-byte frames */
		} else {
			r->total = (struct fg_limit){ 1, burst }; /* one endpoint, a source per CPU */
		}
		if (round != 0)
			r->pps = (struct fg_limit){ 0, 0 };
		r->syn = (struct fg_limit){ 0, 0 };
		assert_int_equal(fx_commit(f, base_rs), 0);
		assert_int_equal(bpf_map_update_elem(f->m.totals, &zero, &zt, BPF_ANY), 0);
		fx_set_now(f, 5000000 + round);
		for (i = 0; i < ncpu; i++) {
			char src[32];
			struct fx_spec s = { .family = 6,
					     .src = src,
					     .dport = 80,
					     .tcp_flags = FX_TCP_ACK,
					     .payload = 100 - 74 };

			snprintf(src, sizeof(src), "2001:db8:c0::%x", round == 2 ? i + 1 : 1);
			assert_true(fx_build(&frames[i], &s));
		}
		lost = fx_counter(f, FG_C_LOST_RACE);
		passed = hammer(f, frames, ncpu, per_cpu);
		lost = fx_counter(f, FG_C_LOST_RACE) - lost;
		printf("# %s: %d CPUs x %u packets, burst %llu: %llu passed, %llu of them "
		       "uncharged "
		       "on a lost race\n",
		       round == 0   ? "pps"
		       : round == 1 ? "bps"
				    : "endpoint total",
		       ncpu, per_cpu, (unsigned long long)burst, (unsigned long long)passed,
		       (unsigned long long)lost);
		/* a packet whose compare-and-swap lost 16 times in a row passes uncharged (never
		 * a drop): the charged ones are the burst exactly, and races stay rare */
		assert_int_equal(passed - lost, burst);
		assert_true(lost <= burst / 100);
		while (!bpf_map_get_next_key(f->m.sources, NULL, &key))
			assert_int_equal(bpf_map_delete_elem(f->m.sources, &key), 0);
	}
	free(frames);
}

static int group_setup(void **state)
{
	size_t i;
	int err;

	base_rs = malloc(sizeof(*base_rs));
	if (!base_rs)
		return -1;
	for (i = 0; i < N_HZ; i++) {
		err = fx_open(&fxs[i], hzs[i], 4096);
		if (err) {
			fprintf(stderr, "error: load the program (HZ %llu): %s\n",
				(unsigned long long)hzs[i], strerror(-err));
			return -1;
		}
		fx_ruleset_init(base_rs, hzs[i]);
		if (fx_commit(&fxs[i], base_rs))
			return -1;
	}
	fx_ruleset_init(base_rs, 1);
	fg_ruleset_finish(base_rs); /* masks of the default rule: /32 and /64 */
	return 0;
}

static int group_teardown(void **state)
{
	size_t i;

	for (i = 0; i < N_HZ; i++)
		fx_close(&fxs[i]);
	free(base_rs);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_exact),
		cmocka_unit_test(test_concurrency),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
