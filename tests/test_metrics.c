// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * test_metrics.c: what the reading side makes of the maps. The program
 * is loaded with the test clock and its maps pinned in a private
 * directory, so the code under test opens them the way the commands do
 * (read-only for stats and /metrics). Packets go through
 * BPF_PROG_TEST_RUN; then the Prometheus text, the stats snapshot, the
 * HTTP router, the event lines and the top-N heap must agree with what
 * those packets did. A last test fills a source table of 2^20 buckets
 * and reads it the way a scrape does (its time is printed, not judged).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <cmocka.h>

#include "util.h"
#include "maps.h"
#include "ruleset.h"
#include "cli.h"
#include "metrics.h"
#include "floodgate.skel.h"

#define HZ	   250
#define T0	   1000000 /* test clock start, ticks */
#define PORT_BAN   9000	   /* endpoint udp/9000: pps 10 burst 10, action ban 1m */
#define PORT_OTHER 53	   /* no endpoint rule: the default rule */
#define N_BAN	   30	   /* packets from SRC_A to udp/9000 */
#define N_OTHER	   5	   /* packets from SRC_B to udp/53 */

static const __u8 SRC_A[4] = { 198, 18, 0, 2 };
static const __u8 SRC_B[4] = { 198, 18, 0, 3 };

/* The loaded program and the pinned maps opened for writing (setup only). */
static struct floodgate *skel;
static struct fg_maps wm;
static char pin_dir[128];

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN && getenv("FG_VERBOSE") ? vfprintf(stderr, fmt, ap) : 0;
}

/* Ethernet + IPv4 + UDP with 18 bytes of payload: 60 bytes. */
static size_t udp_frame(__u8 *p, const __u8 src[4], __u16 dport)
{
	static const __u8 dst[4] = { 198, 18, 0, 1 };
	size_t ip = 14, udp = ip + 20, len = udp + 8 + 18;

	memset(p, 0, len);
	memset(p, 0x02, 12); /* locally administered MACs */
	p[12] = 0x08;	     /* IPv4 */
	p[ip] = 0x45;
	p[ip + 2] = (len - ip) >> 8;
	p[ip + 3] = (len - ip) & 0xff;
	p[ip + 8] = 64;
	p[ip + 9] = IPPROTO_UDP;
	memcpy(p + ip + 12, src, 4);
	memcpy(p + ip + 16, dst, 4);
	p[udp] = 0x30; /* source port 12345 */
	p[udp + 1] = 0x39;
	p[udp + 2] = dport >> 8;
	p[udp + 3] = dport & 0xff;
	p[udp + 4] = (len - udp) >> 8;
	p[udp + 5] = (len - udp) & 0xff;
	return len;
}

static int send_frames(const __u8 src[4], __u16 dport, int n)
{
	__u8 pkt[128];
	size_t len = udp_frame(pkt, src, dport);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = 1);
	int i, err;

	for (i = 0; i < n; i++)
		if ((err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.floodgate), &o)))
			return err;
	return 0;
}

static int pin_all(void)
{
	struct bpf_map *map;
	char path[256];
	int err;

	bpf_object__for_each_map(map, skel->obj)
	{
		if (strncmp(bpf_map__name(map), "fg_", 3))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(map));
		if ((err = bpf_map__pin(map, path)))
			return err;
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, FG_PIN_CLOCK);
	return bpf_program__pin(skel->progs.fg_clock, path);
}

