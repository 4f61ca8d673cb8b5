// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * test_config.c: the YAML config loader (user/config_*.c) without any map.
 *
 * - every fixture of tests/configs/: good-*.yaml loads with no problem;
 *   bad-*.yaml says in its first lines where its first error is and what
 *   it says (`# expect: LINE:COL: TEXT`), and optionally how many errors
 *   the file has in all (`# errors: N`); tests/cli_config.test.sh checks
 *   the same fixtures through `floodgate config check`;
 * - floodgate.example.yaml loads clean, into the values it documents;
 * - every key lands in its field, with the defaults the file promises;
 * - a table of small texts with their error count and first error.
 *
 * fg_config_check() gives the problems as a list (the one `config check`
 * prints, and prints as JSON with -j); the tests read that list, and
 * catch what is reported through error() (a file that cannot be read)
 * with their own error routine.
 */
#define _GNU_SOURCE /* open_memstream */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "cases.h"
#include "util.h"
#include "ruleset.h"
#include "config.h"
#include "rule.h"

#define HZ	     250 /* ticks per second the tests load with */
#define FIXTURES     "tests/configs"
#define EXAMPLE	     "floodgate.example.yaml"
#define MAX_FIXTURES 256

/* What one fg_config_load() call gave. */
struct result {
	int ret;	   /* its return value */
	char *out;	   /* what `config check` would print: reports, then FILE:LINE:COL lines */
	int errors;	   /* lines with ": error: " */
	int warnings;	   /* lines with ": warning: " */
	unsigned int line; /* first error: line */
	unsigned int col;  /* first error: column */
	char *msg;	   /* first error: message after "error: " (NULL when none) */
};

static void result_free(struct result *r)
{
	free(r->out);
	free(r->msg);
	memset(r, 0, sizeof(*r));
}

/*
 * Digits at s (no sign, no spaces) followed by `after`: the number in *out
 * and the text past `after`, or NULL when s does not read so.
 */
static const char *scan_uint(const char *s, const char *after, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return NULL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || v > UINT_MAX || strncmp(end, after, strlen(after)))
		return NULL;
	*out = v;
	return end + strlen(after);
}

/* The test's error routine: what error() and warning() report, as the default would print it. */
static void report_mem(void *ctx, bool warn, const char *msg)
{
	fprintf(ctx, "%s: %s\n", warn ? "warning" : "error", msg);
}

/* Load path, reading its problems from the list the loader returns. */
static void load_path(const char *path, struct fg_file_config *cfg, struct result *r)
{
	struct fg_diags d;
	size_t len = 0, i;
	FILE *mem;

	memset(r, 0, sizeof(*r));
	mem = open_memstream(&r->out, &len);
	assert_non_null(mem);
	fg_set_report(report_mem, mem, NULL, NULL);
	r->ret = fg_config_check(path, HZ, cfg, &d);
	fg_set_report(NULL, NULL, NULL, NULL);
	if (!r->ret)
		r->ret = d.errors;
	for (i = 0; i < d.n; i++) {
		const struct fg_diag *p = &d.v[i];

		fprintf(mem, "%s:%u:%u: %s: %s\n", path, p->line, p->col,
			p->warn ? "warning" : "error", p->msg ?: "out of memory");
		if (p->warn) {
			r->warnings++;
			continue;
		}
		r->errors++;
		if (!r->msg) {
			r->line = p->line;
			r->col = p->col;
			r->msg = strdup(p->msg ?: "out of memory");
		}
	}
	fclose(mem);
	fg_diags_free(&d);
}

/* Load a text through a temporary file. */
static void load_text(const char *text, struct fg_file_config *cfg, struct result *r)
{
	char path[] = "/tmp/fgt-config-XXXXXX";
	int fd = mkstemp(path);
	size_t n = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	load_path(path, cfg, r);
	unlink(path);
}

