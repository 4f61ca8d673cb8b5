// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * test_diff.c: differential test of the XDP program against a reference
 * model written here from DESIGN.md's parser rules and enum fg_counter
 * (no bpf/ code). Seeded random frames, valid and mutated (cut short,
 * linear part cut, lying length fields, VLAN 0..4 tags, IPv6 chains 0..10,
 * fragments, ARP, neighbour discovery, random bytes), run one by one; each
 * verdict must match, and so must the reasons and informational counters
 * (read every FG_DIFF_CHUNK frames, default 8).
 *
 * The rule set makes the rules visible in the verdicts: endpoint rules
 * aggregated to /0 with small limits (pps, bps, SYN, monitor, endpoint
 * total), a /32 ban rule, allow/deny/manual-ban lists; the clock moves one
 * tick (1 ms) per frame, and the model keeps the same state in integer
 * milliseconds.
 *
 * FG_SEED=N replays a run, FG_DIFF_FRAMES=N changes the number of frames.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

#define HZ	     1000ULL
#define T0	     (1ULL << 32)
#define N_FRAMES     100000
#define LINEAR_MAX   3072 /* linear part given to frames longer than this */
#define BAN_TICKS    5000
#define BAN_MAX	     20000
#define MANUAL_UNTIL (T0 + 50000) /* the manual ban of 198.18.202.0/24 ends mid-run */

static struct fx fx;

/* ---- the rule set, as the model sees it ---- */

enum { R_DEF, R_HTTP, R_DNS, R_RANGE, R_UDP5000, R_HTTPS, R_SSH, N_RULES };

/* A limit in milliseconds: a packet costs `ms_per_token` x tokens, the bucket holds burst_ms. */
struct mlim {
	__u64 rate, burst; /* as configured: per second, tokens (bytes for bps) */
};

struct mrule {
	__u8 proto;   /* 0 default, else TCP or UDP */
	__u16 lo, hi; /* destination ports */
	struct mlim pps, bps, syn, total;
	__u8 plen4, plen6; /* aggregation */
	__u8 action;	   /* enum fg_action */
};

static const struct mrule mrules[N_RULES] = {
	[R_DEF] = { 0, 0, 0, .plen4 = 32, .plen6 = 64 },
	[R_HTTP] = { FX_IP_TCP, 80, 80, .pps = { 1, 3 }, .plen4 = 0, .plen6 = 0 },
	[R_DNS] = { FX_IP_UDP, 53, 60, .pps = { 2, 2 }, .action = FG_ACT_MONITOR },
	[R_RANGE] = { FX_IP_TCP, 1000, 2000, .syn = { 1, 2 } },
	[R_UDP5000] = { FX_IP_UDP, 5000, 5000, .bps = { 800, 3000 } },
	[R_HTTPS] = { FX_IP_TCP, 443, 443, .total = { 1, 4 }, .plen4 = 32, .plen6 = 64 },
	[R_SSH] = { FX_IP_TCP, 22, 22, .pps = { 1, 1 }, .plen4 = 32, .plen6 = 128,
		    .action = FG_ACT_BAN },
};

/* Allow, deny and manual-ban prefixes. */
struct mlist {
	const char *cidr;
	__u8 kind;     /* enum fg_list_kind */
	__u64 expires; /* manual ban end, 0 never */
};

static const struct mlist mlists[] = {
	{ "198.18.200.0/24", FG_LIST_DENY, 0 },
	{ "198.18.201.0/24", FG_LIST_ALLOW, 0 },
	{ "198.18.202.0/24", FG_LIST_BAN, MANUAL_UNTIL },
	{ "198.18.201.128/25", FG_LIST_BAN, 0 },
	{ "2001:db8:bad::/48", FG_LIST_BAN, 0 },
	{ "2001:db8:bad:1::/64", FG_LIST_DENY, 0 },
	{ "2001:db8:a11::/48", FG_LIST_ALLOW, 0 },
};
#define N_LISTS (sizeof(mlists) / sizeof(mlists[0]))

struct mprefix {
	__u8 family, plen, addr[16];
};
static struct mprefix mlist_pfx[N_LISTS];

static int prefix_parse(const char *cidr, struct mprefix *p)
{
	char a[64], *slash, *end;
	long plen;

	snprintf(a, sizeof(a), "%s", cidr);
	slash = strchr(a, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	memset(p, 0, sizeof(*p));
	errno = 0;
	plen = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || plen < 0 || plen > 128)
		return -EINVAL;
	p->plen = plen;
	p->family = strchr(a, ':') ? 6 : 4;
	return inet_pton(p->family == 6 ? AF_INET6 : AF_INET, a, p->addr) == 1 ? 0 : -EINVAL;
}

