// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * test_util.c: the argument parsers of user/util.c against a table of
 * good and bad inputs, one TAP test per row. A good input must give the
 * expected value and print nothing; a bad one must return -EINVAL and
 * print exactly one line, starting "error: " and naming the bad value,
 * which is what every CLI command relies on for its error messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

enum parser {
	P_U64,	    /* fg_parse_u64 with the row's min and max */
	P_RATE,	    /* fg_parse_rate */
	P_SIZE,	    /* fg_parse_size */
	P_DURATION, /* fg_parse_duration */
	P_HOST,	    /* fg_parse_cidr, bare address means a host */
	P_CIDR,	    /* fg_parse_cidr, prefix length required */
	P_ENDPOINT, /* fg_parse_endpoint */
};

/* One input and what the parser must make of it. */
struct row {
	enum parser p;	   /* which parser */
	const char *in;	   /* input */
	bool ok;	   /* accepted? */
	__u64 want;	   /* numeric parsers: the value */
	const char *canon; /* cidr and endpoint parsers: the value, formatted back */
	__u64 min, max;	   /* P_U64 bounds */
};

#define GOOD(p, in, v)                                                                             \
	{                                                                                          \
		p, in, true, v, NULL, 0, 0                                                         \
	}
#define BAD(p, in)                                                                                 \
	{                                                                                          \
		p, in, false, 0, NULL, 0, 0                                                        \
	}
#define GOODS(p, in, s)                                                                            \
	{                                                                                          \
		p, in, true, 0, s, 0, 0                                                            \
	}
#define GOODU(in, v, lo, hi)                                                                       \
	{                                                                                          \
		P_U64, in, true, v, NULL, lo, hi                                                   \
	}
#define BADU(in, lo, hi)                                                                           \
	{                                                                                          \
		P_U64, in, false, 0, NULL, lo, hi                                                  \
	}

