// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * run.c: `floodgate run`, the daemon. Attaches to the config's
 * interfaces, applies the config, then runs one single-threaded event
 * loop over: the metrics server (libmicrohttpd without threads of its
 * own), the ban event ring buffer (logged to stderr with syslog priority
 * prefixes for journald), signals (SIGHUP reloads, SIGTERM and SIGINT
 * stop) and a one-second timer for housekeeping (expiring manual bans,
 * forgetting old strikes, summaries of what the log left out). One
 * thread means a reload never races a scrape or the log.
 *
 * Nothing the data path needs lives in this process: the program, its
 * links and maps are pinned, so stopping or killing the daemon leaves
 * floodgate enforcing.
 */
#include <stdio.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>

#include "util.h"
#include "maps.h"
#include "lists.h"
#include "bans.h"
#include "attach.h"
#include "config.h"
#include "cli.h"
#include "cmds.h"
#include "metrics.h"
#include "fleet.h"

#define FG_LOG_BANS_PER_SEC 20	  /* ban lines per second; the rest go into a summary */
#define FG_EXPIRE_EVERY	    5	  /* seconds between removals of ended manual bans */
#define FG_FORGET_EVERY	    60	  /* seconds between sweeps of old strike records */
#define FG_LOCK_BUSY_WARN   30	  /* seconds a writer holds the lock before the log says so */
#define FG_FORGET_DEFAULT   86400 /* seconds, when the config does not say */

/* syslog priorities, as journald reads them from a "<N>" line prefix */
#define LOG_ERR	    3
#define LOG_WARNING 4
#define LOG_NOTICE  5
#define LOG_INFO    6

struct daemon {
	const char *config_path;       /* --config */
	const char *listen_opt;	       /* --metrics, NULL when not given */
	char listen[64];	       /* the address being served */
	struct fg_file_config cfg;     /* the config in force */
	bool have_cfg;		       /* cfg holds a loaded config */
	bool maps_open;		       /* m is open */
	struct fg_maps m;	       /* pinned maps, writable */
	struct fg_config *rules;       /* live rule set, for endpoint names in the log */
	struct fg_metrics_opts mopts;  /* what /metrics adds (top_n) */
	struct fg_metrics_memo memo;   /* mopts.memo: per-source series never go back */
	struct fg_metrics_cache body;  /* mopts.cache: one walk of the tables serves a crowd */
	struct fg_metrics_server *srv; /* the HTTP server */
	struct ring_buffer *rb;	       /* fg_events consumer */
	int ep, sigfd, timerfd;	       /* event loop */
	__u64 hz;		       /* ticks per second */
	__u64 ref_tick, ref_ns;	       /* clock reference for the events of one batch */
	bool ref_valid;		       /* ref_* read for the current batch */
	__u64 logged;		       /* ban lines in the current second */
	__u64 suppressed;	       /* ban events not logged in the current second */
	__u64 suppressed_total;	       /* since start */
	__u64 events_lost;	       /* FG_C_EVENTS_LOST at the last look */
	__u64 ticks;		       /* housekeeping seconds since start */
	bool expire_due;	       /* ended manual bans to remove (every FG_EXPIRE_EVERY s) */
	bool forget_due;	       /* old strikes to forget (every FG_FORGET_EVERY s) */
	unsigned int lock_busy;	       /* seconds those waited for a writer's lock */
	__u32 state_id;		       /* map id of the fg_state held, to notice new maps */
	bool pins_gone;		       /* the pins vanished (detach --all): said once */
	struct fg_fleet *fleet;	       /* bans shared through Redis, NULL without fleet: */
	int run_lock;		       /* fg_run_lock's fd: one daemon per pin directory */
};

/*
 * Warnings of the code the daemon shares with the commands, with the
 * journal's priority prefix; errors stay unprefixed (SyslogLevel=err).
 */
static void daemon_report(void *ctx, bool warn, const char *msg)
{
	fprintf(stderr, "%s%s: %s\n", warn ? "<4>" : "", warn ? "warning" : "error", msg);
}

static void logp(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logp(int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* one write per line, so lines of concurrent writers never interleave */
	fprintf(stderr, "<%d>%s\n", prio, buf);
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	n = strlen(path);
	if (n >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   offsetof(struct sockaddr_un, sun_path) + n) < 0)
		logp(LOG_WARNING, "notify systemd (%s): %s", path, strerror(errno));
	close(fd);
}

