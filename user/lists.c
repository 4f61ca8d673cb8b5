// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * lists.c: allow, deny and manual-ban prefixes (the fg_lists trie), the
 * automatic bans' housekeeping (fg_bans), and the `allow`, `deny` and
 * `ban` commands.
 *
 * The data path does one longest-prefix lookup, so every trie entry
 * carries the verdict of the whole chain of prefixes covering it (allow >
 * deny > ban). Each change loads the trie (a few thousand entries is
 * typical), recomputes every verdict in one sorted pass, and writes only
 * what changed: deletions first, then the new prefixes, then the entries
 * whose verdict moved. Each trie update is atomic for a lookup, so a
 * packet sees the old or the new value of an entry, never a mix.
 * fg_state.lists4/lists6 count the entries per family (the data path skips
 * the lookup at 0): incremented after an insert, decremented before a
 * delete. The list filter in front of the trie (fg_lfilter) admits the
 * entries before and after a change while it is written.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "fg.h"
#include "cmds.h"

/* What a change does to an entry. */
enum lent_op {
	LENT_KEEP = 0, /* in the trie and stays */
	LENT_NEW,      /* to be inserted */
	LENT_DEL,      /* to be deleted */
	LENT_GONE,     /* not in the trie (an insert failed): ignored */
};

/* A trie entry in memory. */
struct lent {
	struct fg_lpm_key key;	 /* trie key */
	struct fg_list_val val;	 /* value in the trie now (zero for a new entry) */
	struct fg_list_val want; /* recomputed value */
	__u64 own_expires;	 /* FG_LIST_BAN: when this prefix's own ban ends, 0 never */
	__u64 chain_until;	 /* latest end of the bans on the chain down to here */
	bool chain_ban;		 /* some prefix on the chain is a manual ban */
	bool chain_forever;	 /* some ban on the chain never ends */
	__u8 op;		 /* enum lent_op */
};

/* Trie of loaded entries plus room for more. */
struct lset {
	struct lent *v; /* entries */
	size_t n;	/* used */
	size_t cap;	/* allocated */
};

static const char *kind_name(__u8 kind)
{
	switch (kind) {
	case FG_LIST_ALLOW:
		return "allow";
	case FG_LIST_DENY:
		return "deny";
	case FG_LIST_BAN:
		return "ban";
	}
	return "no";
}

static void cidr_to_key(const struct fg_cidr *c, struct fg_lpm_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = FG_LPM_HDR_BITS + c->plen;
	k->family = c->family;
	memcpy(k->addr, c->addr, sizeof(k->addr));
}

static void key_to_cidr(const struct fg_lpm_key *k, struct fg_cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = k->family;
	c->plen = k->prefixlen - FG_LPM_HDR_BITS;
	memcpy(c->addr, k->addr, sizeof(c->addr));
}

static char *key_str(char *buf, size_t len, const struct fg_lpm_key *k)
{
	return fg_format_cidr(buf, len, k->family, k->addr, k->prefixlen - FG_LPM_HDR_BITS);
}

static struct lent *lset_push(struct lset *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct lent *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[0]));
	return &s->v[s->n++];
}

/* fg_lists' size; the default when it cannot be read. */
static unsigned int lists_capacity(const struct fg_maps *m)
{
	return fg_map_capacity(m->lists) ?: FG_DEF_LIST;
}

/* Load every trie entry. Returns 0 or -errno after an error line. */
static int lists_load(const struct fg_maps *m, struct lset *s)
{
	struct fg_lpm_key cur, next;
	void *prev = NULL;
	size_t limit = 2 * (size_t)lists_capacity(m) + 16;
	struct lent *e;

	memset(s, 0, sizeof(*s));
	for (;;) {
		if (bpf_map_get_next_key(m->lists, prev, &next)) {
			if (errno == ENOENT)
				return 0; /* that was the last key */
			return error("read fg_lists: %s", strerror(errno)), -errno;
		}
		if (s->n >= limit) /* never loop forever on a changing trie */
			return error("read fg_lists: more entries than the table holds"), -EIO;
		e = lset_push(s);
		if (!e)
			return error("read fg_lists: out of memory"), -ENOMEM;
		e->key = next;
		if (bpf_map_lookup_elem(m->lists, &next, &e->val)) {
			s->n--;
			if (errno != ENOENT)
				return error("read fg_lists: %s", strerror(errno)), -errno;
		} else if (e->val.kind == FG_LIST_BAN) {
			e->own_expires = e->val.own_expires;
		}
		cur = next;
		prev = &cur;
	}
}

