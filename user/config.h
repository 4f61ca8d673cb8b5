/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * config.h: the YAML config file as the rest of floodgate sees it:
 * loading and checking it (config_load.c), applying it (config_apply.c).
 * Its parts share config_yaml.h.
 */
#ifndef FG_CONFIG_H
#define FG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "floodgate.h"
#include "attach.h"
#include "maps.h"
#include "ruleset.h"
#include "fleet.h"
#include "util.h"

#define FG_MAX_IFACES 16
struct fg_file_config {
	struct fg_ruleset *rs;		/* rules and settings (heap: it holds the port table) */
	char ifaces[FG_MAX_IFACES][16]; /* interfaces to attach to (IFNAMSIZ) */
	int n_ifaces;			/* entries used in ifaces */
	struct fg_cidr *allow;		/* allow list */
	size_t n_allow;			/* entries in allow */
	struct fg_cidr *deny;		/* deny list */
	size_t n_deny;			/* entries in deny */
	struct fg_sizes sizes;		/* table sizes (0 = default) */
	char metrics[64];		/* metrics listen ADDR:PORT, "" = 127.0.0.1:9419 */
	__u32 metrics_top;		/* per-source series for the top N sources, 0 = off */
	__u64 forget_after;	   /* seconds after a ban ends before its strikes are forgotten */
	struct fg_fleet_cfg fleet; /* `fleet:`: bans shared through Redis (fleet.h) */
};
/*
 * Parse and fully validate a config file; prints `FILE:LINE:COL: error:
 * ...` for each problem and returns their number (0 = valid), or -errno
 * when the file cannot be read. hz converts durations to ticks.
 */
int fg_config_load(const char *path, __u64 hz, struct fg_file_config *out);
/* One problem found in a config file: FILE:LINE:COL: error: MSG. */
struct fg_diag {
	unsigned int line; /* 1-based */
	unsigned int col;  /* 1-based */
	unsigned int seq;  /* order of discovery: keeps the sort stable */
	bool warn;	   /* a warning: printed, not counted */
	char *msg;	   /* the message, without "error: " (NULL: out of memory) */
};
/* The problems of one load, sorted by position. */
struct fg_diags {
	struct fg_diag *v; /* the problems */
	size_t n;	   /* entries in v */
	int errors;	   /* entries that are errors (not warnings) */
};
/*
 * fg_config_load() without printing: the problems go to *d (free it with
 * fg_diags_free), whatever the result. Returns 0 or -errno when the file
 * cannot be read (that error is reported through error()).
 */
int fg_config_check(const char *path, __u64 hz, struct fg_file_config *out, struct fg_diags *d);
void fg_diags_free(struct fg_diags *d);
void fg_config_free(struct fg_file_config *c);
/*
 * Warn of each table size in path (want) that differs from the live
 * map's: the maps keep the size they were created with.
 */
void fg_config_warn_sizes(const struct fg_maps *m, const struct fg_sizes *want, const char *path);
/* Apply a loaded config: lists, then the rule set in one commit. The caller holds the lock. */
int fg_config_apply(const struct fg_maps *m, struct fg_file_config *c);

#endif /* FG_CONFIG_H */
