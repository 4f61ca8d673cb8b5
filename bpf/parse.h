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
#define FG_ND_FIRST	   133	  /* ICMPv6 router solicitation: first neighbour discovery type */
#define FG_ND_LAST	   137	  /* ICMPv6 redirect: last neighbour discovery type */

/* What the parser tells the rest of the program. */
struct fg_pkt {
	__u8 addr[16];	/* source address, network order; IPv4 in the first 4 bytes */
	__u64 now;	/* tick the packet is handled at (set after parsing) */
	__u32 len;	/* whole frame length in bytes */
	__u16 dport;	/* destination port, host order (valid when has_ports) */
	__u8 family;	/* enum fg_family */
	__u8 proto;	/* L4 protocol (IPPROTO_*), 0 when unknown */
	__u8 has_ports; /* 1 for TCP/UDP in an unfragmented packet or first fragment */
	__u8 syn;	/* 1 for a TCP SYN without ACK */
	__u8 note;	/* informational counter to bump (FG_C_FRAGMENT, ...), 0 for none */
	__u8 pad;	/* zero */
};

/* The header cursor: where the next header starts. */
struct fg_cursor {
	void *pos; /* next unread byte */
	void *end; /* end of the linear data */
};

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
	proto = eth->h_proto;
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
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;

		if (l4len < sizeof(*uh) || (void *)(uh + 1) > c->end)
			return FG_R_TRUNC_L4;
		p->dport = bpf_ntohs(uh->dest);
		p->has_ports = 1;
	}
	return FG_R_PASS;
}

/* IPv4 header; frame is the bytes from the IP header to the end of the whole frame. */
static __always_inline int fg_parse_ip4(struct fg_cursor *c, struct fg_pkt *p, __u32 frame)
{
	struct iphdr *iph = c->pos;
	__u32 hlen, tot;

	if ((void *)(iph + 1) > c->end)
		return FG_R_TRUNC_IP4;
	if (iph->version != 4)
		return FG_R_IP4_VERSION;
	if (iph->ihl < 5)
		return FG_R_IP4_IHL;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hlen || tot > frame)
		return FG_R_IP4_TOTLEN;
	p->family = FG_FAM_IPV4;
	__builtin_memcpy(p->addr, &iph->saddr, 4);
	p->proto = iph->protocol;
	if (iph->frag_off & bpf_htons(FG_IP4_FRAG_OFFSET)) {
		p->note = FG_C_FRAGMENT;
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

/* IPv6 header and its extension chain; frame as for fg_parse_ip4. */
static __always_inline int fg_parse_ip6(struct fg_cursor *c, struct fg_pkt *p, __u32 frame)
{
	struct ipv6hdr *ip6 = c->pos;
	__u32 plen, left;
	__u8 nh;
	int i;

	if ((void *)(ip6 + 1) > c->end)
		return FG_R_TRUNC_IP6;
	if (ip6->version != 6)
		return FG_R_IP6_VERSION;
	plen = bpf_ntohs(ip6->payload_len);
	nh = ip6->nexthdr;
	if (plen == 0 && nh == IPPROTO_HOPOPTS)
		plen = frame - sizeof(*ip6); /* jumbogram: the frame says how long */
	else if (plen + sizeof(*ip6) > frame)
		return FG_R_IP6_PAYLEN;
	p->family = FG_FAM_IPV6;
	__builtin_memcpy(p->addr, &ip6->saddr, 16);
	c->pos = ip6 + 1;
	left = plen;
#pragma unroll
	for (i = 0; i < FG_IP6_EXT_MAX; i++) {
		struct fg_ip6_ext *ext = c->pos;
		__u32 elen;

		if (!fg_ip6_is_ext(nh))
			break;
		if (left < sizeof(*ext) || (void *)(ext + 1) > c->end)
			return FG_R_TRUNC_EXT;
		if (nh == IPPROTO_FRAGMENT) {
			elen = 8;
			if (ext->frag & bpf_htons(FG_IP6_FRAG_OFFSET)) {
				p->proto = ext->nexthdr;
				p->note = FG_C_FRAGMENT;
				return FG_R_PASS; /* non-first fragment: no ports */
			}
		} else if (nh == IPPROTO_AH) {
			elen = ((__u32)ext->hdrlen + 2) * 4;
		} else {
			elen = ((__u32)ext->hdrlen + 1) * 8;
		}
		if (elen > left)
			return FG_R_TRUNC_EXT;
		nh = ext->nexthdr;
		left -= elen;
		c->pos += elen;
	}
	p->proto = nh;
	if (fg_ip6_is_ext(nh)) {
		p->proto = 0; /* chain too long: charged to the source without ports */
		p->note = FG_C_IP6_LONG_CHAIN;
		return FG_R_PASS;
	}
	if (nh == IPPROTO_ICMPV6) {
		struct icmp6hdr *ic = c->pos;

		if (left >= 1 && (void *)ic + 1 <= c->end && ic->icmp6_type >= FG_ND_FIRST &&
		    ic->icmp6_type <= FG_ND_LAST)
			return FG_R_ND;
		return FG_R_PASS;
	}
	return fg_parse_l4(c, p, left);
}

/*
 * Parse a frame. len is the whole frame (bpf_xdp_get_buff_len), which
 * may be longer than the linear data for multi-buffer frames. A global
 * function: the verifier checks it once, apart from the rest of the
 * program, instead of once per path through the header chain.
 */
__noinline int fg_parse(struct xdp_md *ctx, struct fg_pkt *p, __u32 len)
{
	struct fg_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__u32 off;
	int proto;

	if (!p)
		return FG_R_TRUNC_ETH; /* not reached: the verifier wants global function pointers checked */
	p->len = len;
	proto = fg_parse_eth(&c);
	if (proto < 0)
		return -proto;
	off = c.pos - (void *)(long)ctx->data;
	if (off > len)
		return FG_R_TRUNC_ETH; /* not reached: the linear data is part of the frame */
	if (proto == bpf_htons(ETH_P_IP))
		return fg_parse_ip4(&c, p, len - off);
	if (proto == bpf_htons(ETH_P_IPV6))
		return fg_parse_ip6(&c, p, len - off);
	return FG_R_NON_IP;
}

#endif /* FG_PARSE_H */
