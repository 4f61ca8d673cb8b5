/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * trafgen.h: what the lab's traffic generator shares between its XDP
 * programs (bpf/trafgen.bpf.c) and its userspace (tests/trafgen/): the
 * loop's per-CPU slot and the frame offsets both sides write.
 */
#ifndef TRAFGEN_H
#define TRAFGEN_H

#include <linux/types.h>

#define TG_MAX_CPUS    256  /* loop slots: the CPUs a loop can run on */
#define TG_SRC_OFF     26   /* frame offset of the varied source word (IPv4 and IPv6) */
#define TG_IP4_CHECK   24   /* frame offset of the IPv4 header checksum */
#define TG_MARK4_OFF   19   /* seed mark, IPv4: low byte of the identification field */
#define TG_MARK6_OFF   17   /* seed mark, IPv6: low byte of the flow label */
#define TG_SEED_MARK   0xfe /* a seed frame's byte at the mark offset (0 in the template) */
#define TG_RESTORE_MAX 128 /* longest template trafgen_chain writes back whole (cost --proto syn) */

/*
 * One loop's state, a cache line per CPU. `granted` is written by
 * userspace only and the rest by the loop program on that CPU only, so no
 * field needs an atomic operation; userspace reads them through the
 * skeleton's mapping of .bss.
 */
struct tg_loop_cpu {
	__u64 granted; /* copies this CPU may send out in all (userspace raises it to pace) */
	__u64 used;    /* copies sent out of the lab veth */
	__u64 seeds;   /* seed frames that entered the loop */
	__u64 ended;   /* frames that left the loop (nothing granted, stopped, too short) */
	__u32 next;    /* next source index (sequential sources) */
	__u32 stride;  /* source indexes between two frames of this CPU: the number of loops */
	__u64 pad[3];  /* to 64 bytes: no two CPUs write one cache line */
};

#endif /* TRAFGEN_H */
