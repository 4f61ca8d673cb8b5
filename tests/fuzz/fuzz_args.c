// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * fuzz_args.c: libFuzzer target for the command line's value parsers in
 * user/util.c (fg_parse_u64, _rate, _size, _duration, _cidr, _endpoint).
 *
 * The first input byte picks the parser (a letter, so the seed corpus in
 * corpus/fuzz_args/ stays readable: "c198.18.0.0/15"), the rest is the
 * argument. Besides memory errors and UB (ASan, UBSan), every accepted
 * value is checked against an independent reference: the numbers against
 * a plain re-implementation, prefixes against inet_pton and a
 * format-and-parse round trip, endpoints and durations by round trip.
 * A violated property prints what failed and aborts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define ARG_MAX_LEN 256 /* longer arguments add nothing but time */

/* Report a broken property on fd 2 (the parsers' own stderr is muted) and crash. */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			dprintf(2, "fuzz_args: %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
			dprintf(2, __VA_ARGS__);                                                   \
			dprintf(2, "\n");                                                          \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/*
	 * Every rejected input prints an error line: mute the parsers' stderr
	 * (FUZZ_VERBOSE=1 keeps it). libFuzzer and the sanitizers write to fd 2
	 * directly, so their reports still show.
	 */
	if (!getenv("FUZZ_VERBOSE")) {
		FILE *null = fopen("/dev/null", "w");

		if (null)
			stderr = null;
	}
	return 0;
}

/* Reference for the scaled numbers: DIGITS[SUFFIX], mult[i] for suffixes[i]. */
static int ref_scaled(const char *s, const char *suffixes, const __u64 *mult, __u64 lo, __u64 hi,
		      __u64 *out)
{
	unsigned __int128 v = 0;
	const char *p = s;
	const char *hit;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned int)(*p - '0');
		if (v > UINT64_MAX)
			return -1;
	}
	if (*p) {
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;

		hit = p[1] ? NULL : strchr(suffixes, c);
		if (!hit || !c)
			return -1;
		v *= mult[hit - suffixes];
	}
	if (v < lo || v > hi)
		return -1;
	*out = (__u64)v;
	return 0;
}

static void check_scaled(char kind, const char *s)
{
	static const __u64 rate_mult[] = { 1000ULL, 1000000ULL, 1000000000ULL, 1000000000000ULL };
	static const __u64 size_mult[] = { 1024ULL, 1024ULL * 1024 };
	static const __u64 dur_mult[] = { 1, 60, 3600, 86400 };
	__u64 got = 0, want = 0;
	int err, ref;

	switch (kind) {
	case 'r':
		err = fg_parse_rate("rate", s, &got);
		ref = ref_scaled(s, "kmgt", rate_mult, 1, 1000000000000ULL, &want);
		break;
	case 's':
		err = fg_parse_size("size", s, &got);
		ref = ref_scaled(s, "km", size_mult, 1, 1ULL << 32, &want);
		break;
	default:
		err = fg_parse_duration("duration", s, &got);
		ref = ref_scaled(s, "smhd", dur_mult, 1, 366ULL * 86400, &want);
		if (!err) {
			char buf[32];
			__u64 again = 0;

			fg_format_duration(buf, sizeof(buf), got);
			CHECK(!fg_parse_duration("duration", buf, &again) && again == got,
			      "duration '%s' -> %" PRIu64 " -> '%s' -> %" PRIu64, s, (uint64_t)got,
			      buf, (uint64_t)again);
		}
		break;
	}
	CHECK(err == 0 || err == -EINVAL, "%c '%s': returned %d", kind, s, err);
	CHECK((err == 0) == (ref == 0), "%c '%s': parser says %d, reference says %d", kind, s, err,
	      ref);
	CHECK(err || got == want, "%c '%s': parsed %" PRIu64 ", reference %" PRIu64, kind, s,
	      (uint64_t)got, (uint64_t)want);
}

static void check_u64(const char *s, __u64 min, __u64 max)
{
	__u64 got = 0, want = 0;
	const __u64 mult[1] = { 1 };
	int err, ref;

	err = fg_parse_u64("number", s, min, max, &got);
	ref = ref_scaled(s, "", mult, min, max, &want);
	CHECK(err == 0 || err == -EINVAL, "u64 '%s': returned %d", s, err);
	CHECK((err == 0) == (ref == 0), "u64 '%s' in %" PRIu64 "..%" PRIu64 ": parser %d, ref %d",
	      s, (uint64_t)min, (uint64_t)max, err, ref);
	CHECK(err || got == want, "u64 '%s': %" PRIu64 " != %" PRIu64, s, (uint64_t)got,
	      (uint64_t)want);
}

