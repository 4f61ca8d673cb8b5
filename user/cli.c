// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * cli.c: the command-line machinery every command shares (cli.h): the
 * global options, getopt_long's tables and the usage lines generated from
 * a command's declaration, subcommand dispatch, the usage errors (exit 2)
 * and JSON output.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cli.h"
#include "util.h"

#define OPT_BASE 0x200 /* getopt value of option i of a command without a letter */

struct fg_opts fg_opts = { .pin_dir = FG_PIN_DIR_DEFAULT };
static bool pin_dir_done; /* fg_opts.pin_dir went through pin_dir_set */

/*
 * --pin-dir as one spelling of the directory: absolute, its existing part
 * resolved (symlinks, "." and ".."), no repeated or trailing slashes. The
 * writers' lock is named after it (maps.c), so two spellings of one
 * directory must not be two locks. The part that does not exist yet
 * (attach makes it) may not hold "." or "..". Room is kept for the pins'
 * names. -1 after an error.
 */
static int pin_dir_set(const char *arg)
{
	static char dir[PATH_MAX];
	char full[PATH_MAX], real[PATH_MAX], *c;
	size_t k, room = sizeof(full) - 64;
	int n;

	if (!*arg)
		return error("--pin-dir: an empty path"), -1;
	if (arg[0] == '/') {
		n = snprintf(full, sizeof(full), "%s", arg);
	} else {
		if (!getcwd(real, sizeof(real)))
			return error("--pin-dir %s: %s", arg, strerror(errno)), -1;
		n = snprintf(full, sizeof(full), "%s/%s", real, arg);
	}
	if (n < 0 || (size_t)n >= room)
		return error("--pin-dir: longer than %zu characters", room - 1), -1;
	/* cut components off the end until what is left exists; resolve that */
	for (k = (size_t)n;;) {
		char save = full[k];

		full[k] = '\0';
		if (!k) {
			full[k] = save; /* the tail is the whole path, from its first slash */
			strcpy(real, "/");
			break;
		}
		if (realpath(full, real)) {
			full[k] = save;
			break;
		}
		full[k] = save;
		if (errno != ENOENT && errno != ENOTDIR)
			return error("--pin-dir %s: %s", arg, strerror(errno)), -1;
		while (k > 0 && full[k - 1] != '/')
			k--;
		if (k)
			k--; /* onto the slash: the tail starts with it */
	}
	/* the tail (what does not exist yet): no "." or ".." component */
	for (c = full + k; *c; c++)
		if (c[0] == '/' && c[1] == '.' &&
		    (!c[2] || c[2] == '/' || (c[2] == '.' && (!c[3] || c[3] == '/'))))
			return error("--pin-dir %s: \".\" or \"..\" in a part that does not exist "
				     "yet",
				     arg),
			       -1;
	n = snprintf(dir, sizeof(dir), "%s%s", strcmp(real, "/") ? real : "", full + k);
	if (n < 0 || (size_t)n >= room)
		return error("--pin-dir %s: longer than %zu characters once resolved", arg, room - 1),
		       -1;
	/* no repeated or trailing slashes */
	for (c = dir; *c; c++)
		while (c[0] == '/' && c[1] == '/')
			memmove(c, c + 1, strlen(c));
	for (k = strlen(dir); k > 1 && dir[k - 1] == '/'; k--)
		dir[k - 1] = '\0';
	if (!*dir)
		strcpy(dir, "/"); /* the root itself */
	fg_opts.pin_dir = dir;
	pin_dir_done = true;
	return 0;
}

int fg_common_opt(int c)
{
	switch (c) {
	case 'j':
		fg_opts.json = true;
		return 1;
	case 'p':
		fg_opts.json = fg_opts.pretty = true;
		return 1;
	case 'v':
		fg_opts.verbose = true;
		return 1;
	case FG_OPT_PIN_DIR:
		return pin_dir_set(optarg) ? -1 : 1;
	}
	return 0;
}

