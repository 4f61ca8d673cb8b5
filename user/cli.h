/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * cli.h: how a command declares its syntax once. A command is a struct
 * fg_cmd: its positional arguments, its options (struct fg_opt, each
 * declared once: cli.c generates getopt's tables and the usage line from
 * it, as xdp-tools' lib/util/params.c does), its subcommands ({name,
 * handler}) or its handler, and its help text. fg_cmd_run() parses the
 * command line and sorts out every usage error before a handler runs.
 *
 * Exit codes (README "Exit codes", floodgate(8)): 0 success, 1 a value or
 * state error (a bad number, a missing pin, the kernel said no), 2 a usage
 * error (unknown option or subcommand, a missing or extra argument, an
 * option without its argument or with the wrong subcommand).
 */
#ifndef FG_CLI_H
#define FG_CLI_H

#include <stdbool.h>
#include <stdio.h>

#define FG_EXIT_OK    0 /* success */
#define FG_EXIT_ERR   1 /* value or state error: bad value, missing state, kernel said no */
#define FG_EXIT_USAGE 2 /* usage error: unknown option or subcommand, missing or extra argument */

#define FG_MAX_OPTS    24    /* options of one command */
#define FG_OPT_PIN_DIR 0x100 /* getopt value of --pin-dir (no short form) */

/* Options every command honours (set before its handler runs). */
struct fg_opts {
	bool json;	     /* -j: JSON output */
	bool pretty;	     /* -p: indented JSON (implies -j) */
	bool verbose;	     /* -v: libbpf's own messages too */
	const char *pin_dir; /* --pin-dir, default FG_PIN_DIR_DEFAULT */
};
extern struct fg_opts fg_opts;

/* Flags of an option. */
#define FG_OPT_REQUIRED 1 /* must be given: shown without brackets */
#define FG_OPT_HIDDEN	2 /* left out of the generated usage line (its synopsis says it) */
#define FG_OPT_LETTER	4 /* the usage line shows -L rather than --NAME */

/* One option of a command. */
struct fg_opt {
	const char *name;   /* --NAME */
	int letter;	    /* -L as well, 0: long only */
	const char *arg;    /* its argument as the usage names it; NULL: a flag */
	const char *sub;    /* the only subcommand that takes it; NULL: any */
	unsigned int flags; /* FG_OPT_* */
};

struct fg_args;

/* A subcommand: `limit set`, `ban list`. */
struct fg_sub {
	const char *name;		     /* second word */
	const char *args;		     /* positional arguments in the usage; NULL: none */
	int nargs;			     /* how many positional arguments it takes */
	int (*run)(const struct fg_args *a); /* returns an exit code */
};

/* A command of `floodgate`. */
struct fg_cmd {
	const char *name;	   /* first word */
	const char *args;	   /* positional arguments in the usage line; NULL: none */
	int min_args, max_args;	   /* positional arguments without subcommands */
	const struct fg_opt *opts; /* its options, up to an entry without name */
	const struct fg_sub *subs; /* subcommands, up to an entry without name; NULL: none */
	int (*run)(const struct fg_args *a); /* the handler when there are no subcommands */
	void (*usage)(FILE *f);		     /* `CMD --help` after the usage lines */
	const char *help;		     /* one line for `floodgate --help` */
};

/* A parsed command line. */
struct fg_args {
	const struct fg_cmd *cmd;     /* the command */
	const struct fg_sub *sub;     /* its subcommand, NULL when it has none */
	const char *opt[FG_MAX_OPTS]; /* per entry of cmd->opts: its argument ("" for a flag), NULL */
	char **pos;		      /* positional arguments after the (sub)command */
	int n_pos;		      /* how many */
};

/* The global options as getopt_long returns them; 1 when c was one, -1 after its error. */
int fg_common_opt(int c);
/*
 * The error line for what getopt_long (optstring starting ':', or '+:')
 * returned as c for a bad option: ':' a missing value, '?' an unknown one.
 */
void fg_getopt_error(const char *who, int c, char **argv);
/* The usage of cmd: generated usage lines, a blank line, cmd->usage. */
void fg_cmd_usage(const struct fg_cmd *cmd, FILE *f);
/* Parse argv (argv[0] the command name) and run the handler; returns the exit code. */
int fg_cmd_exec(const struct fg_cmd *cmd, int argc, char **argv);
/*
 * Print o as JSON on stdout (-p: indented) and release it. flags: json-c's
 * JSON_C_TO_STRING_* to add, FG_JSON_LINE for one line whatever -p says.
 */
#define FG_JSON_LINE (1 << 30)
struct json_object;
void fg_print_json(struct json_object *o, int flags);

#endif /* FG_CLI_H */
