// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * test_synproxy.c: the XDP SYN proxy (bpf/synproxy.h) through
 * BPF_PROG_TEST_RUN. A SYN to a syn-proxy endpoint comes back as a SYN-ACK
 * (XDP_TX) whose every field is checked here from the bytes, and whose
 * cookie the ACK built from it gets through; forged cookies, segments
 * that are neither SYN nor ACK, SYNs with bad checksums, data or
 * malformed options, monitor rules, unprotected ports, limits before the
 * proxy, cookies replayed after their lifetime, and a connection conntrack
 * knows. The checksums and option
 * layouts are computed here byte by byte, not with the program's code.
 *
 * The tests run in a network namespace of their own (unshare): the
 * conntrack test opens a connection on its loopback and installs an
 * nftables table there, both gone with the namespace.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "fixture.h"

#define HZ   1000ULL
#define T0   (1ULL << 32)
#define TX   XDP_TX
#define PASS XDP_PASS
#define DROP XDP_DROP

#define FX_TCP_FIN 0x01
#define FX_TCP_RST 0x04
#define FX_TCP_ECE 0x40
#define FX_TCP_CWR 0x80

/*
 * Rules: a proxied endpoint, a monitored one, a proxied one with a SYN
 * limit, a plain one, a proxied one whose action is ban, a proxied one
 * with an endpoint total of one packet.
 */
enum { R_DEF = 0, R_PROXY = 1, R_MON = 2, R_LIMITED = 3, R_PLAIN = 4, R_BAN = 5, R_TOTAL = 6 };
#define P_PROXY	  443
#define P_MON	  8443
#define P_LIMITED 9443
#define P_PLAIN	  80
#define P_BAN	  7443
#define P_TOTAL	  6443

static struct fx fx;

/* Run a command (no shell); returns its exit status, or -1 when it could not run. */
static int cmd(const char *const argv[])
{
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ))
		return -1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* ---- frames ---- */

/* A TCP segment to build. */
struct seg {
	__u8 family;	    /* 4 or 6 */
	const char *src;    /* NULL: the builder's default */
	const char *dst;    /* NULL: the builder's default */
	__u16 sport;	    /* 0: 40000 */
	__u16 dport;	    /* destination port */
	__u8 flags;	    /* TCP flags */
	__u32 seq;	    /* sequence number */
	__u32 ack;	    /* acknowledgement number */
	__u8 opts[40];	    /* TCP options */
	__u8 optlen;	    /* their length, a multiple of 4 */
	__u16 payload;	    /* data bytes */
	__u8 vlans;	    /* VLAN tags */
	__u8 ip4_opt_words; /* IPv4 option words */
	__u8 n_ext;	    /* IPv6 destination options headers (the first a Fragment one: frag6) */
	int frag6;	    /* 1: IPv6, the first of more fragments */
	int bad_ipsum;	    /* 1: IPv4 header checksum off by one */
	int bad_tcpsum;	    /* 1: TCP checksum off by one */
};

/* One's complement sum of n bytes, added to sum (not folded, not inverted). */
static __u32 sum16(const __u8 *b, size_t n, __u32 sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (__u32)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (__u32)b[n - 1] << 8;
	return sum;
}

static __u16 fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The TCP checksum of the segment at l4 (len bytes) under the IP header at l3. */
static __u16 tcp_sum(const __u8 *b, __u32 l3, __u32 l4, __u32 len)
{
	__u32 s = 0;

	if ((b[l3] >> 4) == 4)
		s = sum16(b + l3 + 12, 8, 0);
	else
		s = sum16(b + l3 + 8, 32, 0);
	s += 6 + len; /* protocol and length: the pseudo header's other words */
	return fold(sum16(b + l4, len, s));
}

static __u32 get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static void put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Build a segment with options and right checksums (unless told otherwise). */
static void seg_build(struct fx_pkt *p, const struct seg *g)
{
	struct fx_spec s = {
		.family = g->family,
		.src = g->src,
		.dst = g->dst,
		.sport = g->sport,
		.dport = g->dport,
		.tcp_flags = g->flags,
		.payload = g->optlen + g->payload,
		.vlans = g->vlans,
		.ip4_opt_words = g->ip4_opt_words,
		.n_ext = g->n_ext,
	};
	__u8 *t;
	__u32 i, l4len;

	for (i = 0; i < g->n_ext; i++)
		s.ext[i] = FX_IP_DSTOPTS;
	if (g->frag6) {
		s.ext[0] = FX_IP_FRAGMENT;
		s.frag = FX_FRAG_FIRST;
	}
	assert_true(fx_build(p, &s) > 0);
	t = p->b + p->l4;
	t[12] = (__u8)((5 + g->optlen / 4) << 4);
	put32(t + 4, g->seq);
	put32(t + 8, g->ack);
	memcpy(t + 20, g->opts, g->optlen);
	l4len = p->len - p->l4;
	if (g->family == 4) {
		__u32 hl = (p->b[p->l3] & 0xf) * 4;

		fx_put16(p->b + p->l3 + 10, 0);
		fx_put16(p->b + p->l3 + 10, fold(sum16(p->b + p->l3, hl, 0)) + !!g->bad_ipsum);
	}
	fx_put16(t + 16, 0);
	fx_put16(t + 16, tcp_sum(p->b, p->l3, p->l4, l4len) + !!g->bad_tcpsum);
}

/* Options as a client sends them. */
#define O_MSS(v) 2, 4, (v) >> 8, (v)&0xff
#define O_SACK	 4, 2
#define O_TS(v, e)                                                                                 \
	8, 10, (v) >> 24, ((v) >> 16) & 0xff, ((v) >> 8) & 0xff, (v)&0xff, (e) >> 24,              \
		((e) >> 16) & 0xff, ((e) >> 8) & 0xff, (e)&0xff
#define O_WS(v)	     3, 3, (v)
#define O_NOP	     1
#define CLIENT_TSVAL 0x11223344U

/* A run's result: verdict, the one reason counter moved, the frame after it. */
struct out {
	__u32 xdp;	    /* program's return */
	int reason;	    /* FG_R_* that moved, -1 none, -2 several */
	__u32 notes;	    /* FX_NOTE bits */
	__u8 b[FX_PKT_MAX]; /* the frame as the program left it */
	__u32 len;	    /* its length */
};

static void run(const struct fx_pkt *p, struct out *o)
{
	struct fg_count before[FG_COUNTER_MAX], after[FG_COUNTER_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = p->b, .data_size_in = p->len, .data_out = o->b,
		    .data_size_out = sizeof(o->b), .repeat = 1);
	int i;

	memset(o, 0, offsetof(struct out, b));
	o->reason = -1;
	assert_int_equal(fx_counters(&fx, before), 0);
	assert_int_equal(bpf_prog_test_run_opts(fx.prog, &t), 0);
	assert_int_equal(fx_counters(&fx, after), 0);
	o->xdp = t.retval;
	o->len = t.data_size_out;
	for (i = 0; i < FG_COUNTER_MAX; i++) {
		__u64 d = after[i].packets - before[i].packets;

		if (!d)
			continue;
		if (i > FG_R_DROP_LAST)
			o->notes |= FX_NOTE(i);
		else
			o->reason = o->reason == -1 && d == 1 ? i : -2;
	}
}

/* Send a segment; expect a verdict and reason. Returns the output for more checks. */
static void expect(const char *name, const struct seg *g, __u32 xdp, int reason, struct out *o)
{
	struct fx_pkt p;

	seg_build(&p, g);
	run(&p, o);
	if (o->xdp != xdp || o->reason != reason) {
		print_error("%s: got xdp %u reason %s, expected xdp %u reason %s\n", name, o->xdp,
			    fx_name(o->reason), xdp, fx_name(reason));
		fail();
	}
	if (xdp != TX && (o->len != p.len || memcmp(o->b, p.b, p.len))) {
		print_error("%s: a frame not answered was changed\n", name);
		fail();
	}
}

/* What a SYN-ACK must say, from its SYN. */
struct synack {
	__u32 cookie; /* its sequence number */
	__u32 tsval;  /* its timestamp value, when ts */
	int ts;	      /* timestamps present */
	int ws;	      /* window scale present */
	int sack;     /* SACK permitted present */
	__u32 l3, l4; /* header offsets */
};

/*
 * Check every field of the reply in o to the SYN g (built as p) and return
 * what the ACK needs. want_*: the options expected from the client's.
 */