static struct lent *lset_find(struct lset *s, const struct fg_lpm_key *k)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].op != LENT_GONE && !memcmp(&s->v[i].key, k, sizeof(*k)))
			return &s->v[i];
	return NULL;
}

/* Family, then address, then shorter prefixes first: a covering prefix sorts before what it covers. */
static int lent_cmp(const void *pa, const void *pb)
{
	const struct lent *a = pa, *b = pb;
	int d;

	if (a->key.family != b->key.family)
		return a->key.family - b->key.family;
	d = memcmp(a->key.addr, b->key.addr, sizeof(a->key.addr));
	if (d)
		return d;
	return (a->key.prefixlen > b->key.prefixlen) - (a->key.prefixlen < b->key.prefixlen);
}

/* Whether prefix p covers prefix q (q equal to or inside p). */
static bool covers(const struct fg_lpm_key *p, const struct fg_lpm_key *q)
{
	unsigned int bits = p->prefixlen - FG_LPM_HDR_BITS, full = bits / 8, rest = bits % 8;

	if (p->family != q->family || p->prefixlen > q->prefixlen)
		return false;
	if (memcmp(p->addr, q->addr, full))
		return false;
	return !rest || !((p->addr[full] ^ q->addr[full]) & (0xff00 >> rest));
}

static bool present(const struct lent *e)
{
	return e->op == LENT_KEEP || e->op == LENT_NEW;
}

/*
 * Sort and recompute every present entry's value. Sorted, the prefixes
 * covering an entry are exactly the stack of open prefixes before it
 * (prefixes nest or are disjoint), so one pass does it.
 */
static void lists_verdicts(struct lset *s)
{
	struct lent *stack[136]; /* a chain has at most 129 distinct prefix lengths */
	size_t depth = 0, i;

	if (s->n)
		qsort(s->v, s->n, sizeof(s->v[0]), lent_cmp);
	for (i = 0; i < s->n; i++) {
		struct lent *e = &s->v[i], *up;
		__u8 kind = e->val.kind;

		if (!present(e))
			continue;
		while (depth && !covers(&stack[depth - 1]->key, &e->key))
			depth--;
		up = depth ? stack[depth - 1] : NULL;
		e->chain_ban = (up && up->chain_ban) || kind == FG_LIST_BAN;
		e->chain_forever = (up && up->chain_forever) ||
				   (kind == FG_LIST_BAN && !e->own_expires);
		e->chain_until = up ? up->chain_until : 0;
		if (kind == FG_LIST_BAN && e->own_expires > e->chain_until)
			e->chain_until = e->own_expires;
		memset(&e->want, 0, sizeof(e->want));
		e->want.kind = kind;
		e->want.verdict = up && up->want.verdict > kind ? up->want.verdict : kind;
		if (e->want.verdict == FG_LIST_BAN)
			e->want.expires = e->chain_forever ? 0 : e->chain_until;
		if (kind == FG_LIST_BAN)
			e->want.own_expires = e->own_expires;
		if (depth < sizeof(stack) / sizeof(stack[0]))
			stack[depth++] = e;
	}
}

static __u32 *family_count(const struct fg_maps *m, __u8 family)
{
	return family == FG_FAM_IPV4 ? &m->st->lists4 : &m->st->lists6;
}

/*
 * Make the list filter (floodgate.h) of the entries of s live: during a
 * change every entry the trie holds before or after it, after the change
 * only what it holds. The idle slot is filled, then fg_state.lf_slot
 * flips to it.
 */
