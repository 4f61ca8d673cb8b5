// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * fleet_run.c: the fleet inside `floodgate run` (issue 13). Two Redis
 * connections: one subscribed to NAMESPACE:bans, watched by the daemon's
 * epoll loop, and one for commands (SET, PUBLISH, SCAN, GET, PING). Both
 * have connect and command timeouts, so a Redis that hangs (SIGSTOP, a
 * partition) costs the loop one timeout before the fleet is marked down;
 * the data path never waits for any of it. On every (re)connect the node
 * subscribes first, then walks the keys with SCAN, a step per loop turn,
 * so it also gets what it missed. Reconnects back off from 1 s to 30 s.
 * Local bans wait in a bounded queue while Redis is away; what overflows
 * is counted.
 *
 * A received ban is checked (fleet.c) and against the allow list, then
 * written as a ban of kind fleet: into fg_bans when the data path checks
 * bans at its prefix length (O(1), a flood of 10,000 stays cheap), else
 * into the trie as a manual ban; its origin goes to fg_fleet. A longer
 * local ban is never shortened, and received bans never make an event, so
 * they are never published again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <bpf/bpf.h>
#include <hiredis/hiredis.h>

#include "util.h"
#include "maps.h"
#include "lists.h"
#include "fleet.h"

#define FLEET_CONNECT_MS   300	 /* connect and command timeout */
#define FLEET_BACKOFF_MIN  1000	 /* ms before the first reconnect */
#define FLEET_BACKOFF_MAX  30000 /* ms between reconnects at most */
#define FLEET_PING_MS	   2000	 /* ms between PINGs that catch a hung Redis */
#define FLEET_BATCH	   1000	 /* commands pipelined at once */
#define FLEET_SCAN_COUNT   1000	 /* keys per SCAN step */
#define FLEET_LOG_PER_SEC  5	 /* log lines about rejected records per second */
#define FLEET_SWEEP_MS	   5000	 /* ms between removals of ended fleet bans from fg_fleet */
#define FLEET_HIST_BUCKETS 10	 /* floodgate_fleet_ban_age_seconds buckets */
#define FLEET_SEEN	   65536 /* bans published from events since the last sweep, remembered */
#define FLEET_GRACE_MS	   100	 /* the sweep leaves bans this young to their events */
#define FLEET_SWEEP_EVERY  1000	 /* ms between publish sweeps when no event was lost */
#define FLEET_TICK_MS	   10	 /* ms between reads of the data path's clock (tick_now) */

/* syslog priorities (run.c writes the same prefixes) */
#define LOG_ERR	    3
#define LOG_WARNING 4
#define LOG_NOTICE  5
#define LOG_INFO    6

static const double hist_le[FLEET_HIST_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1,
						    0.25,  0.5,	 1,	2.5,  10 };

/* A ban published outside the sweep, so the sweep does not send it again. */
struct seen {
	__u64 h;       /* ban_hash() or manual_hash(), 0 = free */
	__u64 created; /* its creation tick; 0 for a manual ban (forgotten at every sweep) */
};

/* What a fleet_pend does to the trie. */
enum pend_op {
	PEND_BAN = 0, /* a received ban: added, entered in fg_fleet and counted then */
	PEND_LIFT,    /* a del: its prefix taken off the ban list (fg_fleet done already) */
	PEND_RESTORE, /* a del of a ban that lengthened the node's own: that one's end back */
};

/*
 * A received ban for the trie, waiting for its batch's end: a trie write
 * loads and writes the whole trie, so a flood of them is one write per
 * batch, not per record (fg_list_apply).
 */
struct fleet_pend {
	struct fg_fleet_rec r;	/* the record */
	struct fg_fleet_ban fb; /* a ban's fg_fleet entry, once the trie has it */
	__u64 now_ms;		/* Unix ms it arrived at */
	__u8 op;		/* enum pend_op */
};

struct fg_fleet {
	struct fg_fleet_cfg cfg;	    /* the fleet section in force */
	struct fg_maps *m;		    /* the daemon's maps */
	redisContext *sub;		    /* subscribed connection, NULL when down */
	redisContext *cmd;		    /* command connection, NULL when down */
	__u64 next_connect;		    /* Unix ms of the next attempt */
	__u64 backoff;			    /* ms to wait after the next failure */
	__u64 last_ping;		    /* Unix ms of the last PING */
	__u64 last_sweep;		    /* Unix ms of the last fg_fleet sweep */
	bool scanning;			    /* a SCAN walk is under way */
	char cursor[32];		    /* its cursor */
	struct fg_fleet_rec *queue;	    /* local bans to publish, a ring */
	size_t q_head, q_len;		    /* first entry, entries */
	size_t q_cap;			    /* entries queue holds (fleet: queue:) */
	int fleet_fd, status_fd;	    /* fg_fleet, fg_fleet_st */
	struct fg_fleet_status st;	    /* counters and state, copied to fg_fleet_st */
	__u64 hist[FLEET_HIST_BUCKETS + 1]; /* ban age on arrival, cumulative at render */
	double hist_sum;		    /* seconds */
	__u64 log_sec, logged, unlogged;    /* rejected-record log limit */
	bool err_logged;		    /* the current outage was logged */
	__u64 pub_tick;		      /* automatic bans created up to this tick are published */
	__u64 next_pub_sweep;	      /* Unix ms of the next publish sweep */
	__u64 events_lost;	      /* FG_C_EVENTS_LOST at the last look */
	bool storm;		      /* events were lost: sweep every FLEET_GRACE_MS until done */
	bool sweep_again;	      /* the last sweep published bans or left young ones behind */
	__u64 tick, tick_ms;	      /* the data path's tick read at Unix ms tick_ms (tick_now) */
	__u64 hz;		      /* ticks per second (fg_hz reads all of fg_state: once) */
	struct fg_config *rules;      /* the live rule set, read once per batch of records */
	bool rules_valid;	      /* rules holds it for the current batch */
	__u32 cap_bans;		      /* fg_bans holds this many, read with rules */
	__u32 cap_lists;	      /* fg_lists holds this many, read with rules */
	struct fg_list_entry *manual; /* manual bans seen (and published) at the last sweep */
	size_t n_manual;	      /* entries in manual */
	struct seen seen[FLEET_SEEN]; /* bans published from events or fg_fleet_q, h 0 = free */
	size_t n_seen;		      /* entries used in seen */
	int manual_fd;		      /* fg_fleet_q: manual bans the CLI noted */
	int wake_fd;		      /* inotify on the writers' lock: a writer finished, -1 none */
	__u64 in_trie;		      /* of st.active, those held in fg_lists */
	struct fleet_pend *pend;      /* bans for fg_lists, written at the batch's end */
	size_t n_pend;		      /* entries in pend */
	size_t cap_pend;	      /* entries pend has room for */
	size_t n_pend_bans;	      /* of n_pend, PEND_BAN */
	size_t n_pend_new;	      /* of those, bans of prefixes not in fg_fleet yet */
	struct fg_list_entry *lview;  /* fg_lists as the batch found it (fg_list_read) */
	size_t n_lview;		      /* entries in lview */
	bool lview_valid;	      /* lview holds the trie since its last write */
	__u32 walk;		      /* the key walk under way or last done (fg_fleet_ban.walk) */
	__u64 walk_keys;	      /* keys it found */
};

static void flog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void flog(int prio, const char *fmt, ...)
{
	char buf[768], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* records and names come from Redis: a newline in one would forge a log line */
	for (p = buf; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "<%d>fleet: %s\n", prio, buf);
}

static void status_write(struct fg_fleet *f)
{
	__u32 k = 0;

	if (f->status_fd < 0)
		return;
	f->st.cfg = f->cfg;
	f->st.queued = f->q_len;
	f->st.updated_ms = fg_fleet_now_ms();
	bpf_map_update_elem(f->status_fd, &k, &f->st, BPF_ANY);
}

