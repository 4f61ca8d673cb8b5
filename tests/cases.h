/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * cases.h: a cmocka test list built at run time, for the tests that make
 * one TAP test per row of a table (its name printed from the row) and add
 * a few fixed ones after it. cmocka's own cmocka_run_group_tests() wants
 * an array whose size the compiler knows, named by string literals.
 *
 *	struct cases c = { 0 };
 *
 *	for (i = 0; i < N_ROWS; i++)
 *		cases_add(&c, test_row, (void *)&rows[i], "parses '%s'", rows[i].in);
 *	cases_add(&c, test_other, NULL, "something else");
 *	return cases_run(&c, "group");
 */
#ifndef FG_TEST_CASES_H
#define FG_TEST_CASES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

/* The tests of one program, in the order they run. */
struct cases {
	struct CMUnitTest *v; /* the tests; each name is allocated here */
	size_t n;	      /* tests in v */
	size_t cap;	      /* tests v has room for */
	bool oom;	      /* an allocation failed: cases_run runs nothing */
};

/*
 * Append test fn, started with *state == state, named by the printf-style
 * fmt. An allocation that fails is remembered for cases_run to report.
 */
static inline void cases_add(struct cases *c, CMUnitTestFunction fn, void *state, const char *fmt,
			     ...) __attribute__((format(printf, 4, 5)));
static inline void cases_add(struct cases *c, CMUnitTestFunction fn, void *state, const char *fmt, ...)
{
	struct CMUnitTest *v;
	va_list ap;
	char *name;
	int len;

	if (c->oom)
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;

		v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->oom = true;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	name = len < 0 ? NULL : malloc(len + 1);
	if (!name) {
		c->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(name, len + 1, fmt, ap);
	va_end(ap);
	c->v[c->n++] = (struct CMUnitTest){ .name = name, .test_func = fn, .initial_state = state };
}

/*
 * Run the tests as the cmocka group `group`, then free them. Returns what
 * cmocka returns (the number of tests that failed), or 1 after a "not ok"
 * line when cases_add could not allocate.
 */
static inline int cases_run(struct cases *c, const char *group)
{
	int ret = 1;
	size_t i;

	if (c->oom)
		printf("not ok - %s: the test list: out of memory\n", group);
	else
		ret = _cmocka_run_group_tests(group, c->v, c->n, NULL, NULL);
	for (i = 0; i < c->n; i++)
		free((char *)c->v[i].name);
	free(c->v);
	*c = (struct cases){ 0 };
	return ret;
}

#endif /* FG_TEST_CASES_H */