static const struct row rows[] = {
	/* fg_parse_u64: digits only, every bit of 64, bounds inclusive */
	GOODU("0", 0, 0, UINT64_MAX),
	GOODU("42", 42, 1, 100),
	GOODU("100", 100, 1, 100),
	GOODU("18446744073709551615", UINT64_MAX, 0, UINT64_MAX),
	GOODU("007", 7, 0, 10),
	BADU("18446744073709551616", 0, UINT64_MAX),
	BADU("99999999999999999999999", 0, UINT64_MAX),
	BADU("-1", 0, UINT64_MAX),
	BADU("-0", 0, UINT64_MAX),
	BADU("+1", 0, UINT64_MAX),
	BADU(" 1", 0, UINT64_MAX),
	BADU("1 ", 0, UINT64_MAX),
	BADU("0x10", 0, UINT64_MAX),
	BADU("1e3", 0, UINT64_MAX),
	BADU("12a", 0, UINT64_MAX),
	BADU("", 0, UINT64_MAX),
	BADU("0", 1, 100),
	BADU("101", 1, 100),
	/* fg_parse_rate: bits per second, SI suffixes, 1..1t */
	GOOD(P_RATE, "1", 1),
	GOOD(P_RATE, "500k", 500000),
	GOOD(P_RATE, "100m", 100000000),
	GOOD(P_RATE, "10g", 10000000000ULL),
	GOOD(P_RATE, "10G", 10000000000ULL),
	GOOD(P_RATE, "1t", 1000000000000ULL),
	GOOD(P_RATE, "1000000000000", 1000000000000ULL),
	BAD(P_RATE, "0"),
	BAD(P_RATE, "0k"),
	BAD(P_RATE, "-5"),
	BAD(P_RATE, "-5k"),
	BAD(P_RATE, "2t"),
	BAD(P_RATE, "1000000000001"),
	BAD(P_RATE, "18446744073709551616"),
	BAD(P_RATE, "18446744073709551615k"),
	BAD(P_RATE, "10x"),
	BAD(P_RATE, "10kb"),
	BAD(P_RATE, "k"),
	BAD(P_RATE, "1.5m"),
	BAD(P_RATE, ""),
	/* fg_parse_size: bytes, k and m are powers of 1024, 1..4 GiB */
	GOOD(P_SIZE, "1", 1),
	GOOD(P_SIZE, "1500", 1500),
	GOOD(P_SIZE, "64k", 65536),
	GOOD(P_SIZE, "64K", 65536),
	GOOD(P_SIZE, "1m", 1048576),
	GOOD(P_SIZE, "4096m", 4294967296ULL),
	BAD(P_SIZE, "0"),
	BAD(P_SIZE, "4097m"),
	BAD(P_SIZE, "1g"),
	BAD(P_SIZE, "-1"),
	BAD(P_SIZE, "18446744073709551615m"),
	BAD(P_SIZE, "12 k"),
	BAD(P_SIZE, ""),
	/* fg_parse_duration: seconds, s m h d, 1s..366d */
	GOOD(P_DURATION, "30s", 30),
	GOOD(P_DURATION, "90", 90),
	GOOD(P_DURATION, "5m", 300),
	GOOD(P_DURATION, "2h", 7200),
	GOOD(P_DURATION, "1d", 86400),
	GOOD(P_DURATION, "366d", 366ULL * 86400),
	BAD(P_DURATION, "0s"),
	BAD(P_DURATION, "0"),
	BAD(P_DURATION, "367d"),
	BAD(P_DURATION, "-1s"),
	BAD(P_DURATION, "1w"),
	BAD(P_DURATION, "1h30m"),
	BAD(P_DURATION, "s"),
	BAD(P_DURATION, "99999999999999999999d"),
	BAD(P_DURATION, ""),
	/* fg_parse_cidr, bare address allowed */
	GOODS(P_HOST, "10.0.0.0/8", "10.0.0.0/8"),
	GOODS(P_HOST, "198.18.0.1", "198.18.0.1"),
	GOODS(P_HOST, "198.18.0.1/32", "198.18.0.1"),
	GOODS(P_HOST, "0.0.0.0/0", "0.0.0.0/0"),
	GOODS(P_HOST, "::1", "::1"),
	GOODS(P_HOST, "::1/128", "::1"),
	GOODS(P_HOST, "2001:db8::/32", "2001:db8::/32"),
	GOODS(P_HOST, "2001:DB8:0:0::/64", "2001:db8::/64"),
	GOODS(P_HOST, "::/0", "::/0"),
	GOODS(P_HOST, "::fffe:198.18.0.0/120", "::fffe:c612:0/120"),
	BAD(P_HOST, "::ffff:198.18.0.0/120"),
	BAD(P_HOST, "::ffff:198.18.0.1"),
	BAD(P_HOST, "10.0.0.300/8"),
	BAD(P_HOST, "10.0.0.300"),
	BAD(P_HOST, "/33"),
	BAD(P_HOST, "10.0.0.0/33"),
	BAD(P_HOST, "::1/129"),
	BAD(P_HOST, "10.0.0.1/8"),
	BAD(P_HOST, "2001:db8::1/32"),
	BAD(P_HOST, "10.0.0.0/"),
	BAD(P_HOST, "10.0.0.0/-1"),
	BAD(P_HOST, "10.0.0.0/+8"),
	BAD(P_HOST, "10.0.0.0/8x"),
	BAD(P_HOST, "10.0.0.0/ 8"),
	BAD(P_HOST, "10.0.0.0/8/8"),
	BAD(P_HOST, "10.0.0/8"),
	BAD(P_HOST, "10.0.0.0.0/8"),
	BAD(P_HOST, "10.0.0.0/99999999999999999999"),
	BAD(P_HOST, "2001:db8:::/32"),
	BAD(P_HOST, "host.example"),
	BAD(P_HOST, ""),
	/* fg_parse_cidr, prefix length required */
	GOODS(P_CIDR, "198.18.0.0/15", "198.18.0.0/15"),
	BAD(P_CIDR, "198.18.0.1"),
	BAD(P_CIDR, "2001:db8::1"),
	/* fg_parse_endpoint */
	GOODS(P_ENDPOINT, "default", "default"),
	GOODS(P_ENDPOINT, "tcp/80", "tcp/80"),
	GOODS(P_ENDPOINT, "udp/53", "udp/53"),
	GOODS(P_ENDPOINT, "tcp/1", "tcp/1"),
	GOODS(P_ENDPOINT, "udp/65535", "udp/65535"),
	GOODS(P_ENDPOINT, "tcp/8000-8100", "tcp/8000-8100"),
	GOODS(P_ENDPOINT, "udp/1-65535", "udp/1-65535"),
	GOODS(P_ENDPOINT, "tcp/443-443", "tcp/443"),
	BAD(P_ENDPOINT, "tcp/0"),
	BAD(P_ENDPOINT, "udp/70000"),
	BAD(P_ENDPOINT, "tcp/65536"),
	BAD(P_ENDPOINT, "tcp/90-80"),
	BAD(P_ENDPOINT, "udp/0-10"),
	BAD(P_ENDPOINT, "udp/10-70000"),
	BAD(P_ENDPOINT, "tcp/"),
	BAD(P_ENDPOINT, "tcp/80-"),
	BAD(P_ENDPOINT, "tcp/-80"),
	BAD(P_ENDPOINT, "tcp/80x"),
	BAD(P_ENDPOINT, "tcp/ 80"),
	BAD(P_ENDPOINT, "tcp/99999999999999999999"),
	BAD(P_ENDPOINT, "icmp/1"),
	BAD(P_ENDPOINT, "sctp/80"),
	BAD(P_ENDPOINT, "tcp80"),
	BAD(P_ENDPOINT, "Default"),
	BAD(P_ENDPOINT, ""),
};
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static const char *const parser_names[] = {
	[P_U64] = "u64",	   [P_RATE] = "rate", [P_SIZE] = "size",
	[P_DURATION] = "duration", [P_HOST] = "cidr", [P_CIDR] = "cidr (LEN required)",
	[P_ENDPOINT] = "endpoint",
};

