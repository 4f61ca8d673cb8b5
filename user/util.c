// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * util.c: error reporting, argument parsers and formatters, the names of
 * enum values. Everything here is pure (no maps), so the fuzzers and unit
 * tests call it directly.
 */
#include <stdio.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The default routine: "error: MSG" or "warning: MSG" on stderr. */
static void report_stderr(void *ctx, bool warn, const char *msg)
{
	fprintf(stderr, "%s: %s\n", warn ? "warning" : "error", msg);
}

static fg_report_fn report_fn = report_stderr;
static void *report_ctx;

void fg_set_report(fg_report_fn fn, void *ctx, fg_report_fn *old_fn, void **old_ctx)
{
	if (old_fn)
		*old_fn = report_fn;
	if (old_ctx)
		*old_ctx = report_ctx;
	report_fn = fn ?: report_stderr;
	report_ctx = fn ? ctx : NULL;
}

/*
 * Callers write `return error(...), -errno;`: reporting may change errno
 * (a full or closed stderr), so both keep the caller's errno.
 */
static void report(bool warn, const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	report_fn(report_ctx, warn, msg);
	errno = saved;
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(false, fmt, ap);
	va_end(ap);
	return -1;
}

void fg_report_hold(void *ctx, bool warn, const char *msg)
{
	snprintf(ctx, FG_REPORT_HOLD, "%s", msg);
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(true, fmt, ap);
	va_end(ap);
}

/* Digits only (no sign, no spaces, no 0x): strtoull alone accepts too much. */
static int parse_digits(const char *s, const char **end, __u64 *out)
{
	__u64 v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned int d = *p - '0';

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return 0;
}

int fg_parse_u64(const char *what, const char *s, __u64 min, __u64 max, __u64 *out)
{
	const char *end;
	__u64 v;
	int err;

	if (!s || !*s)
		return error("%s: empty value", what), -EINVAL;
	err = parse_digits(s, &end, &v);
	if (err == -ERANGE)
		return error("%s: %s: beyond 64 bits", what, s), -EINVAL;
	if (err || *end)
		return error("%s: %s: not a number", what, s), -EINVAL;
	if (v < min || v > max)
		return error("%s: %s: must be %" PRIu64 "..%" PRIu64, what, s, (uint64_t)min,
			     (uint64_t)max),
		       -EINVAL;
	*out = v;
	return 0;
}

/* NUMBER followed by one of the suffixes (case-insensitive) or nothing. */
static int parse_scaled(const char *what, const char *s, const char *suffixes, const __u64 *mult,
			__u64 *out)
{
	const char *end, *hit;
	__u64 v, m = 1;
	int err;

	if (!s || !*s)
		return error("%s: empty value", what), -EINVAL;
	err = parse_digits(s, &end, &v);
	if (err == -ERANGE)
		return error("%s: %s: beyond 64 bits", what, s), -EINVAL;
	if (err)
		return error("%s: %s: not a number", what, s), -EINVAL;
	if (*end) {
		hit = end[1] ? NULL : strchr(suffixes, tolower((unsigned char)*end));
		if (!hit || !*end)
			return error("%s: %s: unknown suffix (use %s)", what, s, suffixes), -EINVAL;
		m = mult[hit - suffixes];
	}
	if (m && v > UINT64_MAX / m)
		return error("%s: %s: beyond 64 bits", what, s), -EINVAL;
	*out = v * m;
	return 0;
}

#define FG_RATE_MAX 1000000000000ULL /* 1 Tbit/s: keeps rate math within 64 bits */
#define FG_SIZE_MAX (1ULL << 32)     /* 4 GiB burst */

int fg_parse_rate(const char *what, const char *s, __u64 *bits)
{
	static const __u64 mult[] = { 1000ULL, 1000000ULL, 1000000000ULL, 1000000000000ULL };
	__u64 v;

	if (parse_scaled(what, s, "kmgt", mult, &v))
		return -EINVAL;
	if (v == 0 || v > FG_RATE_MAX)
		return error("%s: %s: must be 1 bit/s..1t", what, s), -EINVAL;
	*bits = v;
	return 0;
}

int fg_parse_size(const char *what, const char *s, __u64 *bytes)
{
	static const __u64 mult[] = { 1024ULL, 1024ULL * 1024 };
	__u64 v;

	if (parse_scaled(what, s, "km", mult, &v))
		return -EINVAL;
	if (v == 0 || v > FG_SIZE_MAX)
		return error("%s: %s: must be 1..4096m bytes", what, s), -EINVAL;
	*bytes = v;
	return 0;
}

#define FG_DURATION_MAX (366ULL * 86400) /* a year */

int fg_parse_duration(const char *what, const char *s, __u64 *seconds)
{
	static const __u64 mult[] = { 1, 60, 3600, 86400 };
	__u64 v;

	if (parse_scaled(what, s, "smhd", mult, &v))
		return -EINVAL;
	if (v == 0 || v > FG_DURATION_MAX)
		return error("%s: %s: must be 1s..366d", what, s), -EINVAL;
	*seconds = v;
	return 0;
}

