// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * rule.c: the table of rule fields (rule.h) and what every reader of it
 * shares: parsing a field's text within its bounds, the default burst of
 * a rate, applying values to a rule, formatting a field as the file
 * writes it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "util.h"
#include "rule.h"

#define PPS_MAX	  1000000000ULL	   /* packets per second (and packet bursts): far above line rate */
#define BITS_MAX  1000000000000ULL /* bits per second (1 Tbit/s, fg_parse_rate's limit) */
#define BYTES_MAX (1ULL << 32)	   /* bytes of a byte burst (fg_parse_size's limit) */
#define MULT_MAX  1000		   /* ban escalation factor */
#define DUR_MAX	  (366ULL * 86400) /* seconds: fg_parse_duration's limit */

#define AT(m) offsetof(struct fg_rule, m), sizeof(((struct fg_rule *)0)->m)

/* Usage texts continue at column 24. */
#define MORE "\n                       "

const struct fg_rule_field fg_rule_fields[FG_RF_MAX] = {
	[FG_RF_PPS] = { "pps", "pps", "pps", "N", "packets per second", FG_RK_COUNT, AT(pps.rate),
			1, PPS_MAX, FG_RF_BURST, -1, 0, false, "PPS/BURST", 17 },
	[FG_RF_BURST] = { "burst", "burst", "burst", "N",
			  "packets let through at once (default: the rate)", FG_RK_COUNT,
			  AT(pps.burst), 1, PPS_MAX, -1, FG_RF_PPS, 0, false, NULL, 0 },
	[FG_RF_BPS] = { "bps", "bps", "bps", "RATE", "bits per second (500k, 100m, 10g)", FG_RK_BITS,
			AT(bps.rate), 1, BITS_MAX, FG_RF_BPS_BURST, -1, 0, false, "BPS/BURST", 15 },
	[FG_RF_BPS_BURST] = { "bps_burst", "bps-burst", "bps_burst", "SIZE",
			      "bytes at once (64k, 1m; default: one second of RATE," MORE
			      "at least " FG_STR(FG_FRAME) " bytes)",
			      FG_RK_BYTES, AT(bps.burst), 1, BYTES_MAX, -1, FG_RF_BPS, 0, false,
			      NULL, 0 },
	[FG_RF_SYN_PPS] = { "syn_pps", "syn-pps", "syn_pps", "N",
			    "TCP SYN without ACK (new connections) per second", FG_RK_COUNT,
			    AT(syn.rate), 1, PPS_MAX, FG_RF_SYN_BURST, -1, 0, false, "SYN/BURST", 17 },
	[FG_RF_SYN_BURST] = { "syn_burst", "syn-burst", "syn_burst", "N",
			      "SYNs at once (default: the rate)", FG_RK_COUNT, AT(syn.burst), 1,
			      PPS_MAX, -1, FG_RF_SYN_PPS, 0, false, NULL, 0 },
	[FG_RF_TOTAL_PPS] = { "total_pps", "total-pps", "total_pps", "N",
			      "packets per second of all sources together", FG_RK_COUNT,
			      AT(total.rate), 1, PPS_MAX, FG_RF_TOTAL_BURST, -1, 0, false,
			      "TOTAL/BURST", 17 },
	[FG_RF_TOTAL_BURST] = { "total_burst", "total-burst", "total_burst", "N",
				"all sources' packets at once (default: the rate)", FG_RK_COUNT,
				AT(total.burst), 1, PPS_MAX, -1, FG_RF_TOTAL_PPS, 0, false, NULL, 0 },
	[FG_RF_PREFIX4] = { "prefix4", "prefix4", "prefix4", "LEN",
			    "IPv4 sources share a limit per /LEN (0..32)", FG_RK_COUNT, AT(plen4),
			    0, 32, -1, -1, 32, false, NULL, 0 },
	[FG_RF_PREFIX6] = { "prefix6", "prefix6", "prefix6", "LEN",
			    "IPv6 sources share a limit per /LEN (0..128)", FG_RK_COUNT, AT(plen6),
			    0, 128, -1, -1, 64, false, NULL, 0 },
	[FG_RF_ACTION] = { "action", "action", "action", "ACTION",
			   "over a limit: drop, monitor (count as would-drop and" MORE
			   "pass) or ban (drop and ban the source prefix)",
			   FG_RK_ACTION, AT(action), FG_ACT_DROP, FG_ACT_BAN, -1, -1, FG_ACT_DROP,
			   false, NULL, 0 },
	[FG_RF_BAN_FOR] = { "ban_for", "ban-for", "ban_for", "DURATION",
			    "first ban length (30s, 5m, 2h, 1d); also sets" MORE
			    "--ban-mult 2 and --ban-max 1d when not set before",
			    FG_RK_DURATION, AT(ban_ticks), 1, DUR_MAX, -1, -1, 0, true, NULL, 0 },
	[FG_RF_BAN_MULT] = { "ban_multiplier", "ban-mult", "ban_mult", "N",
			     "each repeat ban lasts N times the previous one", FG_RK_COUNT,
			     AT(ban_mult), 1, MULT_MAX, -1, -1, 0, true, NULL, 0 },
	[FG_RF_BAN_MAX] = { "ban_max", "ban-max", "ban_max", "DURATION", "longest ban",
			    FG_RK_DURATION, AT(ban_max_ticks), 1, DUR_MAX, -1, -1, 0, true, NULL, 0 },
	[FG_RF_SYN_PROXY] = { "syn_proxy", "syn-proxy", "syn_proxy", "on|off",
			      "TCP endpoints: answer SYNs in XDP with SYN cookies and" MORE
			      "let only completed handshakes through (netfilter's" MORE
			      "SYNPROXY connects them, in `table inet floodgate`)",
			      FG_RK_SWITCH, AT(syn_proxy), 0, 1, -1, -1, 0, false, NULL, 0, true },
};

