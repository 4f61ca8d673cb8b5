/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * synproxy.h: the XDP SYN proxy (BPF side only), for TCP endpoints whose
 * rule has syn_proxy set.
 *
 * A segment of a connection conntrack knows (confirmed) passes: looked up,
 * or, within a second of a lookup on this CPU that found it, on the
 * tuple's fg_sp_flows entry (floodgate.h, struct fg_sp_flow). Otherwise
 * a SYN is answered here with a SYN-ACK whose sequence number is a SYN
 * cookie (the kernel's own, bpf_tcp_raw_gen_syncookie_*), sent back out
 * of the interface (XDP_TX), so a flood of spoofed SYNs creates no state
 * anywhere; an ACK that carries a valid cookie passes to netfilter's
 * SYNPROXY (floodgate's `table inet floodgate`, user/synproxy.c), which
 * checks the same cookie and opens the connection to the server; any other
 * segment without a connection is refused. The shape is the kernel
 * selftest xdp_synproxy's.
 *
 * The SYN-ACK carries what a cookie can: the MSS in the sequence number,
 * and, only when the client sent timestamps, its window scale, SACK and
 * ECN in the low bits of our timestamp (the encoding SYNPROXY decodes).
 * The timestamp's other bits are the data path's clock in milliseconds, so
 * the timestamp an ACK echoes tells its cookie's age: past FG_SP_COOKIE_MS
 * the ACK is refused as expired, a replay (the kernel's own check would
 * take the cookie for one to two minutes). Only against replays that keep
 * the echo: an ACK without timestamps, or with its echo rewritten, is
 * left to the kernel's check (README, SYN proxy limits).
 * Headers are copied to the stack with bpf_xdp_load_bytes and the reply
 * is written with bpf_xdp_store_bytes, so VLAN tags, IPv4 options, IPv6
 * extension headers and multi-buffer frames need no pointer juggling: the
 * reply keeps the frame's L2 header and has a plain IP and TCP header.
 */
#ifndef FG_SYNPROXY_H
#define FG_SYNPROXY_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "floodgate.h"
#include "parse.h"

#define FG_TCP_FIN 0x01 /* TCP flag bits (byte 13 of the header) */
#define FG_TCP_SYN 0x02
#define FG_TCP_RST 0x04
#define FG_TCP_ACK 0x10
#define FG_TCP_ECE 0x40
#define FG_TCP_CWR 0x80

#define FG_TCPOPT_EOL	    0 /* TCP option kinds and the lengths the proxy accepts */
#define FG_TCPOPT_NOP	    1
#define FG_TCPOPT_MSS	    2
#define FG_TCPOPT_WINDOW    3
#define FG_TCPOPT_SACK_PERM 4
#define FG_TCPOPT_TIMESTAMP 8
#define FG_TCPOLEN_WINDOW   3
#define FG_TCPOLEN_SACK	    2
#define FG_TCPOLEN_TS	    10
#define FG_TCP_MAX_WSCALE   14 /* RFC 7323 */

/* Low bits of the SYN-ACK's timestamp: the options SYNPROXY reads back from the ACK's echo. */
#define FG_TS_WSCALE_MASK 0xf	    /* client's window scale, 0xf: none */
#define FG_TS_SACK	  (1U << 4) /* client permits SACK */
#define FG_TS_ECN	  (1U << 5) /* client asked for ECN */
#define FG_TS_BITS	  0x3fU	    /* all of them: the clock's low bits they replace */
#define FG_MSEC_PER_SEC	  1000ULL   /* the TCP timestamp clock ticks in ms, as the kernel's */

/* fg_synproxy's flags */
#define FG_SP_MONITOR 1 /* a monitor rule: answer nothing, say what would be done */
#define FG_SP_UNSEEN  2 /* no segment of the source passed lately: a SYN needs no conntrack lookup */

#define FG_IP4_MF 0x2000 /* IPv4 more fragments */
#define FG_IP4_DF 0x4000 /* IPv4 don't fragment */

/*
 * The conntrack kfuncs. Only nf_conn's status is read, relocated by CO-RE;
 * the options are the 12-byte layout every kernel with the kfuncs takes.
 */
struct nf_conn {
	unsigned long status;
} __attribute__((preserve_access_index));

struct fg_ct_opts {
	__s32 netns_id;	  /* BPF_F_CURRENT_NETNS: the interface's namespace */
	__s32 error;	  /* out: -ENOENT when there is no entry */
	__u8 l4proto;	  /* IPPROTO_TCP */
	__u8 dir;	  /* out: direction of the tuple found */
	__u8 reserved[2]; /* zero */
};
#define FG_CT_OPTS_SZ 12 /* sizeof(struct fg_ct_opts): the kfunc checks it */

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *ctx, struct bpf_sock_tuple *tuple,
					 __u32 tuple__sz, struct fg_ct_opts *opts,
					 __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

/* A segment's headers, copied off the frame. */
struct fg_sp_hdrs {
	union {
		struct iphdr ip4;   /* IPv4 header, options follow in ipb */
		struct ipv6hdr ip6; /* IPv6 header */
		__u8 ipb[60];	    /* the whole IPv4 header, for its checksum */
	};
	union {
		struct tcphdr th; /* TCP header, options follow in tb */
		__u8 tb[64];	  /* the whole TCP header (60 bytes at most, 64 for masking) */
	};
	__u8 slack[4]; /* a 4-byte read at a masked offset into tb stays within the copy */
};

/*
 * A CPU's copy of the segment's headers: 128 bytes the stack cannot spare
 * (floodgate()'s frame and fg_synproxy()'s together must fit in 512). Not
 * state: each segment writes what it reads before reading it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fg_sp_hdrs);
} fg_sp_scratch SEC(".maps");

/* Connections conntrack confirmed lately, per CPU (floodgate.h, struct fg_sp_flow). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FG_SP_FLOW_SLOTS);
	__type(key, __u32);
	__type(value, struct fg_sp_flow);
} fg_sp_flows SEC(".maps");

/* fg_synproxy's answer for a segment passed on its fg_sp_flows entry: FG_R_PASS, counted apart */
#define FG_SP_FLOW_PASS (-3)

/* What a client's SYN asked for, or its ACK echoes (fg_sp_options). */
struct fg_sp_opts {
	__be32 tsval; /* client's timestamp value, when ts */
	__be32 tsecr; /* the timestamp it echoes (in an ACK: our SYN-ACK's), when ts */
	__u8 wscale;  /* client's window scale, FG_TS_WSCALE_MASK when absent */
	__u8 sack;    /* 1: SACK permitted */
	__u8 ts;      /* 1: timestamps */
	__u8 pad;     /* zero */
};

static __always_inline __u16 fg_csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/*
 * The one's complement sum of n 32-bit words as bpf_csum_diff sums memory
 * (16-bit words, unfolded): a few ALU steps where a helper call would cost
 * more than the sum. n is a constant; the result stays far below 2^32.
 */
static __always_inline __u32 fg_sp_sum(const void *mem, int n)
{
	const __u32 *w = mem;
	__u32 s = 0;
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		s += (w[i] & 0xffff) + (w[i] >> 16);
	return s;
}

/*
 * Checksum of the TCP header h->tb (thl bytes, a multiple of 4) with its
 * pseudo header from h's IP header (whose addresses may be swapped: the
 * sum is the same). With the header's own checksum in place, 0 means it
 * is right. Returns -1 when the helper fails.
 */
static __always_inline int fg_sp_tcp_csum(struct fg_sp_hdrs *h, __u8 family, __u32 thl)
{
	__be32 tail[2] = {}; /* the pseudo header after the addresses */
	__u32 seed;
	__s64 sum;

	if (thl > 60)
		return -1;
	/* the pseudo header summed here, the header itself by one helper call */
	if (family == FG_FAM_IPV4) {
		tail[0] = bpf_htonl(IPPROTO_TCP << 16 | thl); /* zero, protocol, TCP length */
		seed = fg_sp_sum(&h->ip4.saddr, 2) + fg_sp_sum(tail, 1);
	} else {
		tail[0] = bpf_htonl(thl); /* TCP length, three zero bytes, next header */
		tail[1] = bpf_htonl(IPPROTO_TCP);
		seed = fg_sp_sum(&h->ip6.saddr, 8) + fg_sp_sum(tail, 2);
	}
	sum = bpf_csum_diff(NULL, 0, (__be32 *)h->tb, thl, (__wsum)seed);
	if (sum < 0)
		return -1;
	return fg_csum_fold(sum);
}

/* The option walk's state, one bpf_loop step per option (fg_sp_opt_step). */
struct fg_sp_walk {
	const __u8 *tb;	     /* the TCP header (64 bytes readable) */
	__u32 i;	     /* offset of the next option */
	__u32 thl;	     /* header length: where the options end */
	struct fg_sp_opts o; /* what was found */
};

/*
 * One option at w->i. Malformed options end the walk, as in the kernel's
 * tcp_parse_options: what was read before them counts, the rest is
 * ignored. Returns 1 to stop.
 */
static long fg_sp_opt_step(__u64 index, void *ctx)
{
	struct fg_sp_walk *w = ctx;
	__u32 i = w->i, size;
	__u8 kind;

	if (i >= w->thl || i >= 60)
		return 1;
	kind = w->tb[i & 63];
	if (kind == FG_TCPOPT_EOL)
		return 1;
	if (kind == FG_TCPOPT_NOP) {
		w->i = i + 1;
		return 0;
	}
	if (i + 1 >= w->thl)
		return 1;
	size = w->tb[(i + 1) & 63];
	if (size < 2 || i + size > w->thl)
		return 1;
	if (kind == FG_TCPOPT_WINDOW && size == FG_TCPOLEN_WINDOW) {
		w->o.wscale = w->tb[(i + 2) & 63];
		if (w->o.wscale > FG_TCP_MAX_WSCALE)
			w->o.wscale = FG_TCP_MAX_WSCALE;
	} else if (kind == FG_TCPOPT_SACK_PERM && size == FG_TCPOLEN_SACK) {
		w->o.sack = 1;
	} else if (kind == FG_TCPOPT_TIMESTAMP && size == FG_TCPOLEN_TS) {
		w->o.ts = 1;
		/* the bytes as they are: the values stay in network order */
		__builtin_memcpy(&w->o.tsval, &w->tb[(i + 2) & 63], 4);
		__builtin_memcpy(&w->o.tsecr, &w->tb[(i + 6) & 63], 4);
	}
	w->i = i + size;
	return 0;
}

/* The client's window scale, SACK and timestamp options from its segment (h->tb, thl bytes). */
static __always_inline void fg_sp_options(const struct fg_sp_hdrs *h, __u32 thl, struct fg_sp_opts *o)
{
	struct fg_sp_walk w = { .tb = h->tb, .i = sizeof(struct tcphdr), .thl = thl };

	w.o.wscale = FG_TS_WSCALE_MASK;
	bpf_loop(40, fg_sp_opt_step, &w, 0); /* 40 option bytes at most, one a step or more */
	*o = w.o;
}

/* The data path's clock (p->now, at hz ticks a second) in ms, as TCP timestamps count. */
static __always_inline __u32 fg_sp_ms(const struct fg_pkt *p, __u64 hz)
{
	return hz ? (__u32)(p->now * FG_MSEC_PER_SEC / hz) : 0;
}

/*
 * Turn the SYN in h (its TCP header thl bytes long) into the SYN-ACK
 * carrying `cookie`, write it over the frame from l3 on and trim the frame
 * to it. Returns 0, or -1 when a helper failed (the frame is then
 * dropped: it may be half written).
 */
static __always_inline int fg_sp_reply(struct xdp_md *ctx, const struct fg_pkt *p,
				       struct fg_sp_hdrs *h, __u32 thl, __u32 cookie, __u64 hz)
{
	struct fg_sp_opts o = {};
	__be32 *opt = (__be32 *)(h->tb + sizeof(struct tcphdr));
	__u8 flags = h->tb[13], mac[12], tmp[6];
	__u32 ipl, newthl = sizeof(struct tcphdr) + 4, ts, old;
	__be16 port;
	int sum;

	fg_sp_options(h, thl, &o);
	/* the TCP header, in place: the options after it are rewritten from the front */
	port = h->th.source;
	h->th.source = h->th.dest;
	h->th.dest = port;
	h->th.ack_seq = bpf_htonl(bpf_ntohl(h->th.seq) + 1);
	h->th.seq = bpf_htonl(cookie);
	h->tb[13] = FG_TCP_SYN | FG_TCP_ACK;
	h->th.window = 0; /* SYNPROXY opens it with the server's window once connected */
	h->th.check = 0;
	h->th.urg_ptr = 0;
	opt[0] = bpf_htonl(FG_TCPOPT_MSS << 24 | 4 << 16 |
			   (p->family == FG_FAM_IPV4 ? FG_SP_MSS4 : FG_SP_MSS6));
	if (o.ts) {
		ts = fg_sp_ms(p, hz) & ~FG_TS_BITS; /* the cookie's birth, for fg_sp_fresh */
		ts |= o.wscale;
		if (o.sack)
			ts |= FG_TS_SACK;
		if ((flags & (FG_TCP_ECE | FG_TCP_CWR)) == (FG_TCP_ECE | FG_TCP_CWR)) {
			ts |= FG_TS_ECN;
			h->tb[13] |= FG_TCP_ECE;
		}
		opt[1] = bpf_htonl((o.sack ? FG_TCPOPT_SACK_PERM << 24 | FG_TCPOLEN_SACK << 16
					   : FG_TCPOPT_NOP << 24 | FG_TCPOPT_NOP << 16) |
				   FG_TCPOPT_TIMESTAMP << 8 | FG_TCPOLEN_TS);
		opt[2] = bpf_htonl(ts);
		opt[3] = o.tsval; /* echoed */
		newthl += 12;
		if (o.wscale != FG_TS_WSCALE_MASK) {
			opt[4] = bpf_htonl(FG_TCPOPT_NOP << 24 | FG_TCPOPT_WINDOW << 16 |
					   FG_TCPOLEN_WINDOW << 8 | FG_SP_WSCALE);
			newthl += 4;
		}
	}
	h->tb[12] = (__u8)(newthl / 4) << 4;
	sum = fg_sp_tcp_csum(h, p->family, newthl);
	if (sum < 0)
		return -1;
	h->th.check = (__sum16)sum;

	/* the IP header: addresses swapped, no options or extension headers */
	if (p->family == FG_FAM_IPV4) {
		__be32 a = h->ip4.saddr;

		ipl = sizeof(struct iphdr);
		h->ip4.saddr = h->ip4.daddr;
		h->ip4.daddr = a;
		h->ip4.version = 4;
		h->ip4.ihl = 5;
		h->ip4.tos = 0;
		h->ip4.tot_len = bpf_htons(ipl + newthl);
		h->ip4.id = 0;
		h->ip4.frag_off = bpf_htons(FG_IP4_DF);
		h->ip4.ttl = FG_SP_TTL;
		h->ip4.protocol = IPPROTO_TCP;
		h->ip4.check = 0;
		h->ip4.check = (__sum16)fg_csum_fold(fg_sp_sum(h->ipb, sizeof(struct iphdr) / 4));
	} else {
		struct in6_addr a = h->ip6.saddr;

		ipl = sizeof(struct ipv6hdr);
		h->ip6.saddr = h->ip6.daddr;
		h->ip6.daddr = a;
		*(__be32 *)h->ipb = bpf_htonl(0x60000000); /* version 6, no traffic class or flow */
		h->ip6.payload_len = bpf_htons(newthl);
		h->ip6.nexthdr = IPPROTO_TCP;
		h->ip6.hop_limit = FG_SP_TTL;
	}

	old = bpf_xdp_get_buff_len(ctx);
	if (bpf_xdp_adjust_tail(ctx, (int)(p->l3 + ipl + newthl) - (int)old))
		return -1;
	if (bpf_xdp_load_bytes(ctx, 0, mac, sizeof(mac)))
		return -1;
	__builtin_memcpy(tmp, mac, 6);
	__builtin_memcpy(mac, mac + 6, 6);
	__builtin_memcpy(mac + 6, tmp, 6);
	if (bpf_xdp_store_bytes(ctx, 0, mac, sizeof(mac)))
		return -1;
	if (p->family == FG_FAM_IPV4) {
		if (bpf_xdp_store_bytes(ctx, p->l3, h->ipb, sizeof(struct iphdr)))
			return -1;
	} else if (bpf_xdp_store_bytes(ctx, p->l3, h->ipb, sizeof(struct ipv6hdr))) {
		return -1;
	}
	if (newthl > 40 || bpf_xdp_store_bytes(ctx, p->l3 + ipl, h->tb, newthl))
		return -1;
	return 0;
}

/*
 * Whether a SYN's addresses may be answered: no group MAC at either end (a
 * SYN to a broadcast frame would get a SYN-ACK from every proxy on the
 * segment), neither address multicast, broadcast (reserved) or
 * unspecified, and no IPv4-mapped IPv6 source, all of which the kernel
 * drops (ip_route_input, tcp_v4/v6_conn_request). Loopback addresses are
 * left to the kernel's martian checks: no NIC delivers them, and the
 * tests' conntrack connections are on lo. 1 yes.
 */
static __always_inline int fg_sp_addrs_ok(struct xdp_md *ctx, const struct fg_pkt *p,
					  const struct fg_sp_hdrs *h)
{
	const __u8 *mac = (const __u8 *)(long)ctx->data;

	if ((const void *)(mac + 12) > (const void *)(long)ctx->data_end || ((mac[0] | mac[6]) & 1))
		return 0;
	if (p->family == FG_FAM_IPV4) {
		__u32 s = bpf_ntohl(h->ip4.saddr), d = bpf_ntohl(h->ip4.daddr);

		/* neither in 0/8 nor in 224/3 (multicast, reserved, 255.255.255.255) */
		return s >> 24 && s >> 29 != 7 && d >> 24 && d >> 29 != 7;
	} else {
		const __u32 *s = h->ip6.saddr.s6_addr32, *d = h->ip6.daddr.s6_addr32;

		/* neither in ff00::/8 nor ::, and the source not in ::ffff:0:0/96 */
		return h->ip6.saddr.s6_addr[0] != 0xff && h->ip6.daddr.s6_addr[0] != 0xff &&
		       (s[0] | s[1] | s[2] | s[3]) && (d[0] | d[1] | d[2] | d[3]) &&
		       (s[0] | s[1] || s[2] != bpf_htonl(0xffff));
	}
}

/*
 * A SYN: whether the proxy answers it, and (unless monitor) the answer.
 * It answers a SYN that is whole and checksummed (it would reflect
 * anything else), carries no data (its checksum would need the payload,
 * and a cookie cannot keep data; a TCP Fast Open client sends it again)
 * and is between addresses the kernel would answer (fg_sp_addrs_ok).
 * Returns FG_R_SP_SYNACK (answered, or would be) or FG_R_SP_REFUSED.
 */
static __always_inline int fg_sp_syn(struct xdp_md *ctx, const struct fg_pkt *p,
				     struct fg_sp_hdrs *h, int monitor, __u64 hz)
{
	__u32 thl = (__u32)(h->tb[12] >> 4) * 4, iphl, l4len, rest;
	__s64 cookie;

	/* the bounds must hold on the register the helpers get, not on a recomputed copy */
	asm volatile("" : "+r"(thl));
	if (thl < sizeof(struct tcphdr) || thl > 60 || !fg_sp_addrs_ok(ctx, p, h))
		return FG_R_SP_REFUSED;
	if (p->family == FG_FAM_IPV4) {
		iphl = (__u32)h->ip4.ihl * 4;
		asm volatile("" : "+r"(iphl));
		if (h->ip4.frag_off & bpf_htons(FG_IP4_MF))
			return FG_R_SP_REFUSED; /* a first fragment: the rest is not here */
		if (iphl < sizeof(struct iphdr) || iphl > 60)
			return FG_R_SP_REFUSED;
		/* fg_synproxy copied the first 20 bytes: a header without options is all there */
		if (iphl == sizeof(struct iphdr)) {
			if (fg_csum_fold(fg_sp_sum(h->ipb, sizeof(struct iphdr) / 4)))
				return FG_R_SP_REFUSED;
		} else if (bpf_xdp_load_bytes(ctx, p->l3, h->ipb, iphl) ||
			   fg_csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)h->ipb, iphl, 0))) {
			return FG_R_SP_REFUSED;
		}
		l4len = bpf_ntohs(h->ip4.tot_len) - iphl;
	} else {
		if (p->first_frag)
			return FG_R_SP_REFUSED; /* as IPv4's: the rest is not here */
		/* the chain between the headers, as the parser walked it */
		l4len = bpf_ntohs(h->ip6.payload_len) - (p->l4 - p->l3 - sizeof(struct ipv6hdr));
	}
	if (l4len != thl)
		return FG_R_SP_REFUSED;
	/* and the TCP header's first 20: only its options are still to copy */
	rest = thl - sizeof(struct tcphdr);
	asm volatile("" : "+r"(rest));
	if (rest > 40 || (rest && bpf_xdp_load_bytes(ctx, p->l4 + sizeof(struct tcphdr),
						     h->tb + sizeof(struct tcphdr), rest)))
		return FG_R_SP_REFUSED;
	if (fg_sp_tcp_csum(h, p->family, thl))
		return FG_R_SP_REFUSED;
	if (p->family == FG_FAM_IPV4)
		cookie = bpf_tcp_raw_gen_syncookie_ipv4(&h->ip4, &h->th, thl);
	else
		cookie = bpf_tcp_raw_gen_syncookie_ipv6(&h->ip6, &h->th, thl);
	if (cookie < 0)
		return FG_R_SP_REFUSED;
	if (monitor)
		return FG_R_SP_SYNACK;
	return fg_sp_reply(ctx, p, h, thl, (__u32)cookie, hz) ? FG_R_SP_REFUSED : FG_R_SP_SYNACK;
}

