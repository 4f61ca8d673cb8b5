/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * util.h: error reporting, argument parsers and formatters, the names of
 * enum values (util.c). Pure: no maps, so fuzzers and unit tests call it
 * directly.
 */
#ifndef FG_UTIL_H
#define FG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "floodgate.h"

/*
 * Where error() and warning() send a message (without "error: "): by
 * default to stderr as "error: MSG". The config loader replaces it to
 * record each problem with its position in the file, as git's
 * set_error_routine() lets its callers do.
 */
typedef void (*fg_report_fn)(void *ctx, bool warn, const char *msg);
/* Install fn with ctx (NULL: the default); the previous pair goes to *old_fn, *old_ctx. */
void fg_set_report(fg_report_fn fn, void *ctx, fg_report_fn *old_fn, void **old_ctx);
/* Bytes of the message fg_report_hold keeps. */
#define FG_REPORT_HOLD 512
/*
 * A report routine that keeps the last message in ctx (FG_REPORT_HOLD
 * bytes) instead of printing it: for a caller that decides afterwards
 * whether it was an error, a warning or nothing.
 */
void fg_report_hold(void *ctx, bool warn, const char *msg);
/* Report "error: <message>", errno kept; returns -1 so callers can `return error(...)`. */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report "warning: <message>", errno kept. */
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parsed address prefix. */
struct fg_cidr {
	__u8 family;   /* enum fg_family */
	__u8 plen;     /* prefix length */
	__u8 addr[16]; /* network order, IPv4 in the first 4 bytes, host bits zero */
};

/* Parsed endpoint: `default`, tcp/PORT, udp/PORT, tcp/LO-HI, udp/LO-HI. */
struct fg_endpoint {
	__u16 proto;   /* IPPROTO_TCP or IPPROTO_UDP, 0 for default */
	__u16 port_lo; /* first port, host order */
	__u16 port_hi; /* last port, host order */
};

/*
 * Parsers: 0 on success, -EINVAL on bad input after printing one
 * `error: ...` line that names `what` and the bad value.
 */
int fg_parse_u64(const char *what, const char *s, __u64 min, __u64 max, __u64 *out);
int fg_parse_rate(const char *what, const char *s, __u64 *bits);	/* 500k, 100m, 10g (SI) */
int fg_parse_size(const char *what, const char *s, __u64 *bytes);	/* 64k, 1m (x1024) */
int fg_parse_duration(const char *what, const char *s, __u64 *seconds); /* 30s 5m 2h 1d */
/* ADDR[/LEN]; bare ADDR means a host prefix when host_default, else an error. */
int fg_parse_cidr(const char *what, const char *s, bool host_default, struct fg_cidr *out);
/* The order lists print prefixes in: family, address, length (<0, 0, >0). */
int fg_cidr_cmp(const struct fg_cidr *a, const struct fg_cidr *b);
int fg_parse_endpoint(const char *what, const char *s, struct fg_endpoint *out);

/* Formatters (return buf). */
char *fg_format_cidr(char *buf, size_t len, __u8 family, const __u8 *addr, __u8 plen);
char *fg_format_endpoint(char *buf, size_t len, const struct fg_rule *r);
char *fg_format_duration(char *buf, size_t len, __u64 seconds);
/* Endpoint of rule `rule` in cfg (may be NULL), "rule7" when it has none (a deleted rule). */
char *fg_rule_label(char *buf, size_t len, const struct fg_config *cfg, __u32 rule);

/* Names of enum values, as used in output, JSON and metrics labels. */
const char *fg_counter_name(unsigned int idx);
bool fg_counter_is_drop(unsigned int idx);
/* "pass", "drop" or "answer" (the SYN proxy's SYN-ACKs): a verdict reason's action label */
const char *fg_counter_action(unsigned int idx);
const char *fg_action_name(unsigned int action);
int fg_action_parse(const char *s); /* -1 when unknown */

#endif /* FG_UTIL_H */
