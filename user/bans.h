/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * bans.h: the automatic bans of fg_bans (bans.c).
 */
#ifndef FG_BANS_H
#define FG_BANS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "floodgate.h"
#include "maps.h"
#include "util.h"

/* Every entry of fg_bans; free() *keys and *vals. 0 or -errno. */
int fg_bans_read(const struct fg_maps *m, struct fg_ban_key **keys, struct fg_ban **vals, size_t *n);
/* Remove automatic bans that ended more than `forget` ticks ago (strikes forgotten). */
int fg_bans_forget(const struct fg_maps *m, __u64 now, __u64 forget);
/* Expiry tick of the automatic ban of exactly this prefix, 0 when none. */
__u64 fg_ban_expiry(const struct fg_maps *m, __u8 family, __u8 plen, const __u8 *addr);
/*
 * Lift the ban of exactly prefix c, manual or automatic (its strikes are
 * forgotten too). The caller holds the lock. 0 or -errno after an error.
 */
int fg_ban_del(const struct fg_maps *m, const struct fg_cidr *c);

#endif /* FG_BANS_H */