static int setup(void **state)
{
	struct fg_ruleset *rs;
	struct fg_rule *r;
	int err;

	libbpf_set_print(quiet);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/fgt-ops-tm-%d", (int)getpid());
	if (mkdir(pin_dir, 0700))
		return -1;
	fg_opts.pin_dir = pin_dir;
	skel = floodgate__open();
	if (!skel)
		return -1;
	skel->rodata->fg_test_clock = 1;
	skel->rodata->fg_hz = HZ;
	if ((err = floodgate__load(skel)) || (err = pin_all())) {
		fprintf(stderr, "error: load and pin floodgate: %s\n", strerror(-err));
		return -1;
	}
	if (fg_maps_open(&wm, true))
		return -1;
	wm.st->hz = HZ;
	wm.st->layout = FG_LAYOUT_VERSION;
	wm.st->test_now = T0;
	rs = calloc(1, sizeof(*rs)); /* here, so no failure above leaves it behind */
	if (!rs)
		return -1;
	fg_ruleset_defaults(rs, HZ);
	r = &rs->cfg.rules[1];
	r->used = 1;
	r->proto = IPPROTO_UDP;
	r->port_lo = r->port_hi = PORT_BAN;
	r->pps = (struct fg_limit){ .rate = 10, .burst = 10 };
	r->plen4 = 32;
	r->plen6 = 64;
	r->action = FG_ACT_BAN;
	r->ban_ticks = 60 * HZ;
	r->ban_mult = 2;
	r->ban_max_ticks = 86400 * HZ;
	err = fg_ruleset_commit(&wm, rs);
	free(rs);
	if (err)
		return -1;
	/* the clock stands still: 10 pass, the 11th is over the limit and bans, 19 are banned */
	if (send_frames(SRC_A, PORT_BAN, N_BAN) || send_frames(SRC_B, PORT_OTHER, N_OTHER))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct bpf_map *map;
	char path[256];

	if (!skel)
		return 0; /* setup failed before it loaded anything */
	if (wm.st)
		fg_maps_close(&wm);
	/* what pin_all pinned: every fg_ map, the ones userspace never opens too */
	bpf_object__for_each_map(map, skel->obj)
	{
		if (strncmp(bpf_map__name(map), "fg_", 3))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(map));
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, FG_PIN_CLOCK);
	unlink(path);
	floodgate__destroy(skel);
	if (rmdir(pin_dir)) {
		fprintf(stderr, "error: remove %s: %s\n", pin_dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The value of the sample `series` (name with labels, exactly) in a metrics text, -1 if absent. */
static long long sample_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while ((p = strstr(p, series))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		p += n;
	}
	return -1;
}

static size_t count_lines_starting(const char *text, const char *prefix)
{
	size_t n = 0, len = strlen(prefix);
	const char *p = text;

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, prefix, len);
	return n;
}

