/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * parse.h: the packet parser of the XDP program (BPF side only).
 *
 * One header cursor, one parse step per protocol, a bounds check before
 * every read. fg_parse() returns FG_R_PASS for an IP packet that goes on
 * to the lists and rules, or the reason that decides it now: FG_R_NON_IP
 * and FG_R_ND pass, every malformed case drops under its own reason. The
 * rules it follows are DESIGN.md's "Parser rules".
 */
#ifndef FG_PARSE_H
#define FG_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "floodgate.h"

#define FG_IP4_FRAG_OFFSET 0x1fff /* fragment offset bits of frag_off */
#define FG_IP6_FRAG_OFFSET 0xfff8 /* fragment offset bits of the fragment header */
#define FG_IP6_FRAG_MORE   0x0001 /* its M flag: more fragments follow */
#define FG_ND_FIRST	   133	  /* ICMPv6 router solicitation: first neighbour discovery type */
#define FG_ND_LAST	   137	  /* ICMPv6 redirect: last neighbour discovery type */

/* What the parser tells the rest of the program. */
struct fg_pkt {
	union {
		__u8 addr[16];	 /* source address, network order; IPv4 in the first 4 bytes */
		__u64 addr64[2]; /* the same, written as two words: 8-byte reads of it forward */
	};
	__u64 now;	 /* tick the packet is handled at (set after parsing) */
	__u32 len;	 /* whole frame length in bytes */
	__u16 dport;	 /* destination port, host order (valid when has_ports) */
	__u8 family;	 /* enum fg_family */
	__u8 proto;	 /* L4 protocol (IPPROTO_*), 0 when unknown */
	__u8 has_ports;	 /* 1 for TCP/UDP in an unfragmented packet or first fragment */
	__u8 syn;	 /* 1 for a TCP SYN without ACK */
	__u8 also_count; /* a counter to bump besides the verdict's (FG_C_FRAGMENT, ...), or 0 */
	__u8 first_frag; /* 1: IPv6, the first fragment of more (IPv4 says so in its header) */
	__u16 l3;	 /* offset of the IP header in the frame */
	__u16 l4;	 /* offset of the TCP or UDP header (valid when has_ports) */
};

/*
 * The source address goes into fg_pkt in two 8-byte stores: the data
 * path reads it in 8-byte words (fg_copy_addr), and a load that spans
 * several smaller stores still in flight waits for them to retire (a
 * failed store forward, a dozen cycles per packet).
 */
static __always_inline void fg_addr4(struct fg_pkt *p, __be32 saddr)
{
	/* the address's bytes first in memory: a constant test, folded by the compiler */
	p->addr64[0] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? (__u64)saddr : (__u64)saddr << 32;
	p->addr64[1] = 0;
}

/*
 * From the address's four 32-bit words, as the IPv4 source is read: a
 * copy through a void pointer, whose alignment clang cannot know, is
 * sixteen byte loads and their shifts and ors. (In the frame the header
 * may sit at a 2-byte boundary: the verifier allows such packet loads
 * where the CPU does them well, and enforces strict alignment elsewhere.)
 */
static __always_inline void fg_addr6(struct fg_pkt *p, const struct in6_addr *saddr)
{
	const __u32 *w = saddr->in6_u.u6_addr32;

	p->addr64[0] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? (__u64)w[1] << 32 | w[0]
								 : (__u64)w[0] << 32 | w[1];
	p->addr64[1] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? (__u64)w[3] << 32 | w[2]
								 : (__u64)w[2] << 32 | w[3];
}

/* The header cursor: where the next header starts. */
struct fg_cursor {
	void *pos;	    /* next unread byte */
	void *end;	    /* end of the linear data */
	void *start;	    /* first byte of the frame */
	struct xdp_md *ctx; /* the frame, for bpf_xdp_get_buff_len */
};

/*
 * Bytes from `at` to the end of the frame. The linear data answers
 * unless `need` goes past it; only then is the whole (multi-buffer) frame
 * measured, and p->len becomes its length.
 */
static __always_inline __u32 fg_frame_from(struct fg_cursor *c, struct fg_pkt *p, const void *at,
					   __u32 need)
{
	__u32 off = at - c->start, linear = c->end - at;

	if (need <= linear)
		return linear;
	p->len = bpf_xdp_get_buff_len(c->ctx);
	return p->len > off ? p->len - off : 0;
}

struct fg_vlan_hdr {
	__be16 tci;   /* priority, DEI, VLAN id */
	__be16 proto; /* encapsulated ethertype */
};

