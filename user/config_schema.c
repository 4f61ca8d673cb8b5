// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * config_schema.c: the config file's shape as libcyaml reads and writes it: the y_*
 * structs of config_yaml.h, their schema (a rule's keys come from the
 * rule-field table, rule.h), and the sizes under tables:.
 */
#include <net/if.h>
#include <stddef.h>

#include "attach.h"
#include "maps.h"
#include "config.h"
#include "config_yaml.h"

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
/* Sections and lists may be left empty (`deny:` with every entry commented out). */
#define OPT_NULL     (CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL)
#define STR(k, s, m) CYAML_FIELD_STRING_PTR(k, OPT, s, m, 0, CYAML_UNLIMITED)

/* A rule's keys: `endpoint` (endpoints only), then the field table's (rule_schema()). */
static cyaml_schema_field_t default_fields[FG_RF_MAX + 1];
static cyaml_schema_field_t endpoint_fields[FG_RF_MAX + 2];

/* Fill the rule schemas from the field table, before main (and before any test) runs. */
__attribute__((constructor)) static void rule_schema(void)
{
	int i;

	endpoint_fields[0] = (cyaml_schema_field_t)STR("endpoint", struct y_rule, endpoint);
	for (i = 0; i < FG_RF_MAX; i++) {
		cyaml_schema_field_t f = STR("", struct y_rule, v[0]);

		f.key = fg_rule_fields[i].key;
		f.data_offset += i * sizeof(char *);
		default_fields[i] = f;
		endpoint_fields[i + 1] = f;
	}
}

static const cyaml_schema_value_t endpoint_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct y_rule, endpoint_fields),
};

static const cyaml_schema_value_t string_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_value_t ifname_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, IF_NAMESIZE - 1),
};

static const cyaml_schema_field_t policy_fields[] = {
	STR("forget_after", struct y_policy, forget_after),
	STR("events_per_second", struct y_policy, events_per_second),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t attack_fields[] = {
	STR("new_sources_per_second", struct y_attack, new_sources_per_second),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t tables_fields[] = {
	STR("sources", struct y_tables, sources),
	STR("bans", struct y_tables, bans),
	STR("lists", struct y_tables, lists),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t metrics_fields[] = {
	STR("listen", struct y_metrics, listen),
	STR("top_sources", struct y_metrics, top_sources),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t fleet_fields[] = {
	STR("redis", struct y_fleet, redis),
	STR("password_file", struct y_fleet, password_file),
	STR("node", struct y_fleet, node),
	STR("namespace", struct y_fleet, ns),
	STR("publish", struct y_fleet, publish),
	STR("accept", struct y_fleet, accept),
	STR("min_prefix4", struct y_fleet, min_prefix4),
	STR("min_prefix6", struct y_fleet, min_prefix6),
	STR("max_bans", struct y_fleet, max_bans),
	STR("queue", struct y_fleet, queue),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t file_fields[] = {
	CYAML_FIELD_SEQUENCE("interfaces", OPT_NULL, struct y_file, interfaces, &ifname_entry, 0,
			     FG_MAX_IFACES),
	CYAML_FIELD_MAPPING_PTR("default", OPT_NULL, struct y_file, def, default_fields),
	CYAML_FIELD_SEQUENCE("endpoints", OPT_NULL, struct y_file, endpoints, &endpoint_entry, 0,
			     FG_MAX_RULES - 1),
	CYAML_FIELD_SEQUENCE("allow", OPT_NULL, struct y_file, allow, &string_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("deny", OPT_NULL, struct y_file, deny, &string_entry, 0, CYAML_UNLIMITED),
	CYAML_FIELD_MAPPING_PTR("ban_policy", OPT_NULL, struct y_file, ban_policy, policy_fields),
	CYAML_FIELD_MAPPING_PTR("under_attack", OPT_NULL, struct y_file, under_attack, attack_fields),
	CYAML_FIELD_MAPPING_PTR("tables", OPT_NULL, struct y_file, tables, tables_fields),
	CYAML_FIELD_MAPPING_PTR("metrics", OPT_NULL, struct y_file, metrics, metrics_fields),
	CYAML_FIELD_MAPPING_PTR("fleet", OPT_NULL, struct y_file, fleet, fleet_fields),
	CYAML_FIELD_END,
};

const cyaml_schema_value_t cfg_file_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct y_file, file_fields),
};

/* Sizes under tables:, their ranges, and where they go. */
const struct cfg_table_key cfg_table_keys[CFG_TABLE_KEYS] = {
	{ "sources", offsetof(struct y_tables, sources), offsetof(struct fg_sizes, sources),
	  offsetof(struct fg_maps, sources), 1024, 1 << 26 },
	{ "bans", offsetof(struct y_tables, bans), offsetof(struct fg_sizes, bans),
	  offsetof(struct fg_maps, bans), 64, 1 << 24 },
	{ "lists", offsetof(struct y_tables, lists), offsetof(struct fg_sizes, lists),
	  offsetof(struct fg_maps, lists), 16, 1 << 24 },
};

void y_free(struct y_file *y)
{
	cyaml_config_t cfg = { .mem_fn = cyaml_mem, .log_level = CYAML_LOG_ERROR };

	if (y)
		cyaml_free(&cfg, &cfg_file_schema, y, 0);
}
