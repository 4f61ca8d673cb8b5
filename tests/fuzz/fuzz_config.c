// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * fuzz_config.c: libFuzzer target for the YAML config parser and
 * validator, fg_config_load() in user/config_load.c.
 *
 * The input is the file: written to a memfd and loaded through
 * /proc/self/fd/N, the same path as a real file (fg_config_load takes a
 * path). Besides ASan, UBSan and LeakSanitizer (every load is freed),
 * checked: the result is a problem count, never -errno for a readable
 * file; a config reported valid really is (its rule set passes
 * fg_ruleset_check, its prefixes are canonical, its strings terminated,
 * its metrics address parses); and loading the same bytes twice gives
 * the same result, which catches reads of uninitialised memory.
 */
/* fuzz-requires: fg_config_load fg_config_free */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "ruleset.h"
#include "config.h"
#include "metrics.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			dprintf(2, "fuzz_config: %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
			dprintf(2, __VA_ARGS__);                                                   \
			dprintf(2, "\n");                                                          \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define CONFIG_MAX (64 << 10) /* bigger inputs only repeat what smaller ones reach */
#define HZ	   250

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!getenv("FUZZ_VERBOSE")) {
		FILE *null = fopen("/dev/null", "w");

		if (null)
			stderr = null; /* FILE:LINE:COL: error lines; fd 2 still reports */
	}
	memfd = memfd_create("fuzz_config.yaml", MFD_CLOEXEC);
	CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

static void check_cidrs(const char *list, const struct fg_cidr *v, size_t n)
{
	size_t i;

	CHECK(!n || v, "%s: %zu entries, no array", list, n);
	for (i = 0; i < n; i++) {
		struct fg_cidr again;
		char text[64];

		CHECK(v[i].family == FG_FAM_IPV4 || v[i].family == FG_FAM_IPV6,
		      "%s[%zu]: family %u", list, i, v[i].family);
		fg_format_cidr(text, sizeof(text), v[i].family, v[i].addr, v[i].plen);
		CHECK(!fg_parse_cidr("fuzz", text, true, &again) &&
			      !memcmp(&again, &v[i], sizeof(again)),
		      "%s[%zu]: %s is not canonical", list, i, text);
	}
}

/* A config reported valid must be usable as is. */
static void check_valid(const struct fg_file_config *c)
{
	int i;

	CHECK(c->rs, "valid config without a rule set");
	CHECK(!fg_ruleset_check(c->rs), "valid config, invalid rule set");
	CHECK(c->n_ifaces >= 0 && c->n_ifaces <= FG_MAX_IFACES, "%d interfaces", c->n_ifaces);
	for (i = 0; i < c->n_ifaces; i++)
		CHECK(c->ifaces[i][0] && memchr(c->ifaces[i], '\0', sizeof(c->ifaces[i])),
		      "interface %d: empty or not terminated", i);
	check_cidrs("allow", c->allow, c->n_allow);
	check_cidrs("deny", c->deny, c->n_deny);
	CHECK(memchr(c->metrics, '\0', sizeof(c->metrics)), "metrics address not terminated");
	if (c->metrics[0]) {
		struct sockaddr_storage ss;
		unsigned int sl;

		CHECK(!fg_parse_listen("fuzz", c->metrics, &ss, &sl), "metrics '%s' does not parse",
		      c->metrics);
	}
}

static int load(const uint8_t *data, size_t size, struct fg_file_config *c)
{
	CHECK(!ftruncate(memfd, 0), "ftruncate: %s", strerror(errno));
	CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite: %s", strerror(errno));
	memset(c, 0, sizeof(*c));
	return fg_config_load(path, HZ, c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fg_file_config a, b;
	int ra, rb;

	if (size > CONFIG_MAX)
		return 0;
	ra = load(data, size, &a);
	CHECK(ra >= 0, "a readable file gave %d (%s)", ra, strerror(-ra));
	if (ra == 0)
		check_valid(&a);

	rb = load(data, size, &b);
	CHECK(ra == rb, "same file, %d then %d problems", ra, rb);
	if (ra == 0) {
		CHECK(!memcmp(&a.rs->cfg, &b.rs->cfg, sizeof(a.rs->cfg)), "rule sets differ");
		CHECK(a.n_allow == b.n_allow && a.n_deny == b.n_deny && a.n_ifaces == b.n_ifaces,
		      "list sizes differ");
		CHECK(!a.n_allow || !memcmp(a.allow, b.allow, a.n_allow * sizeof(*a.allow)),
		      "allow lists differ");
		CHECK(!a.n_deny || !memcmp(a.deny, b.deny, a.n_deny * sizeof(*a.deny)),
		      "deny lists differ");
		CHECK(!memcmp(&a.sizes, &b.sizes, sizeof(a.sizes)) && !strcmp(a.metrics, b.metrics) &&
			      a.metrics_top == b.metrics_top && a.forget_after == b.forget_after,
		      "settings differ");
	}
	fg_config_free(&a);
	fg_config_free(&b);
	return 0;
}