static void set_error(struct fg_fleet *f, const char *msg)
{
	snprintf(f->st.last_error, sizeof(f->st.last_error), "%s", msg);
}

static void disconnect(struct fg_fleet *f, const char *why)
{
	__u64 now = fg_fleet_now_ms();

	if (f->sub || f->cmd) {
		flog(LOG_ERR, "%s: %s: enforcing locally, reconnecting in %" PRIu64 " s",
		     f->cfg.redis, why, (uint64_t)(f->backoff / 1000));
		f->err_logged = true;
	} else if (!f->err_logged) {
		flog(LOG_ERR, "%s: %s: enforcing locally, retrying with backoff up to %d s",
		     f->cfg.redis, why, FLEET_BACKOFF_MAX / 1000);
		f->err_logged = true;
	}
	set_error(f, why);
	redisFree(f->sub);
	redisFree(f->cmd);
	f->sub = f->cmd = NULL;
	f->scanning = false;
	if (f->st.connected)
		f->st.since_ms = now;
	f->st.connected = 0;
	f->next_connect = now + f->backoff;
	f->backoff = f->backoff * 2 > FLEET_BACKOFF_MAX ? FLEET_BACKOFF_MAX : f->backoff * 2;
	status_write(f);
}

/* A reply that is no error, else disconnect with the reason. */
static bool reply_ok(struct fg_fleet *f, redisContext *c, redisReply *r, const char *what)
{
	char why[256];

	if (r && r->type != REDIS_REPLY_ERROR)
		return true;
	if (!r && c->err == REDIS_ERR_IO && !strcmp(c->errstr, strerror(EAGAIN)))
		/* the socket's timeout: a Redis that hangs (stopped, partitioned, overloaded) */
		snprintf(why, sizeof(why), "%s: no answer within %d ms", what, FLEET_CONNECT_MS);
	else
		snprintf(why, sizeof(why), "%s: %s", what, r ? r->str : c->errstr);
	disconnect(f, why);
	return false;
}

static void reject(struct fg_fleet *f, unsigned int reason, const char *s, size_t len)
{
	__u64 sec = fg_fleet_now_ms() / 1000;

	f->st.rejected[reason]++;
	if (sec != f->log_sec) {
		if (f->unlogged)
			flog(LOG_WARNING, "%" PRIu64 " more records rejected, not logged one by one",
			     (uint64_t)f->unlogged);
		f->log_sec = sec;
		f->logged = f->unlogged = 0;
	}
	if (f->logged >= FLEET_LOG_PER_SEC) {
		f->unlogged++;
		return;
	}
	f->logged++;
	flog(LOG_WARNING, "record rejected (%s): %.*s", fg_fleet_reject_name(reason),
	     (int)(len > 200 ? 200 : len), s);
}

/* The trie's verdict for the addresses of c (its longest covering entry), 0 when none. */
static int covering_verdict(const struct fg_maps *m, const struct fg_cidr *c)
{
	struct fg_lpm_key k = { .prefixlen = FG_LPM_HDR_BITS + c->plen, .family = c->family };
	struct fg_list_val v;

	memcpy(k.addr, c->addr, sizeof(k.addr));
	if (bpf_map_lookup_elem(m->lists, &k, &v))
		return 0;
	return v.verdict;
}

/* Whether the data path checks fg_bans at this prefix length (the live rule set's ban4/ban6). */
static bool bans_checked_at(struct fg_fleet *f, __u8 family, __u8 plen)
{
	const struct fg_config *cfg = f->rules;
	const struct fg_plen *lens;
	struct fg_state st;
	__u32 slot, i, n;

	/* once per batch: the rule set is 11 kB, a flood of records would copy it each time */
	if (!f->rules_valid) {
		if (fg_state_read(f->m, &st))
			return false;
		slot = st.slot & 1;
		if (bpf_map_lookup_elem(f->m->config, &slot, f->rules))
			return false;
		f->cap_bans = fg_map_capacity(f->m->bans);
		f->cap_lists = fg_map_capacity(f->m->lists);
		f->rules_valid = true;
	}
	lens = family == FG_FAM_IPV4 ? cfg->ban4 : cfg->ban6;
	n = family == FG_FAM_IPV4 ? cfg->n_ban4 : cfg->n_ban6;
	for (i = 0; i < n && i < FG_MAX_BAN_PLENS; i++)
		if (lens[i].plen == plen)
			return true;
	return false;
}

/* A batch of records begins: the rule set and the trie are read again when needed. */
static void batch_start(struct fg_fleet *f)
{
	f->rules_valid = false;
	f->lview_valid = false;
}

/*
 * The data path's tick now: read (one run of the clock program) at most
 * every FLEET_TICK_MS and carried on by the wall clock in between, so a
 * flood of bans does not pay a program run each. 0 or -1.
 */
static int tick_now(struct fg_fleet *f, __u64 *tick)
{
	__u64 ms = fg_fleet_now_ms();

	if (!f->tick_ms || ms < f->tick_ms || ms - f->tick_ms >= FLEET_TICK_MS) {
		if (fg_now(f->m, &f->tick))
			return -1;
		f->tick_ms = ms;
	}
	*tick = f->tick + (ms - f->tick_ms) * f->hz / 1000;
	return 0;
}

static void hist_add(struct fg_fleet *f, __u64 age_ms)
{
	double s = age_ms / 1000.0;
	int i;

	for (i = 0; i < FLEET_HIST_BUCKETS && s > hist_le[i]; i++)
		;
	f->hist[i]++;
	f->hist_sum += s;
	f->st.ages[f->st.n_ages++ % FG_FLEET_AGES] = age_ms > UINT32_MAX ? UINT32_MAX : age_ms;
}

/* The fleet ban of exactly c, if any, is carried by the key walk under way (or came during it). */
static void mark_walk(struct fg_fleet *f, const struct fg_cidr *c)
{
	struct fg_ban_key k = { .family = c->family, .plen = c->plen };
	struct fg_fleet_ban fb;

	memcpy(k.addr, c->addr, sizeof(k.addr));
	if (!bpf_map_lookup_elem(f->fleet_fd, &k, &fb) && fb.walk != f->walk) {
		fb.walk = f->walk;
		bpf_map_update_elem(f->fleet_fd, &k, &fb, BPF_EXIST);
	}
}

/* fg_fleet's entry of k: the ban's origin and end, counted once. 0 or -1. */
static int fleet_put(struct fg_fleet *f, const struct fg_ban_key *k, const struct fg_fleet_ban *fb)
{
	if (!bpf_map_update_elem(f->fleet_fd, k, fb, BPF_NOEXIST)) {
		f->st.active++;
		f->in_trie += fb->in_trie;
	} else if (errno != EEXIST || bpf_map_update_elem(f->fleet_fd, k, fb, BPF_EXIST)) {
		return -1;
	}
	return 0;
}

static int lview_cmp(const void *a, const void *b)
{
	return fg_cidr_cmp(&((const struct fg_list_entry *)a)->cidr,
			   &((const struct fg_list_entry *)b)->cidr);
}

/* The trie's entry at exactly c as the batch found it, NULL when none; -1 in *err when unread. */
static const struct fg_list_entry *lview_find(struct fg_fleet *f, const struct fg_cidr *c, int *err)
{
	struct fg_list_entry probe = { .cidr = *c };

	*err = 0;
	if (!f->lview_valid) {
		free(f->lview);
		f->lview = NULL;
		f->n_lview = 0;
		if (fg_list_read(f->m, &f->lview, &f->n_lview)) {
			*err = -1;
			return NULL;
		}
		f->lview_valid = true;
	}
	return bsearch(&probe, f->lview, f->n_lview, sizeof(probe), lview_cmp);
}