static void check_cidr(const char *s, bool host_default)
{
	struct fg_cidr c, again;
	__u8 ref[16] = { 0 };
	char addr[64], text[64];
	const char *slash;
	unsigned int max, i;
	int err;

	err = fg_parse_cidr("prefix", s, host_default, &c);
	CHECK(err == 0 || err == -EINVAL, "cidr '%s': returned %d", s, err);
	if (err)
		return;
	CHECK(c.family == FG_FAM_IPV4 || c.family == FG_FAM_IPV6, "cidr '%s': family %u", s,
	      c.family);
	max = c.family == FG_FAM_IPV4 ? 32 : 128;
	CHECK(c.plen <= max, "cidr '%s': plen %u", s, c.plen);

	/* the address part is what inet_pton says it is, with the host bits zero */
	slash = strchr(s, '/');
	CHECK(slash || host_default, "cidr '%s': bare address accepted without host_default", s);
	CHECK(!slash || (size_t)(slash - s) < sizeof(addr), "cidr '%s': address too long", s);
	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	CHECK(inet_pton(c.family == FG_FAM_IPV4 ? AF_INET : AF_INET6, addr, ref) == 1,
	      "cidr '%s': inet_pton disagrees on '%s'", s, addr);
	CHECK(!memcmp(ref, c.addr, sizeof(ref)), "cidr '%s': address bytes differ", s);
	for (i = c.plen; i < 128; i++)
		CHECK(!(c.addr[i / 8] & (0x80 >> (i % 8))), "cidr '%s': host bit %u set", s, i);

	/* what we print, we read back the same */
	fg_format_cidr(text, sizeof(text), c.family, c.addr, c.plen);
	err = fg_parse_cidr("prefix", text, true, &again);
	CHECK(!err && !memcmp(&c, &again, sizeof(c)), "cidr '%s' -> '%s' does not read back", s,
	      text);
}

static void check_endpoint(const char *s)
{
	struct fg_endpoint ep, again;
	struct fg_rule r;
	char text[32];
	int err;

	err = fg_parse_endpoint("endpoint", s, &ep);
	CHECK(err == 0 || err == -EINVAL, "endpoint '%s': returned %d", s, err);
	if (err)
		return;
	if (!strcmp(s, "default")) {
		CHECK(!ep.proto && !ep.port_lo && !ep.port_hi, "endpoint default not all zero");
		return;
	}
	CHECK(ep.proto == IPPROTO_TCP || ep.proto == IPPROTO_UDP, "endpoint '%s': proto %u", s,
	      ep.proto);
	CHECK(ep.port_lo >= 1 && ep.port_lo <= ep.port_hi, "endpoint '%s': ports %u-%u", s,
	      ep.port_lo, ep.port_hi);

	memset(&r, 0, sizeof(r));
	r.proto = ep.proto;
	r.port_lo = ep.port_lo;
	r.port_hi = ep.port_hi;
	fg_format_endpoint(text, sizeof(text), &r);
	err = fg_parse_endpoint("endpoint", text, &again);
	CHECK(!err && !memcmp(&ep, &again, sizeof(ep)), "endpoint '%s' -> '%s' does not read back",
	      s, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char kinds[] = "cCrsdeup";
	char *s;
	char kind;

	if (size < 1 || size > ARG_MAX_LEN)
		return 0;
	/* a letter of kinds[] picks itself, any other byte picks by value */
	kind = strchr(kinds, data[0]) && data[0] ? (char)data[0] : kinds[data[0] % 8];
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0'; /* an embedded NUL just ends the argument early, like argv */

	switch (kind) {
	case 'c':
		check_cidr(s, true);
		break;
	case 'C':
		check_cidr(s, false);
		break;
	case 'r':
	case 's':
	case 'd':
		check_scaled(kind, s);
		break;
	case 'e':
		check_endpoint(s);
		break;
	case 'u':
		check_u64(s, 0, UINT64_MAX);
		break;
	default:
		check_u64(s, 1, 65535);
		break;
	}
	free(s);
	return 0;
}