/* stderr of one parser call, captured through a temporary file. */
static int call(const struct row *r, __u64 *v, char *canon, size_t clen, char *err, size_t elen)
{
	struct fg_cidr c;
	struct fg_endpoint ep;
	FILE *f = tmpfile();
	int saved, ret = -1;
	size_t n;

	assert_non_null(f);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), 2) >= 0);
	*v = 0;
	canon[0] = '\0';
	switch (r->p) {
	case P_U64:
		ret = fg_parse_u64("--test", r->in, r->min, r->max, v);
		break;
	case P_RATE:
		ret = fg_parse_rate("--test", r->in, v);
		break;
	case P_SIZE:
		ret = fg_parse_size("--test", r->in, v);
		break;
	case P_DURATION:
		ret = fg_parse_duration("--test", r->in, v);
		break;
	case P_HOST:
	case P_CIDR:
		ret = fg_parse_cidr("--test", r->in, r->p == P_HOST, &c);
		if (!ret)
			fg_format_cidr(canon, clen, c.family, c.addr, c.plen);
		break;
	case P_ENDPOINT:
		ret = fg_parse_endpoint("--test", r->in, &ep);
		if (!ret) {
			struct fg_rule rule = { .proto = ep.proto,
						.port_lo = ep.port_lo,
						.port_hi = ep.port_hi };

			fg_format_endpoint(canon, clen, &rule);
		}
		break;
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(err, 1, elen - 1, f);
	err[n] = '\0';
	fclose(f);
	return ret;
}

static void test_row(void **state)
{
	const struct row *r = *state;
	char canon[128], err[1024];
	const char *nl;
	__u64 v;
	int ret = call(r, &v, canon, sizeof(canon), err, sizeof(err));

	if (r->ok) {
		if (ret)
			fail_msg("'%s' rejected: %s", r->in, err);
		if (err[0])
			fail_msg("'%s' accepted but printed: %s", r->in, err);
		if (r->canon && strcmp(canon, r->canon))
			fail_msg("'%s' parsed as %s, want %s", r->in, canon, r->canon);
		if (!r->canon && v != r->want)
			fail_msg("'%s' parsed as %" PRIu64 ", want %" PRIu64, r->in, (uint64_t)v,
				 (uint64_t)r->want);
		return;
	}
	if (ret != -EINVAL)
		fail_msg("'%s' gave %d, want -EINVAL (value %" PRIu64 ", %s)", r->in, ret,
			 (uint64_t)v, canon);
	if (strncmp(err, "error: ", 7))
		fail_msg("'%s': message does not start with 'error: ': '%s'", r->in, err);
	nl = strchr(err, '\n');
	if (!nl || nl[1])
		fail_msg("'%s': message is not exactly one line: '%s'", r->in, err);
	if (!strstr(err, "--test"))
		fail_msg("'%s': message does not name the option: %s", r->in, err);
	if (r->in[0] && !strstr(err, r->in))
		fail_msg("'%s': message does not name the bad value: %s", r->in, err);
}

