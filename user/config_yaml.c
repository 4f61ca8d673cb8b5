// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * config_yaml.c: steps 1 and 3 of loading a config file (config_yaml.h): the file
 * read and parsed by libyaml, syntax errors placed, libcyaml loading the
 * document (or its cleaned copy) into the y_* structs.
 */
#define _GNU_SOURCE /* open_memstream */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util.h"
#include "config_yaml.h"

/* "DIGITS" then `after` at s: the number and the position past `after`, or NULL. */
static const char *scan_uint(const char *s, const char *after, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return NULL; /* strtoul would also take spaces and a sign */
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || v > UINT_MAX || strncmp(end, after, strlen(after)))
		return NULL;
	*out = v;
	return end + strlen(after);
}

/* libcyaml's log: keep its first error and the position of the first backtrace line. */
static void cy_log(cyaml_log_t level, void *ctx, const char *fmt, va_list ap)
{
	struct cfg_load *l = ctx;
	unsigned int line, col;
	char buf[512], *p;
	const char *at;

	if (level < CYAML_LOG_ERROR)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	p = buf;
	if (!strncmp(p, "Load: ", 6))
		p += 6;
	if (!l->cy_msg[0]) {
		snprintf(l->cy_msg, sizeof(l->cy_msg), "%.*s", (int)sizeof(l->cy_msg) - 1, p);
		return;
	}
	at = strstr(p, "(line: ");
	if (!l->cy_line && at && (at = scan_uint(at + 7, ", column: ", &line)) &&
	    scan_uint(at, ")", &col)) {
		l->cy_line = line;
		l->cy_col = col;
	}
}

/* ---- steps 1 to 3: from bytes to the y_file ------------------------------ */

/*
 * The file to read, opened without waiting: a FIFO nobody writes to would
 * block open() for good, and once open reads as empty instead (a pipe with
 * a writer, as /dev/stdin, reads as it should). A directory is named.
 */
static FILE *open_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), err;
	struct stat sb;
	FILE *f;

	if (fd < 0)
		return error("config %s: %s", path, strerror(errno)), NULL;
	if (fstat(fd, &sb) || fcntl(fd, F_SETFL, 0)) {
		err = errno;
		close(fd);
		return error("config %s: %s", path, strerror(err)), NULL;
	}
	if (S_ISDIR(sb.st_mode)) {
		close(fd);
		error("config %s: a directory, not a file", path);
		errno = EISDIR;
		return NULL;
	}
	f = fdopen(fd, "rb");
	if (!f) {
		err = errno;
		close(fd);
		return error("config %s: %s", path, strerror(err)), NULL;
	}
	return f;
}