static int prefix_covers(const struct mprefix *p, __u8 family, const __u8 *addr)
{
	int bits = p->plen, i;

	if (p->family != family)
		return 0;
	for (i = 0; bits > 0; i++, bits -= 8) {
		__u8 m = bits >= 8 ? 0xff : (__u8)(0xff << (8 - bits));

		if ((addr[i] & m) != (p->addr[i] & m))
			return 0;
	}
	return 1;
}

/* ---- the model: parser ---- */

struct mpkt {
	int reason;    /* FG_R_PASS: go on to lists and rules; else the verdict */
	__u32 note;    /* FG_C_FRAGMENT or FG_C_IP6_LONG_CHAIN, 0 none */
	__u8 family;   /* 4 or 6 */
	__u8 src[16];  /* source address */
	__u8 proto;    /* L4 protocol */
	int has_ports; /* ports read */
	__u16 dport;   /* destination port */
	int syn;       /* SYN without ACK */
	__u32 len;     /* bytes counted: the linear part, unless the IP packet claims more */
};

static __u16 rd16(const __u8 *b, __u32 off)
{
	return (__u16)(b[off] << 8 | b[off + 1]);
}

/* TCP/UDP header of l4len bytes (what the IP header says) at off; lin bytes readable. */
static void m_l4(const __u8 *b, __u32 lin, __u32 off, __u32 l4len, struct mpkt *m)
{
	if (m->proto == FX_IP_TCP) {
		__u32 doff;

		if (l4len < 20 || off + 20 > lin) {
			m->reason = FG_R_TRUNC_L4;
			return;
		}
		doff = b[off + 12] >> 4;
		if (doff < 5 || doff * 4 > l4len) {
			m->reason = FG_R_TCP_DOFF;
			return;
		}
		m->has_ports = 1;
		m->dport = rd16(b, off + 2);
		m->syn = (b[off + 13] & FX_TCP_SYN) && !(b[off + 13] & FX_TCP_ACK);
	} else if (m->proto == FX_IP_UDP) {
		if (l4len < 8 || off + 8 > lin) {
			m->reason = FG_R_TRUNC_L4;
			return;
		}
		m->has_ports = 1;
		m->dport = rd16(b, off + 2);
	}
}

static int is_ext(__u8 nh)
{
	return nh == FX_IP_HOPOPTS || nh == FX_IP_ROUTING || nh == FX_IP_FRAGMENT ||
	       nh == FX_IP_DSTOPTS || nh == FX_IP_AH;
}

/*
 * The parser rules: len is the whole frame, lin the bytes of it the
 * program can read directly (a multi-buffer frame's linear part). A
 * header that does not fit in lin is truncated; lengths are checked
 * against len.
 */