int fg_parse_cidr(const char *what, const char *s, bool host_default, struct fg_cidr *out)
{
	static const __u8 v4mapped[12] = { [10] = 0xff, [11] = 0xff }; /* ::ffff:0:0/96 */
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	__be32 mask[4];
	size_t len;
	__u64 plen;
	__u8 max;
	int i;

	if (!s || !*s)
		return error("%s: empty address", what), -EINVAL;
	len = strlen(s);
	if (len >= sizeof(buf))
		return error("%s: %s: not an address", what, s), -EINVAL;
	memcpy(buf, s, len + 1);
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = FG_FAM_IPV4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = FG_FAM_IPV6;
		max = 128;
	} else {
		return error("%s: %s: not an IPv4 or IPv6 address", what, s), -EINVAL;
	}
	if (!slash) {
		if (!host_default)
			return error("%s: %s: prefix length missing (ADDR/LEN)", what, s), -EINVAL;
		plen = max;
	} else {
		const char *end;

		if (parse_digits(slash + 1, &end, &plen) || *end || plen > max)
			return error("%s: %s: prefix length must be 0..%u", what, s, max), -EINVAL;
	}
	out->plen = plen;
	if (out->family == FG_FAM_IPV6 && plen >= 96 && !memcmp(out->addr, v4mapped, 12)) {
		char v4[INET6_ADDRSTRLEN + 8];

		return error("%s: %s: an IPv4-mapped address, which no IPv6 packet carries as its "
			     "source (the kernel drops those): write the IPv4 form, %s",
			     what, s,
			     fg_format_cidr(v4, sizeof(v4), FG_FAM_IPV4, out->addr + 12,
					    (__u8)(plen - 96))),
		       -EINVAL;
	}
	fg_netmask(mask, plen);
	for (i = 0; i < 4; i++) {
		__be32 w;

		memcpy(&w, out->addr + i * 4, 4);
		if (w & ~mask[i]) {
			char fix[64];

			w &= mask[i];
			memcpy(out->addr + i * 4, &w, 4);
			while (++i < 4)
				memset(out->addr + i * 4, 0, 4);
			return error("%s: %s: host bits set (did you mean %s?)", what, s,
				     fg_format_cidr(fix, sizeof(fix), out->family, out->addr,
						    out->plen)),
			       -EINVAL;
		}
	}
	return 0;
}

int fg_parse_endpoint(const char *what, const char *s, struct fg_endpoint *out)
{
	const char *p, *end;
	__u64 lo, hi;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return error("%s: empty endpoint", what), -EINVAL;
	if (!strcmp(s, "default"))
		return 0;
	if (!strncmp(s, "tcp/", 4))
		out->proto = IPPROTO_TCP;
	else if (!strncmp(s, "udp/", 4))
		out->proto = IPPROTO_UDP;
	else
		return error("%s: %s: unknown endpoint (use default, tcp/PORT, udp/PORT, "
			     "tcp/LO-HI or udp/LO-HI)",
			     what, s),
		       -EINVAL;
	p = s + 4;
	if (parse_digits(p, &end, &lo) || lo < 1 || lo > 65535)
		return error("%s: %s: port must be 1..65535", what, s), -EINVAL;
	hi = lo;
	if (*end == '-') {
		if (parse_digits(end + 1, &end, &hi) || hi < 1 || hi > 65535)
			return error("%s: %s: port must be 1..65535", what, s), -EINVAL;
		if (hi < lo)
			return error("%s: %s: reversed port range", what, s), -EINVAL;
	}
	if (*end)
		return error("%s: %s: trailing characters after the port", what, s), -EINVAL;
	out->port_lo = lo;
	out->port_hi = hi;
	return 0;
}

char *fg_format_cidr(char *buf, size_t len, __u8 family, const __u8 *addr, __u8 plen)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family == FG_FAM_IPV4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
	if (plen == (family == FG_FAM_IPV4 ? 32 : 128))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, plen);
	return buf;
}

char *fg_format_endpoint(char *buf, size_t len, const struct fg_rule *r)
{
	const char *proto = r->proto == IPPROTO_TCP ? "tcp" : "udp";

	if (!r->proto)
		snprintf(buf, len, "default");
	else if (r->port_lo == r->port_hi)
		snprintf(buf, len, "%s/%u", proto, r->port_lo);
	else
		snprintf(buf, len, "%s/%u-%u", proto, r->port_lo, r->port_hi);
	return buf;
}

char *fg_rule_label(char *buf, size_t len, const struct fg_config *cfg, __u32 rule)
{
	if (cfg && rule < FG_MAX_RULES && cfg->rules[rule].used)
		return fg_format_endpoint(buf, len, &cfg->rules[rule]);
	snprintf(buf, len, "rule%u", rule);
	return buf;
}

