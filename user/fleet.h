/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * fleet.h: bans shared by every node through Redis (fleet.c, issue 13).
 * A node publishes its bans as keys NAMESPACE:ban:PREFIX (TTL = the ban's
 * remaining time) plus a message on NAMESPACE:bans, and applies the bans
 * other nodes publish as bans of kind fleet. The record, key and message
 * alike, is one JSON object:
 *
 *   {"v":1,"op":"ban","prefix":"198.18.0.7/32","origin":"edge-1",
 *    "at":1733499990123,"end":1733500000123}
 *
 * at is when the origin banned, end the ban's end, in Unix milliseconds (nodes keep their clocks in
 * sync with NTP); op "del" lifts a fleet ban everywhere. What a node
 * applied, with its origin, is kept in the pinned map fg_fleet (created by
 * userspace, not the program), the daemon's status in fg_fleet_st, so the
 * CLI (`ban list`, `fleet status`, `config dump`) reads them like the
 * other pinned state.
 */
#ifndef FG_FLEET_H
#define FG_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#include "floodgate.h"
#include "maps.h"
#include "util.h"

#define FG_FLEET_VERSION     1	     /* the record's "v" */
#define FG_FLEET_NODE_MAX    64	     /* bytes of a node name with its NUL */
#define FG_FLEET_NS_MAX	     32	     /* bytes of a namespace with its NUL */
#define FG_FLEET_ADDR_MAX    108     /* bytes of the redis address with its NUL (unix path) */
#define FG_FLEET_MAX_BANS    1000000 /* max_bans at most */
#define FG_FLEET_LONGEST_MS  (30ULL * 86400 * 1000) /* a ban ending later is refused */
#define FG_FLEET_INT_MAX     ((1LL << 53) - 1)	    /* a record's numbers go up to this */
#define FG_FLEET_RECORD_MAX  512		    /* bytes of a record: longer is malformed */
#define FG_FLEET_DEFAULT_NS  "floodgate"
#define FG_CONFIG_DEFAULT    "/etc/floodgate/floodgate.yaml" /* ban --fleet reads it */
#define FG_FLEET_MAP	     "fg_fleet"	   /* pinned: applied fleet bans and their origin */
#define FG_FLEET_STATUS_MAP  "fg_fleet_st" /* pinned: the daemon's fleet status */
#define FG_FLEET_MAP_ENTRIES FG_FLEET_MAX_BANS
#define FG_FLEET_AGES	     16384 /* arrival ages kept for `fleet status`: a bench run of 10,000 */
#define FG_FLEET_MANUAL_MAP  "fg_fleet_q" /* pinned: manual bans the CLI made, for the daemon */
#define FG_FLEET_MANUAL_MAX  4096	  /* entries of fg_fleet_q */
#define FG_FLEET_QUEUE	     10000	  /* default of fleet: queue: */
#define FG_FLEET_QUEUE_MAX   1000000	  /* fleet: queue: at most */

/* Which local bans a node publishes. */
enum fg_fleet_publish {
	FG_PUB_AUTO = 0,   /* the data path's automatic bans */
	FG_PUB_MANUAL = 1, /* manual bans (ban add) */
	FG_PUB_BOTH = 2,   /* both */
	FG_PUB_NONE = 3,   /* none: this node only listens */
};

/* The `fleet:` section of the config. */
struct fg_fleet_cfg {
	bool enabled;		       /* the section is there (with redis:) */
	char redis[FG_FLEET_ADDR_MAX]; /* HOST:PORT, [V6]:PORT or unix:/PATH, as written */
	char password_file[256];       /* "" = no AUTH */
	char node[FG_FLEET_NODE_MAX];  /* this node's name (default: the host name) */
	char ns[FG_FLEET_NS_MAX];      /* prefix of every key and channel */
	__u8 publish;		       /* enum fg_fleet_publish */
	bool accept;		       /* apply other nodes' bans */
	__u8 min_prefix4;	       /* refuse IPv4 fleet bans shorter than this */
	__u8 min_prefix6;	       /* refuse IPv6 fleet bans shorter than this */
	__u32 max_bans;		       /* fleet bans applied at once, at most */
	__u32 queue;		       /* local bans kept while Redis is away, at most */
};