void fg_print_json(struct json_object *o, int flags)
{
	bool pretty = fg_opts.pretty && !(flags & FG_JSON_LINE);

	flags &= ~FG_JSON_LINE;
	puts(json_object_to_json_string_ext(
		o, (pretty ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN) | flags));
	json_object_put(o);
}

/* The options of cmd that sub takes (sub NULL: the command's own), as the usage line shows them. */
static void usage_opts(const struct fg_cmd *cmd, const char *sub, FILE *f)
{
	const struct fg_opt *o;

	for (o = cmd->opts; o && o->name; o++) {
		const char *l = o->flags & FG_OPT_REQUIRED ? "" : "[", *r = *l ? "]" : "";

		if ((o->flags & FG_OPT_HIDDEN) || (sub ? !o->sub || strcmp(o->sub, sub) : !!o->sub))
			continue;
		if (o->flags & FG_OPT_LETTER)
			fprintf(f, " %s-%c%s%s%s", l, o->letter, o->arg ? " " : "", o->arg ?: "", r);
		else
			fprintf(f, " %s--%s%s%s%s", l, o->name, o->arg ? " " : "", o->arg ?: "", r);
	}
}

void fg_cmd_usage(const struct fg_cmd *cmd, FILE *f)
{
	const struct fg_sub *s;

	if (!cmd->subs) {
		fprintf(f, "usage: floodgate %s%s%s", cmd->name, cmd->args ? " " : "",
			cmd->args ?: "");
		usage_opts(cmd, NULL, f);
		fputc('\n', f);
	}
	for (s = cmd->subs; s && s->name; s++) {
		fprintf(f, "%s floodgate %s %s%s%s", s == cmd->subs ? "usage:" : "      ",
			cmd->name, s->name, s->args ? " " : "", s->args ?: "");
		usage_opts(cmd, s->name, f);
		fputc('\n', f);
	}
	fputc('\n', f);
	cmd->usage(f);
}

/* getopt_long's tables for cmd; 0, or -1 when it declares too many options. */
static int getopt_tables(const struct fg_cmd *cmd, struct option *lo, char *so, size_t so_len)
{
	static const struct option common[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "pin-dir", required_argument, NULL, FG_OPT_PIN_DIR },
	};
	size_t n = 0, k = 5;
	int i;

	memcpy(so, ":hjpv", k); /* ':' first: a missing value is ':', and getopt prints nothing */
	for (i = 0; cmd->opts && cmd->opts[i].name; i++) {
		const struct fg_opt *o = &cmd->opts[i];

		if (i == FG_MAX_OPTS || k + 3 >= so_len)
			return -1;
		lo[n++] = (struct option){ o->name, o->arg ? required_argument : no_argument, NULL,
					   o->letter ?: OPT_BASE + i };
		if (o->letter) {
			so[k++] = (char)o->letter;
			if (o->arg)
				so[k++] = ':';
		}
	}
	so[k] = '\0';
	memcpy(&lo[n], common, sizeof(common));
	memset(&lo[n + sizeof(common) / sizeof(common[0])], 0, sizeof(*lo));
	return 0;
}

void fg_getopt_error(const char *who, int c, char **argv)
{
	const char *as_typed = optind > 0 ? argv[optind - 1] : "?", *eq = strchr(as_typed, '=');

	if (c == ':')
		error("%s: option '%s' needs a value", who, as_typed);
	else if (!strncmp(as_typed, "--", 2) && eq && optopt) /* --json=1: known, takes none */
		error("%s: option '%.*s' takes no value", who, (int)(eq - as_typed), as_typed);
	else if (!strncmp(as_typed, "--", 2) || optopt <= ' ' || optopt > '~')
		error("%s: unknown or ambiguous option '%s'", who, as_typed);
	else
		error("%s: unknown option '-%c'", who, optopt);
}

/* Index in cmd->opts of what getopt returned, -1 when none. */
static int opt_index(const struct fg_cmd *cmd, int c)
{
	int i;

	if (c >= OPT_BASE && c < OPT_BASE + FG_MAX_OPTS)
		return c - OPT_BASE;
	for (i = 0; c > 0 && cmd->opts && cmd->opts[i].name; i++)
		if (cmd->opts[i].letter == c)
			return i;
	return -1;
}

