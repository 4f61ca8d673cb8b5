// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * frame.c: the generator's template frame and its source rewrite, and the
 * checks that keep every address it sends inside the lab's ranges
 * (198.18.0.0/15, 2001:db8::/32).
 *
 * The rewrite here is the userspace twin of rewrite() in
 * bpf/trafgen.bpf.c: both write the source word and make the checksums
 * whole from the same partial sums, so every method sends identical
 * frames (test: lab.test.sh counts them at the receiver, where a wrong
 * checksum would land in InCsumErrors).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/in.h>

#include "util.h"
#include "tg.h"
#include "trafgen.skel.h"

#define TG_ETH 14
#define TG_IP4 20
#define TG_IP6 40
#define TG_UDP 8
#define TG_TCP 20

int tg_parse_mac(const char *what, const char *s, __u8 mac[6])
{
	const char *p = s;
	unsigned long b;
	char *end;
	int i;

	for (i = 0; i < 6; i++) {
		errno = 0;
		b = strtoul(p, &end, 16);
		if (errno || end == p || end - p > 2 || b > 255 || *end != (i < 5 ? ':' : '\0'))
			return error("%s: '%s' is not a MAC address", what, s);
		mac[i] = b;
		p = end + 1;
	}
	return 0;
}

/* Parse an address of the lab's ranges; family 0 accepts both. Returns the family or -1. */
int tg_parse_lab_addr(const char *what, const char *s, int family, __u8 out[16])
{
	static const __u8 v6pfx[4] = { 0x20, 0x01, 0x0d, 0xb8 };

	memset(out, 0, 16);
	if (family != 6 && inet_pton(AF_INET, s, out) == 1) {
		if (out[0] != 198 || (out[1] & 0xfe) != 18)
			return error("%s: %s is outside 198.18.0.0/15", what, s);
		return 4;
	}
	if (family != 4 && inet_pton(AF_INET6, s, out) == 1) {
		if (memcmp(out, v6pfx, 4))
			return error("%s: %s is outside 2001:db8::/32", what, s);
		return 6;
	}
	return error("%s: '%s' is not an IPv%s address", what, s,
		     family == 4   ? "4"
		     : family == 6 ? "6"
				   : "4 or IPv6");
}