/* Formatters give what the parsers read back. */
static void test_format_roundtrip(void **state)
{
	static const char *const cidrs[] = { "198.18.0.0/15", "198.18.7.1", "2001:db8::/32",
					     "2001:db8::42",  "0.0.0.0/0",  "::/0" };
	static const __u64 secs[] = { 1, 59, 60, 90, 3600, 5400, 86400, 172800, 366 * 86400ULL };
	char buf[64];
	size_t i;
	__u64 back;

	for (i = 0; i < sizeof(cidrs) / sizeof(cidrs[0]); i++) {
		struct fg_cidr c;

		assert_int_equal(fg_parse_cidr("t", cidrs[i], true, &c), 0);
		assert_string_equal(fg_format_cidr(buf, sizeof(buf), c.family, c.addr, c.plen),
				    cidrs[i]);
	}
	for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		fg_format_duration(buf, sizeof(buf), secs[i]);
		assert_int_equal(fg_parse_duration("t", buf, &back), 0);
		assert_int_equal(back, secs[i]);
	}
	assert_string_equal(fg_format_duration(buf, sizeof(buf), 5400), "90m");
	assert_string_equal(fg_format_duration(buf, sizeof(buf), 86400), "1d");
}

/* Names used in output and JSON, and the action parser. */
static void test_names(void **state)
{
	unsigned int i;

	for (i = 0; i < FG_COUNTER_MAX; i++)
		if (!strcmp(fg_counter_name(i), "unknown"))
			fail_msg("counter %u has no name", i);
	assert_string_equal(fg_counter_name(FG_R_PASS), "passed");
	assert_string_equal(fg_counter_name(FG_COUNTER_MAX), "unknown");
	assert_true(fg_counter_is_drop(FG_R_RATE_PPS));
	assert_true(fg_counter_is_drop(FG_R_DENY));
	assert_false(fg_counter_is_drop(FG_R_PASS));
	assert_false(fg_counter_is_drop(FG_R_MONITOR));
	assert_false(fg_counter_is_drop(FG_C_BANS));
	assert_int_equal(fg_action_parse("drop"), FG_ACT_DROP);
	assert_int_equal(fg_action_parse("monitor"), FG_ACT_MONITOR);
	assert_int_equal(fg_action_parse("ban"), FG_ACT_BAN);
	assert_int_equal(fg_action_parse("Drop"), -1);
	assert_int_equal(fg_action_parse(""), -1);
	assert_int_equal(fg_action_parse(NULL), -1);
	for (i = FG_ACT_DROP; i <= FG_ACT_BAN; i++)
		assert_int_equal(fg_action_parse(fg_action_name(i)), i);
}

/*
 * error() and warning() keep errno: callers write `return error(...),
 * -errno;`. stderr on /dev/full makes the printing itself fail (ENOSPC).
 */
static void test_errno_kept(void **state)
{
	int full = open("/dev/full", O_WRONLY);
	int saved;

	if (full < 0)
		skip();
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(full, 2) >= 0);
	close(full);
	errno = EACCES;
	assert_int_equal(error("test %d", 1), -1);
	assert_int_equal(errno, EACCES);
	errno = ENOENT;
	warning("test %d", 2);
	assert_int_equal(errno, ENOENT);
	clearerr(stderr);
	dup2(saved, 2);
	close(saved);
}

int main(void)
{
	struct cases c = { 0 };
	size_t i;

	for (i = 0; i < N_ROWS; i++)
		cases_add(&c, test_row, (void *)&rows[i], "%s %s '%s'", parser_names[rows[i].p],
			  rows[i].ok ? "accepts" : "rejects", rows[i].in);
	cases_add(&c, test_format_roundtrip, NULL, "formatters round-trip through the parsers");
	cases_add(&c, test_names, NULL, "enum names and the action parser");
	cases_add(&c, test_errno_kept, NULL, "error() and warning() keep errno when printing fails");
	return cases_run(&c, "util");
}
