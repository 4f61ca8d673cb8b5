/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * fg.h: what the parts of the floodgate binary share. Global options,
 * error reporting, argument parsers, the pinned maps, the rule-set writer
 * and the clock. Each command lives in its own user/<command>.c and is
 * listed in the command table of user/main.c.
 */
#ifndef FG_USER_H
#define FG_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#include "floodgate.h"

/* Exit codes: DESIGN.md "Control plane". */
#define FG_EXIT_OK    0 /* success */
#define FG_EXIT_ERR   1 /* runtime error: bad value, missing state, kernel said no */
#define FG_EXIT_USAGE 2 /* usage error: unknown option, missing argument */

/* Options every command honours (set by main before the command runs). */
struct fg_opts {
	bool json;	     /* -j: JSON output */
	bool pretty;	     /* -p: indented JSON (implies -j) */
	bool verbose;	     /* -v: libbpf's own messages too */
	const char *pin_dir; /* --pin-dir, default FG_PIN_DIR_DEFAULT */
};
extern struct fg_opts fg_opts;

/* A command of the command table in main.c. */
struct fg_cmd {
	const char *name;		   /* first word on the command line */
	int (*run)(int argc, char **argv); /* argv[0] is the command name; returns an exit code */
	const char *help;		   /* one line for `floodgate --help` */
};

/* "error: <message>" on stderr, errno kept; returns -1 so callers can `return error(...)`. */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "warning: <message>" on stderr, errno kept. */
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parsed address prefix. */
struct fg_cidr {
	__u8 family;   /* enum fg_family */
	__u8 plen;     /* prefix length */
	__u8 addr[16]; /* network order, IPv4 in the first 4 bytes, host bits zero */
};

/* Parsed endpoint: `default`, tcp/PORT, udp/PORT, tcp/LO-HI, udp/LO-HI. */
struct fg_endpoint {
	__u16 proto;   /* IPPROTO_TCP or IPPROTO_UDP, 0 for default */
	__u16 port_lo; /* first port, host order */
	__u16 port_hi; /* last port, host order */
};

/*
 * Parsers: 0 on success, -EINVAL on bad input after printing one
 * `error: ...` line that names `what` and the bad value.
 */
int fg_parse_u64(const char *what, const char *s, __u64 min, __u64 max, __u64 *out);
int fg_parse_rate(const char *what, const char *s, __u64 *bits);	/* 500k, 100m, 10g (SI) */
int fg_parse_size(const char *what, const char *s, __u64 *bytes);	/* 64k, 1m (x1024) */
int fg_parse_duration(const char *what, const char *s, __u64 *seconds); /* 30s 5m 2h 1d */
/* ADDR[/LEN]; bare ADDR means a host prefix when host_default, else an error. */
int fg_parse_cidr(const char *what, const char *s, bool host_default, struct fg_cidr *out);
int fg_parse_endpoint(const char *what, const char *s, struct fg_endpoint *out);

/* Formatters (return buf). */
char *fg_format_cidr(char *buf, size_t len, __u8 family, const __u8 *addr, __u8 plen);
char *fg_format_endpoint(char *buf, size_t len, const struct fg_rule *r);
char *fg_format_duration(char *buf, size_t len, __u64 seconds);

/* Names of enum values, as used in output, JSON and metrics labels. */
const char *fg_counter_name(unsigned int idx);
bool fg_counter_is_drop(unsigned int idx);
/* "pass", "drop" or "answer" (the SYN proxy's SYN-ACKs): a verdict reason's action label */
const char *fg_counter_action(unsigned int idx);
const char *fg_action_name(unsigned int action);
int fg_action_parse(const char *s); /* -1 when unknown */

/* File descriptors of the pinned maps (-1 when closed). */
struct fg_maps {
	int config;	     /* fg_config */
	int ports;	     /* fg_ports */
	int state;	     /* fg_state */
	int pressure;	     /* fg_pressure */
	int attack;	     /* fg_attack */
	int lists;	     /* fg_lists */
	int lfilter;	     /* fg_lfilter */
	int sources;	     /* fg_sources */
	int bans;	     /* fg_bans */
	int totals;	     /* fg_totals */
	int counters;	     /* fg_counters */
	int rule_stats;	     /* fg_rule_stats */
	int events;	     /* fg_events */
	int barrier;	     /* fg_barrier (fg_sync) */
	int clock;	     /* fg_clock program */
	int lock;	     /* writers' lock file (maps.c), flock()ed, -1 when not held */
	struct fg_state *st; /* fg_state[0]: mmap()ed when writable (single fields change with
			      * atomic stores), a snapshot taken at open when read-only */
	bool writable;	     /* opened for writing (st mapped read-write) */
	int ncpus;	     /* possible CPUs, for per-CPU values */
};

