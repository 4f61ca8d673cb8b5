// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * config_cmd.c: `floodgate config check|apply|dump`.
 */
#include <stdio.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <json-c/json.h>

#include "util.h"
#include "maps.h"
#include "config.h"
#include "cli.h"
#include "cmds.h"

#include "config_yaml.h"

static int config_dump(void)
{
	cyaml_config_t cfg = {
		.log_fn = cyaml_log,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_STYLE_BLOCK,
	};
	struct y_file *y = NULL;
	struct fg_maps m;
	char *text = NULL;
	size_t len = 0;
	int err;

	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	err = cfg_dump_build(&m, &y);
	fg_maps_close(&m);
	if (err) {
		if (err == -ENOMEM)
			error("config dump: out of memory");
		return FG_EXIT_ERR;
	}
	if (fg_opts.json) {
		fg_print_json(cfg_to_json(y, &cfg_file_schema), 0);
	} else if (cyaml_save_data(&text, &len, &cfg, &cfg_file_schema, y, 0) != CYAML_OK) {
		err = error("config dump: could not write YAML");
	} else {
		printf("# floodgate config dump of %s (floodgate config apply accepts it)\n",
		       fg_opts.pin_dir);
		if (fwrite(text, 1, len, stdout) != len)
			err = error("config dump: write: %s", strerror(errno));
		cyaml_mem(NULL, text, 0);
	}
	/* a dump cut short (full disk, closed pipe) must not look like a whole one */
	if (!err && (fflush(stdout) || ferror(stdout)))
		err = error("config dump: write: %s", strerror(errno));
	y_free(y);
	return err ? FG_EXIT_ERR : FG_EXIT_OK;
}

/* ---- config check, config apply --------------------------------------------------------- */

static void check_json(const struct fg_diags *d, const char *path, int err)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t i;

	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(o, "valid", json_object_new_boolean(!err && !d->errors));
	for (i = 0; i < d->n; i++) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "line", json_object_new_int(d->v[i].line));
		json_object_object_add(j, "column", json_object_new_int(d->v[i].col));
		json_object_object_add(j, "severity",
				       json_object_new_string(d->v[i].warn ? "warning" : "error"));
		json_object_object_add(j, "message",
				       json_object_new_string(d->v[i].msg ?: "out of memory"));
		json_object_array_add(a, j);
	}
	json_object_object_add(o, "problems", a);
	fg_print_json(o, 0);
}

static int config_check(const char *path)
{
	struct fg_file_config c;
	struct fg_diags d;
	bool invalid;
	int err;

	err = fg_config_check(path, CFG_CHECK_HZ, &c, &d);
	if (fg_opts.json)
		check_json(&d, path, err);
	else
		cfg_diag_print(path, &d);
	invalid = err || d.errors;
	if (!invalid && !fg_opts.json)
		printf("%s: ok\n", path);
	fg_diags_free(&d);
	fg_config_free(&c);
	return invalid ? FG_EXIT_ERR : FG_EXIT_OK;
}

/* What `config apply` leaves alone, said once so nobody expects otherwise. */
static void apply_warnings(const struct fg_maps *m, const struct fg_file_config *c, const char *path)
{
	char ifs[64][IF_NAMESIZE];
	int n = fg_attached_ifaces(ifs, 64), i, j;

	for (i = 0; i < c->n_ifaces; i++) {
		for (j = 0; j < n && strcmp(ifs[j], c->ifaces[i]); j++)
			;
		if (j == n)
			warning("%s: interfaces: %s is not attached (config apply attaches "
				"nothing: "
				"floodgate attach %s --config %s)",
				path, c->ifaces[i], c->ifaces[i], path);
	}
	for (j = 0; c->n_ifaces && j < n; j++) {
		for (i = 0; i < c->n_ifaces && strcmp(ifs[j], c->ifaces[i]); i++)
			;
		if (i == c->n_ifaces)
			warning("%s: interfaces: %s is attached but not listed (it stays attached)",
				path, ifs[j]);
	}
	fg_config_warn_sizes(m, &c->sizes, path);
}

static int config_apply(const char *path)
{
	struct fg_file_config c = {};
	struct fg_maps m;
	size_t rules = 0;
	int err, i;

	if (fg_maps_open(&m, true))
		return FG_EXIT_ERR;
	err = fg_config_load(path, fg_hz(&m), &c);
	if (err) {
		fg_maps_close(&m);
		return FG_EXIT_ERR; /* problems printed; nothing changed */
	}
	apply_warnings(&m, &c, path);
	for (i = 1; i < FG_MAX_RULES; i++)
		rules += c.rs->cfg.rules[i].used;
	err = fg_maps_lock(&m) ?: fg_config_apply(&m, &c);
	fg_maps_close(&m);
	if (!err && fg_opts.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "applied", json_object_new_string(path));
		json_object_object_add(o, "endpoints", json_object_new_int64(rules));
		json_object_object_add(o, "allow", json_object_new_int64(c.n_allow));
		json_object_object_add(o, "deny", json_object_new_int64(c.n_deny));
		fg_print_json(o, 0);
	} else if (!err) {
		printf("applied %s: default rule, %zu endpoint rules, %zu allow, %zu deny\n", path,
		       rules, c.n_allow, c.n_deny);
	}
	fg_config_free(&c);
	return err ? FG_EXIT_ERR : FG_EXIT_OK;
}

static void config_usage(FILE *f)
{
	fprintf(f,
		"check  validate FILE: one FILE:LINE:COL: error: ... line per problem (exit 1),\n"
		"       else FILE: ok. -j: {\"file\", \"valid\", \"problems\": [{\"line\",\n"
		"       \"column\", \"severity\", \"message\"}]}.\n"
		"apply  validate FILE fully, then replace the allow and deny lists and swap the\n"
		"       whole rule set (default rule, endpoints, ban events per second, under-\n"
		"       attack threshold) in one step; nothing changes when FILE has a problem.\n"
		"       interfaces, tables, metrics and ban_policy.forget_after are read by\n"
		"       attach --config and run: apply warns when interfaces or tables differ\n"
		"       from the live ones. Manual bans are left alone.\n"
		"dump   print the live rules, lists and table sizes as a config file that apply\n"
		"       accepts (applying it changes nothing). -j: the same as JSON.\n"
		"\n"
		"Every key of the file, with comments: floodgate.example.yaml.\n");
}

static int check_run(const struct fg_args *a)
{
	return config_check(a->pos[0]);
}

static int apply_run(const struct fg_args *a)
{
	return config_apply(a->pos[0]);
}

static int dump_run(const struct fg_args *a)
{
	return config_dump();
}

static const struct fg_sub config_subs[] = {
	{ "check", "FILE", 1, check_run },
	{ "apply", "FILE", 1, apply_run },
	{ "dump", NULL, 0, dump_run },
	{},
};

const struct fg_cmd fg_cmd_config = {
	.name = "config",
	.subs = config_subs,
	.usage = config_usage,
	.help = "config check|apply FILE, config dump",
};
