// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* lists.c: placeholder until the command is written. */
#include "fg.h"
#include "cmds.h"

int cmd_allow(int argc, char **argv)
{
	error("allow: not implemented yet");
	return FG_EXIT_ERR;
}

int cmd_deny(int argc, char **argv)
{
	error("deny: not implemented yet");
	return FG_EXIT_ERR;
}

int cmd_ban(int argc, char **argv)
{
	error("ban: not implemented yet");
	return FG_EXIT_ERR;
}
