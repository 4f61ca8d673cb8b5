/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * synproxy.h: the netfilter half of the SYN proxy (user/synproxy.c):
 * floodgate's nftables table, kept in step with the rule set.
 */
#ifndef FG_SYNPROXY_USER_H
#define FG_SYNPROXY_USER_H

#include <stdbool.h>

#include "maps.h"
#include "ruleset.h"

/* Whether any endpoint rule of rs has the SYN proxy on. */
bool fg_synproxy_any(const struct fg_ruleset *rs);
/*
 * Make this instance's chain (one per pin directory) in `table inet
 * floodgate` hold the SYNPROXY rules of rs's syn-proxy endpoints (none:
 * fg_synproxy_remove), in one nft transaction. Returns 0, or -errno after
 * one error line; nothing changed then.
 */
int fg_synproxy_install(const struct fg_ruleset *rs);
/*
 * Remove this instance's chain if it is there, and the table if no other
 * instance's chain is left in it. Returns 0 or -errno after an error line.
 */
int fg_synproxy_remove(void);
/*
 * fg_ruleset_commit, with the table in step: installed before a commit
 * that turns the proxy on (and put back if the commit fails), removed
 * after one that proxies nothing (a chain an earlier removal left too).
 * Returns 0 or -errno; nothing is half-applied, except that a removal
 * nft refuses after the commit is a warning: the rule set stands, and
 * the next change tries again.
 */
int fg_ruleset_commit_proxied(const struct fg_maps *m, struct fg_ruleset *rs);

#endif /* FG_SYNPROXY_USER_H */