/* Ethernet and up to FG_VLAN_MAX tags. Returns the ethertype (network order) or -reason. */
static __always_inline int fg_parse_eth(struct fg_cursor *c)
{
	struct ethhdr *eth = c->pos;
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return -FG_R_TRUNC_ETH;
	c->pos = eth + 1;
	/* one 16-bit load: struct ethhdr is packed, so eth->h_proto would be two byte loads */
	proto = *(__be16 *)((void *)eth + offsetof(struct ethhdr, h_proto));
#pragma unroll
	for (i = 0; i <= FG_VLAN_MAX; i++) {
		struct fg_vlan_hdr *vh = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			return proto;
		if (i == FG_VLAN_MAX)
			return -FG_R_VLAN_DEPTH;
		if ((void *)(vh + 1) > c->end)
			return -FG_R_TRUNC_VLAN;
		c->pos = vh + 1;
		proto = vh->proto;
	}
	return -FG_R_VLAN_DEPTH; /* not reached */
}

/*
 * L4 of an unfragmented packet or first fragment. l4len is what the IP
 * header says the L4 part holds. Returns FG_R_PASS or the drop reason.
 */
static __always_inline int fg_parse_l4(struct fg_cursor *c, struct fg_pkt *p, __u32 l4len)
{
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;

		if (l4len < sizeof(*th) || (void *)(th + 1) > c->end)
			return FG_R_TRUNC_L4;
		if (th->doff < 5 || (__u32)th->doff * 4 > l4len)
			return FG_R_TCP_DOFF;
		p->dport = bpf_ntohs(th->dest);
		p->has_ports = 1;
		p->syn = th->syn && !th->ack;
		p->l4 = (void *)th - c->start;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;

		if (l4len < sizeof(*uh) || (void *)(uh + 1) > c->end)
			return FG_R_TRUNC_L4;
		p->dport = bpf_ntohs(uh->dest);
		p->has_ports = 1;
	}
	return FG_R_PASS;
}

/* IPv4 header, checked against the whole frame. */
static __always_inline int fg_parse_ip4(struct fg_cursor *c, struct fg_pkt *p)
{
	struct iphdr *iph = c->pos;
	__u32 hlen, tot, frame;

	if ((void *)(iph + 1) > c->end)
		return FG_R_TRUNC_IP4;
	if (iph->version != 4)
		return FG_R_IP4_VERSION;
	if (iph->ihl < 5)
		return FG_R_IP4_IHL;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	frame = fg_frame_from(c, p, iph, tot);
	if (tot < hlen || tot > frame)
		return FG_R_IP4_TOTLEN;
	p->family = FG_FAM_IPV4;
	p->l3 = (void *)iph - c->start;
	fg_addr4(p, iph->saddr);
	p->proto = iph->protocol;
	if (iph->frag_off & bpf_htons(FG_IP4_FRAG_OFFSET)) {
		p->also_count = FG_C_FRAGMENT;
		return FG_R_PASS; /* non-first fragment: no ports */
	}
	c->pos = (void *)iph + hlen;
	return fg_parse_l4(c, p, tot - hlen);
}

static __always_inline int fg_ip6_is_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_FRAGMENT ||
	       nh == IPPROTO_DSTOPTS || nh == IPPROTO_AH;
}

struct fg_ip6_ext {
	__u8 nexthdr; /* next header */
	__u8 hdrlen;  /* length, in units that depend on the header */
	__be16 frag;  /* fragment header: offset and flags */
	__u32 rest;   /* identification or options */
};

/*
 * What follows the IPv6 header chain: neighbour discovery, or ports. Only
 * what could be neighbour discovery passes as FG_R_ND, before the lists:
 * ICMPv6 types 133-137 with code 0, hop limit 255 (RFC 4861: a node
 * drops anything else, and a routed packet cannot arrive with 255, so it
 * came from the link itself) and no extension header in front (direct;
 * neighbour discovery carries none). Anything else of those types takes
 * the normal path: lists, bans and limits, as any ICMPv6 message does.
 */
static __always_inline int fg_parse_ip6_l4(struct fg_cursor *c, struct fg_pkt *p, __u32 left,
					   __u8 nh, __u8 hlim, int direct)
{
	p->proto = nh;
	if (nh == IPPROTO_ICMPV6) {
		__u8 *type = c->pos; /* icmp6_type, then icmp6_code */

		if (left < 2 || (void *)(type + 2) > c->end)
			return FG_R_PASS;
		if (*type >= FG_ND_FIRST && *type <= FG_ND_LAST && !type[1] && hlim == 255 && direct)
			return FG_R_ND;
		return FG_R_PASS;
	}
	return fg_parse_l4(c, p, left);
}

