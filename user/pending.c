// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * pending.c: weak stand-ins for functions whose real versions are being
 * written in their own files; the real (strong) definitions replace them
 * at link time. Deleted once every one has landed.
 */
#include <errno.h>
#include <string.h>

#include "fg.h"

__attribute__((weak)) int fg_config_load(const char *path, __u64 hz, struct fg_file_config *out)
{
	memset(out, 0, sizeof(*out));
	return error("config %s: config files are not supported by this build yet", path), 1;
}

__attribute__((weak)) void fg_config_free(struct fg_file_config *c)
{
}

__attribute__((weak)) int fg_config_apply(const struct fg_maps *m, struct fg_file_config *c)
{
	return -EOPNOTSUPP;
}