/* The `# expect:` and `# errors:` lines of a fixture. */
static void fixture_expect(const char *path, unsigned int *line, unsigned int *col, char *text,
			   size_t tlen, int *count)
{
	char buf[512];
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	*line = *col = 0;
	*count = -1;
	text[0] = '\0';
	while (fgets(buf, sizeof(buf), f) && buf[0] == '#') {
		const char *p;
		unsigned int n;

		buf[strcspn(buf, "\n")] = '\0';
		if (!strncmp(buf, "# expect: ", 10) && (p = scan_uint(buf + 10, ":", line)) &&
		    (p = scan_uint(p, ": ", col)))
			snprintf(text, tlen, "%s", p);
		if (!strncmp(buf, "# errors: ", 10) && scan_uint(buf + 10, "", &n) && n <= INT_MAX)
			*count = n;
	}
	fclose(f);
}

static void test_fixture(void **state)
{
	const char *name = *state;
	struct fg_file_config cfg;
	struct result r;
	unsigned int line, col;
	char path[512], text[400];
	int count;

	snprintf(path, sizeof(path), FIXTURES "/%s", name);
	load_path(path, &cfg, &r);
	if (!strncmp(name, "good-", 5)) {
		if (r.ret || r.errors || r.warnings)
			fail_msg("%s: returned %d, printed:\n%s", name, r.ret, r.out ?: "");
		assert_non_null(cfg.rs);
	} else {
		fixture_expect(path, &line, &col, text, sizeof(text), &count);
		if (!line || !text[0])
			fail_msg("%s: no '# expect: LINE:COL: TEXT' line", name);
		if (r.ret <= 0 || r.errors != r.ret)
			fail_msg("%s: returned %d with %d error lines:\n%s", name, r.ret, r.errors,
				 r.out ?: "");
		if (r.line != line || r.col != col || !r.msg || !strstr(r.msg, text))
			fail_msg("%s: first error should be %u:%u '%s', output:\n%s", name, line,
				 col, text, r.out ?: "");
		if (count >= 0 && r.ret != count)
			fail_msg("%s: %d errors, want %d:\n%s", name, r.ret, count, r.out ?: "");
		assert_null(cfg.rs); /* nothing to apply from a bad file */
	}
	result_free(&r);
	fg_config_free(&cfg);
}

static const struct fg_rule *rule_for(const struct fg_file_config *c, const char *ep_s)
{
	struct fg_endpoint ep;
	int i;

	assert_int_equal(fg_parse_endpoint("test", ep_s, &ep), 0);
	i = fg_ruleset_find(c->rs, &ep);
	if (i < 0)
		fail_msg("no rule for %s", ep_s);
	return &c->rs->cfg.rules[i];
}

static int count_rules(const struct fg_file_config *c)
{
	int i, n = 0;

	for (i = 1; i < FG_MAX_RULES; i++)
		n += c->rs->cfg.rules[i].used;
	return n;
}

static void assert_cidr(const struct fg_cidr *c, const char *want)
{
	char buf[64];

	assert_string_equal(fg_format_cidr(buf, sizeof(buf), c->family, c->addr, c->plen), want);
}

/* The shipped example loads clean, into what its comments say. */
static void test_example(void **state)
{
	struct fg_file_config c;
	struct fg_ruleset def;
	const struct fg_rule *r;
	struct result res;

	load_path(EXAMPLE, &c, &res);
	if (res.ret || res.errors || res.warnings)
		fail_msg("%s: returned %d, printed:\n%s", EXAMPLE, res.ret, res.out ?: "");
	fg_ruleset_defaults(&def, HZ);
	/* the default section spells out the built-in values */
	assert_memory_equal(&c.rs->cfg.rules[0], &def.cfg.rules[0], sizeof(def.cfg.rules[0]));
	assert_int_equal(count_rules(&c), 4);
	r = rule_for(&c, "tcp/443");
	assert_int_equal(r->pps.rate, 2000);
	assert_int_equal(r->pps.burst, 4000);
	assert_int_equal(r->bps.rate, 100000000);
	assert_int_equal(r->bps.burst, 1 << 20);
	assert_int_equal(r->syn.rate, 50);
	assert_int_equal(r->total.rate, 100000);
	assert_int_equal(r->total.burst, 200000);
	r = rule_for(&c, "udp/53");
	assert_int_equal(r->action, FG_ACT_BAN);
	assert_int_equal(r->ban_ticks, 600 * HZ);
	assert_int_equal(r->ban_mult, 3);
	assert_int_equal(r->ban_max_ticks, 86400 * HZ);
	r = rule_for(&c, "udp/27015-27030");
	assert_int_equal(r->action, FG_ACT_MONITOR);
	assert_int_equal(r->plen4, 24);
	assert_int_equal(r->plen6, 48);
	assert_int_equal(r->pps.burst, 500); /* a rate without a burst: burst = rate */
	r = rule_for(&c, "tcp/8000-8080");
	assert_int_equal(r->pps.rate, 0);
	assert_int_equal(r->total.rate, 1000);
	assert_int_equal(c.n_ifaces, 0);
	assert_int_equal(c.n_allow, 2);
	assert_int_equal(c.n_deny, 2);
	assert_cidr(&c.allow[0], "198.18.255.0/24");
	assert_cidr(&c.deny[1], "2001:db8:dead::/48");
	assert_int_equal(c.sizes.sources, FG_DEF_SOURCES);
	assert_int_equal(c.sizes.bans, FG_DEF_BANS);
	assert_int_equal(c.sizes.lists, FG_DEF_LIST);
	assert_string_equal(c.metrics, "127.0.0.1:9419");
	assert_int_equal(c.forget_after, 86400);
	assert_int_equal(fg_ruleset_check(c.rs), 0);
	result_free(&res);
	fg_config_free(&c);
}