static void refresh_rules(struct daemon *d)
{
	__u32 slot;
	struct fg_state st;

	if (fg_state_read(&d->m, &st))
		return;
	slot = st.slot & 1;
	if (bpf_map_lookup_elem(d->m.config, &slot, d->rules))
		memset(d->rules, 0, sizeof(*d->rules));
}

static int loop_add(int ep, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e))
		return error("epoll: %s", strerror(errno)), -errno;
	return 0;
}

/* --- the ban log --- */

static int on_event(void *ctx, void *data, size_t size)
{
	struct daemon *d = ctx;
	struct fg_event ev;
	struct fg_event_text t;
	char line[512];

	if (size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	if (!d->ref_valid) {
		struct timespec ts;

		d->ref_tick = d->ref_ns = 0;
		if (!fg_now(&d->m, &d->ref_tick)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			d->ref_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
		}
		d->ref_valid = true;
	}
	if (ev.type == FG_EV_BAN) /* published even when the log leaves it out */
		fg_fleet_local_ban(d->fleet, ev.family, ev.plen, ev.addr, ev.tick,
				   ev.tick + ev.duration);
	if (ev.type == FG_EV_BAN && d->logged >= FG_LOG_BANS_PER_SEC) {
		/* a flood of bans: count them, the timer writes one summary a second */
		d->suppressed++;
		d->suppressed_total++;
		return 0;
	}
	fg_event_describe(&ev, d->rules, d->ref_tick, d->ref_ns, d->hz, &t);
	fg_event_line(line, sizeof(line), &ev, &t, false);
	switch (ev.type) {
	case FG_EV_BAN:
		d->logged++;
		logp(LOG_WARNING, "%s", line);
		break;
	case FG_EV_ATTACK_ON:
		logp(LOG_ERR, "%s: new sources are charged to their coarse prefix", line);
		break;
	default:
		logp(LOG_NOTICE, "%s", line);
		break;
	}
	return 0;
}

static void consume_events(struct daemon *d)
{
	int n;

	d->ref_valid = false;
	n = ring_buffer__consume(d->rb);
	if (n < 0)
		logp(LOG_ERR, "read fg_events: %s", strerror(-n));
}

/* FG_C_EVENTS_LOST as it stands; unreadable, what was seen last (no news). */
static __u64 events_lost(const struct daemon *d)
{
	struct fg_count lost;

	if (fg_percpu_sum(&d->m, d->m.counters, FG_C_EVENTS_LOST, &lost, sizeof(lost)))
		return d->events_lost;
	return lost.packets;
}

static int apply(struct daemon *d, struct fg_file_config *c);

/*
 * Someone ran `detach --all` and maybe attached again: the maps this
 * daemon holds are no longer the ones the program uses. Follow the pins,
 * so metrics and the log stay true, and apply the config to them when they
 * hold the built-in rules (a plain attach); when there are none, say so once and keep the old maps (the daemon does not
 * attach on its own behind the operator's back; floodgate_interfaces_attached
 * says 0). Returns 0, or -errno when reopening failed.
 */
static int follow_pins(struct daemon *d)
{
	__u32 id = fg_pinned_state_id();
	struct ring_buffer *rb;
	struct fg_state st;
	struct fg_maps nm;

	if (id == d->state_id)
		return 0;
	if (!id) {
		if (!d->pins_gone)
			logp(LOG_WARNING,
			     "the pins in %s are gone (floodgate detach --all?): metrics "
			     "show the last state until they come back",
			     fg_opts.pin_dir);
		d->pins_gone = true;
		return 0;
	}
	if (fg_maps_moved(&d->m) == -EAGAIN)
		return 0; /* an attach under way: its maps once it is done */
	if (fg_maps_open(&nm, true))
		return -EIO;
	rb = ring_buffer__new(nm.events, on_event, d, NULL);
	if (!rb) {
		fg_maps_close(&nm);
		return error("read fg_events: %s", strerror(errno)), -errno;
	}
	epoll_ctl(d->ep, EPOLL_CTL_DEL, ring_buffer__epoll_fd(d->rb), NULL);
	ring_buffer__free(d->rb);
	d->rb = rb;
	if (loop_add(d->ep, ring_buffer__epoll_fd(d->rb)))
		logp(LOG_ERR, "events: cannot watch the new ring buffer");
	fg_maps_close(&d->m);
	d->m = nm; /* the metrics server reads through &d->m: the next scrape sees the new maps */
	fg_metrics_cache_free(&d->body); /* not the old maps' body */
	d->state_id = id;
	d->pins_gone = false;
	d->hz = fg_hz(&d->m);
	d->events_lost = events_lost(d);
	logp(LOG_NOTICE, "new maps pinned in %s (floodgate attached anew): following them",
	     fg_opts.pin_dir);
	/*
	 * An attach without --config left the built-in rules (generation 1):
	 * the config is what should run. A rule set of their own (attach
	 * --config, limit set) is the operator's: left as it is.
	 */
	if (fg_state_read(&d->m, &st) || st.generation > 1)
		logp(LOG_NOTICE,
		     "the new maps carry a rule set of their own: %s not applied (a reload "
		     "applies it)",
		     d->config_path);
	else if (apply(d, &d->cfg))
		logp(LOG_ERR, "applying %s to the new maps failed (above)", d->config_path);
	else
		logp(LOG_INFO, "applied %s to the new maps (they had the built-in rules)",
		     d->config_path);
	refresh_rules(d);
	return 0;
}

/* --- housekeeping, once a second --- */

static void housekeeping(struct daemon *d)
{
	__u64 lost, now, forget;
	int n;

	d->ticks++;
	fg_metrics_tick(d->srv);
	if (d->suppressed)
		logp(LOG_WARNING,
		     "bans: %" PRIu64 " more in the last second not logged one by one (limit %d/s; "
		     "%" PRIu64 " since start)",
		     (uint64_t)d->suppressed, FG_LOG_BANS_PER_SEC, (uint64_t)d->suppressed_total);
	d->suppressed = 0;
	d->logged = 0;
	lost = events_lost(d);
	if (lost > d->events_lost)
		logp(LOG_WARNING,
		     "events: %" PRIu64 " ban events not recorded by the data path (its "
		     "event rate limit, ban_policy.events_per_second, or a full ring)",
		     (uint64_t)(lost - d->events_lost));
	d->events_lost = lost;
	d->expire_due |= d->ticks % FG_EXPIRE_EVERY == 0;
	d->forget_due |= d->ticks % FG_FORGET_EVERY == 0;
	if (!d->expire_due && !d->forget_due)
		return;
	if (follow_pins(d) || d->pins_gone)
		return;
	if (fg_now(&d->m, &now))
		return;
	/*
	 * Not waiting for a writer (the loop would serve nothing meanwhile):
	 * what is due waits for the next second, said once a writer has held
	 * the lock for FG_LOCK_BUSY_WARN seconds
	 */
	if ((n = fg_maps_trylock(&d->m))) {
		if (n == -EWOULDBLOCK && ++d->lock_busy == FG_LOCK_BUSY_WARN)
			logp(LOG_WARNING,
			     "another floodgate command has held the writers' lock for %d s: "
			     "ended manual bans and old strikes wait for it",
			     FG_LOCK_BUSY_WARN);
		return;
	}
	d->lock_busy = 0;
	if (d->expire_due) {
		d->expire_due = false;
		n = fg_lists_expire(&d->m, now);
		if (n > 0)
			logp(LOG_INFO, "bans: %d manual bans ended and were removed", n);
		else if (n < 0)
			logp(LOG_ERR, "bans: removing ended manual bans failed: %s", strerror(-n));
	}
	forget = d->cfg.forget_after ? d->cfg.forget_after : FG_FORGET_DEFAULT;
	if (d->forget_due) {
		d->forget_due = false;
		n = fg_bans_forget(&d->m, now, forget * d->hz);
		if (n > 0)
			logp(LOG_INFO,
			     "bans: forgot the strikes of %d sources banned over %" PRIu64 " s ago",
			     n, (uint64_t)forget);
		else if (n < 0)
			logp(LOG_ERR, "bans: forgetting old strikes failed: %s", strerror(-n));
	}
	fg_maps_unlock(&d->m);
}

/* --- setup, reload --- */

static bool has_iface(const struct fg_file_config *c, const char *ifname)
{
	int i;

	for (i = 0; i < c->n_ifaces; i++)
		if (!strcmp(c->ifaces[i], ifname))
			return true;
	return false;
}

/*
 * Attach c's interfaces: at a reload (old, the config in force), those
 * old did not list, which must attach, and those it did that are not
 * attached any more (a detach by hand, an interface made anew), which are
 * tried: one that is gone or fails is logged and does not hold the reload
 * up (a hot-plugged NIC that is down must not block a rule change).
 * fresh[i]: c->ifaces[i] was attached here and was not before, whose link
 * undo_attach takes back when what follows fails. 0 or -errno after an
 * error line.
 */
static int attach_all(const struct fg_file_config *c, const struct fg_file_config *old,
		      bool fresh[FG_MAX_IFACES])
{
	static const char *const modes[] = { "auto", "native", "generic" };
	enum fg_mode used;
	int i, err;
	bool was;

	memset(fresh, 0, FG_MAX_IFACES * sizeof(*fresh));
	for (i = 0; i < c->n_ifaces; i++) {
		was = fg_iface_attached(c->ifaces[i]);
		if (old && has_iface(old, c->ifaces[i])) {
			if (was)
				continue; /* attached by the config before: nothing to do */
			if (!if_nametoindex(c->ifaces[i])) {
				logp(LOG_WARNING, "reload: %s is in the config but gone: left out",
				     c->ifaces[i]);
				continue;
			}
			logp(LOG_WARNING,
			     "reload: %s is in the config but not attached: attaching it",
			     c->ifaces[i]);
			if (fg_attach(c->ifaces[i], FG_MODE_AUTO, &c->sizes, &used)) {
				logp(LOG_ERR, "reload: attaching %s again failed (above)",
				     c->ifaces[i]);
				continue;
			}
		} else if ((err = fg_attach(c->ifaces[i], FG_MODE_AUTO, &c->sizes, &used))) {
			return err;
		}
		fresh[i] = !was;
		logp(LOG_INFO, "attached to %s in %s mode", c->ifaces[i],
		     modes[used <= FG_MODE_GENERIC ? used : 0]);
	}
	return 0;
}

/*
 * Detach what attach_all attached afresh: a start or reload that failed
 * leaves no interface attached that was not (the maps a first attach
 * pinned stay, as after `floodgate detach IFACE`).
 */
static void undo_attach(const struct fg_file_config *c, const bool fresh[FG_MAX_IFACES])
{
	int i;

	for (i = 0; i < c->n_ifaces; i++)
		if (fresh[i] && !fg_detach(c->ifaces[i]))
			logp(LOG_INFO, "detached %s again", c->ifaces[i]);
}

static int apply(struct daemon *d, struct fg_file_config *c)
{
	int err = fg_maps_lock(&d->m);

	if (!err)
		err = fg_config_apply(&d->m, c);
	fg_maps_unlock(&d->m);
	return err;
}

static void reload(struct daemon *d)
{
	bool fresh[FG_MAX_IFACES];
	struct fg_file_config nc;
	int bad, i;

	notify("RELOADING=1");
	/* maps pinned anew since the last look (every few seconds): the reload is for them */
	if (follow_pins(d))
		logp(LOG_ERR, "reload: the new maps in %s cannot be opened (above)", fg_opts.pin_dir);
	logp(LOG_INFO, "reload: reading %s", d->config_path);
	memset(&nc, 0, sizeof(nc));
	bad = fg_config_load(d->config_path, d->hz, &nc);
	if (bad) {
		if (bad > 0)
			logp(LOG_ERR, "reload: %s has %d error%s (above): the running config stays",
			     d->config_path, bad, bad == 1 ? "" : "s");
		else
			logp(LOG_ERR, "reload: %s cannot be read (above): the running config stays",
			     d->config_path);
		fg_config_free(&nc);
		goto out;
	}
	if (attach_all(&nc, &d->cfg, fresh)) {
		undo_attach(&nc, fresh);
		logp(LOG_ERR, "reload: attaching a new interface failed (above): the running "
			      "config stays");
		fg_config_free(&nc);
		goto out;
	}
	/* after a detach --all the attach pinned fresh maps: the config is for them */
	if (follow_pins(d))
		logp(LOG_ERR, "reload: the new maps in %s cannot be opened (above)", fg_opts.pin_dir);
	if (apply(d, &nc)) {
		undo_attach(&nc, fresh);
		logp(LOG_ERR, "reload: applying %s failed (above): the running config stays",
		     d->config_path);
		fg_config_free(&nc);
		goto out;
	}
	for (i = 0; i < d->cfg.n_ifaces; i++)
		if (!has_iface(&nc, d->cfg.ifaces[i]))
			logp(LOG_WARNING,
			     "reload: %s left the config but stays attached (floodgate detach %s)",
			     d->cfg.ifaces[i], d->cfg.ifaces[i]);
	if (!d->listen_opt && strcmp(nc.metrics[0] ? nc.metrics : FG_METRICS_DEFAULT, d->listen))
		logp(LOG_WARNING, "reload: the metrics address changes on restart only (%s stays)",
		     d->listen);
	if (memcmp(&nc.sizes, &d->cfg.sizes, sizeof(nc.sizes)))
		fg_config_warn_sizes(&d->m, &nc.sizes, d->config_path); /* the maps keep theirs */
	fg_config_free(&d->cfg);
	d->cfg = nc;
	d->mopts.top_n = nc.metrics_top;
	fg_fleet_reconfig(&d->fleet, &d->cfg.fleet, &d->m);
	d->mopts.extra_ctx = d->fleet;
	refresh_rules(d);
	fg_metrics_cache_free(&d->body); /* the next scrape shows the new rules */
	logp(LOG_INFO, "reload: %s applied (rule set generation %" PRIu64 ")", d->config_path,
	     (uint64_t)d->m.st->generation);
out:
	notify("READY=1");
}

/*
 * Keep only what the daemon still needs: CAP_BPF and CAP_PERFMON to load
 * the program and CAP_NET_ADMIN to attach it, both only for interfaces a
 * reload attaches (new in the config, or detached since; the maps go
 * through file descriptors already open). Everything else leaves the
 * bounding, permitted, effective, inheritable and ambient sets, and
 * no_new_privs stops any regaining through exec. Failing to drop is
 * logged, not fatal: under systemd the unit's CapabilityBoundingSet
 * already holds these three alone.
 */
static void drop_caps(void)
{
	const __u64 keep = (1ULL << CAP_BPF) | (1ULL << CAP_PERFMON) | (1ULL << CAP_NET_ADMIN);
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	unsigned int cap, last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	char line[32], *end;

	/* the running kernel may know more capabilities than our headers */
	if (f) {
		if (fgets(line, sizeof(line), f)) {
			unsigned long v;

			errno = 0;
			v = strtoul(line, &end, 10);
			if (!errno && end != line && (*end == '\n' || !*end) && v < 64)
				last = v;
		}
		fclose(f);
	}
	if (syscall(SYS_capget, &hdr, data)) {
		logp(LOG_WARNING, "capabilities: read: %s", strerror(errno));
		return;
	}
	for (cap = 0; cap <= last && cap < 64; cap++)
		if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			logp(LOG_WARNING, "capabilities: drop %u from the bounding set: %s", cap,
			     strerror(errno));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	data[0].effective &= (__u32)keep;
	data[1].effective &= (__u32)(keep >> 32);
	data[0].permitted &= (__u32)keep;
	data[1].permitted &= (__u32)(keep >> 32);
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data))
		logp(LOG_WARNING, "capabilities: drop: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		logp(LOG_WARNING, "no_new_privs: %s", strerror(errno));
}

