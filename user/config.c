// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* config.c: placeholder until the command is written. */
#include "fg.h"
#include "cmds.h"

int cmd_config(int argc, char **argv)
{
	error("config: not implemented yet");
	return FG_EXIT_ERR;
}