static void model_parse(const __u8 *b, __u32 len, __u32 lin, struct mpkt *m)
{
	__u32 off = 14, tags, ihl, tot, plen, left, i;
	__u16 et;
	__u8 nh, hlim;

	memset(m, 0, sizeof(*m));
	m->len = lin;
	if (lin < 14) {
		m->reason = FG_R_TRUNC_ETH;
		return;
	}
	et = rd16(b, 12);
	for (tags = 0; et == FX_ETH_8021Q || et == FX_ETH_8021AD; tags++) {
		if (tags == FG_VLAN_MAX) {
			m->reason = FG_R_VLAN_DEPTH;
			return;
		}
		if (off + 4 > lin) {
			m->reason = FG_R_TRUNC_VLAN;
			return;
		}
		et = rd16(b, off + 2);
		off += 4;
	}
	if (et == FX_ETH_IP4) {
		if (off + 20 > lin) {
			m->reason = FG_R_TRUNC_IP4;
			return;
		}
		if (b[off] >> 4 != 4) {
			m->reason = FG_R_IP4_VERSION;
			return;
		}
		ihl = (b[off] & 15) * 4;
		if (ihl < 20) {
			m->reason = FG_R_IP4_IHL;
			return;
		}
		tot = rd16(b, off + 2);
		if (tot > lin - off)
			m->len = len; /* the frame is measured only past the linear part */
		if (tot < ihl || tot > len - off) {
			m->reason = FG_R_IP4_TOTLEN;
			return;
		}
		m->family = 4;
		memcpy(m->src, b + off + 12, 4);
		m->proto = b[off + 9];
		if (rd16(b, off + 6) & 0x1fff) {
			m->note = FG_C_FRAGMENT;
			return;
		}
		m_l4(b, lin, off + ihl, tot - ihl, m);
		return;
	}
	if (et != FX_ETH_IP6) {
		m->reason = FG_R_NON_IP;
		return;
	}
	if (off + 40 > lin) {
		m->reason = FG_R_TRUNC_IP6;
		return;
	}
	if (b[off] >> 4 != 6) {
		m->reason = FG_R_IP6_VERSION;
		return;
	}
	plen = rd16(b, off + 4);
	nh = b[off + 6];
	if ((plen == 0 && nh == FX_IP_HOPOPTS) || plen + 40 > lin - off)
		m->len = len; /* the frame is measured only past the linear part */
	if (plen == 0 && nh == FX_IP_HOPOPTS) {
		plen = len - off - 40; /* jumbogram: the frame gives the length */
	} else if (plen + 40 > len - off) {
		m->reason = FG_R_IP6_PAYLEN;
		return;
	}
	m->family = 6;
	memcpy(m->src, b + off + 8, 16);
	hlim = b[off + 7];
	off += 40;
	left = plen;
	for (i = 0; i < FG_IP6_EXT_MAX && is_ext(nh); i++) {
		__u32 elen;

		if (left < 8 || off + 8 > lin) {
			m->reason = FG_R_TRUNC_EXT;
			return;
		}
		if (nh == FX_IP_FRAGMENT) {
			if (rd16(b, off + 2) & 0xfff8) {
				m->proto = b[off];
				m->note = FG_C_FRAGMENT;
				return;
			}
			elen = 8;
		} else if (nh == FX_IP_AH) {
			elen = (b[off + 1] + 2) * 4;
		} else {
			elen = (b[off + 1] + 1) * 8;
		}
		if (elen > left) {
			m->reason = FG_R_TRUNC_EXT;
			return;
		}
		nh = b[off];
		off += elen;
		left -= elen;
	}
	if (is_ext(nh)) {
		m->note = FG_C_IP6_LONG_CHAIN; /* the rest of the chain is not walked: no ports */
		return;
	}
	m->proto = nh;
	if (nh == FX_IP_ICMP6) {
		/* neighbour discovery: types 133..137, code 0, hop limit 255, no extension header */
		if (left >= 2 && off + 2 <= lin && b[off] >= 133 && b[off] <= 137 && !b[off + 1] &&
		    hlim == 255 && !i)
			m->reason = FG_R_ND;
		return;
	}
	m_l4(b, lin, off, left, m);
}

/* ---- the model: lists, rules, limits, bans ---- */

struct mstate {
	int used;
	__u8 rule, family, addr[16]; /* key: rule and masked source */
	int full[3];		     /* pps, bps, syn: never used */
	__u64 tat[3];		     /* their theoretical arrival times, ms */
};

struct mban {
	int used;
	__u8 family, addr[16];
	__u64 expires;
	__u32 strikes;
};

#define M_SLOTS (1U << 18)
static struct mstate *mstates;
static struct mban *mbans;
static int mtotal_full[N_RULES];
static __u64 mtotal_tat[N_RULES];

