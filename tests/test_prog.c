// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * test_prog.c: every verdict of the XDP program, as tables of {frame,
 * expected verdict, expected reason, rule charged} run through
 * BPF_PROG_TEST_RUN. Parser rules (VLAN depth, IPv4 and IPv6
 * malformations, extension chains, fragments, truncation at every offset),
 * lists (allow > deny > ban > rules), port ranges, the default rule, each
 * action, prefix aggregation, bans (expiry, escalation, the ring buffer),
 * endpoint totals and the SYN limit. DESIGN.md is the specification; the
 * expectations below are written from it and from enum fg_counter.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

#define HZ	   1000ULL	/* test clock: milliseconds */
#define T0	   (1ULL << 32) /* start of time: far from 0, like jiffies */
#define PASS	   XDP_PASS
#define DROP	   XDP_DROP
#define NOTE_FRAG  FX_NOTE(FG_C_FRAGMENT)
#define NOTE_CHAIN FX_NOTE(FG_C_IP6_LONG_CHAIN)

/* Rule indexes of the parser rule set (setup_parser_rules). */
enum { R_DEF = 0, R_TCP80 = 1, R_UDP53 = 2, R_TCP_RANGE = 3, R_UDP_RANGE = 4 };

static struct fx fx;

/* ---- helpers ---- */

static void map_clear(int fd, size_t key_size)
{
	char key[64];

	assert_true(key_size <= sizeof(key));
	while (!bpf_map_get_next_key(fd, NULL, key))
		assert_int_equal(bpf_map_delete_elem(fd, key), 0);
}