static struct fleet_pend *pend_find(struct fg_fleet *f, const struct fg_cidr *c)
{
	size_t i;

	for (i = 0; i < f->n_pend; i++)
		if (!fg_cidr_cmp(&f->pend[i].r.cidr, c))
			return &f->pend[i];
	return NULL;
}

/* Queue p for the batch's trie write. 0 or -1 (out of memory). */
static int pend_push(struct fg_fleet *f, const struct fleet_pend *p)
{
	if (!f->pend || f->n_pend == f->cap_pend) {
		size_t cap = f->cap_pend * 2 + 64;
		struct fleet_pend *more = realloc(f->pend, cap * sizeof(*more));

		if (!more)
			return -1;
		f->pend = more;
		f->cap_pend = cap;
	}
	f->pend[f->n_pend++] = *p;
	return 0;
}

#define FLEET_PENDING 2 /* apply_ban: waits for the batch's trie write (trie_flush) */

static void trie_flush(struct fg_fleet *f, bool wait);

/*
 * Apply a checked ban: 1 applied, 0 already in force as long (a repeat),
 * -1 refused, FLEET_PENDING waiting for the batch's trie write.
 */
static int apply_ban(struct fg_fleet *f, const struct fg_fleet_rec *r, __u64 now_ms)
{
	struct fg_ban_key k = { .family = r->cidr.family, .plen = r->cidr.plen };
	struct fg_fleet_ban fb = {}, old;
	struct fg_ban b = {}, cur;
	struct fleet_pend *p;
	__u64 now, expires;
	bool renewal;

	if (tick_now(f, &now))
		return -1;
	expires = now + (r->end_ms - now_ms) * f->hz / 1000;
	memcpy(k.addr, r->cidr.addr, sizeof(k.addr));
	p = pend_find(f, &r->cidr);
	if (p && p->op != PEND_BAN) { /* after a del in its batch: the del first */
		trie_flush(f, true);
		p = NULL;
	}
	/*
	 * A repeat is told by the record's own end in ms: its end in ticks,
	 * computed from the clock at each record, moves by a tick either way
	 */
	if (p) { /* again in the same batch: the longer of the two */
		if (p->fb.end_ms >= r->end_ms)
			return 0;
		p->r = *r;
		p->now_ms = now_ms;
		p->fb.expires = expires;
		p->fb.end_ms = r->end_ms;
		p->fb.walk = f->walk;
		snprintf(p->fb.origin, sizeof(p->fb.origin), "%s", r->origin);
		return FLEET_PENDING;
	}
	renewal = !bpf_map_lookup_elem(f->fleet_fd, &k, &old);
	if (renewal && old.end_ms >= r->end_ms)
		return 0; /* applied already, as long (a ban lifted here by hand stays lifted) */
	/* at max_bans only a ban applied already may be renewed */
	if (f->st.active + f->n_pend_new >= f->cfg.max_bans && !renewal)
		return -1;
	/* half of each table at most: the node's own bans and lists must still fit */
	if (!renewal &&
	    (bans_checked_at(f, k.family, k.plen) ? f->st.active - f->in_trie >= f->cap_bans / 2
						  : f->in_trie + f->n_pend_new >= f->cap_lists / 2))
		return -1;
	if (renewal) { /* what it lengthened, if anything, is the same */
		fb.local = old.local;
		fb.local_expires = old.local_expires;
	}
	fb.expires = expires;
	fb.end_ms = r->end_ms;
	fb.walk = f->walk;
	snprintf(fb.origin, sizeof(fb.origin), "%s", r->origin);
	if (bans_checked_at(f, k.family, k.plen)) {
		b.expires = expires;
		b.created = now;
		/* a new ban, the common case in a flood of records, is one write */
		if (bpf_map_update_elem(f->m->bans, &k, &b, BPF_NOEXIST)) {
			if (errno != EEXIST)
				return -1;
			if (!bpf_map_lookup_elem(f->m->bans, &k, &cur)) {
				if (cur.expires >= expires)
					return 0; /* one as long or longer is in force: never shortened */
				if (!renewal && cur.expires > now) { /* this node's own, in force */
					fb.local = 1;
					fb.local_expires = cur.expires;
				}
				b = cur; /* an ended one keeps its strikes */
				b.expires = expires;
				b.created = now;
			}
			if (bpf_map_update_elem(f->m->bans, &k, &b, BPF_ANY))
				return -1;
		}
		return fleet_put(f, &k, &fb) ? -1 : 1;
	} else {
		const struct fg_list_entry *e;
		int err;

		e = lview_find(f, &r->cidr, &err);
		if (err)
			return -1;
		/* denied (allowed: refused before): dropped as by any ban, while the deny stays */
		if (e && e->kind != FG_LIST_BAN)
			return 0;
		if (e) {
			if (!e->expires || e->expires >= expires)
				return 0;
			if (!renewal && e->expires > now) { /* a manual ban of this node's */
				fb.local = 1;
				fb.local_expires = e->expires;
			}
		}
		fb.in_trie = 1;
		if (pend_push(f, &(struct fleet_pend){ .r = *r, .fb = fb, .now_ms = now_ms }))
			return -1;
		f->n_pend_bans++;
		f->n_pend_new += !renewal;
		return FLEET_PENDING;
	}
}

/*
 * The queued bans and lifts for the trie, in one write: each ban the trie
 * took is entered in fg_fleet and counted as received; each it refused
 * (the table full, the prefix on the allow list) is rejected as full. The
 * write holds the writers' lock, as the CLI's do: a `deny add` between
 * its read of the trie and its write would lose one or the other's
 * derived state (the list filter, the lists' generation). Without `wait`
 * (the end of a batch), a lock another writer holds leaves the queue for
 * later: the writer's close wakes the daemon (fg_fleet_wake), and each
 * tick tries again. With it (a record that must see the queue written
 * first, a reload, the stop), it waits FG_LOCK_WAIT_MS. A lock not had
 * (that wait over, or an error) writes without it, logged: a hung writer
 * must not cost received lifts.
 */
static void trie_flush(struct fg_fleet *f, bool wait)
{
	char rec[FG_FLEET_RECORD_MAX];
	struct fg_list_change *ch;
	bool mine = f->m->lock < 0;
	struct fleet_pend *p;
	struct fg_ban_key k;
	size_t i;
	int n;

	if (!f->n_pend)
		return;
	if (mine) {
		int err = wait ? fg_maps_lock(f->m) : fg_maps_trylock(f->m);

		if (err == -EWOULDBLOCK)
			return; /* a writer holds it: its close wakes us, and each tick tries again */
		if (err) /* a hung writer, or no lock file to be had: once per queue, not per tick */
			flog(LOG_WARNING,
			     "fleet: writing %zu queued trie changes without the writers' lock "
			     "(above)",
			     f->n_pend);
	}
	ch = calloc(f->n_pend, sizeof(*ch));
	for (i = 0; ch && i < f->n_pend; i++) {
		p = &f->pend[i];
		ch[i].cidr = p->r.cidr;
		ch[i].kind = FG_LIST_BAN;
		ch[i].del = p->op == PEND_LIFT;
		ch[i].expires = p->op == PEND_RESTORE ? p->fb.local_expires : p->fb.expires;
	}
	if (ch)
		fg_list_apply(f->m, "fleet ban", ch, f->n_pend);
	if (mine)
		fg_maps_unlock(f->m); /* not a caller's that held it already */
	for (i = 0; i < f->n_pend; i++) {
		p = &f->pend[i];
		if (p->op != PEND_BAN)
			continue; /* a del's: its error line says what failed */
		k = (struct fg_ban_key){ .family = p->r.cidr.family, .plen = p->r.cidr.plen };
		memcpy(k.addr, p->r.cidr.addr, sizeof(k.addr));
		if (!ch || ch[i].err || fleet_put(f, &k, &p->fb)) {
			n = fg_fleet_rec_format(rec, sizeof(rec), &p->r);
			reject(f, FG_REJ_FULL, rec, n > 0 ? (size_t)n : 0);
			continue;
		}
		f->st.received++; /* its fg_fleet entry has this walk's mark */
		hist_add(f, p->now_ms > p->r.at_ms ? p->now_ms - p->r.at_ms : 0);
	}
	free(ch);
	f->n_pend = f->n_pend_bans = f->n_pend_new = 0;
	f->lview_valid = false;
}

