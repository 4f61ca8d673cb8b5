// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * bench_naive.bpf.c: the benchmark's naive per-source limiter, the least
 * any per-source limiter does: one LRU hash keyed by the source address,
 * one GCRA limit with compare-and-swap, the jiffies clock. No lists, no
 * rules, no bans, no VLANs, no IPv6 extension headers, no counters. `make
 * bench` compares floodgate's per-packet cost and live drop rate with it
 * (and with bench_drop.bpf.c, a bare XDP_DROP). It is the bench's own
 * program, not a copy of floodgate's data path.
 *
 * A limit of nb_rate packets per second and a burst of nb_burst: the
 * theoretical arrival time is kept in units of 1 / (rate * HZ) s, so a
 * packet costs HZ units and now is jiffies * rate (exact integers).
 * xdp.frags so that it is tail-call compatible with the cost harness.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u64 nb_hz = 250;  /* jiffies per second (the kernel's HZ) */
const volatile __u64 nb_rate = 1;  /* packets per second per source */
const volatile __u64 nb_burst = 1; /* packets */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 20);
	__type(key, __u8[16]); /* source address; IPv4 in the first 4 bytes */
	__type(value, __u64);  /* theoretical arrival time (units of 1 / (rate * HZ) s) */
} nb_sources SEC(".maps");

SEC("xdp.frags")
int bench_naive(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 key[16] = {};
	__u64 now, *tat, old, t, fresh;
	int i;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			return XDP_DROP;
		__builtin_memcpy(key, &ip->saddr, 4);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return XDP_DROP;
		__builtin_memcpy(key, &ip6->saddr, 16);
	} else {
		return XDP_PASS;
	}
	now = bpf_jiffies64() * nb_rate;
	tat = bpf_map_lookup_elem(&nb_sources, key);
	if (!tat) {
		fresh = now + nb_hz; /* a new source: a full bucket, this packet taken */
		bpf_map_update_elem(&nb_sources, key, &fresh, BPF_NOEXIST);
		return XDP_PASS;
	}
	for (i = 0; i < 4; i++) {
		old = *(volatile __u64 *)tat;
		t = old > now ? old : now;
		if (t + nb_hz - now > nb_burst * nb_hz)
			return XDP_DROP;
		if (__sync_val_compare_and_swap(tat, old, t + nb_hz) == old)
			return XDP_PASS;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
