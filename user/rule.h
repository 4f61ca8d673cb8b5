/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * rule.h: the fields of a rule (struct fg_rule) as people write and read
 * them. One table, fg_rule_fields[], says for each field its YAML key,
 * its `limit set` option, its `limit list -j` key, its kind, where it is
 * stored, its bounds, what a new endpoint rule starts with and how a
 * default burst follows its rate. The YAML loader and `config dump`
 * (config_*.c), `limit set` and `limit list` (limit.c) and the rule-set
 * checks (ruleset.c) all read it: adding a field is one row there, one
 * name in enum fg_rf.
 */
#ifndef FG_RULE_H
#define FG_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "floodgate.h"

/* The fields, in the order of the file, the usage and the outputs. */
enum fg_rf {
	FG_RF_PPS,	   /* per-source packets per second */
	FG_RF_BURST,	   /* its burst */
	FG_RF_BPS,	   /* per-source bits per second */
	FG_RF_BPS_BURST,   /* its burst, bytes */
	FG_RF_SYN_PPS,	   /* per-source TCP SYN without ACK per second */
	FG_RF_SYN_BURST,   /* its burst */
	FG_RF_TOTAL_PPS,   /* all sources together, packets per second */
	FG_RF_TOTAL_BURST, /* its burst */
	FG_RF_PREFIX4,	   /* IPv4 source prefix length */
	FG_RF_PREFIX6,	   /* IPv6 source prefix length */
	FG_RF_ACTION,	   /* over a limit: drop, monitor or ban */
	FG_RF_BAN_FOR,	   /* first ban length */
	FG_RF_BAN_MULT,	   /* ban multiplier per strike */
	FG_RF_BAN_MAX,	   /* longest ban */
	FG_RF_SYN_PROXY,   /* TCP endpoints: the XDP SYN proxy on or off */
	FG_RF_MAX,
};

/* How a field's value is written. */
enum fg_rf_kind {
	FG_RK_COUNT,	/* a plain number (COUNT, LEN) */
	FG_RK_BITS,	/* bits per second: RATE with an SI suffix (500k, 10g) */
	FG_RK_BYTES,	/* bytes: SIZE with k or m (x1024) */
	FG_RK_ACTION,	/* drop, monitor or ban (enum fg_action) */
	FG_RK_DURATION, /* DURATION (30s, 5m) in text, ticks in the rule */
	FG_RK_SWITCH,	/* on or off: 1 or 0 in the rule, a boolean in JSON */
};

#define FG_FRAME   1514 /* a full-size Ethernet frame: the smallest useful byte burst */
#define FG_STR_(x) #x
#define FG_STR(x)  FG_STR_(x)

/* One field of a rule. */
struct fg_rule_field {
	const char *key;  /* YAML key (config file and config dump) */
	const char *opt;  /* `limit set` option without the dashes; names it in rule-set errors */
	const char *json; /* key in `limit list -j` */
	const char *arg;  /* the value's name in the usage */
	const char *help; /* the usage text; continuation lines indented to column 24 */
	enum fg_rf_kind kind; /* how the value is written */
	size_t off;	      /* offsetof(struct fg_rule, ...) */
	size_t size;	      /* bytes there: 1, 4 or 8 */
	__u64 min, max;	      /* bounds of the value as written (seconds for a duration) */
	int burst;	      /* a rate: its burst's index (`off` clears both); -1 otherwise */
	int rate;	      /* a burst: its rate's index; -1 otherwise */
	__u64 start;	      /* what a new endpoint rule starts with */
	bool inherit;	      /* a file's endpoint rule starts with the default rule's value */
	const char *col;      /* a rate: its `limit list` column, RATE/BURST */
	int width;	      /* that column's width */
	bool tcp; /* TCP endpoints only: on for the default rule or a UDP endpoint is refused */
};

extern const struct fg_rule_field fg_rule_fields[FG_RF_MAX];

/* Value of field i in r (ticks for a duration). */
__u64 fg_rf_get(const struct fg_rule *r, int i);
void fg_rf_set(struct fg_rule *r, int i, __u64 v);
/*
 * The burst a rate of field `rate` gets when none is given: one second of
 * the rate; in bytes at least one full frame and at most the byte burst's
 * maximum. The file and `limit set` both use it.
 */
__u64 fg_rf_default_burst(int rate, __u64 v);
/* A new endpoint rule: the start value of every field (plus used, endpoint left zero). */
void fg_rule_start(struct fg_rule *r);

/* Values given for a rule's fields, as text, then parsed. */
struct fg_rule_edit {
	const char *text[FG_RF_MAX]; /* as given; NULL: not given */
	__u64 v[FG_RF_MAX];	     /* parsed: count, bits, bytes, action, seconds */
	bool off[FG_RF_MAX];	     /* a rate given as `off` */
	bool bad[FG_RF_MAX]; /* refused (reported): a burst does not say its rate is missing */
};

/*
 * Where problems are reported: each goes through error() (or warning()),
 * named "LABEL: key" as the file writes it, or "--opt" (LABEL: --opt when
 * a label is given) on the command line. Before the problems of field i,
 * at(ctx, i) is called (i = -1: the rule itself), so the config loader can
 * place them in the file. at may be NULL.
 */
struct fg_rule_where {
	const char *label;		  /* "default", "tcp/443", "limit set tcp/443", or NULL */
	bool cli;			  /* name fields by their options */
	void (*at)(void *ctx, int field); /* before a field's problems; NULL: nothing */
	void *ctx;			  /* for at */
};

/*
 * Parse every given text of e (values only: no rule needed); e starts
 * zeroed but for text and bad. Returns the number of problems.
 */
int fg_rule_parse(struct fg_rule_edit *e, const struct fg_rule_where *w);
/*
 * Apply the parsed values of e to r: a rate sets its burst to
 * fg_rf_default_burst unless the burst is given too, `off` clears a rate
 * and its burst, a burst needs a rate (given or already in r). Refused
 * texts are left out. Then the ban fields are checked together (after
 * any change the caller makes in between: fg_rule_check_bans). Returns the
 * number of problems.
 */
int fg_rule_apply(struct fg_rule *r, const struct fg_rule_edit *e, __u64 hz,
		  const struct fg_rule_where *w);
/* ban_max not shorter than ban_for when either is given, and action ban with a ban_for. */
int fg_rule_check_bans(const struct fg_rule *r, const struct fg_rule_edit *e, __u64 hz,
		       const struct fg_rule_where *w);

/*
 * Fields for TCP endpoints only (fg_rule_field.tcp) given on in e for a
 * rule r of another protocol (the default rule has none): one error each.
 * Returns the number of problems.
 */
int fg_rule_check_proto(const struct fg_rule *r, const struct fg_rule_edit *e,
			const struct fg_rule_where *w);

/*
 * Field i of r as the file writes it (the form its parser reads back):
 * 10000, 100m, 64k, drop, 10m, on. hz converts ticks to seconds. Returns buf.
 */
char *fg_rf_format(char *buf, size_t len, const struct fg_rule *r, int i, __u64 hz);

#endif /* FG_RULE_H */