static __u32 m_hash(const __u8 *k, size_t n)
{
	__u32 h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

static void mask_addr(__u8 *dst, const __u8 *src, __u8 family, __u8 plen)
{
	int i, bits = plen;

	memset(dst, 0, 16);
	for (i = 0; i < (family == 4 ? 4 : 16) && bits > 0; i++, bits -= 8)
		dst[i] = src[i] & (bits >= 8 ? 0xff : (__u8)(0xff << (8 - bits)));
}

/* The bucket of src under rule, created (and noted, FG_C_SOURCE_NEW) when new. */
static struct mstate *m_bucket(__u8 rule, __u8 family, const __u8 *src, __u32 *notes)
{
	const struct mrule *r = &mrules[rule];
	__u8 k[18];
	__u32 h;

	k[0] = rule;
	k[1] = family;
	mask_addr(k + 2, src, family, family == 4 ? r->plen4 : r->plen6);
	for (h = m_hash(k, sizeof(k)) % M_SLOTS;; h = (h + 1) % M_SLOTS) {
		struct mstate *s = &mstates[h];

		if (!s->used) {
			s->used = 1;
			s->rule = rule;
			s->family = family;
			memcpy(s->addr, k + 2, 16);
			s->full[0] = s->full[1] = s->full[2] = 1;
			*notes |= FX_NOTE(FG_C_SOURCE_NEW);
			return s;
		}
		if (s->rule == rule && s->family == family && !memcmp(s->addr, k + 2, 16))
			return s;
	}
}

static struct mban *m_ban(__u8 family, const __u8 *src)
{
	__u8 k[17];
	__u32 h;

	k[0] = family;
	mask_addr(k + 1, src, family, family == 4 ? mrules[R_SSH].plen4 : mrules[R_SSH].plen6);
	for (h = m_hash(k, sizeof(k)) % M_SLOTS;; h = (h + 1) % M_SLOTS) {
		struct mban *b = &mbans[h];

		if (!b->used) {
			b->used = 1;
			b->family = family;
			memcpy(b->addr, k + 1, 16);
			return b;
		}
		if (b->family == family && !memcmp(b->addr, k + 1, 16))
			return b;
	}
}

/*
 * GCRA in microseconds: a token (a packet, or a bit for bps) takes
 * 10^6 / rate us, an integer for this rule set's rates. Returns 1 and
 * consumes when the packet conforms.
 */
static int m_conform(int *full, __u64 *tat, __u64 now_ticks, const struct mlim *l, __u64 tokens,
		     int bits)
{
	__u64 per = 1000000 / l->rate, cost = tokens * per, burst = (bits ? 8 : 1) * l->burst * per;
	__u64 now = now_ticks * (1000000 / HZ), t = *full || *tat < now ? now : *tat;

	assert_int_equal(1000000 % l->rate, 0);
	if (t + cost - now > burst)
		return 0;
	*tat = t + cost;
	*full = 0;
	return 1;
}

static int m_rule(const struct mpkt *m)
{
	int i;

	if (!m->has_ports)
		return R_DEF;
	for (i = 1; i < N_RULES; i++)
		if (mrules[i].proto == m->proto && m->dport >= mrules[i].lo &&
		    m->dport <= mrules[i].hi)
			return i;
	return R_DEF;
}

/* Expected reason and notes of a frame of len bytes at tick now (updates the model's state). */
static int model_verdict(const struct mpkt *m, __u32 len, __u64 now, __u32 *notes)
{
	const struct mrule *r;
	struct mstate *s;
	struct mban *ban;
	int strongest = 0, rule, reason = FG_R_PASS;
	size_t i;

	*notes = 0;
	if (m->reason != FG_R_PASS)
		return m->reason;
	if (m->note)
		*notes |= FX_NOTE(m->note);
	/* lists: the strongest kind covering the source decides (allow > deny > ban) */
	for (i = 0; i < N_LISTS; i++)
		if (prefix_covers(&mlist_pfx[i], m->family, m->src) && mlists[i].kind > strongest)
			strongest = mlists[i].kind;
	if (strongest == FG_LIST_ALLOW)
		return FG_R_ALLOW;
	if (strongest == FG_LIST_DENY)
		return FG_R_DENY;
	if (strongest == FG_LIST_BAN) {
		for (i = 0; i < N_LISTS; i++)
			if (mlists[i].kind == FG_LIST_BAN &&
			    prefix_covers(&mlist_pfx[i], m->family, m->src) &&
			    (!mlists[i].expires || mlists[i].expires > now))
				return FG_R_BANNED;
	}
	rule = m_rule(m);
	r = &mrules[rule];
	/* the bucket comes first (created even for a banned source), then its ban state */
	s = m_bucket(rule, m->family, m->src, notes);
	/* an automatic ban of the source drops on every rule */
	ban = m_ban(m->family, m->src);
	if (ban->strikes && ban->expires > now)
		return FG_R_BANNED;
	if (r->pps.rate && !m_conform(&s->full[0], &s->tat[0], now, &r->pps, 1, 0))
		reason = FG_R_RATE_PPS;
	else if (r->bps.rate && !m_conform(&s->full[1], &s->tat[1], now, &r->bps, 8ULL * len, 1))
		reason = FG_R_RATE_BPS;
	else if (m->syn && r->syn.rate && !m_conform(&s->full[2], &s->tat[2], now, &r->syn, 1, 0))
		reason = FG_R_RATE_SYN;
	else if (r->total.rate &&
		 !m_conform(&mtotal_full[rule], &mtotal_tat[rule], now, &r->total, 1, 0))
		reason = FG_R_ENDPOINT;
	if (reason == FG_R_PASS)
		return FG_R_PASS;
	if (r->action == FG_ACT_MONITOR)
		return FG_R_MONITOR;
	if (r->action == FG_ACT_BAN && reason != FG_R_ENDPOINT) {
		__u64 dur = BAN_TICKS;
		__u32 k;

		ban->strikes++;
		for (k = 1; k < ban->strikes && dur < BAN_MAX; k++)
			dur *= 2;
		ban->expires = now + (dur > BAN_MAX ? BAN_MAX : dur);
		*notes |= FX_NOTE(FG_C_BANS);
	}
	return reason;
}

/* ---- the generator ---- */

static const char *pick_src4(__u64 *r, char *buf, size_t n)
{
	int k = fx_range(r, 0, 99);

	if (k < 55)
		snprintf(buf, n, "198.%u.%u.%u", 18 + (unsigned)fx_range(r, 0, 1),
			 (unsigned)fx_range(r, 0, 255), (unsigned)fx_range(r, 0, 255));
	else if (k < 63)
		snprintf(buf, n, "198.18.200.%u", (unsigned)fx_range(r, 0, 255));
	else if (k < 71)
		snprintf(buf, n, "198.18.201.%u", (unsigned)fx_range(r, 0, 255));
	else if (k < 79)
		snprintf(buf, n, "198.18.202.%u", (unsigned)fx_range(r, 0, 255));
	else
		snprintf(buf, n, "198.18.7.%u", (unsigned)fx_range(r, 1, 4)); /* regulars */
	return buf;
}

static const char *pick_src6(__u64 *r, char *buf, size_t n)
{
	int k = fx_range(r, 0, 99);

	if (k < 55)
		snprintf(buf, n, "2001:db8:%x:%x::%x", (unsigned)fx_range(r, 0, 0xffff),
			 (unsigned)fx_range(r, 0, 0xffff), (unsigned)fx_range(r, 0, 0xffff));
	else if (k < 63)
		snprintf(buf, n, "2001:db8:bad:%x::%x", (unsigned)fx_range(r, 0, 3),
			 (unsigned)fx_range(r, 0, 0xffff));
	else if (k < 71)
		snprintf(buf, n, "2001:db8:a11::%x", (unsigned)fx_range(r, 0, 0xffff));
	else
		snprintf(buf, n, "2001:db8:7::%x", (unsigned)fx_range(r, 1, 4));
	return buf;
}

static __u16 pick_dport(__u64 *r)
{
	static const __u16 ports[] = { 80,   80,   80,	 53,   60,   61,  52,  999, 1000, 1500,
				       2000, 2001, 5000, 5000, 4999, 443, 443, 22,  22,	  22 };
	int k = fx_range(r, 0, 99);

	if (k < 80)
		return ports[fx_range(r, 0, sizeof(ports) / sizeof(ports[0]) - 1)];
	return fx_range(r, 0, 65535);
}

static __u8 pick_flags(__u64 *r)
{
	int k = fx_range(r, 0, 9);

	return k < 4   ? FX_TCP_SYN
	       : k < 7 ? FX_TCP_ACK
	       : k < 8 ? FX_TCP_SYN | FX_TCP_ACK
		       : (__u8)fx_rand(r);
}

/* A frame as a sender would build it. */
static void gen_valid(__u64 *r, struct fx_pkt *p)
{
	static const __u8 ext_types[] = { FX_IP_HOPOPTS, FX_IP_DSTOPTS, FX_IP_ROUTING, FX_IP_AH,
					  FX_IP_FRAGMENT };
	struct fx_spec s = {};
	char src[64];
	int k, i;

	k = fx_range(r, 0, 99);
	s.vlans = k < 55 ? 0 : k < 75 ? 1 : k < 90 ? 2 : k < 97 ? 3 : 4;
	for (i = 0; i < s.vlans; i++)
		s.tpid[i] = fx_range(r, 0, 1) ? FX_ETH_8021Q : FX_ETH_8021AD;
	k = fx_range(r, 0, 99);
	s.family = k < 45 ? 4 : k < 92 ? 6 : 0;
	if (!s.family) {
		static const __u16 types[] = { FX_ETH_ARP, FX_ETH_LLDP, 0x0000, 0x88b5, 0x8847 };

		s.ethertype = types[fx_range(r, 0, 4)];
		s.payload = fx_range(r, 0, 60);
		assert_true(fx_build(p, &s));
		return;
	}
	s.src = s.family == 4 ? pick_src4(r, src, sizeof(src)) : pick_src6(r, src, sizeof(src));
	k = fx_range(r, 0, 99);
	s.proto = k < 50   ? FX_IP_TCP
		  : k < 80 ? FX_IP_UDP
		  : k < 90 ? (s.family == 4 ? FX_IP_ICMP : FX_IP_ICMP6)
			   : (__u8)(fx_range(r, 0, 1) ? FX_IP_GRE : fx_rand(r));
	s.dport = pick_dport(r);
	s.tcp_flags = pick_flags(r);
	s.icmp_type = fx_range(r, 0, 1) ? fx_range(r, 128, 140) : (__u8)fx_rand(r);
	s.hop_limit = fx_range(r, 0, 2) ? 64 : 255; /* 255: what neighbour discovery needs */
	k = fx_range(r, 0, 99);
	s.payload = k < 80   ? fx_range(r, 0, 64)
		    : k < 99 ? fx_range(r, 0, 1400)
			     : fx_range(r, 8000, 9000);
	if (s.family == 4) {
		s.ip4_opt_words = fx_range(r, 0, 4) ? 0 : fx_range(r, 1, 10);
		k = fx_range(r, 0, 9);
		s.frag = k < 8 ? FX_FRAG_NONE : k < 9 ? FX_FRAG_FIRST : FX_FRAG_LATER;
	} else {
		k = fx_range(r, 0, 99);
		s.n_ext = k < 40 ? 0 : k < 85 ? fx_range(r, 1, 8) : fx_range(r, 9, 10);
		for (i = 0; i < s.n_ext; i++)
			s.ext[i] = ext_types[fx_range(r, 0, 4)];
		s.frag = fx_range(r, 0, 1) ? FX_FRAG_FIRST : FX_FRAG_LATER;
	}
	if (!fx_build(p, &s)) {
		s.payload = 0;
		assert_true(fx_build(p, &s));
	}
}

/* Bytes as they come: mostly random, some with an IP or VLAN ethertype. */
static void gen_random(__u64 *r, struct fx_pkt *p)
{
	static const __u16 types[] = { FX_ETH_IP4, FX_ETH_IP6, FX_ETH_8021Q, FX_ETH_8021AD };
	__u32 i;

	memset(p, 0, sizeof(*p));
	p->len = fx_range(r, 14, 200);
	for (i = 0; i < p->len; i++)
		p->b[i] = fx_rand(r);
	if (fx_range(r, 0, 1))
		fx_put16(p->b + 12, types[fx_range(r, 0, 3)]);
	if (fx_range(r, 0, 1) && p->len > 15)
		p->b[14] = fx_range(r, 0, 1) ? 0x45 : 0x60; /* plausible IP version */
	p->l3 = 14;
	p->l4 = p->len;
}

/* Lies and damage, one or more. linear is the readable part (may be cut too). */
static void mutate(__u64 *r, struct fx_pkt *p, __u32 *linear)
{
	int n = fx_range(r, 1, 3), v6 = (p->b[p->l3] >> 4) == 6;
	__u32 hdr = p->l4 + 24 < p->len ? p->l4 + 24 : p->len, at;

	while (n--) {
		switch (fx_range(r, 0, 11)) {
		case 0: /* frame cut short (the kernel refuses less than Ethernet) */
			p->len = fx_range(r, 14, p->len);
			break;
		case 1: /* linear part cut: the rest arrives as fragments */
			*linear = fx_range(r, 0, p->len);
			break;
		case 2: /* IP length field: anything */
			if (p->l3 + 6 <= p->len)
				fx_put16(p->b + p->l3 + (v6 ? 4 : 2), fx_rand(r));
			break;
		case 3: /* IP length field: near the truth */
			if (p->l3 + 6 <= p->len)
				fx_set_iplen(p, p->len + fx_range(r, 0, 40) - 20);
			break;
		case 4: /* flipped bits in the headers */
		case 5:
			if (hdr) {
				at = fx_range(r, 0, hdr - 1);
				p->b[at] ^= 1 << fx_range(r, 0, 7);
			}
			break;
		case 6: /* version and IHL */
			if (p->l3 < p->len)
				p->b[p->l3] = fx_rand(r);
			break;
		case 7: /* TCP data offset */
			if (p->l4 + 12 < p->len)
				p->b[p->l4 + 12] = fx_rand(r) & 0xf0;
			break;
		case 8: /* extension length or next header */
			at = p->ext[fx_range(r, 0, 3)];
			if (at && at + 2 <= p->len)
				p->b[at + fx_range(r, 0, 1)] = fx_rand(r);
			break;
		case 9: /* fragment offset and flags */
			if (!v6 && p->l3 + 8 <= p->len)
				fx_put16(p->b + p->l3 + 6, fx_rand(r));
			else if (p->ext[0] && p->ext[0] + 4 <= p->len)
				fx_put16(p->b + p->ext[0] + 2, fx_rand(r));
			break;
		case 10: /* another VLAN tag where the ethertype was */
			fx_put16(p->b + p->l3 - 2, fx_range(r, 0, 1) ? FX_ETH_8021Q : FX_ETH_8021AD);
			break;
		default: /* a byte anywhere */
			p->b[fx_range(r, 0, p->len - 1)] = fx_rand(r);
		}
		if (*linear > p->len)
			*linear = p->len;
	}
}

/* ---- the run ---- */

struct rec {
	__u32 len, linear;
	int reason;
	__u32 notes, xdp;
	__u8 head[64];
};

static void print_rec(__u64 i, const struct rec *c)
{
	char hex[3 * 64 + 1];
	__u32 k, n = c->len < 64 ? c->len : 64;

	// cppcheck-suppress knownConditionTrueFalse ; false positive: recs get len before a print
	for (k = 0; k < n; k++)
		snprintf(hex + 3 * k, 4, "%02x ", c->head[k]);
	hex[3 * n] = '\0';
	print_error("  frame %llu: %u bytes (linear %u), model %s notes %#x, program returned %u\n"
		    "    %s\n",
		    (unsigned long long)i, c->len, c->linear, fx_name(c->reason), c->notes, c->xdp,
		    hex);
}

static void setup_rules(void)
{
	struct fg_ruleset *rs = malloc(sizeof(*rs));
	int i;

	assert_non_null(rs);
	fx_ruleset_init(rs, HZ);
	rs->cfg.events_per_sec = 1000000; /* every ban is an event: the model counts them */
	for (i = 0; i < N_RULES; i++) {
		const struct mrule *m = &mrules[i];
		struct fg_rule *r = &rs->cfg.rules[i];

		memset(r, 0, sizeof(*r));
		r->used = 1;
		r->proto = m->proto;
		r->port_lo = m->lo;
		r->port_hi = m->hi;
		r->pps = (struct fg_limit){ m->pps.rate, m->pps.burst };
		r->bps = (struct fg_limit){ m->bps.rate, m->bps.burst };
		r->syn = (struct fg_limit){ m->syn.rate, m->syn.burst };
		r->total = (struct fg_limit){ m->total.rate, m->total.burst };
		r->plen4 = m->plen4;
		r->plen6 = m->plen6;
		r->action = m->action;
		r->ban_ticks = BAN_TICKS;
		r->ban_mult = 2;
		r->ban_max_ticks = BAN_MAX;
	}
	assert_int_equal(fx_commit(&fx, rs), 0);
	free(rs);
	for (i = 0; i < (int)N_LISTS; i++) {
		struct fg_lpm_key k = {};
		struct fg_list_val v = { .kind = mlists[i].kind, .expires = mlists[i].expires };
		size_t j;

		assert_int_equal(prefix_parse(mlists[i].cidr, &mlist_pfx[i]), 0);
		/* the verdict userspace stores: the strongest kind of this prefix and its covers */
		v.verdict = v.kind;
		for (j = 0; j < N_LISTS; j++) {
			struct mprefix pj;

			assert_int_equal(prefix_parse(mlists[j].cidr, &pj), 0);
			if (pj.plen <= mlist_pfx[i].plen &&
			    prefix_covers(&pj, mlist_pfx[i].family, mlist_pfx[i].addr) &&
			    mlists[j].kind > v.verdict) {
				v.verdict = mlists[j].kind;
				v.expires = mlists[j].expires;
			}
		}
		if (v.verdict != FG_LIST_BAN)
			v.expires = 0;
		k.prefixlen = FG_LPM_HDR_BITS + mlist_pfx[i].plen;
		k.family = mlist_pfx[i].family;
		memcpy(k.addr, mlist_pfx[i].addr, 16);
		assert_int_equal(bpf_map_update_elem(fx.m.lists, &k, &v, BPF_ANY), 0);
		/* the counts and the longest prefix per family, as lists_write keeps them */
		if (k.family == 4) {
			fx.m.st->lists4++;
			if (mlist_pfx[i].plen > fx.m.st->list_plen4)
				fx.m.st->list_plen4 = mlist_pfx[i].plen;
		} else {
			fx.m.st->lists6++;
			if (mlist_pfx[i].plen > fx.m.st->list_plen6)
				fx.m.st->list_plen6 = mlist_pfx[i].plen;
		}
	}
	__atomic_fetch_add(&fx.m.st->list_gen, 1, __ATOMIC_RELEASE);
}

static int on_event(void *ctx, void *data, size_t size)
{
	(*(__u64 *)ctx)++;
	return 0;
}

static void test_differential(void **state)
{
	const char *env = getenv("FG_DIFF_FRAMES"), *cenv = getenv("FG_DIFF_CHUNK");
	__u64 seed = fx_seed("test_diff"), n = env ? strtoull(env, NULL, 0) : N_FRAMES, i, r;
	__u32 chunk = cenv ? strtoul(cenv, NULL, 0) : 8, fill = 0, k;
	struct fx_pkt *p = malloc(sizeof(*p));
	struct rec *recs = calloc(chunk ? chunk : 1, sizeof(*recs));
	struct fg_count c0[FG_COUNTER_MAX], c1[FG_COUNTER_MAX];
	__u64 want[FG_COUNTER_MAX] = {}, seen[FG_COUNTER_MAX] = {}, bans = 0, events = 0;
	__u64 kinds[3] = {}, damaged = 0;
	struct ring_buffer *rb;
	int bad = 0;

	assert_non_null(p);
	assert_non_null(recs);
	if (!chunk)
		chunk = 1;
	setup_rules();
	rb = ring_buffer__new(fx.m.events, on_event, &events, NULL);
	assert_non_null(rb);
	assert_int_equal(fx_counters(&fx, c0), 0);
	r = seed;
	for (i = 0; i < n && !bad; i++) {
		struct rec *c = &recs[fill++];
		struct mpkt m;
		__u32 linear, kind = fx_range(&r, 0, 99);
		__u64 now = T0 + i;

		if (kind < 80) {
			gen_valid(&r, p);
			kinds[0]++;
		} else if (kind < 93) {
			gen_random(&r, p);
			kinds[1]++;
		} else {
			gen_valid(&r, p);
			kinds[2]++;
		}
		linear = p->len;
		if (kind >= 93 || fx_range(&r, 0, 1)) {
			mutate(&r, p, &linear);
			damaged++;
		}
		if (linear > LINEAR_MAX)
			linear = LINEAR_MAX; /* what the kernel would keep linear anyway */
		model_parse(p->b, p->len, linear, &m);
		c->len = p->len;
		c->linear = linear;
		memcpy(c->head, p->b, sizeof(c->head));
		/* a verdict the parser gives counts the whole frame; past it, what the parser measured */
		c->reason = model_verdict(&m, m.reason == FG_R_PASS ? m.len : p->len, now, &c->notes);
		want[c->reason]++;
		for (k = FG_R_DROP_LAST + 1; k < FG_COUNTER_MAX; k++)
			want[k] += !!(c->notes & FX_NOTE(k));
		bans += !!(c->notes & FX_NOTE(FG_C_BANS));
		fx_set_now(&fx, now);
		assert_int_equal(fx_run_linear(&fx, p->b, p->len, linear, 1, &c->xdp), 0);
		if (c->xdp != (c->reason > FG_R_MONITOR ? XDP_DROP : XDP_PASS)) {
			print_error("differential: verdict differs (seed %llu, frame %llu)\n",
				    (unsigned long long)seed, (unsigned long long)i);
			print_rec(i, c);
			bad = 1;
		}
		if (fill < chunk && i + 1 < n)
			continue;
		/* reasons and notes of the chunk; ban events leave the ring before it fills */
		ring_buffer__consume(rb);
		assert_int_equal(fx_counters(&fx, c1), 0);
		for (k = 0; k < FG_COUNTER_MAX && !bad; k++) {
			seen[k] = c1[k].packets - c0[k].packets;
			if (seen[k] != want[k]) {
				print_error("differential: %s counted %llu, model %llu (seed %llu, "
					    "frames %llu..%llu; FG_SEED=%llu FG_DIFF_CHUNK=1 "
					    "finds the frame)\n",
					    fg_counter_name(k), (unsigned long long)seen[k],
					    (unsigned long long)want[k], (unsigned long long)seed,
					    (unsigned long long)(i + 1 - fill),
					    (unsigned long long)i, (unsigned long long)seed);
				for (__u32 j = 0; j < fill; j++)
					print_rec(i + 1 - fill + j, &recs[j]);
				bad = 1;
			}
		}
		fill = 0;
	}
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	printf("# %llu frames (%llu built, %llu random bytes; %llu damaged), %llu bans, %llu ban "
	       "events\n",
	       (unsigned long long)i, (unsigned long long)(kinds[0] + kinds[2]),
	       (unsigned long long)kinds[1], (unsigned long long)damaged, (unsigned long long)bans,
	       (unsigned long long)events);
	for (k = 0; k < FG_COUNTER_MAX; k++)
		if (want[k])
			printf("#   %-28s %llu\n", fg_counter_name(k), (unsigned long long)want[k]);
	free(recs);
	free(p);
	assert_int_equal(bad, 0);
	assert_int_equal(events, bans);
	/* the frames reach every verdict the program can give (the SYN proxy's, which the model
	 * does not know and its rules never enable, have test_synproxy.c) */
	for (k = 0; n >= N_FRAMES && k <= FG_R_DROP_LAST; k++)
		if (!want[k] && k != FG_R_SP_COOKIE && k != FG_R_SP_SYNACK &&
		    k != FG_R_SP_REFUSED && k != FG_R_SP_EXPIRED) {
			print_error("differential: no frame reached %s\n", fg_counter_name(k));
			fail();
		}
}

static int group_setup(void **state)
{
	int err = fx_open(&fx, HZ, 1U << 18); /* no bucket is evicted: the model forgets none */

	if (err) {
		fprintf(stderr, "error: load the program: %s\n", strerror(-err));
		return -1;
	}
	mstates = calloc(M_SLOTS, sizeof(*mstates));
	mbans = calloc(M_SLOTS, sizeof(*mbans));
	if (!mstates || !mbans)
		return -1;
	for (int i = 0; i < N_RULES; i++)
		mtotal_full[i] = 1;
	return 0;
}

static int group_teardown(void **state)
{
	fx_close(&fx);
	free(mstates);
	free(mbans);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