/* Every key, each with its own value, lands in its own field. */
static void test_every_key(void **state)
{
	static const char text[] = "interfaces: [fgt0, fgt1]\n"
				   "default:\n"
				   "  pps: 101\n"
				   "  burst: 102\n"
				   "  bps: 103k\n"
				   "  bps_burst: 104k\n"
				   "  syn_pps: 105\n"
				   "  syn_burst: 106\n"
				   "  total_pps: 107\n"
				   "  total_burst: 108\n"
				   "  prefix4: 29\n"
				   "  prefix6: 56\n"
				   "  action: ban\n"
				   "  ban_for: 2m\n"
				   "  ban_multiplier: 7\n"
				   "  ban_max: 3h\n"
				   "endpoints:\n"
				   "  - endpoint: udp/5000-5010\n"
				   "    pps: 201\n"
				   "    burst: 202\n"
				   "    bps: 2m\n"
				   "    bps_burst: 1m\n"
				   "    syn_pps: 205\n"
				   "    syn_burst: 206\n"
				   "    total_pps: 207\n"
				   "    total_burst: 208\n"
				   "    prefix4: 30\n"
				   "    prefix6: 60\n"
				   "    action: monitor\n"
				   "    ban_for: 5s\n"
				   "    ban_multiplier: 9\n"
				   "    ban_max: 1d\n"
				   "allow: [198.18.1.0/24, \"2001:db8:1::1\"]\n"
				   "deny: [198.18.2.2]\n"
				   "ban_policy: {forget_after: 2d, events_per_second: 33}\n"
				   "under_attack: {new_sources_per_second: 4444}\n"
				   "tables: {sources: 2048, bans: 128, lists: 64}\n"
				   "metrics: {listen: \"[::1]:9500\", top_sources: 12}\n";
	struct fg_file_config c;
	const struct fg_rule *d, *e;
	struct result r;

	load_text(text, &c, &r);
	if (r.ret || r.errors || r.warnings)
		fail_msg("returned %d, printed:\n%s", r.ret, r.out ?: "");
	assert_int_equal(c.n_ifaces, 2);
	assert_string_equal(c.ifaces[0], "fgt0");
	assert_string_equal(c.ifaces[1], "fgt1");
	d = &c.rs->cfg.rules[FG_RULE_DEFAULT];
	assert_int_equal(d->used, 1);
	assert_int_equal(d->proto, 0);
	assert_int_equal(d->pps.rate, 101);
	assert_int_equal(d->pps.burst, 102);
	assert_int_equal(d->bps.rate, 103000);
	assert_int_equal(d->bps.burst, 104 * 1024);
	assert_int_equal(d->syn.rate, 105);
	assert_int_equal(d->syn.burst, 106);
	assert_int_equal(d->total.rate, 107);
	assert_int_equal(d->total.burst, 108);
	assert_int_equal(d->plen4, 29);
	assert_int_equal(d->plen6, 56);
	assert_int_equal(d->action, FG_ACT_BAN);
	assert_int_equal(d->ban_ticks, 120 * HZ);
	assert_int_equal(d->ban_mult, 7);
	assert_int_equal(d->ban_max_ticks, 3 * 3600 * HZ);
	assert_int_equal(count_rules(&c), 1);
	e = rule_for(&c, "udp/5000-5010");
	assert_int_equal(e->used, 1);
	assert_int_equal(e->proto, IPPROTO_UDP);
	assert_int_equal(e->port_lo, 5000);
	assert_int_equal(e->port_hi, 5010);
	assert_int_equal(e->pps.rate, 201);
	assert_int_equal(e->pps.burst, 202);
	assert_int_equal(e->bps.rate, 2000000);
	assert_int_equal(e->bps.burst, 1 << 20);
	assert_int_equal(e->syn.rate, 205);
	assert_int_equal(e->syn.burst, 206);
	assert_int_equal(e->total.rate, 207);
	assert_int_equal(e->total.burst, 208);
	assert_int_equal(e->plen4, 30);
	assert_int_equal(e->plen6, 60);
	assert_int_equal(e->action, FG_ACT_MONITOR);
	assert_int_equal(e->ban_ticks, 5 * HZ);
	assert_int_equal(e->ban_mult, 9);
	assert_int_equal(e->ban_max_ticks, 86400 * HZ);
	assert_int_equal(c.n_allow, 2);
	assert_cidr(&c.allow[0], "198.18.1.0/24");
	assert_cidr(&c.allow[1], "2001:db8:1::1");
	assert_int_equal(c.allow[1].plen, 128);
	assert_int_equal(c.n_deny, 1);
	assert_cidr(&c.deny[0], "198.18.2.2");
	assert_int_equal(c.forget_after, 2 * 86400);
	assert_int_equal(c.rs->cfg.events_per_sec, 33);
	assert_int_equal(c.rs->cfg.attack_new_per_sec, 4444);
	assert_int_equal(c.sizes.sources, 2048);
	assert_int_equal(c.sizes.bans, 128);
	assert_int_equal(c.sizes.lists, 64);
	assert_string_equal(c.metrics, "[::1]:9500");
	assert_int_equal(c.metrics_top, 12);
	result_free(&r);
	fg_config_free(&c);
}