static char *render(__u32 top_n)
{
	struct fg_metrics_opts o = { .top_n = top_n };
	struct fg_maps rm;
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(fg_maps_open(&rm, false), 0); /* read-only, as the group reads */
	assert_int_equal(fg_metrics_render(&rm, &o, &text, &len), 0);
	fg_maps_close(&rm);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void test_render_counts(void **state)
{
	char *t = render(0), info[128];

	assert_int_equal(sample_of(t, "floodgate_packets_total{action=\"pass\",reason=\"passed\"}"),
			 10 + N_OTHER);
	assert_int_equal(
		sample_of(t, "floodgate_packets_total{action=\"drop\",reason=\"rate_pps\"}"), 1);
	assert_int_equal(sample_of(t, "floodgate_packets_total{action=\"drop\",reason=\"banned\"}"),
			 N_BAN - 11);
	assert_int_equal(sample_of(t, "floodgate_bytes_total{action=\"pass\",reason=\"passed\"}"),
			 (10 + N_OTHER) * 60);
	assert_int_equal(
		sample_of(
			t,
			"floodgate_endpoint_packets_total{endpoint=\"udp/9000\",action=\"pass\"}"),
		10);
	assert_int_equal(
		sample_of(
			t,
			"floodgate_endpoint_packets_total{endpoint=\"udp/9000\",action=\"drop\"}"),
		N_BAN - 10);
	assert_int_equal(
		sample_of(t,
			  "floodgate_endpoint_packets_total{endpoint=\"default\",action=\"pass\"}"),
		N_OTHER);
	assert_int_equal(sample_of(t, "floodgate_endpoint_bytes_total{endpoint=\"udp/9000\"}"),
			 N_BAN * 60);
	assert_int_equal(sample_of(t, "floodgate_bans_total"), 1);
	assert_int_equal(sample_of(t, "floodgate_bans_active"), 1);
	assert_int_equal(sample_of(t, "floodgate_sources_tracked"), 2);
	assert_int_equal(sample_of(t, "floodgate_sources_created_total"), 2);
	assert_int_equal(sample_of(t, "floodgate_source_table_capacity"), FG_DEF_SOURCES);
	assert_int_equal(sample_of(t, "floodgate_under_attack"), 0);
	assert_int_equal(sample_of(t, "floodgate_map_insert_failures_total{map=\"fg_bans\"}"), 0);
	snprintf(info, sizeof(info), "floodgate_build_info{version=\"%s\",layout=\"%d\"}",
		 FG_VERSION, FG_LAYOUT_VERSION);
	assert_int_equal(sample_of(t, info), 1);
	/* per-source series only when asked */
	assert_int_equal(count_lines_starting(t, "floodgate_source_packets_total"), 0);
	free(t);
}

/* Every sample belongs to a family declared once with HELP and TYPE; counters end in _total. */
static void test_render_format(void **state)
{
	char *t = render(2), *line, *save = NULL, fam[128] = "";
	char type[16] = "";
	size_t families = 0;

	for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128];
		size_t n;

		if (!strncmp(line, "# HELP ", 7)) {
			n = strcspn(line + 7, " ");
			assert_true(n < sizeof(fam));
			/* a family is declared once */
			assert_true(strncmp(line + 7, fam, n) || strlen(fam) != n);
			memcpy(fam, line + 7, n);
			fam[n] = '\0';
			families++;
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(sscanf(line + 7, "%127s %15s", name, type), 2);
			assert_string_equal(name, fam);
			if (!strcmp(type, "counter"))
				assert_string_equal(fam + strlen(fam) - 6, "_total");
			else
				assert_string_equal(type, "gauge");
			continue;
		}
		assert_true(line[0] != '#');
		n = strcspn(line, "{ ");
		assert_true(n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		assert_string_equal(name, fam); /* samples follow their own family */
		assert_non_null(strchr(line, ' '));
	}
	assert_true(families >= 15);
	free(t);
}

static void test_render_top_sources(void **state)
{
	char *t = render(1);

	/* the HELP names the config key as it is written */
	assert_non_null(strstr(t, "# HELP floodgate_source_packets_total Packets from one of the "
				  "busiest sources (metrics.top_sources in the config)"));
	assert_int_equal(count_lines_starting(t, "floodgate_source_packets_total{"), 1);
	assert_int_equal(sample_of(t, "floodgate_source_packets_total{source=\"198.18.0.2\","
				      "endpoint=\"udp/9000\"}"),
			 N_BAN);
	assert_int_equal(sample_of(t,
				   "floodgate_source_dropped_packets_total{source=\"198.18.0.2\","
				   "endpoint=\"udp/9000\"}"),
			 N_BAN - 10);
	free(t);
	t = render(10);
	assert_int_equal(count_lines_starting(t, "floodgate_source_packets_total{"), 2);
	free(t);
}

/* src_find's callback: the bucket of SRC_A to udp/9000 (rule 1) into *ctx. */
static int find_src_a(const struct fg_src_key *k, const struct fg_src *v, void *ctx)
{
	struct fg_source_entry *e = ctx;

	if (k->rule != 1 || k->family != FG_FAM_IPV4 || memcmp(k->addr, SRC_A, 4))
		return 0;
	e->key = *k;
	e->val = *v;
	return 1;
}

/* SRC_A's to udp/9000 as it reads now, with a memo of the scrapes before */
static long long memo_scrape(struct fg_metrics_memo *memo)
{
	struct fg_metrics_opts o = { .top_n = 1, .memo = memo };
	char *text = NULL;
	size_t len = 0;
	long long v;

	assert_int_equal(fg_metrics_render(&wm, &o, &text, &len), 0);
	v = sample_of(text, "floodgate_source_packets_total{source=\"198.18.0.2\","
			    "endpoint=\"udp/9000\"}");
	free(text);
	return v;
}

