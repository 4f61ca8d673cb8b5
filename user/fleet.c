// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * fleet.c: what the daemon and the CLI share about the fleet: the fleet
 * section's values, the record on the wire (JSON, checked like any other
 * input), the secret file, the pinned fleet maps and the CLI's own
 * publishing for `ban add|del --fleet`. The daemon's side is fleet_run.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <hiredis/hiredis.h>
#include <json-c/json.h>

#include "util.h"
#include "maps.h"
#include "fleet.h"

#define FLEET_CLI_TIMEOUT_MS 2000 /* the CLI waits this long for Redis */

static const char *const publish_names[] = { "auto", "manual", "both", "none" };

static const char *const reject_names[FG_REJ_MAX] = {
	[FG_REJ_MALFORMED] = "malformed", [FG_REJ_VERSION] = "version",
	[FG_REJ_TOO_WIDE] = "too_wide",	  [FG_REJ_PAST] = "past",
	[FG_REJ_TOO_LONG] = "too_long",	  [FG_REJ_ALLOWED] = "allowed",
	[FG_REJ_FULL] = "full",
};

void fg_fleet_defaults(struct fg_fleet_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->ns, sizeof(c->ns), "%s", FG_FLEET_DEFAULT_NS);
	if (gethostname(c->node, sizeof(c->node)))
		snprintf(c->node, sizeof(c->node), "%s", "floodgate");
	c->node[sizeof(c->node) - 1] = '\0';
	c->publish = FG_PUB_AUTO;
	c->accept = true;
	c->min_prefix4 = 16;
	c->min_prefix6 = 32;
	c->max_bans = 100000;
	c->queue = FG_FLEET_QUEUE;
}

int fg_fleet_publish_parse(const char *s)
{
	unsigned int i;

	for (i = 0; i < sizeof(publish_names) / sizeof(publish_names[0]); i++)
		if (!strcmp(s, publish_names[i]))
			return i;
	return -1;
}

const char *fg_fleet_publish_name(__u8 p)
{
	return p < sizeof(publish_names) / sizeof(publish_names[0]) ? publish_names[p] : "?";
}

const char *fg_fleet_reject_name(unsigned int r)
{
	return r < FG_REJ_MAX ? reject_names[r] : "?";
}

int fg_fleet_parse_addr(const char *what, const char *s, char *host, size_t hlen, int *port,
			bool *unix_path)
{
	const char *colon;
	__u64 p;
	size_t n;

	*unix_path = false;
	*port = 0;
	if (!strncmp(s, "unix:", 5)) {
		if (s[5] != '/' || strlen(s + 5) >= hlen || strlen(s + 5) >= FG_FLEET_ADDR_MAX)
			return error("%s: '%s': unix:/PATH needs an absolute path of at most %d "
				     "bytes",
				     what, s, FG_FLEET_ADDR_MAX - 6),
			       -EINVAL;
		snprintf(host, hlen, "%s", s + 5);
		*unix_path = true;
		return 0;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return error("%s: '%s': an IPv6 address is written [ADDR]:PORT", what, s),
			       -EINVAL;
		n = close - s - 1;
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return error("%s: '%s': expected HOST:PORT, [V6]:PORT or unix:/PATH", what,
				     s),
			       -EINVAL;
		n = colon - s;
	}
	if (!n || n >= hlen)
		return error("%s: '%s': the host is empty or too long", what, s), -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (fg_parse_u64(what, colon + 1, 1, 65535, &p))
		return -EINVAL;
	*port = (int)p;
	return 0;
}

int fg_fleet_parse_name(const char *what, const char *s, size_t max, char *out)
{
	size_t n = strlen(s), i;

	if (!n || n >= max)
		return error("%s: '%s': 1 to %zu characters", what, s, max - 1), -EINVAL;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '.' && ch != '_' && ch != '-')
			return error("%s: '%s': only letters, digits, '.', '_' and '-'", what, s),
			       -EINVAL;
	}
	memcpy(out, s, n + 1);
	return 0;
}

