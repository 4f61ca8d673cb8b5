// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * test_fleet.c: the fleet's record check (user/fleet.c) against a table
 * of records as they may arrive from Redis, one TAP test per row: each is
 * applied or refused for exactly the expected reason. Then a formatted
 * record parses back to itself, and the redis address parser.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cases.h"
#include "util.h"
#include "fleet.h"

#define NOW 1800000000000ULL /* ms: the receiver's clock in every row */

/* One record and what the check must make of it. */
struct row {
	const char *rec; /* as received; %E is replaced by NOW + 60 s */
	int want;	 /* 0 accepted, else enum fg_fleet_reject + 1 */
};

#define OK    0
#define BAD   (FG_REJ_MALFORMED + 1)
#define VER   (FG_REJ_VERSION + 1)
#define WIDE  (FG_REJ_TOO_WIDE + 1)
#define PAST  (FG_REJ_PAST + 1)
#define LONG_ (FG_REJ_TOO_LONG + 1)

static const struct row rows[] = {
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"edge-1\",\"at\":1,"
	  "\"end\":1800000060000}",
	  OK },
	{ "{\"v\":1,\"op\":\"del\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"edge-1\",\"at\":1,"
	  "\"end\":1}",
	  OK },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"2001:db8::/64\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  OK },
	{ "", BAD },
	{ "not json", BAD },
	{ "[1,2]", BAD },
	{ "{\"v\":1}", BAD },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"edge-1\",\"at\":1,"
	  "\"end\":1800000060000} trailing",
	  BAD },
	{ "{\"v\":\"1\",\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  BAD },
	{ "{\"v\":1,\"op\":\"kick\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  BAD },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  BAD }, /* the length is always written */
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/24\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  BAD }, /* host bits set */
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"a b\",\"at\":1,"
	  "\"end\":1800000060000}",
	  BAD },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\",\"at\":-1,"
	  "\"end\":1800000060000}",
	  BAD },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1.8e12}",
	  BAD },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\","
	  "\"at\":9007199254740991,\"end\":1800000060000}",
	  OK }, /* 2^53 - 1 */
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\","
	  "\"at\":9007199254740992,\"end\":1800000060000}",
	  BAD }, /* 2^53 */
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\","
	  "\"at\":18446744073709551615,\"end\":1800000060000}",
	  BAD }, /* read as INT64_MAX by json-c */
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\","
	  "\"at\":99999999999999999999999,\"end\":1800000060000}",
	  BAD },
	{ "{\"v\":1,\"op\":\"del\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":9223372036854775807}",
	  BAD },
	{ "{\"v\":2,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  VER },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"0.0.0.0/0\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  WIDE },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.0/15\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  WIDE },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.0/16\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  OK },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"::/0\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000060000}",
	  WIDE },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1800000000000}",
	  PAST },
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1802592000001}",
	  LONG_ }, /* 30 days and 1 ms ahead */
	{ "{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.0.7/32\",\"origin\":\"e\",\"at\":1,"
	  "\"end\":1802592000000}",
	  OK }, /* 30 days exactly */
};
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static void test_row(void **state)
{
	const struct row *r = *state;
	struct fg_fleet_cfg c;
	struct fg_fleet_rec rec;

	fg_fleet_defaults(&c);
	assert_int_equal(fg_fleet_rec_parse(r->rec, strlen(r->rec), &c, NOW, &rec), r->want);
}

static void test_roundtrip(void **state)
{
	struct fg_fleet_rec a = { .at_ms = NOW - 5, .end_ms = NOW + 1000 }, b;
	struct fg_fleet_cfg c;
	char buf[FG_FLEET_RECORD_MAX];
	int n;

	fg_fleet_defaults(&c);
	assert_int_equal(fg_parse_cidr("t", "2001:db8:1::/48", false, &a.cidr), 0);
	snprintf(a.origin, sizeof(a.origin), "edge-9");
	n = fg_fleet_rec_format(buf, sizeof(buf), &a);
	assert_true(n > 0 && n < (int)sizeof(buf));
	assert_int_equal(fg_fleet_rec_parse(buf, n, &c, NOW, &b), 0);
	assert_memory_equal(&a.cidr, &b.cidr, sizeof(a.cidr));
	assert_string_equal(a.origin, b.origin);
	assert_int_equal(a.end_ms, b.end_ms);
	assert_int_equal(a.at_ms, b.at_ms);
}

static void test_addr(void **state)
{
	char host[FG_FLEET_ADDR_MAX];
	bool unix_path;
	int port;

	assert_int_equal(
		fg_fleet_parse_addr("t", "127.0.0.1:6379", host, sizeof(host), &port, &unix_path), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 6379);
	assert_int_equal(
		fg_fleet_parse_addr("t", "[::1]:7000", host, sizeof(host), &port, &unix_path), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 7000);
	assert_int_equal(fg_fleet_parse_addr("t", "unix:/run/redis/redis.sock", host, sizeof(host),
					     &port, &unix_path),
			 0);
	assert_true(unix_path);
	assert_string_equal(host, "/run/redis/redis.sock");
	assert_int_equal(fg_fleet_parse_addr("t", "::1:6379", host, sizeof(host), &port, &unix_path),
			 -EINVAL);
	assert_int_equal(fg_fleet_parse_addr("t", "host:0", host, sizeof(host), &port, &unix_path),
			 -EINVAL);
	assert_int_equal(fg_fleet_parse_addr("t", "unix:rel", host, sizeof(host), &port, &unix_path),
			 -EINVAL);
}

int main(void)
{
	struct cases c = { 0 };
	size_t i;

	for (i = 0; i < N_ROWS; i++)
		cases_add(&c, test_row, (void *)&rows[i], "record %s: %.70s",
			  rows[i].want ? "refused" : "accepted", rows[i].rec);
	cases_add(&c, test_roundtrip, NULL, "a formatted record parses back to itself");
	cases_add(&c, test_addr, NULL, "redis addresses: HOST:PORT, [V6]:PORT, unix:/PATH");
	return cases_run(&c, "fleet");
}
