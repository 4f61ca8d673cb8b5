// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * bans.c: the automatic bans (fg_bans) the data path makes: reading them,
 * looking one up, lifting one (with a manual ban of the same prefix), and
 * forgetting the strikes of bans that ended long ago.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "util.h"
#include "maps.h"
#include "lists.h"
#include "bans.h"

/* Every automatic ban, read into arrays: what bans_load collects. */
struct ban_set {
	struct fg_ban_key *keys; /* keys */
	struct fg_ban *vals;	 /* values */
	size_t n, cap;		 /* used, allocated */
};

static int bans_chunk(const void *keys, const void *vals, __u32 n, void *ctx)
{
	struct ban_set *b = ctx;

	if (b->n + n > b->cap) {
		size_t cap = 2 * (b->n + n);
		struct fg_ban_key *k = realloc(b->keys, cap * sizeof(*k));
		struct fg_ban *v;

		if (!k)
			return -ENOMEM;
		b->keys = k;
		v = realloc(b->vals, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->vals = v;
		b->cap = cap;
	}
	memcpy(b->keys + b->n, keys, n * sizeof(*b->keys));
	memcpy(b->vals + b->n, vals, n * sizeof(*b->vals));
	b->n += n;
	return 0;
}

/* Every entry of fg_bans; free() *keys and *vals whatever it returns. 0 or -errno after an error. */
int fg_bans_read(const struct fg_maps *m, struct fg_ban_key **keys, struct fg_ban **vals, size_t *n)
{
	struct ban_set b = {};
	int err = fg_map_walk(m->bans, sizeof(struct fg_ban_key), sizeof(struct fg_ban), bans_chunk,
			      &b);

	*keys = b.keys;
	*vals = b.vals;
	*n = b.n;
	if (err)
		error("read fg_bans: %s", strerror(-err));
	return err;
}

/* fg_bans_forget's walk: bans ended more than `forget` ticks before `now` go. */
struct forget {
	const struct fg_maps *m; /* the maps */
	__u64 now, forget;	 /* the current tick, and how long strikes are kept */
	int gone;		 /* entries deleted */
	bool reported;		 /* the error was reported already */
};

static int forget_chunk(const void *keys, const void *vals, __u32 n, void *ctx)
{
	const struct fg_ban_key *k = keys;
	const struct fg_ban *v = vals;
	struct forget *f = ctx;
	__u32 i;

	for (i = 0; i < n; i++) {
		/* ended, and longer ago than `forget`: the strikes go too */
		if (v[i].expires >= f->now || f->now - v[i].expires <= f->forget)
			continue;
		if (bpf_map_delete_elem(f->m->bans, &k[i]) && errno != ENOENT) {
			f->reported = true;
			return error("delete from fg_bans: %s", strerror(errno)), -errno;
		}
		f->gone++;
	}
	return 0;
}

int fg_bans_forget(const struct fg_maps *m, __u64 now, __u64 forget)
{
	struct forget f = { .m = m, .now = now, .forget = forget };
	int err = fg_map_walk(m->bans, sizeof(struct fg_ban_key), sizeof(struct fg_ban),
			      forget_chunk, &f);

	if (err < 0 && !f.reported)
		error("read fg_bans: %s", strerror(-err));
	return err < 0 ? err : f.gone;
}

__u64 fg_ban_expiry(const struct fg_maps *m, __u8 family, __u8 plen, const __u8 *addr)
{
	struct fg_ban_key k = { .family = family, .plen = plen };
	struct fg_ban b;

	memcpy(k.addr, addr, sizeof(k.addr));
	if (bpf_map_lookup_elem(m->bans, &k, &b))
		return 0;
	return b.expires;
}

int fg_ban_del(const struct fg_maps *m, const struct fg_cidr *c)
{
	struct fg_ban_key bk = { .family = c->family, .plen = c->plen };
	struct fg_list_entry *v = NULL;
	struct fg_ban b;
	size_t n = 0, i;
	bool manual = false, automatic;
	char a[64];
	int err;

	fg_format_cidr(a, sizeof(a), c->family, c->addr, c->plen);
	memcpy(bk.addr, c->addr, sizeof(bk.addr));
	if ((err = fg_list_read(m, &v, &n)))
		return err;
	for (i = 0; i < n; i++) {
		if (v[i].cidr.family != c->family || v[i].cidr.plen != c->plen ||
		    memcmp(v[i].cidr.addr, c->addr, sizeof(c->addr)))
			continue;
		if (v[i].kind != FG_LIST_BAN) {
			__u8 kind = v[i].kind;

			free(v);
			return error("ban del: %s: on the %s list, not banned (%s del %s)", a,
				     fg_list_kind_name(kind), fg_list_kind_name(kind), a),
			       -ENOENT;
		}
		manual = true;
	}
	free(v);
	automatic = !bpf_map_lookup_elem(m->bans, &bk, &b);
	if (!manual && !automatic)
		return error("ban del: %s: not banned (floodgate ban list shows the bans and their "
			     "prefixes)",
			     a),
		       -ENOENT;
	if (manual && (err = fg_list_del(m, c, FG_LIST_BAN)))
		return err;
	if (automatic && bpf_map_delete_elem(m->bans, &bk) && errno != ENOENT) {
		err = -errno;
		error("ban del: %s: delete from fg_bans: %s", a, strerror(-err));
	}
	/* buckets cache their ban state until ban_gen moves */
	__atomic_fetch_add(&m->st->ban_gen, 1, __ATOMIC_RELEASE);
	return err;
}