/* What a key left out means. */
static void test_defaults(void **state)
{
	static const char text[] = "default:\n"
				   "  pps: 300\n"     /* no burst: burst = rate */
				   "  syn_burst: 9\n" /* no syn_pps: keeps the built-in rate */
				   "  bps: 80m\n"     /* no bps_burst: one second of bytes */
				   "  ban_for: 5m\n"  /* endpoints inherit ban_* */
				   "  ban_max: 2d\n"  /* */
				   "endpoints:\n"     /* */
				   "  - endpoint: tcp/25\n" /* nothing else: no limit at all */
				   "  - endpoint: tcp/26\n" /* */
				   "    bps: 8k\n" /* a second is less than a frame: 1514 */
				   "    action: ban\n"
				   "  - endpoint: tcp/27\n"
				   "    pps: off\n"
				   "under_attack: {new_sources_per_second: off}\n";
	struct fg_file_config c;
	struct fg_ruleset def;
	const struct fg_rule *d, *e;
	struct result r;

	fg_ruleset_defaults(&def, HZ);
	load_text("", &c, &r);
	if (r.ret || r.out[0])
		fail_msg("empty file: returned %d, printed:\n%s", r.ret, r.out);
	assert_memory_equal(&c.rs->cfg, &def.cfg, sizeof(def.cfg));
	assert_int_equal(c.n_allow + c.n_deny + c.n_ifaces, 0);
	assert_int_equal(c.sizes.sources + c.sizes.bans + c.sizes.lists, 0); /* 0 = default */
	assert_string_equal(c.metrics, "");
	assert_int_equal(c.forget_after, 86400);
	result_free(&r);
	fg_config_free(&c);

	load_text(text, &c, &r);
	if (r.ret || r.errors)
		fail_msg("returned %d, printed:\n%s", r.ret, r.out ?: "");
	d = &c.rs->cfg.rules[FG_RULE_DEFAULT];
	assert_int_equal(d->pps.rate, 300);
	assert_int_equal(d->pps.burst, 300);
	assert_int_equal(d->syn.rate, def.cfg.rules[0].syn.rate);
	assert_int_equal(d->syn.burst, 9);
	assert_int_equal(d->bps.rate, 80000000);
	assert_int_equal(d->bps.burst, 10000000);
	assert_int_equal(d->action, FG_ACT_DROP);
	assert_int_equal(d->ban_mult, def.cfg.rules[0].ban_mult);
	e = rule_for(&c, "tcp/25");
	assert_int_equal(e->pps.rate + e->bps.rate + e->syn.rate + e->total.rate, 0);
	assert_int_equal(e->plen4, 32);
	assert_int_equal(e->plen6, 64);
	assert_int_equal(e->action, FG_ACT_DROP);
	e = rule_for(&c, "tcp/26");
	assert_int_equal(e->bps.rate, 8000);
	assert_int_equal(e->bps.burst, 1514);
	assert_int_equal(e->action, FG_ACT_BAN);
	assert_int_equal(e->ban_ticks, 300 * HZ);
	assert_int_equal(e->ban_max_ticks, 2 * 86400 * HZ);
	assert_int_equal(e->ban_mult, def.cfg.rules[0].ban_mult);
	e = rule_for(&c, "tcp/27");
	assert_int_equal(e->pps.rate, 0);
	assert_int_equal(e->pps.burst, 0);
	assert_int_equal(c.rs->cfg.attack_new_per_sec, 0);
	/* rules go to slots 1.. in file order */
	assert_int_equal(c.rs->cfg.rules[1].port_lo, 25);
	assert_int_equal(c.rs->cfg.rules[3].port_lo, 27);
	result_free(&r);
	fg_config_free(&c);
}