char *fg_format_duration(char *buf, size_t len, __u64 s)
{
	if (s && s % 86400 == 0)
		snprintf(buf, len, "%" PRIu64 "d", (uint64_t)(s / 86400));
	else if (s && s % 3600 == 0)
		snprintf(buf, len, "%" PRIu64 "h", (uint64_t)(s / 3600));
	else if (s && s % 60 == 0)
		snprintf(buf, len, "%" PRIu64 "m", (uint64_t)(s / 60));
	else
		snprintf(buf, len, "%" PRIu64 "s", (uint64_t)s);
	return buf;
}

static const char *const counter_names[FG_COUNTER_MAX] = {
	[FG_R_PASS] = "passed",
	[FG_R_NON_IP] = "non_ip",
	[FG_R_ND] = "neighbour_discovery",
	[FG_R_ALLOW] = "allowed",
	[FG_R_SP_COOKIE] = "syn_proxy_cookie_ok",
	[FG_R_MONITOR] = "monitor",
	[FG_R_SP_SYNACK] = "syn_proxy_synack",
	[FG_R_DENY] = "denied",
	[FG_R_BANNED] = "banned",
	[FG_R_RATE_PPS] = "rate_pps",
	[FG_R_RATE_BPS] = "rate_bps",
	[FG_R_RATE_SYN] = "rate_syn",
	[FG_R_ENDPOINT] = "endpoint_total",
	[FG_R_TRUNC_ETH] = "truncated_eth",
	[FG_R_TRUNC_VLAN] = "truncated_vlan",
	[FG_R_VLAN_DEPTH] = "vlan_depth",
	[FG_R_TRUNC_IP4] = "truncated_ipv4",
	[FG_R_IP4_VERSION] = "ipv4_version",
	[FG_R_IP4_IHL] = "ipv4_ihl",
	[FG_R_IP4_TOTLEN] = "ipv4_total_length",
	[FG_R_TRUNC_IP6] = "truncated_ipv6",
	[FG_R_IP6_VERSION] = "ipv6_version",
	[FG_R_IP6_PAYLEN] = "ipv6_payload_length",
	[FG_R_TRUNC_EXT] = "truncated_ipv6_ext",
	[FG_R_TRUNC_L4] = "truncated_l4",
	[FG_R_TCP_DOFF] = "tcp_data_offset",
	[FG_R_SP_REFUSED] = "syn_proxy_refused",
	[FG_R_SP_EXPIRED] = "syn_proxy_expired",
	[FG_C_BAN_INSERT_FAIL] = "ban_insert_failures",
	[FG_C_SOURCE_INSERT_FAIL] = "source_insert_failures",
	[FG_C_ATTACK_NEW] = "under_attack_coarse_sources",
	[FG_C_ATTACK_ENTER] = "under_attack_entered",
	[FG_C_BANS] = "bans",
	[FG_C_EVENTS_LOST] = "events_lost",
	[FG_C_IP6_LONG_CHAIN] = "ipv6_long_chain",
	[FG_C_FRAGMENT] = "fragments",
	[FG_C_SOURCE_NEW] = "sources_created",
	[FG_C_LOST_RACE] = "lost_races",
	[FG_C_SP_WOULD_SYNACK] = "syn_proxy_would_synack",
	[FG_C_SP_WOULD_REFUSE] = "syn_proxy_would_refuse",
	[FG_C_SP_UNSEEN] = "syn_proxy_unseen_syns",
	[FG_C_SP_FLOW_HIT] = "syn_proxy_flow_hits",
};

const char *fg_counter_name(unsigned int idx)
{
	return idx < FG_COUNTER_MAX && counter_names[idx] ? counter_names[idx] : "unknown";
}

bool fg_counter_is_drop(unsigned int idx)
{
	return idx > FG_R_SP_SYNACK && idx <= FG_R_DROP_LAST;
}

const char *fg_counter_action(unsigned int idx)
{
	if (idx == FG_R_SP_SYNACK)
		return "answer"; /* XDP_TX: neither passed to the host nor dropped */
	return fg_counter_is_drop(idx) ? "drop" : "pass";
}

static const char *const action_names[] = {
	[FG_ACT_DROP] = "drop",
	[FG_ACT_MONITOR] = "monitor",
	[FG_ACT_BAN] = "ban",
};

const char *fg_action_name(unsigned int action)
{
	return action < sizeof(action_names) / sizeof(action_names[0]) ? action_names[action]
								       : "unknown";
}

int fg_action_parse(const char *s)
{
	unsigned int i;

	for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (s && !strcmp(s, action_names[i]))
			return i;
	return -1;
}

int fg_cidr_cmp(const struct fg_cidr *a, const struct fg_cidr *b)
{
	int d;

	if (a->family != b->family)
		return a->family - b->family;
	d = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (d)
		return d;
	return a->plen - b->plen;
}
