// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * bench_drop.bpf.c: the benchmark's baseline, a bare XDP_DROP. `make bench`
 * compares floodgate's per-packet cost and live drop rate with it.
 * xdp.frags so that it is tail-call compatible with floodgate's program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp.frags")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