static void check_synack(const char *name, const struct fx_pkt *p, const struct seg *g,
			 const struct out *o, int want_ts, int want_ws, int want_sack,
			 __u8 client_ws, int ecn, struct synack *sa)
{
	const __u8 *b = o->b, *ip = b + p->l3, *t, *opt;
	__u32 ipl = g->family == 4 ? 20 : 40, thl, tsv, i, optlen;
	__u16 mss = g->family == 4 ? FG_SP_MSS4 : FG_SP_MSS6;

	memset(sa, 0, sizeof(*sa));
	sa->l3 = p->l3;
	sa->l4 = p->l3 + ipl;
	t = b + sa->l4;
	/* L2: addresses swapped, tags and ethertype kept */
	assert_memory_equal(b, p->b + 6, 6);
	assert_memory_equal(b + 6, p->b, 6);
	assert_memory_equal(b + 12, p->b + 12, p->l3 - 12);
	if (g->family == 4) {
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(fx_get16(ip + 6), 0x4000); /* DF */
		assert_int_equal(ip[8], FG_SP_TTL);
		assert_int_equal(ip[9], FX_IP_TCP);
		assert_memory_equal(ip + 12, p->b + p->l3 + 16, 4);
		assert_memory_equal(ip + 16, p->b + p->l3 + 12, 4);
		assert_int_equal(fold(sum16(ip, 20, 0)), 0);
	} else {
		assert_int_equal(get32(ip), 0x60000000);
		assert_int_equal(ip[6], FX_IP_TCP);
		assert_int_equal(ip[7], FG_SP_TTL);
		assert_memory_equal(ip + 8, p->b + p->l3 + 24, 16);
		assert_memory_equal(ip + 24, p->b + p->l3 + 8, 16);
	}
	thl = (t[12] >> 4) * 4;
	assert_true(thl >= 24);
	assert_int_equal(o->len, sa->l4 + thl);
	assert_int_equal(g->family == 4 ? fx_get16(ip + 2) : fx_get16(ip + 4) + 40u, ipl + thl);
	assert_int_equal(tcp_sum(b, sa->l3, sa->l4, thl), 0);
	assert_int_equal(fx_get16(t), g->dport);
	assert_int_equal(fx_get16(t + 2), g->sport ? g->sport : 40000);
	assert_int_equal(get32(t + 8), g->seq + 1);
	assert_int_equal(t[13], 0x12 | (ecn ? FX_TCP_ECE : 0));
	assert_int_equal(fx_get16(t + 14), 0); /* window: SYNPROXY opens it */
	sa->cookie = get32(t + 4);
	/* options: MSS first, then what the cookie can carry */
	opt = t + 20;
	optlen = thl - 20;
	assert_int_equal(opt[0], 2);
	assert_int_equal(opt[1], 4);
	assert_int_equal(fx_get16(opt + 2), mss);
	for (i = 4; i < optlen;) {
		if (opt[i] == 1) {
			i++;
			continue;
		}
		assert_true(i + 1 < optlen && opt[i + 1] >= 2 && i + opt[i + 1] <= optlen);
		if (opt[i] == 8) {
			assert_int_equal(opt[i + 1], 10);
			sa->ts = 1;
			sa->tsval = get32(opt + i + 2);
			assert_int_equal(get32(opt + i + 6), CLIENT_TSVAL);
		} else if (opt[i] == 3) {
			assert_int_equal(opt[i + 1], 3);
			assert_int_equal(opt[i + 2], FG_SP_WSCALE);
			sa->ws = 1;
		} else if (opt[i] == 4) {
			assert_int_equal(opt[i + 1], 2);
			sa->sack = 1;
		} else {
			print_error("%s: unexpected option %u\n", name, opt[i]);
			fail();
		}
		i += opt[i + 1];
	}
	if (sa->ts != want_ts || sa->ws != want_ws || sa->sack != want_sack) {
		print_error("%s: options ts %d ws %d sack %d, expected %d %d %d\n", name, sa->ts,
			    sa->ws, sa->sack, want_ts, want_ws, want_sack);
		fail();
	}
	if (sa->ts) {
		/* the low bits of our timestamp carry the client's options to SYNPROXY */
		tsv = sa->tsval;
		assert_int_equal(tsv & 0xf, want_ws ? client_ws : 0xf);
		assert_int_equal(!!(tsv & 0x10), want_sack);
		assert_int_equal(!!(tsv & 0x20), !!ecn);
	}
}

/*
 * The client's ACK to a SYN-ACK: ack = cookie + 1 + forge. A forged
 * cookie must change more than its low two bits: those hold the MSS
 * index, and a neighbouring index is as valid (the kernel's cookies work so).
 */
#define FORGE 0x10000
static void ack_of(const struct seg *syn, const struct synack *sa, __u32 forge, struct seg *a)
{
	static const __u8 ts[] = { O_NOP, O_NOP, O_TS(CLIENT_TSVAL + 1, 0) };

	*a = *syn;
	a->flags = FX_TCP_ACK;
	a->seq = syn->seq + 1;
	a->ack = sa->cookie + 1 + forge;
	a->optlen = 0;
	a->payload = 0;
	if (sa->ts) {
		memcpy(a->opts, ts, sizeof(ts));
		put32(a->opts + 8, sa->tsval); /* echoed */
		a->optlen = sizeof(ts);
	}
}

/*
 * Median over 9 rounds of ns per run of a frame the program leaves
 * unchanged (BPF_PROG_TEST_RUN's repeat runs on the frame as the run
 * before left it, so a SYN's answer cannot be timed this way). Printed,
 * never asserted: the machine is shared.
 */
static __u32 cost_ns(const struct fx_pkt *p)
{
	__u32 d[9], i, j, t;

	for (i = 0; i < 9; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len,
			    .repeat = 100000);

		assert_int_equal(bpf_prog_test_run_opts(fx.prog, &o), 0);
		d[i] = o.duration;
	}
	for (i = 1; i < 9; i++)
		for (j = i; j > 0 && d[j - 1] > d[j]; j--) {
			t = d[j];
			d[j] = d[j - 1];
			d[j - 1] = t;
		}
	return d[4];
}

/* ---- setup ---- */

/* Commit the rules below; mon_action: the action of R_MON (FG_ACT_MONITOR as a rule). */
static void ruleset_commit_mon(__u8 mon_action)
{
	struct fg_ruleset *rs = malloc(sizeof(*rs));
	int i;
	static const struct {
		__u16 port;
		__u8 proxy, action;
		__u64 syn, total;
	} eps[] = {
		[R_PROXY] = { P_PROXY, 1, FG_ACT_DROP, 0, 0 },
		[R_MON] = { P_MON, 1, FG_ACT_MONITOR, 0, 0 },
		[R_LIMITED] = { P_LIMITED, 1, FG_ACT_DROP, 1, 0 },
		[R_PLAIN] = { P_PLAIN, 0, FG_ACT_DROP, 0, 0 },
		[R_BAN] = { P_BAN, 1, FG_ACT_BAN, 0, 0 },
		[R_TOTAL] = { P_TOTAL, 1, FG_ACT_DROP, 0, 1 },
	};

	assert_non_null(rs);
	fx_ruleset_init(rs, HZ);
	fx_rule_open(&rs->cfg.rules[R_DEF]);
	for (i = R_PROXY; i <= R_TOTAL; i++) {
		struct fg_rule *r = &rs->cfg.rules[i];

		*r = rs->cfg.rules[R_DEF];
		r->used = 1;
		r->proto = FX_IP_TCP;
		r->port_lo = r->port_hi = eps[i].port;
		r->syn_proxy = eps[i].proxy;
		r->action = i == R_MON ? mon_action : eps[i].action;
		r->syn = (struct fg_limit){ eps[i].syn, eps[i].syn };
		r->total = (struct fg_limit){ eps[i].total, eps[i].total };
	}
	assert_int_equal(fx_commit(&fx, rs), 0);
	free(rs);
}

static void ruleset_commit(void)
{
	ruleset_commit_mon(FG_ACT_MONITOR);
}

static int group_setup(void **state)
{
	int err;

	/* a namespace of our own: its loopback is where test runs look conntrack up */
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "error: unshare a network namespace: %s\n", strerror(errno));
		return -1;
	}
	if (cmd((const char *const[]){ "ip", "link", "set", "lo", "up", NULL })) {
		fprintf(stderr, "error: ip link set lo up failed\n");
		return -1;
	}
	err = fx_open(&fx, HZ, 0);
	if (err) {
		fprintf(stderr, "error: load the program: %s\n", strerror(-err));
		return -1;
	}
	fx_set_now(&fx, T0);
	return 0;
}

