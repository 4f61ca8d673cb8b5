/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * lists.h: allow, deny and manual-ban prefixes: the fg_lists trie
 * (lists.c).
 */
#ifndef FG_LISTS_H
#define FG_LISTS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "floodgate.h"
#include "maps.h"
#include "util.h"

struct fg_list_entry {
	struct fg_cidr cidr; /* the prefix */
	__u8 kind;	     /* enum fg_list_kind added at exactly this prefix */
	__u64 expires;	     /* FG_LIST_BAN: tick the ban ends, 0 never */
};
/*
 * Add or delete one prefix of `kind`, then recompute every entry's
 * verdict (allow > deny > ban over covering prefixes) and the fg_state
 * lists4/lists6 counts. The caller holds the lock. 0 or -errno (after an
 * error line: a prefix already on another list, a full table, ...).
 */
int fg_list_add(const struct fg_maps *m, const struct fg_cidr *c, __u8 kind, __u64 expires);
int fg_list_del(const struct fg_maps *m, const struct fg_cidr *c, __u8 kind);
/* One change of a batch (fg_list_apply). */
struct fg_list_change {
	struct fg_cidr cidr; /* the prefix */
	__u64 expires;	     /* FG_LIST_BAN added: tick the ban ends, 0 never */
	__u8 kind;	     /* enum fg_list_kind */
	bool del;	     /* take the prefix off the list of `kind`, else add it */
	int err;	     /* set: 0 done (or already so), else -errno after an error line */
};
/*
 * fg_list_add and fg_list_del of each of c[0..n), in order, with one
 * load and one write of the trie: a change another refuses (a prefix on
 * another list, not on this one) is left out, the rest are made. `what`
 * begins the error lines. 0, or the first change's error. When the write
 * fails part way, a change's err says whether its prefix ended as it
 * asked: of two changes of one prefix, both say what the last one got.
 */
int fg_list_apply(const struct fg_maps *m, const char *what, struct fg_list_change *c, size_t n);
/* Every entry (own kind), sorted by family, address, length; free() *out. */
int fg_list_read(const struct fg_maps *m, struct fg_list_entry **out, size_t *n);
/*
 * Make the allow and deny lists exactly allow[0..n_allow) and
 * deny[0..n_deny) (config apply), in one write of the trie: a prefix may
 * move from one list to the other. Nothing changes when a prefix is on
 * the ban list or on both lists (-EEXIST), or the whole would not fit
 * (-ENOSPC), after an error line each.
 */
int fg_list_replace(const struct fg_maps *m, const struct fg_cidr *allow, size_t n_allow,
		    const struct fg_cidr *deny, size_t n_deny);
/* "allow", "deny", "ban" for enum fg_list_kind. */
const char *fg_list_kind_name(__u8 kind);
/* The trie's verdict (enum fg_list_kind) at exactly prefix c, -1 when c is not in it. */
int fg_list_verdict(const struct fg_maps *m, const struct fg_cidr *c);
/* Remove manual bans that ended before `now`; returns how many, or -errno. */
int fg_lists_expire(const struct fg_maps *m, __u64 now);

#endif /* FG_LISTS_H */