int fg_fleet_secret(const char *what, const char *path, char *user, size_t ulen, char *pass,
		    size_t plen)
{
	char buf[512], *nl, *sp;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error("%s: %s: %s", what, path, strerror(errno)), -errno;
	if (fstat(fd, &st)) {
		close(fd);
		return error("%s: %s: %s", what, path, strerror(errno)), -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return error("%s: %s: not a regular file", what, path), -EINVAL;
	}
	if (st.st_mode & 077) {
		close(fd);
		return error("%s: %s: permissions %04o are too open: the secret must be readable "
			     "by its owner alone (chmod 600 %s)",
			     what, path, (unsigned int)(st.st_mode & 07777), path),
		       -EPERM;
	}
	if (!pass) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return error("%s: %s: %s", what, path, strerror(errno)), -errno;
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')))
		*nl = '\0';
	if (!buf[0])
		return error("%s: %s: empty (\"PASSWORD\" or \"USER PASSWORD\")", what, path),
		       -EINVAL;
	user[0] = '\0';
	sp = strchr(buf, ' ');
	if (sp) {
		*sp = '\0';
		snprintf(user, ulen, "%s", buf);
		snprintf(pass, plen, "%s", sp + 1);
	} else {
		snprintf(pass, plen, "%s", buf);
	}
	memset(buf, 0, sizeof(buf));
	return 0;
}

__u64 fg_fleet_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* Errors of util.c's parsers, silenced while a record is checked: the caller counts them. */
static void quiet(void *ctx, bool warn, const char *msg)
{
}

/*
 * A JSON integer field from 0 to 2^53 - 1, the integers every JSON reader
 * keeps exact (json-c parses 1e3 as a double: refused). json-c reads a
 * larger one as INT64_MAX without saying so: refused, not clamped.
 */
static bool get_u64(json_object *o, const char *key, __u64 *v)
{
	json_object *f;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &f) || !json_object_is_type(f, json_type_int))
		return false;
	errno = 0;
	x = json_object_get_int64(f);
	if (errno || x < 0 || x > FG_FLEET_INT_MAX)
		return false;
	*v = x;
	return true;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *f;

	if (!json_object_object_get_ex(o, key, &f) || !json_object_is_type(f, json_type_string))
		return NULL;
	return json_object_get_string(f);
}

int fg_fleet_rec_parse(const char *s, size_t len, const struct fg_fleet_cfg *c, __u64 now_ms,
		       struct fg_fleet_rec *r)
{
	struct json_tokener *tok;
	const char *op, *prefix, *origin;
	json_object *o = NULL;
	fg_report_fn old_fn;
	void *old_ctx;
	__u64 v;
	int ret = FG_REJ_MALFORMED + 1, bad;

	memset(r, 0, sizeof(*r));
	if (!len || len >= FG_FLEET_RECORD_MAX || memchr(s, '\0', len))
		return ret;
	tok = json_tokener_new_ex(4);
	if (!tok)
		return ret;
	o = json_tokener_parse_ex(tok, s, (int)len); /* len < FG_FLEET_RECORD_MAX */
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object))
		goto out;
	if (!get_u64(o, "v", &v))
		goto out;
	if (v != FG_FLEET_VERSION) {
		ret = FG_REJ_VERSION + 1;
		goto out;
	}
	op = get_str(o, "op");
	prefix = get_str(o, "prefix");
	origin = get_str(o, "origin");
	if (!op || !prefix || !origin || (strcmp(op, "ban") && strcmp(op, "del")))
		goto out;
	r->del = !strcmp(op, "del");
	fg_set_report(quiet, NULL, &old_fn, &old_ctx);
	bad = fg_parse_cidr("fleet", prefix, false, &r->cidr) ||
	      fg_fleet_parse_name("fleet", origin, sizeof(r->origin), r->origin);
	fg_set_report(old_fn, old_ctx, NULL, NULL);
	if (bad)
		goto out;
	if (!get_u64(o, "end", &r->end_ms) || !get_u64(o, "at", &r->at_ms))
		goto out;
	if (r->cidr.plen < (r->cidr.family == FG_FAM_IPV4 ? c->min_prefix4 : c->min_prefix6)) {
		ret = FG_REJ_TOO_WIDE + 1;
		goto out;
	}
	if (!r->del && r->end_ms <= now_ms) {
		ret = FG_REJ_PAST + 1;
		goto out;
	}
	if (!r->del && r->end_ms - now_ms > FG_FLEET_LONGEST_MS) {
		ret = FG_REJ_TOO_LONG + 1;
		goto out;
	}
	ret = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return ret;
}