static int group_teardown(void **state)
{
	fx_close(&fx);
	return 0;
}

static int fresh(void **state)
{
	__u8 key[sizeof(struct fg_src_key)];

	while (!bpf_map_get_next_key(fx.m.sources, NULL, key))
		assert_int_equal(bpf_map_delete_elem(fx.m.sources, key), 0);
	ruleset_commit();
	fx.m.st->test_now += HZ * 10; /* limits start full */
	return 0;
}

/* ---- tests ---- */

/*
 * SYN-ACKs for every combination of the options a cookie can carry, both
 * families, plain and behind VLAN tags, IPv4 options or IPv6 extension
 * headers; each one's cookie gets the ACK through, and that cookie plus
 * a forged one or one of another connection does not.
 */
static void test_synack_table(void **state)
{
	static const struct {
		const char *name;
		__u8 opts[40];
		__u8 optlen;
		int ts, ws, sack;
		__u8 client_ws;
		int ecn;
	} rows[] = {
		{ "no options", {}, 0, 0, 0, 0, 0, 0 },
		{ "mss only", { O_MSS(1400) }, 4, 0, 0, 0, 0, 0 },
		/* without timestamps the cookie cannot carry window scale or SACK */
		{ "mss sack ws, no ts",
		  { O_MSS(1400), O_SACK, O_NOP, O_WS(9), O_NOP, O_NOP },
		  12,
		  0,
		  0,
		  0,
		  0,
		  0 },
		{ "linux syn",
		  { O_MSS(1460), O_SACK, O_TS(CLIENT_TSVAL, 0), O_NOP, O_WS(7) },
		  20,
		  1,
		  1,
		  1,
		  7,
		  0 },
		{ "ts only", { O_NOP, O_NOP, O_TS(CLIENT_TSVAL, 0) }, 12, 1, 0, 0, 0, 0 },
		{ "ts and ws 14",
		  { O_NOP, O_WS(14), O_NOP, O_NOP, O_TS(CLIENT_TSVAL, 0) },
		  16,
		  1,
		  1,
		  0,
		  14,
		  0 },
		{ "ws above 14 clamped",
		  { O_NOP, O_WS(15), O_NOP, O_NOP, O_TS(CLIENT_TSVAL, 0) },
		  16,
		  1,
		  1,
		  0,
		  14,
		  0 },
		{ "ts and sack", { O_SACK, O_TS(CLIENT_TSVAL, 0) }, 12, 1, 0, 1, 0, 0 },
		{ "ecn", { O_MSS(1460), O_SACK, O_TS(CLIENT_TSVAL, 0), O_NOP, O_WS(7) }, 20, 1, 1, 1, 7, 1 },
	};
	static const struct {
		const char *name;
		__u8 family, vlans, ip4_opt_words, n_ext;
	} shapes[] = {
		{ "ipv4", 4, 0, 0, 0 },		{ "ipv6", 6, 0, 0, 0 },
		{ "ipv4 2 vlans", 4, 2, 0, 0 }, { "ipv6 vlan", 6, 1, 0, 0 },
		{ "ipv4 options", 4, 0, 3, 0 }, { "ipv6 2 ext headers", 6, 0, 0, 2 },
	};
	unsigned int i, k;
	struct out *o = malloc(sizeof(*o));

	assert_non_null(o);
	for (k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++)
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			struct seg g = { .family = shapes[k].family,
					 .dport = P_PROXY,
					 .sport = (__u16)(30000 + k * 100 + i),
					 .flags = FX_TCP_SYN,
					 .seq = 0x01020304U * (i + 1),
					 .optlen = rows[i].optlen,
					 .vlans = shapes[k].vlans,
					 .ip4_opt_words = shapes[k].ip4_opt_words,
					 .n_ext = shapes[k].n_ext },
				   a;
			struct fx_pkt p;
			struct synack sa;
			char name[96];

			snprintf(name, sizeof(name), "%s, %s", shapes[k].name, rows[i].name);
			memcpy(g.opts, rows[i].opts, sizeof(g.opts));
			if (rows[i].ecn)
				g.flags |= FX_TCP_ECE | FX_TCP_CWR;
			seg_build(&p, &g);
			expect(name, &g, TX, FG_R_SP_SYNACK, o);
			check_synack(name, &p, &g, o, rows[i].ts, rows[i].ws, rows[i].sack,
				     rows[i].client_ws, rows[i].ecn, &sa);
			ack_of(&g, &sa, 0, &a);
			expect(name, &a, PASS, FG_R_SP_COOKIE, o);
			ack_of(&g, &sa, FORGE, &a);
			expect(name, &a, DROP, FG_R_SP_REFUSED, o);
			ack_of(&g, &sa, 0, &a);
			a.sport++; /* the cookie of another connection */
			expect(name, &a, DROP, FG_R_SP_REFUSED, o);
		}
	free(o);
}

/* Forged and stray segments to a proxied port, with no connection: refused, never answered. */
static void test_refused(void **state)
{
	static const struct {
		const char *name;
		__u8 family, flags;
		__u32 ack;
		__u16 payload;
		int bad_ipsum, bad_tcpsum;
	} rows[] = {
		{ "ack, cookie 0", 4, FX_TCP_ACK, 0, 0, 0, 0 },
		{ "ack, made-up cookie", 4, FX_TCP_ACK, 0xdeadbeef, 0, 0, 0 },
		{ "ack with data, made-up cookie", 4, FX_TCP_ACK, 0x12345678, 100, 0, 0 },
		{ "ipv6 ack, made-up cookie", 6, FX_TCP_ACK, 0xdeadbeef, 0, 0, 0 },
		{ "rst", 4, FX_TCP_RST, 0, 0, 0, 0 },
		{ "rst ack", 4, FX_TCP_RST | FX_TCP_ACK, 1, 0, 0, 0 },
		{ "fin", 6, FX_TCP_FIN, 0, 0, 0, 0 },
		{ "syn fin", 4, FX_TCP_SYN | FX_TCP_FIN, 0, 0, 0, 0 },
		{ "syn rst", 4, FX_TCP_SYN | FX_TCP_RST, 0, 0, 0, 0 },
		{ "syn ack", 4, FX_TCP_SYN | FX_TCP_ACK, 1, 0, 0, 0 },
		{ "no flags", 4, 0, 0, 0, 0, 0 },
		{ "syn, bad ip checksum", 4, FX_TCP_SYN, 0, 0, 1, 0 },
		{ "syn, bad tcp checksum", 4, FX_TCP_SYN, 0, 0, 0, 1 },
		{ "ipv6 syn, bad tcp checksum", 6, FX_TCP_SYN, 0, 0, 0, 1 },
		{ "syn with data", 4, FX_TCP_SYN, 0, 8, 0, 0 },
		{ "ipv6 syn with data", 6, FX_TCP_SYN, 0, 1, 0, 0 },
	};
	unsigned int i;
	struct out *o = malloc(sizeof(*o));

	assert_non_null(o);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct seg g = { .family = rows[i].family,
				 .dport = P_PROXY,
				 .flags = rows[i].flags,
				 .seq = 1000,
				 .ack = rows[i].ack,
				 .payload = rows[i].payload,
				 .bad_ipsum = rows[i].bad_ipsum,
				 .bad_tcpsum = rows[i].bad_tcpsum };

		expect(rows[i].name, &g, DROP, FG_R_SP_REFUSED, o);
	}
	free(o);
}

/*
 * SYNs the kernel would never answer get no SYN-ACK from XDP either: a
 * source or destination that is multicast, broadcast or unspecified, an
 * IPv4-mapped IPv6 source, a frame sent to or from a group MAC address.
 * The proxy answered each (to a broadcast: every proxy on the segment, N
 * replies per SYN).
 */
