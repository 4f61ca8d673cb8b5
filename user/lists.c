// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * lists.c: allow, deny and manual-ban prefixes: the fg_lists trie.
 * The automatic bans are bans.c; the `allow`, `deny` and `ban` commands
 * lists_cmd.c.
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
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "util.h"
#include "maps.h"
#include "lists.h"

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
	struct lent *v;	  /* entries */
	size_t n;	  /* used */
	size_t cap;	  /* allocated */
	const char *what; /* the change, first in its messages: "deny add", "allow list" */
};

const char *fg_list_kind_name(__u8 kind)
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

	*s = (struct lset){ .what = s->what };
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
		return error("%s: write fg_lfilter: %s", s->what, strerror(-err)), err;
	__atomic_store_n(&m->st->lf_slot, slot, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Write the changes of s to the trie: deletions, insertions, then changed
 * values. A failed insert is dropped from s and the verdicts recomputed
 * without it, so the trie stays consistent; the error is returned.
 */
/* Deletions first (counted down before, so the data path never skips a present entry). */
static int lists_delete(const struct fg_maps *m, struct lset *s)
{
	char a[64];
	int err = 0;
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct lent *e = &s->v[i];

		if (e->op != LENT_DEL)
			continue;
		__atomic_fetch_sub(family_count(m, e->key.family), 1, __ATOMIC_RELEASE);
		if (bpf_map_delete_elem(m->lists, &e->key) && errno != ENOENT) {
			err = -errno;
			__atomic_fetch_add(family_count(m, e->key.family), 1, __ATOMIC_RELEASE);
			error("%s: delete %s from fg_lists: %s", s->what,
			      key_str(a, sizeof(a), &e->key), strerror(-err));
			e->op = LENT_KEEP; /* still there */
			lists_verdicts(s);
			continue;
		}
		e->op = LENT_GONE;
	}
	return err;
}

/* Then the new prefixes (after the first failure the rest are left out); 0 or the first error. */
static int lists_insert(const struct fg_maps *m, struct lset *s, int err)
{
	char a[64];
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct lent *e = &s->v[i];

		if (e->op != LENT_NEW)
			continue;
		if (err || bpf_map_update_elem(m->lists, &e->key, &e->want, BPF_NOEXIST)) {
			if (!err) {
				err = -errno;
				if (err == -ENOSPC || err == -E2BIG || err == -ENOMEM)
					error("%s: %s: the list table is full (%u prefixes; raise "
					      "tables.lists in the config)",
					      s->what, key_str(a, sizeof(a), &e->key),
					      lists_capacity(m));
				else
					error("%s: add %s to fg_lists: %s", s->what,
					      key_str(a, sizeof(a), &e->key), strerror(-err));
			}
			e->op = LENT_GONE;
			continue;
		}
		__atomic_fetch_add(family_count(m, e->key.family), 1, __ATOMIC_RELEASE);
		e->val = e->want;
		e->op = LENT_KEEP;
	}
	return err;
}

