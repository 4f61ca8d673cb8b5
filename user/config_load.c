// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * config_load.c: step 4 of loading a config file (config_yaml.h): every value
 * parsed and checked at its position, the cross-field checks, and the
 * public loader (config.h).
 */
#include <stdio.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "util.h"
#include "ruleset.h"
#include "config.h"
#include "rule.h"
#include "metrics.h"

#include "config_yaml.h"

/* ---- step 4: values and cross-field checks -------------------------------- */

/* Where a rule's values are: its mapping node (or the top when absent) and its name. */
struct rule_src {
	struct cfg_load *l; /* the load */
	yaml_node_t *map;   /* the rule's mapping node; NULL when the section is absent */
	yaml_node_t *top;   /* the root node, the position of problems of an absent section */
	const char *label;  /* "default" or the endpoint as written */
	bool proto;	    /* the rule's protocol is set (none: the default rule): check it */
};

/* Node of key in the rule, else the rule, else the top of the file. */
static yaml_node_t *rule_at(const struct rule_src *rs, const char *key)
{
	yaml_node_t *n = y_map_get(rs->l, rs->map, key);

	return n ?: rs->map ?: rs->top;
}

static void rule_field_at(void *ctx, int i)
{
	const struct rule_src *rs = ctx;

	rs->l->at = i < 0 ? rs->map ?: rs->top : rule_at(rs, fg_rule_fields[i].key);
}

/* The rule's values onto r (which holds what it starts with), checked by the field table. */
static void parse_rule(const struct rule_src *rs, const struct y_rule *y, struct fg_rule *r)
{
	const struct fg_rule_where w = { .label = rs->label, .at = rule_field_at, .ctx = (void *)rs };
	struct fg_rule_edit e = {};
	int i;

	for (i = 0; i < FG_RF_MAX; i++) {
		e.text[i] = y->v[i];
		/* a key the walk reported (a list where one value belongs) was given all the same */
		e.bad[i] = !y->v[i] && y_map_get(rs->l, rs->map, fg_rule_fields[i].key);
	}
	fg_rule_parse(&e, &w);
	fg_rule_apply(r, &e, rs->l->hz, &w);
	fg_rule_check_bans(r, &e, rs->l->hz, &w);
	if (rs->proto)
		fg_rule_check_proto(r, &e, &w);
	rs->l->at = NULL;
}

/* A list entry with where it was written, for duplicate checks. */
struct list_item {
	struct fg_cidr c; /* the prefix */
	yaml_node_t *n;	  /* its node */
	size_t order;	  /* index in the file's list */
};

/* Order of prefixes alone, for the cross-list search. */
static int cidr_cmp(const void *a, const void *b)
{
	const struct list_item *x = a, *y = b;

	return memcmp(&x->c, &y->c, sizeof(x->c));
}

/* Order of prefixes, then of appearance: the first of equal prefixes comes first. */
static int item_cmp(const void *a, const void *b)
{
	const struct list_item *x = a, *y = b;
	int d = cidr_cmp(a, b);

	if (d)
		return d;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Parse one list into out (file order, repeats left out) and a copy sorted
 * by prefix for the cross-list check.
 */
static void parse_list(struct cfg_load *l, yaml_node_t *seq, char **v, unsigned int n,
		       const char *name, struct fg_cidr **out, size_t *n_out,
		       struct list_item **sorted, size_t *n_sorted)
{
	struct list_item *it = calloc(n ?: 1, sizeof(*it));
	bool *keep = calloc(n ?: 1, sizeof(*keep));
	struct fg_cidr *all = calloc(n ?: 1, sizeof(*all));
	size_t i, k = 0;

	*out = all;
	*n_out = 0;
	*sorted = it;
	*n_sorted = 0;
	if (!it || !keep || !all) {
		cfg_diag(l, seq, false, "%s: out of memory", name);
		free(keep);
		return;
	}
	for (i = 0; i < n; i++) {
		yaml_node_t *item = y_seq_item(l, seq, i);

		if (y_is_bad(l, item) || AT(l, item, fg_parse_cidr(name, v[i], true, &all[i])))
			continue;
		keep[i] = true;
		it[k].c = all[i];
		it[k].n = item;
		it[k].order = i;
		k++;
	}
	qsort(it, k, sizeof(*it), item_cmp);
	for (i = 1; i < k; i++)
		if (cfg_same_cidr(&it[i].c, &it[i - 1].c)) {
			char buf[64];

			cfg_diag(l, it[i].n, false, "%s: %s: listed twice (first on line %zu)", name,
				 fg_format_cidr(buf, sizeof(buf), it[i].c.family, it[i].c.addr,
						it[i].c.plen),
				 it[i - 1].n->start_mark.line + 1);
			keep[it[i].order] = false;
		}
	*n_sorted = k;
	for (i = 0; i < n; i++) /* compact in file order: reads run ahead of writes */
		if (keep[i])
			all[(*n_out)++] = all[i];
	free(keep);
}

/* An interface name the kernel would accept. */
static bool ifname_ok(const char *s)
{
	const char *p;

	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (p = s; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) ||
		    !isprint((unsigned char)*p))
			return false;
	return true;
}