static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = open_file(path);
	size_t cap = 4096, n = 0;
	char *b = NULL, *nb;
	int err = 0;

	if (!f)
		return -errno; /* error() keeps errno */
	for (;;) {
		nb = realloc(b, cap + 1);
		if (!nb) {
			err = -ENOMEM;
			error("config %s: out of memory", path);
			break;
		}
		b = nb;
		n += fread(b + n, 1, cap - n, f);
		if (n < cap) {
			if (ferror(f)) {
				err = -EIO;
				error("config %s: read: %s", path, strerror(errno));
			}
			break;
		}
		if (cap >= CFG_FILE_MAX) {
			err = -EFBIG;
			error("config %s: larger than %d MiB", path, CFG_FILE_MAX >> 20);
			break;
		}
		cap *= 2;
	}
	fclose(f);
	if (err) {
		free(b);
		return err;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static void parser_problem(struct cfg_load *l, yaml_parser_t *p, const char *buf, size_t len)
{
	const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->mark;
	const char *problem = p->problem ?: "YAML syntax error", *hint;

	if (p->error == YAML_READER_ERROR) { /* bad bytes: libyaml gives only the offset */
		unsigned int line = 1, col = 1;
		size_t i;

		for (i = 0; i < p->problem_offset && i < len; i++, col++)
			if (buf[i] == '\n') {
				line++;
				col = 0;
			}
		cfg_diag_at(l, line, col, false, "%s (byte offset %zu)", problem, p->problem_offset);
		return;
	}
	hint = m->index < len && buf[m->index] == '\t' ? " (a tab: YAML indents with spaces only)"
						       : "";
	if (p->context && p->context_mark.line != m->line)
		cfg_diag_at(l, m->line + 1, m->column + 1, false, "%s %s started on line %zu%s",
			    problem, p->context, p->context_mark.line + 1, hint);
	else if (p->context)
		cfg_diag_at(l, m->line + 1, m->column + 1, false, "%s %s%s", problem, p->context,
			    hint);
	else
		cfg_diag_at(l, m->line + 1, m->column + 1, false, "%s%s", problem, hint);
}

/*
 * Steps 1-3. *out is the loaded file, NULL for an empty one (or when
 * nothing could be loaded: then l->errors says why). Returns 0 or -errno
 * when the file cannot be read at all.
 */
/*
 * Step 1: buf parsed into l->doc (syntax problems and a second document
 * reported); *root is its root node, NULL when there is none or no tree.
 * 0, or -ENOMEM when libyaml cannot start.
 */
static int parse_doc(struct cfg_load *l, const char *buf, size_t len, yaml_node_t **rootp)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_node_t *root = NULL;

	*rootp = NULL;
	if (!yaml_parser_initialize(&parser))
		return error("config %s: cannot set up the YAML parser", l->path), -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &l->doc)) {
		parser_problem(l, &parser, buf, len);
		goto out;
	}
	l->have_doc = true;
	root = yaml_document_get_root_node(&l->doc);
	/* libcyaml reads one document: a second one would be silently ignored */
	if (root && !yaml_parser_load(&parser, &extra)) {
		parser_problem(l, &parser, buf, len);
	} else if (root) {
		yaml_node_t *r2 = yaml_document_get_root_node(&extra);

		if (r2)
			cfg_diag(l, r2, false, "only one YAML document per file (remove '---')");
		yaml_document_delete(&extra);
	}
out:
	yaml_parser_delete(&parser);
	*rootp = root;
	return 0;
}

/*
 * Step 3: libcyaml loads buf, or the cleaned copy when the walk found
 * problems, into *out. 0 or -ENOMEM.
 */
static int cyaml_load(struct cfg_load *l, yaml_node_t *root, const char *buf, size_t len,
		      struct y_file **out)
{
	cyaml_config_t cfg = {
		.log_fn = cy_log,
		.log_ctx = l,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
	};
	char *clean = NULL;
	size_t clean_len = 0;
	cyaml_err_t cerr;
	FILE *f;

	if (l->sanitize) {
		f = open_memstream(&clean, &clean_len);
		if (!f)
			return -ENOMEM;
		cfg_emit(l, f, root, &cfg_file_schema);
		fclose(f);
		buf = clean;
		len = clean_len;
	}
	cerr = cyaml_load_data((const uint8_t *)buf, len, &cfg, &cfg_file_schema,
			       (cyaml_data_t **)out, NULL);
	if (cerr != CYAML_OK) {
		*out = NULL;
		if (l->sanitize) /* positions in the cleaned copy mean nothing: the walk's stand */
			cfg_diag(l, root, false, "the rest of the file could not be checked: %s",
				 l->cy_msg[0] ? l->cy_msg : cyaml_strerror(cerr));
		else
			cfg_diag_at(l, l->cy_line, l->cy_col, false, "%s",
				    l->cy_msg[0] ? l->cy_msg : cyaml_strerror(cerr));
	}
	free(clean);
	return 0;
}

int cfg_load_yaml(struct cfg_load *l, struct y_file **out)
{
	yaml_node_t *root;
	char *buf = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	if ((err = read_file(l->path, &buf, &len)))
		return err;
	if ((err = parse_doc(l, buf, len, &root)))
		goto out;
	if (!root || y_is_null(root))
		goto out; /* an empty file (every built-in default), or no tree */
	l->n_nodes = l->doc.nodes.top - l->doc.nodes.start;
	l->bad = calloc(l->n_nodes, 1);
	if (!l->bad) {
		err = -ENOMEM;
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		cfg_bad(l, root, "expected KEY: VALUE lines at the top of the file, got %s",
			y_kind_name(root));
		goto out;
	}
	cfg_walk(l, root, &cfg_file_schema, "");
	if (l->errors && !l->sanitize)
		goto out; /* a second document: nothing more to check */
	err = cyaml_load(l, root, buf, len, out);
out:
	free(buf);
	return err;
}