/* One small text and what loading it must say. */
struct row {
	const char *name;	/* test name */
	const char *text;	/* the file */
	int errors;		/* errors in all */
	int warnings;		/* warnings in all */
	unsigned int line, col; /* first error */
	const char *msg;	/* a piece of the first error */
};

static const struct row rows[] = {
	{ "a comment-only file is valid", "# nothing\n", 0, 0, 0, 0, NULL },
	{ "off turns a built-in limit off", "default: {syn_pps: off, pps: off}\n", 0, 0, 0, 0, NULL },
	{ "a small byte burst is a warning, not an error",
	  "default:\n  bps: 1m\n  bps_burst: 1000\n", 0, 1, 0, 0, NULL },
	{ "every error is reported, not only the first",
	  "default:\n  pps: x\n  burst: y\n  prefix4: z\n  action: w\n", 4, 0, 2, 8,
	  "default: pps: x: not a number" },
	{ "structural and value errors both count",
	  "default:\n  pps: [1]\n  burst: q\nendpoints:\n  - endpoint: tcp/1\n    wrong: 1\n", 3, 0,
	  2, 8, "default: pps: expected one value, got a list" },
	{ "errors are sorted by position", "allow: [198.18.0.1/24]\ndefault: {pps: 0}\nbogus: 1\n",
	  3, 0, 1, 9, "allow: 198.18.0.1/24: host bits set" },
	{ "a syntax error stops the check", "default:\n  pps: [1\n", 1, 0, 3, 1, "did not find" },
	{ "a key that is not a name", "default:\n  [a]: 1\n", 1, 0, 2, 3,
	  "default: a key must be a name, got a list" },
	{ "a total burst needs a total rate", "endpoints:\n  - endpoint: udp/9\n    total_burst: 5\n",
	  1, 0, 3, 18, "udp/9: total_burst: 5: set without total_pps" },
	{ "ban_max shorter than an inherited ban_for",
	  "default: {ban_for: 2h}\nendpoints:\n  - endpoint: udp/9\n    ban_max: 1h\n", 1, 0, 4, 14,
	  "udp/9: ban_max 1h is shorter than ban_for 2h" },
	{ "ban_for longer than the built-in ban_max", "default:\n  ban_for: 2d\n", 1, 0, 2, 12,
	  "default: ban_max 1d is shorter than ban_for 2d" },
	{ "the same port twice in two rules",
	  "endpoints:\n  - endpoint: udp/53\n  - endpoint: udp/50-60\n", 1, 0, 3, 15,
	  "endpoint: udp/50-60: overlaps udp/53 (line 2)" },
	{ "tcp and udp on the same port do not overlap",
	  "endpoints:\n  - endpoint: udp/53\n  - endpoint: tcp/53\n", 0, 0, 0, 0, NULL },
	{ "an empty interface name", "interfaces: [\"\"]\n", 1, 0, 1, 14, "interfaces: empty value" },
	{ "more than 16 interfaces",
	  "interfaces: [a1, a2, a3, a4, a5, a6, a7, a8, a9, b1, b2, b3, b4, b5, b6, b7, b8]\n", 1,
	  0, 1, 78, "interfaces: more than 16 entries" },
	{ "metrics listen needs a port", "metrics: {listen: 127.0.0.1}\n", 1, 0, 1, 19,
	  "metrics: listen: 127.0.0.1: expected ADDR:PORT" },
	{ "under_attack takes a count", "under_attack: {new_sources_per_second: lots}\n", 1, 0, 1,
	  40, "under_attack: new_sources_per_second: lots: not a number" },
	{ "forget_after is a duration", "ban_policy: {forget_after: 10}\n", 0, 0, 0, 0, NULL },
	{ "forget_after of zero", "ban_policy: {forget_after: 0}\n", 1, 0, 1, 28,
	  "ban_policy: forget_after: 0: must be 1s..366d" },
	{ "the same key twice at the top", "default: {pps: 5}\nallow: []\ndefault: {pps: 6}\n", 1,
	  0, 3, 1, "'default' given twice (first on line 1)" },
	{ "a mapping where a list belongs", "endpoints: {endpoint: tcp/1}\n", 1, 0, 1, 12,
	  "endpoints: expected a list" },
	{ "bad bytes", "default:\n  pps: \"\xff\"\n", 1, 0, 2, 9, "invalid leading UTF-8 octet" },
	{ "syn_proxy on a TCP endpoint", "endpoints:\n  - endpoint: tcp/443\n    syn_proxy: on\n",
	  0, 0, 0, 0, NULL },
	{ "syn_proxy off anywhere", "default: {syn_proxy: off}\n", 0, 0, 0, 0, NULL },
	{ "syn_proxy is on or off", "endpoints:\n  - endpoint: tcp/443\n    syn_proxy: yes\n", 1, 0,
	  3, 16, "tcp/443: syn_proxy: yes: must be on or off" },
	{ "syn_proxy only for TCP endpoints", "endpoints:\n  - endpoint: udp/53\n    syn_proxy: on\n",
	  1, 0, 3, 16, "udp/53: syn_proxy: on: only for TCP endpoints" },
	{ "the default rule has no syn_proxy", "default:\n  syn_proxy: on\n", 1, 0, 2, 14,
	  "default: syn_proxy: on: only for TCP endpoints" },
};
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static void test_row(void **state)
{
	const struct row *w = *state;
	struct fg_file_config c;
	struct result r;

	load_text(w->text, &c, &r);
	if (r.ret != w->errors || r.errors != w->errors || r.warnings != w->warnings)
		fail_msg("returned %d, %d errors and %d warnings printed (want %d and %d):\n%s",
			 r.ret, r.errors, r.warnings, w->errors, w->warnings, r.out ?: "");
	if (w->msg && (r.line != w->line || r.col != w->col || !r.msg || !strstr(r.msg, w->msg)))
		fail_msg("first error should be %u:%u '%s', output:\n%s", w->line, w->col, w->msg,
			 r.out ?: "");
	if (w->errors)
		assert_null(c.rs);
	else
		assert_non_null(c.rs);
	result_free(&r);
	fg_config_free(&c);
}

