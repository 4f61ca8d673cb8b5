// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * fuzz_metrics.c: libFuzzer target for the metrics request handler
 * (fg_http_handle in user/metrics.c), the Prometheus text it renders from
 * the maps, and the --metrics ADDR:PORT parser (fg_parse_listen).
 *
 * The program's maps are created once from the skeleton (loaded, never
 * attached, with the test clock and small tables), so the handler reads
 * real maps. Each input then fills them (rule set, counters, sources,
 * bans, list prefixes, under-attack state) and makes one request. Checked
 * besides ASan and UBSan: the status the router must give, a body of the
 * stated length, and for /metrics a well-formed exposition: every line a
 * HELP, TYPE or sample line, names and labels valid, label values
 * escaped, every family typed before its samples, no series twice.
 *
 * An input starting with 'L' is an ADDR:PORT for fg_parse_listen
 * instead: accepted ones must print and parse back to the same address.
 *
 * Needs root (BPF maps); without it the target says SKIP and exits.
 */
/* fuzz-requires: fg_http_handle fg_metrics_render fg_parse_listen */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util.h"
#include "maps.h"
#include "ruleset.h"
#include "metrics.h"
#include "floodgate.skel.h"

#define SMALL_TABLE 256 /* fg_sources, fg_bans, fg_lists entries: a walk stays cheap */
#define MAX_LINES   4096

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			dprintf(2, "fuzz_metrics: %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
			dprintf(2, __VA_ARGS__);                                                   \
			dprintf(2, "\n");                                                          \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static struct floodgate *skel;
static struct fg_maps maps;
static struct fg_ruleset rs; /* static: it holds the 256 KiB port table */
static int clock_fd;

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;
	int err;

	if (!getenv("FUZZ_VERBOSE")) {
		FILE *null = fopen("/dev/null", "w");

		if (null)
			stderr = null; /* the code under test's error lines; fd 2 still reports */
		libbpf_set_print(quiet);
	}
	skel = floodgate__open();
	if (!skel) {
		dprintf(2, "fuzz_metrics: SKIP: open the BPF object: %s\n", strerror(errno));
		exit(0);
	}
	skel->rodata->fg_test_clock = 1; /* fg_state.test_now is the time: inputs choose it */
	bpf_map__set_max_entries(skel->maps.fg_sources, SMALL_TABLE);
	bpf_map__set_max_entries(skel->maps.fg_bans, SMALL_TABLE);
	bpf_map__set_max_entries(skel->maps.fg_lists, SMALL_TABLE);
	err = floodgate__load(skel);
	if (err) {
		dprintf(2, "fuzz_metrics: SKIP: load the BPF object: %s (needs root and BPF)\n",
			strerror(-err));
		exit(0);
	}
	for (i = 0; i < fg_map_count; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(skel->obj, fg_map_table[i].name);

		CHECK(map, "map %s missing from the skeleton", fg_map_table[i].name);
		*(int *)((char *)&maps + fg_map_table[i].off) = bpf_map__fd(map);
	}
	clock_fd = bpf_program__fd(skel->progs.fg_clock);
	maps.lock = -1;
	maps.ncpus = libbpf_num_possible_cpus();
	CHECK(maps.ncpus > 0, "possible CPUs: %d", maps.ncpus);
	maps.st = calloc(1, sizeof(*maps.st));
	CHECK(maps.st, "out of memory");
	return 0;
}

/* A reader of the input that gives zeros once it runs dry. */
struct input {
	const uint8_t *p; /* next byte */
	size_t n;	  /* bytes left */
};

static void take(struct input *in, void *dst, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memcpy(dst, in->p, k);
	memset((char *)dst + k, 0, len - k);
	in->p += k;
	in->n -= k;
}

static __u8 u8(struct input *in)
{
	__u8 v;

	take(in, &v, 1);
	return v;
}

static __u16 u16(struct input *in)
{
	__u16 v;

	take(in, &v, 2);
	return v;
}

static __u64 u64(struct input *in)
{
	__u64 v;

	take(in, &v, 8);
	return v;
}

/* A string of up to 255 bytes (length byte first), NUL-terminated in buf. */
static char *str(struct input *in, char *buf)
{
	size_t len = u8(in);

	take(in, buf, len);
	buf[len] = '\0';
	return buf;
}