/*
 * A busiest source's counters never go back from one scrape to the next
 * (a read racing a settle, CPUs' increments overwriting each other's):
 * the daemon's memo holds them at the last value, until the bucket is
 * made again.
 */
static void test_render_top_memo(void **state)
{
	struct fg_metrics_memo memo = {};
	struct fg_source_entry e = {};
	struct fg_src v;

	assert_int_equal(fg_sources_each(&wm, find_src_a, &e), 1);
	assert_int_equal(bpf_map_lookup_elem(wm.sources, &e.key, &v), 0);
	assert_int_equal(memo_scrape(&memo), N_BAN);
	v.packets -= 5; /* as an overwritten increment leaves it */
	assert_int_equal(bpf_map_update_elem(wm.sources, &e.key, &v, BPF_EXIST), 0);
	assert_int_equal(memo_scrape(&memo), N_BAN);
	assert_int_equal(memo_scrape(NULL), N_BAN - 5); /* what the map says */
	v.first_seen++;					/* made again: starts over */
	assert_int_equal(bpf_map_update_elem(wm.sources, &e.key, &v, BPF_EXIST), 0);
	assert_int_equal(memo_scrape(&memo), N_BAN - 5);
	v.packets += 5;
	v.first_seen--;
	assert_int_equal(bpf_map_update_elem(wm.sources, &e.key, &v, BPF_EXIST), 0);
	fg_metrics_memo_free(&memo);
}

static void test_snapshot(void **state)
{
	struct fg_snapshot *s = calloc(1, sizeof(*s));
	struct fg_count pass, drop;

	assert_non_null(s);
	assert_int_equal(fg_snapshot_read(&wm, s, true), 0);
	fg_snapshot_verdicts(s, &pass, &drop);
	assert_int_equal(pass.packets, 10 + N_OTHER);
	assert_int_equal(drop.packets, N_BAN - 10);
	assert_int_equal(drop.bytes, (N_BAN - 10) * 60);
	assert_int_equal(s->sources, 2);
	assert_int_equal(s->bans, 1);
	assert_true(s->have_now);
	assert_int_equal(s->now, T0);
	assert_int_equal(s->bans_active, 1);
	assert_int_equal(s->rules[1].passed, 10);
	assert_int_equal(s->rules[1].dropped, N_BAN - 10);
	assert_false(s->under_attack);
	free(s);
}

/* floodgate_new_sources: the last whole second's, whenever the window last rolled */
static void test_new_sources_window(void **state)
{
	static const struct {
		__u64 now;  /* ticks after the current window began */
		__u64 want; /* new sources the snapshot reports */
	} rows[] = {
		{ 0, 700 },	     /* the window just began: the one before it */
		{ HZ - 1, 700 },     /* still in it */
		{ HZ, 300 },	     /* it ended: its own count */
		{ 2 * HZ - 1, 300 }, /* ... for one second */
		{ 2 * HZ, 0 },	     /* then nothing came */
		{ 3600 * HZ, 0 },
	};
	struct fg_attack old, at = { .window = T0, .inserts = 300, .last = 700 };
	struct fg_snapshot *s = calloc(1, sizeof(*s));
	__u32 zero = 0;
	size_t i;

	assert_non_null(s);
	assert_int_equal(bpf_map_lookup_elem(wm.attack, &zero, &old), 0);
	assert_int_equal(bpf_map_update_elem(wm.attack, &zero, &at, BPF_ANY), 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		wm.st->test_now = T0 + rows[i].now;
		assert_int_equal(fg_snapshot_read(&wm, s, false), 0);
		assert_int_equal(s->new_sources, rows[i].want);
	}
	wm.st->test_now = T0;
	assert_int_equal(bpf_map_update_elem(wm.attack, &zero, &old, BPF_ANY), 0);
	free(s);
}