char *fg_fleet_prefix(char *buf, size_t len, const struct fg_cidr *c)
{
	fg_format_cidr(buf, len, c->family, c->addr, c->plen);
	if (!strchr(buf, '/'))
		snprintf(buf + strlen(buf), len - strlen(buf), "/%u", c->plen);
	return buf;
}

int fg_fleet_rec_format(char *buf, size_t len, const struct fg_fleet_rec *r)
{
	char a[64];

	fg_fleet_prefix(a, sizeof(a), &r->cidr);
	return snprintf(
		buf, len,
		"{\"v\":%d,\"op\":\"%s\",\"prefix\":\"%s\",\"origin\":\"%s\",\"at\":%" PRIu64
		",\"end\":%" PRIu64 "}",
		FG_FLEET_VERSION, r->del ? "del" : "ban", a, r->origin, (uint64_t)r->at_ms,
		(uint64_t)r->end_ms);
}

/* --- the pinned fleet maps --- */

/* Type, key and value size of each pinned fleet map. */
static void map_layout(const char *name, enum bpf_map_type *type, __u32 *ksz, __u32 *vsz,
		       __u32 *entries)
{
	if (!strcmp(name, FG_FLEET_STATUS_MAP)) {
		*type = BPF_MAP_TYPE_ARRAY;
		*ksz = sizeof(__u32);
		*vsz = sizeof(struct fg_fleet_status);
		*entries = 1;
	} else if (!strcmp(name, FG_FLEET_MANUAL_MAP)) {
		*type = BPF_MAP_TYPE_QUEUE;
		*ksz = 0;
		*vsz = sizeof(struct fg_fleet_manual);
		*entries = FG_FLEET_MANUAL_MAX;
	} else {
		*type = BPF_MAP_TYPE_HASH;
		*ksz = sizeof(struct fg_ban_key);
		*vsz = sizeof(struct fg_fleet_ban);
		*entries = FG_FLEET_MAP_ENTRIES;
	}
}

int fg_fleet_map_open(const char *name, bool create)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info), ksz, vsz, entries;
	enum bpf_map_type type;
	char path[4096];
	int fd, err;

	if ((err = fg_pin_path(path, sizeof(path), name)))
		return err;
	map_layout(name, &type, &ksz, &vsz, &entries);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* a value of another size would be copied past our buffers */
		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) && info.type == type &&
		    info.key_size == ksz && info.value_size == vsz)
			return fd;
		close(fd);
		if (!create)
			return -EPROTO;
		if (unlink(path))
			return error("replace %s (another layout): %s", path, strerror(errno)),
			       -errno;
	} else if (!create) {
		return -errno;
	}
	if (type == BPF_MAP_TYPE_HASH)
		o.map_flags = BPF_F_NO_PREALLOC;
	fd = bpf_map_create(type, name, ksz, vsz, entries, &o);
	if (fd < 0)
		return error("create %s: %s", name, strerror(errno)), -errno;
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return error("pin %s: %s", path, strerror(-err)), err;
	}
	return fd;
}

void fg_fleet_manual_note(const struct fg_cidr *c, __u64 expires, __u64 at_ms, __u64 end_ms,
			  bool published)
{
	struct fg_fleet_manual v = { .key = { .family = c->family, .plen = c->plen },
				     .expires = expires,
				     .at_ms = at_ms,
				     .end_ms = end_ms,
				     .published = published };
	int fd = fg_fleet_map_open(FG_FLEET_MANUAL_MAP, false);

	if (fd < 0)
		return; /* no daemon with a fleet section ever ran here */
	memcpy(v.key.addr, c->addr, sizeof(v.key.addr));
	/* full (no daemon drains it): the daemon's once-a-second look finds the ban anyway */
	bpf_map_update_elem(fd, NULL, &v, BPF_ANY);
	close(fd);
}

bool fg_fleet_lookup(int fd, const struct fg_cidr *c, __u64 now, struct fg_fleet_ban *out)
{
	struct fg_ban_key k = { .family = c->family, .plen = c->plen };

	if (fd < 0)
		return false;
	memcpy(k.addr, c->addr, sizeof(k.addr));
	if (bpf_map_lookup_elem(fd, &k, out))
		return false;
	return out->expires > now;
}

int fg_fleet_status_read(struct fg_fleet_status *st)
{
	int fd = fg_fleet_map_open(FG_FLEET_STATUS_MAP, false);
	__u32 k = 0;
	int err = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &k, st))
		err = -errno;
	close(fd);
	if (!err && !st->cfg.enabled)
		err = -ENOENT;
	return err;
}