/* Lift the fleet ban of exactly r->cidr (op del). */
static void apply_del(struct fg_fleet *f, const struct fg_fleet_rec *r)
{
	struct fg_ban_key k = { .family = r->cidr.family, .plen = r->cidr.plen };
	struct fg_fleet_ban fb;
	struct fg_ban b;
	char a[64];
	int err;

	memcpy(k.addr, r->cidr.addr, sizeof(k.addr));
	if (f->n_pend_bans && pend_find(f, &r->cidr))
		trie_flush(f, true); /* a ban of it earlier in its batch first */
	if (bpf_map_lookup_elem(f->fleet_fd, &k, &fb))
		return; /* not a fleet ban here: local bans stay */
	/* a ban of this node's it lengthened gets its own end back: a remote del lifts none */
	if (fb.in_trie) {
		const struct fg_list_entry *e = lview_find(f, &r->cidr, &err);

		/* in the batch's trie write, as the bans are: a flood of dels is one write too */
		if (fb.local)
			pend_push(f, &(struct fleet_pend){ .r = *r, .fb = fb, .op = PEND_RESTORE });
		else if (err || (e && e->kind == FG_LIST_BAN))
			pend_push(f, &(struct fleet_pend){ .r = *r, .fb = fb, .op = PEND_LIFT });
	} else if (!bpf_map_lookup_elem(f->m->bans, &k, &b) && b.expires == fb.expires) {
		/* without one, ended: the entry keeps the strikes, as an ended local ban */
		b.expires = fb.local ? fb.local_expires : 0;
		bpf_map_update_elem(f->m->bans, &k, &b, BPF_EXIST);
	}
	bpf_map_delete_elem(f->fleet_fd, &k);
	if (f->st.active)
		f->st.active--;
	if (fb.in_trie && f->in_trie)
		f->in_trie--;
	__atomic_fetch_add(&f->m->st->ban_gen, 1, __ATOMIC_RELEASE);
	flog(LOG_INFO, "fleet ban of %s lifted by %s",
	     fg_format_cidr(a, sizeof(a), r->cidr.family, r->cidr.addr, r->cidr.plen), r->origin);
}

/* A fleet ban as fleet_bans lists it. */
struct fleet_entry {
	struct fg_ban_key k;	/* its prefix */
	struct fg_fleet_ban fb; /* its fg_fleet entry */
};

/*
 * Every fleet ban in fg_fleet, read before any is lifted (deleting while
 * walking a hash map restarts the walk); free() the result. What memory
 * refuses is left out.
 */
static struct fleet_entry *fleet_bans(struct fg_fleet *f, size_t *n)
{
	struct fleet_entry *v = NULL, *more;
	struct fg_ban_key cur, next;
	struct fg_fleet_ban fb;
	void *prev = NULL;
	size_t cap = 0;

	*n = 0;
	while (!bpf_map_get_next_key(f->fleet_fd, prev, &next)) {
		cur = next;
		prev = &cur;
		if (bpf_map_lookup_elem(f->fleet_fd, &cur, &fb))
			continue;
		if (*n == cap) {
			more = realloc(v, (cap = cap * 2 + 64) * sizeof(*v));
			if (!more)
				break;
			v = more;
		}
		v[(*n)++] = (struct fleet_entry){ .k = cur, .fb = fb };
	}
	return v;
}

/* Lift the fleet ban of e as a del from `who` would. */
static void lift(struct fg_fleet *f, const struct fleet_entry *e, const char *who)
{
	struct fg_fleet_rec r = { .del = true };

	snprintf(r.origin, sizeof(r.origin), "%s", who);
	r.cidr.family = e->k.family;
	r.cidr.plen = e->k.plen;
	memcpy(r.cidr.addr, e->k.addr, sizeof(r.cidr.addr));
	apply_del(f, &r);
}

/*
 * After a whole key walk: a fleet ban neither walk nor channel carried has
 * no key in Redis any more (a del, or its end, while this node was away):
 * lifted as a del would. Returns how many.
 */
static unsigned int lift_unwalked(struct fg_fleet *f)
{
	struct fleet_entry *v;
	size_t n, i;
	unsigned int lifted = 0;

	v = fleet_bans(f, &n);
	for (i = 0; i < n; i++) {
		if (v[i].fb.walk == f->walk)
			continue;
		lift(f, &v[i], "the resync");
		lifted++;
	}
	trie_flush(f, true);
	free(v);
	return lifted;
}

static int ends_first(const void *a, const void *b)
{
	__u64 x = ((const struct fleet_entry *)a)->fb.expires,
	      y = ((const struct fleet_entry *)b)->fb.expires;

	return (x > y) - (x < y);
}

/*
 * A reload that narrows the fleet section: the fleet bans it would now
 * refuse are lifted, those wider than min_prefix4/min_prefix6, then, past
 * max_bans, those that end first. Returns how many.
 */
static unsigned int lift_narrowed(struct fg_fleet *f)
{
	struct fleet_entry *v;
	size_t n, i, left = 0;
	unsigned int lifted = 0;

	v = fleet_bans(f, &n);
	for (i = 0; i < n; i++) {
		if (v[i].k.plen >=
		    (v[i].k.family == FG_FAM_IPV4 ? f->cfg.min_prefix4 : f->cfg.min_prefix6)) {
			v[left++] = v[i];
			continue;
		}
		lift(f, &v[i], "the reload (wider than min_prefix)");
		lifted++;
	}
	if (left > f->cfg.max_bans) {
		qsort(v, left, sizeof(*v), ends_first);
		for (i = 0; i < left - f->cfg.max_bans; i++) {
			lift(f, &v[i], "the reload (over max_bans)");
			lifted++;
		}
	}
	trie_flush(f, true);
	free(v);
	return lifted;
}

/* One record from the channel or a key. */
static void receive(struct fg_fleet *f, const char *s, size_t len, bool *changed)
{
	__u64 now_ms = fg_fleet_now_ms();
	struct fg_fleet_rec r;
	int bad = fg_fleet_rec_parse(s, len, &f->cfg, now_ms, &r), applied;

	if (!bad && !strcmp(r.origin, f->cfg.node))
		return; /* our own */
	if (!bad && !f->cfg.accept)
		return;
	if (bad) {
		reject(f, bad - 1, s, len);
		return;
	}
	if (r.del) {
		apply_del(f, &r);
		return;
	}
	if (covering_verdict(f->m, &r.cidr) == FG_LIST_ALLOW) {
		reject(f, FG_REJ_ALLOWED, s, len);
		return;
	}
	applied = apply_ban(f, &r, now_ms);
	if (applied < 0) {
		reject(f, FG_REJ_FULL, s, len);
		return;
	}
	if (applied == FLEET_PENDING)
		return; /* trie_flush counts it */
	if (!applied) {
		mark_walk(f, &r.cidr); /* applied, its fg_fleet entry has the mark */
		return;		       /* a repeat (a resync, a ban published twice): nothing new */
	}
	f->st.received++;
	hist_add(f, now_ms > r.at_ms ? now_ms - r.at_ms : 0);
	*changed = true;
}

