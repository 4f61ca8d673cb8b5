// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* run.c: placeholder until the command is written. */
#include "fg.h"
#include "cmds.h"

int cmd_run(int argc, char **argv)
{
	error("run: not implemented yet");
	return FG_EXIT_ERR;
}
