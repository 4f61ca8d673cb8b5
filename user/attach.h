/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * attach.h: loading, pinning and attaching the program (attach.c).
 */
#ifndef FG_ATTACH_H
#define FG_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "floodgate.h"

/* Load-time table sizes (config `tables:`). */
struct fg_sizes {
	__u32 sources; /* fg_sources max entries, default FG_DEF_SOURCES */
	__u32 bans;    /* fg_bans max entries, default FG_DEF_BANS */
	__u32 lists;   /* fg_lists max entries, default FG_DEF_LIST */
};

/* XDP attach modes. */
enum fg_mode {
	FG_MODE_AUTO = 0,    /* native, else generic (and say which) */
	FG_MODE_NATIVE = 1,  /* driver mode or fail */
	FG_MODE_GENERIC = 2, /* skb mode */
};

/*
 * Attach the program to `ifname` (attach.c): load it (or reuse the pinned
 * maps when their layout matches), pin maps, program and link, or upgrade
 * the program of an attached interface in place with bpf_link_update.
 * Writes the mode used to *used. A fresh set of maps gets the built-in
 * rule set. Returns 0 or -errno after an error line.
 */
int fg_attach(const char *ifname, enum fg_mode mode, const struct fg_sizes *sizes,
	      enum fg_mode *used);

/* Detach ifname and unpin its link: 0 or -errno after an error line. */
int fg_detach(const char *ifname);

/*
 * fg_seen's load-time knobs of an opened, not yet loaded skeleton: its
 * size from fg_sources' (when size; a reused pin keeps its own), the
 * hash bits from its size, the stamp period from hz; and fg_newcomers'
 * secret seed, drawn anew (its notes of an earlier load no longer match).
 */
struct floodgate;
void fg_seen_knobs(struct floodgate *skel, __u64 hz, bool size);

#endif /* FG_ATTACH_H */