/*
 * The IPv6 extension chain from `off` (`left` payload bytes to go, first
 * header `nh`) and the L4 header after it. A global function: the
 * verifier walks the chain once, apart from the rest of the program, and
 * packets without extension headers never call it.
 */
__noinline int fg_parse_ip6_ext(struct xdp_md *ctx, struct fg_pkt *p, __u32 off, __u32 left, __u32 nh)
{
	struct fg_cursor c = {
		.start = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
		.ctx = ctx,
	};
	int i;

	/* not reached (the chain starts within 62 bytes), but the verifier needs a bound */
	if (!p || off > 256)
		return FG_R_TRUNC_EXT;
	c.pos = c.start + off;
#pragma unroll
	for (i = 0; i < FG_IP6_EXT_MAX; i++) {
		struct fg_ip6_ext *ext = c.pos;
		__u32 elen;

		if (!fg_ip6_is_ext(nh))
			break;
		if (left < sizeof(*ext) || (void *)(ext + 1) > c.end)
			return FG_R_TRUNC_EXT;
		if (nh == IPPROTO_FRAGMENT) {
			elen = 8;
			if (ext->frag & bpf_htons(FG_IP6_FRAG_OFFSET)) {
				p->proto = ext->nexthdr;
				p->also_count = FG_C_FRAGMENT;
				return FG_R_PASS; /* non-first fragment: no ports */
			}
			p->first_frag = !!(ext->frag & bpf_htons(FG_IP6_FRAG_MORE));
		} else if (nh == IPPROTO_AH) {
			elen = ((__u32)ext->hdrlen + 2) * 4;
		} else {
			elen = ((__u32)ext->hdrlen + 1) * 8;
		}
		if (elen > left)
			return FG_R_TRUNC_EXT;
		nh = ext->nexthdr;
		left -= elen;
		c.pos += elen;
	}
	if (fg_ip6_is_ext(nh)) {
		p->proto = 0; /* chain too long: charged to the source without ports */
		p->also_count = FG_C_IP6_LONG_CHAIN;
		return FG_R_PASS;
	}
	return fg_parse_ip6_l4(&c, p, left, nh, 0, 0); /* behind extension headers: not ND */
}

/* IPv6 header, checked against the whole frame, then its chain or L4 header. */
static __always_inline int fg_parse_ip6(struct fg_cursor *c, struct fg_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;
	__u32 plen, frame;
	__u8 nh;

	if ((void *)(ip6 + 1) > c->end)
		return FG_R_TRUNC_IP6;
	if (ip6->version != 6)
		return FG_R_IP6_VERSION;
	plen = bpf_ntohs(ip6->payload_len);
	nh = ip6->nexthdr;
	if (plen == 0 && nh == IPPROTO_HOPOPTS) {
		/* jumbogram: the frame says how long */
		frame = fg_frame_from(c, p, ip6, 0xffffffff);
		plen = frame - sizeof(*ip6);
	} else if (plen + sizeof(*ip6) > fg_frame_from(c, p, ip6, plen + sizeof(*ip6))) {
		return FG_R_IP6_PAYLEN;
	}
	p->family = FG_FAM_IPV6;
	p->l3 = (void *)ip6 - c->start;
	fg_addr6(p, &ip6->saddr);
	c->pos = ip6 + 1;
	if (fg_ip6_is_ext(nh))
		return fg_parse_ip6_ext(c->ctx, p, c->pos - c->start, plen, nh);
	return fg_parse_ip6_l4(c, p, plen, nh, ip6->hop_limit, 1);
}

/*
 * Parse a frame into p. Returns FG_R_PASS for an IP packet that goes on
 * to the lists and rules, else the reason that decides it now. p->len is
 * the linear length, or the whole frame's when an IP packet continues
 * into further buffers.
 */
static __always_inline int fg_parse(struct xdp_md *ctx, struct fg_pkt *p)
{
	struct fg_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
		.start = (void *)(long)ctx->data,
		.ctx = ctx,
	};
	int proto;

	p->len = c.end - c.start;
	proto = fg_parse_eth(&c);
	if (proto < 0)
		return -proto;
	if (proto == bpf_htons(ETH_P_IP))
		return fg_parse_ip4(&c, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return fg_parse_ip6(&c, p);
	return FG_R_NON_IP;
}

#endif /* FG_PARSE_H */