static void test_http(void **state)
{
	struct fg_metrics_opts o = { 0 };
	struct fg_http_reply r;

	assert_int_equal(fg_http_handle(&wm, &o, "GET", "/metrics", 100, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.type, "version=0.0.4"));
	assert_int_equal(strncmp(r.body, "# HELP ", 7), 0);
	assert_int_equal(strlen(r.body), r.len);
	free(r.body);
	assert_int_equal(fg_http_handle(&wm, &o, "HEAD", "/metrics", 0, &r), 0);
	assert_int_equal(r.status, 200);
	free(r.body);
	assert_int_equal(fg_http_handle(&wm, &o, "GET", "/", 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "href=\"/metrics\""));
	free(r.body);
	assert_int_equal(fg_http_handle(&wm, &o, "GET", "/metrics/x", 0, &r), 0);
	assert_int_equal(r.status, 404);
	free(r.body);
	assert_int_equal(fg_http_handle(&wm, &o, "GET", NULL, 0, &r), 0);
	assert_int_equal(r.status, 404);
	free(r.body);
	assert_int_equal(fg_http_handle(&wm, &o, "POST", "/metrics", 0, &r), 0);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	free(r.body);
	assert_int_equal(fg_http_handle(&wm, &o, "DELETE", "/", 0, &r), 0);
	assert_int_equal(r.status, 405);
	free(r.body);
	assert_int_equal(fg_http_handle(&wm, &o, "GET", "/metrics", FG_HTTP_HEADER_MAX, &r), 0);
	assert_int_equal(r.status, 200);
	free(r.body);
	assert_int_equal(fg_http_handle(&wm, &o, "GET", "/metrics", FG_HTTP_HEADER_MAX + 1, &r), 0);
	assert_int_equal(r.status, 431);
	free(r.body);
	assert_int_equal(fg_http_handle(&wm, &o, "GET", "/metrics", 16384, &r), 0);
	assert_int_equal(r.status, 431);
	free(r.body);
}

/* The value of counter reason `rate_pps` in a /metrics body. */
static long long rate_pps_in(const char *body)
{
	return sample_of(body, "floodgate_packets_total{action=\"drop\",reason=\"rate_pps\"}");
}

/*
 * With the daemon's cache, scrapes within its time to live get the body
 * the first one rendered (one walk of the tables for a crowd of them),
 * and the first scrape after it a fresh one.
 */
static void test_http_cache(void **state)
{
	struct fg_metrics_cache c = {};
	struct fg_metrics_opts o = { .cache = &c };
	struct fg_http_reply r;
	long long first;
	__u32 key = FG_R_RATE_PPS;
	int ncpus = libbpf_num_possible_cpus();
	struct fg_count *pc = calloc(ncpus, sizeof(*pc));

	assert_non_null(pc);
	assert_int_equal(fg_http_handle(&wm, &o, "GET", "/metrics", 0, &r), 0);
	first = rate_pps_in(r.body);
	free(r.body);
	assert_true(c.ttl_ms >= FG_METRICS_TTL_MS && c.ttl_ms <= FG_METRICS_TTL_MAX_MS);
	/* a counter moves: the cached body does not, until it expires */
	assert_int_equal(bpf_map_lookup_elem(wm.counters, &key, pc), 0);
	pc[0].packets += 7;
	assert_int_equal(bpf_map_update_elem(wm.counters, &key, pc, BPF_EXIST), 0);
	assert_int_equal(fg_http_handle(&wm, &o, "GET", "/metrics", 0, &r), 0);
	assert_int_equal(rate_pps_in(r.body), first);
	free(r.body);
	c.at_ms -= c.ttl_ms;
	assert_int_equal(fg_http_handle(&wm, &o, "GET", "/metrics", 0, &r), 0);
	assert_int_equal(rate_pps_in(r.body), first + 7);
	free(r.body);
	pc[0].packets -= 7;
	assert_int_equal(bpf_map_update_elem(wm.counters, &key, pc, BPF_EXIST), 0);
	free(pc);
	fg_metrics_cache_free(&c);
}

