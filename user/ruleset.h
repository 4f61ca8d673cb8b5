/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * ruleset.h: the rule set as userspace edits it, and its atomic commit
 * (ruleset.c); forgetting a changed rule's state (limit.c).
 */
#ifndef FG_RULESET_H
#define FG_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "floodgate.h"
#include "maps.h"
#include "util.h"

/* A whole rule set as userspace edits it. */
struct fg_ruleset {
	struct fg_config cfg;	       /* rules and settings */
	__u16 ports[2][FG_PORT_SPACE]; /* rule index per TCP/UDP destination port */
};

/* Built-in defaults (README "Defaults"); hz converts ban durations to ticks. */
void fg_ruleset_defaults(struct fg_ruleset *rs, __u64 hz);
/* Read the live rule set. Returns 0 or -errno. */
int fg_ruleset_read(const struct fg_maps *m, struct fg_ruleset *rs);
/*
 * Check a rule set; prints one error line per problem and returns the
 * number of problems (0 = valid).
 */
int fg_ruleset_check(const struct fg_ruleset *rs);
/* The same, calling at(ctx, i) before the problems of rule i (-1: of the whole set). */
int fg_ruleset_check_at(const struct fg_ruleset *rs, void (*at)(void *ctx, int rule), void *ctx);
/* Derive masks, ban prefix lengths and the port table from the rules. */
void fg_ruleset_finish(struct fg_ruleset *rs);
/*
 * Make rs live atomically: check and finish it, write it to the idle slot
 * (config and ports), then flip fg_state.slot. The caller holds the lock.
 * Returns 0 or -errno; on error the live rule set is unchanged.
 */
int fg_ruleset_commit(const struct fg_maps *m, struct fg_ruleset *rs);
/* Index of the rule for an endpoint, -1 when absent. */
int fg_ruleset_find(const struct fg_ruleset *rs, const struct fg_endpoint *ep);
/*
 * Forget per-rule state a changed rule must not keep (limit.c): its source
 * buckets (GCRA state in units of the old rate and prefix), its endpoint
 * total, its counters (they belong to the rule in that slot).
 */
void fg_rule_reset(const struct fg_maps *m, __u32 idx, bool buckets, bool total, bool stats);
/* Index of a free rule slot, -1 when full. */
int fg_ruleset_free_slot(const struct fg_ruleset *rs);

#endif /* FG_RULESET_H */