/* metrics listen: what `run --metrics` takes (metrics.c), and short enough to keep. */
static int parse_listen(const char *what, const char *s)
{
	struct sockaddr_storage ss;
	unsigned int sl;

	if (strlen(s) >= sizeof(((struct fg_file_config *)0)->metrics))
		return error("%s: %s: too long", what, s), -EINVAL;
	return fg_parse_listen(what, s, &ss, &sl);
}

/* Per-family distinct prefix lengths of ban rules (the data path checks at most 8). */
static void check_ban_plens(struct cfg_load *l, const struct fg_ruleset *rs, yaml_node_t *const *at,
			    const char *const *labels)
{
	__u8 l4[FG_MAX_BAN_PLENS] = { 0 }, l6[FG_MAX_BAN_PLENS] = { 0 };
	unsigned int n4 = 0, n6 = 0, j;
	int i;

	for (i = 0; i < FG_MAX_RULES; i++) {
		const struct fg_rule *r = &rs->cfg.rules[i];
		bool new4 = true, new6 = true, full4;

		if (!r->used || r->action != FG_ACT_BAN)
			continue;
		for (j = 0; j < n4; j++)
			new4 &= l4[j] != r->plen4;
		for (j = 0; j < n6; j++)
			new6 &= l6[j] != r->plen6;
		full4 = new4 && n4 == FG_MAX_BAN_PLENS;
		if (full4 || (new6 && n6 == FG_MAX_BAN_PLENS)) {
			cfg_diag(l, y_map_get(l, at[i], full4 ? "prefix4" : "prefix6") ?: at[i],
				 false, "%s: more than %d distinct prefix4 or prefix6 lengths among ban rules",
				 labels[i], FG_MAX_BAN_PLENS);
			continue;
		}
		if (new4)
			l4[n4++] = r->plen4;
		if (new6)
			l6[n6++] = r->plen6;
	}
}

/* Where fg_ruleset_check()'s problems of rule i go: the rule's node, else the top. */
struct guard {
	struct cfg_load *l;	/* the load */
	yaml_node_t *const *at; /* node per rule index */
	yaml_node_t *top;	/* the root node */
};

static void guard_at(void *ctx, int rule)
{
	struct guard *g = ctx;

	g->l->at = rule >= 0 && rule < FG_MAX_RULES && g->at[rule] ? g->at[rule] : g->top;
}

/* fg_ruleset_check() as a last guard: each problem placed at the rule it names. */
static void ruleset_guard(struct cfg_load *l, const struct fg_ruleset *rs, yaml_node_t *const *at,
			  yaml_node_t *top)
{
	struct guard g = { .l = l, .at = at, .top = top };

	fg_ruleset_check_at(rs, guard_at, &g);
	l->at = NULL;
}

/* An endpoint entry's endpoint into *ep: 0, or -1 after reporting it at its node. */
static int parse_endpoint_of(struct cfg_load *l, yaml_node_t *n, const struct y_rule *e,
			     const char *label, struct fg_endpoint *ep)
{
	yaml_node_t *epn = y_map_get(l, n, "endpoint");

	if (!e->endpoint)
		return cfg_diag(
			       l, n, false,
			       "%s: endpoint: missing (tcp/PORT, udp/PORT, tcp/LO-HI or udp/LO-HI)",
			       label),
		       -1;
	if (!strcmp(e->endpoint, "default"))
		return cfg_diag(l, epn, false,
				"endpoint: default: the default rule is the top-level 'default:' "
				"section"),
		       -1;
	return AT(l, epn, fg_parse_endpoint("endpoint", e->endpoint, ep)) ? -1 : 0;
}