static void received_done(struct fg_fleet *f, bool changed)
{
	trie_flush(f, false);
	if (changed) /* every bucket checks fg_bans again (buckets cache their ban state) */
		__atomic_fetch_add(&f->m->st->ban_gen, 1, __ATOMIC_RELEASE);
}

/* --- publishing --- */

static void queue_push(struct fg_fleet *f, const struct fg_fleet_rec *r)
{
	if (f->q_len == f->q_cap) {
		f->st.dropped++;
		return;
	}
	f->queue[(f->q_head + f->q_len) % f->q_cap] = *r;
	f->q_len++;
}

/*
 * A new queue size (reload): the oldest bans move to a ring of cap; those
 * that no longer fit are counted as dropped. 0, or -ENOMEM (the old queue stays).
 */
static int queue_resize(struct fg_fleet *f, size_t cap)
{
	struct fg_fleet_rec *q;
	size_t i, keep;

	if (cap == f->q_cap)
		return 0;
	q = calloc(cap, sizeof(*q));
	if (!q)
		return -ENOMEM;
	keep = f->q_len < cap ? f->q_len : cap;
	for (i = 0; i < keep; i++)
		q[i] = f->queue[(f->q_head + i) % f->q_cap];
	f->st.dropped += f->q_len - keep;
	free(f->queue);
	f->queue = q;
	f->q_cap = cap;
	f->q_head = 0;
	f->q_len = keep;
	return 0;
}

/* Send up to FLEET_BATCH queued bans, pipelined; they leave the queue once Redis took them. */
static void flush(struct fg_fleet *f)
{
	char msg[FG_FLEET_RECORD_MAX], key[128], a[64];
	__u64 now = fg_fleet_now_ms();
	redisReply *r;

	while (f->cmd && f->q_len > 0) {
		size_t n = f->q_len > FLEET_BATCH ? FLEET_BATCH : f->q_len, sent = 0, i;

		/* cppcheck 2.10 takes q_len for 0 here, though the loop guard says otherwise */
		// cppcheck-suppress knownConditionTrueFalse
		for (i = 0; i < n; i++) {
			const struct fg_fleet_rec *rec = &f->queue[(f->q_head + i) % f->q_cap];

			if (rec->end_ms <= now + 1)
				continue; /* ended while queued */
			fg_fleet_rec_format(msg, sizeof(msg), rec);
			fg_fleet_prefix(a, sizeof(a), &rec->cidr);
			snprintf(key, sizeof(key), "%s:ban:%s", f->cfg.ns, a);
			redisAppendCommand(f->cmd, "SET %s %s PX %llu", key, msg,
					   (unsigned long long)(rec->end_ms - now));
			redisAppendCommand(f->cmd, "PUBLISH %s:bans %s", f->cfg.ns, msg);
			sent++;
		}
		for (i = 0; i < 2 * sent; i++) {
			r = NULL;
			if (redisGetReply(f->cmd, (void **)&r) != REDIS_OK) {
				reply_ok(f, f->cmd, NULL, "publish");
				return;
			}
			if (!reply_ok(f, f->cmd, r, "publish")) {
				freeReplyObject(r);
				return;
			}
			freeReplyObject(r);
		}
		f->st.published += sent;
		f->q_head = (f->q_head + n) % f->q_cap;
		f->q_len -= n;
		f->last_ping = now;
	}
}

/* Queue and send one local automatic ban made at tick `at`. */
static void publish_ban(struct fg_fleet *f, __u8 family, __u8 plen, const __u8 *addr, __u64 at,
			__u64 expires)
{
	struct fg_fleet_rec r = { .cidr = { .family = family, .plen = plen } };
	__u64 now, now_ms = fg_fleet_now_ms();

	if (tick_now(f, &now) || expires <= now)
		return;
	memcpy(r.cidr.addr, addr, sizeof(r.cidr.addr));
	snprintf(r.origin, sizeof(r.origin), "%s", f->cfg.node);
	/* the ban's own time, so the age other nodes measure includes the event's way here */
	r.at_ms = now_ms - (now > at ? (now - at) * 1000 / f->hz : 0);
	r.end_ms = now_ms + (expires - now) * 1000 / f->hz;
	/* sent at the loop's next turn (fg_fleet_tick), pipelined with the rest of its batch */
	queue_push(f, &r);
}

/* --- the publish sweep: what the event ring did not carry --- */