__u64 fg_rf_get(const struct fg_rule *r, int i)
{
	const char *p = (const char *)r + fg_rule_fields[i].off;

	switch (fg_rule_fields[i].size) {
	case 1:
		return *(const __u8 *)p;
	case 4:
		return *(const __u32 *)p;
	default:
		return *(const __u64 *)p;
	}
}

void fg_rf_set(struct fg_rule *r, int i, __u64 v)
{
	char *p = (char *)r + fg_rule_fields[i].off;

	switch (fg_rule_fields[i].size) {
	case 1:
		*(__u8 *)p = v;
		break;
	case 4:
		*(__u32 *)p = v;
		break;
	default:
		*(__u64 *)p = v;
		break;
	}
}

__u64 fg_rf_default_burst(int rate, __u64 v)
{
	const struct fg_rule_field *b = &fg_rule_fields[fg_rule_fields[rate].burst];

	if (fg_rule_fields[rate].kind != FG_RK_BITS)
		return v < b->max ? v : b->max;
	v /= 8;
	return v < FG_FRAME ? FG_FRAME : v < b->max ? v : b->max;
}

void fg_rule_start(struct fg_rule *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->used = 1;
	for (i = 0; i < FG_RF_MAX; i++)
		fg_rf_set(r, i, fg_rule_fields[i].start);
}

/* How field i is named in a message: "LABEL: key", "--opt" or "LABEL: --opt". */
static char *name(char *buf, size_t len, const struct fg_rule_where *w, int i, bool labelled)
{
	const struct fg_rule_field *f = &fg_rule_fields[i];
	const char *sep = labelled && w->label ? ": " : "";
	const char *label = labelled && w->label ? w->label : "";

	if (w->cli)
		snprintf(buf, len, "%s%s--%s", label, sep, f->opt);
	else
		snprintf(buf, len, "%s%s%s", label, sep, f->key);
	return buf;
}