/* Up to 7 endpoint rules on top of the defaults, each kept only when the rule set stays valid. */
static void fill_rules(struct input *in, __u64 hz)
{
	unsigned int n = u8(in) % 8, i;

	fg_ruleset_defaults(&rs, hz);
	for (i = 0; i < n; i++) {
		int slot = fg_ruleset_free_slot(&rs);
		struct fg_rule *r, saved;

		if (slot < 0)
			break;
		r = &rs.cfg.rules[slot];
		saved = *r;
		*r = rs.cfg.rules[FG_RULE_DEFAULT];
		r->proto = u8(in) & 1 ? IPPROTO_UDP : IPPROTO_TCP;
		r->port_lo = u16(in);
		r->port_hi = r->port_lo + u8(in);
		r->action = u8(in) % 3;
		r->pps.rate = u16(in);
		r->pps.burst = r->pps.rate ? r->pps.rate : 0;
		r->plen4 = u8(in) % 33;
		r->plen6 = u8(in) % 129;
		if (fg_ruleset_check(&rs))
			*r = saved;
	}
	fg_ruleset_finish(&rs);
}

/* Per-CPU value of `size` bytes for each CPU, from the input. */
static void percpu_update(struct input *in, int fd, __u64 *dirty, __u32 key, size_t size)
{
	char *v = calloc(maps.ncpus, size);
	int c;

	CHECK(v, "out of memory");
	for (c = 0; c < maps.ncpus; c++)
		take(in, v + c * size, size);
	bpf_map_update_elem(fd, &key, v, BPF_ANY);
	*dirty |= 1ULL << key;
	free(v);
}

/* Per-CPU entries an input wrote (bit per key), so the reset rewrites only those. */
static __u64 dirty_counters, dirty_rules, dirty_pressure;
_Static_assert(FG_COUNTER_MAX <= 64 && FG_MAX_RULES <= 64, "one bit per entry in a __u64");

static void percpu_zero(int fd, __u64 *dirty, size_t size)
{
	char *v = calloc(maps.ncpus, size);
	__u32 k;

	CHECK(v, "out of memory");
	for (k = 0; k < 64; k++)
		if (*dirty & (1ULL << k))
			bpf_map_update_elem(fd, &k, v, BPF_ANY);
	*dirty = 0;
	free(v);
}

static void hash_clear(int fd)
{
	char key[64]; /* the largest key, fg_src_key, is 20 bytes */

	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key))
			break;
}

/* Put the maps back as a fresh load left them, so no input depends on an earlier one. */
static void maps_reset(void)
{
	hash_clear(maps.sources);
	hash_clear(maps.bans);
	hash_clear(maps.lists);
	percpu_zero(maps.counters, &dirty_counters, sizeof(struct fg_count));
	percpu_zero(maps.rule_stats, &dirty_rules, sizeof(struct fg_rule_count));
	percpu_zero(maps.pressure, &dirty_pressure, sizeof(struct fg_pressure));
}

/*
 * A source key as the data path makes them: rule index in range, family 4
 * or 6, prefix within the family, address masked to it. (Keys outside
 * that can print the same source twice; the program never makes them.)
 */
static void source_key_fix(struct fg_src_key *k)
{
	__be32 mask[4];
	unsigned int i;

	k->rule %= FG_MAX_RULES;
	k->family = k->family & 1 ? FG_FAM_IPV6 : FG_FAM_IPV4;
	k->plen %= (k->family == FG_FAM_IPV4 ? 32 : 128) + 1;
	fg_netmask(mask, k->plen);
	for (i = 0; i < 16; i++)
		k->addr[i] &= ((const __u8 *)mask)[i];
}