/* A ban as the sweep and the event path both see it: its key and creation tick, hashed (never 0). */
static __u64 ban_hash(__u8 family, __u8 plen, const __u8 *addr, __u64 created)
{
	__u64 h = 1469598103934665603ULL ^ created;
	unsigned int i;

	h = (h ^ family) * 1099511628211ULL;
	h = (h ^ plen) * 1099511628211ULL;
	for (i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 1099511628211ULL;
	return h ? h : 1;
}

/*
 * Remember (insert, with its creation tick) or look up h in the
 * open-addressed set; full: not remembered (published twice, harmless).
 */
static bool seen_set(struct fg_fleet *f, __u64 h, __u64 created, bool insert)
{
	size_t i = h % FLEET_SEEN, n;

	for (n = 0; n < FLEET_SEEN; n++, i = (i + 1) % FLEET_SEEN) {
		if (f->seen[i].h == h)
			return true;
		if (!f->seen[i].h) {
			if (insert && f->n_seen < FLEET_SEEN / 2) {
				f->seen[i].h = h;
				f->seen[i].created = created;
				f->n_seen++;
			}
			return false;
		}
	}
	return false;
}

void fg_fleet_local_ban(struct fg_fleet *f, __u8 family, __u8 plen, const __u8 *addr, __u64 at,
			__u64 expires)
{
	if (!f || (f->cfg.publish != FG_PUB_AUTO && f->cfg.publish != FG_PUB_BOTH))
		return;
	seen_set(f, ban_hash(family, plen, addr, at), at, true); /* the sweep leaves it alone */
	publish_ban(f, family, plen, addr, at, expires);
}

/* The automatic ban of k ending at `expires` was applied from the fleet (never republished). */
static bool from_fleet(const struct fg_fleet *f, const struct fg_ban_key *k, __u64 expires)
{
	struct fg_fleet_ban fb;

	return !bpf_map_lookup_elem(f->fleet_fd, k, &fb) && fb.expires == expires;
}

/* fg_bans walk: automatic bans created after pub_tick, still running, made here. */
struct pub_walk {
	struct fg_fleet *f; /* the fleet */
	__u64 now, since;   /* current tick, pub_tick at the start */
	__u64 until;	    /* bans created later are left to their events for now */
	__u64 newest;	    /* latest creation tick seen */
};

static int pub_chunk(const void *keys, const void *vals, __u32 n, void *ctx)
{
	const struct fg_ban_key *k = keys;
	const struct fg_ban *v = vals;
	struct pub_walk *w = ctx;
	__u32 i;

	for (i = 0; i < n; i++) {
		if (v[i].created <= w->since)
			continue;
		if (v[i].created > w->until) {
			/* young: its event is likely on its way; the next sweep sees it */
			if (v[i].expires > w->now && !from_fleet(w->f, &k[i], v[i].expires) &&
			    !seen_set(w->f, ban_hash(k[i].family, k[i].plen, k[i].addr, v[i].created),
				      0, false))
				w->f->sweep_again = true;
			continue;
		}
		/* walked past, whatever it is: fleet bans are not looked at again every second */
		if (v[i].created > w->newest)
			w->newest = v[i].created;
		if (v[i].expires <= w->now || from_fleet(w->f, &k[i], v[i].expires))
			continue;
		if (seen_set(w->f, ban_hash(k[i].family, k[i].plen, k[i].addr, v[i].created), 0,
			     false))
			continue; /* its event published it */
		publish_ban(w->f, k[i].family, k[i].plen, k[i].addr, v[i].created, v[i].expires);
		w->f->sweep_again = true;
	}
	return 0;
}

/* fg_list_read's order: family, address, length. */
static int entry_cmp(const struct fg_list_entry *a, const struct fg_list_entry *b)
{
	return fg_cidr_cmp(&a->cidr, &b->cidr);
}

/*
 * After a sweep: forget what it walked past (created up to `until`, and
 * every manual ban: the sweep's own list holds those now); keep younger
 * bans, which the next sweep will meet.
 */
static void seen_forget(struct fg_fleet *f, __u64 until)
{
	struct seen *keep = NULL;
	size_t n = 0, i;

	if (f->n_seen)
		keep = malloc(f->n_seen * sizeof(*keep));
	for (i = 0; keep && i < FLEET_SEEN; i++)
		if (f->seen[i].h && f->seen[i].created > until)
			keep[n++] = f->seen[i];
	memset(f->seen, 0, sizeof(f->seen));
	f->n_seen = 0;
	for (i = 0; i < n; i++)
		seen_set(f, keep[i].h, keep[i].created, true);
	free(keep);
}

/* A manual ban as fg_fleet_q and the sweep both see it: its key and end tick (never 0). */
static __u64 manual_hash(const struct fg_ban_key *k, __u64 expires)
{
	/* the bit keeps it apart from an automatic ban of the same key created at that tick */
	return ban_hash(k->family, k->plen, k->addr, expires) ^ (1ULL << 63);
}

/* The manual ban of k ending at `expires` is still in fg_lists (not lifted or replaced). */
static bool manual_held(const struct fg_fleet *f, const struct fg_ban_key *k, __u64 expires)
{
	struct fg_lpm_key lk = { .prefixlen = FG_LPM_HDR_BITS + k->plen, .family = k->family };
	struct fg_list_val v;

	memcpy(lk.addr, k->addr, sizeof(lk.addr));
	/* the longest match at the ban's own length: the ban itself when it is there */
	return !bpf_map_lookup_elem(f->m->lists, &lk, &v) && v.kind == FG_LIST_BAN &&
	       v.own_expires == expires;
}

/* The once-a-second look saw (and published) this ban already: it ran before the CLI noted it. */
static bool in_last_look(const struct fg_fleet *f, const struct fg_fleet_manual *e)
{
	struct fg_list_entry k = { .cidr = { .family = e->key.family, .plen = e->key.plen } };
	size_t lo = 0, hi = f->n_manual;

	memcpy(k.cidr.addr, e->key.addr, sizeof(k.cidr.addr));
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = entry_cmp(&f->manual[mid], &k);

		if (!d)
			return f->manual[mid].expires == e->expires;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Publish the manual bans the CLI noted in fg_fleet_q (publish manual or
 * both; else they are dropped): one pop each, no walk of fg_lists. Each is
 * remembered, so the once-a-second look does not send it again.
 */
static void manual_drain(struct fg_fleet *f)
{
	bool pub_manual = f->cfg.publish == FG_PUB_MANUAL || f->cfg.publish == FG_PUB_BOTH;
	struct fg_fleet_manual e;
	__u64 now, now_ms = fg_fleet_now_ms();
	bool any = false;

	if (f->manual_fd < 0 || fg_now(f->m, &now))
		return;
	while (!bpf_map_lookup_and_delete_elem(f->manual_fd, NULL, &e)) {
		struct fg_fleet_rec r = { .cidr = { .family = e.key.family, .plen = e.key.plen } };

		if (!pub_manual || e.expires <= now || !manual_held(f, &e.key, e.expires) ||
		    in_last_look(f, &e))
			continue;
		seen_set(f, manual_hash(&e.key, e.expires), 0, true);
		if (e.published)
			continue; /* ban add --fleet sent it */
		memcpy(r.cidr.addr, e.key.addr, sizeof(r.cidr.addr));
		snprintf(r.origin, sizeof(r.origin), "%s", f->cfg.node);
		r.at_ms = e.at_ms;
		r.end_ms = e.end_ms;
		if (r.end_ms > now_ms + FG_FLEET_LONGEST_MS)
			r.end_ms = now_ms + FG_FLEET_LONGEST_MS;
		queue_push(f, &r);
		any = true;
	}
	if (any)
		flush(f);
}

/*
 * Once a second: automatic bans the event ring left out (its rate limit,
 * ban_policy.events_per_second, or a full ring) and, for publish manual or
 * both, manual bans new since the last look. Bans younger than
 * FLEET_GRACE_MS wait for the next look: their events are most likely on
 * their way, and each ban goes out once. A ban published twice all the same
 * (an event later than that) is the same record twice: harmless.
 */
static void publish_sweep(struct fg_fleet *f)
{
	bool pub_auto = f->cfg.publish == FG_PUB_AUTO || f->cfg.publish == FG_PUB_BOTH;
	bool pub_manual = f->cfg.publish == FG_PUB_MANUAL || f->cfg.publish == FG_PUB_BOTH;
	struct fg_list_entry *v = NULL;
	struct pub_walk w = { .f = f, .until = UINT64_MAX };
	size_t n = 0, i, j = 0;
	__u64 now, grace;

	if (fg_now(f->m, &now))
		return;
	f->sweep_again = false;
	if (pub_auto) {
		w.now = now;
		grace = FLEET_GRACE_MS * f->hz / 1000;
		w.until = now > grace ? now - grace : 0;
		w.since = f->pub_tick;
		w.newest = f->pub_tick;
		fg_map_walk(f->m->bans, sizeof(struct fg_ban_key), sizeof(struct fg_ban), pub_chunk,
			    &w);
		f->pub_tick = w.newest;
	}
	manual_drain(f); /* what the CLI noted goes first, so the walk below skips it */
	if (!pub_manual || fg_list_read(f->m, &v, &n)) {
		free(v);
		seen_forget(f, w.until);
		return;
	}
	for (i = 0; i < n; i++) {
		struct fg_ban_key k = { .family = v[i].cidr.family, .plen = v[i].cidr.plen };
		struct fg_fleet_rec r = { .cidr = v[i].cidr };
		bool seen;

		/* manual bans that end: a ban without an end is not for the fleet (30 days at most) */
		if (v[i].kind != FG_LIST_BAN || !v[i].expires || v[i].expires <= now)
			continue;
		memcpy(k.addr, v[i].cidr.addr, sizeof(k.addr));
		if (from_fleet(f, &k, v[i].expires))
			continue;
		/* both lists are sorted: one merge pass finds what the last look saw */
		while (j < f->n_manual && entry_cmp(&f->manual[j], &v[i]) < 0)
			j++;
		seen = j < f->n_manual && !entry_cmp(&f->manual[j], &v[i]) &&
		       f->manual[j].expires == v[i].expires;
		if (seen || seen_set(f, manual_hash(&k, v[i].expires), 0, false))
			continue;
		snprintf(r.origin, sizeof(r.origin), "%s", f->cfg.node);
		r.at_ms = fg_fleet_now_ms();
		r.end_ms = r.at_ms + (v[i].expires - now) * 1000 / f->hz;
		if (r.end_ms - r.at_ms > FG_FLEET_LONGEST_MS)
			r.end_ms = r.at_ms + FG_FLEET_LONGEST_MS;
		queue_push(f, &r);
	}
	free(f->manual);
	f->manual = v;
	f->n_manual = n;
	seen_forget(f, w.until);
	flush(f);
}

/* --- connecting, resync --- */

static void try_connect(struct fg_fleet *f)
{
	char err[512];
	redisReply *r;

	f->sub = fg_fleet_connect(&f->cfg, FLEET_CONNECT_MS, err, sizeof(err));
	if (!f->sub) {
		disconnect(f, err);
		return;
	}
	f->cmd = fg_fleet_connect(&f->cfg, FLEET_CONNECT_MS, err, sizeof(err));
	if (!f->cmd) {
		disconnect(f, err);
		return;
	}
	/* subscribe first, then walk the keys: nothing published in between is missed */
	r = redisCommand(f->sub, "SUBSCRIBE %s:bans", f->cfg.ns);
	if (!reply_ok(f, f->sub, r, "subscribe")) {
		freeReplyObject(r);
		return;
	}
	freeReplyObject(r);
	f->scanning = true;
	f->walk++;
	f->walk_keys = 0;
	snprintf(f->cursor, sizeof(f->cursor), "0");
	f->st.connected = 1;
	f->st.since_ms = f->last_ping = fg_fleet_now_ms();
	f->backoff = FLEET_BACKOFF_MIN;
	f->err_logged = false;
	set_error(f, "");
	flog(LOG_NOTICE, "connected to %s as %s (namespace %s)", f->cfg.redis, f->cfg.node,
	     f->cfg.ns);
	status_write(f);
}

/* One SCAN step and the GETs of its keys, pipelined. */
static void scan_step(struct fg_fleet *f)
{
	redisReply *r, *keys, *g;
	bool changed = false;
	unsigned int gone;
	size_t i;

	r = redisCommand(f->cmd, "SCAN %s MATCH %s:ban:* COUNT %d", f->cursor, f->cfg.ns,
			 FLEET_SCAN_COUNT);
	if (!reply_ok(f, f->cmd, r, "scan")) {
		freeReplyObject(r);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		disconnect(f, "scan: unexpected reply");
		return;
	}
	snprintf(f->cursor, sizeof(f->cursor), "%s", r->element[0]->str);
	keys = r->element[1];
	batch_start(f);
	for (i = 0; i < keys->elements; i++)
		if (keys->element[i]->type == REDIS_REPLY_STRING)
			redisAppendCommand(f->cmd, "GET %b", keys->element[i]->str,
					   (size_t)keys->element[i]->len);
	for (i = 0; i < keys->elements; i++) {
		if (keys->element[i]->type != REDIS_REPLY_STRING)
			continue;
		g = NULL;
		if (redisGetReply(f->cmd, (void **)&g) != REDIS_OK) {
			freeReplyObject(r);
			reply_ok(f, f->cmd, NULL, "get");
			received_done(f, changed); /* what came before it */
			return;
		}
		if (g->type == REDIS_REPLY_STRING) {
			f->walk_keys++;
			receive(f, g->str, g->len, &changed);
		}
		freeReplyObject(g);
	}
	received_done(f, changed);
	if (!strcmp(f->cursor, "0")) {
		f->scanning = false;
		/* no key at all: a Redis that lost them (restarted empty) lifts nothing */
		if (!f->walk_keys && f->st.active) {
			flog(LOG_WARNING,
			     "resync done: Redis holds no ban at all; the %" PRIu64 " fleet bans "
			     "here stay to their ends (restarted empty?)",
			     (uint64_t)f->st.active);
		} else {
			gone = lift_unwalked(f);
			flog(LOG_INFO,
			     "resync done: %" PRIu64 " fleet bans in force, %u lifted (their keys "
			     "are gone)",
			     (uint64_t)f->st.active, gone);
		}
	}
	freeReplyObject(r);
}

/* Remove ended fleet bans from fg_fleet; count what is left. */
static void sweep(struct fg_fleet *f)
{
	struct fg_ban_key k, next, *prev = NULL;
	struct fg_fleet_ban fb;
	__u64 now, active = 0, in_trie = 0;

	if (fg_now(f->m, &now))
		return;
	while (!bpf_map_get_next_key(f->fleet_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(f->fleet_fd, &k, &fb))
			continue;
		if (fb.expires <= now) {
			bpf_map_delete_elem(f->fleet_fd, &k);
		} else {
			active++;
			in_trie += fb.in_trie;
		}
	}
	f->st.active = active;
	f->in_trie = in_trie;
}

/*
 * The data path could not record some ban events (ring full, or its rate
 * limit): their bans wait for the publish sweep, so bring it forward to
 * FLEET_GRACE_MS from now (automatic bans only; one per-CPU read).
 */
static void events_lost_check(struct fg_fleet *f, __u64 now)
{
	struct fg_count lost;

	if (f->cfg.publish != FG_PUB_AUTO && f->cfg.publish != FG_PUB_BOTH)
		return;
	if (fg_percpu_sum(f->m, f->m->counters, FG_C_EVENTS_LOST, &lost, sizeof(lost)) ||
	    lost.packets == f->events_lost)
		return;
	f->events_lost = lost.packets;
	f->storm = true;
	if (f->next_pub_sweep > now + FLEET_GRACE_MS)
		f->next_pub_sweep = now + FLEET_GRACE_MS;
}

int fg_fleet_tick(struct fg_fleet *f)
{
	__u64 now = fg_fleet_now_ms(), wait;
	redisReply *r;

	if (!f)
		return -1;
	if (now - f->last_sweep >= FLEET_SWEEP_MS) {
		f->last_sweep = now;
		sweep(f);
	}
	trie_flush(f, false); /* a queue a writer's lock held up (a writer's close wakes it sooner) */
	events_lost_check(f, now);
	if (now >= f->next_pub_sweep) {
		publish_sweep(f);
		/* a ban storm the ring could not carry: sweep again soon, until it is all out */
		f->storm = f->storm && f->sweep_again;
		f->next_pub_sweep = now + (f->storm ? FLEET_GRACE_MS : FLEET_SWEEP_EVERY);
	}
	if (!f->cmd && now >= f->next_connect)
		try_connect(f);
	if (f->cmd && f->scanning)
		scan_step(f);
	if (f->cmd)
		flush(f);
	if (f->cmd && now - f->last_ping >= FLEET_PING_MS) {
		f->last_ping = now;
		r = redisCommand(f->cmd, "PING");
		if (reply_ok(f, f->cmd, r, "ping"))
			freeReplyObject(r);
	}
	status_write(f);
	if (f->cmd && f->scanning)
		return 0;
	wait = f->next_pub_sweep > now ? f->next_pub_sweep - now : 0;
	if (!f->cmd && f->next_connect <= now)
		return 0;
	if (!f->cmd && f->next_connect - now < wait)
		wait = f->next_connect - now;
	else if (f->cmd && wait > FLEET_PING_MS)
		wait = FLEET_PING_MS;
	return (int)wait;
}

int fg_fleet_wake_fd(const struct fg_fleet *f)
{
	return f ? f->wake_fd : -1;
}

void fg_fleet_wake(struct fg_fleet *f)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (!f || f->wake_fd < 0)
		return;
	while (read(f->wake_fd, buf, sizeof(buf)) > 0)
		;	      /* one look covers every writer that finished */
	trie_flush(f, false); /* what waited for that writer's lock */
	manual_drain(f);
	status_write(f);
}

int fg_fleet_fd(const struct fg_fleet *f)
{
	return f && f->sub ? f->sub->fd : -1;
}

void fg_fleet_read(struct fg_fleet *f)
{
	bool changed = false;
	redisReply *r;

	if (!f || !f->sub)
		return;
	batch_start(f);
	if (redisBufferRead(f->sub) != REDIS_OK) {
		disconnect(f, f->sub->errstr[0] ? f->sub->errstr : "connection closed");
		return;
	}
	for (;;) {
		r = NULL;
		if (redisGetReplyFromReader(f->sub, (void **)&r) != REDIS_OK) {
			disconnect(f, "subscription: protocol error");
			break;
		}
		if (!r)
			break;
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    !strcmp(r->element[0]->str, "message") &&
		    r->element[2]->type == REDIS_REPLY_STRING)
			receive(f, r->element[2]->str, r->element[2]->len, &changed);
		freeReplyObject(r);
	}
	received_done(f, changed);
	status_write(f);
}