static void test_refused_addresses(void **state)
{
	static const struct {
		const char *name;
		__u8 family;
		const char *src, *dst;
		__u32 mac_off; /* 1 + the MAC byte whose group bit is set, 0 none */
	} rows[] = {
		{ "to 255.255.255.255", 4, NULL, "255.255.255.255", 0 },
		{ "to multicast 224.0.0.1", 4, NULL, "224.0.0.1", 0 },
		{ "to 0.0.0.0", 4, NULL, "0.0.0.0", 0 },
		{ "from multicast 224.0.0.5", 4, "224.0.0.5", NULL, 0 },
		{ "from 255.255.255.255", 4, "255.255.255.255", NULL, 0 },
		{ "from 0.0.0.0", 4, "0.0.0.0", NULL, 0 },
		{ "to a broadcast MAC", 4, NULL, NULL, 1 },
		{ "from a group MAC", 4, NULL, NULL, 7 },
		{ "ipv6 to ff02::1", 6, NULL, "ff02::1", 0 },
		{ "ipv6 from ff02::1", 6, "ff02::1", NULL, 0 },
		{ "ipv6 from ::", 6, "::", NULL, 0 },
		{ "ipv6 to ::", 6, NULL, "::", 0 },
		{ "ipv6 from ::ffff:198.18.0.9", 6, "::ffff:198.18.0.9", NULL, 0 },
		{ "ipv6 to a multicast MAC", 6, NULL, NULL, 1 },
	};
	struct out *o = malloc(sizeof(*o));
	struct fx_pkt p;
	unsigned int i;

	assert_non_null(o);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct seg g = { .family = rows[i].family,
				 .src = rows[i].src,
				 .dst = rows[i].dst,
				 .dport = P_PROXY,
				 .flags = FX_TCP_SYN,
				 .seq = 1000 };

		seg_build(&p, &g);
		if (rows[i].mac_off)
			p.b[rows[i].mac_off - 1] |= 1;
		run(&p, o);
		if (o->xdp != DROP || o->reason != FG_R_SP_REFUSED) {
			print_error("%s: got xdp %u reason %s, expected a refusal\n", rows[i].name,
				    o->xdp, fx_name(o->reason));
			fail();
		}
	}
	/* and a plain one is answered, from the same builder */
	expect("a plain syn", &(struct seg){ .family = 4, .dport = P_PROXY, .flags = FX_TCP_SYN },
	       TX, FG_R_SP_SYNACK, o);
	free(o);
}

/* A first fragment of a SYN is not answered: its checksum covers what is not there. */
static void test_syn_fragment(void **state)
{
	struct seg g = { .family = 4, .dport = P_PROXY, .flags = FX_TCP_SYN, .seq = 5 };
	struct fx_pkt p;
	struct out *o = malloc(sizeof(*o));

	assert_non_null(o);
	seg_build(&p, &g);
	fx_put16(p.b + p.l3 + 6, 0x2000); /* MF */
	fx_put16(p.b + p.l3 + 10, 0);
	fx_put16(p.b + p.l3 + 10, fold(sum16(p.b + p.l3, 20, 0)));
	run(&p, o);
	assert_int_equal(o->xdp, DROP);
	assert_int_equal(o->reason, FG_R_SP_REFUSED);
	/* IPv6: behind a Fragment header saying more follow (it was answered) */
	expect("ipv6 first fragment",
	       &(struct seg){ .family = 6,
			      .dport = P_PROXY,
			      .flags = FX_TCP_SYN,
			      .seq = 5,
			      .n_ext = 1,
			      .frag6 = 1 },
	       DROP, FG_R_SP_REFUSED, o);
	free(o);
}

/*
 * Malformed options: the walk stops where the kernel's would and the SYN
 * is still answered with what came before; nothing past the header is read.
 */
static void test_malformed_options(void **state)
{
	static const struct {
		const char *name;
		__u8 opts[40];
		__u8 optlen;
		int ts, ws, sack;
		__u8 client_ws;
	} rows[] = {
		{ "option length 0", { O_SACK, 8, 0, 0, 0 }, 8, 0, 0, 0, 0 },
		{ "option length 1", { 3, 1, 7, 0 }, 4, 0, 0, 0, 0 },
		{ "option past the header", { O_NOP, O_NOP, 8, 10, 1, 2, 3, 4 }, 8, 0, 0, 0, 0 },
		{ "kind in the last byte", { O_NOP, O_NOP, O_NOP, 8 }, 4, 0, 0, 0, 0 },
		{ "ts then garbage length",
		  { O_NOP, O_NOP, O_TS(CLIENT_TSVAL, 0), 3, 0x40, 7, 0 },
		  16,
		  1,
		  0,
		  0,
		  0 },
		{ "window of length 4 ignored",
		  { O_NOP, O_NOP, O_TS(CLIENT_TSVAL, 0), 3, 4, 7, 7 },
		  16,
		  1,
		  0,
		  0,
		  0 },
		{ "timestamp of length 8 ignored", { 8, 8, 1, 2, 3, 4, 5, 6 }, 8, 0, 0, 0, 0 },
		{ "eol ends the walk", { 0, 0, 0, 0, O_NOP, O_NOP, O_TS(CLIENT_TSVAL, 0) }, 16, 0, 0, 0, 0 },
		{ "forty nops",
		  { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
		  40,
		  0,
		  0,
		  0,
		  0 },
		{ "ts last of forty bytes",
		  { 1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    1,
		    O_TS(CLIENT_TSVAL, 0) },
		  40,
		  1,
		  0,
		  0,
		  0 },
		{ "unknown kinds skipped",
		  { 30, 4, 0, 0, 99, 2, O_SACK, O_NOP, O_NOP, O_TS(CLIENT_TSVAL, 0) },
		  20,
		  1,
		  0,
		  1,
		  0 },
	};
	unsigned int i;
	struct out *o = malloc(sizeof(*o));

	assert_non_null(o);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct seg g = { .family = 4 + 2 * (i & 1),
				 .dport = P_PROXY,
				 .sport = (__u16)(20000 + i),
				 .flags = FX_TCP_SYN,
				 .seq = 77,
				 .optlen = rows[i].optlen },
			   a;
		struct fx_pkt p;
		struct synack sa;

		memcpy(g.opts, rows[i].opts, sizeof(g.opts));
		seg_build(&p, &g);
		expect(rows[i].name, &g, TX, FG_R_SP_SYNACK, o);
		check_synack(rows[i].name, &p, &g, o, rows[i].ts, rows[i].ws, rows[i].sack,
			     rows[i].client_ws, 0, &sa);
		ack_of(&g, &sa, 0, &a);
		expect(rows[i].name, &a, PASS, FG_R_SP_COOKIE, o);
	}
	free(o);
}

/* A port without the proxy: SYNs and forged ACKs pass untouched, as before. */
static void test_unprotected(void **state)
{
	struct seg syn = { .family = 4, .dport = P_PLAIN, .flags = FX_TCP_SYN, .seq = 9 };
	struct seg ack = { .family = 6, .dport = P_PLAIN, .flags = FX_TCP_ACK, .seq = 10, .ack = 1 };
	struct out *o = malloc(sizeof(*o));

	assert_non_null(o);
	expect("syn to a plain port", &syn, PASS, FG_R_PASS, o);
	expect("forged ack to a plain port", &ack, PASS, FG_R_PASS, o);
	syn.dport = ack.dport = 1; /* the default rule */
	expect("syn to the default rule", &syn, PASS, FG_R_PASS, o);
	expect("ack to the default rule", &ack, PASS, FG_R_PASS, o);
	free(o);
}

/* Tuple t (as struct bpf_sock_tuple holds it) of segment g, with the builder's defaults. */
static void seg_tuple(const struct seg *g, struct bpf_sock_tuple *t)
{
	memset(t, 0, sizeof(*t));
	if (g->family == 4) {
		assert_int_equal(inet_pton(AF_INET, g->src, &t->ipv4.saddr), 1);
		assert_int_equal(inet_pton(AF_INET, g->dst, &t->ipv4.daddr), 1);
		t->ipv4.sport = htons(g->sport);
		t->ipv4.dport = htons(g->dport);
	} else {
		assert_int_equal(inet_pton(AF_INET6, g->src, t->ipv6.saddr), 1);
		assert_int_equal(inet_pton(AF_INET6, g->dst, t->ipv6.daddr), 1);
		t->ipv6.sport = htons(g->sport);
		t->ipv6.dport = htons(g->dport);
	}
}

/*
 * An IPv6 source whose tuple has the same fg_sp_flow_hash as t's, under
 * every seed: fg_hash64(a, b) = (a ^ b * C1) * C2 takes the first two
 * address words as a and b, so a' = a ^ 1 and b' = (1 ^ b * C1) / C1
 * (C1 is odd: its inverse mod 2^64) give a ^ b * C1 again. Written as text.
 */