/*
 * Whether the ACK in h (its fixed TCP header loaded), whose cookie is
 * valid, is within FG_SP_COOKIE_MS of its SYN-ACK: the timestamp it echoes
 * is that SYN-ACK's, whose bits above FG_TS_BITS are the clock when it
 * left. An echo from later than now is no SYN-ACK of ours either. An ACK
 * without timestamps cannot tell (its client sent none): it passes, and
 * the kernel's own bound on the cookie's age applies.
 */
static __always_inline int fg_sp_fresh(struct xdp_md *ctx, const struct fg_pkt *p,
				       struct fg_sp_hdrs *h, __u64 hz)
{
	__u32 thl = (__u32)(h->tb[12] >> 4) * 4;
	struct fg_sp_opts o;

	asm volatile("" : "+r"(thl));
	if (thl <= sizeof(struct tcphdr))
		return 1; /* no options */
	if (thl > 60 || bpf_xdp_load_bytes(ctx, p->l4, h->tb, thl))
		return 0; /* the parser checked the header is there: never reached */
	fg_sp_options(h, thl, &o);
	/* in u32, as the timestamps wrap: an echo from the future is an age past any lifetime */
	return !o.ts || fg_sp_ms(p, hz) - (bpf_ntohl(o.tsecr) & ~FG_TS_BITS) <= FG_SP_COOKIE_MS;
}

