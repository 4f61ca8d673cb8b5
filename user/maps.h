/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * maps.h: the pinned state (maps.c): the pinned maps opened by name, the
 * writers' lock, the data path's clock, per-CPU sums, batched walks of the
 * hash maps, map sizes and the attached interfaces.
 */
#ifndef FG_MAPS_H
#define FG_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "floodgate.h"

/* File descriptors of the pinned maps (-1 when closed). */
struct fg_maps {
	int config;	     /* fg_config */
	int ports;	     /* fg_ports */
	int state;	     /* fg_state */
	int pressure;	     /* fg_pressure */
	int attack;	     /* fg_attack */
	int verdicts;	     /* fg_verdicts (per CPU) */
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
/*
 * Writers hold an exclusive flock on a root-only lock file per pin
 * directory. 0 (at once when m holds it already) or -errno.
 */
int fg_maps_lock(struct fg_maps *m);
/*
 * fg_maps_lock without waiting, for the daemon's loop: 0, -EWOULDBLOCK
 * while a writer holds it (no error line), or -errno after one. The file
 * is opened read-only when it exists: closing it wakes no one watching
 * for writers that finished (IN_CLOSE_WRITE), the daemon itself included.
 */
int fg_maps_trylock(struct fg_maps *m);
/* Release the writers' lock that m holds, if any (fg_maps_close does too). */
void fg_maps_unlock(struct fg_maps *m);
/*
 * A lock of the whole host, not of one pin directory: FG_LOCK_DIR/name
 * locked exclusively (waiting as fg_maps_lock does). Its fd (close it to
 * release), or -errno after an error line.
 */
int fg_host_lock(const char *name);
/* Path of that lock file for the current pin directory. 0 or -ENAMETOOLONG. */
int fg_lock_path(char *buf, size_t len);
/*
 * The daemon's own lock, one per pin directory, held while it runs: the
 * fd (keep it open), or -EBUSY after an error line naming the daemon
 * that holds it, or another -errno.
 */
int fg_run_lock(void);
/* Remove the daemon's lock file and close fd (from fg_run_lock; -1: nothing). */
void fg_run_unlock(int fd);
/* Map id of the pinned fg_state, 0 when there is none. */
__u32 fg_pinned_state_id(void);
/* Map id of the fg_state m holds, 0 when unknown. */
__u32 fg_held_state_id(const struct fg_maps *m);
/*
 * Whether the pins now hold other maps than m (a detach --all, then an
 * attach): 1, or -ENOENT when none are pinned, -EAGAIN while the attach
 * that pins new ones is not done, 0 when m is what is pinned.
 */
int fg_maps_moved(const struct fg_maps *m);
/*
 * For a command that watches: m replaced by the maps pinned now when they
 * moved (1, said on stderr), 0 when they did not, -ENOENT while none are
 * pinned (said once: *gone), or another -errno after an error line. who:
 * the command, first in its lines.
 */
int fg_maps_follow(struct fg_maps *m, bool write, bool *gone, const char *who);

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

/*
 * Walk a hash map with batched lookups in chunks of a few thousand
 * entries (memory stays small for any table size), calling fn(keys, vals,
 * n, ctx) per chunk. Returns 0, fn's non-zero value, or -errno.
 */
int fg_map_walk(int fd, size_t ksz, size_t vsz,
		int (*fn)(const void *keys, const void *vals, __u32 n, void *ctx), void *ctx);
/* Entries of a hash map, counted with batched lookups; -errno on failure. */
long fg_map_count_entries(int fd, size_t key_size, size_t value_size);
/* max_entries of a map, 0 when unknown. */
__u32 fg_map_capacity(int fd);
/*
 * An fd of our pinned link for ifname (link_<ifname>) and the ifindex it
 * is on in *ifindex (0: the link is defunct, its interface went away), or
 * -errno (-ENOENT: none).
 */
int fg_link_get(const char *ifname, int *ifindex);
/*
 * What runs on ifname: "native" or "generic" when our link is on the
 * interface of that name now, "gone" when there is none, "detached" when
 * nothing of ours runs there (our link died with an earlier interface of
 * the name, or none is pinned), "auto" when the kernel does not say.
 */
const char *fg_iface_state(const char *ifname);
/* Whether our program runs on the interface named ifname now (fg_iface_state). */
bool fg_iface_attached(const char *ifname);
/* Interfaces one pin directory is attached to, at most. */
#define FG_MAX_LINKS 256
/* Interfaces with a pinned link under the pin directory, sorted; how many (at most max). */
int fg_attached_ifaces(char names[][16], int max);

/* Sum of a per-CPU array entry: `size`-byte values of __u64 fields, summed field by field. */
int fg_percpu_sum(const struct fg_maps *m, int fd, __u32 key, void *out, size_t size);

#endif /* FG_MAPS_H */