/* --- life cycle --- */

/*
 * Every writer (`ban add`, ...) holds the pin directory's lock file open
 * for writing and closes it when done: IN_CLOSE_WRITE on it wakes the
 * daemon right after a manual ban is in place, with no polling. Without
 * it the once-a-second look still finds manual bans.
 */
static void wake_setup(struct fg_fleet *f)
{
	char path[4096];
	int err;

	if ((err = fg_lock_path(path, sizeof(path)))) {
		flog(LOG_WARNING, "watch the writers' lock: %s: manual bans go out within a second",
		     strerror(-err));
		return;
	}
	f->wake_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->wake_fd < 0 || inotify_add_watch(f->wake_fd, path, IN_CLOSE_WRITE) < 0) {
		flog(LOG_WARNING, "watch %s: %s: manual bans go out within a second", path,
		     strerror(errno));
		if (f->wake_fd >= 0)
			close(f->wake_fd);
		f->wake_fd = -1;
	}
}

struct fg_fleet *fg_fleet_start(const struct fg_fleet_cfg *cfg, struct fg_maps *m)
{
	struct fg_fleet *f;
	__u64 now = fg_fleet_now_ms();

	if (!cfg || !cfg->enabled)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->queue = calloc(cfg->queue, sizeof(*f->queue));
	f->rules = calloc(1, sizeof(*f->rules));
	f->q_cap = cfg->queue;
	f->cfg = *cfg;
	f->m = m;
	f->hz = fg_hz(m);
	f->backoff = FLEET_BACKOFF_MIN;
	f->fleet_fd = fg_fleet_map_open(FG_FLEET_MAP, true);
	f->status_fd = fg_fleet_map_open(FG_FLEET_STATUS_MAP, true);
	f->manual_fd = fg_fleet_map_open(FG_FLEET_MANUAL_MAP, true);
	f->wake_fd = -1;
	if (!f->queue || !f->rules || f->fleet_fd < 0 || f->status_fd < 0 || f->manual_fd < 0) {
		fg_fleet_stop(f);
		return NULL;
	}
	wake_setup(f);
	f->walk = (__u32)now; /* not a number an earlier daemon's walk left in fg_fleet */
	f->st.since_ms = now;
	f->last_sweep = now;
	f->next_pub_sweep = now + FLEET_SWEEP_EVERY;
	/* noted before this start: the first look publishes every manual ban in force anyway */
	while (!bpf_map_lookup_and_delete_elem(f->manual_fd, NULL, &(struct fg_fleet_manual){}))
		;
	/* automatic bans made before the start went out with the daemon that saw them, or not */
	if (fg_now(m, &f->pub_tick))
		f->pub_tick = 0;
	sweep(f);
	status_write(f);
	return f;
}

