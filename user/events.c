// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* events.c: placeholder until the command is written. */
#include "fg.h"
#include "cmds.h"

int cmd_events(int argc, char **argv)
{
	error("events: not implemented yet");
	return FG_EXIT_ERR;
}