static void forge_source(const struct bpf_sock_tuple *t, char *out, size_t n)
{
	const __u64 c1 = 0xc2b2ae3d27d4eb4fULL; /* fg_hash64's first multiplier */
	const __u32 *w = (const __u32 *)t->ipv6.saddr;
	__u64 a = (__u64)w[0] << 32 | w[1], b = (__u64)w[2] << 32 | w[3], inv = c1, a2, b2;
	__u32 f[4];
	int i;

	for (i = 0; i < 6; i++) /* Newton's steps: each doubles the inverse's correct bits */
		inv *= 2 - c1 * inv;
	assert_true(c1 * inv == 1);
	a2 = a ^ 1; /* the last bit of the second word: the source stays in 2001:db8::/32 */
	b2 = ((a ^ a2) ^ b * c1) * inv;
	f[0] = (__u32)(a2 >> 32);
	f[1] = (__u32)a2;
	f[2] = (__u32)(b2 >> 32);
	f[3] = (__u32)b2;
	assert_non_null(inet_ntop(AF_INET6, f, out, (socklen_t)n));
}

/*
 * What passes on a fg_sp_flows entry: the tuple it holds, of its family,
 * word for word, and nothing else. Each row writes one entry (on every
 * CPU, where the segment's hash puts it, stamped now) for a tuple with no
 * connection behind it, so a segment that does not pass on the entry is
 * looked up, has no cookie, and is refused. One segment comes from a
 * source forged to share the entry's hash (forge_source): a table that
 * kept only a hash of the tuple would pass it, and with it any source an
 * attacker holding one real connection computes.
 */
static void test_flow_entries(void **state)
{
	enum {
		OWN,
		FORGED,
		PORT,
		DEST,
		FAMILY
	}; /* the entry: the segment's tuple, or how it differs */
	static const struct {
		const char *name;
		__u8 family;
		int entry;
		__u32 xdp;
		int reason;
	} rows[] = {
		{ "ipv4: the entry's own tuple passes on it", 4, OWN, PASS, FG_R_PASS },
		{ "ipv6: the entry's own tuple passes on it", 6, OWN, PASS, FG_R_PASS },
		{ "ipv6: a source forged to the entry's hash", 6, FORGED, DROP, FG_R_SP_REFUSED },
		{ "ipv4: an entry of another source port", 4, PORT, DROP, FG_R_SP_REFUSED },
		{ "ipv6: an entry of another source port", 6, PORT, DROP, FG_R_SP_REFUSED },
		{ "ipv4: an entry of another destination", 4, DEST, DROP, FG_R_SP_REFUSED },
		{ "ipv6: an entry of another destination", 6, DEST, DROP, FG_R_SP_REFUSED },
		{ "ipv4: an ipv6 entry of the same words", 4, FAMILY, DROP, FG_R_SP_REFUSED },
	};
	int cpus = libbpf_num_possible_cpus(), fd = bpf_map__fd(fx.skel->maps.fg_sp_flows), c;
	__u64 seed = fx.skel->rodata->fg_seed;
	struct out *o = malloc(sizeof(*o));
	struct fg_sp_flow *vals;
	char forged[INET6_ADDRSTRLEN];
	unsigned int i;

	assert_true(cpus > 0);
	vals = calloc((size_t)cpus, sizeof(*vals));
	assert_non_null(o);
	assert_non_null(vals);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int v6 = rows[i].family == 6;
		struct seg g = { .family = rows[i].family,
				 .src = v6 ? "2001:db8::1" : "198.18.0.1",
				 .dst = v6 ? "2001:db8:ffff::1" : "198.19.0.1",
				 .sport = 40000,
				 .dport = P_PROXY,
				 .flags = FX_TCP_ACK,
				 .seq = 1000,
				 .ack = 0xdeadbeef };
		struct bpf_sock_tuple t, e;
		struct fg_sp_flow fl = { .family = v6 ? FG_FAM_IPV6 : FG_FAM_IPV4 };
		__u32 slot;

		seg_tuple(&g, &e); /* the entry's tuple: the real connection's */
		if (rows[i].entry == FORGED) {
			forge_source(&e, forged, sizeof(forged));
			g.src = forged;
		} else if (rows[i].entry == PORT && v6) { /* the union: set only the family's */
			e.ipv6.sport = htons(g.sport + 1);
		} else if (rows[i].entry == PORT) {
			e.ipv4.sport = htons(g.sport + 1);
		} else if (rows[i].entry == DEST && v6) {
			e.ipv6.daddr[3] ^= htonl(1); /* the last destination word alone */
		} else if (rows[i].entry == DEST) {
			e.ipv4.daddr ^= htonl(1);
		} else if (rows[i].entry == FAMILY) {
			fl.family = FG_FAM_IPV6;
		}
		seg_tuple(&g, &t); /* the segment's */
		if (rows[i].entry == FORGED && fg_sp_flow_hash((const __u32 *)&t, 1, seed) !=
						       fg_sp_flow_hash((const __u32 *)&e, 1, seed))
			fail_msg("%s: the forged source does not share the hash", rows[i].name);
		slot = (__u32)(fg_sp_flow_hash((const __u32 *)&t, v6, seed) >> (64 - FG_SP_FLOW_BITS));
		memcpy(fl.tuple, &e, sizeof(fl.tuple));
		fl.tick = fx_now(&fx);
		for (c = 0; c < cpus; c++)
			vals[c] = fl;
		assert_int_equal(fx_array_clear(fx.skel->maps.fg_sp_flows), 0);
		assert_int_equal(bpf_map_update_elem(fd, &slot, vals, BPF_ANY), 0);
		expect(rows[i].name, &g, rows[i].xdp, rows[i].reason, o);
		if (!!(o->notes & FX_NOTE(FG_C_SP_FLOW_HIT)) != (rows[i].xdp == PASS))
			fail_msg("%s: syn_proxy_flow_hits %s", rows[i].name,
				 rows[i].xdp == PASS ? "did not move" : "moved");
	}
	assert_int_equal(fx_array_clear(fx.skel->maps.fg_sp_flows), 0);
	free(vals);
	free(o);
}

/* A monitor rule: counts what it would have done, passes the frame untouched. */
static void test_monitor(void **state)
{
	struct seg syn = { .family = 4, .dport = P_MON, .flags = FX_TCP_SYN, .seq = 9 };
	struct seg ack = { .family = 6, .dport = P_MON, .flags = FX_TCP_ACK, .seq = 10, .ack = 1 };
	struct fg_rule_count rc[FG_MAX_RULES], rb[FG_MAX_RULES];
	struct out *o = malloc(sizeof(*o));

	assert_non_null(o);
	assert_int_equal(fx_rule_stats(&fx, rb), 0);
	expect("monitor syn", &syn, PASS, FG_R_MONITOR, o);
	assert_int_equal(o->notes, FX_NOTE(FG_C_SP_WOULD_SYNACK) | FX_NOTE(FG_C_SOURCE_NEW));
	expect("monitor forged ack", &ack, PASS, FG_R_MONITOR, o);
	assert_int_equal(o->notes & ~FX_NOTE(FG_C_SOURCE_NEW), FX_NOTE(FG_C_SP_WOULD_REFUSE));
	assert_int_equal(fx_rule_stats(&fx, rc), 0);
	assert_int_equal(rc[R_MON].would_drop - rb[R_MON].would_drop, 2);
	assert_int_equal(rc[R_MON].dropped - rb[R_MON].dropped, 0);
	free(o);
}

/* Per-source limits come first: a SYN over the SYN limit is dropped by it, not answered. */
static void test_limits_first(void **state)
{
	struct seg syn = { .family = 4, .dport = P_LIMITED, .flags = FX_TCP_SYN, .seq = 9 };
	struct out *o = malloc(sizeof(*o));

	assert_non_null(o);
	expect("first syn", &syn, TX, FG_R_SP_SYNACK, o);
	syn.seq++;
	expect("second syn, over 1/s", &syn, DROP, FG_R_RATE_SYN, o);
	free(o);
}