static int lists_write(const struct fg_maps *m, struct lset *s)
{
	char a[64];
	__u32 n4 = 0, n6 = 0;
	__u8 plen4 = 0, plen6 = 0, plen;
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
	err = lists_delete(m, s);
	err = lists_insert(m, s, err);
	if (err)
		lists_verdicts(s); /* without what could not be inserted */
	for (i = 0; i < s->n; i++) {
		struct lent *e = &s->v[i];

		if (e->op != LENT_KEEP)
			continue;
		plen = (__u8)(e->key.prefixlen - FG_LPM_HDR_BITS);
		if (e->key.family == FG_FAM_IPV4) {
			n4++;
			plen4 = plen > plen4 ? plen : plen4;
		} else {
			n6++;
			plen6 = plen > plen6 ? plen : plen6;
		}
		if (!memcmp(&e->want, &e->val, sizeof(e->val)))
			continue;
		if (bpf_map_update_elem(m->lists, &e->key, &e->want, BPF_EXIST)) {
			if (!err)
				err = -errno;
			error("%s: update %s in fg_lists: %s", s->what,
			      key_str(a, sizeof(a), &e->key), strerror(errno));
			continue;
		}
		e->val = e->want;
	}
	/* the counts follow the trie even if an earlier run died between insert and count */
	if (__atomic_load_n(&m->st->lists4, __ATOMIC_ACQUIRE) != n4)
		__atomic_store_n(&m->st->lists4, n4, __ATOMIC_RELEASE);
	if (__atomic_load_n(&m->st->lists6, __ATOMIC_ACQUIRE) != n6)
		__atomic_store_n(&m->st->lists6, n6, __ATOMIC_RELEASE);
	/* before the generation: the verdict caches it voids hold no bucket shorter */
	__atomic_store_n(&m->st->list_plen4, plen4, __ATOMIC_RELEASE);
	__atomic_store_n(&m->st->list_plen6, plen6, __ATOMIC_RELEASE);
	/* the verdict caches hold drops of sources the lists let through: void them */
	__atomic_fetch_add(&m->st->list_gen, 1, __ATOMIC_RELEASE);
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

/* The entry of key k in s: sorted[0..n_sorted) by lent_cmp, the rest in any order; NULL none. */
static struct lent *lset_lookup(struct lset *s, size_t n_sorted, const struct fg_lpm_key *k)
{
	struct lent probe = { .key = *k }, *e;
	size_t i;

	e = n_sorted ? bsearch(&probe, s->v, n_sorted, sizeof(s->v[0]), lent_cmp) : NULL;
	for (i = n_sorted; !e && i < s->n; i++)
		if (!memcmp(&s->v[i].key, k, sizeof(*k)))
			e = &s->v[i];
	return e;
}

/* Whether e is on a list now (in the trie or to be inserted, with a kind). */
static bool listed(const struct lent *e)
{
	return e && present(e) && e->val.kind;
}

/* Change c on s in memory: 1 a change, 0 none (already so), -errno after an error line. */
static int lset_change(struct lset *s, size_t n_sorted, const struct fg_list_change *c)
{
	const char *kind = fg_list_kind_name(c->kind);
	struct fg_lpm_key k;
	struct lent *e;
	char a[64];

	cidr_to_key(&c->cidr, &k);
	key_str(a, sizeof(a), &k);
	e = lset_lookup(s, n_sorted, &k);
	if (c->del) {
		if (!listed(e))
			return error("%s: %s: not on the %s list", s->what, a, kind), -ENOENT;
		if (e->val.kind != c->kind) {
			const char *on = fg_list_kind_name(e->val.kind);

			return error("%s: %s: on the %s list, not the %s list (%s del %s)", s->what,
				     a, on, kind, on, a),
			       -ENOENT;
		}
		e->op = e->op == LENT_NEW ? LENT_GONE : LENT_DEL;
		return 1;
	}
	if (listed(e) && e->val.kind != c->kind) {
		const char *on = fg_list_kind_name(e->val.kind);

		return error("%s: %s: already on the %s list, cannot be on the %s list too (%s "
			     "del %s first)",
			     s->what, a, on, kind, on, a),
		       -EEXIST;
	}
	if (listed(e) && (c->kind != FG_LIST_BAN || e->own_expires == c->expires))
		return 0; /* already there: adding is idempotent */
	if (!e) {
		e = lset_push(s);
		if (!e)
			return error("%s: out of memory", s->what), -ENOMEM;
		e->key = k;
		e->op = LENT_NEW;
	} else if (!present(e)) { /* taken off earlier in the batch: back, written whole */
		e->op = e->op == LENT_DEL ? LENT_KEEP : LENT_NEW;
		memset(&e->val, 0, sizeof(e->val));
	}
	e->val.kind = c->kind; /* the kind is what lists_verdicts reads */
	e->own_expires = c->kind == FG_LIST_BAN ? c->expires : 0;
	return 1;
}

int fg_list_apply(const struct fg_maps *m, const char *what, struct fg_list_change *c, size_t n)
{
	struct lset s = { .what = what };
	size_t i, n_sorted;
	int err, werr = 0, changed = 0, r;
	struct fg_lpm_key k;
	struct lent *e;

	for (i = 0; i < n; i++)
		c[i].err = 0;
	if ((err = writable(m)) || (err = lists_load(m, &s)))
		goto out;
	if (s.n)
		qsort(s.v, s.n, sizeof(s.v[0]), lent_cmp);
	n_sorted = s.n;
	for (i = 0; i < n; i++) {
		if (c[i].kind < FG_LIST_BAN || c[i].kind > FG_LIST_ALLOW) {
			c[i].err = -EINVAL;
			error("%s: unknown list kind %u", what, c[i].kind);
			continue;
		}
		r = lset_change(&s, n_sorted, &c[i]);
		if (r < 0)
			c[i].err = r;
		else
			changed += r;
	}
	if (changed)
		werr = lists_write(m, &s);
	/* sorted again by lists_write: what each change left in the trie */
	for (i = 0; werr && i < n; i++) {
		if (c[i].err)
			continue;
		cidr_to_key(&c[i].cidr, &k);
		e = lset_lookup(&s, s.n, &k);
		/* a delete done leaves the entry gone, an add one in the trie holding its value */
		if (c[i].del ? e && e->op != LENT_GONE
			     : !e || e->op != LENT_KEEP || memcmp(&e->val, &e->want, sizeof(e->val)))
			c[i].err = werr;
	}
	for (i = 0; !err && i < n; i++)
		err = c[i].err;
	free(s.v);
	return err ?: werr; /* werr alone: the list filter, the trie is right */
out:
	for (i = 0; i < n; i++)
		c[i].err = err;
	free(s.v);
	return err;
}

/* fg_list_add (del false) and fg_list_del (del true): one change. */
static int list_one(const struct fg_maps *m, const struct fg_cidr *c, __u8 kind, bool del,
		    __u64 expires)
{
	static const char *const what[2][FG_LIST_ALLOW + 1] = {
		{ [FG_LIST_BAN] = "ban add", [FG_LIST_DENY] = "deny add", [FG_LIST_ALLOW] = "allow add" },
		{ [FG_LIST_BAN] = "ban del", [FG_LIST_DENY] = "deny del", [FG_LIST_ALLOW] = "allow del" },
	};
	struct fg_list_change ch = { .cidr = *c, .kind = kind, .del = del, .expires = expires };

	if (kind < FG_LIST_BAN || kind > FG_LIST_ALLOW)
		return error("fg_list_%s: unknown list kind %u", del ? "del" : "add", kind), -EINVAL;
	return fg_list_apply(m, what[del][kind], &ch, 1);
}

int fg_list_add(const struct fg_maps *m, const struct fg_cidr *c, __u8 kind, __u64 expires)
{
	return list_one(m, c, kind, false, expires);
}

int fg_list_del(const struct fg_maps *m, const struct fg_cidr *c, __u8 kind)
{
	return list_one(m, c, kind, true, 0);
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

/*
 * fg_list_replace's claim of prefix k for the list of `kind`: 0, 1 after
 * an error line when it is on the ban list or named by both lists, or
 * -ENOMEM. Entries of the old allow and deny lists are LENT_DEL until
 * claimed.
 */
static int lset_claim(struct lset *s, size_t n_sorted, const struct fg_lpm_key *k, __u8 kind)
{
	const char *name = fg_list_kind_name(kind);
	struct lent *e = lset_lookup(s, n_sorted, k);
	char a[64];

	if (e && e->val.kind != kind && (e->val.kind == FG_LIST_BAN || e->op != LENT_DEL))
		return !!error("%s list: %s: on the %s list, cannot be on the %s list too", name,
			       key_str(a, sizeof(a), k), fg_list_kind_name(e->val.kind), name);
	if (e) {
		if (e->op == LENT_DEL)
			e->op = LENT_KEEP;
		if (e->val.kind != kind) { /* from the other list: written whole, in place */
			memset(&e->val, 0, sizeof(e->val));
			e->val.kind = kind;
		}
		return 0;
	}
	e = lset_push(s);
	if (!e)
		return error("%s list: out of memory", name), -ENOMEM;
	e->key = *k;
	e->val.kind = kind;
	e->op = LENT_NEW;
	return 0;
}

int fg_list_replace(const struct fg_maps *m, const struct fg_cidr *allow, size_t n_allow,
		    const struct fg_cidr *deny, size_t n_deny)
{
	const struct {
		const struct fg_cidr *v; /* the prefixes */
		size_t n;		 /* how many */
		__u8 kind;		 /* of which list */
	} lists[] = { { deny, n_deny, FG_LIST_DENY }, { allow, n_allow, FG_LIST_ALLOW } };
	struct lset s = { .what = "allow and deny lists" };
	size_t i, j, after = 0, n_sorted;
	struct fg_lpm_key k;
	int err, bad = 0;

	if ((err = writable(m)) || (err = lists_load(m, &s)))
		goto out;
	for (i = 0; i < s.n; i++)
		if (s.v[i].val.kind == FG_LIST_ALLOW || s.v[i].val.kind == FG_LIST_DENY)
			s.v[i].op = LENT_DEL; /* unless claimed again */
	if (s.n)
		qsort(s.v, s.n, sizeof(s.v[0]), lent_cmp);
	n_sorted = s.n;
	for (j = 0; j < sizeof(lists) / sizeof(lists[0]); j++)
		for (i = 0; i < lists[j].n; i++) {
			cidr_to_key(&lists[j].v[i], &k);
			if ((err = lset_claim(&s, n_sorted, &k, lists[j].kind)) < 0)
				goto out;
			bad += err;
		}
	if (bad) {
		err = -EEXIST;
		goto out;
	}
	for (i = 0; i < s.n; i++)
		after += present(&s.v[i]);
	if (after > lists_capacity(m)) {
		err = -ENOSPC;
		error("%s: %zu prefixes in all would not fit the list table (%u; raise "
		      "tables.lists)",
		      s.what, after, lists_capacity(m));
		goto out;
	}
	err = lists_write(m, &s);
out:
	free(s.v);
	return err;
}

int fg_lists_expire(const struct fg_maps *m, __u64 now)
{
	struct lset s = { .what = "ban expiry" };
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

int fg_list_verdict(const struct fg_maps *m, const struct fg_cidr *c)
{
	struct fg_list_val val;
	struct fg_lpm_key k;

	cidr_to_key(c, &k);
	return bpf_map_lookup_elem(m->lists, &k, &val) ? -1 : val.verdict;
}