static int lfilter_publish(const struct fg_maps *m, const struct lset *s, bool during)
{
	struct fg_lfilter *f = calloc(2, sizeof(*f));
	unsigned int shortest[2] = { 129, 129 };
	__u32 slot, idx, fam, bit;
	__u64 w[2];
	size_t i;
	int err = 0;

	if (!f)
		return -ENOMEM;
	for (i = 0; i < s->n; i++) {
		const struct lent *e = &s->v[i];

		if (during ? e->op == LENT_GONE : e->op != LENT_KEEP)
			continue;
		fam = e->key.family == FG_FAM_IPV6;
		if (e->key.prefixlen - FG_LPM_HDR_BITS < shortest[fam])
			shortest[fam] = e->key.prefixlen - FG_LPM_HDR_BITS;
	}
	for (fam = 0; fam < 2; fam++)
		if (shortest[fam] <= 128)
			fg_netmask((__be32 *)f[fam].mask, shortest[fam]);
	for (i = 0; i < s->n; i++) {
		const struct lent *e = &s->v[i];

		if (during ? e->op == LENT_GONE : e->op != LENT_KEEP)
			continue;
		fam = e->key.family == FG_FAM_IPV6;
		memcpy(w, e->key.addr, sizeof(w));
		bit = fg_lf_bit(w[0] & f[fam].mask[0], w[1] & f[fam].mask[1]);
		f[fam].bits[bit / 64] |= 1ULL << (bit % 64);
	}
	slot = !(__atomic_load_n(&m->st->lf_slot, __ATOMIC_ACQUIRE) & 1);
	/* packets that read the slot number before the last flip may still read this slot */
	err = fg_sync(m);
	for (fam = 0; fam < 2 && !err; fam++) {
		idx = slot * 2 + fam;
		if (bpf_map_update_elem(m->lfilter, &idx, &f[fam], BPF_ANY))
			err = -errno;
	}
	free(f);
	if (err)
		return error("write fg_lfilter: %s", strerror(-err)), err;
	__atomic_store_n(&m->st->lf_slot, slot, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Write the changes of s to the trie: deletions, insertions, then changed
 * values. A failed insert is dropped from s and the verdicts recomputed
 * without it, so the trie stays consistent; the error is returned.
 */
static int lists_write(const struct fg_maps *m, struct lset *s)
{
	char a[64];
	__u32 n4 = 0, n6 = 0;
	size_t i, added = 0, removed = 0;
	int err = 0, ferr = 0;

	lists_verdicts(s);
	for (i = 0; i < s->n; i++) {
		added += s->v[i].op == LENT_NEW;
		removed += s->v[i].op == LENT_DEL;
	}
	/* the live filter covers every entry there is: only new ones need a wider one first */
	if (added && (err = lfilter_publish(m, s, true)))
		return err; /* nothing written yet */
	for (i = 0; i < s->n; i++) {
		struct lent *e = &s->v[i];

		if (e->op != LENT_DEL)
			continue;
		__atomic_fetch_sub(family_count(m, e->key.family), 1, __ATOMIC_RELEASE);
		if (bpf_map_delete_elem(m->lists, &e->key) && errno != ENOENT) {
			err = -errno;
			__atomic_fetch_add(family_count(m, e->key.family), 1, __ATOMIC_RELEASE);
			error("delete %s from fg_lists: %s", key_str(a, sizeof(a), &e->key),
			      strerror(-err));
			e->op = LENT_KEEP; /* still there */
			lists_verdicts(s);
			continue;
		}
		e->op = LENT_GONE;
	}
	for (i = 0; i < s->n; i++) {
		struct lent *e = &s->v[i];

		if (e->op != LENT_NEW)
			continue;
		if (err || bpf_map_update_elem(m->lists, &e->key, &e->want, BPF_NOEXIST)) {
			if (!err) {
				err = -errno;
				if (err == -ENOSPC || err == -E2BIG || err == -ENOMEM)
					error("%s: the list table is full (%u prefixes; raise "
					      "tables.lists in the config)",
					      key_str(a, sizeof(a), &e->key), lists_capacity(m));
				else
					error("add %s to fg_lists: %s",
					      key_str(a, sizeof(a), &e->key), strerror(-err));
			}
			e->op = LENT_GONE;
			continue;
		}
		__atomic_fetch_add(family_count(m, e->key.family), 1, __ATOMIC_RELEASE);
		e->val = e->want;
		e->op = LENT_KEEP;
	}
	if (err)
		lists_verdicts(s); /* without what could not be inserted */
	for (i = 0; i < s->n; i++) {
		struct lent *e = &s->v[i];

		if (e->op != LENT_KEEP)
			continue;
		e->key.family == FG_FAM_IPV4 ? n4++ : n6++;
		if (!memcmp(&e->want, &e->val, sizeof(e->val)))
			continue;
		if (bpf_map_update_elem(m->lists, &e->key, &e->want, BPF_EXIST)) {
			if (!err)
				err = -errno;
			error("update %s in fg_lists: %s", key_str(a, sizeof(a), &e->key),
			      strerror(errno));
			continue;
		}
		e->val = e->want;
	}
	/* the counts follow the trie even if an earlier run died between insert and count */
	if (__atomic_load_n(&m->st->lists4, __ATOMIC_ACQUIRE) != n4)
		__atomic_store_n(&m->st->lists4, n4, __ATOMIC_RELEASE);
	if (__atomic_load_n(&m->st->lists6, __ATOMIC_ACQUIRE) != n6)
		__atomic_store_n(&m->st->lists6, n6, __ATOMIC_RELEASE);
	/* entries gone stay in the live filter (a wasted lookup, never a missed one) if this fails */
	if (added || removed)
		ferr = lfilter_publish(m, s, false);
	return err ? err : ferr;
}

static int writable(const struct fg_maps *m)
{
	if (!m->writable || !m->st)
		return error("fg_lists: maps opened read-only"), -EPERM;
	return 0;
}

int fg_list_add(const struct fg_maps *m, const struct fg_cidr *c, __u8 kind, __u64 expires)
{
	struct fg_lpm_key k;
	struct lset s = { 0 };
	struct lent *e;
	char a[64];
	int err;

	if (kind < FG_LIST_BAN || kind > FG_LIST_ALLOW)
		return error("fg_list_add: unknown list kind %u", kind), -EINVAL;
	if ((err = writable(m)) || (err = lists_load(m, &s)))
		goto out;
	cidr_to_key(c, &k);
	key_str(a, sizeof(a), &k);
	e = lset_find(&s, &k);
	if (e && e->val.kind && e->val.kind != kind) {
		err = -EEXIST;
		error("%s: already on the %s list, cannot be on the %s list too (%s del %s first)",
		      a, kind_name(e->val.kind), kind_name(kind), kind_name(e->val.kind), a);
		goto out;
	}
	if (e && e->val.kind == kind && (kind != FG_LIST_BAN || e->own_expires == expires))
		goto out; /* already there: adding is idempotent */
	if (!e) {
		e = lset_push(&s);
		if (!e) {
			err = -ENOMEM;
			goto out;
		}
		e->key = k;
		e->op = LENT_NEW;
	}
	e->val.kind = kind; /* the kind is what lists_verdicts reads */
	e->own_expires = kind == FG_LIST_BAN ? expires : 0;
	err = lists_write(m, &s);
out:
	free(s.v);
	return err;
}

int fg_list_del(const struct fg_maps *m, const struct fg_cidr *c, __u8 kind)
{
	struct fg_lpm_key k;
	struct lset s = { 0 };
	struct lent *e;
	char a[64];
	int err;

	if ((err = writable(m)) || (err = lists_load(m, &s)))
		goto out;
	cidr_to_key(c, &k);
	key_str(a, sizeof(a), &k);
	e = lset_find(&s, &k);
	if (!e || !e->val.kind) {
		err = -ENOENT;
		error("%s: not on the %s list", a, kind_name(kind));
		goto out;
	}
	if (e->val.kind != kind) {
		err = -ENOENT;
		error("%s: on the %s list, not the %s list (%s del %s)", a, kind_name(e->val.kind),
		      kind_name(kind), kind_name(e->val.kind), a);
		goto out;
	}
	e->op = LENT_DEL;
	err = lists_write(m, &s);
out:
	free(s.v);
	return err;
}

int fg_list_read(const struct fg_maps *m, struct fg_list_entry **out, size_t *n)
{
	struct fg_list_entry *v;
	struct lset s = { 0 };
	size_t i;
	int err;

	*out = NULL;
	*n = 0;
	if ((err = lists_load(m, &s)))
		goto out;
	if (s.n)
		qsort(s.v, s.n, sizeof(s.v[0]), lent_cmp);
	v = calloc(s.n ? s.n : 1, sizeof(*v));
	if (!v) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s.n; i++) {
		if (!s.v[i].val.kind)
			continue;
		key_to_cidr(&s.v[i].key, &v[*n].cidr);
		v[*n].kind = s.v[i].val.kind;
		v[*n].expires = s.v[i].own_expires;
		(*n)++;
	}
	*out = v;
out:
	free(s.v);
	return err;
}

int fg_list_replace(const struct fg_maps *m, __u8 kind, const struct fg_cidr *v, size_t n)
{
	struct fg_lpm_key k;
	struct lset s = { 0 };
	size_t i, after = 0;
	int err, bad = 0;
	char a[64];

	if (kind < FG_LIST_BAN || kind > FG_LIST_ALLOW)
		return error("fg_list_replace: unknown list kind %u", kind), -EINVAL;
	if ((err = writable(m)) || (err = lists_load(m, &s)))
		goto out;
	for (i = 0; i < s.n; i++)
		if (s.v[i].val.kind == kind)
			s.v[i].op = LENT_DEL; /* unless v names it again */
	for (i = 0; i < n; i++) {
		struct lent *e;

		cidr_to_key(&v[i], &k);
		e = lset_find(&s, &k);
		if (e && e->val.kind && e->val.kind != kind) {
			bad += !!error("%s: on the %s list, cannot be on the %s list too",
				       key_str(a, sizeof(a), &k), kind_name(e->val.kind),
				       kind_name(kind));
			continue;
		}
		if (e) {
			if (e->op == LENT_DEL)
				e->op = LENT_KEEP;
			e->val.kind = kind;
			continue;
		}
		e = lset_push(&s);
		if (!e) {
			err = -ENOMEM;
			goto out;
		}
		e->key = k;
		e->val.kind = kind;
		e->op = LENT_NEW;
	}
	if (bad) {
		err = -EEXIST;
		goto out;
	}
	for (i = 0; i < s.n; i++)
		after += present(&s.v[i]);
	if (after > lists_capacity(m)) {
		err = -ENOSPC;
		error("%s list: %zu prefixes in all would not fit the list table (%u; raise "
		      "tables.lists)",
		      kind_name(kind), after, lists_capacity(m));
		goto out;
	}
	err = lists_write(m, &s);
out:
	free(s.v);
	return err;
}

int fg_lists_expire(const struct fg_maps *m, __u64 now)
{
	struct lset s = { 0 };
	size_t i;
	int err, n = 0;

	if ((err = writable(m)) || (err = lists_load(m, &s)))
		goto out;
	for (i = 0; i < s.n; i++) {
		struct lent *e = &s.v[i];

		if (e->val.kind == FG_LIST_BAN && e->own_expires && e->own_expires <= now) {
			e->op = LENT_DEL;
			n++;
		}
	}
	if (n)
		err = lists_write(m, &s);
out:
	free(s.v);
	return err ? err : n;
}

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
static int bans_load(const struct fg_maps *m, struct fg_ban_key **keys, struct fg_ban **vals,
		     size_t *n)
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

/* The commands. */

/* Warn when a stronger covering prefix decides for c instead of its own list. */
static void warn_covered(const struct fg_maps *m, const struct fg_cidr *c, __u8 kind)
{
	struct fg_lpm_key k;
	struct fg_list_val val;
	char a[64];

	cidr_to_key(c, &k);
	if (bpf_map_lookup_elem(m->lists, &k, &val) || val.verdict == kind)
		return;
	warning("%s: inside a %s prefix, which wins over %s: no effect while that is listed",
		fg_format_cidr(a, sizeof(a), c->family, c->addr, c->plen), kind_name(val.verdict),
		kind_name(kind));
}

/* The help text of allow and deny after the usage lines; allow says what allow does. */
static void list_usage(FILE *f, bool allow)
{
	fprintf(f,
		"%s\n"
		"CIDR is ADDR/LEN or a bare ADDR (one host), IPv4 or IPv6, with no host bits set\n"
		"(10.1.0.0/16, 2001:db8::/32). A prefix is on one list at most (allow, deny or\n"
		"ban); where prefixes nest, allow wins over deny and deny over ban, whichever is\n"
		"longer. Adding a listed prefix again changes nothing. Changes apply to the next\n"
		"packet. list -j: an array of objects with \"address\" and \"in_force\" (false\n"
		"when a covering prefix of a stronger list decides instead).\n",
		allow ? "Sources in an allowed prefix pass without any limit, counted as "
			"\"allowed\"."
		      : "Sources in a denied prefix are dropped, counted as \"denied\".");
}

static void allow_usage(FILE *f)
{
	list_usage(f, true);
}

static void deny_usage(FILE *f)
{
	list_usage(f, false);
}

/* The list a command edits: allow or deny. */
static __u8 list_kind(const struct fg_args *a)
{
	return !strcmp(a->cmd->name, "allow") ? FG_LIST_ALLOW : FG_LIST_DENY;
}

/* One entry of `allow list -j`: in force when the trie's verdict at its prefix is its own kind. */
static json_object *list_entry_json(const struct fg_maps *m, const struct fg_list_entry *e)
{
	json_object *o = json_object_new_object();
	struct fg_list_val val;
	struct fg_lpm_key k;
	char a[64];

	cidr_to_key(&e->cidr, &k);
	json_object_object_add(o, "address",
			       json_object_new_string(fg_format_cidr(a, sizeof(a), e->cidr.family,
								     e->cidr.addr, e->cidr.plen)));
	json_object_object_add(o, "in_force",
			       json_object_new_boolean(!bpf_map_lookup_elem(m->lists, &k, &val) &&
						       val.verdict == e->kind));
	return o;
}

/* One line of `allow list`: covered when another list decides for its prefix. */
static void list_entry_line(const struct fg_maps *m, const struct fg_list_entry *e)
{
	struct fg_list_val val;
	struct fg_lpm_key k;
	char a[64];

	cidr_to_key(&e->cidr, &k);
	fg_format_cidr(a, sizeof(a), e->cidr.family, e->cidr.addr, e->cidr.plen);
	if (!bpf_map_lookup_elem(m->lists, &k, &val) && val.verdict != e->kind)
		printf("%s (covered by a %s prefix)\n", a, kind_name(val.verdict));
	else
		printf("%s\n", a);
}

/* `floodgate allow|deny list`. */
static int list_list(const struct fg_args *a)
{
	struct fg_list_entry *v = NULL;
	json_object *ja = NULL;
	__u8 kind = list_kind(a);
	int ret = FG_EXIT_ERR;
	struct fg_maps m;
	size_t n = 0, i;

	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	if (fg_list_read(&m, &v, &n))
		goto out;
	if (fg_opts.json)
		ja = json_object_new_array();
	for (i = 0; i < n; i++) {
		if (v[i].kind != kind)
			continue;
		if (ja)
			json_object_array_add(ja, list_entry_json(&m, &v[i]));
		else
			list_entry_line(&m, &v[i]);
	}
	if (ja)
		fg_print_json(ja, 0);
	ret = FG_EXIT_OK;
out:
	free(v);
	fg_maps_close(&m);
	return ret;
}

/* `floodgate allow|deny add|del CIDR`. */
static int list_edit(const struct fg_args *a)
{
	bool add = !strcmp(a->sub->name, "add");
	__u8 kind = list_kind(a);
	int ret = FG_EXIT_ERR;
	struct fg_cidr cidr;
	struct fg_maps m;
	char what[32];

	snprintf(what, sizeof(what), "%s %s", a->cmd->name, a->sub->name);
	if (fg_parse_cidr(what, a->pos[0], true, &cidr))
		return FG_EXIT_ERR;
	if (fg_maps_open(&m, true))
		return FG_EXIT_ERR;
	if (fg_maps_lock(&m))
		goto out;
	if (add ? fg_list_add(&m, &cidr, kind, 0) : fg_list_del(&m, &cidr, kind))
		goto out;
	if (add)
		warn_covered(&m, &cidr, kind);
	ret = FG_EXIT_OK;
out:
	fg_maps_close(&m);
	return ret;
}

static const struct fg_sub list_subs[] = {
	{ "add", "CIDR", 1, list_edit },
	{ "del", "CIDR", 1, list_edit },
	{ "list", NULL, 0, list_list },
	{},
};

const struct fg_cmd fg_cmd_allow = {
	.name = "allow",
	.subs = list_subs,
	.usage = allow_usage,
	.help = "allow add|del|list CIDR: never limited",
};

const struct fg_cmd fg_cmd_deny = {
	.name = "deny",
	.subs = list_subs,
	.usage = deny_usage,
	.help = "deny add|del|list CIDR: always dropped",
};

static void ban_usage(FILE *f)
{
	fprintf(f,
		"add: drop everything from ADDR/LEN (a bare ADDR bans that host) for DURATION\n"
		"     (30s, 5m, 2h, 1d; default 1h). Banning a banned prefix again sets its new\n"
		"     end. Allowed and denied prefixes cannot be banned (allow and deny win over\n"
		"     ban where prefixes nest).\n"
		"del: lift the manual or automatic ban of exactly that prefix; an automatic\n"
		"     ban's strike count is forgotten too. Automatic bans are keyed at the\n"
		"     rule's source prefix (by default /32 and /64): `ban list` shows them.\n"
		"list: manual and automatic bans in force, with seconds left; --all adds ended\n"
		"     automatic bans still remembered for their strikes. With -j: an array of\n"
		"     objects with \"address\" (CIDR for prefixes), \"kind\" (manual or\n"
		"     automatic), \"expires_in\" (seconds, null for never), \"strikes\" and\n"
		"     \"endpoint\" (the rule that banned, null for manual bans).\n");
}

/* A row of `ban list`. */
struct ban_row {
	struct fg_cidr cidr; /* banned prefix */
	bool manual;	     /* from the trie, else from fg_bans */
	bool forever;	     /* manual ban without an end */
	__u64 left;	     /* seconds left, rounded up */
	__u32 strikes;	     /* automatic: strike count */
	int rule;	     /* automatic: rule index that banned */
};

static int ban_row_cmp(const void *pa, const void *pb)
{
	const struct ban_row *a = pa, *b = pb;
	int d;

	if (a->cidr.family != b->cidr.family)
		return a->cidr.family - b->cidr.family;
	d = memcmp(a->cidr.addr, b->cidr.addr, sizeof(a->cidr.addr));
	if (d)
		return d;
	if (a->cidr.plen != b->cidr.plen)
		return a->cidr.plen - b->cidr.plen;
	return b->manual - a->manual;
}

static __u64 ticks_left(__u64 until, __u64 now, __u64 hz)
{
	return until > now ? (until - now + hz - 1) / hz : 0;
}

/* The endpoint of the rule that made an automatic ban, from the live rule set. */
static int ban_list(const struct fg_maps *m, bool all)
{
	struct fg_ruleset *rs = calloc(1, sizeof(*rs));
	struct fg_list_entry *v = NULL;
	struct fg_ban_key *keys = NULL;
	struct fg_ban *vals = NULL;
	struct ban_row *rows = NULL;
	size_t n = 0, nb = 0, nr = 0, i;
	__u64 now, hz = fg_hz(m);
	int ret = FG_EXIT_ERR;
	char a[64], ep[32];

	if (!rs || fg_now(m, &now) || fg_ruleset_read(m, rs) || fg_list_read(m, &v, &n) ||
	    bans_load(m, &keys, &vals, &nb))
		goto out;
	rows = calloc(n + nb + 1, sizeof(*rows));
	if (!rows)
		goto out;
	for (i = 0; i < n; i++) {
		if (v[i].kind != FG_LIST_BAN || (v[i].expires && v[i].expires <= now))
			continue;
		rows[nr] = (struct ban_row){ .cidr = v[i].cidr, .manual = true, .rule = -1 };
		rows[nr].forever = !v[i].expires;
		rows[nr].left = ticks_left(v[i].expires, now, hz);
		nr++;
	}
	for (i = 0; i < nb; i++) {
		struct ban_row *r = &rows[nr];

		if (!all && vals[i].expires <= now)
			continue;
		memset(r, 0, sizeof(*r));
		r->cidr.family = keys[i].family;
		r->cidr.plen = keys[i].plen;
		memcpy(r->cidr.addr, keys[i].addr, sizeof(r->cidr.addr));
		r->left = ticks_left(vals[i].expires, now, hz);
		r->strikes = vals[i].strikes;
		r->rule = vals[i].rule;
		nr++;
	}
	qsort(rows, nr, sizeof(*rows), ban_row_cmp);
	for (i = 0; i < nr; i++) {
		const struct ban_row *r = &rows[i];

		fg_format_cidr(a, sizeof(a), r->cidr.family, r->cidr.addr, r->cidr.plen);
		if (r->manual)
			snprintf(ep, sizeof(ep), "-");
		else
			fg_rule_label(ep, sizeof(ep), &rs->cfg, r->rule);
		if (!fg_opts.json) {
			char left[32], strikes[16];

			if (i == 0)
				printf("%-40s %-9s %10s %7s  %s\n", "ADDRESS", "KIND", "EXPIRES_IN",
				       "STRIKES", "ENDPOINT");
			if (r->forever)
				snprintf(left, sizeof(left), "never");
			else
				snprintf(left, sizeof(left), "%" PRIu64 "s", (uint64_t)r->left);
			if (r->manual)
				snprintf(strikes, sizeof(strikes), "-");
			else
				snprintf(strikes, sizeof(strikes), "%u", r->strikes);
			printf("%-40s %-9s %10s %7s  %s\n", a, r->manual ? "manual" : "automatic",
			       left, strikes, ep);
		}
	}
	if (fg_opts.json) {
		json_object *ja = json_object_new_array();

		for (i = 0; i < nr; i++) {
			const struct ban_row *r = &rows[i];
			json_object *o = json_object_new_object();

			fg_format_cidr(a, sizeof(a), r->cidr.family, r->cidr.addr, r->cidr.plen);
			json_object_object_add(o, "address", json_object_new_string(a));
			json_object_object_add(
				o, "kind",
				json_object_new_string(r->manual ? "manual" : "automatic"));
			json_object_object_add(o, "expires_in",
					       r->forever ? NULL : json_object_new_int64(r->left));
			json_object_object_add(o, "strikes", json_object_new_int64(r->strikes));
			if (r->manual) {
				json_object_object_add(o, "endpoint", NULL);
			} else {
				fg_rule_label(ep, sizeof(ep), &rs->cfg, r->rule);
				json_object_object_add(o, "endpoint", json_object_new_string(ep));
			}
			json_object_array_add(ja, o);
		}
		fg_print_json(ja, 0);
	}
	ret = FG_EXIT_OK;
out:
	free(rs);
	free(v);
	free(keys);
	free(vals);
	free(rows);
	return ret;
}

static int ban_del(const struct fg_maps *m, const struct fg_cidr *c)
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
				     kind_name(kind), kind_name(kind), a),
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