/* The signals the loop reads from its signalfd, in *set. */
static void loop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/*
 * Blocked before the start's first change: a SIGTERM or SIGHUP while it
 * attaches and applies waits for the loop (the start finishes, the config
 * applied), instead of killing the daemon between the attach and the
 * apply with the interface on the built-in rules.
 */
static int block_signals(void)
{
	sigset_t set;

	loop_signals(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return error("block signals: %s", strerror(errno)), -errno;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) /* a client gone mid-reply is not our death */
		return error("ignore SIGPIPE: %s", strerror(errno)), -errno;
	return 0;
}

static int setup_loop(struct daemon *d)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	sigset_t set;

	loop_signals(&set);
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	if (d->sigfd < 0 || d->timerfd < 0 || d->ep < 0)
		return error("event loop: %s", strerror(errno)), -errno;
	if (timerfd_settime(d->timerfd, 0, &its, NULL))
		return error("timer: %s", strerror(errno)), -errno;
	if (loop_add(d->ep, d->sigfd) || loop_add(d->ep, d->timerfd) ||
	    loop_add(d->ep, ring_buffer__epoll_fd(d->rb)) || loop_add(d->ep, fg_metrics_fd(d->srv)))
		return -EIO;
	return 0;
}

/*
 * The fleet's fds: its subscription is a new fd after each reconnect, and
 * a reload may start a new fleet with a new wake-up fd: add them (a closed
 * fd left the epoll set on its own; EEXIST: the same one).
 */