static void test_parse_listen(void **state)
{
	static const char *const bad[] = {
		"127.0.0.1",  ":9419",	 "localhost:9419", "127.0.0.1:65536",
		"127.0.0.1:", "[::1:80", "::1:80",	   "[::1]",
		"1.2.3:80",   "",	 "[127.0.0.1]:80",
	};
	struct sockaddr_in6 a6;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&a6;
	unsigned int len;
	size_t i;

	assert_int_equal(fg_parse_listen("t", "127.0.0.1:9419", &a6, &len), 0);
	assert_int_equal(a4->sin_family, AF_INET);
	assert_int_equal(ntohs(a4->sin_port), 9419);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(len, sizeof(*a4));
	assert_int_equal(fg_parse_listen("t", "[::1]:0", &a6, &len), 0);
	assert_int_equal(a6.sin6_family, AF_INET6);
	assert_int_equal(a6.sin6_port, 0);
	assert_true(IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr));
	assert_int_equal(len, sizeof(a6));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fprintf(stderr, "# expect an error for '%s':\n", bad[i]);
		assert_int_equal(fg_parse_listen("t", bad[i], &a6, &len), -EINVAL);
	}
}

static int take_event(void *ctx, void *data, size_t size)
{
	if (size >= sizeof(struct fg_event))
		memcpy(ctx, data, sizeof(struct fg_event));
	return 1;
}

