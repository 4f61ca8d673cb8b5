// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * fleet_cmd.c: `floodgate fleet status`: what the daemon's fleet is doing,
 * read from the status it keeps pinned (fg_fleet_st, fleet_run.c).
 */
#include <stdio.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <json-c/json.h>

#include "util.h"
#include "fleet.h"
#include "cli.h"
#include "cmds.h"

static void fleet_usage(FILE *f)
{
	fprintf(f,
		"status: the fleet of the daemon (`floodgate run` with a fleet: section) using\n"
		"     this pin directory: the Redis address, connected or not and since when,\n"
		"     the node name and namespace, bans published, received, rejected by\n"
		"     reason, queued during an outage and dropped from a full queue, fleet\n"
		"     bans applied now, the age of the latest received bans on arrival (median,\n"
		"     p99, worst), and the last error. -j: one object with these fields.\n");
}

static int u32_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* Median, 99th percentile and worst of the kept arrival ages (ms); false when there are none. */
static bool ages(const struct fg_fleet_status *st, __u32 *med, __u32 *p99, __u32 *max)
{
	__u32 v[FG_FLEET_AGES];
	size_t n;

	if (!st->n_ages)
		return false;
	n = st->n_ages < FG_FLEET_AGES ? st->n_ages : FG_FLEET_AGES;
	memcpy(v, st->ages, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), u32_cmp);
	*med = v[(n - 1) / 2];
	*p99 = v[(n * 99 + 99) / 100 - 1];
	*max = v[n - 1];
	return true;
}

static int status_run(const struct fg_args *a)
{
	struct fg_fleet_status st;
	__u64 now = fg_fleet_now_ms(), since;
	__u32 med = 0, p99 = 0, max = 0;
	bool have_ages;
	unsigned int i;
	int err = fg_fleet_status_read(&st);

	if (err == -ENOENT)
		return error("fleet status: no fleet in %s (floodgate run with a fleet: section "
			     "in its config)",
			     fg_opts.pin_dir),
		       FG_EXIT_ERR;
	if (err == -EPROTO)
		return error("fleet status: %s/%s: written by another floodgate version (restart "
			     "floodgate run with this one)",
			     fg_opts.pin_dir, FG_FLEET_STATUS_MAP),
		       FG_EXIT_ERR;
	if (err)
		return error("fleet status: read %s/%s: %s", fg_opts.pin_dir, FG_FLEET_STATUS_MAP,
			     strerror(-err)),
		       FG_EXIT_ERR;
	since = now > st.since_ms ? (now - st.since_ms) / 1000 : 0;
	have_ages = ages(&st, &med, &p99, &max);
	if (fg_opts.json) {
		json_object *o = json_object_new_object(), *rej = json_object_new_object();

		json_object_object_add(o, "redis", json_object_new_string(st.cfg.redis));
		json_object_object_add(o, "node", json_object_new_string(st.cfg.node));
		json_object_object_add(o, "namespace", json_object_new_string(st.cfg.ns));
		json_object_object_add(
			o, "publish", json_object_new_string(fg_fleet_publish_name(st.cfg.publish)));
		json_object_object_add(o, "accept", json_object_new_boolean(st.cfg.accept));
		json_object_object_add(o, "connected", json_object_new_boolean(st.connected));
		json_object_object_add(o, "since", json_object_new_int64(st.since_ms / 1000));
		json_object_object_add(o, "published", json_object_new_int64(st.published));
		json_object_object_add(o, "received", json_object_new_int64(st.received));
		for (i = 0; i < FG_REJ_MAX; i++)
			json_object_object_add(rej, fg_fleet_reject_name(i),
					       json_object_new_int64(st.rejected[i]));
		json_object_object_add(o, "rejected", rej);
		json_object_object_add(o, "queued", json_object_new_int64(st.queued));
		json_object_object_add(o, "dropped", json_object_new_int64(st.dropped));
		json_object_object_add(o, "active", json_object_new_int64(st.active));
		json_object_object_add(o, "last_error",
				       st.last_error[0] ? json_object_new_string(st.last_error)
							: NULL);
		json_object_object_add(o, "updated", json_object_new_int64(st.updated_ms / 1000));
		if (have_ages) {
			json_object *g = json_object_new_object();

			json_object_object_add(g, "count",
					       json_object_new_int64(st.n_ages < FG_FLEET_AGES
									     ? st.n_ages
									     : FG_FLEET_AGES));
			json_object_object_add(g, "median_ms", json_object_new_int64(med));
			json_object_object_add(g, "p99_ms", json_object_new_int64(p99));
			json_object_object_add(g, "max_ms", json_object_new_int64(max));
			json_object_object_add(o, "age", g);
		} else {
			json_object_object_add(o, "age", NULL);
		}
		fg_print_json(o, 0);
		return FG_EXIT_OK;
	}
	printf("redis:      %s\n", st.cfg.redis);
	printf("state:      %s for %" PRIu64 " s\n", st.connected ? "connected" : "disconnected",
	       (uint64_t)since);
	printf("node:       %s (namespace %s, publish %s, accept %s)\n", st.cfg.node, st.cfg.ns,
	       fg_fleet_publish_name(st.cfg.publish), st.cfg.accept ? "true" : "false");
	printf("published:  %" PRIu64 " (queued %" PRIu64 ", dropped %" PRIu64 ")\n",
	       (uint64_t)st.published, (uint64_t)st.queued, (uint64_t)st.dropped);
	printf("received:   %" PRIu64 " (active now %" PRIu64 ")\n", (uint64_t)st.received,
	       (uint64_t)st.active);
	if (have_ages)
		printf("age:        median %u ms, p99 %u ms, worst %u ms (the latest %u "
		       "received)\n",
		       med, p99, max,
		       (unsigned int)(st.n_ages < FG_FLEET_AGES ? st.n_ages : FG_FLEET_AGES));
	printf("rejected:  ");
	for (i = 0; i < FG_REJ_MAX; i++)
		printf(" %s %" PRIu64, fg_fleet_reject_name(i), (uint64_t)st.rejected[i]);
	printf("\nlast error: %s\n", st.last_error[0] ? st.last_error : "-");
	if (now > st.updated_ms + 5000)
		printf("note: not updated for %" PRIu64 " s: the daemon may be stopped\n",
		       (uint64_t)((now - st.updated_ms) / 1000));
	return FG_EXIT_OK;
}

static const struct fg_sub fleet_subs[] = {
	{ "status", NULL, 0, status_run },
	{},
};

const struct fg_cmd fg_cmd_fleet = {
	.name = "fleet",
	.subs = fleet_subs,
	.usage = fleet_usage,
	.help = "fleet status: bans shared through Redis",
};