static void watch_fleet(struct daemon *d)
{
	int fds[2] = { fg_fleet_fd(d->fleet), fg_fleet_wake_fd(d->fleet) }, i;

	for (i = 0; i < 2; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.fd = fds[i] };

		if (fds[i] >= 0 && epoll_ctl(d->ep, EPOLL_CTL_ADD, fds[i], &e) && errno != EEXIST)
			logp(LOG_ERR, "fleet: watch fd %d: %s", fds[i], strerror(errno));
	}
}

/* The loop; returns when asked to stop. */
static void serve(struct daemon *d)
{
	int timeout = fg_metrics_run(d->srv);

	for (;;) {
		struct epoll_event evs[8];
		int n, i, ft;

		ft = fg_fleet_tick(d->fleet);
		if (ft >= 0 && (timeout < 0 || ft < timeout))
			timeout = ft;
		watch_fleet(d);
		n = epoll_wait(d->ep, evs, 8, timeout);
		if (n < 0 && errno != EINTR) {
			logp(LOG_ERR, "event loop: %s", strerror(errno));
			return;
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == d->sigfd) {
				struct signalfd_siginfo si;

				while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						reload(d);
						continue;
					}
					logp(LOG_INFO,
					     "stopping on %s: the program stays attached and "
					     "enforcing (floodgate detach --all removes it)",
					     strsignal(si.ssi_signo));
					return;
				}
			} else if (fd == d->timerfd) {
				__u64 expirations;

				if (read(d->timerfd, &expirations, sizeof(expirations)) > 0)
					housekeeping(d);
			} else if (fd == ring_buffer__epoll_fd(d->rb)) {
				consume_events(d);
			} else if (fd == fg_fleet_fd(d->fleet)) {
				fg_fleet_read(d->fleet);
			} else if (fd == fg_fleet_wake_fd(d->fleet)) {
				fg_fleet_wake(d->fleet);
			}
		}
		/* every wake-up: connections may have timed out even without I/O */
		timeout = fg_metrics_run(d->srv);
	}
}