void fg_fleet_stop(struct fg_fleet *f)
{
	if (!f)
		return;
	trie_flush(f, true);
	if (f->status_fd >= 0) {
		f->st.connected = 0;
		f->st.since_ms = fg_fleet_now_ms();
		set_error(f, "the daemon stopped");
		status_write(f);
	}
	redisFree(f->sub);
	redisFree(f->cmd);
	if (f->fleet_fd >= 0)
		close(f->fleet_fd);
	if (f->status_fd >= 0)
		close(f->status_fd);
	if (f->manual_fd >= 0)
		close(f->manual_fd);
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	free(f->queue);
	free(f->rules);
	free(f->manual);
	free(f->pend);
	free(f->lview);
	free(f);
}

void fg_fleet_reconfig(struct fg_fleet **pf, const struct fg_fleet_cfg *cfg, struct fg_maps *m)
{
	struct fg_fleet *f = *pf;
	unsigned int n;

	if (!f) {
		*pf = fg_fleet_start(cfg, m);
		return;
	}
	if (!cfg->enabled) {
		fg_fleet_stop(f);
		*pf = NULL;
		return;
	}
	if (strcmp(cfg->redis, f->cfg.redis) || strcmp(cfg->password_file, f->cfg.password_file) ||
	    strcmp(cfg->ns, f->cfg.ns)) {
		f->cfg = *cfg;
		redisFree(f->sub);
		redisFree(f->cmd);
		f->sub = f->cmd = NULL;
		f->st.connected = 0;
		f->next_connect = 0; /* at the next turn */
		f->backoff = FLEET_BACKOFF_MIN;
	}
	if (queue_resize(f, cfg->queue)) {
		flog(LOG_ERR, "queue: %u entries: out of memory: it keeps %zu", cfg->queue, f->q_cap);
		f->cfg = *cfg;
		f->cfg.queue = f->q_cap;
	} else {
		f->cfg = *cfg;
	}
	f->m = m;
	f->hz = fg_hz(m);
	batch_start(f);
	n = lift_narrowed(f);
	if (n)
		flog(LOG_NOTICE,
		     "reload: %u fleet bans lifted (the fleet section refuses them now)", n);
	status_write(f);
}

/* --- metrics --- */

void fg_fleet_metrics(void *ctx, FILE *out)
{
	struct fg_fleet *f = ctx;
	__u64 cum = 0;
	unsigned int i;

	if (!f)
		return;
	fprintf(out,
		"# HELP floodgate_fleet_connected 1 when the daemon talks to the fleet's Redis.\n"
		"# TYPE floodgate_fleet_connected gauge\n"
		"floodgate_fleet_connected %u\n",
		f->st.connected);
	fprintf(out,
		"# HELP floodgate_fleet_bans_published_total Local bans published to the fleet.\n"
		"# TYPE floodgate_fleet_bans_published_total counter\n"
		"floodgate_fleet_bans_published_total %" PRIu64 "\n",
		(uint64_t)f->st.published);
	fprintf(out,
		"# HELP floodgate_fleet_bans_received_total Bans of other nodes applied here.\n"
		"# TYPE floodgate_fleet_bans_received_total counter\n"
		"floodgate_fleet_bans_received_total %" PRIu64 "\n",
		(uint64_t)f->st.received);
	fprintf(out, "# HELP floodgate_fleet_bans_rejected_total Fleet records refused, by "
		     "reason.\n"
		     "# TYPE floodgate_fleet_bans_rejected_total counter\n");
	for (i = 0; i < FG_REJ_MAX; i++)
		fprintf(out, "floodgate_fleet_bans_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
			fg_fleet_reject_name(i), (uint64_t)f->st.rejected[i]);
	fprintf(out,
		"# HELP floodgate_fleet_bans_active Fleet bans applied here now.\n"
		"# TYPE floodgate_fleet_bans_active gauge\n"
		"floodgate_fleet_bans_active %" PRIu64 "\n",
		(uint64_t)f->st.active);
	fprintf(out,
		"# HELP floodgate_fleet_queue_dropped_total Local bans lost because the outage "
		"queue was full.\n"
		"# TYPE floodgate_fleet_queue_dropped_total counter\n"
		"floodgate_fleet_queue_dropped_total %" PRIu64 "\n",
		(uint64_t)f->st.dropped);
	fprintf(out, "# HELP floodgate_fleet_ban_age_seconds How old received bans were on "
		     "arrival.\n"
		     "# TYPE floodgate_fleet_ban_age_seconds histogram\n");
	for (i = 0; i < FLEET_HIST_BUCKETS; i++) {
		cum += f->hist[i];
		fprintf(out, "floodgate_fleet_ban_age_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			hist_le[i], (uint64_t)cum);
	}
	cum += f->hist[FLEET_HIST_BUCKETS];
	fprintf(out, "floodgate_fleet_ban_age_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
		(uint64_t)cum);
	fprintf(out, "floodgate_fleet_ban_age_seconds_sum %.6f\n", f->hist_sum);
	fprintf(out, "floodgate_fleet_ban_age_seconds_count %" PRIu64 "\n", (uint64_t)cum);
}