static void test_event_lines(void **state)
{
	struct fg_event ev = { 0 };
	struct ring_buffer *rb = ring_buffer__new(wm.events, take_event, &ev, NULL);
	struct fg_config *cfg = calloc(1, sizeof(*cfg));
	__u32 slot = wm.st->slot & 1;
	struct fg_event_text t;
	char line[512], want[128];
	json_object *o, *v;

	assert_non_null(rb);
	assert_non_null(cfg);
	assert_int_equal(bpf_map_lookup_elem(wm.config, &slot, cfg), 0);
	assert_true(ring_buffer__consume(rb) >= 1);
	ring_buffer__free(rb);
	assert_int_equal(ev.type, FG_EV_BAN);
	/* reference: tick T0 was 2026-01-02T03:04:05.5Z; the event happened at T0 */
	fg_event_describe(&ev, cfg, T0 + HZ, 1767323046500000000ULL, HZ, &t);
	fg_event_line(line, sizeof(line), &ev, &t, false);
	snprintf(
		want, sizeof(want),
		"2026-01-02T03:04:05.500Z ban 198.18.0.2 endpoint udp/9000 strikes 1 for 1m cpu %u",
		ev.cpu);
	assert_string_equal(line, want);
	fg_event_line(line, sizeof(line), &ev, &t, true);
	o = json_tokener_parse(line);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "address", &v));
	assert_string_equal(json_object_get_string(v), "198.18.0.2");
	assert_true(json_object_object_get_ex(o, "endpoint", &v));
	assert_string_equal(json_object_get_string(v), "udp/9000");
	assert_true(json_object_object_get_ex(o, "duration", &v));
	assert_int_equal(json_object_get_int64(v), 60);
	assert_true(json_object_object_get_ex(o, "strikes", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	assert_true(json_object_object_get_ex(o, "time", &v));
	assert_string_equal(json_object_get_string(v), "2026-01-02T03:04:05.500Z");
	json_object_put(o);
	/* under-attack events have no address; unknown clocks give "-" */
	ev.type = FG_EV_ATTACK_ON;
	ev.cpu = 1;
	fg_event_describe(&ev, NULL, 0, 0, HZ, &t);
	fg_event_line(line, sizeof(line), &ev, &t, false);
	assert_string_equal(line, "- under_attack_on cpu 1");
	free(cfg);
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void test_top_heap(void **state)
{
	enum { N = 20000, K = 100 };
	double *all = calloc(N, sizeof(*all));
	struct fg_top t;
	size_t i;

	assert_non_null(all);
	srand(7);
	assert_int_equal(fg_top_init(&t, K), 0);
	for (i = 0; i < N; i++) {
		struct fg_top_item it = { 0 };

		all[i] = rand() % 5000; /* with ties */
		it.key[0] = all[i];
		it.key[1] = i;
		memcpy(it.e.key.addr, &i, sizeof(i));
		fg_top_offer(&t, &it);
	}
	fg_top_sort(&t);
	qsort(all, N, sizeof(*all), cmp_desc);
	assert_int_equal(t.n, K);
	for (i = 0; i < K; i++)
		assert_true(t.v[i].key[0] == all[i]);
	for (i = 1; i < K; i++)
		assert_true(t.v[i - 1].key[0] > t.v[i].key[0] ||
			    (t.v[i - 1].key[0] == t.v[i].key[0] && t.v[i - 1].key[1] > t.v[i].key[1]));
	fg_top_free(&t);
	assert_int_equal(fg_top_init(&t, 0), 0); /* N = 0 keeps nothing */
	fg_top_offer(&t, &(struct fg_top_item){ .key = { 1, 1 } });
	assert_int_equal(t.n, 0);
	fg_top_free(&t);
	free(all);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A full source table, read as a scrape reads it; the time is reported, not asserted. */
static void test_million_sources(void **state)
{
	const __u32 n = FG_DEF_SOURCES, chunk = 65536;
	struct fg_src_key *keys = calloc(chunk, sizeof(*keys));
	struct fg_src *vals = calloc(chunk, sizeof(*vals));
	struct fg_metrics_opts o = { .top_n = 10 };
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct fg_maps rm;
	char *text;
	size_t len;
	long counted;
	double t0, t1;
	__u32 i, j;

	assert_non_null(keys);
	assert_non_null(vals);
	for (i = 0; i < n; i += chunk) {
		__u32 cnt = chunk;

		for (j = 0; j < chunk; j++) {
			__u32 a = htonl(0xc6120000 + i + j); /* 198.18.0.0/15 and on */

			memset(&keys[j], 0, sizeof(keys[j]));
			keys[j].rule = 0;
			keys[j].family = FG_FAM_IPV4;
			keys[j].plen = 32;
			memcpy(keys[j].addr, &a, 4);
			vals[j].packets = i + j;
			vals[j].bytes = (i + j) * 60ULL;
			vals[j].first_seen = vals[j].last_seen = T0;
		}
		assert_int_equal(bpf_map_update_batch(wm.sources, keys, vals, &cnt, &bo), 0);
	}
	t0 = now_ms();
	counted = fg_map_count_entries(wm.sources, sizeof(*keys), sizeof(*vals));
	printf("# %ld sources counted with batched lookups in %.0f ms\n", counted, now_ms() - t0);
	/* an LRU table may evict a little before it is full */
	assert_true(counted > (long)n * 9 / 10);
	assert_int_equal(fg_maps_open(&rm, false), 0);
	t0 = now_ms();
	assert_int_equal(fg_metrics_render(&rm, &o, &text, &len), 0);
	t1 = now_ms();
	fg_maps_close(&rm);
	assert_int_equal(sample_of(text, "floodgate_sources_tracked"), counted);
	assert_int_equal(count_lines_starting(text, "floodgate_source_packets_total{"), 10);
	printf("# /metrics with %ld tracked sources rendered in %.0f ms\n", counted, t1 - t0);
	free(text);
	free(keys);
	free(vals);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_counts),
		cmocka_unit_test(test_render_format),
		cmocka_unit_test(test_render_top_sources),
		cmocka_unit_test(test_render_top_memo),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_new_sources_window),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_http_cache),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_event_lines),
		cmocka_unit_test(test_top_heap),
		cmocka_unit_test(test_million_sources),
	};

	return cmocka_run_group_tests_name("metrics", tests, setup, teardown);
}