/* Room for the metrics server's connection limit: the soft open-file limit up to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"The daemon: attach to the config's interfaces (reusing pinned state), apply the\n"
		"config, then stay in the foreground serving Prometheus metrics on\n"
		"http://ADDR:PORT/metrics (default %s, or the config's metrics.listen),\n"
		"logging ban events to stderr with syslog priority prefixes, removing ended "
		"manual\n"
		"bans and forgetting old strikes. SIGHUP reloads the config atomically (a bad one\n"
		"is logged and the running one stays) and attaches the config's interfaces that\n"
		"are not; SIGTERM stops the daemon and leaves the program attached and enforcing.\n"
		"One daemon per pin directory. Tells systemd READY=1 when metrics are served.\n"
		"\n"
		"  -c, --config FILE          YAML config (floodgate.example.yaml)\n"
		"  -m, --metrics ADDR:PORT    listen here instead (127.0.0.1:9419, [::1]:9419)\n",
		FG_METRICS_DEFAULT);
}

enum { RUN_CONFIG, RUN_METRICS };

static const struct fg_opt run_opts[] = {
	[RUN_CONFIG] = { "config", 'c', "FILE", NULL, FG_OPT_REQUIRED },
	[RUN_METRICS] = { "metrics", 'm', "ADDR:PORT" },
	{},
};

/*
 * The daemon's state from its config: loaded, attached, applied, the
 * event ring and metrics server set up. 0, or -1 after an error line.
 */