/* Records after the request: what the data path and the CLI could have left in the maps. */
static void fill_maps(struct input *in)
{
	while (in->n) {
		switch (u8(in) % 6) {
		case 0:
			percpu_update(in, maps.counters, &dirty_counters, u8(in) % FG_COUNTER_MAX,
				      sizeof(struct fg_count));
			break;
		case 1:
			percpu_update(in, maps.rule_stats, &dirty_rules, u8(in) % FG_MAX_RULES,
				      sizeof(struct fg_rule_count));
			break;
		case 2: {
			struct fg_src_key k;
			struct fg_src v;

			take(in, &k, sizeof(k));
			take(in, &v, sizeof(v));
			source_key_fix(&k);
			bpf_map_update_elem(maps.sources, &k, &v, BPF_ANY);
			break;
		}
		case 3: {
			struct fg_ban_key k;
			struct fg_ban v;

			take(in, &k, sizeof(k));
			take(in, &v, sizeof(v));
			bpf_map_update_elem(maps.bans, &k, &v, BPF_ANY);
			break;
		}
		case 4: {
			struct fg_lpm_key k;
			struct fg_list_val v;

			take(in, &k, sizeof(k));
			take(in, &v, sizeof(v));
			k.prefixlen %= FG_LPM_HDR_BITS + 128 +
				       1; /* the kernel refuses longer ones anyway */
			bpf_map_update_elem(maps.lists, &k, &v, BPF_ANY);
			break;
		}
		default:
			percpu_update(in, maps.pressure, &dirty_pressure, 0,
				      sizeof(struct fg_pressure));
			break;
		}
	}
}

static bool name_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One sample line: NAME[{LABEL="VALUE",...}] NUMBER. Writes the family
 * name's length to *name_len; returns the series (line without the value)
 * as a new string.
 */
static char *check_sample(const char *line, size_t *name_len)
{
	const char *p = line, *end;
	char *series;

	while (*p && *p != '{' && *p != ' ')
		p++;
	*name_len = p - line;
	CHECK(name_ok(line, *name_len), "bad metric name in '%s'", line);
	if (*p == '{') {
		p++;
		while (*p != '}') {
			const char *l = p;

			while (*p && *p != '=')
				p++;
			CHECK(*p == '=' && name_ok(l, p - l), "bad label name in '%s'", line);
			CHECK(p[1] == '"', "unquoted label value in '%s'", line);
			for (p += 2; *p && *p != '"'; p++) {
				if (*p == '\\') {
					p++;
					CHECK(*p == '\\' || *p == '"' || *p == 'n',
					      "bad escape in '%s'", line);
				}
			}
			CHECK(*p == '"', "label value not closed in '%s'", line);
			p++;
			CHECK(*p == ',' || *p == '}', "junk after a label in '%s'", line);
			if (*p == ',')
				p++;
		}
		p++;
	}
	CHECK(*p == ' ', "no value in '%s'", line);
	series = strndup(line, p - line);
	CHECK(series, "out of memory");
	p++;
	CHECK(isdigit((unsigned char)*p), "value not a number in '%s'", line);
	end = p + strspn(p, "0123456789");
	CHECK(!*end, "junk after the value in '%s'", line);
	return series;
}

/* The whole text: lines, families typed first, no series twice. */
static void check_exposition(char *text, size_t len, unsigned int top_n)
{
	char *typed[256], *series[MAX_LINES], *line, *save = NULL;
	size_t n_typed = 0, n_series = 0, i, per_source = 0;

	CHECK(len && text[len - 1] == '\n', "text does not end with a newline");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t name_len;
		bool known = false;

		if (!strncmp(line, "# HELP ", 7))
			continue;
		if (!strncmp(line, "# TYPE ", 7)) {
			char *sp = strchr(line + 7, ' ');

			CHECK(sp && name_ok(line + 7, sp - line - 7), "bad TYPE line '%s'", line);
			CHECK(!strcmp(sp + 1, "counter") || !strcmp(sp + 1, "gauge"),
			      "bad type in '%s'", line);
			CHECK(n_typed < 256, "too many families");
			typed[n_typed++] = line + 7;
			continue;
		}
		CHECK(line[0] != '#', "unknown comment '%s'", line);
		CHECK(n_series < MAX_LINES, "too many samples");
		series[n_series] = check_sample(line, &name_len);
		for (i = 0; i < n_typed && !known; i++)
			known = !strncmp(typed[i], line, name_len) && typed[i][name_len] == ' ';
		CHECK(known, "sample before its TYPE line: '%s'", line);
		if (!strncmp(line, "floodgate_source_packets_total{", 31))
			per_source++;
		n_series++;
	}
	CHECK(per_source <= top_n, "%zu per-source series, top_n %u", per_source, top_n);
	qsort(series, n_series, sizeof(series[0]), cmp_str);
	for (i = 1; i < n_series; i++)
		CHECK(strcmp(series[i - 1], series[i]), "series twice: %s", series[i]);
	for (i = 0; i < n_series; i++)
		free(series[i]);
}

