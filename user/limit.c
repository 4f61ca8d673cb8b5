// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* limit.c: placeholder until the command is written. */
#include "fg.h"
#include "cmds.h"

int cmd_limit(int argc, char **argv)
{
	error("limit: not implemented yet");
	return FG_EXIT_ERR;
}