static int daemon_start(struct daemon *d)
{
	int bad = fg_config_load(d->config_path, d->hz, &d->cfg);
	bool fresh[FG_MAX_IFACES];

	d->have_cfg = true;
	if (bad)
		return -1; /* printed by the loader: why the file cannot be read, or its problems */
	snprintf(d->listen, sizeof(d->listen), "%s",
		 d->listen_opt	     ? d->listen_opt
		 : d->cfg.metrics[0] ? d->cfg.metrics
				     : FG_METRICS_DEFAULT);
	d->mopts.top_n = d->cfg.metrics_top;
	d->mopts.memo = &d->memo;
	d->mopts.cache = &d->body;
	if (fg_bpffs_ensure() || (d->run_lock = fg_run_lock()) < 0)
		return -1;
	/* the port before any change: a daemon that cannot serve changes nothing (no request is
	 * read before serve(), when d->m is open) */
	if (fg_metrics_start(&d->srv, d->listen, &d->m, &d->mopts))
		return -1;
	if (!d->cfg.n_ifaces)
		logp(LOG_NOTICE, "%s lists no interfaces: serving the state already pinned in %s",
		     d->config_path, fg_opts.pin_dir);
	if (attach_all(&d->cfg, NULL, fresh) || fg_maps_open(&d->m, true)) {
		undo_attach(&d->cfg, fresh);
		return -1;
	}
	d->maps_open = true;
	d->hz = fg_hz(&d->m);
	d->events_lost = events_lost(d); /* lost before this start are no news */
	fg_config_warn_sizes(&d->m, &d->cfg.sizes, d->config_path); /* maps made before */
	if (apply(d, &d->cfg)) {
		undo_attach(&d->cfg, fresh);
		return error("run: applying %s failed (above)", d->config_path);
	}
	d->rules = calloc(1, sizeof(*d->rules));
	if (!d->rules)
		return error("run: out of memory");
	refresh_rules(d);
	d->state_id = fg_held_state_id(&d->m);
	d->rb = ring_buffer__new(d->m.events, on_event, d, NULL);
	if (!d->rb)
		return error("read fg_events: %s", strerror(errno));
	if (d->cfg.fleet.enabled && !(d->fleet = fg_fleet_start(&d->cfg.fleet, &d->m)))
		return error("run: fleet: cannot set up (above)");
	d->mopts.extra = fg_fleet_metrics;
	d->mopts.extra_ctx = d->fleet;
	return setup_loop(d);
}