/* Per test: no buckets, bans, list entries, cached drops or endpoint state from the one before. */
static int clear_state(void **state)
{
	struct fg_total zt = {};
	struct fg_pressure *zp = calloc(fx.ncpus, sizeof(*zp));
	struct fg_verdict *zv = calloc(fx.ncpus, sizeof(*zv));
	struct fg_attack za = {};
	__u32 i;

	assert_non_null(zv);
	for (i = 0; i < FG_VC_SLOTS; i++)
		assert_int_equal(bpf_map_update_elem(fx.m.verdicts, &i, zv, BPF_ANY), 0);
	free(zv);

	map_clear(fx.m.sources, sizeof(struct fg_src_key));
	map_clear(fx.m.bans, sizeof(struct fg_ban_key));
	map_clear(fx.m.lists, sizeof(struct fg_lpm_key));
	for (i = 0; i < FG_MAX_RULES; i++)
		assert_int_equal(bpf_map_update_elem(fx.m.totals, &i, &zt, BPF_ANY), 0);
	i = 0;
	assert_int_equal(bpf_map_update_elem(fx.m.pressure, &i, zp, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(fx.m.attack, &i, &za, BPF_ANY), 0);
	free(zp);
	assert_int_equal(fx_seen_clear(&fx), 0);
	assert_int_equal(fx_lfilter_open(&fx), 0);
	fx.m.st->lists4 = fx.m.st->lists6 = 0;
	fx.m.st->list_plen4 = fx.m.st->list_plen6 = 0;
	fx.m.st->events_tat = 0; /* the clock goes back to T0: the event limit starts full */
	__atomic_fetch_add(&fx.m.st->ban_gen, 1, __ATOMIC_RELEASE);
	fx_set_now(&fx, T0);
	return 0;
}

static int group_setup(void **state)
{
	cpu_set_t one;
	int err;

	/* one CPU: new sources wait in that CPU's fg_pressure until added to fg_attack (tests that
	 * need a second CPU start a thread of their own) */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -1;
	err = fx_open(&fx, HZ, 0);

	if (err) {
		fprintf(stderr, "error: load the program: %s\n", strerror(-err));
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	fx_close(&fx);
	return 0;
}

static struct fg_ruleset *ruleset_new(void)
{
	struct fg_ruleset *rs = malloc(sizeof(*rs));

	assert_non_null(rs);
	fx_ruleset_init(rs, HZ);
	fx_rule_open(&rs->cfg.rules[R_DEF]);
	return rs;
}

/* Add an endpoint rule with no limits at index i. */
static struct fg_rule *rule_add(struct fg_ruleset *rs, int i, __u16 proto, __u16 lo, __u16 hi)
{
	struct fg_rule *r = &rs->cfg.rules[i];

	*r = rs->cfg.rules[R_DEF];
	fx_rule_open(r);
	r->used = 1;
	r->proto = proto;
	r->port_lo = lo;
	r->port_hi = hi;
	return r;
}

static void ruleset_commit(struct fg_ruleset *rs)
{
	assert_int_equal(fx_commit(&fx, rs), 0);
	free(rs);
}

/* Parser rule set: no limits anywhere, endpoint rules that show which rule a frame was charged to. */
static void setup_parser_rules(void)
{
	struct fg_ruleset *rs = ruleset_new();

	rule_add(rs, R_TCP80, FX_IP_TCP, 80, 80);
	rule_add(rs, R_UDP53, FX_IP_UDP, 53, 53);
	rule_add(rs, R_TCP_RANGE, FX_IP_TCP, 1000, 2000);
	rule_add(rs, R_UDP_RANGE, FX_IP_UDP, 5000, 5010);
	ruleset_commit(rs);
}

/* Expected outcome of one frame. */
struct expect {
	__u32 xdp;   /* XDP_PASS or XDP_DROP */
	int reason;  /* FG_R_* */
	int rule;    /* rule charged, -1 none */
	__u32 notes; /* FX_NOTE bits */
};

/*
 * Bucket creation (FG_C_SOURCE_NEW) is compared only in expectations that
 * carry NOTE_STRICT: most rows do not care whether their source was new.
 */
#define NOTE_CREATED FX_NOTE(FG_C_SOURCE_NEW)
#define NOTE_STRICT  (1U << 31)

/* Compare a result with an expectation; print the difference. Returns 1 when they agree. */
static int check(const char *name, const struct fx_result *r, const struct expect *e, __u32 len)
{
	__u32 care = (e->notes & NOTE_STRICT) ? ~NOTE_STRICT : ~NOTE_CREATED;
	int ok = !r->err && r->xdp == e->xdp && r->reason == e->reason &&
		 (r->notes & care) == (e->notes & care) && r->bytes == len &&
		 (e->rule < -1 || r->rule == e->rule);

	if (!ok)
		print_error("%s: got err %d xdp %u reason %s bytes %llu rule %d notes %#x; "
			    "expected xdp %u reason %s bytes %u rule %d notes %#x\n",
			    name, r->err, r->xdp, fx_name(r->reason), (unsigned long long)r->bytes,
			    r->rule, r->notes, e->xdp, fx_name(e->reason), len, e->rule, e->notes);
	return ok;
}

/* Send one built frame and check it; returns 1 when it agrees. */
static int expect_frame(const char *name, const struct fx_pkt *p, __u32 linear, __u32 xdp,
			int reason, int rule, __u32 notes)
{
	struct expect e = { xdp, reason, rule, notes };
	struct fx_result r = fx_send_linear(&fx, p->b, p->len, linear, 1);

	return check(name, &r, &e, p->len);
}

/* ---- 1. parser rules, one table ---- */

/* Where a mutation or a cut is measured from. */
enum at { AT_ABS = 0, AT_L3, AT_L4, AT_EXT0, AT_EXT1, AT_EXT2, AT_END };

struct row {
	const char *name;
	struct fx_spec s;
	void (*mut)(struct fx_pkt *p, int arg); /* optional mutation after building */
	int arg;				/* its argument */
	__u8 cut_at;				/* enum at: truncate the frame (0: keep) */
	int cut;				/* bytes from cut_at */
	__u8 lin_at;				/* enum at: linear part length (0: all linear) */
	int lin;				/* bytes from lin_at */
	__u32 xdp;
	int reason;
	int rule;
	__u32 notes;
};

static __u32 at(const struct fx_pkt *p, __u8 where)
{
	switch (where) {
	case AT_L3:
		return p->l3;
	case AT_L4:
		return p->l4;
	case AT_EXT0:
	case AT_EXT1:
	case AT_EXT2:
		return p->ext[where - AT_EXT0];
	case AT_END:
		return p->len;
	}
	return 0;
}

static void m_ip4_version(struct fx_pkt *p, int v)
{
	p->b[p->l3] = (p->b[p->l3] & 0x0f) | v << 4;
}

static void m_ip4_ihl(struct fx_pkt *p, int v)
{
	p->b[p->l3] = (p->b[p->l3] & 0xf0) | v;
}

static void m_ip4_totlen(struct fx_pkt *p, int v)
{
	fx_put16(p->b + p->l3 + 2, v);
}

/* IPv4 total length or IPv6 payload length: the frame's own plus arg (which may be negative). */
static void m_iplen_rel(struct fx_pkt *p, int d)
{
	fx_set_iplen(p, p->len + d);
}

/* IP length field ends arg bytes into the L4 header. */
static void m_iplen_l4(struct fx_pkt *p, int d)
{
	fx_set_iplen(p, p->l4 + d);
}

static void m_ip4_frag(struct fx_pkt *p, int v)
{
	fx_put16(p->b + p->l3 + 6, v);
}

static void m_ip6_version(struct fx_pkt *p, int v)
{
	p->b[p->l3] = (p->b[p->l3] & 0x0f) | v << 4;
}

static void m_ip6_plen(struct fx_pkt *p, int v)
{
	fx_put16(p->b + p->l3 + 4, v);
}

static void m_tcp_doff(struct fx_pkt *p, int v)
{
	p->b[p->l4 + 12] = v << 4;
}

/* the ICMP code byte, after the type */
static void m_icmp_code(struct fx_pkt *p, int v)
{
	p->b[p->l4 + 1] = v;
}

/* arg = (extension index << 8) | header length byte */
static void m_ext_hdrlen(struct fx_pkt *p, int v)
{
	p->b[p->ext[v >> 8] + 1] = v & 0xff;
}

/* The IP length field says the packet ends arg bytes into extension header 1. */
static void m_iplen_ext1(struct fx_pkt *p, int d)
{
	fx_set_iplen(p, p->ext[1] + d);
}

#define V4(...)                                                                                    \
	{                                                                                          \
		.family = 4, .dport = 80, .tcp_flags = FX_TCP_SYN, __VA_ARGS__                     \
	}
#define V6(...)                                                                                    \
	{                                                                                          \
		.family = 6, .dport = 80, .tcp_flags = FX_TCP_SYN, __VA_ARGS__                     \
	}
#define QQ(n, ...) .vlans = n, .tpid = { __VA_ARGS__ }
#define AD	   FX_ETH_8021AD
#define Q	   FX_ETH_8021Q
#define EXT(...)   .n_ext = sizeof((__u8[]){ __VA_ARGS__ }), .ext = { __VA_ARGS__ }
#define HBH	   FX_IP_HOPOPTS
#define DST	   FX_IP_DSTOPTS
#define RT	   FX_IP_ROUTING
#define FRG	   FX_IP_FRAGMENT
#define AH	   FX_IP_AH

/* rows override the V4()/V6() defaults on purpose */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct row parser_rows[] = {
	/* VLAN depth 0..2 pass, 3 and more drop, a cut tag is truncated */
	{ "no tag", V4(), .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "802.1Q", V4(QQ(1, Q)), .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "802.1ad", V4(QQ(1, AD)), .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "802.1ad+802.1Q", V4(QQ(2, AD, Q)), .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "802.1Q+802.1Q", V4(QQ(2, Q, Q)), .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "802.1ad+802.1ad ipv6", V6(QQ(2, AD, AD)), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_TCP80 },
	{ "3 tags", V4(QQ(3, Q, Q, Q)), .xdp = DROP, .reason = FG_R_VLAN_DEPTH, .rule = -1 },
	{ "3 tags ad,q,ad", V6(QQ(3, AD, Q, AD)), .xdp = DROP, .reason = FG_R_VLAN_DEPTH, .rule = -1 },
	{ "4 tags", V4(QQ(4, AD, Q, Q, Q)), .xdp = DROP, .reason = FG_R_VLAN_DEPTH, .rule = -1 },
	{ "3 tags, frame ends in the third", V4(QQ(3, Q, Q, Q)), .cut_at = AT_ABS, .cut = 22,
	  .xdp = DROP, .reason = FG_R_VLAN_DEPTH, .rule = -1 },
	{ "1 tag cut after its TPID", V4(QQ(1, Q)), .cut_at = AT_ABS, .cut = 14, .xdp = DROP,
	  .reason = FG_R_TRUNC_VLAN, .rule = -1 },
	{ "1 tag cut in its ethertype", V4(QQ(1, AD)), .cut_at = AT_ABS, .cut = 17, .xdp = DROP,
	  .reason = FG_R_TRUNC_VLAN, .rule = -1 },
	{ "2 tags cut in the second", V4(QQ(2, AD, Q)), .cut_at = AT_ABS, .cut = 19, .xdp = DROP,
	  .reason = FG_R_TRUNC_VLAN, .rule = -1 },
	{ "2 tags, linear part ends in the second", V4(QQ(2, AD, Q)), .lin_at = AT_ABS, .lin = 20,
	  .xdp = DROP, .reason = FG_R_TRUNC_VLAN, .rule = -1 },
	{ "ARP in a tag",
	  { QQ(1, Q), .ethertype = FX_ETH_ARP },
	  .xdp = PASS,
	  .reason = FG_R_NON_IP,
	  .rule = -1 },

	/* IPv4 malformations */
	{ "ipv4 version 5", V4(), m_ip4_version, 5, .xdp = DROP, .reason = FG_R_IP4_VERSION,
	  .rule = -1 },
	{ "ipv4 version 6", V4(), m_ip4_version, 6, .xdp = DROP, .reason = FG_R_IP4_VERSION,
	  .rule = -1 },
	{ "ipv4 version 0", V4(), m_ip4_version, 0, .xdp = DROP, .reason = FG_R_IP4_VERSION,
	  .rule = -1 },
	{ "ipv4 ihl 4", V4(), m_ip4_ihl, 4, .xdp = DROP, .reason = FG_R_IP4_IHL, .rule = -1 },
	{ "ipv4 ihl 0", V4(), m_ip4_ihl, 0, .xdp = DROP, .reason = FG_R_IP4_IHL, .rule = -1 },
	{ "ipv4 ihl 6 (options)", V4(.ip4_opt_words = 1), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_TCP80 },
	{ "ipv4 ihl 15 (options)", V4(.ip4_opt_words = 10), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_TCP80 },
	{ "ipv4 total length 19", V4(), m_ip4_totlen, 19, .xdp = DROP, .reason = FG_R_IP4_TOTLEN,
	  .rule = -1 },
	{ "ipv4 total length 0", V4(), m_ip4_totlen, 0, .xdp = DROP, .reason = FG_R_IP4_TOTLEN,
	  .rule = -1 },
	{ "ipv4 total length below ihl 6", V4(.ip4_opt_words = 1), m_ip4_totlen, 23, .xdp = DROP,
	  .reason = FG_R_IP4_TOTLEN, .rule = -1 },
	{ "ipv4 total length frame+1", V4(), m_iplen_rel, 1, .xdp = DROP, .reason = FG_R_IP4_TOTLEN,
	  .rule = -1 },
	{ "ipv4 total length 65535", V4(), m_ip4_totlen, 65535, .xdp = DROP,
	  .reason = FG_R_IP4_TOTLEN, .rule = -1 },
	{ "ipv4 total length below frame (padding)", V4(.payload = 10), m_iplen_rel, -10,
	  .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "ipv4 header cut at 19", V4(), .cut_at = AT_L3, .cut = 19, .xdp = DROP,
	  .reason = FG_R_TRUNC_IP4, .rule = -1 },
	{ "ipv4 header cut at 0", V4(QQ(1, Q)), .cut_at = AT_L3, .cut = 0, .xdp = DROP,
	  .reason = FG_R_TRUNC_IP4, .rule = -1 },
	{ "ipv4 header beyond the linear part", V4(), .lin_at = AT_L3, .lin = 10, .xdp = DROP,
	  .reason = FG_R_TRUNC_IP4, .rule = -1 },
	{ "ipv4 jumbo multi-buffer", V4(.payload = 8900), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_TCP80 },
	{ "ipv4 multi-buffer, headers linear", V4(.payload = 1400), .lin_at = AT_L4, .lin = 20,
	  .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "ipv4 icmp: default rule", V4(.proto = FX_IP_ICMP, .icmp_type = 8), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF },
	{ "ipv4 gre: default rule", V4(.proto = FX_IP_GRE, .payload = 24), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF },
	{ "ipv4 udp/53", V4(.proto = FX_IP_UDP, .dport = 53), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_UDP53 },
	{ "ipv4 udp header cut by total length", V4(.proto = FX_IP_UDP, .dport = 53), m_iplen_l4, 7,
	  .xdp = DROP, .reason = FG_R_TRUNC_L4, .rule = -1 },
	{ "ipv4 tcp header cut by total length", V4(), m_iplen_l4, 19, .xdp = DROP,
	  .reason = FG_R_TRUNC_L4, .rule = -1 },
	{ "ipv4 tcp header beyond the linear part", V4(.payload = 100), .lin_at = AT_L4, .lin = 19,
	  .xdp = DROP, .reason = FG_R_TRUNC_L4, .rule = -1 },
	{ "ipv4 ihl 15, no room for tcp", V4(.ip4_opt_words = 10), m_iplen_l4, 0, .xdp = DROP,
	  .reason = FG_R_TRUNC_L4, .rule = -1 },
	{ "ipv4 tcp doff 4", V4(), m_tcp_doff, 4, .xdp = DROP, .reason = FG_R_TCP_DOFF, .rule = -1 },
	{ "ipv4 tcp doff 0", V4(), m_tcp_doff, 0, .xdp = DROP, .reason = FG_R_TCP_DOFF, .rule = -1 },
	{ "ipv4 tcp doff 6 beyond the packet", V4(), m_tcp_doff, 6, .xdp = DROP,
	  .reason = FG_R_TCP_DOFF, .rule = -1 },
	{ "ipv4 tcp doff 6 with options", V4(.payload = 4), m_tcp_doff, 6, .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "ipv4 tcp doff 15 with options", V4(.payload = 40), m_tcp_doff, 15, .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_TCP80 },

	/* IPv4 fragments */
	{ "ipv4 first fragment", V4(.frag = FX_FRAG_FIRST), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_TCP80 },
	{ "ipv4 DF is no fragment", V4(), m_ip4_frag, 0x4000, .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_TCP80 },
	{ "ipv4 later fragment", V4(.frag = FX_FRAG_LATER, .payload = 64), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF, .notes = NOTE_FRAG },
	{ "ipv4 last fragment, offset 8", V4(.frag = FX_FRAG_LATER, .payload = 8), m_ip4_frag, 1,
	  .xdp = PASS, .reason = FG_R_PASS, .rule = R_DEF, .notes = NOTE_FRAG },
	{ "ipv4 later fragment, udp", V4(.frag = FX_FRAG_LATER, .proto = FX_IP_UDP, .payload = 3),
	  .xdp = PASS, .reason = FG_R_PASS, .rule = R_DEF, .notes = NOTE_FRAG },
	{ "ipv4 first fragment, tcp header cut", V4(.frag = FX_FRAG_FIRST), m_iplen_l4, 8,
	  .xdp = DROP, .reason = FG_R_TRUNC_L4, .rule = -1 },

	/* IPv6 malformations */
	{ "ipv6", V6(), .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "ipv6 version 4", V6(), m_ip6_version, 4, .xdp = DROP, .reason = FG_R_IP6_VERSION,
	  .rule = -1 },
	{ "ipv6 version 0", V6(), m_ip6_version, 0, .xdp = DROP, .reason = FG_R_IP6_VERSION,
	  .rule = -1 },
	{ "ipv6 version 7", V6(), m_ip6_version, 7, .xdp = DROP, .reason = FG_R_IP6_VERSION,
	  .rule = -1 },
	{ "ipv6 payload length frame+1", V6(), m_iplen_rel, 1, .xdp = DROP,
	  .reason = FG_R_IP6_PAYLEN, .rule = -1 },
	{ "ipv6 payload length 65535", V6(), m_ip6_plen, 65535, .xdp = DROP,
	  .reason = FG_R_IP6_PAYLEN, .rule = -1 },
	{ "ipv6 payload length below frame (padding)", V6(.payload = 9), m_iplen_rel, -9,
	  .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "ipv6 header cut at 39", V6(), .cut_at = AT_L3, .cut = 39, .xdp = DROP,
	  .reason = FG_R_TRUNC_IP6, .rule = -1 },
	{ "ipv6 header beyond the linear part", V6(), .lin_at = AT_L3, .lin = 39, .xdp = DROP,
	  .reason = FG_R_TRUNC_IP6, .rule = -1 },
	{ "ipv6 tcp header cut by payload length", V6(), m_iplen_l4, 12, .xdp = DROP,
	  .reason = FG_R_TRUNC_L4, .rule = -1 },
	{ "ipv6 udp header cut by payload length", V6(.proto = FX_IP_UDP, .dport = 53), m_iplen_l4,
	  7, .xdp = DROP, .reason = FG_R_TRUNC_L4, .rule = -1 },
	{ "ipv6 payload length 0, no hop-by-hop", V6(), m_ip6_plen, 0, .xdp = DROP,
	  .reason = FG_R_TRUNC_L4, .rule = -1 },
	{ "ipv6 jumbogram (payload length 0, hop-by-hop)", V6(EXT(HBH)), m_ip6_plen, 0, .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "ipv6 tcp doff 3", V6(), m_tcp_doff, 3, .xdp = DROP, .reason = FG_R_TCP_DOFF, .rule = -1 },
	{ "ipv6 udp/5010 (range end)", V6(.proto = FX_IP_UDP, .dport = 5010), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_UDP_RANGE },
	{ "ipv6 no next header", V6(.proto = FX_IP_NONE), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_DEF },

	/* IPv6 extension chains: 0..8 walked to the ports, 9 and 10 charged without ports */
	{ "chain 1", V6(EXT(HBH)), .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "chain 2", V6(EXT(HBH, DST)), .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "chain 3", V6(EXT(HBH, RT, AH)), .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "chain 4", V6(EXT(HBH, DST, RT, FRG), .frag = FX_FRAG_FIRST), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "chain 5", V6(EXT(HBH, DST, RT, AH, DST)), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_TCP80 },
	{ "chain 6", V6(EXT(AH, AH, AH, AH, AH, AH)), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_TCP80 },
	{ "chain 7", V6(EXT(DST, DST, DST, DST, DST, DST, DST)), .xdp = PASS, .reason = FG_R_PASS,
	  .rule = R_TCP80 },
	{ "chain 8", V6(EXT(HBH, DST, RT, FRG, AH, DST, RT, DST), .frag = FX_FRAG_FIRST),
	  .xdp = PASS, .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "chain 8 udp", V6(EXT(HBH, DST, RT, AH, AH, DST, RT, DST), .proto = FX_IP_UDP, .dport = 53),
	  .xdp = PASS, .reason = FG_R_PASS, .rule = R_UDP53 },
	{ "chain 9", V6(EXT(HBH, DST, RT, AH, AH, DST, RT, DST, DST)), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF, .notes = NOTE_CHAIN },
	{ "chain 10", V6(EXT(HBH, DST, RT, AH, AH, DST, RT, DST, DST, AH)), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF, .notes = NOTE_CHAIN },
	{ "chain 9, truncated tenth", V6(EXT(HBH, DST, RT, AH, AH, DST, RT, DST, DST)), m_iplen_rel,
	  -24, .xdp = PASS, .reason = FG_R_PASS, .rule = R_DEF, .notes = NOTE_CHAIN },
	{ "extension cut by payload length", V6(EXT(HBH, DST)), m_iplen_ext1, 4, .xdp = DROP,
	  .reason = FG_R_TRUNC_EXT, .rule = -1 },
	{ "extension cut by frame and payload length", V6(EXT(HBH, DST, RT)), m_iplen_ext1, 7,
	  .cut_at = AT_EXT1, .cut = 7, .xdp = DROP, .reason = FG_R_TRUNC_EXT, .rule = -1 },
	{ "extension longer than the payload", V6(EXT(HBH, DST)), m_ext_hdrlen, 0x0103, .xdp = DROP,
	  .reason = FG_R_TRUNC_EXT, .rule = -1 },
	{ "extension hdrlen 255", V6(EXT(DST, DST, AH)), m_ext_hdrlen, 0x01ff, .xdp = DROP,
	  .reason = FG_R_TRUNC_EXT, .rule = -1 },
	{ "ah longer than the payload", V6(EXT(AH)), m_ext_hdrlen, 0x0007, .xdp = DROP,
	  .reason = FG_R_TRUNC_EXT, .rule = -1 },
	{ "extension beyond the linear part", V6(EXT(HBH, DST), .payload = 200), .lin_at = AT_EXT1,
	  .lin = 5, .xdp = DROP, .reason = FG_R_TRUNC_EXT, .rule = -1 },
	{ "payload ends exactly after the chain", V6(EXT(HBH, DST)), m_iplen_l4, 0, .xdp = DROP,
	  .reason = FG_R_TRUNC_L4, .rule = -1 },

	/* IPv6 fragments */
	{ "ipv6 first fragment", V6(EXT(FRG), .frag = FX_FRAG_FIRST), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_TCP80 },
	{ "ipv6 later fragment", V6(EXT(FRG), .frag = FX_FRAG_LATER, .payload = 100), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF, .notes = NOTE_FRAG },
	{ "ipv6 later fragment after 2 extensions",
	  V6(EXT(HBH, DST, FRG), .frag = FX_FRAG_LATER, .payload = 16), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF, .notes = NOTE_FRAG },
	{ "ipv6 later fragment as the 8th extension",
	  V6(EXT(HBH, DST, RT, AH, DST, DST, DST, FRG), .frag = FX_FRAG_LATER, .payload = 16),
	  .xdp = PASS, .reason = FG_R_PASS, .rule = R_DEF, .notes = NOTE_FRAG },
	{ "ipv6 first fragment, tcp cut", V6(EXT(FRG), .frag = FX_FRAG_FIRST), m_iplen_l4, 10,
	  .xdp = DROP, .reason = FG_R_TRUNC_L4, .rule = -1 },

	/* non-IP and neighbour discovery pass */
	{ "arp", { .ethertype = FX_ETH_ARP }, .xdp = PASS, .reason = FG_R_NON_IP, .rule = -1 },
	{ "lldp", { .ethertype = FX_ETH_LLDP }, .xdp = PASS, .reason = FG_R_NON_IP, .rule = -1 },
	{ "ethertype 0", { .ethertype = 0 }, .xdp = PASS, .reason = FG_R_NON_IP, .rule = -1 },
	{ "arp in 802.1ad+802.1Q",
	  { QQ(2, AD, Q), .ethertype = FX_ETH_ARP },
	  .xdp = PASS,
	  .reason = FG_R_NON_IP,
	  .rule = -1 },
	{ "ethernet header only",
	  { .ethertype = FX_ETH_ARP },
	  .cut_at = AT_ABS,
	  .cut = 14,
	  .xdp = PASS,
	  .reason = FG_R_NON_IP,
	  .rule = -1 },
	/* neighbour discovery: hop limit 255, code 0, no extension header; else the normal path */
	{ "router solicitation", V6(.proto = FX_IP_ICMP6, .icmp_type = 133, .hop_limit = 255),
	  .xdp = PASS, .reason = FG_R_ND, .rule = -1 },
	{ "router advertisement", V6(.proto = FX_IP_ICMP6, .icmp_type = 134, .hop_limit = 255),
	  .xdp = PASS, .reason = FG_R_ND, .rule = -1 },
	{ "neighbour solicitation",
	  V6(.proto = FX_IP_ICMP6, .icmp_type = 135, .payload = 16, .hop_limit = 255), .xdp = PASS,
	  .reason = FG_R_ND, .rule = -1 },
	{ "neighbour advertisement",
	  V6(.proto = FX_IP_ICMP6, .icmp_type = 136, .payload = 16, .hop_limit = 255), .xdp = PASS,
	  .reason = FG_R_ND, .rule = -1 },
	{ "redirect", V6(.proto = FX_IP_ICMP6, .icmp_type = 137, .payload = 32, .hop_limit = 255),
	  .xdp = PASS, .reason = FG_R_ND, .rule = -1 },
	{ "neighbour solicitation in two tags",
	  V6(QQ(2, AD, Q), .proto = FX_IP_ICMP6, .icmp_type = 135, .hop_limit = 255), .xdp = PASS,
	  .reason = FG_R_ND, .rule = -1 },
	{ "neighbour solicitation, hop limit 254: routed, not ND",
	  V6(.proto = FX_IP_ICMP6, .icmp_type = 135, .payload = 16, .hop_limit = 254), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF },
	{ "router advertisement, hop limit 64: not ND", V6(.proto = FX_IP_ICMP6, .icmp_type = 134),
	  .xdp = PASS, .reason = FG_R_PASS, .rule = R_DEF },
	{ "neighbour solicitation behind hop-by-hop: not ND",
	  V6(EXT(HBH), .proto = FX_IP_ICMP6, .icmp_type = 135, .hop_limit = 255), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF },
	{ "neighbour advertisement behind destination options: not ND",
	  V6(EXT(DST), .proto = FX_IP_ICMP6, .icmp_type = 136, .hop_limit = 255), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF },
	{ "neighbour solicitation, code 1: not ND",
	  V6(.proto = FX_IP_ICMP6, .icmp_type = 135, .payload = 16, .hop_limit = 255), m_icmp_code,
	  1, .xdp = PASS, .reason = FG_R_PASS, .rule = R_DEF },
	{ "icmpv6 echo: default rule", V6(.proto = FX_IP_ICMP6, .icmp_type = 128), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF },
	{ "icmpv6 type 132: default rule", V6(.proto = FX_IP_ICMP6, .icmp_type = 132), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF },
	{ "icmpv6 type 138: default rule", V6(.proto = FX_IP_ICMP6, .icmp_type = 138), .xdp = PASS,
	  .reason = FG_R_PASS, .rule = R_DEF },
	{ "icmpv6 with no payload: default rule", V6(.proto = FX_IP_ICMP6, .icmp_type = 135),
	  m_iplen_l4, 0, .xdp = PASS, .reason = FG_R_PASS, .rule = R_DEF },
};

#pragma GCC diagnostic pop

static int run_row(const struct row *w)
{
	struct fx_pkt *p = malloc(sizeof(*p));
	__u32 linear;
	int ok;

	assert_non_null(p);
	if (!fx_build(p, &w->s)) {
		print_error("%s: spec does not build\n", w->name);
		free(p);
		return 0;
	}
	if (w->mut)
		w->mut(p, w->arg);
	if (w->cut_at || w->cut)
		p->len = at(p, w->cut_at) + w->cut;
	linear = p->len;
	if (w->lin_at || w->lin)
		linear = at(p, w->lin_at) + w->lin;
	ok = expect_frame(w->name, p, linear, w->xdp, w->reason, w->rule, w->notes);
	free(p);
	return ok;
}

static void test_parser_table(void **state)
{
	size_t i, bad = 0;

	setup_parser_rules();
	for (i = 0; i < sizeof(parser_rows) / sizeof(parser_rows[0]); i++)
		bad += !run_row(&parser_rows[i]);
	assert_int_equal(bad, 0);
}

/* ---- 2. truncation at every offset ---- */

/* How a frame is cut short. */
enum cut_mode {
	CUT_FRAME = 0,	/* the frame ends early; IP length fields still say the whole length */
	CUT_IPLEN = 1,	/* the frame ends early and the IP length field agrees */
	CUT_LINEAR = 2, /* the frame is whole, its linear part ends early (multi-buffer) */
};

/*
 * The reason DESIGN.md and enum fg_counter give a frame of this layout cut
 * at `cut` bytes. Written from the layout, not from the parser: a header
 * cut short in the bytes the program can read is "truncated", a length
 * field beyond the frame is a length error, a length field too short for
 * the headers it must hold is the truncation of the header it cuts.
 */
static int trunc_reason(const struct fx_pkt *p, const struct fx_spec *s, __u32 cut, enum cut_mode mode)
{
	__u32 i, l3 = p->l3;

	if (cut >= p->len)
		return FG_R_PASS;
	if (cut < 14)
		return FG_R_TRUNC_ETH;
	for (i = 0; i < s->vlans; i++)
		if (cut < p->tag[i] + 6)
			return i >= 2 ? FG_R_VLAN_DEPTH : FG_R_TRUNC_VLAN;
	if (s->vlans > 2)
		return FG_R_VLAN_DEPTH;
	if (s->family == 4) {
		if (cut < l3 + 20)
			return FG_R_TRUNC_IP4;
		if (mode == CUT_FRAME)
			return FG_R_IP4_TOTLEN;
		if (mode == CUT_IPLEN && cut < l3 + 20 + 4 * s->ip4_opt_words)
			return FG_R_IP4_TOTLEN; /* total length below the header length */
		return FG_R_TRUNC_L4;		/* cut in the options or the TCP header */
	}
	if (cut < l3 + 40)
		return FG_R_TRUNC_IP6;
	if (mode == CUT_FRAME)
		return FG_R_IP6_PAYLEN;
	for (i = 0; i < s->n_ext; i++)
		if (cut < p->ext[i] + fx_ext_len(s->ext[i]))
			return FG_R_TRUNC_EXT;
	return FG_R_TRUNC_L4;
}

/* Cut a TCP SYN frame at every offset 0..len-1 (and keep it whole), in each cut_mode. */
static int trunc_all(const char *name, const struct fx_spec *s)
{
	static const char *const how[] = { "frame cut at", "frame and IP length cut at",
					   "linear part cut at" };
	struct fx_pkt *whole = malloc(sizeof(*whole)), *p = malloc(sizeof(*p));
	__u32 cut, linear;
	int bad = 0, mode, reason;

	assert_non_null(whole);
	assert_non_null(p);
	assert_true(fx_build(whole, s));
	for (mode = CUT_FRAME; mode <= CUT_LINEAR; mode++) {
		for (cut = 0; cut <= whole->len; cut++) {
			char what[96];

			memcpy(p, whole, sizeof(*p));
			linear = p->len;
			if (mode == CUT_LINEAR)
				linear = cut;
			else
				p->len = cut;
			if (mode == CUT_IPLEN && cut >= p->l3 + (s->family == 4 ? 20 : 40))
				fx_set_iplen(p, cut);
			reason = trunc_reason(whole, s, cut, mode);
			snprintf(what, sizeof(what), "%s: %s %u", name, how[mode], cut);
			if (mode != CUT_LINEAR && cut < 14) {
				/* the kernel never runs XDP on a frame shorter than Ethernet */
				if (fx_run(&fx, p->b, p->len, 1, NULL) != -EINVAL) {
					print_error("%s: test run accepted a %u-byte frame\n", what,
						    cut);
					bad++;
				}
				continue;
			}
			bad += !expect_frame(what, p, linear, reason == FG_R_PASS ? PASS : DROP,
					     reason, reason == FG_R_PASS ? R_TCP80 : -1, 0);
		}
	}
	free(whole);
	free(p);
	return bad;
}

static void test_truncation(void **state)
{
	struct fx_spec v4 = V4(), v4q = V4(QQ(2, AD, Q)), v4o = V4(.ip4_opt_words = 2);
	struct fx_spec v6 = V6(), v6x = V6(QQ(1, Q), EXT(HBH, AH, FRG), .frag = FX_FRAG_FIRST);
	int bad = 0;

	setup_parser_rules();
	bad += trunc_all("ipv4 syn", &v4);
	bad += trunc_all("802.1ad+802.1Q ipv4 syn", &v4q);
	bad += trunc_all("ipv4 options syn", &v4o);
	bad += trunc_all("ipv6 syn", &v6);
	bad += trunc_all("802.1Q ipv6 hbh+ah+frag syn", &v6x);
	assert_int_equal(bad, 0);
}

/* ---- 3. lists: allow beats deny beats ban beats rules ---- */

/* Put a prefix into fg_lists with the verdict userspace computed for it. */
static void list_put(const char *cidr, __u8 kind, __u8 verdict, __u64 expires)
{
	struct fg_lpm_key k = {};
	struct fg_list_val v = { .kind = kind, .verdict = verdict, .expires = expires };
	char addr[64];
	char *slash, *end;
	long plen;

	snprintf(addr, sizeof(addr), "%s", cidr);
	slash = strchr(addr, '/');
	assert_non_null(slash);
	*slash = '\0';
	errno = 0;
	plen = strtol(slash + 1, &end, 10);
	assert_true(!errno && end != slash + 1 && !*end && plen >= 0 && plen <= 128);
	if (strchr(addr, ':')) {
		k.family = FG_FAM_IPV6;
		assert_int_equal(inet_pton(AF_INET6, addr, k.addr), 1);
		fx.m.st->lists6++;
		if (plen > fx.m.st->list_plen6)
			fx.m.st->list_plen6 = (__u8)plen;
	} else {
		k.family = FG_FAM_IPV4;
		assert_int_equal(inet_pton(AF_INET, addr, k.addr), 1);
		fx.m.st->lists4++;
		if (plen > fx.m.st->list_plen4)
			fx.m.st->list_plen4 = (__u8)plen;
	}
	k.prefixlen = FG_LPM_HDR_BITS + plen;
	assert_int_equal(bpf_map_update_elem(fx.m.lists, &k, &v, BPF_ANY), 0);
	__atomic_fetch_add(&fx.m.st->list_gen, 1, __ATOMIC_RELEASE); /* as lists_write does */
}

/* Empty the lists as lists_write does: the trie, the counts, the generation. */
static void lists_clear(void)
{
	map_clear(fx.m.lists, sizeof(struct fg_lpm_key));
	fx.m.st->lists4 = fx.m.st->lists6 = 0;
	fx.m.st->list_plen4 = fx.m.st->list_plen6 = 0;
	__atomic_fetch_add(&fx.m.st->list_gen, 1, __ATOMIC_RELEASE);
}

/* An automatic ban as the data path writes it. */
static void ban_put(__u8 family, const char *addr, __u8 plen, __u64 expires, __u32 strikes)
{
	struct fg_ban_key k = { .family = family, .plen = plen };
	struct fg_ban b = { .expires = expires, .created = fx_now(&fx), .strikes = strikes };

	assert_int_equal(inet_pton(family == FG_FAM_IPV4 ? AF_INET : AF_INET6, addr, k.addr), 1);
	assert_int_equal(bpf_map_update_elem(fx.m.bans, &k, &b, BPF_ANY), 0);
	__atomic_fetch_add(&fx.m.st->ban_gen, 1, __ATOMIC_RELEASE);
}

static int ban_get(__u8 family, const char *addr, __u8 plen, struct fg_ban *b)
{
	struct fg_ban_key k = { .family = family, .plen = plen };

	assert_int_equal(inet_pton(family == FG_FAM_IPV4 ? AF_INET : AF_INET6, addr, k.addr), 1);
	return bpf_map_lookup_elem(fx.m.bans, &k, b) ? -errno : 0;
}

struct src_row {
	const char *src;
	__u32 xdp;
	int reason;
};

static int run_sources(const struct src_row *rows, size_t n, __u16 dport, int rule)
{
	struct fx_pkt *p = malloc(sizeof(*p));
	size_t i;
	int bad = 0;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		struct fx_spec s = { .family = strchr(rows[i].src, ':') ? 6 : 4,
				     .src = rows[i].src,
				     .dport = dport,
				     .tcp_flags = FX_TCP_ACK };
		char what[96];
		int exp_rule = rows[i].reason == FG_R_PASS || rows[i].reason == FG_R_RATE_PPS ||
					       rows[i].reason == FG_R_MONITOR ||
					       rows[i].reason == FG_R_BANNED
				       ? rule
				       : -1;

		/* banned sources are charged to their rule only when the bucket says so */
		assert_true(fx_build(p, &s));
		snprintf(what, sizeof(what), "source %s (row %zu)", rows[i].src, i);
		bad += !expect_frame(what, p, p->len, rows[i].xdp, rows[i].reason,
				     rows[i].reason == FG_R_BANNED ? -2 : exp_rule, 0);
	}
	free(p);
	return bad;
}

static void test_lists(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r;
	__u64 now = T0;

	/* tcp/7000: one packet per source and then over the limit: lists must win over it */
	r = rule_add(rs, 1, FX_IP_TCP, 7000, 7000);
	r->pps = (struct fg_limit){ 1, 1 };
	ruleset_commit(rs);

	/* verdicts as userspace computes them: the strongest kind of the prefix and its covers */
	list_put("198.18.10.0/24", FG_LIST_DENY, FG_LIST_DENY, 0);
	list_put("198.18.10.128/25", FG_LIST_ALLOW, FG_LIST_ALLOW, 0);
	list_put("198.18.10.200/32", FG_LIST_BAN, FG_LIST_ALLOW, 0); /* ban under an allow */
	list_put("198.18.11.0/24", FG_LIST_BAN, FG_LIST_BAN, 0);
	list_put("198.18.11.16/28", FG_LIST_DENY, FG_LIST_DENY, 0);    /* deny under a ban */
	list_put("198.18.12.0/24", FG_LIST_BAN, FG_LIST_BAN, now - 1); /* ban that ended */
	list_put("198.18.13.0/24", FG_LIST_BAN, FG_LIST_BAN, now + 1); /* ban ending next tick */
	list_put("198.18.14.7/32", FG_LIST_ALLOW, FG_LIST_ALLOW, 0);
	ban_put(FG_FAM_IPV4, "198.18.14.7", 32, now + 1000, 1); /* auto ban of an allowed source */
	ban_put(FG_FAM_IPV4, "198.18.14.8", 32, now + 1000, 1);
	list_put("2001:db8:10::/48", FG_LIST_DENY, FG_LIST_DENY, 0);
	list_put("2001:db8:10:1::/64", FG_LIST_ALLOW, FG_LIST_ALLOW, 0);
	list_put("2001:db8:11::/48", FG_LIST_BAN, FG_LIST_BAN, 0);
	list_put("2001:db8:11::/56", FG_LIST_DENY, FG_LIST_DENY, 0);

	const struct src_row rows[] = {
		{ "198.18.10.1", DROP, FG_R_DENY },
		{ "198.18.10.127", DROP, FG_R_DENY },
		{ "198.18.10.128", PASS, FG_R_ALLOW },
		{ "198.18.10.128", PASS, FG_R_ALLOW }, /* over the rule's limit: allowed anyway */
		{ "198.18.10.200", PASS, FG_R_ALLOW },
		{ "198.18.11.1", DROP, FG_R_BANNED },
		{ "198.18.11.17", DROP, FG_R_DENY },
		{ "198.18.11.32", DROP, FG_R_BANNED },
		{ "198.18.12.1", PASS, FG_R_PASS }, /* ban ended: the rule applies */
		{ "198.18.12.1", DROP, FG_R_RATE_PPS },
		{ "198.18.13.1", DROP, FG_R_BANNED },
		{ "198.18.14.7", PASS, FG_R_ALLOW }, /* allow beats an automatic ban */
		{ "198.18.14.8", DROP, FG_R_BANNED },
		{ "198.18.15.1", PASS, FG_R_PASS }, /* on no list */
		{ "2001:db8:10::1", DROP, FG_R_DENY },
		{ "2001:db8:10:1::1", PASS, FG_R_ALLOW },
		{ "2001:db8:10:1::1", PASS, FG_R_ALLOW },
		{ "2001:db8:11:100::1", DROP, FG_R_BANNED },
		{ "2001:db8:11:ff::1", DROP, FG_R_DENY },
		{ "2001:db8:12::1", PASS, FG_R_PASS },
	};
	assert_int_equal(run_sources(rows, sizeof(rows) / sizeof(rows[0]), 7000, 1), 0);

	/* a manual ban ends at its expiry tick */
	fx_set_now(&fx, now + 1);
	const struct src_row later[] = {
		{ "198.18.13.1", PASS, FG_R_PASS },
		{ "198.18.11.1", DROP, FG_R_BANNED }, /* expires 0: never ends */
	};
	assert_int_equal(run_sources(later, 2, 7000, 1), 0);

	/* empty-list counters skip the lookup: the trie's entries are not consulted */
	fx.m.st->lists4 = 0;
	const struct src_row skipped[] = {
		{ "198.18.10.1", PASS, FG_R_PASS },
		{ "2001:db8:10::2", DROP, FG_R_DENY },
	};
	assert_int_equal(run_sources(skipped, 2, 7000, 1), 0);
}

/*
 * Neighbour discovery passes before the lists only when it could be
 * neighbour discovery (hop limit 255, no extension header): a denied or
 * banned source gets no channel by sending ICMPv6 of those types, and
 * `deny ::/0` still lets the link's real ND through, as with ARP.
 */
struct nd_row {
	const char *name;
	const char *src; /* source address */
	__u8 type;	 /* ICMPv6 type */
	__u8 hop_limit;	 /* IPv6 hop limit */
	int ext;	 /* an extension header in front, NOEXT: none (hop-by-hop is 0) */
	__u32 xdp;	 /* expected verdict */
	int reason;	 /* expected reason */
	int rule;	 /* expected rule, -1: none */
};

#define NOEXT (-1)

static int run_nd(const struct nd_row *rows, size_t n)
{
	struct fx_pkt *p = malloc(sizeof(*p));
	size_t i;
	int bad = 0;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		struct fx_spec s = { .family = 6,
				     .src = rows[i].src,
				     .proto = FX_IP_ICMP6,
				     .icmp_type = rows[i].type,
				     .payload = 16,
				     .hop_limit = rows[i].hop_limit,
				     .n_ext = rows[i].ext != NOEXT,
				     .ext = { rows[i].ext != NOEXT ? rows[i].ext : 0 } };

		assert_true(fx_build(p, &s));
		bad += !expect_frame(rows[i].name, p, p->len, rows[i].xdp, rows[i].reason,
				     rows[i].rule, 0);
	}
	free(p);
	return bad;
}

