// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * trafgen.bpf.c: the traffic generator's XDP programs (tests/trafgen/).
 *
 * Userspace builds one template frame (Ethernet, IPv4 or IPv6, UDP or TCP
 * SYN, no VLAN). Every program here writes the next source address into
 * it and fixes the checksums, then:
 *
 *   trafgen_tx     returns XDP_TX: run with BPF_PROG_RUN live frames, the
 *                  kernel transmits each run out of the lab veth (kernels
 *                  that allow live frames only);
 *   trafgen_loop   the devmap broadcast loop: attached to one end of a
 *                  helper veth pair, it redirects each frame to both the
 *                  pair's other end (so the frame comes back, and round it
 *                  goes) and the lab veth (one copy out per bounce);
 *   trafgen_chain  tail-calls the program under test: the per-packet cost
 *                  benchmark (trafgen cost);
 *   trafgen_sink   on a lab client's veth: drops the frames addressed to
 *                  the lab's spoofed sources, passes the rest.
 *
 * The varied part of the source address is one 32-bit big-endian word at
 * frame offset 26 in both families: the whole IPv4 source address, or
 * bytes 4..7 of the IPv6 source (so every IPv6 source is its own /64,
 * floodgate's default per-source prefix). Checksums are written whole
 * from a partial sum userspace computed over every other word, never
 * updated incrementally, because live-frames mode and the loop reuse
 * frames without restoring their data.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "trafgen.h"

const volatile __u32 tg_nsrc = 1;     /* distinct sources, at least 1 */
const volatile __u32 tg_base = 0;     /* first source word, host order */
const volatile __u8 tg_random = 0;    /* 1: a random source per frame, 0: sequential */
const volatile __u8 tg_ipv6 = 0;      /* 1: IPv6 frame (no IP header checksum) */
const volatile __u16 tg_l4_check = 0; /* frame offset of the UDP/TCP checksum */
const volatile __u32 tg_ip_sum = 0;   /* IPv4 header word sum without the source (unfolded) */
const volatile __u32 tg_l4_sum = 0;   /* L4 and pseudo-header word sum without the varied word */
const volatile __u8 tg_udp = 0;	      /* 1: UDP (a computed 0 checksum is sent as 0xffff) */
const volatile __u32 tg_ifindex = 0;  /* the runs' ingress_ifindex; other packets pass untouched */
const volatile __u8 tg_probe = 0;     /* 1: trafgen_tx drops instead (probing for live frames) */
const volatile __u16 tg_size = 0;     /* template frame length: the loop takes nothing else */
const volatile __u8 tg_restore = 0;   /* 1: trafgen_chain writes tg_tmpl back whole first */
const volatile __u8 tg_tmpl[TG_RESTORE_MAX] = {}; /* the template, for tg_restore */

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

/* The loop's two ports: 0 = the helper veth that sends the frame round again, 1 = the lab veth. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} tg_ports SEC(".maps");

/* One loop per CPU, each with a slot of its own (headers/trafgen.h). */
struct tg_loop_cpu tg_loop[TG_MAX_CPUS] SEC(".bss");
volatile __u32 tg_stop SEC(".bss"); /* 1: every loop frame ends at its next bounce */

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

/* Write source index i and the checksums; 0, or -1 when the frame is too short. */
static __always_inline int rewrite(struct xdp_md *ctx, __u32 i)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 src = tg_base + i;
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
	if (tg_probe)
		return XDP_DROP;
	if (rewrite(ctx, next_index()))
		return XDP_ABORTED;
	n = bpf_map_lookup_elem(&tg_sent, &zero);
	if (n)
		(*n)++;
	return XDP_TX;
}

/*
 * The loop: every bounce sends one copy of the frame, with the next
 * source, out of the lab veth, and the frame itself round the helper pair
 * again. Userspace seeds each CPU's loop with a few frames (marked, so the
 * slot counts them) from a thread on that CPU; a veth hands a frame
 * redirected to it to its peer's queue of the sending CPU, so a loop
 * stays on its CPU. A frame ends when its CPU has used what userspace
 * granted, or at tg_stop: userspace paces the loop by raising `granted`
 * and seeding again once every frame has ended (seeds == ended). Frames
 * that are not the template's length or type never enter the loop.
 */
SEC("xdp")
int trafgen_loop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 cpu = bpf_get_smp_processor_id(), i;
	__u16 mark = tg_ipv6 ? TG_MARK6_OFF : TG_MARK4_OFF;
	struct tg_loop_cpu *lc;
	__u8 *m;

	if (cpu >= TG_MAX_CPUS || ctx->data_end - ctx->data != tg_size ||
	    data + TG_MARK4_OFF + 1 > end)
		return XDP_DROP;
	lc = &tg_loop[cpu];
	m = data + mark;
	if (*m == TG_SEED_MARK) {
		*m = 0;
		lc->seeds++;
	}
	if (tg_stop || lc->used >= lc->granted) {
		lc->ended++;
		return XDP_DROP;
	}
	if (tg_random) {
		i = bpf_get_prandom_u32() % tg_nsrc;
	} else {
		i = lc->next;
		lc->next = i + lc->stride >= tg_nsrc ? (i + lc->stride) % tg_nsrc : i + lc->stride;
	}
	if (rewrite(ctx, i)) {
		lc->ended++;
		return XDP_DROP;
	}
	lc->used++;
	return (int)bpf_redirect_map(&tg_ports, 0, BPF_F_BROADCAST);
}

SEC("xdp.frags")
int trafgen_chain(struct xdp_md *ctx)
{
	__u32 n = tg_size;

	if (ctx->ingress_ifindex != tg_ifindex)
		return XDP_PASS;
	/*
	 * BPF_PROG_TEST_RUN runs every repetition on the same buffer: a target
	 * that answered the last frame in place (a SYN proxy's SYN-ACK, shorter
	 * or longer) would meet its own answer, so the template goes back first
	 */
	if (tg_restore) {
		if (n < 60 || n > TG_RESTORE_MAX)
			return XDP_ABORTED;
		if (bpf_xdp_adjust_tail(ctx, (int)n - (int)bpf_xdp_get_buff_len(ctx)) ||
		    bpf_xdp_store_bytes(ctx, 0, (void *)tg_tmpl, n))
			return XDP_ABORTED;
	}
	if (rewrite(ctx, next_index()))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &tg_next, 0);
	return XDP_DROP;
}

/*
 * A lab client's veth program (tests/lab.sh server_lab_up). Replies to a
 * flood's spoofed sources (198.19.0.0/16, 2001:db8:1::/48, the ranges the
 * lab's floods use) come back to the client's namespace, which owns no
 * such address: without this its stack would build an skb, look up a
 * route and drop each one, on the CPUs the server and wrk share, where on
 * a real network they leave for the internet. Everything else passes, and
 * a veth needs some XDP program on the peer of one that sends XDP_TX.
 */
SEC("xdp.frags")
int trafgen_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) <= end &&
		    (ip->daddr & bpf_htonl(0xffff0000)) == bpf_htonl(0xc6130000))
			return XDP_DROP;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) <= end && ip6->daddr.s6_addr32[0] == bpf_htonl(0x20010db8) &&
		    (ip6->daddr.s6_addr32[1] & bpf_htonl(0xffff0000)) == bpf_htonl(0x00010000))
			return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