/* Rule counters: an answered SYN and a good ACK pass the rule, a refused one is dropped. */
static void test_rule_counters(void **state)
{
	struct seg syn = { .family = 4, .dport = P_PROXY, .flags = FX_TCP_SYN, .seq = 9 }, a;
	struct fg_rule_count rc[FG_MAX_RULES], rb[FG_MAX_RULES];
	struct synack sa;
	struct fx_pkt p;
	struct out *o = malloc(sizeof(*o));

	assert_non_null(o);
	assert_int_equal(fx_rule_stats(&fx, rb), 0);
	seg_build(&p, &syn);
	expect("syn", &syn, TX, FG_R_SP_SYNACK, o);
	check_synack("syn", &p, &syn, o, 0, 0, 0, 0, 0, &sa);
	ack_of(&syn, &sa, 0, &a);
	expect("ack", &a, PASS, FG_R_SP_COOKIE, o);
	ack_of(&syn, &sa, FORGE, &a);
	expect("forged ack", &a, DROP, FG_R_SP_REFUSED, o);
	assert_int_equal(fx_rule_stats(&fx, rc), 0);
	assert_int_equal(rc[R_PROXY].passed - rb[R_PROXY].passed, 2);
	assert_int_equal(rc[R_PROXY].dropped - rb[R_PROXY].dropped, 1);
	free(o);
}

/*
 * A refused segment bans no one, even under action ban: its source
 * address may be anyone's, and a forger would otherwise ban whom it names.
 */
static void test_refused_no_ban(void **state)
{
	struct seg ack = { .family = 4, .dport = P_BAN, .flags = FX_TCP_ACK, .seq = 3, .ack = 7 };
	struct seg syn = { .family = 4, .dport = P_BAN, .flags = FX_TCP_SYN, .seq = 9 };
	struct out *o = malloc(sizeof(*o));

	assert_non_null(o);
	expect("forged ack under action ban", &ack, DROP, FG_R_SP_REFUSED, o);
	assert_int_equal(o->notes & FX_NOTE(FG_C_BANS), 0);
	ack.seq++;
	expect("again", &ack, DROP, FG_R_SP_REFUSED, o);
	assert_int_equal(o->notes & FX_NOTE(FG_C_BANS), 0);
	expect("the same source's syn: answered, not banned", &syn, TX, FG_R_SP_SYNACK, o);
	free(o);
}

/*
 * The endpoint total counts only what the proxy lets through: SYNs it
 * answers never reach it (a flood of them cannot use it up), and the
 * cookie ACKs do.
 */
static void test_total_after(void **state)
{
	static const char *const src[] = { "198.18.7.1", "198.18.7.2", "198.18.7.3" };
	struct seg syn[3], a;
	struct synack sa[3];
	struct fx_pkt p;
	struct out *o = malloc(sizeof(*o));
	int i;

	assert_non_null(o);
	for (i = 0; i < 3; i++) {
		syn[i] = (struct seg){
			.family = 4, .src = src[i], .dport = P_TOTAL, .flags = FX_TCP_SYN, .seq = 9
		};
		seg_build(&p, &syn[i]);
		expect("syn under a total of one", &syn[i], TX, FG_R_SP_SYNACK, o);
		check_synack("syn under a total of one", &p, &syn[i], o, 0, 0, 0, 0, 0, &sa[i]);
	}
	ack_of(&syn[0], &sa[0], 0, &a);
	expect("first cookie ack: the total's one packet", &a, PASS, FG_R_SP_COOKIE, o);
	ack_of(&syn[1], &sa[1], 0, &a);
	expect("second cookie ack: over the total", &a, DROP, FG_R_ENDPOINT, o);
	free(o);
}

/*
 * A cookie's lifetime, told by the timestamp the ACK echoes (the SYN-ACK's,
 * the data path's clock in ms above its low six bits): an ACK whose echo
 * is older than FG_SP_COOKIE_MS, or newer than now, is refused as expired
 * however valid its cookie, and bans no one; an ACK without timestamps
 * cannot tell and passes (the kernel's own bound applies). age: ms on the
 * test clock (HZ 1000: a tick is a ms) from the SYN-ACK's stamp to the ACK.
 */
static void test_cookie_lifetime(void **state)
{
	static const struct {
		const char *name;
		__u8 family;
		__u16 dport;
		int syn_ts;	/* the client's SYN has timestamps */
		int ack_ts;	/* its ACK has them (echoing the SYN-ACK's) */
		__u64 age;	/* ms from the SYN-ACK's stamp to the ACK */
		__s32 echo_add; /* added to the echoed value (a forged echo) */
		__u32 xdp;	/* verdict */
		int reason;	/* FG_R_* */
	} rows[] = {
		{ "at once", 4, P_PROXY, 1, 1, 0, 0, PASS, FG_R_SP_COOKIE },
		{ "ipv6 at once", 6, P_PROXY, 1, 1, 0, 0, PASS, FG_R_SP_COOKIE },
		{ "at the lifetime", 4, P_PROXY, 1, 1, FG_SP_COOKIE_MS, 0, PASS, FG_R_SP_COOKIE },
		{ "1 ms past it", 4, P_PROXY, 1, 1, FG_SP_COOKIE_MS + 1, 0, DROP, FG_R_SP_EXPIRED },
		{ "ipv6 1 ms past it", 6, P_PROXY, 1, 1, FG_SP_COOKIE_MS + 1, 0, DROP,
		  FG_R_SP_EXPIRED },
		{ "a day later", 4, P_PROXY, 1, 1, 86400000, 0, DROP, FG_R_SP_EXPIRED },
		{ "an echo 64 ms in the future", 4, P_PROXY, 1, 1, 0, 64, DROP, FG_R_SP_EXPIRED },
		{ "an echo made 1 s younger", 4, P_PROXY, 1, 1, 2000, 1024, PASS, FG_R_SP_COOKIE },
		{ "past it, under action ban: bans no one", 4, P_BAN, 1, 1, FG_SP_COOKIE_MS + 1, 0,
		  DROP, FG_R_SP_EXPIRED },
		{ "ack without timestamps, a day later", 4, P_PROXY, 1, 0, 86400000, 0, PASS,
		  FG_R_SP_COOKIE },
		{ "client without timestamps, a day later", 6, P_PROXY, 0, 0, 86400000, 0, PASS,
		  FG_R_SP_COOKIE },
	};
	static const __u8 ts_syn[] = { O_MSS(1460), O_SACK, O_TS(CLIENT_TSVAL, 0), O_NOP, O_WS(7) };
	struct out *o = malloc(sizeof(*o));
	unsigned int i;

	assert_non_null(o);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct seg g = { .family = rows[i].family,
				 .dport = rows[i].dport,
				 .sport = (__u16)(50000 + i),
				 .flags = FX_TCP_SYN,
				 .seq = 0x1000 * (i + 1) },
			   a;
		__u64 syn_now = fx.m.st->test_now;
		struct fx_pkt p;
		struct synack sa;

		if (rows[i].syn_ts) {
			memcpy(g.opts, ts_syn, sizeof(ts_syn));
			g.optlen = sizeof(ts_syn);
		}
		seg_build(&p, &g);
		expect(rows[i].name, &g, TX, FG_R_SP_SYNACK, o);
		check_synack(rows[i].name, &p, &g, o, rows[i].syn_ts, rows[i].syn_ts,
			     rows[i].syn_ts, 7, 0, &sa);
		ack_of(&g, &sa, 0, &a);
		if (!rows[i].ack_ts)
			a.optlen = 0;
		else
			put32(a.opts + 8, sa.tsval + (__u32)rows[i].echo_add);
		/* the stamp is the clock's ms with the low six bits replaced */
		fx.m.st->test_now = syn_now - (syn_now & 63) + rows[i].age;
		expect(rows[i].name, &a, rows[i].xdp, rows[i].reason, o);
		assert_int_equal(o->notes & FX_NOTE(FG_C_BANS), 0);
		fx.m.st->test_now = syn_now + HZ; /* the next row's SYN: after this one's */
	}
	free(o);
}

/*
 * An expired cookie to a monitor rule passes, counted as one XDP would have
 * refused. Its SYN-ACK comes from the same port while its rule drops (a
 * monitor rule answers nothing), then the rule turns to monitor.
 */