static void fuzz_listen(const char *s)
{
	struct sockaddr_storage ss, again;
	unsigned int sl = 0, sl2 = 0;
	char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
	int err;

	memset(&ss, 0, sizeof(ss));
	err = fg_parse_listen("metrics", s, &ss, &sl);
	CHECK(err == 0 || err == -EINVAL, "listen '%s': returned %d", s, err);
	if (err)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		CHECK(sl == sizeof(*a), "listen '%s': socklen %u", s, sl);
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(text, sizeof(text), "%s:%u", host, ntohs(a->sin_port));
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		CHECK(ss.ss_family == AF_INET6, "listen '%s': family %u", s, ss.ss_family);
		CHECK(sl == sizeof(*a), "listen '%s': socklen %u", s, sl);
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(text, sizeof(text), "[%s]:%u", host, ntohs(a->sin6_port));
	}
	memset(&again, 0, sizeof(again));
	err = fg_parse_listen("metrics", text, &again, &sl2);
	CHECK(!err && sl2 == sl && !memcmp(&ss, &again, sl), "listen '%s' -> '%s' differs", s, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "" };
	struct input in = { data, size };
	struct fg_metrics_opts o;
	struct fg_http_reply r;
	struct fg_state st;
	char mbuf[256], ubuf[256];
	const char *method, *url;
	size_t header_bytes;
	__u8 flags;
	__u32 zero = 0, slot;
	int err;

	if (size > 16384)
		return 0;
	if (size && data[0] == 'L') {
		char *s = malloc(size); /* not strndup: it reads data as a C string */

		CHECK(s, "out of memory");
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		fuzz_listen(s);
		free(s);
		return 0;
	}

	/* the request */
	flags = u8(&in);
	method = flags & 4 ? str(&in, mbuf) : methods[flags & 3];
	url = flags & 8 ? str(&in, ubuf) : flags & 16 ? "/" : "/metrics";
	header_bytes = flags & 32 ? u16(&in) : u8(&in);
	memset(&o, 0, sizeof(o));
	o.top_n = u8(&in) % 40;
	maps.clock = flags & 64 ? -1 : clock_fd; /* a reader of the pins may lack the clock */

	/* the state, the rule set, then whatever records follow */
	memset(&st, 0, sizeof(st));
	st.slot = u8(&in);
	st.hz = u16(&in);
	st.generation = u64(&in);
	st.layout = u64(&in);
	st.test_now = u64(&in);
	bpf_map_update_elem(maps.state, &zero, &st, BPF_ANY);
	fill_rules(&in, st.hz ? st.hz : 250);
	slot = st.slot & 1;
	bpf_map_update_elem(maps.config, &slot, &rs.cfg, BPF_ANY);
	fill_maps(&in);

	err = fg_http_handle(&maps, &o, method, url, header_bytes, &r);
	CHECK(!err, "fg_http_handle: %d", err);
	CHECK(r.body && r.type, "no body or no type (status %u)", r.status);
	CHECK(strlen(r.body) == r.len, "body length %zu, stated %zu", strlen(r.body), r.len);
	if (header_bytes > FG_HTTP_HEADER_MAX) {
		CHECK(r.status == 431, "%zu header bytes: status %u", header_bytes, r.status);
	} else if (strcmp(url, "/metrics") && strcmp(url, "/")) {
		CHECK(r.status == 404, "url '%s': status %u", url, r.status);
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		CHECK(r.status == 405 && r.allow, "method '%s': status %u", method, r.status);
	} else if (!strcmp(url, "/metrics")) {
		CHECK(r.status == 200, "/metrics: status %u: %s", r.status, r.body);
		check_exposition(r.body, r.len, o.top_n);
	} else {
		CHECK(r.status == 200, "/: status %u", r.status);
	}
	free(r.body);
	maps_reset();
	return 0;
}
