// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * events.c: `floodgate events [--follow]`, and how an event is written
 * down (the daemon's log uses the same lines).
 *
 * The ring buffer has one consumer position, and the daemon owns it: it
 * consumes every event to log it. This command only peeks: it maps the
 * ring read-only and walks the records from the consumer position on
 * with a position of its own, never moving the shared one. So it cannot
 * steal events from the daemon, and killing it (even with -9) changes
 * nothing. If it falls more than a ring's worth behind a consuming
 * daemon, records it had not read yet may have been overwritten: it sees
 * that from the producer position, skips to the consumer position and
 * says so.
 */
#include <stdio.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include <linux/bpf.h>

#include "util.h"
#include "maps.h"
#include "cli.h"
#include "cmds.h"
#include "metrics.h"

#define FG_FOLLOW_MS 100 /* --follow: how often to look for new records */

const char *fg_event_type_name(__u32 type)
{
	switch (type) {
	case FG_EV_BAN:
		return "ban";
	case FG_EV_ATTACK_ON:
		return "under_attack_on";
	case FG_EV_ATTACK_OFF:
		return "under_attack_off";
	}
	return "unknown";
}

void fg_tick_to_wall(char *buf, size_t len, __u64 tick, __u64 ref_tick, __u64 ref_ns, __u64 hz)
{
	__u64 ns, back;
	struct tm tm;
	time_t sec;
	char date[32];

	if (!hz || !ref_ns) {
		snprintf(buf, len, "-");
		return;
	}
	/* ticks before the reference moment are the common case; later ones come from other CPUs */
	if (tick <= ref_tick) {
		back = (ref_tick - tick) * (1000000000ULL / hz);
		ns = back < ref_ns ? ref_ns - back : 0;
	} else {
		ns = ref_ns + (tick - ref_tick) * (1000000000ULL / hz);
	}
	sec = ns / 1000000000ULL;
	gmtime_r(&sec, &tm);
	if (!strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "-"); /* a year beyond the buffer: no date rather than garbage */
		return;
	}
	snprintf(buf, len, "%s.%03uZ", date, (unsigned int)(ns % 1000000000ULL / 1000000));
}

void fg_event_describe(const struct fg_event *ev, const struct fg_config *cfg, __u64 ref_tick,
		       __u64 ref_ns, __u64 hz, struct fg_event_text *t)
{
	memset(t, 0, sizeof(*t));
	fg_tick_to_wall(t->time, sizeof(t->time), ev->tick, ref_tick, ref_ns, hz);
	if (ev->type != FG_EV_BAN)
		return;
	if (ev->family == FG_FAM_IPV4 || ev->family == FG_FAM_IPV6)
		fg_format_cidr(t->addr, sizeof(t->addr), ev->family, ev->addr, ev->plen);
	else
		snprintf(t->addr, sizeof(t->addr), "family%u", ev->family);
	fg_rule_label(t->endpoint, sizeof(t->endpoint), cfg, ev->rule);
	t->seconds = hz ? (ev->duration + hz - 1) / hz : 0;
}