static void test_nd_lists(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	__u64 now = T0;

	ruleset_commit(rs);
	ban_put(FG_FAM_IPV6, "2001:db8:77::", 64, now + 1000, 1); /* an automatic ban */
	const struct nd_row banned[] = {
		{ "banned source, real NS", "2001:db8:77::1", 135, 255, NOEXT, PASS, FG_R_ND, -1 },
		{ "banned source, NS with hop limit 64", "2001:db8:77::1", 135, 64, NOEXT, DROP,
		  FG_R_BANNED, R_DEF },
		{ "banned source, NA behind hop-by-hop", "2001:db8:77::1", 136, 255, HBH, DROP,
		  FG_R_BANNED, R_DEF },
		{ "banned source, RA with hop limit 254", "2001:db8:77::1", 134, 254, NOEXT, DROP,
		  FG_R_BANNED, R_DEF },
	};
	assert_int_equal(run_nd(banned, sizeof(banned) / sizeof(banned[0])), 0);

	list_put("::/0", FG_LIST_DENY, FG_LIST_DENY, 0);
	const struct nd_row denied[] = {
		{ "deny ::/0, real NS", "fe80::1", 135, 255, NOEXT, PASS, FG_R_ND, -1 },
		{ "deny ::/0, real NA", "2001:db8:5::1", 136, 255, NOEXT, PASS, FG_R_ND, -1 },
		{ "deny ::/0, real RS", "fe80::2", 133, 255, NOEXT, PASS, FG_R_ND, -1 },
		{ "deny ::/0, NS with hop limit 64", "2001:db8:5::1", 135, 64, NOEXT, DROP,
		  FG_R_DENY, -1 },
		{ "deny ::/0, NS behind hop-by-hop", "2001:db8:5::1", 135, 255, HBH, DROP,
		  FG_R_DENY, -1 },
		{ "deny ::/0, redirect behind routing", "2001:db8:5::1", 137, 255, RT, DROP,
		  FG_R_DENY, -1 },
		{ "deny ::/0, echo", "2001:db8:5::1", 128, 255, NOEXT, DROP, FG_R_DENY, -1 },
	};
	assert_int_equal(run_nd(denied, sizeof(denied) / sizeof(denied[0])), 0);
}

/*
 * The list filter in front of the trie, kept by user/lists.c: the same
 * verdicts with it as without, whatever the shortest prefix of a family;
 * and it is consulted (a filter with no bits hides the trie).
 */
static int list_cmd(const char *cidr, __u8 kind, bool add)
{
	struct fg_cidr c;

	assert_int_equal(fg_parse_cidr("test", cidr, true, &c), 0);
	return add ? fg_list_add(&fx.m, &c, kind, 0) : fg_list_del(&fx.m, &c, kind);
}

static void test_lists_filter(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_lfilter *none = calloc(1, sizeof(*none));
	__u32 idx, zero = 0, inner;

	assert_non_null(none);
	rs->cfg.rules[R_DEF].pps = (struct fg_limit){ 1000, 1000 };
	/* a commit and a list change each wait for the packets in flight after their flips */
	assert_true(!bpf_map_delete_elem(fx.m.barrier, &zero) || errno == ENOENT);
	ruleset_commit(rs);
	assert_int_equal(bpf_map_lookup_elem(fx.m.barrier, &zero, &inner), 0);
	assert_int_equal(bpf_map_delete_elem(fx.m.barrier, &zero), 0);
	assert_int_equal(list_cmd("198.18.60.0/24", FG_LIST_ALLOW, true), 0);
	assert_int_equal(bpf_map_lookup_elem(fx.m.barrier, &zero, &inner), 0);
	assert_int_equal(list_cmd("198.18.61.0/24", FG_LIST_DENY, true), 0);
	assert_int_equal(list_cmd("198.18.61.64/26", FG_LIST_ALLOW, true), 0);
	assert_int_equal(list_cmd("2001:db8:60::/48", FG_LIST_DENY, true), 0);
	assert_int_equal(list_cmd("2001:db8:60:1::/64", FG_LIST_ALLOW, true), 0);
	const struct src_row rows[] = {
		{ "198.18.60.7", PASS, FG_R_ALLOW },	 { "198.18.61.9", DROP, FG_R_DENY },
		{ "198.18.61.70", PASS, FG_R_ALLOW },	 { "198.18.62.1", PASS, FG_R_PASS },
		{ "198.19.60.7", PASS, FG_R_PASS },	 { "2001:db8:60:1::5", PASS, FG_R_ALLOW },
		{ "2001:db8:60:2::5", DROP, FG_R_DENY }, { "2001:db8:61::1", PASS, FG_R_PASS },
	};
	assert_int_equal(run_sources(rows, sizeof(rows) / sizeof(rows[0]), 80, R_DEF), 0);

	/* an empty filter in the live slots: the trie is not consulted */
	for (idx = fx.m.st->lf_slot * 2; idx < fx.m.st->lf_slot * 2 + 2; idx++)
		assert_int_equal(bpf_map_update_elem(fx.m.lfilter, &idx, none, BPF_ANY), 0);
	const struct src_row hidden[] = {
		{ "198.18.60.7", PASS, FG_R_PASS },
		{ "2001:db8:60:2::5", PASS, FG_R_PASS },
	};
	assert_int_equal(run_sources(hidden, 2, 80, R_DEF), 0);

	/* the next change rebuilds it; a shorter prefix changes the mask; deletes take effect */
	assert_int_equal(list_cmd("198.16.0.0/14", FG_LIST_DENY, true), 0);
	assert_int_equal(list_cmd("2001:db8:60:1::/64", FG_LIST_ALLOW, false), 0);
	assert_int_equal(list_cmd("::/0", FG_LIST_DENY, true), 0);
	const struct src_row after[] = {
		{ "198.18.60.7", PASS, FG_R_ALLOW },	 { "198.18.62.1", DROP, FG_R_DENY },
		{ "198.19.60.7", DROP, FG_R_DENY },	 { "198.20.0.1", PASS, FG_R_PASS },
		{ "2001:db8:60:1::5", DROP, FG_R_DENY }, { "2001:db8:61::1", DROP, FG_R_DENY },
	};
	assert_int_equal(run_sources(after, sizeof(after) / sizeof(after[0]), 80, R_DEF), 0);
	assert_int_equal(list_cmd("198.16.0.0/14", FG_LIST_DENY, false), 0);
	const struct src_row back[] = {
		{ "198.18.60.7", PASS, FG_R_ALLOW },
		{ "198.18.62.1", PASS, FG_R_PASS },
	};
	assert_int_equal(run_sources(back, 2, 80, R_DEF), 0);
	free(none);
}