/* A field's bare name, for the second field of a message. */
static char *bare(char *buf, size_t len, const struct fg_rule_where *w, int i)
{
	return name(buf, len, w, i, false);
}

static void at(const struct fg_rule_where *w, int i)
{
	if (w->at)
		w->at(w->ctx, i);
}

/* Parse text s of field i into *v (seconds for a duration); 0 or -EINVAL after one error. */
static int parse_one(const struct fg_rule_where *w, int i, const char *s, __u64 *v)
{
	const struct fg_rule_field *f = &fg_rule_fields[i];
	char what[128];
	int a;

	name(what, sizeof(what), w, i, !w->cli);
	switch (f->kind) {
	case FG_RK_COUNT:
		return fg_parse_u64(what, s, f->min, f->max, v);
	case FG_RK_BITS:
		return fg_parse_rate(what, s, v);
	case FG_RK_BYTES:
		return fg_parse_size(what, s, v);
	case FG_RK_DURATION:
		return fg_parse_duration(what, s, v);
	case FG_RK_ACTION:
		a = fg_action_parse(s);
		if (a < 0)
			return error("%s: %s: unknown action (use drop, monitor or ban)", what, s),
			       -EINVAL;
		*v = a;
		return 0;
	case FG_RK_SWITCH:
		if (strcmp(s, "on") && strcmp(s, "off"))
			return error("%s: %s: must be on or off", what, s), -EINVAL;
		*v = !strcmp(s, "on");
		return 0;
	}
	return -EINVAL;
}

int fg_rule_parse(struct fg_rule_edit *e, const struct fg_rule_where *w)
{
	int i, bad = 0;

	for (i = 0; i < FG_RF_MAX; i++) {
		const char *s = e->text[i];

		if (!s)
			continue;
		at(w, i);
		if (fg_rule_fields[i].burst >= 0 && !strcmp(s, "off"))
			e->off[i] = true;
		else if (parse_one(w, i, s, &e->v[i]))
			e->bad[i] = true, bad++;
	}
	return bad;
}

/* A burst given with its rate: 0, or 1 after reporting why it cannot be applied. */
static int apply_burst(struct fg_rule *r, const struct fg_rule_edit *e, int i,
		       const struct fg_rule_where *w)
{
	const struct fg_rule_field *f = &fg_rule_fields[i];
	char what[128], rate[64];

	name(what, sizeof(what), w, i, true);
	bare(rate, sizeof(rate), w, f->rate);
	if (e->off[f->rate])
		return error("%s: %s: set while %s is off", what, e->text[i], rate), 1;
	if (!fg_rf_get(r, f->rate) && !e->text[f->rate] && !e->bad[f->rate])
		return error("%s: %s: set without %s", what, e->text[i], rate), 1;
	fg_rf_set(r, i, e->v[i]);
	if (f->kind == FG_RK_BYTES && e->v[i] < FG_FRAME)
		warning("%s: %s is less than one full-size frame (%d bytes): such frames never "
			"pass",
			what, e->text[i], FG_FRAME);
	return 0;
}

int fg_rule_apply(struct fg_rule *r, const struct fg_rule_edit *e, __u64 hz,
		  const struct fg_rule_where *w)
{
	int i, bad = 0;

	for (i = 0; i < FG_RF_MAX; i++) {
		const struct fg_rule_field *f = &fg_rule_fields[i];

		if (!e->text[i] || e->bad[i])
			continue;
		at(w, i);
		if (e->off[i]) {
			fg_rf_set(r, i, 0);
			fg_rf_set(r, f->burst, 0);
		} else if (f->burst >= 0) {
			fg_rf_set(r, i, e->v[i]);
			fg_rf_set(r, f->burst, fg_rf_default_burst(i, e->v[i]));
		} else if (f->rate >= 0) {
			bad += apply_burst(r, e, i, w);
		} else {
			fg_rf_set(r, i, f->kind == FG_RK_DURATION ? e->v[i] * hz : e->v[i]);
		}
	}
	return bad;
}