/* One entry of the map table: name and where its fd goes. */
struct fg_map_desc {
	const char *name; /* map name, also its pin name */
	size_t off;	  /* offsetof(struct fg_maps, field) */
};
extern const struct fg_map_desc fg_map_table[];
extern const size_t fg_map_count;

/* Pin path of `name` under the pin directory. */
int fg_pin_path(char *buf, size_t len, const char *name);
/* Mount bpffs on the pin directory's filesystem if it is missing. Returns 0 or -errno. */
int fg_bpffs_ensure(void);
/*
 * Open every pinned map, read-only unless `write`. Returns 0, or -ENOENT
 * (after an error line that says floodgate is not attached) or another
 * -errno.
 */
int fg_maps_open(struct fg_maps *m, bool write);
void fg_maps_close(struct fg_maps *m);
/* Writers hold an exclusive flock on a root-only lock file per pin directory. 0 or -errno. */
int fg_maps_lock(struct fg_maps *m);
/* Path of that lock file for the current pin directory. 0 or -ENAMETOOLONG. */
int fg_lock_path(char *buf, size_t len);

/*
 * fg_seen's load-time knobs of an opened, not yet loaded skeleton: its
 * size from fg_sources' (when size; a reused pin keeps its own), the
 * hash bits from its size, the stamp period from hz.
 */
struct floodgate;
void fg_seen_knobs(struct floodgate *skel, __u64 hz, bool size);

/*
 * Layout version of the fg_state map fd (its value's last word, whatever
 * its size), or -1 when the map is no fg_state any floodgate wrote.
 */
int fg_state_layout(int fd, __u64 *layout);

/*
 * Wait until every packet that entered the program before the call has
 * left it (fg_barrier): called before writing an idle slot, whose readers
 * from before the last flip are then gone.
 */
int fg_sync(const struct fg_maps *m);

/* The data path's clock: current tick, and ticks per second. */
int fg_now(const struct fg_maps *m, __u64 *tick);
__u64 fg_hz(const struct fg_maps *m);
/* The kernel's HZ, for the loader: from the kernel config, else measured. */
__u64 fg_kernel_hz(void);

/* Read fg_state[0]. */
int fg_state_read(const struct fg_maps *m, struct fg_state *st);

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

/* Allow, deny and manual-ban prefixes: one trie (lists.c). */
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
/* Every entry (own kind), sorted by family, address, length; free() *out. */
int fg_list_read(const struct fg_maps *m, struct fg_list_entry **out, size_t *n);
/* Make the set of `kind` prefixes exactly v[0..n) (config apply). */
int fg_list_replace(const struct fg_maps *m, __u8 kind, const struct fg_cidr *v, size_t n);
/* Remove manual bans that ended before `now`; returns how many, or -errno. */
int fg_lists_expire(const struct fg_maps *m, __u64 now);
/* Remove automatic bans that ended more than `forget` ticks ago (strikes forgotten). */
int fg_bans_forget(const struct fg_maps *m, __u64 now, __u64 forget);

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

/* The YAML config file (config.c). */
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
	__u64 forget_after; /* seconds after a ban ends before its strikes are forgotten */
};
/*
 * Parse and fully validate a config file; prints `FILE:LINE:COL: error:
 * ...` for each problem and returns their number (0 = valid), or -errno
 * when the file cannot be read. hz converts durations to ticks.
 */
int fg_config_load(const char *path, __u64 hz, struct fg_file_config *out);
void fg_config_free(struct fg_file_config *c);
/* Apply a loaded config: lists, then the rule set in one commit. The caller holds the lock. */
int fg_config_apply(const struct fg_maps *m, struct fg_file_config *c);

/* Sum of a per-CPU array entry: `size`-byte values of __u64 fields, summed field by field. */
int fg_percpu_sum(const struct fg_maps *m, int fd, __u32 key, void *out, size_t size);

#endif /* FG_USER_H */