/* Rule r of entry e against the nrules before it: 0, or -1 after reporting an overlap. */
static int check_overlap(struct cfg_load *l, const struct fg_config *cfg, unsigned int nrules,
			 yaml_node_t *const *rule_node, yaml_node_t *n, const struct y_rule *e,
			 const struct fg_rule *r)
{
	yaml_node_t *epn = y_map_get(l, n, "endpoint");
	unsigned int j;
	char buf[32];

	for (j = 1; j < nrules; j++) {
		const struct fg_rule *o = &cfg->rules[j];

		if (o->proto != r->proto || o->port_lo > r->port_hi || r->port_lo > o->port_hi)
			continue;
		if (o->port_lo == r->port_lo && o->port_hi == r->port_hi)
			cfg_diag(l, epn, false, "endpoint: %s: listed twice (first on line %zu)",
				 e->endpoint, rule_node[j]->start_mark.line + 1);
		else
			cfg_diag(l, epn, false, "endpoint: %s: overlaps %s (line %zu)", e->endpoint,
				 fg_format_endpoint(buf, sizeof(buf), o),
				 rule_node[j]->start_mark.line + 1);
		return -1;
	}
	return 0;
}

static void parse_rules(struct cfg_load *l, const struct y_file *y, yaml_node_t *top,
			struct fg_file_config *out)
{
	static const struct y_rule none;
	yaml_node_t *rule_node[FG_MAX_RULES] = {}, *sec, *n;
	const char *labels[FG_MAX_RULES] = { "default" };
	struct fg_config *cfg = &out->rs->cfg;
	struct fg_rule tmpl;
	struct rule_src src;
	unsigned int i, nrules = 1;

	/* the default rule: built-in values unless given */
	src = (struct rule_src){ .l = l,
				 .map = y_map_get(l, top, "default"),
				 .top = top,
				 .label = "default",
				 .proto = true };
	if (y_is_null(src.map))
		src.map = NULL;
	rule_node[FG_RULE_DEFAULT] = src.map ?: top;
	parse_rule(&src, y->def ?: &none, &cfg->rules[FG_RULE_DEFAULT]);

	/* endpoint rules: the fields' start values, the default rule's where they inherit it */
	fg_rule_start(&tmpl);
	for (i = 0; i < FG_RF_MAX; i++)
		if (fg_rule_fields[i].inherit)
			fg_rf_set(&tmpl, i, fg_rf_get(&cfg->rules[FG_RULE_DEFAULT], i));
	sec = y_map_get(l, top, "endpoints");
	for (i = 0; i < y->endpoints_count; i++) {
		const struct y_rule *e = &y->endpoints[i];
		struct fg_endpoint ep;
		struct fg_rule r = tmpl;
		char label[CFG_WHAT];
		int bad;

		n = y_seq_item(l, sec, i);
		if (!n || y_is_bad(l, n))
			continue; /* a placeholder for an entry the walk reported */
		cfg_entry_label(l, n, i, label, sizeof(label));
		bad = parse_endpoint_of(l, n, e, label, &ep);
		if (!bad) {
			r.proto = ep.proto;
			r.port_lo = ep.port_lo;
			r.port_hi = ep.port_hi;
		}
		src = (struct rule_src){ .l = l, .map = n, .top = top, .label = label, .proto = !bad };
		parse_rule(&src, e, &r); /* its values are checked even when the endpoint is bad */
		if (bad)
			continue;
		if (check_overlap(l, cfg, nrules, rule_node, n, e, &r))
			continue;
		if (nrules == FG_MAX_RULES) { /* the walk stops at the schema's maximum; a guard */
			cfg_diag(l, n, false, "endpoints: more than %d rules", FG_MAX_RULES - 1);
			continue;
		}
		rule_node[nrules] = n;
		labels[nrules] = e->endpoint;
		cfg->rules[nrules++] = r;
	}
	check_ban_plens(l, out->rs, rule_node, labels);
	if (!l->errors)
		ruleset_guard(l, out->rs, rule_node, top);
}