/* --- the CLI's publishing --- */

/* Connect to c's Redis and authenticate, waiting at most ms for each step. NULL after an error. */
redisContext *fg_fleet_connect(const struct fg_fleet_cfg *c, int ms, char *err, size_t elen)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	char host[FG_FLEET_ADDR_MAX], user[128], pass[384];
	redisContext *rc;
	redisReply *r;
	bool unix_path;
	int port;

	if (fg_fleet_parse_addr("fleet: redis", c->redis, host, sizeof(host), &port, &unix_path)) {
		snprintf(err, elen, "bad address %s", c->redis);
		return NULL;
	}
	rc = unix_path ? redisConnectUnixWithTimeout(host, tv)
		       : redisConnectWithTimeout(host, port, tv);
	if (!rc || rc->err) {
		snprintf(err, elen, "connect to %s: %s", c->redis, rc ? rc->errstr : "out of memory");
		redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	if (!c->password_file[0])
		return rc;
	if (fg_fleet_secret("fleet: password_file", c->password_file, user, sizeof(user), pass,
			    sizeof(pass))) {
		snprintf(err, elen, "password_file %s unusable (above)", c->password_file);
		redisFree(rc);
		return NULL;
	}
	r = user[0] ? redisCommand(rc, "AUTH %s %s", user, pass) : redisCommand(rc, "AUTH %s", pass);
	memset(pass, 0, sizeof(pass));
	if (!r || r->type == REDIS_REPLY_ERROR) {
		snprintf(err, elen, "authenticate to %s%s%s: %s", c->redis, user[0] ? " as " : "",
			 user, r ? r->str : rc->errstr);
		freeReplyObject(r);
		redisFree(rc);
		return NULL;
	}
	freeReplyObject(r);
	return rc;
}

int fg_fleet_cli_publish(const struct fg_fleet_cfg *c, const struct fg_cidr *cidr, __u64 end_ms,
			 bool del)
{
	struct fg_fleet_rec rec = { .del = del, .cidr = *cidr, .end_ms = end_ms };
	char msg[FG_FLEET_RECORD_MAX], key[128], a[64], err[512];
	redisContext *rc;
	redisReply *r1, *r2;
	__u64 now = fg_fleet_now_ms();
	int ret = 0;

	if (!c->enabled)
		return error("--fleet: the config has no fleet section (fleet: redis: HOST:PORT)"),
		       -EINVAL;
	snprintf(rec.origin, sizeof(rec.origin), "%s", c->node);
	rec.at_ms = now;
	fg_fleet_rec_format(msg, sizeof(msg), &rec);
	fg_fleet_prefix(a, sizeof(a), cidr);
	snprintf(key, sizeof(key), "%s:ban:%s", c->ns, a);
	rc = fg_fleet_connect(c, FLEET_CLI_TIMEOUT_MS, err, sizeof(err));
	if (!rc)
		return error("--fleet: %s", err), -EIO;
	if (del)
		redisAppendCommand(rc, "DEL %s", key);
	else
		redisAppendCommand(rc, "SET %s %s PX %llu", key, msg,
				   (unsigned long long)(end_ms > now ? end_ms - now : 1));
	redisAppendCommand(rc, "PUBLISH %s:bans %s", c->ns, msg);
	r1 = r2 = NULL;
	if (redisGetReply(rc, (void **)&r1) != REDIS_OK || redisGetReply(rc, (void **)&r2) != REDIS_OK)
		/* sent, unanswered: Redis may still carry it out */
		ret = rc->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
			      ? (error("--fleet: %s: no answer within %d ms", c->redis,
				       FLEET_CLI_TIMEOUT_MS),
				 -ETIMEDOUT)
			      : error("--fleet: %s: %s", c->redis, rc->errstr);
	else if (r1->type == REDIS_REPLY_ERROR || r2->type == REDIS_REPLY_ERROR)
		ret = error("--fleet: %s: %s", c->redis,
			    r1->type == REDIS_REPLY_ERROR ? r1->str : r2->str);
	freeReplyObject(r1);
	freeReplyObject(r2);
	redisFree(rc);
	return ret == -ETIMEDOUT ? ret : ret ? -EIO : 0;
}