char *fg_event_line(char *buf, size_t len, const struct fg_event *ev, const struct fg_event_text *t,
		    bool json)
{
	char dur[32];

	if (json) {
		json_object *o = json_object_new_object();

		json_object_object_add(
			o, "time", strcmp(t->time, "-") ? json_object_new_string(t->time) : NULL);
		json_object_object_add(o, "tick", json_object_new_uint64(ev->tick));
		json_object_object_add(o, "type",
				       json_object_new_string(fg_event_type_name(ev->type)));
		if (ev->type == FG_EV_BAN) {
			json_object_object_add(o, "address", json_object_new_string(t->addr));
			json_object_object_add(o, "prefix_length", json_object_new_int(ev->plen));
			json_object_object_add(o, "endpoint", json_object_new_string(t->endpoint));
			json_object_object_add(o, "rule", json_object_new_int(ev->rule));
			json_object_object_add(o, "strikes", json_object_new_int64(ev->strikes));
			json_object_object_add(o, "duration", json_object_new_uint64(t->seconds));
		}
		json_object_object_add(o, "cpu", json_object_new_int64(ev->cpu));
		snprintf(buf, len, "%s",
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return buf;
	}
	if (ev->type == FG_EV_BAN)
		snprintf(buf, len, "%s ban %s endpoint %s strikes %u for %s cpu %u", t->time,
			 t->addr, t->endpoint, ev->strikes,
			 fg_format_duration(dur, sizeof(dur), t->seconds), ev->cpu);
	else
		snprintf(buf, len, "%s %s cpu %u", t->time, fg_event_type_name(ev->type), ev->cpu);
	return buf;
}

/* A read-only view of the ring buffer with a position of its own. */
struct ring_peek {
	int fd;	     /* fg_events, opened read-write (the kernel maps no read-only fd) */
	size_t page; /* page size */
	size_t size; /* data area bytes (a power of 2) */
	const unsigned long *cons; /* consumer position (the daemon's) */
	const unsigned long *prod; /* producer position */
	const __u8 *data;	   /* data area, mapped twice in a row so records never wrap */
	void *cons_map, *prod_map; /* the two mappings */
	unsigned long pos;	   /* next record to read */
};

static int peek_open(struct ring_peek *r)
{
	char path[4096];
	int err;

	memset(r, 0, sizeof(*r));
	r->cons_map = r->prod_map = MAP_FAILED;
	r->page = sysconf(_SC_PAGESIZE);
	if ((err = fg_pin_path(path, sizeof(path), "fg_events")))
		return err;
	r->fd = bpf_obj_get(path);
	if (r->fd < 0) {
		err = -errno;
		if (err == -EACCES || err == -EPERM)
			return error("%s: %s (events need write access to this pin even to read: "
				     "run as root)",
				     path, strerror(-err)),
			       err;
		return error("open %s: %s", path, strerror(-err)), err;
	}
	r->size = fg_map_capacity(r->fd);
	if (!r->size || (r->size & (r->size - 1))) {
		err = -EINVAL;
		error("%s: not a ring buffer", path);
		goto fail;
	}
	r->cons_map = mmap(NULL, r->page, PROT_READ, MAP_SHARED, r->fd, 0);
	r->prod_map = mmap(NULL, r->page + 2 * r->size, PROT_READ, MAP_SHARED, r->fd, r->page);
	if (r->cons_map == MAP_FAILED || r->prod_map == MAP_FAILED) {
		err = -errno;
		error("map %s: %s", path, strerror(-err));
		goto fail;
	}
	r->cons = r->cons_map;
	r->prod = r->prod_map;
	r->data = (const __u8 *)r->prod_map + r->page;
	r->pos = __atomic_load_n(r->cons, __ATOMIC_ACQUIRE);
	return 0;
fail:
	if (r->cons_map != MAP_FAILED)
		munmap(r->cons_map, r->page);
	if (r->prod_map != MAP_FAILED)
		munmap(r->prod_map, r->page + 2 * r->size);
	close(r->fd);
	r->fd = -1;
	return err;
}

static void peek_close(struct ring_peek *r)
{
	if (r->fd < 0)
		return;
	munmap(r->cons_map, r->page);
	munmap(r->prod_map, r->page + 2 * r->size);
	close(r->fd);
	r->fd = -1;
}

/*
 * Next complete record into *ev. Returns 1 with a record, 0 when there
 * is none yet, -ESTALE when the reader fell behind and skipped ahead.
 */
static int peek_next(struct ring_peek *r, struct fg_event *ev)
{
	for (;;) {
		unsigned long prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE), after;
		__u32 hdr, len;
		bool discard;

		if (r->pos >= prod)
			return 0;
		if (prod - r->pos > r->size)
			goto behind;
		hdr = __atomic_load_n((const __u32 *)(r->data + (r->pos & (r->size - 1))),
				      __ATOMIC_ACQUIRE);
		if (hdr & BPF_RINGBUF_BUSY_BIT)
			return 0; /* reserved, not yet submitted: records are read in order */
		discard = hdr & BPF_RINGBUF_DISCARD_BIT;
		len = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		if (!discard && len >= sizeof(*ev))
			memcpy(ev, r->data + (r->pos & (r->size - 1)) + BPF_RINGBUF_HDR_SZ,
			       sizeof(*ev));
		/* whatever was copied is only good if the producer had not come round to it */
		after = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE);
		if (after - r->pos > r->size)
			goto behind;
		r->pos += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
		if (!discard && len >= sizeof(*ev))
			return 1;
	}
