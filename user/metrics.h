/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * metrics.h: reading the pinned state for people and for Prometheus.
 * A snapshot of the counters and table fill levels (stats, metrics), the
 * per-source table read in batches (top, metrics), ban and under-attack
 * events from the ring buffer (events, the daemon's log), the metrics
 * text and the HTTP front of the daemon. Shared by stats.c, events.c,
 * metrics.c and run.c.
 */
#ifndef FG_METRICS_H
#define FG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#include "util.h"
#include "maps.h"
#include "metrics.h"

/* Default metrics listen address (DESIGN.md: loopback unless asked). */
#define FG_METRICS_DEFAULT "127.0.0.1:9419"
/* Request headers beyond this many bytes get 431. */
#define FG_HTTP_HEADER_MAX 8192

/* Everything `stats` and /metrics show, read in one go. */
struct fg_snapshot {
	struct fg_state st;			  /* fg_state[0] */
	struct fg_config cfg;			  /* the live rule set (endpoint names, actions) */
	struct fg_count counters[FG_COUNTER_MAX]; /* summed over CPUs */
	struct fg_rule_count rules[FG_MAX_RULES]; /* summed over CPUs */
	__u64 hz;				  /* ticks per second */
	__u64 now;	       /* current tick, 0 when the clock is not readable */
	bool have_now;	       /* now is valid (bans_active too) */
	__u32 ncpus;	       /* possible CPUs */
	bool under_attack;     /* the machine is in under-attack mode now (fg_attack_active) */
	__u64 attack_since;    /* tick it entered the mode (valid while under_attack) */
	__u64 new_sources;     /* new sources in the machine's last closed one-second window */
	__u64 sources;	       /* fg_sources entries (-1 when not counted) */
	__u64 bans;	       /* fg_bans entries, with expired strike records */
	__u64 bans_active;     /* automatic bans in force (needs now) */
	__u64 list_entries[4]; /* fg_lists entries by enum fg_list_kind */
	__u32 sources_max;     /* fg_sources capacity */
	__u32 bans_max;	       /* fg_bans capacity */
	__u32 lists_max;       /* fg_lists capacity */
	__u32 ifaces;	       /* interfaces our program runs on now (links that live) */
};

/*
 * Read a snapshot. count_sources: also count fg_sources (a batched walk of
 * the whole table; `stats --watch` redraws skip it). Returns 0 or -errno
 * after an error line.
 */
int fg_snapshot_read(const struct fg_maps *m, struct fg_snapshot *s, bool count_sources);
/* Totals of the verdicts: packets and bytes passed and dropped. */
void fg_snapshot_verdicts(const struct fg_snapshot *s, struct fg_count *passed,
			  struct fg_count *dropped);
/*
 * Read fg_attack and tell whether the machine is in under-attack mode at
 * `now` (0: unknown); a mode whose window is older than the calm period
 * had no packets to end it and does not count. Returns 0 or -errno.
 */
int fg_attack_read(const struct fg_maps *m, __u64 now, __u64 hz, struct fg_attack *a, bool *active);

/*
 * Add what the CPUs' verdict caches decided (drops, and the passes of a
 * lease) and have not settled yet (struct fg_verdict) to
 * counters[FG_COUNTER_MAX] and rules[FG_MAX_RULES] as fg_vc_settle will:
 * to a rule only if the rule at the index in the live rule set cfg is the
 * one that judged them (fg_rule.born). 0 or -errno.
 */
int fg_vc_pending(const struct fg_maps *m, const struct fg_config *cfg, struct fg_count *counters,
		  struct fg_rule_count *rules);

/* One per-source bucket as read from fg_sources. */
struct fg_source_entry {
	struct fg_src_key key; /* rule, family, prefix */
	struct fg_src val;     /* counters and GCRA state */
};
/*
 * Call fn for every entry of fg_sources, read with batched lookups
 * (chunks of a few thousand entries, so memory stays small for any table
 * size). fn returns 0 to go on, anything else stops the walk and is
 * returned. Returns 0, fn's value or -errno.
 */
int fg_sources_each(const struct fg_maps *m,
		    int (*fn)(const struct fg_src_key *k, const struct fg_src *v, void *ctx),
		    void *ctx);
/* A candidate for a top-N list, compared by key[0], then key[1], largest first. */
struct fg_top_item {
	struct fg_source_entry e; /* the bucket */
	double key[2];		  /* sort keys */
	double pps;		  /* packets per second (top) */
	double bps;		  /* bits per second (top) */
	double dps;		  /* drops per second (top) */
};
/* The N largest items offered so far (a heap until fg_top_sort). */
struct fg_top {
	struct fg_top_item *v; /* items */
	size_t n;	       /* items kept */
	size_t cap;	       /* N */
};
int fg_top_init(struct fg_top *t, size_t cap); /* 0 or -ENOMEM */
void fg_top_offer(struct fg_top *t, const struct fg_top_item *it);
void fg_top_sort(struct fg_top *t); /* largest first; the heap is gone after */
void fg_top_free(struct fg_top *t);

/* An event made readable: the ring record with wall-clock time. */
struct fg_event_text {
	char time[40];	   /* RFC 3339 UTC with milliseconds */
	char addr[64];	   /* banned prefix (FG_EV_BAN) */
	char endpoint[32]; /* rule's endpoint (FG_EV_BAN) */
	__u64 seconds;	   /* ban length in seconds (FG_EV_BAN) */
};
/*
 * Wall-clock time of `tick`, given the tick and the wall time (ns since
 * the epoch) of one moment, and ticks per second.
 */
void fg_tick_to_wall(char *buf, size_t len, __u64 tick, __u64 ref_tick, __u64 ref_ns, __u64 hz);
/* Fill t from ev; cfg (may be NULL) names the rule's endpoint. */
void fg_event_describe(const struct fg_event *ev, const struct fg_config *cfg, __u64 ref_tick,
		       __u64 ref_ns, __u64 hz, struct fg_event_text *t);
/* One line for the event (no newline), text or JSON. Returns buf. */
char *fg_event_line(char *buf, size_t len, const struct fg_event *ev, const struct fg_event_text *t,
		    bool json);
/* Name of an event type: "ban", "under_attack_on", "under_attack_off". */
const char *fg_event_type_name(__u32 type);

/* What /metrics shows beyond the fixed series. */
/*
 * What the last scrape said of each of the busiest sources, so that their
 * counters never go back from one scrape to the next: a bucket is read in
 * two parts (this CPU's verdict cache entries, then the bucket), which a
 * settle between the two reads counts twice, and CPUs' plain increments
 * of one bucket can overwrite each other's. A bucket made again (its
 * first_seen moved) starts over, as a counter reset does.
 */
struct fg_metrics_memo {
	struct fg_source_entry *v; /* sorted by key (memcmp) */
	size_t n;		   /* entries */
};
void fg_metrics_memo_free(struct fg_metrics_memo *memo);

/*
 * The last /metrics body, served again to scrapes within its time to
 * live: a scrape walks the whole source table (half a second at a million
 * sources on the AMD EPYC VM, test_million_sources), and the daemon
 * serves nothing else meanwhile, so a crowd of scrapes must not walk it
 * once each. The time to live is FG_METRICS_TTL_MS, or four times what
 * the last walk took when that is longer (at most FG_METRICS_TTL_MAX_MS):
 * scrapes take at most a fifth of the daemon's time.
 */
#define FG_METRICS_TTL_MS     1000
#define FG_METRICS_TTL_MAX_MS 10000
struct fg_metrics_cache {
	char *body;   /* the body (malloc()ed), NULL none */
	size_t len;   /* its bytes */
	__u64 at_ms;  /* CLOCK_MONOTONIC ms it was rendered at */
	__u64 ttl_ms; /* how long it is served */
};
void fg_metrics_cache_free(struct fg_metrics_cache *c);

struct fg_metrics_opts {
	__u32 top_n; /* per-source series for the N busiest sources, 0 = none */
	void (*extra)(void *ctx, FILE *f); /* more series of the daemon (the fleet), NULL none */
	void *extra_ctx;		   /* its argument */
	struct fg_metrics_memo *memo;	   /* kept across scrapes (the daemon's), NULL none */
	struct fg_metrics_cache *cache;	   /* the daemon's, NULL: every scrape renders */
};

/*
 * The Prometheus text exposition (format 0.0.4) of the maps, read fresh.
 * On success *text is a malloc()ed, NUL-terminated string of *len bytes.
 * Returns 0 or -errno.
 */
int fg_metrics_render(const struct fg_maps *m, const struct fg_metrics_opts *o, char **text,
		      size_t *len);

/* The answer to one HTTP request. */
struct fg_http_reply {
	unsigned int status; /* HTTP status code */
	const char *type;    /* Content-Type */
	const char *allow;   /* Allow header for 405, else NULL */
	char *body;	     /* malloc()ed body */
	size_t len;	     /* bytes in body */
};
/*
 * Route one request: GET/HEAD /metrics renders the maps, GET / a page
 * with a link, other paths 404, other methods 405, header_bytes beyond
 * FG_HTTP_HEADER_MAX 431. No sockets involved, so tests and fuzzers call
 * it directly. Returns 0, or -ENOMEM when no reply could be built.
 */
int fg_http_handle(const struct fg_maps *m, const struct fg_metrics_opts *o, const char *method,
		   const char *url, size_t header_bytes, struct fg_http_reply *r);

/* The metrics HTTP server (libmicrohttpd, driven by the caller's loop). */
struct fg_metrics_server;
/*
 * Listen on ADDR:PORT ("127.0.0.1:9419", "[::1]:9419"); port 0 picks a
 * free one. m and o must outlive the server; o may change between
 * requests (reload). Returns 0 or -errno after an error line.
 */
int fg_metrics_start(struct fg_metrics_server **out, const char *listen, const struct fg_maps *m,
		     const struct fg_metrics_opts *o);
/* The server's epoll fd: readable when fg_metrics_run() has work. */
int fg_metrics_fd(const struct fg_metrics_server *s);
/* The port it listens on (useful with port 0). */
unsigned int fg_metrics_port(const struct fg_metrics_server *s);
/* Once a second: how many of libmicrohttpd's lines the last second left out, if any. */
void fg_metrics_tick(struct fg_metrics_server *s);
/* Serve what is ready; returns the longest wait in ms before the next call (-1 none). */
int fg_metrics_run(struct fg_metrics_server *s);
void fg_metrics_stop(struct fg_metrics_server *s);
/* Parse ADDR:PORT into a socket address. 0 or -EINVAL after an error line. */
int fg_parse_listen(const char *what, const char *s, void *sockaddr, unsigned int *socklen);

#endif /* FG_METRICS_H */
