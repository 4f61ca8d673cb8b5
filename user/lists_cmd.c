// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * lists_cmd.c: `floodgate allow|deny add|del|list` and `floodgate ban
 * add|del|list`, on the trie of lists.c and the bans of bans.c.
 */
#include <stdio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "util.h"
#include "maps.h"
#include "ruleset.h"
#include "lists.h"
#include "bans.h"
#include "config.h"
#include "fleet.h"
#include "cli.h"
#include "cmds.h"

/* Warn when a stronger covering prefix decides for c instead of its own list. */
static void warn_covered(const struct fg_maps *m, const struct fg_cidr *c, __u8 kind)
{
	int verdict = fg_list_verdict(m, c);
	char a[64];

	/* a whole family at once: allowed, as asked, but said, as `ip route` would not */
	if (!c->plen)
		warning("%s: every %s source %s", c->family == FG_FAM_IPV4 ? "0.0.0.0/0" : "::/0",
			c->family == FG_FAM_IPV4 ? "IPv4" : "IPv6",
			kind == FG_LIST_ALLOW
				? "now passes unlimited: floodgate limits none of them"
				: "outside the allow list is now dropped (ARP and neighbour "
				  "discovery still pass)");

	if (verdict < 0 || verdict == kind)
		return;
	warning("%s: inside a %s prefix, which wins over %s: no effect while that is listed",
		fg_format_cidr(a, sizeof(a), c->family, c->addr, c->plen),
		fg_list_kind_name(verdict), fg_list_kind_name(kind));
}

/* The help text of allow and deny after the usage lines; allow says what allow does. */
static void list_usage(FILE *f, bool allow)
{
	fprintf(f,
		"%s\n"
		"CIDR is ADDR/LEN or a bare ADDR (one host), IPv4 or IPv6, with no host bits set\n"
		"(10.1.0.0/16, 2001:db8::/32). A prefix is on one list at most (allow, deny or\n"
		"ban); where prefixes nest, allow wins over deny and deny over ban, whichever is\n"
		"longer. Adding a listed prefix again changes nothing. Changes apply to the next\n"
		"packet. list -j: an array of objects with \"address\" and \"in_force\" (false\n"
		"when a covering prefix of a stronger list decides instead).\n",
		allow ? "Sources in an allowed prefix pass without any limit, counted as "
			"\"allowed\"."
		      : "Sources in a denied prefix are dropped, counted as \"denied\".");
}

static void allow_usage(FILE *f)
{
	list_usage(f, true);
}

static void deny_usage(FILE *f)
{
	list_usage(f, false);
}

/* The list a command edits: allow or deny. */
static __u8 list_kind(const struct fg_args *a)
{
	return !strcmp(a->cmd->name, "allow") ? FG_LIST_ALLOW : FG_LIST_DENY;
}

/* One entry of `allow list -j`: in force when the trie's verdict at its prefix is its own kind. */
static json_object *list_entry_json(const struct fg_maps *m, const struct fg_list_entry *e)
{
	json_object *o = json_object_new_object();
	char a[64];

	json_object_object_add(o, "address",
			       json_object_new_string(fg_format_cidr(a, sizeof(a), e->cidr.family,
								     e->cidr.addr, e->cidr.plen)));
	json_object_object_add(o, "in_force",
			       json_object_new_boolean(fg_list_verdict(m, &e->cidr) == e->kind));
	return o;
}

/* One line of `allow list`: covered when another list decides for its prefix. */
static void list_entry_line(const struct fg_maps *m, const struct fg_list_entry *e)
{
	int verdict = fg_list_verdict(m, &e->cidr);
	char a[64];

	fg_format_cidr(a, sizeof(a), e->cidr.family, e->cidr.addr, e->cidr.plen);
	if (verdict >= 0 && verdict != e->kind)
		printf("%s (covered by a %s prefix)\n", a, fg_list_kind_name(verdict));
	else
		printf("%s\n", a);
}

/* `floodgate allow|deny list`. */
static int list_list(const struct fg_args *a)
{
	struct fg_list_entry *v = NULL;
	json_object *ja = NULL;
	__u8 kind = list_kind(a);
	int ret = FG_EXIT_ERR;
	struct fg_maps m;
	size_t n = 0, i;

	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	if (fg_list_read(&m, &v, &n))
		goto out;
	if (fg_opts.json)
		ja = json_object_new_array();
	for (i = 0; i < n; i++) {
		if (v[i].kind != kind)
			continue;
		if (ja)
			json_object_array_add(ja, list_entry_json(&m, &v[i]));
		else
			list_entry_line(&m, &v[i]);
	}
	if (ja)
		fg_print_json(ja, 0);
	ret = FG_EXIT_OK;
out:
	free(v);
	fg_maps_close(&m);
	return ret;
}

/* `floodgate allow|deny add|del CIDR`. */
static int list_edit(const struct fg_args *a)
{
	bool add = !strcmp(a->sub->name, "add");
	__u8 kind = list_kind(a);
	int ret = FG_EXIT_ERR;
	struct fg_cidr cidr;
	struct fg_maps m;
	char what[32];

	snprintf(what, sizeof(what), "%s %s", a->cmd->name, a->sub->name);
	if (fg_parse_cidr(what, a->pos[0], true, &cidr))
		return FG_EXIT_ERR;
	if (fg_maps_open(&m, true))
		return FG_EXIT_ERR;
	if (fg_maps_lock(&m))
		goto out;
	if (add ? fg_list_add(&m, &cidr, kind, 0) : fg_list_del(&m, &cidr, kind))
		goto out;
	if (add)
		warn_covered(&m, &cidr, kind);
	ret = FG_EXIT_OK;
out:
	fg_maps_close(&m);
	return ret;
}

static const struct fg_sub list_subs[] = {
	{ "add", "CIDR", 1, list_edit },
	{ "del", "CIDR", 1, list_edit },
	{ "list", NULL, 0, list_list },
	{},
};

const struct fg_cmd fg_cmd_allow = {
	.name = "allow",
	.subs = list_subs,
	.usage = allow_usage,
	.help = "allow add|del|list CIDR: never limited",
};

const struct fg_cmd fg_cmd_deny = {
	.name = "deny",
	.subs = list_subs,
	.usage = deny_usage,
	.help = "deny add|del|list CIDR: always dropped",
};

static void ban_usage(FILE *f)
{
	fprintf(f,
		"add: drop everything from ADDR/LEN (a bare ADDR bans that host) for DURATION\n"
		"     (30s, 5m, 2h, 1d; default 1h). Banning a banned prefix again sets its new\n"
		"     end. Allowed and denied prefixes cannot be banned (allow and deny win over\n"
		"     ban where prefixes nest).\n"
		"del: lift the manual or automatic ban of exactly that prefix; an automatic\n"
		"     ban's strike count is forgotten too. Automatic bans are keyed at the\n"
		"     rule's source prefix (by default /32 and /64): `ban list` shows them.\n"
		"list: manual and automatic bans in force, with seconds left; --all adds ended\n"
		"     automatic bans still remembered for their strikes. With -j: an array of\n"
		"     objects with \"address\" (CIDR for prefixes), \"kind\" (manual,\n"
		"     automatic or fleet), \"expires_in\" (seconds, null for never), \"strikes\" "
		"and\n"
		"     \"endpoint\" (the rule that banned, null for manual and fleet bans) and\n"
		"     \"origin\" (\"local\", or the node that published a fleet ban).\n"
		"--fleet: add and del on every node of the fleet too: the ban is published to\n"
		"     the Redis of the fleet section of --config FILE (default %s).\n",
		FG_CONFIG_DEFAULT);
}

/* A row of `ban list`. */
struct ban_row {
	struct fg_cidr cidr; /* banned prefix */
	bool manual;	     /* from the trie, else from fg_bans */
	bool forever;	     /* manual ban without an end */
	__u64 left;	     /* seconds left, rounded up */
	__u32 strikes;	     /* automatic: strike count */
	int rule;	     /* automatic: rule index that banned */
	__u64 expires;	     /* tick it ends (0: never) */
	bool fleet;	     /* applied from the fleet (fg_fleet): origin says who banned */
	char origin[FG_FLEET_NODE_MAX]; /* fleet: the node that banned, else "local" */
};

static int ban_row_cmp(const void *pa, const void *pb)
{
	const struct ban_row *a = pa, *b = pb;
	int d = fg_cidr_cmp(&a->cidr, &b->cidr);

	return d ? d : b->manual - a->manual;
}

static __u64 ticks_left(__u64 until, __u64 now, __u64 hz)
{
	return until > now ? (until - now + hz - 1) / hz : 0;
}

/* The endpoint of the rule that made an automatic ban, from the live rule set. */
static const char *ban_kind(const struct ban_row *r)
{
	return r->fleet ? "fleet" : r->manual ? "manual" : "automatic";
}

/* One row of `ban list` as text; the header before the first. */
static void ban_row_line(const struct ban_row *r, const char *a, const char *ep, bool first)
{
	char left[32], strikes[16];

	if (first)
		printf("%-40s %-9s %10s %7s  %-12s %s\n", "ADDRESS", "KIND", "EXPIRES_IN",
		       "STRIKES", "ENDPOINT", "ORIGIN");
	if (r->forever)
		snprintf(left, sizeof(left), "never");
	else
		snprintf(left, sizeof(left), "%" PRIu64 "s", (uint64_t)r->left);
	if (r->manual)
		snprintf(strikes, sizeof(strikes), "-");
	else
		snprintf(strikes, sizeof(strikes), "%u", r->strikes);
	printf("%-40s %-9s %10s %7s  %-12s %s\n", a, ban_kind(r), left, strikes, ep, r->origin);
}

/* One row of `ban list -j`. */
static json_object *ban_row_json(const struct ban_row *r, const char *a, const char *ep)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "address", json_object_new_string(a));
	json_object_object_add(o, "kind", json_object_new_string(ban_kind(r)));
	json_object_object_add(o, "expires_in", r->forever ? NULL : json_object_new_int64(r->left));
	json_object_object_add(o, "strikes", json_object_new_int64(r->strikes));
	json_object_object_add(o, "endpoint",
			       r->manual || r->fleet ? NULL : json_object_new_string(ep));
	json_object_object_add(o, "origin", json_object_new_string(r->origin));
	return o;
}

/* Manual bans in force, then automatic ones (all: ended ones too), into rows; how many. */
static size_t ban_rows(struct ban_row *rows, const struct fg_list_entry *v, size_t n,
		       const struct fg_ban_key *keys, const struct fg_ban *vals, size_t nb,
		       __u64 now, __u64 hz, bool all, int fleet_fd)
{
	size_t nr = 0, i;

	for (i = 0; i < n; i++) {
		if (v[i].kind != FG_LIST_BAN || (v[i].expires && v[i].expires <= now))
			continue;
		rows[nr] = (struct ban_row){ .cidr = v[i].cidr, .manual = true, .rule = -1 };
		rows[nr].forever = !v[i].expires;
		rows[nr].left = ticks_left(v[i].expires, now, hz);
		rows[nr].expires = v[i].expires;
		nr++;
	}
	for (i = 0; i < nb; i++) {
		struct ban_row *r = &rows[nr];

		if (!all && vals[i].expires <= now)
			continue;
		memset(r, 0, sizeof(*r));
		r->cidr.family = keys[i].family;
		r->cidr.plen = keys[i].plen;
		memcpy(r->cidr.addr, keys[i].addr, sizeof(r->cidr.addr));
		r->left = ticks_left(vals[i].expires, now, hz);
		r->strikes = vals[i].strikes;
		r->rule = vals[i].rule;
		r->expires = vals[i].expires;
		nr++;
	}
	for (i = 0; i < nr; i++) {
		struct fg_fleet_ban fb;

		snprintf(rows[i].origin, sizeof(rows[i].origin), "local");
		if (fleet_fd >= 0 && fg_fleet_lookup(fleet_fd, &rows[i].cidr, now, &fb) &&
		    fb.expires == rows[i].expires && !!fb.in_trie == rows[i].manual) {
			rows[i].fleet = true;
			snprintf(rows[i].origin, sizeof(rows[i].origin), "%s", fb.origin);
		}
	}
	qsort(rows, nr, sizeof(*rows), ban_row_cmp);
	return nr;
}

static int ban_list(const struct fg_maps *m, bool all)
{
	struct fg_ruleset *rs = calloc(1, sizeof(*rs));
	json_object *ja = fg_opts.json ? json_object_new_array() : NULL;
	struct fg_list_entry *v = NULL;
	struct fg_ban_key *keys = NULL;
	struct fg_ban *vals = NULL;
	struct ban_row *rows = NULL;
	size_t n = 0, nb = 0, nr, i;
	int ret = FG_EXIT_ERR, fleet_fd = -1;
	char a[64], ep[32];
	__u64 now;

	if (!rs || fg_now(m, &now) || fg_ruleset_read(m, rs) || fg_list_read(m, &v, &n) ||
	    fg_bans_read(m, &keys, &vals, &nb))
		goto out;
	rows = calloc(n + nb + 1, sizeof(*rows));
	if (!rows)
		goto out;
	fleet_fd = fg_fleet_map_open(FG_FLEET_MAP, false); /* none: no fleet ban was applied */
	nr = ban_rows(rows, v, n, keys, vals, nb, now, fg_hz(m), all, fleet_fd);
	for (i = 0; i < nr; i++) {
		const struct ban_row *r = &rows[i];

		fg_format_cidr(a, sizeof(a), r->cidr.family, r->cidr.addr, r->cidr.plen);
		if (r->manual || r->fleet)
			snprintf(ep, sizeof(ep), "-");
		else
			fg_rule_label(ep, sizeof(ep), &rs->cfg, r->rule);
		if (ja)
			json_object_array_add(ja, ban_row_json(r, a, ep));
		else
			ban_row_line(r, a, ep, i == 0);
	}
	if (ja) {
		fg_print_json(ja, 0);
		ja = NULL;
	}
	ret = FG_EXIT_OK;
out:
	json_object_put(ja);
	free(rs);
	free(v);
	free(keys);
	free(vals);
	free(rows);
	if (fleet_fd >= 0)
		close(fleet_fd);
	return ret;
}

enum { BAN_FOR, BAN_ALL, BAN_FLEET, BAN_CONFIG };

static const struct fg_opt ban_opts[] = {
	[BAN_FOR] = { "for", 0, "DURATION", "add" },
	[BAN_ALL] = { "all", 0, NULL, "list" },
	[BAN_FLEET] = { "fleet", 0, NULL },
	[BAN_CONFIG] = { "config", 'c', "FILE" },
	{},
};

static int ban_list_run(const struct fg_args *a)
{
	struct fg_maps m;
	int ret;

	if (a->opt[BAN_FLEET] || a->opt[BAN_CONFIG]) {
		error("ban list: --fleet and --config go with add and del");
		fg_cmd_usage(a->cmd, stderr);
		return FG_EXIT_USAGE;
	}
	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	ret = ban_list(&m, a->opt[BAN_ALL]);
	fg_maps_close(&m);
	return ret;
}

/* The fleet section of --config FILE (default FG_CONFIG_DEFAULT) for --fleet. 0 or -1. */
static int fleet_config(const struct fg_args *a, struct fg_fleet_cfg *out)
{
	const char *path = a->opt[BAN_CONFIG] ?: FG_CONFIG_DEFAULT;
	struct fg_file_config c;
	int bad = fg_config_load(path, fg_kernel_hz(), &c);

	if (bad)
		return -1; /* printed: the file and why it cannot be read, or its problems */
	*out = c.fleet;
	fg_config_free(&c);
	if (!out->enabled)
		return error("ban --fleet: %s has no fleet section (fleet: redis: HOST:PORT)", path);
	return 0;
}

/* Forget the fleet origin of exactly cidr: a local ban replaced or lifted it. */
static void fleet_forget(const struct fg_cidr *cidr)
{
	struct fg_ban_key k = { .family = cidr->family, .plen = cidr->plen };
	int fd = fg_fleet_map_open(FG_FLEET_MAP, false);

	if (fd < 0)
		return;
	memcpy(k.addr, cidr->addr, sizeof(k.addr));
	bpf_map_delete_elem(fd, &k);
	close(fd);
}

/* Lift the ban of cidr here; with fleet, a prefix not banned here is fine (other nodes may be). */
static int ban_del_here(const struct fg_maps *m, const struct fg_cidr *cidr, bool fleet)
{
	char held[FG_REPORT_HOLD] = ""; /* fg_ban_del's error, held: "not banned here" is none */
	fg_report_fn old_fn;
	void *old_ctx;
	int err;

	if (!fleet)
		return fg_ban_del(m, cidr);
	fg_set_report(fg_report_hold, held, &old_fn, &old_ctx);
	err = fg_ban_del(m, cidr);
	fg_set_report(old_fn, old_ctx, NULL, NULL);
	if (err && err != -ENOENT)
		error("%s", held);
	return err == -ENOENT ? 0 : err;
}

/* `ban add|del ADDR[/LEN] [--fleet]`. */
static int ban_edit(const struct fg_args *a)
{
	const char *sub = a->sub->name, *dur = a->opt[BAN_FOR];
	bool add = !strcmp(sub, "add"), fleet = a->opt[BAN_FLEET];
	__u64 secs = 3600, now, now_ms;
	struct fg_fleet_cfg fc;
	bool published = true;
	int ret = FG_EXIT_ERR, err;
	struct fg_cidr cidr;
	struct fg_maps m;

	if (a->opt[BAN_CONFIG] && !fleet) {
		error("ban %s: --config is read with --fleet only", sub);
		fg_cmd_usage(a->cmd, stderr);
		return FG_EXIT_USAGE;
	}
	if (dur && fg_parse_duration("ban add --for", dur, &secs))
		return FG_EXIT_ERR;
	if (fg_parse_cidr(add ? "ban add" : "ban del", a->pos[0], true, &cidr))
		return FG_EXIT_ERR;
	if (fleet && add && secs * 1000 > FG_FLEET_LONGEST_MS)
		return error("ban add --for %s --fleet: longer than the fleet's longest ban (30d)",
			     dur),
		       FG_EXIT_ERR;
	if (fleet && fleet_config(a, &fc))
		return FG_EXIT_ERR;
	if (fg_maps_open(&m, true))
		return FG_EXIT_ERR;
	if (fg_maps_lock(&m) || fg_now(&m, &now))
		goto out;
	now_ms = fg_fleet_now_ms();
	if (add) {
		if (fg_list_add(&m, &cidr, FG_LIST_BAN, now + secs * fg_hz(&m)))
			goto out;
		warn_covered(&m, &cidr, FG_LIST_BAN);
		fleet_forget(&cidr);
	} else if (ban_del_here(&m, &cidr, fleet)) {
		goto out;
	} else {
		fleet_forget(&cidr);
	}
	/* housekeeping: manual bans that ended no longer need a trie entry */
	fg_lists_expire(&m, now);
	if (fleet && (err = fg_fleet_cli_publish(&fc, &cidr, now_ms + secs * 1000, !add))) {
		/* here it stands (during an attack a ban must not wait for Redis); say so */
		if (err == -ETIMEDOUT)
			error("ban %s %s --fleet: %s on this node; sent to Redis, which did not "
			      "answer: the other nodes may or may not have it",
			      sub, a->pos[0], add ? "banned" : "lifted");
		else
			error("ban %s %s --fleet: %s on this node only, published to no other", sub,
			      a->pos[0], add ? "banned" : "lifted");
		published = false;
	} else {
		ret = FG_EXIT_OK;
	}
	/* the daemon publishes it (publish manual or both) as soon as the lock is released */
	if (add)
		fg_fleet_manual_note(&cidr, now + secs * fg_hz(&m), now_ms, now_ms + secs * 1000,
				     fleet && published);
out:
	fg_maps_close(&m);
	return ret;
}

static const struct fg_sub ban_subs[] = {
	{ "add", "ADDR[/LEN]", 1, ban_edit },
	{ "del", "ADDR[/LEN]", 1, ban_edit },
	{ "list", NULL, 0, ban_list_run },
	{},
};

const struct fg_cmd fg_cmd_ban = {
	.name = "ban",
	.opts = ban_opts,
	.subs = ban_subs,
	.usage = ban_usage,
	.help = "ban add|del|list ADDR[/LEN] [--for DURATION] [--fleet [-c FILE]]",
};