/* ---- 4. port ranges and the default rule ---- */

static void test_ports(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct {
		__u8 family, proto;
		__u16 dport;
		int rule;
	} rows[] = {
		{ 4, FX_IP_TCP, 999, R_DEF },	     { 4, FX_IP_TCP, 1000, R_TCP_RANGE },
		{ 4, FX_IP_TCP, 1500, R_TCP_RANGE }, { 6, FX_IP_TCP, 2000, R_TCP_RANGE },
		{ 4, FX_IP_TCP, 2001, R_DEF },	     { 4, FX_IP_UDP, 1500, R_DEF },
		{ 4, FX_IP_UDP, 4999, R_DEF },	     { 4, FX_IP_UDP, 5000, R_UDP_RANGE },
		{ 6, FX_IP_UDP, 5010, R_UDP_RANGE }, { 6, FX_IP_UDP, 5011, R_DEF },
		{ 4, FX_IP_TCP, 80, R_TCP80 },	     { 4, FX_IP_UDP, 80, R_DEF },
		{ 6, FX_IP_UDP, 53, R_UDP53 },	     { 6, FX_IP_TCP, 53, R_DEF },
		{ 4, FX_IP_TCP, 0, R_DEF },	     { 4, FX_IP_TCP, 65535, 5 },
		{ 4, FX_IP_UDP, 65535, R_DEF },	     { 6, FX_IP_TCP, 65534, R_DEF },
	};
	struct fx_pkt *p = malloc(sizeof(*p));
	size_t i;
	int bad = 0;

	assert_non_null(p);
	rule_add(rs, R_TCP80, FX_IP_TCP, 80, 80);
	rule_add(rs, R_UDP53, FX_IP_UDP, 53, 53);
	rule_add(rs, R_TCP_RANGE, FX_IP_TCP, 1000, 2000);
	rule_add(rs, R_UDP_RANGE, FX_IP_UDP, 5000, 5010);
	rule_add(rs, 5, FX_IP_TCP, 65535, 65535);
	ruleset_commit(rs);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fx_spec s = { .family = rows[i].family,
				     .proto = rows[i].proto,
				     .dport = rows[i].dport };
		char what[64];

		assert_true(fx_build(p, &s));
		snprintf(what, sizeof(what), "ipv%u proto %u port %u", rows[i].family,
			 rows[i].proto, rows[i].dport);
		bad += !expect_frame(what, p, p->len, PASS, FG_R_PASS, rows[i].rule, 0);
	}
	free(p);
	assert_int_equal(bad, 0);
}

/* ---- 5. actions ---- */

/* A bucket as stored, without what the CPUs' verdict caches still hold for it. */
static struct fg_src src_raw(__u16 rule, __u8 family, const char *addr, __u8 plen)
{
	struct fg_src_key k = { .rule = rule, .family = family, .plen = plen };
	struct fg_src v = {};

	assert_int_equal(inet_pton(family == FG_FAM_IPV4 ? AF_INET : AF_INET6, addr, k.addr), 1);
	assert_int_equal(bpf_map_lookup_elem(fx.m.sources, &k, &v), 0);
	return v;
}

/* A bucket with the packets the verdict caches decided for it and have not settled yet. */
static struct fg_src src_get(__u16 rule, __u8 family, const char *addr, __u8 plen)
{
	struct fg_src v = src_raw(rule, family, addr, plen);
	struct fg_verdict *vc = calloc(fx.ncpus, sizeof(*vc));
	struct fg_src_key k = { .rule = rule, .family = family, .plen = plen };
	int fd = bpf_map__fd(fx.skel->maps.fg_verdicts), c;
	__u32 i;

	assert_non_null(vc);
	assert_int_equal(inet_pton(family == FG_FAM_IPV4 ? AF_INET : AF_INET6, addr, k.addr), 1);
	for (i = 0; i < FG_VC_SLOTS; i++) {
		assert_int_equal(bpf_map_lookup_elem(fd, &i, vc), 0);
		for (c = 0; c < fx.ncpus; c++)
			if (!memcmp(&vc[c].key, &k, sizeof(k))) {
				v.packets += vc[c].packets;
				v.bytes += vc[c].bytes;
				if (vc[c].reason != FG_R_PASS)
					v.drops += vc[c].packets;
			}
	}
	free(vc);
	return v;
}

/* Send from `src` to tcp/dport with flags; assert verdict, reason and what the rule counted. */
static void send_tcp_notes(const char *src, __u16 dport, __u8 flags, __u32 xdp, int reason,
			   int rule, int field, __u32 notes)
{
	struct fx_pkt *p = malloc(sizeof(*p));
	struct fx_spec s = {
		.family = strchr(src, ':') ? 6 : 4, .src = src, .dport = dport, .tcp_flags = flags
	};
	struct expect e = { xdp, reason, rule, notes };
	struct fx_result r;
	char what[96];

	assert_non_null(p);
	assert_true(fx_build(p, &s));
	r = fx_send(&fx, p->b, p->len);
	snprintf(what, sizeof(what), "%s -> tcp/%u flags %#x at tick %llu", src, dport, flags,
		 (unsigned long long)(fx_now(&fx) - T0));
	assert_true(check(what, &r, &e, p->len));
	if (rule >= 0 && !(r.rule_field == field && r.rule_bytes == p->len)) {
		print_error("%s: rule counter %d moved (bytes %llu), expected %d\n", what,
			    r.rule_field, (unsigned long long)r.rule_bytes, field);
		fail();
	}
	free(p);
}

static void send_tcp(const char *src, __u16 dport, __u8 flags, __u32 xdp, int reason, int rule,
		     int field)
{
	send_tcp_notes(src, dport, flags, xdp, reason, rule, field, 0);
}

enum { F_PASSED = 0, F_DROPPED = 1, F_WOULD = 2 };

