// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* stats.c: placeholder until the command is written. */
#include "fg.h"
#include "cmds.h"

int cmd_stats(int argc, char **argv)
{
	error("stats: not implemented yet");
	return FG_EXIT_ERR;
}

int cmd_top(int argc, char **argv)
{
	error("top: not implemented yet");
	return FG_EXIT_ERR;
}