static void test_cookie_lifetime_monitor(void **state)
{
	static const __u8 ts_syn[] = { O_NOP, O_NOP, O_TS(CLIENT_TSVAL, 0) };
	struct seg g = { .family = 4, .dport = P_MON, .flags = FX_TCP_SYN, .seq = 77 }, a;
	struct fg_rule_count rb[FG_MAX_RULES], rc[FG_MAX_RULES];
	__u64 syn_now = fx.m.st->test_now;
	struct out *o = malloc(sizeof(*o));
	struct synack sa;
	struct fx_pkt p;

	assert_non_null(o);
	memcpy(g.opts, ts_syn, sizeof(ts_syn));
	g.optlen = sizeof(ts_syn);
	ruleset_commit_mon(FG_ACT_DROP);
	seg_build(&p, &g);
	expect("syn while the rule drops", &g, TX, FG_R_SP_SYNACK, o);
	check_synack("syn while the rule drops", &p, &g, o, 1, 0, 0, 0, 0, &sa);
	ruleset_commit_mon(FG_ACT_MONITOR);
	ack_of(&g, &sa, 0, &a);
	fx.m.st->test_now = syn_now - (syn_now & 63) + FG_SP_COOKIE_MS + 1;
	assert_int_equal(fx_rule_stats(&fx, rb), 0);
	expect("expired cookie to a monitor rule", &a, PASS, FG_R_MONITOR, o);
	assert_int_equal(o->notes & ~FX_NOTE(FG_C_SOURCE_NEW), FX_NOTE(FG_C_SP_WOULD_REFUSE));
	assert_int_equal(fx_rule_stats(&fx, rc), 0);
	assert_int_equal(rc[R_MON].would_drop - rb[R_MON].would_drop, 1);
	free(o);
}

/*
 * fg_sp_keep: the periods a stamp counts for conntrack's TIME_WAIT timeout
 * (which they must cover: a SYN inside it is looked up), or 0 (every SYN
 * looked up) past what a one-byte stamp can count.
 */
static void test_sp_keep(void **state)
{
	static const struct {
		__u64 tw, hz; /* TIME_WAIT timeout in seconds, ticks per second */
		__u32 keep;   /* expected */
	} rows[] = {
		{ 120, 250, 119 },	 /* the default: 30,000 ticks of 256 a period, and one */
		{ 120, 1000, 119 },	 /* 120,000 of 1024 */
		{ 1, 250, 2 },		 /* the bench's server namespace */
		{ 0, 250, 1 },		 /* the period a stamp was written in */
		{ 249, 1000, 245 },	 /* the longest a byte counts here */
		{ 300, 250, 0 },	 /* 294 periods: past FG_SP_KEEP_MAX */
		{ 1ULL << 40, 1000, 0 }, /* no overflow into a small keep */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		__u32 keep = fg_sp_keep(rows[i].tw, rows[i].hz);
		__u64 period = 1ULL << fg_sp_shift(rows[i].hz);

		if (keep != rows[i].keep)
			fail_msg("tw %llu s at %llu Hz: keep %u, expected %u",
				 (unsigned long long)rows[i].tw, (unsigned long long)rows[i].hz,
				 keep, rows[i].keep);
		if (keep && (keep - 1) * period < rows[i].tw * rows[i].hz)
			fail_msg("tw %llu s at %llu Hz: %u periods do not cover it",
				 (unsigned long long)rows[i].tw, (unsigned long long)rows[i].hz,
				 keep);
	}
}

/*
 * SYNs on the tuple of g, a connection conntrack knows whose source no
 * segment through the proxy stamped yet (fg_sp_peers): looked up (and
 * passed) until the rule is armed, answered without the lookup once the
 * source's stamp is older than fg_config.sp_keep periods, looked up again
 * while a passed segment's stamp is that recent. A source never stamped
 * is unseen whatever the period (the counter's byte at 0 included).
 */
static void unseen_steps(const struct seg *g, struct out *o)
{
	enum { NOW, ARMED, KEEP, KEEP1, ZERO }; /* where each step moves the test clock first */
	static const struct {
		const char *name;
		int when; /* NOW, or ARMED: the rule's sp_armed, KEEP(1): sp_keep (+ 1) periods on,
			      * ZERO: to the next period whose stamp byte is 0 */
		const char *src; /* the segment's source, NULL: the connection's */
		__u8 flags;	 /* the segment's TCP flags */
		__u32 xdp;	 /* expected verdict */
		int reason;	 /* and reason */
		int unseen;	 /* 1: counted as answered without a lookup */
	} steps[] = {
		{ "syn before the rule is armed: looked up, passes", NOW, NULL, FX_TCP_SYN, PASS,
		  FG_R_PASS, 0 },
		{ "syn once armed, stamp keep + 1 periods old: answered unlooked", ARMED, NULL,
		  FX_TCP_SYN, TX, FG_R_SP_SYNACK, 1 },
		{ "ack of the connection: looked up, passes, stamps", NOW, NULL, FX_TCP_ACK, PASS,
		  FG_R_PASS, 0 },
		{ "syn, stamp keep periods old: looked up, passes", KEEP, NULL, FX_TCP_SYN, PASS,
		  FG_R_PASS, 0 },
		{ "syn, stamp keep + 1 periods old: answered unlooked", KEEP1, NULL, FX_TCP_SYN, TX,
		  FG_R_SP_SYNACK, 1 },
		{ "syn from a source never stamped, period byte 0: answered unlooked", ZERO,
		  "127.0.0.2", FX_TCP_SYN, TX, FG_R_SP_SYNACK, 1 },
	};
	struct seg x;
	struct fg_config *cfg = malloc(sizeof(*cfg));
	__u32 slot = fx.m.st->slot & 1, i;
	__u64 period = 1ULL << fg_sp_shift(HZ), armed;

	assert_non_null(cfg);
	assert_int_equal(bpf_map_lookup_elem(fx.m.config, &slot, cfg), 0);
	armed = cfg->rules[R_PROXY].sp_armed;
	assert_true(cfg->sp_keep > 0); /* conntrack is here: its TIME_WAIT timeout was read */
	assert_true(armed > fx_now(&fx));
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (steps[i].when == ARMED)
			fx_set_now(&fx, armed);
		else if (steps[i].when == ZERO)
			fx_set_now(&fx, ((fx_now(&fx) / period | 0xff) + 1) * period);
		else if (steps[i].when != NOW)
			fx_set_now(&fx,
				   fx_now(&fx) + (cfg->sp_keep + (steps[i].when == KEEP1)) * period);
		x = *g;
		x.flags = steps[i].flags;
		if (steps[i].src)
			x.src = steps[i].src;
		expect(steps[i].name, &x, steps[i].xdp, steps[i].reason, o);
		if (!!(o->notes & FX_NOTE(FG_C_SP_UNSEEN)) != steps[i].unseen)
			fail_msg("%s: syn_proxy_unseen_syns %s", steps[i].name,
				 steps[i].unseen ? "did not move" : "moved");
	}
	free(cfg);
}

/*
 * The connection g, which conntrack knows, through this CPU's fg_sp_flows
 * entry: written by a lookup that finds it, passing its next segments
 * for FG_SP_FLOW_SEC, then looked up again; no other tuple passes on it,
 * not even one whose hash shares its slot. The caller pins us to a CPU.
 */
static void flow_steps(const struct seg *g, struct out *o)
{
	enum { SAME, OTHER, SHARER }; /* the step's source port: g's, another, a slot sharer's */
	static const struct {
		const char *name;
		__u64 ahead; /* ticks the test clock moves first */
		int port;    /* SAME, OTHER or SHARER */
		__u32 xdp;   /* expected verdict */
		int reason;  /* and reason */
		int hit;     /* 1: passed on the entry (syn_proxy_flow_hits) */
	} steps[] = {
		{ "ack of a connection conntrack knows: looked up, writes the entry", 0, SAME, PASS,
		  FG_R_PASS, 0 },
		{ "the same ack: passes on the entry", 0, SAME, PASS, FG_R_PASS, 1 },
		{ "an ack from another port: no entry, no connection", 0, OTHER, DROP,
		  FG_R_SP_REFUSED, 0 },
		{ "an ack whose tuple's hash shares the slot: not the entry's", 0, SHARER, DROP,
		  FG_R_SP_REFUSED, 0 },
		{ "the entry a tick before its second ends", HZ * FG_SP_FLOW_SEC - 1, SAME, PASS,
		  FG_R_PASS, 1 },
		{ "a second after it was written: looked up again", 1, SAME, PASS, FG_R_PASS, 0 },
		{ "and written again", 0, SAME, PASS, FG_R_PASS, 1 },
	};
	struct bpf_sock_tuple t = { .ipv4 = { .saddr = htonl(0x7f000001),
					      .daddr = htonl(0x7f000001) } };
	__u64 seed = fx.skel->rodata->fg_seed, slot;
	__u16 sharer = 0;
	struct seg x;
	__u32 i, p;

	/* a source port whose tuple's hash falls in the connection's slot (one in 4096 do) */
	t.ipv4.sport = htons(g->sport);
	t.ipv4.dport = htons(g->dport);
	slot = fg_sp_flow_hash((const __u32 *)&t, 0, seed) >> (64 - FG_SP_FLOW_BITS);
	for (p = 1; p < 65536 && !sharer; p++) {
		t.ipv4.sport = htons(p);
		if (p != g->sport &&
		    fg_sp_flow_hash((const __u32 *)&t, 0, seed) >> (64 - FG_SP_FLOW_BITS) == slot)
			sharer = p;
	}
	assert_true(sharer != 0);
	assert_int_equal(fx_array_clear(fx.skel->maps.fg_sp_flows), 0);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		x = *g;
		x.flags = FX_TCP_ACK;
		x.sport = steps[i].port == SAME	   ? g->sport
			  : steps[i].port == OTHER ? g->sport + 1
						   : sharer;
		fx.m.st->test_now += steps[i].ahead;
		expect(steps[i].name, &x, steps[i].xdp, steps[i].reason, o);
		if (!!(o->notes & FX_NOTE(FG_C_SP_FLOW_HIT)) != steps[i].hit)
			fail_msg("%s: syn_proxy_flow_hits %s", steps[i].name,
				 steps[i].hit ? "did not move" : "moved");
	}
}