static void test_action_drop(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_src v;

	rule_add(rs, 1, FX_IP_TCP, 26, 26)->pps = (struct fg_limit){ 1, 2 };
	ruleset_commit(rs);
	send_tcp("198.18.1.1", 26, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.1.1", 26, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.1.1", 26, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	send_tcp("198.18.1.1", 26, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	v = src_get(1, FG_FAM_IPV4, "198.18.1.1", 32);
	assert_int_equal(v.packets, 4);
	assert_int_equal(v.drops, 2);
	assert_int_equal(v.last_seen, T0);
	/* one second refills one packet */
	fx_set_now(&fx, T0 + HZ - 1);
	send_tcp("198.18.1.1", 26, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	fx_set_now(&fx, T0 + HZ);
	send_tcp("198.18.1.1", 26, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.1.1", 26, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	/* no ban was made */
	struct fg_ban b;
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.1.1", 32, &b), -ENOENT);
}

/*
 * The verdict cache: a source over its packet limit is dropped for the
 * rest of the tick without its bucket (which then counts only the packet
 * that found it over); what the cache dropped reaches the bucket within a
 * second (the CPU's sweep). An allow entry, or a new rule set, takes
 * effect at once, within the tick.
 */
/* The counters as the data path holds them, without what the caches hold: rate_pps, rule 1 dropped. */
static void raw_drops(__u64 *reason, __u64 *rule)
{
	struct fg_count c;
	struct fg_rule_count rc;

	assert_int_equal(fg_percpu_sum(&fx.m, fx.m.counters, FG_R_RATE_PPS, &c, sizeof(c)), 0);
	assert_int_equal(fg_percpu_sum(&fx.m, fx.m.rule_stats, 1, &rc, sizeof(rc)), 0);
	*reason = c.packets;
	*rule = rc.dropped;
}

/* fg_sources_each's callback: copy the bucket of the key in *ctx (a struct fg_source_entry). */
static int find_bucket(const struct fg_src_key *k, const struct fg_src *v, void *ctx)
{
	struct fg_source_entry *e = ctx;

	if (!memcmp(k, &e->key, sizeof(*k)))
		e->val = *v;
	return 0;
}

static void test_verdict_cache(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	__u64 reason0, rule0, reason, rule;
	struct fg_source_entry found = {};
	struct fg_rule *r;
	struct fg_src v;
	int i;

	rule_add(rs, 1, FX_IP_TCP, 27, 27)->pps = (struct fg_limit){ 1, 2 };
	ruleset_commit(rs);
	raw_drops(&reason0, &rule0);
	for (i = 0; i < 2; i++)
		send_tcp("198.18.2.1", 27, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	for (i = 0; i < 8; i++) /* send_tcp reads the counters with the caches' part, as stats does */
		send_tcp("198.18.2.1", 27, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	v = src_raw(1, FG_FAM_IPV4, "198.18.2.1", 32);
	assert_int_equal(v.packets, 3);
	assert_int_equal(v.drops, 1);
	raw_drops(&reason, &rule); /* the first drop is counted, the next 7 wait in the cache */
	assert_int_equal(reason - reason0, 1);
	assert_int_equal(rule - rule0, 1);
	v = src_get(1, FG_FAM_IPV4, "198.18.2.1", 32);
	assert_int_equal(v.packets, 10);
	assert_int_equal(v.drops, 8);
	/* as top and /metrics read it: the walk adds what the caches hold */
	found.key = (struct fg_src_key){ .rule = 1, .family = FG_FAM_IPV4, .plen = 32 };
	assert_int_equal(inet_pton(AF_INET, "198.18.2.1", found.key.addr), 1);
	assert_int_equal(fg_sources_each(&fx.m, find_bucket, &found), 0);
	assert_int_equal(found.val.packets, 10);
	assert_int_equal(found.val.drops, 8);

	/* a second on, any packet on this CPU settles it, into the bucket and the counters */
	fx_set_now(&fx, T0 + 2 * HZ);
	send_tcp("198.18.2.2", 27, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	v = src_raw(1, FG_FAM_IPV4, "198.18.2.1", 32);
	assert_int_equal(v.packets, 10);
	assert_int_equal(v.drops, 8);
	assert_int_equal(v.bytes, 10 * 54);
	raw_drops(&reason, &rule);
	assert_int_equal(reason - reason0, 8);
	assert_int_equal(rule - rule0, 8);

	/* an allow entry passes it within the tick: a change of the lists voids the cache */
	for (i = 0; i < 2; i++)
		send_tcp("198.18.2.1", 27, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.2.1", 27, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	send_tcp("198.18.2.1", 27, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	list_put("198.18.2.1/32", FG_LIST_ALLOW, FG_LIST_ALLOW, 0);
	send_tcp("198.18.2.1", 27, FX_TCP_ACK, PASS, FG_R_ALLOW, -1, F_PASSED);
	lists_clear();
	send_tcp("198.18.2.1", 27, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	/* a deny entry too, though the cache sees it before the lists */
	send_tcp("198.18.2.1", 27, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	list_put("198.18.2.0/24", FG_LIST_DENY, FG_LIST_DENY, 0);
	send_tcp("198.18.2.1", 27, FX_TCP_ACK, DROP, FG_R_DENY, -1, F_DROPPED);
	lists_clear();

	/* so does a new rule set: the same limit, now monitored */
	rs = ruleset_new();
	r = rule_add(rs, 1, FX_IP_TCP, 27, 27);
	r->pps = (struct fg_limit){ 1, 2 };
	r->action = FG_ACT_MONITOR;
	ruleset_commit(rs);
	send_tcp("198.18.2.1", 27, FX_TCP_ACK, PASS, FG_R_MONITOR, 1, F_WOULD);
}

/* Rule 1's dropped count, with what the caches hold for it (as stats reads it). */
static __u64 rule1_dropped(void)
{
	struct fg_rule_count rc[FG_MAX_RULES];

	assert_int_equal(fx_rule_stats(&fx, rc), 0);
	return rc[1].dropped;
}

/*
 * The drops a cache holds belong to the rule that judged them: a new rule
 * set keeps them in that rule's count (a count never goes back), and a
 * rule that takes the index later does not get them.
 */
static void test_verdict_cache_rules(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	__u64 reason0, rule0, reason, rule;
	int i;

	rule_add(rs, 1, FX_IP_TCP, 28, 28)->pps = (struct fg_limit){ 1, 1 };
	ruleset_commit(rs);
	raw_drops(&reason0, &rule0);
	send_tcp("198.18.3.1", 28, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	for (i = 0; i < 5; i++) /* one counted, four in the cache */
		send_tcp("198.18.3.1", 28, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	assert_int_equal(rule1_dropped() - rule0, 5);

	/* the same rule with other limits: still its five */
	rs = ruleset_new();
	rule_add(rs, 1, FX_IP_TCP, 28, 28)->pps = (struct fg_limit){ 1, 2 };
	ruleset_commit(rs);
	assert_int_equal(rule1_dropped() - rule0, 5);

	/* another endpoint at index 1: the cached four are not its drops, then or settled */
	rs = ruleset_new();
	rule_add(rs, 1, FX_IP_TCP, 29, 29)->pps = (struct fg_limit){ 1, 1 };
	ruleset_commit(rs);
	assert_int_equal(rule1_dropped() - rule0, 1);
	fx_set_now(&fx, T0 + 2 * HZ);
	send_tcp("198.18.3.2", 29, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED); /* settles */
	raw_drops(&reason, &rule);
	assert_int_equal(rule - rule0, 1);
	assert_int_equal(reason - reason0, 5); /* the reason's count has them all */
}

/* What drain() does on a CPU of its own: packets until the first drop. */
struct drain {
	int cpu;	 /* the CPU it runs on */
	const char *src; /* the source */
	__u16 dport;	 /* to tcp/dport */
	int max;	 /* packets at most; 0: until a drop, which must come within 100,000 */
	int passed;	 /* packets passed before the first drop */
	int err;	 /* 0, or what failed */
};

static void *drain(void *arg)
{
	struct drain *d = arg;
	struct fx_pkt *p = malloc(sizeof(*p));
	struct fx_spec s = { .family = 4, .src = d->src, .dport = d->dport, .tcp_flags = FX_TCP_ACK };
	__u32 ret = XDP_PASS;
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(d->cpu, &one);
	d->passed = 0;
	d->err = !p || sched_setaffinity(0, sizeof(one), &one) || !fx_build(p, &s);
	while (!d->err && d->passed < (d->max ? d->max : 100000)) {
		d->err = fx_run(&fx, p->b, p->len, 1, &ret);
		if (ret != XDP_PASS)
			break;
		d->passed++;
	}
	d->err |= d->max ? ret != XDP_PASS && ret != XDP_DROP : ret != XDP_DROP;
	free(p);
	return NULL;
}

/* drain() on CPU cpu (a thread of its own for another CPU than this one's, 0): its passes. */
static int drain_on(int cpu, const char *src, __u16 dport, int max)
{
	struct drain d = { .cpu = cpu, .src = src, .dport = dport, .max = max };
	pthread_t t;

	if (cpu) {
		assert_int_equal(pthread_create(&t, NULL, drain, &d), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
	} else {
		drain(&d);
	}
	assert_int_equal(d.err, 0);
	return d.passed;
}

/*
 * A source well within a large burst passes on leases (struct
 * fg_verdict): counted where every pass is, ended by a ban or a list
 * entry within the tick, and exact across CPUs: the tokens a lease did
 * not spend go back unless its bucket was found full since.
 */
static void test_verdict_cache_lease(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r;
	struct fg_src v;
	int i, passed;

	rule_add(rs, 1, FX_IP_TCP, 30, 30)->pps = (struct fg_limit){ 1000, 1024 }; /* leases of 16 */
	r = rule_add(rs, 2, FX_IP_TCP, 31, 31);
	r->pps = (struct fg_limit){ 1, 1 };
	r->action = FG_ACT_BAN;
	r->ban_ticks = 10 * HZ;
	r->ban_mult = 1;
	r->ban_max_ticks = 10 * HZ;
	ruleset_commit(rs);

	/* counted as passed, by the reason and the rule (send_tcp reads them as stats does) */
	for (i = 0; i < 40; i++)
		send_tcp("198.18.4.1", 30, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	v = src_raw(1, FG_FAM_IPV4, "198.18.4.1", 32);
	assert_true(v.packets < 40); /* the rest passed on a lease, not yet in the bucket */
	v = src_get(1, FG_FAM_IPV4, "198.18.4.1", 32);
	assert_int_equal(v.packets, 40);
	assert_int_equal(v.drops, 0);

	/* a ban of the source on another rule, within the tick, ends its lease */
	send_tcp("198.18.4.1", 31, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp_notes("198.18.4.1", 31, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 2, F_DROPPED,
		       FX_NOTE(FG_C_BANS));
	send_tcp("198.18.4.1", 30, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	/* so does a deny entry */
	send_tcp("198.18.4.3", 30, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.4.3", 30, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	list_put("198.18.4.3/32", FG_LIST_DENY, FG_LIST_DENY, 0);
	send_tcp("198.18.4.3", 30, FX_TCP_ACK, DROP, FG_R_DENY, -1, F_DROPPED);
	lists_clear();

	/* one CPU: a full burst passes, exactly, leases and all */
	assert_int_equal(drain_on(0, "198.18.4.4", 30, 0), 1024);
	if (fx.ncpus < 2)
		return;
	/*
	 * Two CPUs: CPU 0 holds a lease of 16 it never spends; two seconds
	 * later CPU 1 finds the bucket full, which refilled past that lease;
	 * then both drain it. A refund of the old lease would pass 16 more.
	 */
	send_tcp("198.18.4.2", 30, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	fx_set_now(&fx, T0 + 2 * HZ);
	passed = drain_on(1, "198.18.4.2", 30, 0);
	passed += drain_on(0, "198.18.4.2", 30, 0);
	passed += drain_on(1, "198.18.4.2", 30, 0);
	assert_int_equal(passed, 1024);
}

/*
 * A cache entry holds a whole bucket, but the lists judge addresses:
 * while a list entry is longer than a rule's buckets, the cache holds
 * none of that rule's buckets of the family, so an address the lists
 * allow (or deny) in a bucket another address drove over its limit (or
 * holds a lease of) gets the lists' verdict. Entries no longer than the
 * buckets (each covers a bucket whole or none of it) leave the cache on.
 */
static void test_verdict_cache_lists(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	__u64 reason0, rule0, reason, rule;
	struct fg_rule *r;
	int i;

	r = rule_add(rs, 1, FX_IP_TCP, 32, 32);
	r->pps = (struct fg_limit){ 1, 2 };
	r->plen4 = 24;
	r->plen6 = 64;
	r = rule_add(rs, 2, FX_IP_TCP, 33, 33);
	r->pps = (struct fg_limit){ 1000, 1024 }; /* leases of 16 */
	r->plen4 = 24;
	ruleset_commit(rs);
	list_put("198.18.5.7/32", FG_LIST_ALLOW, FG_LIST_ALLOW, 0);
	list_put("198.18.6.66/32", FG_LIST_DENY, FG_LIST_DENY, 0);
	list_put("2001:db8:5::7/128", FG_LIST_ALLOW, FG_LIST_ALLOW, 0);

	/* .1 drives its /24 over the limit; .7 in it is allowed */
	for (i = 0; i < 2; i++)
		send_tcp("198.18.5.1", 32, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	for (i = 0; i < 3; i++)
		send_tcp("198.18.5.1", 32, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	send_tcp("198.18.5.7", 32, FX_TCP_ACK, PASS, FG_R_ALLOW, -1, F_PASSED);
	/* .1 takes leases of its /24; .66 in it stays denied */
	for (i = 0; i < 3; i++)
		send_tcp("198.18.6.1", 33, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("198.18.6.66", 33, FX_TCP_ACK, DROP, FG_R_DENY, -1, F_DROPPED);
	/* IPv6, a /64 bucket and a /128 on the allow list */
	for (i = 0; i < 2; i++)
		send_tcp("2001:db8:5::1", 32, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	for (i = 0; i < 3; i++)
		send_tcp("2001:db8:5::1", 32, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	send_tcp("2001:db8:5::7", 32, FX_TCP_ACK, PASS, FG_R_ALLOW, -1, F_PASSED);

	/* a /24 entry covers a /24 bucket whole or not at all: the drops are cached again */
	lists_clear();
	list_put("198.18.200.0/24", FG_LIST_DENY, FG_LIST_DENY, 0);
	fx_set_now(&fx, T0 + 10 * HZ);
	for (i = 0; i < 2; i++)
		send_tcp("198.18.5.1", 32, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	raw_drops(&reason0, &rule0);
	for (i = 0; i < 5; i++)
		send_tcp("198.18.5.1", 32, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	raw_drops(&reason, &rule);
	assert_int_equal(reason - reason0, 1); /* the first counted, the next 4 in the cache */
	assert_int_equal(rule - rule0, 1);
	lists_clear();
}

static void test_action_monitor(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 25, 25);

	r->pps = (struct fg_limit){ 1, 1 };
	r->action = FG_ACT_MONITOR;
	ruleset_commit(rs);
	send_tcp("2001:db8:1::1", 25, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("2001:db8:1::1", 25, FX_TCP_ACK, PASS, FG_R_MONITOR, 1, F_WOULD);
	send_tcp("2001:db8:1::1", 25, FX_TCP_ACK, PASS, FG_R_MONITOR, 1, F_WOULD);
	/* a would-drop does not consume: one second later exactly one passes again */
	fx_set_now(&fx, T0 + HZ);
	send_tcp("2001:db8:1::1", 25, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("2001:db8:1::1", 25, FX_TCP_ACK, PASS, FG_R_MONITOR, 1, F_WOULD);
}

static int ev_count;
static struct fg_event ev_last;

static int on_event(void *ctx, void *data, size_t size)
{
	if (size >= sizeof(ev_last))
		memcpy(&ev_last, data, sizeof(ev_last));
	ev_count++;
	return 0;
}

/* Commit rule 1, tcp/22: limit pps, action ban as given. */
static void ban_rule_pps(__u8 plen4, struct fg_limit pps, __u64 ban_ticks, __u32 mult, __u64 max_ticks)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 22, 22);

	r->pps = pps;
	r->action = FG_ACT_BAN;
	r->plen4 = plen4;
	r->ban_ticks = ban_ticks;
	r->ban_mult = mult;
	r->ban_max_ticks = max_ticks;
	ruleset_commit(rs);
}

/* Rule 1, tcp/22: 1 packet/s, burst 2, action ban. */
static void ban_rules(__u8 plen4, __u64 ban_ticks, __u32 mult, __u64 max_ticks)
{
	ban_rule_pps(plen4, (struct fg_limit){ 1, 2 }, ban_ticks, mult, max_ticks);
}

/* Exceed the rule from src at the current tick: two pass, the third bans (counted in FG_C_BANS). */
static void provoke_ban(const char *src)
{
	int i;

	for (i = 0; i < 2; i++)
		send_tcp(src, 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp_notes(src, 22, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED, FX_NOTE(FG_C_BANS));
}

/*
 * Tests of a program loaded with test knobs (fx_open_knobs) run on their
 * own instance in fx; knobs_close, their teardown, puts the shared one
 * back even when the test failed half way.
 */
static struct fx fx_shared;

static void knobs_open(unsigned int knobs)
{
	fx_shared = fx;
	assert_int_equal(fx_open_knobs(&fx, HZ, 0, knobs), 0);
	fx_set_now(&fx, T0);
}

static int knobs_close(void **state)
{
	if (fx_shared.skel) {
		fx_close(&fx);
		fx = fx_shared;
		memset(&fx_shared, 0, sizeof(fx_shared));
	}
	return 0;
}

/*
 * A limit's compare-and-swap that keeps losing to other CPUs decides
 * nothing: after FG_CAS_TRIES lost races the packet passes uncharged and
 * is counted, never dropped or banned. fg_test_lose makes every race
 * lose; a ban rule whose per-source and endpoint limits the packets are
 * far over would otherwise drop and ban from the third packet on.
 */
static void test_lost_races(void **state)
{
	struct fg_ruleset *rs;
	struct fg_rule *r;
	struct fg_ban b;
	__u64 lost;
	int i;

	knobs_open(FX_LOSE);
	rs = ruleset_new();
	r = rule_add(rs, 1, FX_IP_TCP, 22, 22);
	r->pps = (struct fg_limit){ 1, 2 };
	r->total = (struct fg_limit){ 1, 1 };
	r->action = FG_ACT_BAN;
	r->ban_ticks = 10 * HZ;
	r->ban_mult = 2;
	r->ban_max_ticks = 100 * HZ;
	ruleset_commit(rs);
	lost = fx_counter(&fx, FG_C_LOST_RACE);
	for (i = 0; i < 6; i++)
		send_tcp_notes("198.18.20.1", 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED,
			       FX_NOTE(FG_C_LOST_RACE) | (i ? 0 : FX_NOTE(FG_C_SOURCE_NEW)));
	/* two limits consulted per packet, each undecided */
	assert_int_equal(fx_counter(&fx, FG_C_LOST_RACE), lost + 12);
	assert_int_equal(fx_counter(&fx, FG_C_BANS), 0);
	assert_int_not_equal(ban_get(FG_FAM_IPV4, "198.18.20.1", 32, &b), 0);
}

/*
 * A lease keeps the ban generation its packet's ban check read, not the
 * bucket's when the lease is taken: another CPU that banned the source in
 * between moved the bucket's on, and a lease of the newer one would pass
 * the banned source's next packets on this CPU for the rest of the tick.
 */
static void test_verdict_cache_lease_ban_race(void **state)
{
	struct fg_ruleset *rs = ruleset_new();

	knobs_open(FX_BANNED);
	rule_add(rs, 1, FX_IP_TCP, 30, 30)->pps = (struct fg_limit){ 1000, 1024 }; /* leases of 16 */
	ruleset_commit(rs);
	send_tcp("198.18.4.9", 30, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED); /* checked, leased */
	send_tcp("198.18.4.9", 30, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
}

/*
 * A ban the full ban table cannot hold still ends the source's leases on
 * other CPUs within the tick: it moves its group's generation.
 */
static void test_verdict_cache_lease_ban_unrecorded(void **state)
{
	struct fg_ban_key k = { .family = FG_FAM_IPV4, .plen = 32 };
	struct fg_ban b = { .expires = T0 + 1000 * HZ, .strikes = 1 };
	__u64 fails = fx_counter(&fx, FG_C_BAN_INSERT_FAIL);
	__u32 i;

	if (fx.ncpus < 2)
		skip();
	ban_rule_pps(32, (struct fg_limit){ 1000, 256 }, 10 * HZ, 1, 10 * HZ); /* leases of 4 */
	for (i = 0; i < 4096; i++) { /* the fixture's table: 4096 entries, all others' */
		k.addr[0] = 198, k.addr[1] = 19, k.addr[2] = i >> 8, k.addr[3] = i & 0xff;
		assert_int_equal(bpf_map_update_elem(fx.m.bans, &k, &b, BPF_ANY), 0);
	}
	/* CPU 1 passes one and holds a lease of 4; CPU 0 drains the rest, and its drop bans */
	assert_int_equal(drain_on(1, "198.18.22.1", 22, 1), 1);
	assert_int_equal(drain_on(0, "198.18.22.1", 22, 0), 256 - 5);
	assert_int_equal(fx_counter(&fx, FG_C_BAN_INSERT_FAIL), fails + 1);
	/* CPU 1 again, the same tick: its lease must not pass a banned source */
	assert_int_equal(drain_on(1, "198.18.22.1", 22, 0), 0);
}

/*
 * A ban that a full ban table could not record lives in the source's
 * bucket alone, and holds until it ends: a ban change elsewhere (which
 * makes every bucket check its bans again) must not forget it, though the
 * table has no entry for it.
 */
static void test_ban_table_full(void **state)
{
	__u64 t = T0, fails = fx_counter(&fx, FG_C_BAN_INSERT_FAIL);
	struct fg_ban_key k = { .family = FG_FAM_IPV4, .plen = 32 };
	struct fg_ban b = { .expires = T0 + 1000 * HZ, .strikes = 1 };
	__u32 i;

	ban_rules(32, 10 * HZ, 2, 100 * HZ);
	for (i = 0; i < 4096; i++) { /* the fixture's table: 4096 entries, all others' */
		k.addr[0] = 198, k.addr[1] = 19, k.addr[2] = i >> 8, k.addr[3] = i & 0xff;
		assert_int_equal(bpf_map_update_elem(fx.m.bans, &k, &b, BPF_ANY), 0);
	}
	for (i = 0; i < 2; i++)
		send_tcp("198.18.21.1", 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp_notes("198.18.21.1", 22, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED,
		       FX_NOTE(FG_C_BAN_INSERT_FAIL));
	assert_int_equal(fx_counter(&fx, FG_C_BAN_INSERT_FAIL), fails + 1);
	assert_int_not_equal(ban_get(FG_FAM_IPV4, "198.18.21.1", 32, &b), 0);
	send_tcp("198.18.21.1", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);

	/* 5 s on, the rate's burst is back; a ban is lifted elsewhere: still banned */
	fx_set_now(&fx, t + 5 * HZ);
	k.addr[2] = 0, k.addr[3] = 7;
	assert_int_equal(bpf_map_delete_elem(fx.m.bans, &k), 0);
	__atomic_fetch_add(&fx.m.st->ban_gen, 1, __ATOMIC_RELEASE);
	send_tcp("198.18.21.1", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	__atomic_fetch_add(&fx.m.st->ban_gen, 1, __ATOMIC_RELEASE);
	send_tcp("198.18.21.1", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	send_tcp("198.18.21.2", 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED); /* a neighbour */

	/* the ban's ten seconds end: the source is judged by its limits again */
	fx_set_now(&fx, t + 10 * HZ);
	__atomic_fetch_add(&fx.m.st->ban_gen, 1, __ATOMIC_RELEASE);
	send_tcp("198.18.21.1", 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
}

/*
 * A ban storm elsewhere must not make known sources check their bans
 * again on every packet (issue 12, hole 3): a bucket's cached ban state
 * follows the generation of its group (its /24 here: the coarse prefix,
 * shorter than the rule's /32), and only a ban in that group moves it.
 * A bucket that rechecks stores the new generation, so an unchanged
 * ban_gen means no recheck.
 */
static void test_ban_groups(void **state)
{
	struct fg_src b0, b;
	char src[32];
	int i;

	ban_rules(32, 10 * HZ, 2, 100 * HZ);
	send_tcp("198.18.75.1", 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	b0 = src_get(1, FG_FAM_IPV4, "198.18.75.1", 32);
	for (i = 0; i < 100; i++) { /* 100 bans in 198.18.76.0/24 */
		snprintf(src, sizeof(src), "198.18.76.%d", i + 1);
		provoke_ban(src);
	}
	fx_set_now(&fx, T0 + 2 * HZ); /* the known source's burst is back */
	send_tcp("198.18.75.1", 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	b = src_get(1, FG_FAM_IPV4, "198.18.75.1", 32);
	assert_int_equal(b.ban_gen, b0.ban_gen);

	/* a ban in its own /24 moves its group: it checks, and is not banned */
	provoke_ban("198.18.75.2");
	send_tcp("198.18.75.1", 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	b = src_get(1, FG_FAM_IPV4, "198.18.75.1", 32);
	assert_int_not_equal(b.ban_gen, b0.ban_gen);
	send_tcp("198.18.75.2", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
}

/*
 * Rule 1, tcp/22, bans at /plen4 (as ban_rules), beside rule 2, tcp/80,
 * without limits: its buckets only learn of bans.
 */
static void ban_rules_beside(__u8 plen4)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 22, 22);

	r->pps = (struct fg_limit){ 1, 2 };
	r->action = FG_ACT_BAN;
	r->plen4 = plen4;
	r->ban_ticks = 10 * HZ;
	r->ban_mult = 2;
	r->ban_max_ticks = 100 * HZ;
	rule_add(rs, 2, FX_IP_TCP, 80, 80);
	ruleset_commit(rs);
}

/*
 * A bucket keeps its ban group; a new rule set whose bans may be shorter
 * (a /16 here, so the group prefix is /16, no longer /24) must give it its
 * new group, or a ban in that group would never make it check again.
 */
static void test_ban_group_new_ruleset(void **state)
{
	ban_rules_beside(32);
	send_tcp("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	ban_rules_beside(16);
	send_tcp("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	provoke_ban("198.18.81.1"); /* bans 198.18.0.0/16: another /24 of the source's /16 */
	send_tcp("198.18.80.1", 80, FX_TCP_ACK, DROP, FG_R_BANNED, 2, F_DROPPED);
}

static void test_action_ban(void **state)
{
	struct ring_buffer *rb;
	struct fg_ban b;
	__u64 t = T0, bans = fx_counter(&fx, FG_C_BANS);
	const __u8 banned[4] = { 198, 18, 2, 1 };

	ban_rules(32, 10 * HZ, 3, 50 * HZ);
	rb = ring_buffer__new(fx.m.events, on_event, NULL, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	ev_count = 0;

	provoke_ban("198.18.2.1");
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.2.1", 32, &b), 0);
	assert_int_equal(b.strikes, 1);
	assert_int_equal(b.expires, t + 10 * HZ);
	assert_int_equal(b.rule, 1);
	assert_int_equal(fx_counter(&fx, FG_C_BANS), bans + 1);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(ev_count, 1);
	assert_int_equal(ev_last.type, FG_EV_BAN);
	assert_int_equal(ev_last.duration, 10 * HZ);
	assert_int_equal(ev_last.strikes, 1);
	assert_int_equal(ev_last.rule, 1);
	assert_int_equal(ev_last.family, FG_FAM_IPV4);
	assert_int_equal(ev_last.plen, 32);
	assert_memory_equal(ev_last.addr, banned, 4);

	/* banned: every later packet, on any rule whose bucket covers it, until expiry */
	send_tcp("198.18.2.1", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	send_tcp("198.18.2.1", 80, FX_TCP_ACK, DROP, FG_R_BANNED, R_DEF, F_DROPPED);
	send_tcp("198.18.2.2", 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED); /* a neighbour */
	fx_set_now(&fx, t + 10 * HZ - 1);
	send_tcp("198.18.2.1", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	/* expiry: the bucket refilled meanwhile (bans do not consume) */
	fx_set_now(&fx, t + 10 * HZ);
	t += 10 * HZ;
	provoke_ban("198.18.2.1");
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.2.1", 32, &b), 0);
	assert_int_equal(b.strikes, 2);
	assert_int_equal(b.expires, t + 30 * HZ); /* escalated: 10 s x 3 */
	fx_set_now(&fx, t + 30 * HZ - 1);
	send_tcp("198.18.2.1", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	t += 30 * HZ;
	fx_set_now(&fx, t);
	provoke_ban("198.18.2.1");
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.2.1", 32, &b), 0);
	assert_int_equal(b.strikes, 3);
	assert_int_equal(b.expires, t + 50 * HZ); /* 90 s capped at 50 s */
	t += 50 * HZ;
	fx_set_now(&fx, t);
	provoke_ban("198.18.2.1");
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.2.1", 32, &b), 0);
	assert_int_equal(b.strikes, 4);
	assert_int_equal(b.expires, t + 50 * HZ);
	assert_int_equal(ring_buffer__consume(rb), 3);
	assert_int_equal(ev_last.strikes, 4);
	assert_int_equal(ev_last.duration, 50 * HZ);
	ring_buffer__free(rb);
}

/* A ban made by a /24 rule covers the whole /24 and every bucket inside it. */
static void test_ban_prefix(void **state)
{
	struct fg_ban b;

	ban_rules(24, 10 * HZ, 2, 100 * HZ);
	provoke_ban("198.18.3.1");
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.3.0", 24, &b), 0);
	send_tcp("198.18.3.200", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	/* the default rule's /32 buckets look up the rule set's ban prefix lengths too */
	send_tcp("198.18.3.201", 80, FX_TCP_ACK, DROP, FG_R_BANNED, R_DEF, F_DROPPED);
	send_tcp("198.18.4.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	/* an unrelated source with the same low bits is not affected */
	send_tcp("198.18.103.1", 22, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
}

/*
 * A /32 ban (made by a /32 rule) inside a bucket that aggregates a /24: the
 * banned source is dropped on that rule too, its neighbours in the /24 are
 * not, whichever of them the bucket saw first.
 */
static void test_ban_inside_aggregate(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 22, 22);

	r->pps = (struct fg_limit){ 1, 2 };
	r->action = FG_ACT_BAN;
	r->ban_ticks = 10 * HZ;
	r->ban_mult = 1;
	r->ban_max_ticks = 10 * HZ;
	r = rule_add(rs, 2, FX_IP_TCP, 8080, 8080);
	r->plen4 = 24;
	ruleset_commit(rs);
	provoke_ban("198.18.60.1");
	/* the neighbour first: the /24 bucket must not take its "not banned" for everyone */
	send_tcp("198.18.60.2", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("198.18.60.1", 8080, FX_TCP_ACK, DROP, FG_R_BANNED, 2, F_DROPPED);
	/* and the banned source's "banned" is not the neighbour's */
	send_tcp("198.18.60.3", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("198.18.60.2", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("198.18.60.1", 8080, FX_TCP_ACK, DROP, FG_R_BANNED, 2, F_DROPPED);
	fx_set_now(&fx, T0 + 10 * HZ);
	send_tcp("198.18.60.1", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
}

/* ---- 6. prefix aggregation ---- */

static void test_prefix_aggregation(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r;

	r = rule_add(rs, 1, FX_IP_TCP, 8080, 8080);
	r->pps = (struct fg_limit){ 1, 2 };
	r->plen4 = 24;
	r->plen6 = 48;
	r = rule_add(rs, 2, FX_IP_TCP, 8081, 8081);
	r->pps = (struct fg_limit){ 1, 2 };
	r->plen4 = 32;
	r->plen6 = 128;
	ruleset_commit(rs);

	/* /24: two sources in one /24 share one bucket of 2 */
	send_tcp("198.18.5.1", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.5.2", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.5.3", 8080, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	send_tcp("198.18.5.1", 8080, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	send_tcp("198.18.6.1", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED); /* next /24 */
	assert_int_equal(src_get(1, FG_FAM_IPV4, "198.18.5.0", 24).packets, 4);
	/* /32: the same sources each have their own */
	send_tcp("198.18.5.1", 8081, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("198.18.5.1", 8081, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("198.18.5.1", 8081, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 2, F_DROPPED);
	send_tcp("198.18.5.2", 8081, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("198.18.5.3", 8081, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	/* IPv6 /48 shared, /128 not */
	send_tcp("2001:db8:7:1::1", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("2001:db8:7:2::1", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("2001:db8:7:ffff::9", 8080, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	send_tcp("2001:db8:8::1", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("2001:db8:7:1::1", 8081, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("2001:db8:7:1::1", 8081, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("2001:db8:7:1::1", 8081, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 2, F_DROPPED);
	send_tcp("2001:db8:7:1::2", 8081, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	/* the default rule (/32, /64): a /64 shares, a /32 does not */
	rs = ruleset_new();
	rs->cfg.rules[R_DEF].pps = (struct fg_limit){ 1, 1 };
	ruleset_commit(rs);
	send_tcp("2001:db8:9::1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	send_tcp("2001:db8:9::2", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF, F_DROPPED);
	send_tcp("198.18.9.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	send_tcp("198.18.9.2", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
}

/* ---- 7. endpoint total and SYN limits ---- */

static void test_endpoint_total(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r;

	r = rule_add(rs, 1, FX_IP_TCP, 9000, 9000);
	r->total = (struct fg_limit){ 1, 3 };
	r = rule_add(rs, 2, FX_IP_TCP, 9001, 9001);
	r->total = (struct fg_limit){ 1, 2 };
	r->pps = (struct fg_limit){ 1, 1 };
	r = rule_add(rs, 3, FX_IP_TCP, 9002, 9002);
	r->total = (struct fg_limit){ 1, 1 };
	r->action = FG_ACT_MONITOR;
	r = rule_add(rs, 4, FX_IP_TCP, 9003, 9003);
	r->total = (struct fg_limit){ 1, 1 };
	r->pps = (struct fg_limit){ 100, 100 };
	r->action = FG_ACT_BAN;
	r->ban_ticks = 10 * HZ;
	r->ban_mult = 1;
	r->ban_max_ticks = 10 * HZ;
	ruleset_commit(rs);

	/* all sources together: three, then none until it refills */
	send_tcp("198.18.30.1", 9000, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("2001:db8:30::1", 9000, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.30.3", 9000, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.30.4", 9000, FX_TCP_ACK, DROP, FG_R_ENDPOINT, 1, F_DROPPED);
	send_tcp("198.18.30.1", 9000, FX_TCP_ACK, DROP, FG_R_ENDPOINT, 1, F_DROPPED);
	fx_set_now(&fx, T0 + HZ);
	send_tcp("198.18.30.5", 9000, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.30.6", 9000, FX_TCP_ACK, DROP, FG_R_ENDPOINT, 1, F_DROPPED);

	/* a packet over its source limit never reaches (or consumes) the endpoint bucket */
	send_tcp("198.18.31.1", 9001, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("198.18.31.1", 9001, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 2, F_DROPPED);
	send_tcp("198.18.31.1", 9001, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 2, F_DROPPED);
	send_tcp("198.18.31.2", 9001, FX_TCP_ACK, PASS, FG_R_PASS, 2, F_PASSED);
	send_tcp("198.18.31.3", 9001, FX_TCP_ACK, DROP, FG_R_ENDPOINT, 2, F_DROPPED);

	/* monitor: over the endpoint limit passes as would-drop */
	send_tcp("198.18.32.1", 9002, FX_TCP_ACK, PASS, FG_R_PASS, 3, F_PASSED);
	send_tcp("198.18.32.2", 9002, FX_TCP_ACK, PASS, FG_R_MONITOR, 3, F_WOULD);

	/* ban: the endpoint limit drops but bans nobody (the sources are within their limits) */
	send_tcp("198.18.33.1", 9003, FX_TCP_ACK, PASS, FG_R_PASS, 4, F_PASSED);
	send_tcp("198.18.33.2", 9003, FX_TCP_ACK, DROP, FG_R_ENDPOINT, 4, F_DROPPED);
	struct fg_ban b;
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.33.2", 32, &b), -ENOENT);
}

static void test_syn_limit(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 443, 443);

	r->syn = (struct fg_limit){ 1, 2 };
	ruleset_commit(rs);
	send_tcp("198.18.40.1", 443, FX_TCP_SYN, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.40.1", 443, FX_TCP_SYN, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.40.1", 443, FX_TCP_SYN, DROP, FG_R_RATE_SYN, 1, F_DROPPED);
	/* SYN-ACK, ACK, RST are not new connections */
	send_tcp("198.18.40.1", 443, FX_TCP_SYN | FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.40.1", 443, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.40.1", 443, 0x04, PASS, FG_R_PASS, 1, F_PASSED);
	/* SYN with other flags (ECN, FIN) still counts */
	send_tcp("198.18.40.1", 443, FX_TCP_SYN | 0xc0, DROP, FG_R_RATE_SYN, 1, F_DROPPED);
	send_tcp("198.18.40.2", 443, FX_TCP_SYN | 0x01, PASS, FG_R_PASS, 1, F_PASSED);
	fx_set_now(&fx, T0 + HZ);
	send_tcp("198.18.40.1", 443, FX_TCP_SYN, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.40.1", 443, FX_TCP_SYN, DROP, FG_R_RATE_SYN, 1, F_DROPPED);
}

/* Limits apply in order pps, bps, SYN; a packet over one leaves the later ones untouched. */
static void test_limit_order(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 444, 444);

	r->pps = (struct fg_limit){ 1, 3 };
	r->bps = (struct fg_limit){ 8, 2 * 54 }; /* two 54-byte frames */
	r->syn = (struct fg_limit){ 1, 1 };
	ruleset_commit(rs);
	send_tcp("198.18.41.1", 444, FX_TCP_SYN, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.41.1", 444, FX_TCP_SYN, DROP, FG_R_RATE_SYN, 1, F_DROPPED);
	send_tcp("198.18.41.1", 444, FX_TCP_SYN, DROP, FG_R_RATE_BPS, 1, F_DROPPED);
	send_tcp("198.18.41.1", 444, FX_TCP_SYN, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
}

/* ---- 7b. under attack: new sources charged to a coarse prefix ---- */

static int src_exists(__u16 rule, __u8 family, const char *addr, __u8 plen)
{
	struct fg_src_key k = { .rule = rule, .family = family, .plen = plen };
	struct fg_src v;

	assert_int_equal(inet_pton(family == FG_FAM_IPV4 ? AF_INET : AF_INET6, addr, k.addr), 1);
	return !bpf_map_lookup_elem(fx.m.sources, &k, &v);
}

/* A bucket key's hash (fg_key_hash) and its fg_newcomers slot. */
static __u32 newcomer_slot(__u16 rule, __u8 family, const char *addr, __u8 plen, __u64 *h)
{
	struct fg_src_key k = { .rule = rule, .family = family, .plen = plen };

	assert_int_equal(inet_pton(family == FG_FAM_IPV4 ? AF_INET : AF_INET6, addr, k.addr), 1);
	*h = fg_key_hash(&k);
	return fg_newcomer_slot(*h);
}

/* The note of the IPv4 source's own key under the default rule in an attack begun at from. */
static __u64 newcomer_word(const char *addr, __u64 from)
{
	__u64 h;

	newcomer_slot(R_DEF, FG_FAM_IPV4, addr, 32, &h);
	return fg_newcomer_word(h, fx.skel->rodata->fg_seed, from);
}

/* Whether that key is noted as the attack's own. */
static int newcomer_noted(const char *addr, __u64 from)
{
	__u64 h, w;
	__u32 slot = newcomer_slot(R_DEF, FG_FAM_IPV4, addr, 32, &h);

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.skel->maps.fg_newcomers), &slot, &w), 0);
	return w == newcomer_word(addr, from);
}

/* Write word w into fg_newcomers' slot of that key. */
static void newcomer_write(const char *addr, __u64 w)
{
	__u64 h;
	__u32 slot = newcomer_slot(R_DEF, FG_FAM_IPV4, addr, 32, &h);

	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(fx.skel->maps.fg_newcomers), &slot, &w, BPF_ANY), 0);
}

/* The machine's under-attack state (fg_attack). */
static struct fg_attack attack_state(void)
{
	struct fg_attack a = {};

	assert_int_equal(bpf_map_lookup_elem(fx.m.attack, &(__u32){ 0 }, &a), 0);
	return a;
}

static void test_under_attack(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	const __u32 new = FX_NOTE(FG_C_ATTACK_NEW), enter = FX_NOTE(FG_C_ATTACK_ENTER);
	struct ring_buffer *rb;
	int i;

	rs->cfg.rules[R_DEF].pps = (struct fg_limit){ 1, 2 };
	rs->cfg.attack_new_per_sec = 5;
	ruleset_commit(rs);
	rb = ring_buffer__new(fx.m.events, on_event, NULL, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	ev_count = 0;

	/* two seconds before: two sources met, in a window of their own */
	fx_set_now(&fx, T0 - 2 * HZ);
	send_tcp_notes("198.18.90.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       NOTE_CREATED | NOTE_STRICT);
	send_tcp_notes("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       NOTE_CREATED | NOTE_STRICT);
	fx_set_now(&fx, T0);
	/* five new sources a second are fine: exact keys, each bucket created once */
	for (i = 2; i <= 6; i++) {
		char src[32];

		snprintf(src, sizeof(src), "198.18.80.%d", i);
		send_tcp_notes(src, 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
			       NOTE_CREATED | NOTE_STRICT);
	}
	/* the sixth enters under-attack mode and is charged to its /24, as are later ones */
	send_tcp_notes("198.18.80.7", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       enter | new | NOTE_CREATED | NOTE_STRICT);
	/* the /24 bucket exists now: charged to it, nothing created */
	send_tcp_notes("198.18.80.8", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       new | NOTE_STRICT);
	send_tcp_notes("198.18.80.9", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF, F_DROPPED, new);
	assert_true(src_exists(R_DEF, FG_FAM_IPV4, "198.18.80.0", 24));
	assert_false(src_exists(R_DEF, FG_FAM_IPV4, "198.18.80.8", 32));
	send_tcp_notes("2001:db8:80:1::1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, new);
	assert_true(src_exists(R_DEF, FG_FAM_IPV6, "2001:db8:80::", 48));
	/* sources known before the attack's window keep their own buckets (burst 2) */
	send_tcp_notes("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, NOTE_STRICT);
	send_tcp_notes("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, NOTE_STRICT);
	send_tcp("198.18.80.1", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF, F_DROPPED);
	send_tcp("198.18.90.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	/* a source first met in the window that ended in the attack is the attack's: its /24 */
	send_tcp_notes("198.18.80.2", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF, F_DROPPED, new);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(ev_last.type, FG_EV_ATTACK_ON);

	/* hysteresis: three quiet windows (at most half the threshold) before it ends */
	fx_set_now(&fx, T0 + HZ);
	send_tcp("198.18.90.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	send_tcp_notes("198.18.81.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, new);
	fx_set_now(&fx, T0 + 2 * HZ);
	send_tcp_notes("198.18.81.2", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, new);
	fx_set_now(&fx, T0 + 3 * HZ);
	send_tcp("198.18.90.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	assert_int_equal(attack_state().on, 1); /* two quiet windows so far */
	assert_int_equal(ring_buffer__consume(rb), 0);
	fx_set_now(&fx, T0 + 4 * HZ);
	send_tcp("198.18.90.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	send_tcp("198.18.82.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	assert_true(src_exists(R_DEF, FG_FAM_IPV4, "198.18.82.1", 32));
	assert_int_equal(attack_state().on, 0);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(ev_last.type, FG_EV_ATTACK_OFF);
	/* the attack over, the sources met during it have their own buckets again */
	send_tcp_notes("198.18.80.2", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, NOTE_STRICT);
	ring_buffer__free(rb);
}

/* n new sources from 198.18.base.0 upwards, one packet each, run on CPU `cpu`. */
struct new_sources {
	int cpu;  /* the CPU to run on */
	int base; /* third byte of the addresses */
	int n;	  /* sources */
	int err;  /* 0, or what failed */
};

static void *send_new_sources(void *arg)
{
	struct new_sources *ns = arg;
	struct fx_pkt *p = malloc(sizeof(*p));
	cpu_set_t one;
	char src[32];
	int i;

	CPU_ZERO(&one);
	CPU_SET(ns->cpu, &one);
	ns->err = !p || sched_setaffinity(0, sizeof(one), &one);
	for (i = 0; i < ns->n && !ns->err; i++) {
		struct fx_spec s = { .family = 4, .src = src, .dport = 80, .tcp_flags = FX_TCP_ACK };

		snprintf(src, sizeof(src), "198.18.%d.%d", ns->base, i + 1);
		ns->err = !fx_build(p, &s) || fx_run(&fx, p->b, p->len, 1, NULL);
	}
	free(p);
	return NULL;
}

/*
 * A packet whose tick is behind the window (read just before another CPU
 * moved the window on) leaves the window and the mode alone: compared
 * unsigned, it wrapped into some 10^16 windows, moved the window back and
 * counted calm windows towards ending the mode.
 */
static void test_under_attack_clock_behind(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct new_sources a = { .cpu = 0, .base = 110, .n = 12 },
			   b = { .cpu = 0, .base = 111, .n = 1 };
	struct fg_attack was;
	int i;

	rs->cfg.attack_new_per_sec = 10;
	ruleset_commit(rs);
	send_new_sources(&a);
	assert_int_equal(a.err, 0);
	was = attack_state();
	assert_int_equal(was.on, 1);
	for (i = 0; i < 3; i++) { /* three times: FG_CALM_WINDOWS of calm would end the mode */
		fx_set_now(&fx, was.window - 1);
		send_new_sources(&b);
		assert_int_equal(b.err, 0);
		assert_int_equal(attack_state().window, was.window);
		assert_int_equal(attack_state().on, 1);
		assert_int_equal(attack_state().calm, 0);
		b.base++;
	}
}

/*
 * The mode judges the machine's new-source rate, not each CPU's: a flood
 * spread over two CPUs at 0.6 times the threshold each engages it.
 */
static void test_under_attack_machine(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct new_sources a = { .cpu = 0, .base = 100, .n = 6 },
			   b = { .cpu = 1, .base = 101, .n = 6 };
	pthread_t t;

	if (fx.ncpus < 2)
		skip();
	rs->cfg.attack_new_per_sec = 10; /* a batch of one source: every one is added at once */
	ruleset_commit(rs);
	send_new_sources(&a);
	assert_int_equal(a.err, 0);
	assert_int_equal(attack_state().on, 0); /* 6 of 10 */
	assert_int_equal(pthread_create(&t, NULL, send_new_sources, &b), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(b.err, 0);
	assert_int_equal(attack_state().on, 1); /* 12 of 10, six on each CPU */
}

/*
 * New sources that would replace the whole source table within
 * FG_CHURN_SECONDS engage the mode below the configured threshold: the
 * fixture's table of 65536 buckets takes 1092 new sources a second.
 */
static void test_under_attack_churn(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct new_sources a = { .cpu = 0, .base = 110, .n = 250 };
	struct fg_config cfg;
	__u32 slot;
	int i;

	rs->cfg.attack_new_per_sec = 100000;
	ruleset_commit(rs);
	slot = fx.m.st->slot & 1;
	assert_int_equal(bpf_map_lookup_elem(fx.m.config, &slot, &cfg), 0);
	assert_int_equal(cfg.attack_new_per_sec, 100000);
	assert_int_equal(cfg.attack_limit, 65536 / FG_CHURN_SECONDS);
	for (i = 0; i < 4; i++, a.base++) { /* 1000 new sources: not yet */
		send_new_sources(&a);
		assert_int_equal(a.err, 0);
	}
	assert_int_equal(attack_state().on, 0);
	a.n = 200;
	send_new_sources(&a);
	assert_int_equal(attack_state().on, 1);
}

/*
 * Under attack a source counts as known while its fg_seen stamp holds this
 * period or the one before: the bucket lookup is skipped for the others.
 * Outside an attack an old stamp costs nothing: the bucket is still found.
 */
static void test_under_attack_seen(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	const __u32 new = FX_NOTE(FG_C_ATTACK_NEW), enter = FX_NOTE(FG_C_ATTACK_ENTER);
	const __u64 period = 1ULL << fg_seen_shift(HZ), t1 = T0 + 3 * period;
	__u64 inserts, from, w, h, ones, zeros;
	int i;

	assert_true(period >= HZ * FG_SEEN_PERIOD_SEC && period < 2 * HZ * FG_SEEN_PERIOD_SEC);
	rs->cfg.attack_new_per_sec = 5;
	rule_add(rs, 1, FX_IP_TCP, 8080, 8080)->plen4 = 24; /* no longer than the coarse /24 */
	ruleset_commit(rs);
	send_tcp_notes("198.18.90.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       NOTE_CREATED | NOTE_STRICT);
	send_tcp_notes("198.18.93.1", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED,
		       NOTE_CREATED | NOTE_STRICT);
	send_tcp_notes("198.18.92.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       NOTE_CREATED | NOTE_STRICT);
	fx_set_now(&fx, t1 - period + 5); /* the period before t1's */
	send_tcp_notes("198.18.91.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       NOTE_CREATED | NOTE_STRICT);

	/* a second before t1, five sources met (the period before t1's) */
	fx_set_now(&fx, t1 - HZ);
	for (i = 1; i <= 5; i++) {
		char src[32];

		snprintf(src, sizeof(src), "198.18.80.%d", i);
		send_tcp_notes(src, 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
			       NOTE_CREATED | NOTE_STRICT);
	}
	/* three periods on, no attack: the old stamp does not hide the bucket */
	fx_set_now(&fx, t1);
	send_tcp_notes("198.18.92.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, NOTE_STRICT);
	for (i = 6; i <= 10; i++) {
		char src[32];

		snprintf(src, sizeof(src), "198.18.80.%d", i);
		send_tcp_notes(src, 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
			       NOTE_CREATED | NOTE_STRICT);
	}
	send_tcp_notes("198.18.80.11", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       enter | new | NOTE_CREATED | NOTE_STRICT);
	/* under attack: stamped in this period or the one before, the own bucket */
	send_tcp_notes("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, NOTE_STRICT);
	/* stamped, but met in the window that ended in the attack: its /24 */
	from = attack_state().from;
	assert_false(newcomer_noted("198.18.80.6", from));
	send_tcp_notes("198.18.80.6", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       new | NOTE_STRICT);
	/* noted as the attack's own: its next packets skip the lookup, with the same verdict */
	assert_true(newcomer_noted("198.18.80.6", from));
	send_tcp_notes("198.18.80.6", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       new | NOTE_STRICT);
	assert_false(newcomer_noted("198.18.80.1", from)); /* a known source is never noted */
	/* a note decides without the lookup: one of this attack in a known key's slot... */
	w = newcomer_word("198.18.80.1", from);
	newcomer_write("198.18.80.1", w);
	send_tcp_notes("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       new | NOTE_STRICT);
	/* ...but one of another attack, or whose fingerprint differs in any bit, is none */
	for (i = 1; i < 64; i++) {
		newcomer_write("198.18.80.1", w ^ 1ULL << i);
		send_tcp_notes("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
			       NOTE_STRICT);
	}
	/* the fingerprint is keyed by this load's secret: not the key's plain hash */
	assert_true(fx.skel->rodata->fg_seed != 0);
	newcomer_slot(R_DEF, FG_FAM_IPV4, "198.18.80.1", 32, &h);
	assert_true(w != fg_newcomer_word(h, 0, from));
	/* and it has 31 bits: over 64 keys, each is 1 in some note and 0 in another */
	for (i = 0, ones = zeros = 0; i < 64; i++) {
		char src[32];

		snprintf(src, sizeof(src), "198.18.1.%d", i);
		ones |= newcomer_word(src, from);
		zeros |= ~newcomer_word(src, from);
	}
	assert_int_equal((__u32)(ones & zeros), 0xfffffffe);
	send_tcp_notes("198.18.91.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, NOTE_STRICT);
	send_tcp_notes("198.18.92.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, NOTE_STRICT);
	/* a /24 bucket is its own coarse prefix: found, however old its stamp, not a new source */
	inserts = attack_state().inserts; /* the batch is one source here: every one is added */
	send_tcp_notes("198.18.93.7", 8080, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED, NOTE_STRICT);
	assert_int_equal(attack_state().inserts, inserts);
	/* idle for three periods: a new source, charged to its /24 though its bucket exists */
	send_tcp_notes("198.18.90.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       new | NOTE_CREATED | NOTE_STRICT);
	assert_true(src_exists(R_DEF, FG_FAM_IPV4, "198.18.90.0", 24));
	assert_true(src_exists(R_DEF, FG_FAM_IPV4, "198.18.90.1", 32));
	/* a coarse bucket does not stamp the source's own key */
	send_tcp_notes("198.18.90.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       new | NOTE_STRICT);
}

/*
 * Under attack, a coarse prefix over its packet limit drops its new
 * sources' next packets of the tick from this CPU's verdict cache, without
 * its bucket (whose own counters then do not move until the entry is
 * settled); not when some rule bans prefixes longer than the coarse one,
 * since a source's own ban must name its drops. Known sources in the
 * prefix keep their own buckets either way.
 */
static void test_under_attack_cached(void **state)
{
	static const struct {
		const char *what;
		int ban_rule; /* add tcp/22 with action ban at /32: bans longer than /24 */
		int cached;   /* the /24's drops come from the cache */
	} rows[] = {
		{ "no ban longer than the coarse prefix", 0, 1 },
		{ "a rule bans /32s", 1, 0 },
	};
	const __u32 new = FX_NOTE(FG_C_ATTACK_NEW);
	unsigned int i;
	int n;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fg_ruleset *rs = ruleset_new();
		struct fg_src raw0, raw1, all0, all1;

		print_message("# %s\n", rows[i].what);
		clear_state(state);
		rs->cfg.rules[R_DEF].pps = (struct fg_limit){ 1, 2 };
		rs->cfg.attack_new_per_sec = 5;
		if (rows[i].ban_rule) {
			struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 22, 22);

			r->pps = (struct fg_limit){ 1, 2 };
			r->action = FG_ACT_BAN;
			r->ban_ticks = r->ban_max_ticks = 60 * HZ;
			r->ban_mult = 1;
		}
		ruleset_commit(rs);
		fx_set_now(&fx, T0 - 2 * HZ);
		send_tcp_notes("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
			       NOTE_CREATED | NOTE_STRICT);
		if (rows[i].ban_rule)
			provoke_ban("198.18.80.20"); /* its /32, banned for a minute */
		fx_set_now(&fx, T0);
		for (n = 2; n <= 6; n++) {
			char src[32];

			snprintf(src, sizeof(src), "198.18.80.%d", n);
			send_tcp(src, 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
		}
		assert_int_equal(attack_state().on, 0);
		/* the sixth enters the mode: the /24's bucket, its burst of two, then over */
		send_tcp_notes("198.18.80.7", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
			       FX_NOTE(FG_C_ATTACK_ENTER) | new | NOTE_CREATED);
		send_tcp_notes("198.18.80.8", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, new);
		send_tcp_notes("198.18.80.9", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF, F_DROPPED,
			       new);
		raw0 = src_raw(R_DEF, FG_FAM_IPV4, "198.18.80.0", 24);
		all0 = src_get(R_DEF, FG_FAM_IPV4, "198.18.80.0", 24);
		send_tcp_notes("198.18.80.10", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF,
			       F_DROPPED, new);
		send_tcp_notes("198.18.80.11", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF,
			       F_DROPPED, new);
		raw1 = src_raw(R_DEF, FG_FAM_IPV4, "198.18.80.0", 24);
		all1 = src_get(R_DEF, FG_FAM_IPV4, "198.18.80.0", 24);
		assert_int_equal(all1.packets - all0.packets, 2);
		assert_int_equal(all1.drops - all0.drops, 2);
		assert_int_equal(raw1.packets - raw0.packets, rows[i].cached ? 0 : 2);
		/* a known source of the same /24: its own bucket, full */
		send_tcp_notes("198.18.80.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
			       NOTE_STRICT);
		/* the next tick: the /24 is looked up again, still over, and the entry settled */
		fx_set_now(&fx, T0 + 1);
		send_tcp_notes("198.18.80.12", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF,
			       F_DROPPED, new);
		assert_int_equal(src_raw(R_DEF, FG_FAM_IPV4, "198.18.80.0", 24).packets,
				 raw1.packets + 1 + (rows[i].cached ? 2 : 0));
		assert_int_equal(src_get(R_DEF, FG_FAM_IPV4, "198.18.80.0", 24).packets,
				 all1.packets + 1);
		/* a source banned on its own, charged to the over-limit /24: its ban names the drop */
		if (rows[i].ban_rule)
			send_tcp_notes("198.18.80.20", 80, FX_TCP_ACK, DROP, FG_R_BANNED, R_DEF,
				       F_DROPPED, new);
	}
}

/*
 * Under attack, a coarse bucket over its limit under a ban rule drops and
 * bans no one: its packets are new sources' of the whole prefix, spoofed
 * as like as not. A ban of the prefix took in its known clients on fleet
 * peers (which enforce it whole), and here it outlived the attack only in
 * `ban list`: new buckets after it never checked a coarse length.
 */
static void test_under_attack_ban(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = &rs->cfg.rules[R_DEF];
	const __u32 new = FX_NOTE(FG_C_ATTACK_NEW);
	char src[32];
	struct fg_ban b;
	int n;

	r->pps = (struct fg_limit){ 1, 2 };
	r->action = FG_ACT_BAN;
	r->ban_ticks = r->ban_max_ticks = 60 * HZ;
	r->ban_mult = 1;
	rs->cfg.attack_new_per_sec = 5;
	ruleset_commit(rs);
	fx_set_now(&fx, T0 - 2 * HZ);
	send_tcp_notes("198.18.81.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       NOTE_CREATED | NOTE_STRICT);
	fx_set_now(&fx, T0);
	for (n = 2; n <= 6; n++) {
		snprintf(src, sizeof(src), "198.18.81.%d", n);
		send_tcp(src, 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	}
	send_tcp_notes("198.18.81.7", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED,
		       FX_NOTE(FG_C_ATTACK_ENTER) | new | NOTE_CREATED);
	send_tcp_notes("198.18.81.8", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED, new);
	/* over the /24's limit: dropped, no ban (no FG_C_BANS note), none in fg_bans */
	send_tcp_notes("198.18.81.9", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF, F_DROPPED, new);
	send_tcp_notes("198.18.81.10", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF, F_DROPPED, new);
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.81.0", 24, &b), -ENOENT);
	/* a known source's own bucket over its limit is banned as ever (refilled in two seconds) */
	send_tcp("198.18.81.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	send_tcp("198.18.81.1", 80, FX_TCP_ACK, PASS, FG_R_PASS, R_DEF, F_PASSED);
	send_tcp_notes("198.18.81.1", 80, FX_TCP_ACK, DROP, FG_R_RATE_PPS, R_DEF, F_DROPPED,
		       FX_NOTE(FG_C_BANS));
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.81.1", 32, &b), 0);
	send_tcp("198.18.81.1", 80, FX_TCP_ACK, DROP, FG_R_BANNED, R_DEF, F_DROPPED);
}

/* ---- 8. clock range: state that outlives 2^63 rate units ---- */

/*
 * A long ban at a high byte rate: while banned the source keeps sending,
 * so its bucket stays "recently seen" but its byte-limit state is not
 * touched for longer than 2^63 rate units. After the ban the bucket must
 * be full again, not wrapped into "far ahead".
 */
static void test_long_ban_high_rate(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 22, 22);
	__u64 t = T0, ban = 2 * 86400 * HZ; /* 2 days: 1.7e8 ticks x 1e11 > 2^63 */
	int i;

	r->pps = (struct fg_limit){ 1, 2 };
	r->bps = (struct fg_limit){ 100000000000ULL, 1000000 }; /* 100 Gbit/s */
	r->action = FG_ACT_BAN;
	r->ban_ticks = ban;
	r->ban_mult = 1;
	r->ban_max_ticks = ban;
	ruleset_commit(rs);
	provoke_ban("198.18.50.1");
	for (i = 1; i <= 4; i++) {
		fx_set_now(&fx, t + i * ban / 5); /* every 9.6 hours: never idle */
		send_tcp("198.18.50.1", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	}
	/* full again: two pass (both limits), the third is over pps and bans again */
	fx_set_now(&fx, t + ban);
	provoke_ban("198.18.50.1");
}

/*
 * The SYN limit is only consulted for SYNs: a source that sends other
 * packets for long enough (here just under the idle threshold apart)
 * must still find its SYN bucket full. fg_tat_in_range looks at the unconsulted
 * tat only when a packet starts a new block of FG_RANGE_TICKS, so the
 * worst case is a check at a block's start, another packet at its end,
 * then the longest gap that is not idle: the tat must still read as
 * behind now (a full bucket), never wrapped to far ahead.
 */
static void test_syn_after_long_quiet(void **state)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 443, 443);
	__u64 rate = 10000000, step = (1ULL << 62) / rate - 1, t = T0, keep = 4096, a;
	struct fg_src v;
	int i;

	r->syn = (struct fg_limit){ rate, 1 };
	ruleset_commit(rs);
	send_tcp("198.18.51.1", 443, FX_TCP_SYN, PASS, FG_R_PASS, 1, F_PASSED);
	for (i = 1; i <= 3; i++) {
		fx_set_now(&fx, t + i * step);
		send_tcp("198.18.51.1", 443, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	}
	send_tcp("198.18.51.1", 443, FX_TCP_SYN, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.51.1", 443, FX_TCP_SYN, DROP, FG_R_RATE_SYN, 1, F_DROPPED);

	/* the worst case, twice: block start (checked), block end (not), longest non-idle gap */
	a = (t + 3 * step + step / 2) / keep * keep;
	for (i = 0; i < 2; i++) {
		fx_set_now(&fx, a);
		send_tcp("198.18.51.1", 443, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
		fx_set_now(&fx, a + keep - 1);
		send_tcp("198.18.51.1", 443, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
		a += keep - 1 + step;
		fx_set_now(&fx, a);
		send_tcp("198.18.51.1", 443, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
		v = src_get(1, FG_FAM_IPV4, "198.18.51.1", 32);
		if ((__s64)(v.tat_syn - a * rate) >= 0)
			fail_msg("round %d: SYN tat %lld units ahead of now: wrapped", i,
				 (long long)(v.tat_syn - a * rate));
		a = (a + keep - 1) / keep * keep;
	}
	send_tcp("198.18.51.1", 443, FX_TCP_SYN, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.51.1", 443, FX_TCP_SYN, DROP, FG_R_RATE_SYN, 1, F_DROPPED);
}

/*
 * A rule-set change that changes a limit: buckets of sources known before
 * hold their state in the old rate's units, and the data path moves each
 * to the new rate with the tokens it had (fg_rebase) instead of handing
 * every source a fresh burst, or locking it out. Each row: a source
 * empties a bucket of `old` (rate, burst; rate 0: no limit, one packet
 * makes the bucket) at one tick; the rule set changes to `mid` if set, then
 * to `new`, then `extra` more commits that leave the rule alone, with no
 * packet in between; then the packets that pass at once, and after `wait`
 * more ticks (wait * rate / HZ). syn: the SYN limit, with SYNs.
 */
static const struct rebase_case {
	const char *name;
	struct fg_limit old, mid, new; /* the limit before, in between (rate 0: none), after */
	int extra;	 /* commits that leave the rule alone, before the next packet */
	int syn;	 /* the SYN limit instead of the packet limit */
	__u32 now, wait; /* packets passing at once; ticks to wait */
} rebase_cases[] = {
	/* an empty bucket stays empty and refills at the new rate */
	{ "rate halved", { 100, 100 }, {}, { 50, 100 }, 0, 0, 0, HZ / 10 },
	{ "rate x10", { 100, 100 }, {}, { 1000, 100 }, 0, 0, 0, HZ / 10 },
	{ "SYN rate halved", { 100, 100 }, {}, { 50, 100 }, 0, 1, 0, HZ / 10 },
	/* a debt past a smaller burst is an empty bucket, not a longer wait */
	{ "burst cut", { 100, 100 }, {}, { 100, 50 }, 0, 0, 0, HZ / 50 },
	/* commits that change other things leave the bucket as it is */
	{ "other commits", { 100, 100 }, {}, { 100, 100 }, 3, 0, 0, HZ / 100 },
	{ "halved, other commits", { 100, 100 }, {}, { 50, 100 }, 3, 0, 0, HZ / 10 },
	/* two changes without a packet: the old units are gone, full */
	{ "two changes", { 100, 100 }, { 50, 100 }, { 25, 100 }, 0, 0, 100, HZ / 10 },
	/* a limit switched on starts full */
	{ "limit on", { 0, 0 }, {}, { 50, 100 }, 0, 0, 100, HZ / 10 },
};

/* Commit a rule set whose rule 1 (tcp/7100) has limit l as its packet or SYN limit. */
static void rebase_commit(const struct fg_limit *l, int syn, int other)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 7100, 7100);

	if (syn)
		r->syn = *l;
	else
		r->pps = *l;
	if (other) /* another rule that changes with every commit */
		rule_add(rs, 2, FX_IP_UDP, 7000 + other, 7000 + other);
	ruleset_commit(rs);
}

static void test_rate_change(void **state)
{
	unsigned int c, i, n, want;

	for (c = 0; c < sizeof(rebase_cases) / sizeof(rebase_cases[0]); c++) {
		const struct rebase_case *k = &rebase_cases[c];
		__u8 flags = k->syn ? FX_TCP_SYN : FX_TCP_ACK;
		int over = k->syn ? FG_R_RATE_SYN : FG_R_RATE_PPS, x;
		__u64 t = T0 + c * 1000 * HZ;
		char src[32];

		snprintf(src, sizeof(src), "198.18.70.%u", c + 1);
		print_message("# rate change: %s (%s)\n", k->name, src);
		rebase_commit(&k->old, k->syn, 0);
		fx_set_now(&fx, t);
		for (i = 0; i < k->old.burst; i++)
			send_tcp(src, 7100, flags, PASS, FG_R_PASS, 1, F_PASSED);
		if (k->old.rate)
			send_tcp(src, 7100, flags, DROP, over, 1, F_DROPPED);
		else
			send_tcp(src, 7100, flags, PASS, FG_R_PASS, 1, F_PASSED);
		if (k->mid.rate)
			rebase_commit(&k->mid, k->syn, 0);
		rebase_commit(&k->new, k->syn, 0);
		for (x = 1; x <= k->extra; x++)
			rebase_commit(&k->new, k->syn, x);
		for (n = 0; n < 2; n++) {
			want = n ? (__u32)(k->wait * k->new.rate / HZ) : k->now;
			if (n)
				fx_set_now(&fx, t + k->wait);
			for (i = 0; i < want; i++)
				send_tcp(src, 7100, flags, PASS, FG_R_PASS, 1, F_PASSED);
			send_tcp(src, 7100, flags, DROP, over, 1, F_DROPPED);
		}
	}
}

/*
 * A packet that read the rule set before a flip, on a bucket another CPU
 * already moved to the new one, must not move it back nor judge it in the
 * wrong units (which would read as a full bucket and reset it): it passes
 * on the endpoint limit alone and leaves the bucket be. Put the old slot
 * back by hand, as that packet sees it.
 */
static void test_rate_change_stale_packet(void **state)
{
	struct fg_limit old = { 100, 100 }, half = { 50, 100 };
	__u32 live;
	int i;

	rebase_commit(&old, 0, 0);
	for (i = 0; i < 100; i++)
		send_tcp("198.18.71.1", 7100, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	rebase_commit(&half, 0, 0);
	send_tcp("198.18.71.1", 7100, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	live = fx.m.st->slot;
	fx.m.st->slot = !live; /* the packet of a CPU still on the old rule set */
	send_tcp("198.18.71.1", 7100, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	fx.m.st->slot = live;
	send_tcp("198.18.71.1", 7100, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);
	fx_set_now(&fx, T0 + HZ / 10); /* 5 tokens at 50/s */
	for (i = 0; i < 5; i++)
		send_tcp("198.18.71.1", 7100, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.71.1", 7100, FX_TCP_ACK, DROP, FG_R_RATE_PPS, 1, F_DROPPED);

	/* a banned source stays banned for a stale packet too */
	ban_rules(32, 10 * HZ, 3, 50 * HZ);
	provoke_ban("198.18.71.2");
	/* a new rate: the bucket moves on its next packet */
	ban_rule_pps(32, (struct fg_limit){ 2, 4 }, 10 * HZ, 3, 50 * HZ);
	send_tcp("198.18.71.2", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	live = fx.m.st->slot;
	fx.m.st->slot = !live;
	send_tcp("198.18.71.2", 22, FX_TCP_ACK, DROP, FG_R_BANNED, 1, F_DROPPED);
	fx.m.st->slot = live;
}

/* The live rule set's `since` of rule i. */
static __u32 live_since(int i)
{
	struct fg_config *c = malloc(sizeof(*c));
	__u32 slot = fx.m.st->slot, since;

	assert_non_null(c);
	assert_int_equal(bpf_map_lookup_elem(fx.m.config, &slot, c), 0);
	since = c->rules[i].since;
	free(c);
	return since;
}

/*
 * A packet judged under one rule set whose bucket another CPU moves to a
 * newer one between its read of the tat and its compare-and-swap must not
 * write the tat in the old units: it passes uncharged (a lost race) and
 * leaves the bucket as the other CPU made it. fg_test_moved moves every
 * bucket just then. The endpoint total's tat is kept the same way.
 */
static void test_rate_change_mid_packet(void **state)
{
	struct fg_ruleset *rs;
	struct fg_rule *r;
	struct fg_src b;
	__u64 lost;

	knobs_open(FX_MOVED);
	rs = ruleset_new();
	r = rule_add(rs, 1, FX_IP_TCP, 7300, 7300);
	r->pps = (struct fg_limit){ 1, 1 };
	ruleset_commit(rs);
	lost = fx_counter(&fx, FG_C_LOST_RACE);
	send_tcp_notes("198.18.72.1", 7300, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED,
		       FX_NOTE(FG_C_LOST_RACE) | FX_NOTE(FG_C_SOURCE_NEW));
	b = src_get(1, FG_FAM_IPV4, "198.18.72.1", 32);
	assert_int_equal(fx_counter(&fx, FG_C_LOST_RACE), lost + 1);
	/* the other CPU's units, and a tat the old units never wrote (a new bucket's: 0, full) */
	assert_int_equal(b.units, live_since(1) + 1);
	assert_int_equal(b.tat_pps, 0);
}

/*
 * Moving a bucket to new rates while other CPUs keep winning the race for
 * its tats (fg_test_lose) still leaves it in the new units: after
 * FG_CAS_TRIES losses the new tat is stored anyway. A tat left in the old
 * units of 1000/s would read, at 1/s, as a full bucket.
 */
static void test_rate_change_lost_rescale(void **state)
{
	struct fg_limit fast = { 1000, 10 }, slow = { 1, 10 };
	struct fg_src b;
	int i;

	knobs_open(FX_LOSE);
	rebase_commit(&fast, 0, 0);
	for (i = 0; i < 3; i++) /* every limit undecided: pass, uncharged */
		send_tcp_notes("198.18.73.1", 7100, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED,
			       FX_NOTE(FG_C_LOST_RACE) | (i ? 0 : FX_NOTE(FG_C_SOURCE_NEW)));
	rebase_commit(&slow, 0, 0);
	send_tcp_notes("198.18.73.1", 7100, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED,
		       FX_NOTE(FG_C_LOST_RACE));
	b = src_get(1, FG_FAM_IPV4, "198.18.73.1", 32);
	/* full at 1/s: exactly 2^61 units behind now * 1 */
	assert_int_equal(b.tat_pps, T0 * slow.rate - (1ULL << 61));
}

/*
 * The endpoint total keeps its tokens across a change of its rate, as
 * buckets do: 100/s burst 100 spent, then 50/s: still empty, and 5 tokens
 * a tenth of a second later. Kept in the old units it would read as full.
 */
static void test_rate_change_total(void **state)
{
	struct fg_ruleset *rs;
	struct fg_rule *r;
	int i, n;

	for (n = 0; n < 2; n++) {
		rs = ruleset_new();
		r = rule_add(rs, 1, FX_IP_TCP, 7400, 7400);
		r->total = n ? (struct fg_limit){ 50, 100 } : (struct fg_limit){ 100, 100 };
		ruleset_commit(rs);
		if (n)
			break;
		for (i = 0; i < 100; i++)
			send_tcp("198.18.74.1", 7400, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
		send_tcp("198.18.74.1", 7400, FX_TCP_ACK, DROP, FG_R_ENDPOINT, 1, F_DROPPED);
	}
	send_tcp("198.18.74.2", 7400, FX_TCP_ACK, DROP, FG_R_ENDPOINT, 1, F_DROPPED);
	fx_set_now(&fx, T0 + HZ / 10);
	for (i = 0; i < 5; i++)
		send_tcp("198.18.74.3", 7400, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	send_tcp("198.18.74.3", 7400, FX_TCP_ACK, DROP, FG_R_ENDPOINT, 1, F_DROPPED);
}

/*
 * The byte limit keeps its tokens too, at rates where a whole tick holds
 * far more than the burst: 10 frames at 1 Gbit/s, then 100 Gbit/s with
 * the same 100 kB burst, are 4320 bits of debt, then 4752 after one more.
 */
/* Commit rule 1, tcp/7200, with byte limit l; one frame; the bucket's byte debt in units. */
static __u64 bps_debt_after(struct fg_limit l, __u32 xdp, int reason, int field)
{
	struct fg_ruleset *rs = ruleset_new();
	struct fg_rule *r = rule_add(rs, 1, FX_IP_TCP, 7200, 7200);
	struct fg_src v;

	r->bps = l;
	ruleset_commit(rs);
	send_tcp("198.18.72.1", 7200, FX_TCP_ACK, xdp, reason, 1, field);
	v = src_get(1, FG_FAM_IPV4, "198.18.72.1", 32);
	return v.tat_bps - T0 * l.rate;
}

static void test_rate_change_bytes(void **state)
{
	int i;

	bps_debt_after((struct fg_limit){ 1000000000, 100000 }, PASS, FG_R_PASS, F_PASSED);
	for (i = 1; i < 10; i++)
		send_tcp("198.18.72.1", 7200, FX_TCP_ACK, PASS, FG_R_PASS, 1, F_PASSED);
	/* 11 frames of 54 bytes ahead of now, in units of 1 / (10^11 * HZ) s */
	assert_int_equal(bps_debt_after((struct fg_limit){ 100000000000ULL, 100000 }, PASS,
					FG_R_PASS, F_PASSED),
			 11 * 54 * 8 * HZ);
	/* a burst of 500 bytes holds less than that debt: the bucket is empty, not more */
	assert_int_equal(bps_debt_after((struct fg_limit){ 100000000000ULL, 500 }, DROP,
					FG_R_RATE_BPS, F_DROPPED),
			 500 * 8 * HZ);
}

/* Escalation never overflows: ban x mult above the maximum is the maximum. */
static void test_ban_escalation_overflow(void **state)
{
	__u64 first = 1ULL << 39, max = 1ULL << 62;
	__u32 mult = (1U << 25) + 1; /* first * mult = 2^64 + 2^39: wraps to 2^39 */
	struct fg_ban b;
	__u64 t = T0;

	ban_rules(32, first, mult, max);
	provoke_ban("198.18.52.1");
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.52.1", 32, &b), 0);
	assert_int_equal(b.expires, t + first);
	t += first;
	fx_set_now(&fx, t);
	provoke_ban("198.18.52.1");
	assert_int_equal(ban_get(FG_FAM_IPV4, "198.18.52.1", 32, &b), 0);
	assert_int_equal(b.strikes, 2);
	assert_int_equal(b.expires, t + max);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_parser_table, clear_state),
		cmocka_unit_test_setup(test_truncation, clear_state),
		cmocka_unit_test_setup(test_lists, clear_state),
		cmocka_unit_test_setup(test_nd_lists, clear_state),
		cmocka_unit_test_setup_teardown(test_lost_races, clear_state, knobs_close),
		cmocka_unit_test_setup(test_ban_table_full, clear_state),
		cmocka_unit_test_setup(test_lists_filter, clear_state),
		cmocka_unit_test_setup(test_ports, clear_state),
		cmocka_unit_test_setup(test_action_drop, clear_state),
		cmocka_unit_test_setup(test_verdict_cache, clear_state),
		cmocka_unit_test_setup(test_verdict_cache_rules, clear_state),
		cmocka_unit_test_setup(test_verdict_cache_lease, clear_state),
		cmocka_unit_test_setup(test_verdict_cache_lease_ban_unrecorded, clear_state),
		cmocka_unit_test_setup(test_verdict_cache_lists, clear_state),
		cmocka_unit_test_setup_teardown(test_verdict_cache_lease_ban_race, clear_state,
						knobs_close),
		cmocka_unit_test_setup(test_action_monitor, clear_state),
		cmocka_unit_test_setup(test_action_ban, clear_state),
		cmocka_unit_test_setup(test_ban_groups, clear_state),
		cmocka_unit_test_setup(test_ban_group_new_ruleset, clear_state),
		cmocka_unit_test_setup(test_ban_prefix, clear_state),
		cmocka_unit_test_setup(test_ban_inside_aggregate, clear_state),
		cmocka_unit_test_setup(test_prefix_aggregation, clear_state),
		cmocka_unit_test_setup(test_endpoint_total, clear_state),
		cmocka_unit_test_setup(test_syn_limit, clear_state),
		cmocka_unit_test_setup(test_limit_order, clear_state),
		cmocka_unit_test_setup(test_under_attack, clear_state),
		cmocka_unit_test_setup(test_under_attack_machine, clear_state),
		cmocka_unit_test_setup(test_under_attack_clock_behind, clear_state),
		cmocka_unit_test_setup(test_under_attack_churn, clear_state),
		cmocka_unit_test_setup(test_under_attack_seen, clear_state),
		cmocka_unit_test_setup(test_under_attack_cached, clear_state),
		cmocka_unit_test_setup(test_under_attack_ban, clear_state),
		cmocka_unit_test_setup(test_long_ban_high_rate, clear_state),
		cmocka_unit_test_setup(test_syn_after_long_quiet, clear_state),
		cmocka_unit_test_setup(test_ban_escalation_overflow, clear_state),
		cmocka_unit_test_setup(test_rate_change, clear_state),
		cmocka_unit_test_setup(test_rate_change_bytes, clear_state),
		cmocka_unit_test_setup(test_rate_change_stale_packet, clear_state),
		cmocka_unit_test_setup_teardown(test_rate_change_mid_packet, clear_state, knobs_close),
		cmocka_unit_test_setup_teardown(test_rate_change_lost_rescale, clear_state,
						knobs_close),
		cmocka_unit_test_setup(test_rate_change_total, clear_state),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