/* Defaults for a section that leaves keys out. */
void fg_fleet_defaults(struct fg_fleet_cfg *c);
/* "auto", "manual", "both", "none"; -1 when s is none of them. */
int fg_fleet_publish_parse(const char *s);
const char *fg_fleet_publish_name(__u8 p);
/* Check a redis address (HOST:PORT, [V6]:PORT, unix:/PATH): 0 or -EINVAL after an error line. */
int fg_fleet_parse_addr(const char *what, const char *s, char *host, size_t hlen, int *port,
			bool *unix_path);
/* Check a node name or namespace: letters, digits, '.', '_', '-'. 0 or -EINVAL after an error. */
int fg_fleet_parse_name(const char *what, const char *s, size_t max, char *out);
/*
 * Check that the secret file exists and is readable by its owner alone
 * (as ssh does with keys); with user and pass, read "PASSWORD" or "USER PASSWORD"
 * into user/pass. 0 or -errno after an error line.
 */
int fg_fleet_secret(const char *what, const char *path, char *user, size_t ulen, char *pass,
		    size_t plen);

/* Why a received record was refused: the label of floodgate_fleet_bans_rejected_total. */
enum fg_fleet_reject {
	FG_REJ_MALFORMED, /* not JSON, or a field missing or of the wrong type */
	FG_REJ_VERSION,	  /* an unknown "v" */
	FG_REJ_TOO_WIDE,  /* a prefix shorter than min_prefix4/6 */
	FG_REJ_PAST,	  /* an end already past */
	FG_REJ_TOO_LONG,  /* an end beyond the longest ban */
	FG_REJ_ALLOWED,	  /* inside an allow-listed prefix: never enforced */
	FG_REJ_FULL,	  /* max_bans fleet bans applied, or the table is full */
	FG_REJ_MAX,
};
const char *fg_fleet_reject_name(unsigned int r);

/* A parsed record. */
struct fg_fleet_rec {
	bool del;			/* op "del": lift it */
	struct fg_cidr cidr;		/* the prefix */
	char origin[FG_FLEET_NODE_MAX]; /* the node that banned */
	__u64 end_ms;			/* its end, Unix ms */
	__u64 at_ms;			/* when the origin banned, Unix ms */
};
/*
 * Parse and check one record received at now_ms against c: 0, or the
 * reason (enum fg_fleet_reject) + 1 it is refused for. The allow list is
 * checked by the caller (it needs the maps).
 */
int fg_fleet_rec_parse(const char *s, size_t len, const struct fg_fleet_cfg *c, __u64 now_ms,
		       struct fg_fleet_rec *r);
/* A prefix as the fleet writes it, always ADDR/LEN (keys and records); returns buf. */
char *fg_fleet_prefix(char *buf, size_t len, const struct fg_cidr *c);
/* Format a record into buf (at least FG_FLEET_RECORD_MAX bytes); its length. */
int fg_fleet_rec_format(char *buf, size_t len, const struct fg_fleet_rec *r);

/* An applied fleet ban, value of fg_fleet (key: struct fg_ban_key). */
struct fg_fleet_ban {
	__u64 expires;	     /* tick it ends, as written to fg_bans or the trie */
	__u64 end_ms;	     /* its end in Unix ms, as received */
	__u8 in_trie;	     /* held in fg_lists (a prefix length fg_bans is not checked at) */
	__u8 local;	     /* it lengthened a ban of this node's, restored when it is lifted */
	__u8 pad[2];	     /* zero */
	__u32 walk;	     /* the last key walk (resync) that found it, or it came during */
	__u64 local_expires; /* that ban's end tick (trie: 0 never, as own_expires) */
	char origin[FG_FLEET_NODE_MAX]; /* the node that banned */
};

/*
 * A manual ban `ban add` just made, fg_fleet_q's value: the CLI pushes it
 * while it holds the writers' lock, and the daemon, woken when the lock is
 * released, pops it and publishes it at once (publish manual or both), so
 * it finds new manual bans without walking fg_lists.
 */
struct fg_fleet_manual {
	struct fg_ban_key key; /* the prefix, as fg_fleet's key */
	__u64 expires;	       /* tick it ends, as written to fg_lists */
	__u64 at_ms;	       /* when the CLI banned, Unix ms */
	__u64 end_ms;	       /* its end, Unix ms */
	__u8 published;	       /* the CLI published it itself (--fleet) */
	__u8 pad[7];	       /* zero */
};