static void test_unreadable(void **state)
{
	struct fg_file_config c;
	struct result r;

	load_path("/nonexistent/floodgate.yaml", &c, &r);
	assert_int_equal(r.ret, -ENOENT);
	assert_non_null(strstr(r.out, "/nonexistent/floodgate.yaml"));
	assert_null(c.rs);
	result_free(&r);
	fg_config_free(&c);
}

/* Durations become ticks at the rate the loader is given. */
static void test_hz(void **state)
{
	char path[] = "/tmp/fgt-config-XXXXXX";
	struct fg_file_config c;
	struct fg_diags d;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "default: {ban_for: 10m}\n", 24), 24);
	close(fd);
	assert_int_equal(fg_config_check(path, 1000, &c, &d), 0);
	assert_int_equal(d.n, 0);
	fg_diags_free(&d);
	assert_int_equal(c.rs->cfg.rules[0].ban_ticks, 600 * 1000);
	assert_int_equal(c.rs->cfg.rules[0].ban_max_ticks, 86400 * 1000);
	fg_config_free(&c);
	unlink(path);
}

/*
 * One rule for default bursts, whichever side sets the rate: `bps: 1t` in
 * the file and `limit set default --bps 1t` (the path limit.c takes) both
 * give the largest byte burst, and the rule set passes its own check.
 * They disagreed once: the command line computed 125,000,000,000 bytes
 * and fg_ruleset_check refused it.
 */