/*
 * Whether entry fl holds tuple w of family fam: the family and every word
 * of the tuple (IPv4's three, IPv6's nine), as conntrack's lookup matched it.
 */
static __always_inline int fg_sp_flow_holds(const struct fg_sp_flow *fl, const __u32 *w, __u8 fam)
{
	const __u32 *t = fl->tuple;

	if (fl->family != fam || t[0] != w[0] || t[1] != w[1] || t[2] != w[2])
		return 0;
	return fam == FG_FAM_IPV4 || (t[3] == w[3] && t[4] == w[4] && t[5] == w[5] &&
				      t[6] == w[6] && t[7] == w[7] && t[8] == w[8]);
}

/*
 * The SYN proxy's verdict on a TCP segment (parsed into p, p->now at hz
 * ticks a second) to a syn-proxy endpoint: FG_R_PASS (a connection
 * conntrack has confirmed), FG_R_SP_COOKIE (an ACK with a valid cookie:
 * SYNPROXY completes the handshake), FG_R_SP_SYNACK (a SYN answered; with
 * FG_SP_MONITOR in flags, a SYN that would be, left untouched),
 * FG_R_SP_EXPIRED (a valid cookie past its lifetime) or FG_R_SP_REFUSED;
 * FG_SP_FLOW_PASS for a segment of a connection this CPU's fg_sp_flows
 * had from conntrack within the second. Costs an established connection's
 * segment two header loads and, once a second per CPU, one conntrack
 * lookup; a SYN with FG_SP_UNSEEN, no lookup. seed: the load's secret,
 * for the flow table's hash.
 */