/* The daemon's fleet status, fg_fleet_st[0]. */
struct fg_fleet_status {
	struct fg_fleet_cfg cfg;    /* the fleet section in force */
	__u8 connected;		    /* the daemon talks to Redis now */
	__u8 pad[7];		    /* zero */
	__u64 since_ms;		    /* connected or disconnected since, Unix ms */
	__u64 published;	    /* bans published */
	__u64 received;		    /* bans received and applied */
	__u64 rejected[FG_REJ_MAX]; /* records refused, by reason */
	__u64 queued;		    /* bans waiting for Redis now */
	__u64 dropped;		    /* bans the full outage queue could not keep */
	__u64 active;		    /* fleet bans applied now */
	__u64 updated_ms;	    /* when the daemon wrote this, Unix ms */
	char last_error[160];	    /* the last error, "" when none */
	__u64 n_ages;		    /* received bans whose age was recorded, all time */
	__u32 ages[FG_FLEET_AGES];  /* age on arrival (ms) of the latest ones, a ring */
};

/*
 * Open a pinned fleet map (name), creating and pinning it when create; one
 * of another layout (an older floodgate) is replaced when create, else
 * -EPROTO. fd or -errno.
 */
int fg_fleet_map_open(const char *name, bool create);
/* The fleet ban recorded for exactly prefix c (its origin), false when none or ended. */
bool fg_fleet_lookup(int fd, const struct fg_cidr *c, __u64 now, struct fg_fleet_ban *out);
/*
 * Tell the daemon's fleet about a manual ban of c the CLI just made (the
 * caller holds the writers' lock): pushed to fg_fleet_q when a daemon with
 * a fleet created it, else nothing. published: the CLI sent it itself.
 */
void fg_fleet_manual_note(const struct fg_cidr *c, __u64 expires, __u64 at_ms, __u64 end_ms,
			  bool published);
/* Read the daemon's status; -ENOENT when no daemon with a fleet section ever ran. */
int fg_fleet_status_read(struct fg_fleet_status *st);

/*
 * The CLI side of `ban add|del --fleet`: publish a ban of c until end_ms
 * (del: lift it) to the Redis of c's fleet section, synchronously with a
 * timeout. 0 or -errno after an error line: -ETIMEDOUT when the commands
 * went out and no answer came (Redis may still carry them out).
 */
int fg_fleet_cli_publish(const struct fg_fleet_cfg *c, const struct fg_cidr *cidr, __u64 end_ms,
			 bool del);

/*
 * Connect to c's Redis and authenticate (AUTH from password_file), waiting
 * at most ms for each step. NULL with the reason in err.
 */
struct redisContext;
struct redisContext *fg_fleet_connect(const struct fg_fleet_cfg *c, int ms, char *err, size_t elen);

/* Unix ms now. */
__u64 fg_fleet_now_ms(void);

/* The daemon side (fleet_run.c): one per `floodgate run`. */
struct fg_fleet;
/*
 * Start the fleet of cfg (NULL or disabled: returns NULL, nothing to do).
 * m must outlive it. Never blocks on Redis: the first connect happens in
 * fg_fleet_tick().
 */
struct fg_fleet *fg_fleet_start(const struct fg_fleet_cfg *cfg, struct fg_maps *m);
/* A new config (reload): reconnects when the address, secret or namespace changed. */
void fg_fleet_reconfig(struct fg_fleet **f, const struct fg_fleet_cfg *cfg, struct fg_maps *m);
void fg_fleet_stop(struct fg_fleet *f);
/* The fd of the subscription to watch for reads, -1 when not connected. */
int fg_fleet_fd(const struct fg_fleet *f);
/* The fd that wakes the daemon when a writer released the pin directory's lock, -1 when none. */
int fg_fleet_wake_fd(const struct fg_fleet *f);
/* It is readable: publish the manual bans the CLI noted (fg_fleet_q). */
void fg_fleet_wake(struct fg_fleet *f);
/* The subscription fd is readable: apply what came. */
void fg_fleet_read(struct fg_fleet *f);
/* Every loop turn: connect when it is time, flush the queue, sweep; ms until it wants a call. */
int fg_fleet_tick(struct fg_fleet *f);
/* A local ban the data path made at tick `at` (its event), to publish when cfg says so. */
void fg_fleet_local_ban(struct fg_fleet *f, __u8 family, __u8 plen, const __u8 *addr, __u64 at,
			__u64 expires);
/* The Prometheus lines of the fleet (metrics.c calls it through fg_metrics_opts). */
void fg_fleet_metrics(void *ctx, FILE *f);

#endif /* FG_FLEET_H */