static void daemon_stop(struct daemon *d)
{
	fg_fleet_stop(d->fleet);
	fg_metrics_stop(d->srv);
	fg_metrics_memo_free(&d->memo);
	fg_metrics_cache_free(&d->body);
	ring_buffer__free(d->rb);
	if (d->ep >= 0)
		close(d->ep);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->timerfd >= 0)
		close(d->timerfd);
	free(d->rules);
	if (d->maps_open)
		fg_maps_close(&d->m);
	if (d->have_cfg)
		fg_config_free(&d->cfg);
	fg_run_unlock(d->run_lock);
}

static int run_run(const struct fg_args *a)
{
	struct daemon d = { .ep = -1, .sigfd = -1, .timerfd = -1, .run_lock = -1 };
	unsigned char ss[128];
	int ret = FG_EXIT_ERR;
	unsigned int sl;
	char msg[256];

	d.config_path = a->opt[RUN_CONFIG];
	d.listen_opt = a->opt[RUN_METRICS];
	if (d.listen_opt && fg_parse_listen("run --metrics", d.listen_opt, ss, &sl))
		return FG_EXIT_ERR;
	(void)setvbuf(stderr, NULL, _IOLBF, 0); /* failing, stderr stays unbuffered: still fine */
	fg_set_report(daemon_report, NULL, NULL, NULL);
	raise_nofile();
	d.hz = fg_kernel_hz();
	if (block_signals() || daemon_start(&d))
		goto out;
	drop_caps();
	consume_events(&d); /* what piled up while no daemon ran */
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving metrics on %s\nMAINPID=%ld", d.listen,
		 (long)getpid());
	notify(msg);
	logp(LOG_INFO, "serving metrics on http://%s/metrics (port %u), %d interface%s, pins in %s",
	     d.listen, fg_metrics_port(d.srv), d.cfg.n_ifaces, d.cfg.n_ifaces == 1 ? "" : "s",
	     fg_opts.pin_dir);
	serve(&d);
	notify("STOPPING=1");
	ret = FG_EXIT_OK;
out:
	daemon_stop(&d);
	return ret;
}

const struct fg_cmd fg_cmd_run = {
	.name = "run",
	.opts = run_opts,
	.run = run_run,
	.usage = run_usage,
	.help = "run --config FILE [--metrics ADDR:PORT]: the daemon",
};
