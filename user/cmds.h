/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * cmds.h: the commands of `floodgate`, one struct fg_cmd each (cli.h),
 * listed in the command table of main.c.
 */
#ifndef FG_CMDS_H
#define FG_CMDS_H

#include "cli.h"

extern const struct fg_cmd fg_cmd_attach; /* attach.c */
extern const struct fg_cmd fg_cmd_detach; /* attach.c */
extern const struct fg_cmd fg_cmd_status; /* attach.c */
extern const struct fg_cmd fg_cmd_limit;  /* limit.c */
extern const struct fg_cmd fg_cmd_allow;  /* lists_cmd.c */
extern const struct fg_cmd fg_cmd_deny;	  /* lists_cmd.c */
extern const struct fg_cmd fg_cmd_ban;	  /* lists_cmd.c */
extern const struct fg_cmd fg_cmd_stats;  /* stats.c */
extern const struct fg_cmd fg_cmd_top;	  /* stats.c */
extern const struct fg_cmd fg_cmd_events; /* events.c */
extern const struct fg_cmd fg_cmd_config; /* config_cmd.c */
extern const struct fg_cmd fg_cmd_run;	  /* run.c */
extern const struct fg_cmd fg_cmd_fleet;  /* fleet_cmd.c */

#endif /* FG_CMDS_H */