enum { BAN_FOR, BAN_ALL };

static const struct fg_opt ban_opts[] = {
	[BAN_FOR] = { "for", 0, "DURATION", "add" },
	[BAN_ALL] = { "all", 0, NULL, "list" },
	{},
};

static int ban_list_run(const struct fg_args *a)
{
	struct fg_maps m;
	int ret;

	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	ret = ban_list(&m, a->opt[BAN_ALL]);
	fg_maps_close(&m);
	return ret;
}

/* `ban add|del ADDR[/LEN]`. */
static int ban_edit(const struct fg_args *a)
{
	const char *sub = a->sub->name, *dur = a->opt[BAN_FOR];
	__u64 secs = 3600, now;
	int ret = FG_EXIT_ERR;
	struct fg_cidr cidr;
	struct fg_maps m;

	if (dur && fg_parse_duration("ban add --for", dur, &secs))
		return FG_EXIT_ERR;
	if (fg_parse_cidr(!strcmp(sub, "add") ? "ban add" : "ban del", a->pos[0], true, &cidr))
		return FG_EXIT_ERR;
	if (fg_maps_open(&m, true))
		return FG_EXIT_ERR;
	if (fg_maps_lock(&m) || fg_now(&m, &now))
		goto out;
	if (!strcmp(sub, "add")) {
		if (fg_list_add(&m, &cidr, FG_LIST_BAN, now + secs * fg_hz(&m)))
			goto out;
		warn_covered(&m, &cidr, FG_LIST_BAN);
	} else if (ban_del(&m, &cidr)) {
		goto out;
	}
	/* housekeeping: manual bans that ended no longer need a trie entry */
	fg_lists_expire(&m, now);
	ret = FG_EXIT_OK;
out:
	fg_maps_close(&m);
	return ret;
}

static const struct fg_sub ban_subs[] = {
	{ "add", "ADDR[/LEN]", 1, ban_edit },
	{ "del", "ADDR[/LEN]", 1, ban_edit },
	{ "list", NULL, 0, ban_list_run },
	{},
};

const struct fg_cmd fg_cmd_ban = {
	.name = "ban",
	.opts = ban_opts,
	.subs = ban_subs,
	.usage = ban_usage,
	.help = "ban add|del|list ADDR[/LEN] [--for DURATION]",
};