/* "set, del or list": cmd's subcommands, for an error. */
static char *sub_names(const struct fg_cmd *cmd, char *buf, size_t len)
{
	const struct fg_sub *s;
	size_t k = 0;

	buf[0] = '\0';
	for (s = cmd->subs; s->name && k < len; s++)
		k += snprintf(buf + k, len - k, "%s%s",
			      s == cmd->subs ? ""
			      : s[1].name    ? ", "
					     : " or ",
			      s->name);
	return buf;
}

/* The subcommand and positional arguments; -1 when they fit, else the exit code. */
static int check_words(const struct fg_cmd *cmd, struct fg_args *a, char **argv, int argc)
{
	char names[64];
	int min = cmd->min_args, max = cmd->max_args, i;

	if (cmd->subs) {
		if (optind >= argc) {
			fg_cmd_usage(cmd, stderr);
			return FG_EXIT_USAGE;
		}
		for (a->sub = cmd->subs; a->sub->name && strcmp(a->sub->name, argv[optind]); a->sub++)
			;
		if (!a->sub->name)
			return error("%s %s: unknown subcommand (%s)", cmd->name, argv[optind],
				     sub_names(cmd, names, sizeof(names))),
			       FG_EXIT_USAGE;
		optind++;
		min = max = a->sub->nargs;
	}
	a->pos = argv + optind;
	a->n_pos = argc - optind;
	if (a->n_pos > max && max == 0)
		return error("%s%s%s: unexpected argument '%s'", cmd->name, a->sub ? " " : "",
			     a->sub ? a->sub->name : "", a->pos[0]),
		       FG_EXIT_USAGE;
	if (a->n_pos < min || a->n_pos > max) {
		if (a->sub)
			return error("%s %s: expects one %.*s", cmd->name, a->sub->name,
				     (int)strcspn(a->sub->args, " "), a->sub->args),
			       FG_EXIT_USAGE;
		fg_cmd_usage(cmd, stderr);
		return FG_EXIT_USAGE;
	}
	for (i = 0; cmd->opts && cmd->opts[i].name; i++) {
		const struct fg_opt *o = &cmd->opts[i];

		if (a->opt[i] && o->sub && (!a->sub || strcmp(o->sub, a->sub->name)))
			return error("%s %s: --%s only goes with %s %s", cmd->name,
				     a->sub ? a->sub->name : "", o->name, cmd->name, o->sub),
			       FG_EXIT_USAGE;
		if (!a->opt[i] && (o->flags & FG_OPT_REQUIRED))
			return error("%s: --%s %s is required", cmd->name, o->name, o->arg),
			       FG_EXIT_USAGE;
	}
	return -1;
}

int fg_cmd_exec(const struct fg_cmd *cmd, int argc, char **argv)
{
	struct option lo[FG_MAX_OPTS + 6];
	struct fg_args a = { .cmd = cmd };
	char so[2 * FG_MAX_OPTS + 8];
	int c, i;

	if (getopt_tables(cmd, lo, so, sizeof(so)))
		return error("%s: too many options", cmd->name), FG_EXIT_ERR;
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		if ((i = fg_common_opt(c)) < 0)
			return FG_EXIT_USAGE;
		if (i)
			continue;
		if (c == 'h') {
			fg_cmd_usage(cmd, stdout);
			return FG_EXIT_OK;
		}
		i = opt_index(cmd, c);
		if (i < 0) {
			fg_getopt_error(cmd->name, c, argv);
			fg_cmd_usage(cmd, stderr);
			return FG_EXIT_USAGE;
		}
		a.opt[i] = cmd->opts[i].arg ? optarg : "";
	}
	if ((c = check_words(cmd, &a, argv, argc)) >= 0)
		return c;
	/* the default too is one spelling: a symbolic link to it shares its lock */
	if (!pin_dir_done && pin_dir_set(fg_opts.pin_dir))
		return FG_EXIT_USAGE;
	return a.sub ? a.sub->run(&a) : cmd->run(&a);
}
