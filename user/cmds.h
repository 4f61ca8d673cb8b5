/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * cmds.h: the command handlers of the command table (main.c), one file
 * each, and what their option parsing shares. A handler gets argv with
 * the command name at argv[0] and returns an exit code (FG_EXIT_*).
 */
#ifndef FG_CMDS_H
#define FG_CMDS_H

#include <getopt.h>

/* Long option value of --pin-dir (no short form). */
#define FG_OPT_PIN_DIR 0x100

/* The global options, accepted after the command too: add to every getopt_long table. */
#define FG_COMMON_LONGOPTS                                                                         \
	{ "json", no_argument, NULL, 'j' }, { "pretty", no_argument, NULL, 'p' },                  \
		{ "verbose", no_argument, NULL, 'v' },                                             \
	{                                                                                          \
		"pin-dir", required_argument, NULL, FG_OPT_PIN_DIR                                 \
	}
/* Short forms of the global options, for getopt_long's optstring. */
#define FG_COMMON_SHORTOPTS "jpv"

/* Handle a global option returned by getopt_long; 1 when it was one. */
int fg_common_opt(int c);

int cmd_attach(int argc, char **argv); /* attach.c */
int cmd_detach(int argc, char **argv); /* attach.c */
int cmd_status(int argc, char **argv); /* attach.c */
int cmd_limit(int argc, char **argv);  /* limit.c */
int cmd_allow(int argc, char **argv);  /* lists.c */
int cmd_deny(int argc, char **argv);   /* lists.c */
int cmd_ban(int argc, char **argv);    /* lists.c */
int cmd_stats(int argc, char **argv);  /* stats.c */
int cmd_top(int argc, char **argv);    /* stats.c */
int cmd_events(int argc, char **argv); /* events.c */
int cmd_config(int argc, char **argv); /* config.c */
int cmd_run(int argc, char **argv);    /* run.c */

#endif /* FG_CMDS_H */