/* interfaces: names the kernel would take, each once. */
static void parse_ifaces(struct cfg_load *l, const struct y_file *y, yaml_node_t *top,
			 struct fg_file_config *out)
{
	yaml_node_t *sec, *n;
	unsigned int i, j;

	sec = y_map_get(l, top, "interfaces");
	for (i = 0; i < y->interfaces_count; i++) {
		n = y_seq_item(l, sec, i);
		if (y_is_bad(l, n))
			continue;
		if (!ifname_ok(y->interfaces[i])) {
			cfg_diag(l, n, false, "interfaces: %s: not an interface name",
				 y->interfaces[i]);
			continue;
		}
		for (j = 0; j < (unsigned int)out->n_ifaces; j++)
			if (!strcmp(out->ifaces[j], y->interfaces[i]))
				break;
		if (j < (unsigned int)out->n_ifaces) {
			cfg_diag(l, n, false, "interfaces: %s: listed twice", y->interfaces[i]);
			continue;
		}
		snprintf(out->ifaces[out->n_ifaces++], sizeof(out->ifaces[0]), "%s",
			 y->interfaces[i]);
	}
}

/* tables: sizes within their ranges (before the lists: their check needs the size). */
static void parse_tables(struct cfg_load *l, const struct y_file *y, yaml_node_t *top,
			 struct fg_file_config *out)
{
	char what[CFG_WHAT];
	yaml_node_t *sec;
	unsigned int i;
	__u64 v = 0;

	if (!y->tables)
		return;
	sec = y_map_get(l, top, "tables");
	for (i = 0; i < sizeof(cfg_table_keys) / sizeof(cfg_table_keys[0]); i++) {
		const char *s = *(char **)((char *)y->tables + cfg_table_keys[i].y_off);

		snprintf(what, sizeof(what), "tables: %s", cfg_table_keys[i].key);
		if (s && !AT(l, y_map_get(l, sec, cfg_table_keys[i].key),
			     fg_parse_u64(what, s, cfg_table_keys[i].min, cfg_table_keys[i].max, &v)))
			*(__u32 *)((char *)&out->sizes + cfg_table_keys[i].out_off) = v;
	}
}

/* allow and deny: prefixes, none on both, all fitting tables: lists. */
static void parse_lists(struct cfg_load *l, const struct y_file *y, yaml_node_t *top,
			struct fg_file_config *out)
{
	struct list_item *sa = NULL, *sd = NULL;
	size_t n_sa = 0, n_sd = 0;
	unsigned int i;
	__u64 v;

	parse_list(l, y_map_get(l, top, "allow"), y->allow, y->allow_count, "allow", &out->allow,
		   &out->n_allow, &sa, &n_sa);
	parse_list(l, y_map_get(l, top, "deny"), y->deny, y->deny_count, "deny", &out->deny,
		   &out->n_deny, &sd, &n_sd);
	for (i = 0; i < n_sd; i++) {
		struct list_item *hit = bsearch(&sd[i], sa, n_sa, sizeof(*sa), cidr_cmp);
		char buf[64];

		if (hit)
			cfg_diag(l, sd[i].n, false, "deny: %s: also on the allow list (line %zu)",
				 fg_format_cidr(buf, sizeof(buf), sd[i].c.family, sd[i].c.addr,
						sd[i].c.plen),
				 hit->n->start_mark.line + 1);
	}
	v = out->sizes.lists ?: FG_DEF_LIST;
	if (out->n_allow + out->n_deny > v)
		cfg_diag(l, y_map_get(l, top, out->n_deny ? "deny" : "allow"), false,
			 "allow and deny: %zu prefixes do not fit tables: lists (%" PRIu64 ")",
			 out->n_allow + out->n_deny, (uint64_t)v);
	free(sa);
	free(sd);
}

/* ban_policy, under_attack and metrics: one value each. */
static void parse_settings(struct cfg_load *l, const struct y_file *y, yaml_node_t *top,
			   struct fg_file_config *out)
{
	struct fg_config *cfg = &out->rs->cfg;
	yaml_node_t *sec;
	__u64 v = 0;