/*
 * ACKs with a valid cookie for the tuple of g, a connection conntrack
 * knows (a SYN on it answered once the stamp of its source is old): they
 * pass as the connection's, the cookie fresh or past its lifetime, bare or
 * with data (the lookup comes first: an established connection's segments
 * acknowledge the same until its server sends).
 */
static void cookie_steps(const struct seg *g, struct out *o)
{
	static const struct {
		const char *name;
		__u64 age;     /* ms from the SYN-ACK's stamp to the ACK */
		__u16 payload; /* data bytes */
	} steps[] = {
		{ "a bare ack, its cookie fresh: the connection's", 0, 0 },
		{ "an ack with data, its cookie fresh: the connection's", 0, 100 },
		{ "a bare ack, its cookie past its lifetime: the connection's", FG_SP_COOKIE_MS + 1,
		  0 },
		{ "an ack with data, its cookie past its lifetime: the connection's",
		  FG_SP_COOKIE_MS + 1, 100 },
	};
	static const __u8 ts_syn[] = { O_MSS(1460), O_SACK, O_TS(CLIENT_TSVAL, 0), O_NOP, O_WS(7) };
	struct fg_config *cfg = malloc(sizeof(*cfg));
	__u32 slot = fx.m.st->slot & 1, i;
	__u64 period = 1ULL << fg_sp_shift(HZ), syn_now;
	struct seg s = *g, a;
	struct fx_pkt p;
	struct synack sa;

	assert_non_null(cfg);
	assert_int_equal(bpf_map_lookup_elem(fx.m.config, &slot, cfg), 0);
	/*
	 * the source's stamp (its last segment's) made old enough that the SYN is
	 * answered unlooked: keep + 2 periods, as a stamp written in period 0 holds 1
	 */
	fx_set_now(&fx, fx_now(&fx) + (cfg->sp_keep + 2) * period);
	free(cfg);
	s.flags = FX_TCP_SYN;
	s.seq = 0x7000;
	memcpy(s.opts, ts_syn, sizeof(ts_syn));
	s.optlen = sizeof(ts_syn);
	seg_build(&p, &s);
	syn_now = fx_now(&fx);
	expect("a syn on the known tuple, its source unseen: answered", &s, TX, FG_R_SP_SYNACK, o);
	check_synack("the known tuple's syn-ack", &p, &s, o, 1, 1, 1, 7, 0, &sa);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		ack_of(&s, &sa, 0, &a);
		a.payload = steps[i].payload;
		/* the stamp is the clock's ms with the low six bits replaced */
		fx_set_now(&fx, syn_now - (syn_now & 63) + steps[i].age);
		/* looked up, every time: no flow entry of a step before */
		assert_int_equal(fx_array_clear(fx.skel->maps.fg_sp_flows), 0);
		expect(steps[i].name, &a, PASS, FG_R_PASS, o);
	}
}

/*
 * A connection conntrack has confirmed passes without a cookie: one on
 * this namespace's loopback, made real by a listening socket and an
 * nftables table that needs conntrack (in this namespace only).
 */
static void test_conntrack(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sa);
	struct seg g = { .family = 4, .src = "127.0.0.1", .dst = "127.0.0.1", .flags = FX_TCP_ACK };
	struct out *o;
	int ls, cs, as;

	if (cmd((const char *const[]){
		    "nft",
		    "add table inet fgtest; "
		    "add chain inet fgtest in { type filter hook input priority 0; }; "
		    "add rule inet fgtest in ct state established accept",
		    NULL }))
		skip(); /* no nft or no conntrack: the lab test covers it */
	assert_int_equal(fx_seen_clear(&fx), 0); /* no stamp of a test before */
	o = malloc(sizeof(*o));
	assert_non_null(o);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	cs = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(cs >= 0);
	assert_int_equal(connect(cs, (struct sockaddr *)&sa, sizeof(sa)), 0);
	as = accept(ls, NULL, NULL);
	assert_true(as >= 0);
	g.dport = ntohs(sa.sin_port);
	sl = sizeof(sa);
	assert_int_equal(getsockname(cs, (struct sockaddr *)&sa, &sl), 0);
	g.sport = ntohs(sa.sin_port);

	/* the connection's port made a syn-proxy endpoint */
	{
		struct fg_ruleset *rs = malloc(sizeof(*rs));
		struct fg_rule *r;

		assert_non_null(rs);
		fx_ruleset_init(rs, HZ);
		fx_rule_open(&rs->cfg.rules[R_DEF]);
		r = &rs->cfg.rules[R_PROXY];
		*r = rs->cfg.rules[R_DEF];
		r->used = 1;
		r->proto = FX_IP_TCP;
		r->port_lo = r->port_hi = g.dport;
		r->syn_proxy = 1;
		assert_int_equal(fx_commit(&fx, rs), 0);
		free(rs);
	}
	g.seq = 5;
	g.ack = 0x5eed; /* no cookie at all */
	unseen_steps(&g, o);
	{
		/* fg_sp_flows is per CPU: every run of the steps on this one */
		cpu_set_t one, all;

		assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
		CPU_ZERO(&one);
		CPU_SET(sched_getcpu(), &one);
		assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
		flow_steps(&g, o);
		assert_int_equal(sched_setaffinity(0, sizeof(all), &all), 0);
	}
	cookie_steps(&g, o);
	g.flags = FX_TCP_ACK;
	{
		/* what the proxy costs a segment: the same ACK to a port without it, and refused */
		struct fx_pkt p;
		struct seg plain = g;
		__u32 known, other, refused;

		seg_build(&p, &g);
		known = cost_ns(&p);
		plain.dport = P_PLAIN;
		seg_build(&p, &plain);
		other = cost_ns(&p);
		plain = g;
		plain.sport++;
		seg_build(&p, &plain);
		refused = cost_ns(&p);
		printf("# cost per segment (median of 9 x 100000 runs): %u ns to a port without "
		       "the "
		       "proxy, %u ns for a connection conntrack knows on a proxied port (on its "
		       "fg_sp_flows entry), %u ns for "
		       "an ACK refused (lookup missed, cookie checked)\n",
		       other, known, refused);
	}
	g.sport++;
	expect("the same ack from another port", &g, DROP, FG_R_SP_REFUSED, o);
	close(as);
	close(cs);
	close(ls);
	assert_int_equal(cmd((const char *const[]){ "nft", "delete table inet fgtest", NULL }), 0);
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_synack_table, fresh),
		cmocka_unit_test_setup(test_refused, fresh),
		cmocka_unit_test_setup(test_refused_addresses, fresh),
		cmocka_unit_test_setup(test_syn_fragment, fresh),
		cmocka_unit_test_setup(test_malformed_options, fresh),
		cmocka_unit_test_setup(test_unprotected, fresh),
		cmocka_unit_test_setup(test_flow_entries, fresh),
		cmocka_unit_test_setup(test_monitor, fresh),
		cmocka_unit_test_setup(test_limits_first, fresh),
		cmocka_unit_test_setup(test_rule_counters, fresh),
		cmocka_unit_test_setup(test_refused_no_ban, fresh),
		cmocka_unit_test_setup(test_total_after, fresh),
		cmocka_unit_test_setup(test_cookie_lifetime, fresh),
		cmocka_unit_test_setup(test_cookie_lifetime_monitor, fresh),
		cmocka_unit_test(test_sp_keep),
		cmocka_unit_test_setup(test_conntrack, fresh),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
