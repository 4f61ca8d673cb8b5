// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * trafgen.bpf.c: the traffic generator's XDP programs (tests/trafgen.c).
 *
 * Userspace builds one template frame (Ethernet, IPv4 or IPv6, UDP or TCP
 * SYN, no VLAN) and runs these programs over it with BPF_PROG_RUN.
 * Each run writes the next source address into the frame and fixes the
 * checksums, then either transmits the frame (trafgen_tx, XDP_TX in
 * live-frames mode: out of the interface the run names) or hands it to
 * the program under test (trafgen_chain, a tail call, for the per-packet
 * cost benchmark).
 *
 * The varied part of the source address is one 32-bit big-endian word at
 * frame offset 26 in both families: the whole IPv4 source address, or
 * bytes 4..7 of the IPv6 source (so every IPv6 source is its own /64,
 * floodgate's default per-source prefix). Checksums are written whole
 * from a partial sum userspace computed over every other word, never
 * updated incrementally, because live-frames mode recycles frames
 * without restoring their data.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TG_SRC_OFF   26 /* frame offset of the varied source word (IPv4 and IPv6) */
#define TG_IP4_CHECK 24 /* frame offset of the IPv4 header checksum */

const volatile __u32 tg_nsrc = 1;     /* distinct sources, at least 1 */
const volatile __u32 tg_base = 0;     /* first source word, host order */
const volatile __u8 tg_random = 0;    /* 1: a random source per frame, 0: sequential */
const volatile __u8 tg_ipv6 = 0;      /* 1: IPv6 frame (no IP header checksum) */
const volatile __u16 tg_l4_check = 0; /* frame offset of the UDP/TCP checksum */
const volatile __u32 tg_ip_sum = 0;   /* IPv4 header word sum without the source (unfolded) */
const volatile __u32 tg_l4_sum = 0;   /* L4 and pseudo-header word sum without the varied word */
const volatile __u8 tg_udp = 0;	      /* 1: UDP (a computed 0 checksum is sent as 0xffff) */
const volatile __u32 tg_ifindex = 0;  /* the runs' ingress_ifindex; other packets pass untouched */

/* Sequential position, per CPU: one generator thread runs on one CPU per run. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tg_seq SEC(".maps");

/* Frames the generator program returned XDP_TX for, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tg_sent SEC(".maps");

/* The program under test for trafgen_chain, at index 0. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tg_next SEC(".maps");

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline __u32 next_index(void)
{
	__u32 zero = 0, *seq, i;

	if (tg_random)
		return bpf_get_prandom_u32() % tg_nsrc;
	seq = bpf_map_lookup_elem(&tg_seq, &zero);
	if (!seq)
		return 0;
	i = *seq;
	*seq = i + 1 >= tg_nsrc ? 0 : i + 1;
	return i;
}

/* Write the next source and the checksums; 0, or -1 when the frame is too short. */
static __always_inline int rewrite(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 src = tg_base + next_index();
	__u16 hi = src >> 16, lo = src & 0xffff, c;
	__u16 off = tg_l4_check;

	if (data + TG_SRC_OFF + 4 > end)
		return -1;
	*(__be32 *)(data + TG_SRC_OFF) = bpf_htonl(src);
	if (!tg_ipv6)
		*(__be16 *)(data + TG_IP4_CHECK) = bpf_htons(csum_fold(tg_ip_sum + hi + lo));
	if (off > 128)
		return -1;
	if (data + off + 2 > end)
		return -1;
	c = csum_fold(tg_l4_sum + hi + lo);
	if (tg_udp && !c)
		c = 0xffff;
	*(__be16 *)(data + off) = bpf_htons(c);
	return 0;
}

/*
 * Both programs are also attached (generic mode, to the namespace's
 * loopback) while userspace runs them: a program attached somewhere stays
 * in the kernel's XDP dispatcher, and BPF_PROG_RUN then skips the two RCU
 * grace periods (about 25 ms each here) it otherwise waits for on every
 * run to add and remove it. Real packets seen there pass untouched.
 * xdp.frags because loopback's MTU is above what a non-frags program may
 * be attached to, and because a tail call needs the frags flag of its
 * target (floodgate's program).
 */
SEC("xdp.frags")
int trafgen_tx(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n;

	if (ctx->ingress_ifindex != tg_ifindex)
		return XDP_PASS;
	if (rewrite(ctx))
		return XDP_ABORTED;
	n = bpf_map_lookup_elem(&tg_sent, &zero);
	if (n)
		(*n)++;
	return XDP_TX;
}

SEC("xdp.frags")
int trafgen_chain(struct xdp_md *ctx)
{
	if (ctx->ingress_ifindex != tg_ifindex)
		return XDP_PASS;
	if (rewrite(ctx))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &tg_next, 0);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