	if (y->ban_policy) {
		sec = y_map_get(l, top, "ban_policy");
		if (y->ban_policy->forget_after &&
		    !AT(l, y_map_get(l, sec, "forget_after"),
			fg_parse_duration("ban_policy: forget_after", y->ban_policy->forget_after,
					  &v)))
			out->forget_after = v;
		if (y->ban_policy->events_per_second &&
		    !AT(l, y_map_get(l, sec, "events_per_second"),
			fg_parse_u64("ban_policy: events_per_second",
				     y->ban_policy->events_per_second, 1, CFG_EVENTS_MAX, &v)))
			cfg->events_per_sec = v;
	}
	if (y->under_attack && y->under_attack->new_sources_per_second) {
		const char *s = y->under_attack->new_sources_per_second;

		sec = y_map_get(l, top, "under_attack");
		if (!strcmp(s, "off"))
			cfg->attack_new_per_sec = 0;
		else if (!AT(l, y_map_get(l, sec, "new_sources_per_second"),
			     fg_parse_u64("under_attack: new_sources_per_second", s, 0,
					  CFG_NEW_SRC_MAX, &v)))
			cfg->attack_new_per_sec = v;
	}
	if (y->metrics) {
		sec = y_map_get(l, top, "metrics");
		if (y->metrics->listen && !AT(l, y_map_get(l, sec, "listen"),
					      parse_listen("metrics: listen", y->metrics->listen)))
			snprintf(out->metrics, sizeof(out->metrics), "%s", y->metrics->listen);
		if (y->metrics->top_sources &&
		    !AT(l, y_map_get(l, sec, "top_sources"),
			fg_parse_u64("metrics: top_sources", y->metrics->top_sources, 0,
				     CFG_TOP_MAX, &v)))
			out->metrics_top = v;
	}
}

/* fleet: the Redis that shares bans (fleet.h); the secret file's mode is checked here too. */
static void parse_fleet(struct cfg_load *l, const struct y_fleet *y, yaml_node_t *top,
			struct fg_fleet_cfg *out)
{
	yaml_node_t *sec = y_map_get(l, top, "fleet");
	char host[FG_FLEET_ADDR_MAX];
	bool unix_path;
	int port, p;
	__u64 v = 0;

	if (!y->redis) {
		cfg_diag(l, sec, false, "fleet: redis: missing (HOST:PORT, [V6]:PORT or unix:/PATH)");
		return;
	}
	out->enabled = true;
	if (!AT(l, y_map_get(l, sec, "redis"),
		fg_fleet_parse_addr("fleet: redis", y->redis, host, sizeof(host), &port, &unix_path)))
		snprintf(out->redis, sizeof(out->redis), "%s", y->redis);
	if (y->password_file) {
		yaml_node_t *n = y_map_get(l, sec, "password_file");

		if (y->password_file[0] != '/' ||
		    strlen(y->password_file) >= sizeof(out->password_file))
			cfg_diag(l, n, false, "fleet: password_file: '%s': an absolute path",
				 y->password_file);
		else if (!AT(l, n,
			     fg_fleet_secret("fleet: password_file", y->password_file, NULL, 0,
					     NULL, 0)))
			snprintf(out->password_file, sizeof(out->password_file), "%s",
				 y->password_file);
	}
	if (y->node)
		AT(l, y_map_get(l, sec, "node"),
		   fg_fleet_parse_name("fleet: node", y->node, sizeof(out->node), out->node));
	if (y->ns)
		AT(l, y_map_get(l, sec, "namespace"),
		   fg_fleet_parse_name("fleet: namespace", y->ns, sizeof(out->ns), out->ns));
	if (y->publish) {
		p = fg_fleet_publish_parse(y->publish);
		if (p < 0)
			cfg_diag(l, y_map_get(l, sec, "publish"), false,
				 "fleet: publish: '%s': auto, manual, both or none", y->publish);
		else
			out->publish = p;
	}
	if (y->accept) {
		if (!strcmp(y->accept, "true"))
			out->accept = true;
		else if (!strcmp(y->accept, "false"))
			out->accept = false;
		else
			cfg_diag(l, y_map_get(l, sec, "accept"), false,
				 "fleet: accept: '%s': true or false", y->accept);
	}
	if (y->min_prefix4 && !AT(l, y_map_get(l, sec, "min_prefix4"),
				  fg_parse_u64("fleet: min_prefix4", y->min_prefix4, 0, 32, &v)))
		out->min_prefix4 = v;
	if (y->min_prefix6 && !AT(l, y_map_get(l, sec, "min_prefix6"),
				  fg_parse_u64("fleet: min_prefix6", y->min_prefix6, 0, 128, &v)))
		out->min_prefix6 = v;
	if (y->max_bans && !AT(l, y_map_get(l, sec, "max_bans"),
			       fg_parse_u64("fleet: max_bans", y->max_bans, 1, FG_FLEET_MAX_BANS, &v)))
		out->max_bans = v;
	if (y->queue && !AT(l, y_map_get(l, sec, "queue"),
			    fg_parse_u64("fleet: queue", y->queue, 1, FG_FLEET_QUEUE_MAX, &v)))
		out->queue = v;
}