behind:
	r->pos = __atomic_load_n(r->cons, __ATOMIC_ACQUIRE);
	return -ESTALE;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void events_usage(FILE *f)
{
	fprintf(f, "Ban and under-attack events from the ring buffer, one line each (JSON lines\n"
		   "with -j). Without --follow: the events not yet consumed, then exit. With\n"
		   "--follow: those, then new ones as they come, until interrupted.\n"
		   "\n"
		   "The daemon (floodgate run) consumes and logs every event; this command only\n"
		   "reads along, so it never takes events from the daemon's log. It needs write\n"
		   "access to the fg_events pin (the kernel maps no read-only ring buffer).\n"
		   "\n"
		   "  -f, --follow   keep printing new events\n");
}

static const struct fg_opt events_opts[] = {
	{ .name = "follow", .letter = 'f' },
	{},
};

static int events_run(const struct fg_args *a)
{
	static const struct timespec nap = { .tv_nsec = FG_FOLLOW_MS * 1000000L };
	struct sigaction sa = { .sa_handler = on_signal };
	struct fg_snapshot_time {
		__u64 tick, ns;
	} ref = {};
	struct fg_config *cfg = NULL;
	struct ring_peek r = { .fd = -1 };
	bool follow = a->opt[0], gone = false; /* gone: the pins vanished, said once */
	struct fg_maps m;
	int ret = FG_EXIT_ERR, n;
	__u64 hz;

	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	if (peek_open(&r))
		goto out;
	hz = fg_hz(&m);
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		goto out;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (;;) {
		struct fg_event ev;
		struct timespec ts;
		__u32 slot;
		bool any = false;

		while ((n = peek_next(&r, &ev)) != 0) {
			struct fg_event_text t;
			char line[512];

			if (n == -ESTALE) {
				warning("events: fell behind the ring buffer; skipped to the "
					"oldest event still there");
				continue;
			}
			if (!any) {
				/* one reference per batch: the rule names and clock of the moment */
				slot = m.st->slot & 1;
				if (!fg_state_read(&m, m.st))
					slot = m.st->slot & 1;
				if (bpf_map_lookup_elem(m.config, &slot, cfg))
					memset(cfg, 0, sizeof(*cfg));
				ref.tick = ref.ns = 0;
				if (m.clock >= 0 && !fg_now(&m, &ref.tick)) {
					clock_gettime(CLOCK_REALTIME, &ts);
					ref.ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
				}
				any = true;
			}
			fg_event_describe(&ev, cfg, ref.tick, ref.ns, hz, &t);
			puts(fg_event_line(line, sizeof(line), &ev, &t, fg_opts.json));
		}
		fflush(stdout);
		if (!follow || stop)
			break;
		/* a signal cuts the sleep short (EINTR): stop is checked right after */
		nanosleep(&nap, NULL);
		if (stop)
			break;
		n = fg_maps_follow(&m, false, &gone, "events");
		if (n == -ENOENT)
			continue; /* the old ring holds nothing new */
		if (n < 0)
			goto out;
		if (n) { /* a new ring: its events from the first */
			peek_close(&r);
			if (peek_open(&r))
				goto out;
			r.pos = 0;
			hz = fg_hz(&m);
		}
	}
	ret = FG_EXIT_OK;
out:
	free(cfg);
	peek_close(&r);
	fg_maps_close(&m);
	return ret;
}

const struct fg_cmd fg_cmd_events = {
	.name = "events",
	.opts = events_opts,
	.run = events_run,
	.usage = events_usage,
	.help = "events [--follow]: ban and under-attack events",
};