int fg_rule_check_bans(const struct fg_rule *r, const struct fg_rule_edit *e, __u64 hz,
		       const struct fg_rule_where *w)
{
	const char *label = w->label ? w->label : "rule";
	char a1[32], a2[32], n1[64], n2[64];
	int bad = 0;

	if ((e->text[FG_RF_BAN_FOR] || e->text[FG_RF_BAN_MAX]) && r->ban_max_ticks < r->ban_ticks) {
		at(w, e->text[FG_RF_BAN_MAX] ? FG_RF_BAN_MAX : FG_RF_BAN_FOR);
		bad += !!error("%s: %s %s is shorter than %s %s", label,
			       bare(n1, sizeof(n1), w, FG_RF_BAN_MAX),
			       fg_format_duration(a1, sizeof(a1), r->ban_max_ticks / hz),
			       bare(n2, sizeof(n2), w, FG_RF_BAN_FOR),
			       fg_format_duration(a2, sizeof(a2), r->ban_ticks / hz));
	}
	if (r->action == FG_ACT_BAN && !r->ban_ticks) {
		at(w, FG_RF_ACTION);
		bad += !!error("%s: %s ban needs %s DURATION", label,
			       bare(n1, sizeof(n1), w, FG_RF_ACTION),
			       bare(n2, sizeof(n2), w, FG_RF_BAN_FOR));
	}
	return bad;
}

int fg_rule_check_proto(const struct fg_rule *r, const struct fg_rule_edit *e,
			const struct fg_rule_where *w)
{
	char what[128];
	int i, bad = 0;

	if (r->proto == IPPROTO_TCP)
		return 0;
	for (i = 0; i < FG_RF_MAX; i++) {
		if (!fg_rule_fields[i].tcp || !e->text[i] || e->bad[i] || !fg_rf_get(r, i))
			continue;
		at(w, i);
		bad += !!error("%s: %s: only for TCP endpoints (tcp/PORT)",
			       name(what, sizeof(what), w, i, true), e->text[i]);
	}
	return bad;
}

/* Bits per second with the largest SI suffix that keeps it exact: 10g, 500k, 1234. */
static char *format_rate(char *buf, size_t len, __u64 v)
{
	static const char sfx[] = "kmgt";
	int i = -1;

	while (v && v % 1000 == 0 && i < 3) {
		v /= 1000;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%" PRIu64, (uint64_t)v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", (uint64_t)v, sfx[i]);
	return buf;
}

/* Bytes with k or m (x1024) when exact: 64k, 1m, 1500. */
static char *format_size(char *buf, size_t len, __u64 v)
{
	if (v && v % (1024 * 1024) == 0)
		snprintf(buf, len, "%" PRIu64 "m", (uint64_t)(v / (1024 * 1024)));
	else if (v && v % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 "k", (uint64_t)(v / 1024));
	else
		snprintf(buf, len, "%" PRIu64, (uint64_t)v);
	return buf;
}

char *fg_rf_format(char *buf, size_t len, const struct fg_rule *r, int i, __u64 hz)
{
	__u64 v = fg_rf_get(r, i), s;

	switch (fg_rule_fields[i].kind) {
	case FG_RK_BITS:
		return format_rate(buf, len, v);
	case FG_RK_BYTES:
		return format_size(buf, len, v);
	case FG_RK_ACTION:
		snprintf(buf, len, "%s", fg_action_name(v));
		return buf;
	case FG_RK_SWITCH:
		snprintf(buf, len, "%s", v ? "on" : "off");
		return buf;
	case FG_RK_DURATION:
		s = (v + hz / 2) / hz; /* ticks that are not whole seconds: the nearest */
		return fg_format_duration(buf, len, s ?: 1);
	default:
		snprintf(buf, len, "%" PRIu64, (uint64_t)v);
		return buf;
	}
}