static void parse_file(struct cfg_load *l, const struct y_file *y, struct fg_file_config *out)
{
	yaml_node_t *top = yaml_document_get_root_node(&l->doc);

	if (!y)
		return; /* an empty file: the defaults set by the caller */
	parse_ifaces(l, y, top, out);
	parse_tables(l, y, top, out);
	parse_rules(l, y, top, out);
	parse_lists(l, y, top, out);
	parse_settings(l, y, top, out);
	if (y->fleet)
		parse_fleet(l, y->fleet, top, &out->fleet);
}

void fg_config_free(struct fg_file_config *c)
{
	free(c->rs);
	free(c->allow);
	free(c->deny);
	memset(c, 0, sizeof(*c));
}

/*
 * Load and check path into out (freed again when it has a problem); the
 * problems are left in l, sorted. Returns 0 or -errno when the file cannot
 * be read.
 */
int cfg_load_file(struct cfg_load *l, const char *path, __u64 hz, struct fg_file_config *out)
{
	struct y_file *y = NULL;
	int err;

	memset(l, 0, sizeof(*l));
	memset(out, 0, sizeof(*out));
	l->path = path;
	l->hz = hz ?: 250;
	out->rs = calloc(1, sizeof(*out->rs));
	if (!out->rs)
		return error("config %s: out of memory", path), -ENOMEM;
	fg_ruleset_defaults(out->rs, l->hz);
	out->forget_after = CFG_FORGET_DEF;
	fg_fleet_defaults(&out->fleet);
	err = cfg_load_yaml(l, &y);
	if (!err && l->have_doc && !(l->errors && !y)) {
		fg_report_fn old_fn;
		void *old_ctx;

		fg_set_report(cfg_load_report, l, &old_fn, &old_ctx);
		parse_file(l, y, out);
		fg_set_report(old_fn, old_ctx, NULL, NULL);
	}
	y_free(y);
	cfg_diag_sort(l);
	if (err || l->errors)
		fg_config_free(out);
	return err;
}

void cfg_load_free(struct cfg_load *l)
{
	size_t i;

	for (i = 0; i < l->n_d; i++)
		free(l->d[i].msg);
	free(l->d);
	free(l->bad);
	if (l->have_doc)
		yaml_document_delete(&l->doc);
	memset(l, 0, sizeof(*l));
}

int fg_config_check(const char *path, __u64 hz, struct fg_file_config *out, struct fg_diags *d)
{
	struct cfg_load l;
	int err;

	err = cfg_load_file(&l, path, hz, out);
	*d = (struct fg_diags){ .v = l.d, .n = l.n_d, .errors = l.errors };
	l.d = NULL;
	l.n_d = 0;
	cfg_load_free(&l);
	return err;
}

void fg_diags_free(struct fg_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

int fg_config_load(const char *path, __u64 hz, struct fg_file_config *out)
{
	struct fg_diags d;
	int err, n;

	err = fg_config_check(path, hz, out, &d);
	cfg_diag_print(path, &d);
	n = d.errors;
	fg_diags_free(&d);
	return err ? err : n;
}
