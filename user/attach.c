// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* attach.c: placeholder until the command is written. */
#include "fg.h"
#include "cmds.h"

int cmd_attach(int argc, char **argv)
{
	error("attach: not implemented yet");
	return FG_EXIT_ERR;
}

int cmd_detach(int argc, char **argv)
{
	error("detach: not implemented yet");
	return FG_EXIT_ERR;
}

int cmd_status(int argc, char **argv)
{
	error("status: not implemented yet");
	return FG_EXIT_ERR;
}