__noinline int fg_synproxy(struct xdp_md *ctx, const struct fg_pkt *p, int flags, __u64 hz, __u64 seed)
{
	struct fg_ct_opts co = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = IPPROTO_TCP };
	struct bpf_sock_tuple tup = {};
	const __u32 *w = (const __u32 *)&tup;
	struct fg_sp_flow *fl = NULL;
	struct fg_sp_hdrs *h;
	struct nf_conn *ct;
	__u32 tlen, zero = 0, slot;
	__u8 tcpf;
	int syn;

	if (!ctx || !p)
		return FG_R_SP_REFUSED;
	h = bpf_map_lookup_elem(&fg_sp_scratch, &zero);
	if (!h)
		return FG_R_SP_REFUSED;
	if (p->family == FG_FAM_IPV4) {
		if (bpf_xdp_load_bytes(ctx, p->l3, &h->ip4, sizeof(h->ip4)))
			return FG_R_SP_REFUSED;
		tup.ipv4.saddr = h->ip4.saddr;
		tup.ipv4.daddr = h->ip4.daddr;
		tlen = sizeof(tup.ipv4);
	} else {
		if (bpf_xdp_load_bytes(ctx, p->l3, &h->ip6, sizeof(h->ip6)))
			return FG_R_SP_REFUSED;
		__builtin_memcpy(tup.ipv6.saddr, &h->ip6.saddr, 16);
		__builtin_memcpy(tup.ipv6.daddr, &h->ip6.daddr, 16);
		tlen = sizeof(tup.ipv6);
	}
	if (bpf_xdp_load_bytes(ctx, p->l4, &h->th, sizeof(h->th)))
		return FG_R_SP_REFUSED;
	if (p->family == FG_FAM_IPV4) {
		tup.ipv4.sport = h->th.source;
		tup.ipv4.dport = h->th.dest;
	} else {
		tup.ipv6.sport = h->th.source;
		tup.ipv6.dport = h->th.dest;
	}
	tcpf = h->tb[13];
	syn = (tcpf & (FG_TCP_SYN | FG_TCP_ACK | FG_TCP_RST | FG_TCP_FIN)) == FG_TCP_SYN;
	ct = NULL;
	if (!(syn && (flags & FG_SP_UNSEEN))) {
		/* a connection confirmed on this CPU within the second passes on its entry */
		slot = (__u32)(fg_sp_flow_hash(w, p->family != FG_FAM_IPV4, seed) >>
			       (64 - FG_SP_FLOW_BITS));
		fl = bpf_map_lookup_elem(&fg_sp_flows, &slot);
		if (fl && fg_sp_flow_holds(fl, w, p->family) &&
		    p->now - fl->tick < hz * FG_SP_FLOW_SEC)
			return FG_SP_FLOW_PASS;
		ct = bpf_xdp_ct_lookup(ctx, &tup, tlen, &co, FG_CT_OPTS_SZ);
	}
	if (ct) {
		unsigned long status = ct->status;

		bpf_ct_release(ct);
		if (status & IPS_CONFIRMED) {
			if (fl) {
				__builtin_memcpy(fl->tuple, &tup, sizeof(fl->tuple));
				fl->family = p->family;
				fl->tick = p->now;
			}
			return FG_R_PASS;
		}
	}
	/* no connection (or one SYNPROXY has not confirmed yet): only a handshake gets in */
	if (syn)
		return fg_sp_syn(ctx, p, h, flags & FG_SP_MONITOR, hz);
	if ((tcpf & (FG_TCP_SYN | FG_TCP_ACK | FG_TCP_RST)) != FG_TCP_ACK)
		return FG_R_SP_REFUSED;
	if (p->family == FG_FAM_IPV4 ? bpf_tcp_raw_check_syncookie_ipv4(&h->ip4, &h->th)
				     : bpf_tcp_raw_check_syncookie_ipv6(&h->ip6, &h->th))
		return FG_R_SP_REFUSED;
	return fg_sp_fresh(ctx, p, h, hz) ? FG_R_SP_COOKIE : FG_R_SP_EXPIRED;
}

#endif /* FG_SYNPROXY_H */
