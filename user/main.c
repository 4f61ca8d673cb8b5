// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * main.c: the floodgate command line. Global options, then the command
 * table; each command parses its own options (getopt_long) in its file.
 */
#include <stdio.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "util.h"
#include "cli.h"
#include "cmds.h"

static const struct fg_cmd *const commands[] = {
	&fg_cmd_attach, &fg_cmd_detach, &fg_cmd_status, &fg_cmd_limit, &fg_cmd_allow,
	&fg_cmd_deny,	&fg_cmd_ban,	&fg_cmd_stats,	&fg_cmd_top,   &fg_cmd_events,
	&fg_cmd_config, &fg_cmd_run,	&fg_cmd_fleet,
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: floodgate [-j|--json] [-p|--pretty] [-v|--verbose] [--pin-dir DIR] "
		   "COMMAND ...\n\ncommands:\n");
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->help);
	fprintf(f,
		"\n`floodgate COMMAND --help` for a command's options. Pin directory: %s "
		"(--pin-dir; "
		"default %s)\n",
		fg_opts.pin_dir, FG_PIN_DIR_DEFAULT);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!fg_opts.verbose)
		return 0; /* libbpf's own messages only with -v: ours say what failed */
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "pin-dir", required_argument, NULL, FG_OPT_PIN_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	size_t i;
	int c;

	/* '+': options before the command only; ':': a missing value is ':', getopt prints nothing */
	while ((c = getopt_long(argc, argv, "+:jpvhV", opts, NULL)) != -1) {
		int common = fg_common_opt(c);

		if (common < 0)
			return FG_EXIT_USAGE;
		if (common)
			continue;
		switch (c) {
		case 'h':
			usage(stdout);
			return FG_EXIT_OK;
		case 'V':
			printf("floodgate %s (layout %d)\n", FG_VERSION, FG_LAYOUT_VERSION);
			return FG_EXIT_OK;
		default:
			fg_getopt_error("floodgate", c, argv);
			usage(stderr);
			return FG_EXIT_USAGE;
		}
	}
	libbpf_set_print(libbpf_print);
	if (optind >= argc) {
		usage(stderr);
		return FG_EXIT_USAGE;
	}
	for (i = 0; i < N_COMMANDS; i++) {
		if (strcmp(argv[optind], commands[i]->name))
			continue;
		argc -= optind;
		argv += optind;
		optind = 0; /* reset getopt for the command's own parsing */
		return fg_cmd_exec(commands[i], argc, argv);
	}
	error("unknown command '%s' (floodgate --help lists them)", argv[optind]);
	return FG_EXIT_USAGE;
}