static __u32 word_at(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Sum of big-endian 16-bit words (odd length: last byte padded with zero). */
static __u32 sum16(const __u8 *p, size_t len)
{
	__u32 s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (__u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (__u32)p[len - 1] << 8;
	return s;
}

static __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checks the source range of a spec: base .. base + nsrc - 1 inside the lab range. */
int tg_check_sources(const struct tg_spec *sp)
{
	__u64 first = word_at(sp->base + (sp->family == 4 ? 0 : 4)), last = first + sp->nsrc - 1;

	if (sp->family == 4 && (last >> 17) != (0xc6120000U >> 17))
		return error("sources: %u sources from the base run past 198.19.255.255", sp->nsrc);
	if (sp->family == 6 && last > 0xffffffffULL)
		return error("sources: %u sources from the base run past 2001:db8:ffff:ffff::",
			     sp->nsrc);
	return 0;
}

/* Build the template frame and its partial sums. The frame's source word is left zero. */
void tg_build_frame(const struct tg_spec *sp, struct tg_frame *f)
{
	size_t l3 = TG_ETH, l4 = l3 + (sp->family == 4 ? TG_IP4 : TG_IP6);
	size_t l4len = sp->syn ? TG_TCP : 0, size, iplen;
	__u8 proto = sp->syn ? IPPROTO_TCP : IPPROTO_UDP;
	__u8 pseudo[40], *d = f->data;
	__u32 l4sum;

	memset(f, 0, sizeof(*f));
	size = sp->syn ? l4 + TG_TCP : sp->size;
	if (!sp->syn) {
		if (size < l4 + TG_UDP)
			size = l4 + TG_UDP;
		l4len = size - l4;
	}
	if (size < 60)
		size = 60; /* Ethernet minimum; a SYN's IP length stays 40/60, the rest is padding */
	memcpy(d, sp->dmac, 6);
	memcpy(d + 6, sp->smac, 6);
	iplen = l4 - l3 + l4len;
	if (sp->family == 4) {
		d[12] = 0x08, d[13] = 0x00;
		d[l3] = 0x45;
		d[l3 + 2] = iplen >> 8, d[l3 + 3] = iplen & 0xff;
		d[l3 + 6] = 0x40; /* DF */
		d[l3 + 8] = 64;
		d[l3 + 9] = proto;
		memcpy(d + l3 + 16, sp->dst, 4);
		f->ip_sum = sum16(d + l3, TG_IP4); /* checksum and source still zero */
		memset(pseudo, 0, sizeof(pseudo));
		memcpy(pseudo + 4, sp->dst, 4);
		pseudo[9] = proto;
		pseudo[10] = l4len >> 8, pseudo[11] = l4len & 0xff;
		l4sum = sum16(pseudo, 12);
	} else {
		d[12] = 0x86, d[13] = 0xdd;
		d[l3] = 0x60;
		d[l3 + 4] = l4len >> 8, d[l3 + 5] = l4len & 0xff;
		d[l3 + 6] = proto;
		d[l3 + 7] = 64;
		memcpy(d + l3 + 8, sp->base, 16);
		memset(d + l3 + 8 + 4, 0, 4); /* the varied word */
		memcpy(d + l3 + 24, sp->dst, 16);
		memcpy(pseudo, d + l3 + 8, 32);
		l4sum = sum16(pseudo, 32) + l4len + proto;
	}
	d[l4] = sp->sport >> 8, d[l4 + 1] = sp->sport & 0xff;
	d[l4 + 2] = sp->dport >> 8, d[l4 + 3] = sp->dport & 0xff;
	if (sp->syn) {
		d[l4 + 4] = 0x5e, d[l4 + 5] = 0xed;   /* sequence number */
		d[l4 + 12] = 0x50;		      /* data offset 5 */
		d[l4 + 13] = 0x02;		      /* SYN */
		d[l4 + 14] = 0xfa, d[l4 + 15] = 0xf0; /* window 64240 */
		f->l4_check = l4 + 16;
	} else {
		d[l4 + 4] = l4len >> 8, d[l4 + 5] = l4len & 0xff;
		f->l4_check = l4 + 6;
		f->udp = true;
	}
	f->l4_sum = l4sum + sum16(d + l4, l4len);
	f->ipv6 = sp->family == 6;
	f->size = size;
	f->nsrc = sp->nsrc;
	f->random = sp->random;
	f->base = word_at(sp->base + (sp->family == 4 ? 0 : 4));
}

/* The template's constants into a generator skeleton opened but not loaded yet. */
void tg_set_rodata(const struct tg_frame *f, struct trafgen *skel)
{
	struct trafgen__rodata *ro = skel->rodata;

	ro->tg_ip_sum = f->ip_sum;
	ro->tg_l4_sum = f->l4_sum;
	ro->tg_l4_check = f->l4_check;
	ro->tg_udp = f->udp;
	ro->tg_ipv6 = f->ipv6;
	ro->tg_nsrc = f->nsrc;
	ro->tg_random = f->random;
	ro->tg_base = f->base;
	ro->tg_size = f->size;
}

/* Write source `index` and the checksums into data, a copy of the template. */
void tg_write_source(const struct tg_frame *f, __u8 *data, __u32 index)
{
	__u32 src = f->base + index;
	__u16 hi = src >> 16, lo = src & 0xffff, c;

	data[TG_SRC_OFF] = src >> 24, data[TG_SRC_OFF + 1] = src >> 16;
	data[TG_SRC_OFF + 2] = src >> 8, data[TG_SRC_OFF + 3] = src;
	if (!f->ipv6) {
		c = csum_fold(f->ip_sum + hi + lo);
		data[TG_IP4_CHECK] = c >> 8, data[TG_IP4_CHECK + 1] = c & 0xff;
	}
	c = csum_fold(f->l4_sum + hi + lo);
	if (f->udp && !c)
		c = 0xffff;
	data[f->l4_check] = c >> 8, data[f->l4_check + 1] = c & 0xff;
}

/*
 * Source index of the frame-th frame of a send: sequential (frame mod
 * sources, so any split of the frame numbers between threads sends each
 * source the same number of times), or random from the caller's xorshift
 * state.
 */
__u32 tg_source_index(const struct tg_frame *f, __u64 frame, __u64 *rng)
{
	__u64 x;

	if (!f->random)
		return frame % f->nsrc;
	x = *rng;
	x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	*rng = x;
	return (x >> 16) % f->nsrc;
}