static void test_default_burst_both_sides(void **state)
{
	const struct fg_rule_where cli = { .label = "limit set default", .cli = true };
	struct fg_ruleset *rs = calloc(1, sizeof(*rs));
	struct fg_rule_edit e = { .text[FG_RF_BPS] = "1t" };
	struct fg_file_config c;
	struct result r;

	assert_non_null(rs);
	load_text("default:\n  bps: 1t\n", &c, &r);
	if (r.ret)
		fail_msg("bps: 1t: returned %d, printed:\n%s", r.ret, r.out ?: "");
	assert_int_equal(c.rs->cfg.rules[0].bps.rate, 1000000000000ULL);
	assert_int_equal(c.rs->cfg.rules[0].bps.burst, 1ULL << 32);
	assert_int_equal(fg_ruleset_check(c.rs), 0);

	fg_ruleset_defaults(rs, HZ);
	assert_int_equal(fg_rule_parse(&e, &(struct fg_rule_where){ .cli = true }), 0);
	assert_int_equal(fg_rule_apply(&rs->cfg.rules[0], &e, HZ, &cli), 0);
	assert_int_equal(rs->cfg.rules[0].bps.burst, c.rs->cfg.rules[0].bps.burst);
	assert_int_equal(fg_ruleset_check(rs), 0);

	/* a small rate: one full frame at least, on both sides */
	assert_int_equal(fg_rf_default_burst(FG_RF_BPS, 8000), FG_FRAME);
	assert_int_equal(fg_rf_default_burst(FG_RF_BPS, 80000000), 10000000);
	assert_int_equal(fg_rf_default_burst(FG_RF_PPS, 500), 500);
	fg_config_free(&c);
	result_free(&r);
	free(rs);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	char *names[MAX_FIXTURES];
	struct cases c = { 0 };
	size_t i, nf = 0;
	struct dirent *de;
	DIR *d;
	int ret;

	d = opendir(FIXTURES);
	if (!d) {
		printf("not ok - open %s (run from the source tree): %s\n", FIXTURES,
		       strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) && nf < MAX_FIXTURES) {
		size_t l = strlen(de->d_name);

		if (l > 5 && !strcmp(de->d_name + l - 5, ".yaml") &&
		    (!strncmp(de->d_name, "good-", 5) || !strncmp(de->d_name, "bad-", 4)))
			names[nf++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, nf, sizeof(names[0]), by_name);
	for (i = 0; i < nf; i++)
		cases_add(&c, test_fixture, names[i], "fixture %s", names[i]);
	cases_add(&c, test_example, NULL,
		  "floodgate.example.yaml loads clean into its documented values");
	cases_add(&c, test_every_key, NULL, "every key lands in its field");
	cases_add(&c, test_defaults, NULL, "keys left out take the documented defaults");
	cases_add(&c, test_unreadable, NULL, "an unreadable file is -errno, not a count");
	cases_add(&c, test_hz, NULL, "durations become ticks at the given hz");
	cases_add(&c, test_default_burst_both_sides, NULL,
		  "bps 1t: one default byte burst from the file and limit set");
	for (i = 0; i < N_ROWS; i++)
		cases_add(&c, test_row, (void *)&rows[i], "%s", rows[i].name);
	ret = cases_run(&c, "config");
	for (i = 0; i < nf; i++)
		free(names[i]);
	return ret;
}
