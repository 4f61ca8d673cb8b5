/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * floodgate.h: the one header the XDP program and userspace share.
 *
 * Map keys and values, the counter and reason enums, pin names and limits.
 * Every struct is laid out explicitly (no implicit padding) because the
 * kernel and userspace must agree byte for byte; FG_LAYOUT_VERSION changes
 * whenever any of them does, and `attach` refuses to reuse pinned maps of
 * another layout.
 *
 * Time in the data path is counted in clock ticks: jiffies in production
 * (HZ ticks per second), an arbitrary tick set through fg_state.test_now
 * when the program is loaded with the test clock. Rate state is kept in
 * "rate units": a limit of R per second keeps its theoretical arrival time
 * (GCRA) in units of 1 / (R * HZ) seconds, so one token is exactly HZ
 * units, now is ticks * R, and every comparison is exact integer math.
 */
#ifndef FLOODGATE_H
#define FLOODGATE_H

#include <linux/types.h>

#define FG_LAYOUT_VERSION 17

/* Pin layout under the pin directory (default /sys/fs/bpf/floodgate). */
#define FG_PIN_DIR_DEFAULT "/sys/fs/bpf/floodgate"
#define FG_PIN_LINK_PREFIX "link_" /* link_<ifname>: one bpf_link per interface */
#define FG_PIN_PROG	   "prog"  /* the loaded program, for upgrades */
#define FG_PIN_CLOCK	   "clock" /* fg_clock program: userspace reads the data path's clock */

#define FG_MAX_RULES	 64    /* endpoint rules per rule set, index 0 is the default rule */
#define FG_RULE_DEFAULT	 0     /* rule index of the default rule */
#define FG_CONFIG_SLOTS	 2     /* rule sets: the live one and the one being written */
#define FG_PORT_SPACE	 65536 /* destination ports per protocol */
#define FG_PROTO_TCP_IDX 0     /* fg_ports protocol block for TCP */
#define FG_PROTO_UDP_IDX 1     /* fg_ports protocol block for UDP */
#define FG_MAX_BAN_PLENS 8     /* distinct ban prefix lengths checked per family */
#define FG_VLAN_MAX	 2     /* VLAN tags the parser accepts */
#define FG_IP6_EXT_MAX	 8     /* IPv6 extension headers the parser walks */
#define FG_COARSE_PLEN4	 24 /* default: under attack new IPv4 sources are charged to this prefix */
#define FG_COARSE_PLEN6	 48 /* default: under attack new IPv6 sources are charged to this prefix */
#define FG_CALM_WINDOWS	 3  /* quiet one-second windows before under-attack mode ends */
#define FG_CHURN_SECONDS 60 /* new sources that would replace the source table this fast: attack */

/*
 * What the XDP SYN proxy advertises in its SYN-ACKs, and what the
 * nftables SYNPROXY rules that complete its handshakes are told (a
 * monitor rule's SYNs go to the server itself, which answers them). The
 * window scale must not exceed the server's own (Linux: log2(max(tcp_rmem[2],
 * rmem_max)) - 15, 7 or more with the defaults): SYNPROXY does not rewrite it.
 */
#define FG_SP_MSS4   1460 /* MSS for IPv4 clients */
#define FG_SP_MSS6   1440 /* MSS for IPv6 clients */
#define FG_SP_WSCALE 7	  /* window scale */
#define FG_SP_TTL    64	  /* IPv4 TTL and IPv6 hop limit of a SYN-ACK */

/*
 * How long a cookie stays good when the client uses timestamps: an ACK
 * whose echoed timestamp says its SYN-ACK left more than this ago is
 * refused (FG_R_SP_EXPIRED), however valid its cookie, which the kernel
 * would accept for one to two minutes. It leaves room for a client whose
 * ACK was lost to retransmit its first data (which carries the same echo):
 * five times at an RTO of 1 s, doubled each time, take 31 s.
 */
#define FG_SP_COOKIE_MS 32000 /* ms */

/*
 * The proxy's peers: fg_sp_peers, one-byte stamps, eight to a word,
 * indexed by a hash of the source address (fg_sp_peer_hash). Every
 * segment of a syn-proxy endpoint that passes (a connection conntrack
 * knows, or an ACK with a valid cookie) writes the period (tick >>
 * fg_sp_shift(HZ), a second or a little more) into its source's stamp.
 * Conntrack holds a tuple of a source only while that source's segments
 * pass (its TIME_WAIT entry ends nf_conntrack_tcp_timeout_time_wait after
 * the last), so a SYN from a source whose stamp is older than that
 * (fg_config.sp_keep periods) cannot be a port reused in TIME_WAIT: it is
 * answered without the conntrack lookup, a third of what a spoofed SYN
 * costs the proxy. Sources sharing a stamp, and a stamp so old that the
 * period's byte came round to it again, only cost lookups. Until its
 * rule has had the proxy for that long (fg_rule.sp_armed) every SYN is
 * looked up: connections from before it never stamped. What it cannot
 * tell: a connection idle for longer than that which its client opens
 * again from the same port (a client that lost its state): the client's
 * ACK then meets the old entry, as its SYN would have.
 */
#define FG_SP_PEER_BITS	 16 /* log2 of the stamps: 64 KiB, to stay in the caches */
#define FG_SP_PEER_WORDS (1U << (FG_SP_PEER_BITS - 3))
#define FG_SP_KEEP_MAX	 250 /* most periods a stamp can count for (one byte, and some margin) */

/*
 * The proxy's flows: fg_sp_flows, a direct-mapped table per CPU indexed
 * by a hash of a segment's tuple (fg_sp_flow_hash). A segment whose
 * conntrack lookup finds a confirmed connection writes its whole tuple
 * and the tick into the entry, and the tuple's next segments on that CPU
 * pass on the entry, without the lookup, for a second (FG_SP_FLOW_SEC)
 * from that tick; then one is looked up again. The whole tuple, compared
 * word for word, and not a hash of it: no hash of 64 bits keeps an
 * attacker who opened one real connection from computing other sources
 * that share its hash (the linear one this table first kept a print of
 * let any IPv6 source be forged so, seed or not), and every such packet
 * would pass unchecked. The lookup takes two atomic operations on a
 * connection's entry that the stack writes too, and under load was most
 * of what the proxy cost an established segment (README). What the entry
 * cannot tell: that conntrack removed the connection within that second
 * (a flush; a closed one's TIME_WAIT or CLOSE entry outlasts it and would
 * pass the same): its segments go on to the stack until then. Another
 * tuple taking the slot costs a lookup.
 */
struct fg_sp_flow {
	__u32 tuple[9]; /* the tuple's words as struct bpf_sock_tuple holds them (IPv4: 3, then 0) */
	__u32 family;	/* FG_FAM_IPV4 or FG_FAM_IPV6; 0: empty */
	__u64 tick;	/* when conntrack last confirmed it */
	__u64 pad[2];	/* zero: 64 bytes an entry, a line's worth */
};
_Static_assert(sizeof(struct fg_sp_flow) == 64, "fg_sp_flow: 64 bytes an entry");

#define FG_SP_FLOW_BITS	 12 /* log2 of the entries per CPU: 4096, 256 KiB */
#define FG_SP_FLOW_SLOTS (1U << FG_SP_FLOW_BITS)
#define FG_SP_FLOW_SEC	 1 /* seconds an entry passes its tuple's segments */

/* Load-time table sizes (overridable with config `tables:`). */
#define FG_DEF_SOURCES	(1U << 20)   /* per-source buckets tracked */
#define FG_DEF_BANS	65536	     /* ban table entries */
#define FG_DEF_LIST	16384	     /* allow/deny/manual-ban prefixes */
#define FG_EVENTS_BYTES (256 * 1024) /* ring buffer size */

/* Address families as stored in keys (not AF_*: one byte, BPF side has no libc). */
enum fg_family {
	FG_FAM_IPV4 = 4,
	FG_FAM_IPV6 = 6,
};

/*
 * Verdict reasons and pressure counters: index into fg_counters. Reasons
 * from FG_R_PASS to FG_R_MONITOR pass the packet, FG_R_SP_SYNACK answers
 * it (XDP_TX), the rest up to FG_R_DROP_LAST drop it, and counters past
 * FG_R_DROP_LAST are informational (they are not verdicts; their byte
 * count is unused).
 * Their names: counter_names[] in user/util.c.
 */
enum fg_counter {
	FG_R_PASS = 0, /* within every limit */
	FG_R_NON_IP,   /* not IPv4 or IPv6 (ARP, LLDP, ...): passed */
	FG_R_ND,    /* IPv6 neighbour discovery (hop limit 255, code 0, no ext. header): passed */
	FG_R_ALLOW, /* source on the allow list */
	FG_R_SP_COOKIE,	  /* syn-proxy endpoint: ACK with a valid SYN cookie, passed to SYNPROXY */
	FG_R_MONITOR,	  /* over a limit of a `monitor` rule: passed, would drop */
	FG_R_SP_SYNACK,	  /* syn-proxy endpoint: SYN answered with a cookie SYN-ACK (XDP_TX) */
	FG_R_DENY,	  /* source on the deny list */
	FG_R_BANNED,	  /* source banned (automatic or manual) */
	FG_R_RATE_PPS,	  /* over the per-source packet rate */
	FG_R_RATE_BPS,	  /* over the per-source byte rate */
	FG_R_RATE_SYN,	  /* over the per-source TCP SYN rate */
	FG_R_ENDPOINT,	  /* over the endpoint's all-sources packet rate */
	FG_R_TRUNC_ETH,	  /* frame shorter than an Ethernet header */
	FG_R_TRUNC_VLAN,  /* VLAN tag cut short */
	FG_R_VLAN_DEPTH,  /* more than FG_VLAN_MAX VLAN tags */
	FG_R_TRUNC_IP4,	  /* IPv4 header cut short */
	FG_R_IP4_VERSION, /* IPv4 ethertype, version field not 4 */
	FG_R_IP4_IHL,	  /* IHL below 5 */
	FG_R_IP4_TOTLEN,  /* total length below the header or beyond the frame */
	FG_R_TRUNC_IP6,	  /* IPv6 header cut short */
	FG_R_IP6_VERSION, /* IPv6 ethertype, version field not 6 */
	FG_R_IP6_PAYLEN,  /* payload length beyond the frame */
	FG_R_TRUNC_EXT,	  /* IPv6 extension header cut short */
	FG_R_TRUNC_L4,	  /* TCP or UDP header cut short in a first fragment */
	FG_R_TCP_DOFF,	  /* TCP data offset below 5 or beyond the packet */
	/* syn-proxy endpoint, no connection: an ACK without a valid cookie, or a segment that
	 * is neither SYN nor ACK, or a SYN the proxy does not answer (see bpf/synproxy.h) */
	FG_R_SP_REFUSED,
	/* syn-proxy endpoint: an ACK with a valid cookie whose echoed timestamp is older than
	 * FG_SP_COOKIE_MS or newer than now (a replay) */
	FG_R_SP_EXPIRED,
	FG_R_DROP_LAST = FG_R_SP_EXPIRED,
	FG_C_BAN_INSERT_FAIL,	 /* ban table full: ban not recorded, source still limited */
	FG_C_SOURCE_INSERT_FAIL, /* source bucket not created: only the endpoint limit applied */
	FG_C_ATTACK_NEW,     /* packets of new sources charged to a coarse prefix (under attack) */
	FG_C_ATTACK_ENTER,   /* under-attack mode entered (per CPU) */
	FG_C_BANS,	     /* bans created by the data path */
	FG_C_EVENTS_LOST,    /* ban events suppressed by the event rate limit or a full ring */
	FG_C_IP6_LONG_CHAIN, /* IPv6 chain longer than FG_IP6_EXT_MAX: charged without ports */
	FG_C_FRAGMENT,	     /* non-first fragments: charged without ports */
	FG_C_SOURCE_NEW,     /* source buckets created (own or coarse prefix) */
	FG_C_LOST_RACE, /* a limit's CAS lost FG_CAS_TRIES times, or its total moved to new rates under it: passed uncharged */
	FG_C_SP_WOULD_SYNACK, /* syn-proxy `monitor` rule: SYN passed that would have been answered */
	FG_C_SP_WOULD_REFUSE, /* syn-proxy `monitor` rule: packet passed that would have been refused */
	FG_C_SP_UNSEEN,	  /* syn-proxy: SYNs answered without a conntrack lookup (fg_sp_peers) */
	FG_C_SP_FLOW_HIT, /* syn-proxy: segments passed on fg_sp_flows, without a conntrack lookup */
	FG_COUNTER_MAX,
};

/* Per-CPU counter cell. */
struct fg_count {
	__u64 packets; /* packets counted */
	__u64 bytes;   /* frame bytes (an IP packet within the first buffer: that buffer) */
};

/* Per-CPU per-rule counters, index = rule index. */
struct fg_rule_count {
	__u64 passed;	  /* packets passed under this rule */
	__u64 dropped;	  /* packets dropped by this rule's limits or bans */
	__u64 would_drop; /* monitor rule: packets over a limit, passed anyway */
	__u64 bytes;	  /* bytes of all packets matched to this rule */
};

enum fg_action {
	FG_ACT_DROP = 0,    /* over the limit: drop */
	FG_ACT_MONITOR = 1, /* over the limit: count as would-drop, pass */
	FG_ACT_BAN = 2,	    /* over the limit: drop and ban the source prefix */
};

/* One rate limit: rate per second and burst; rate 0 means no limit. */
struct fg_limit {
	__u64 rate;  /* per second: packets, or bits for the byte limit */
	__u64 burst; /* tokens: packets, or bytes for the byte limit */
};

/* One rule (default or endpoint), part of a rule set. */
struct fg_rule {
	struct fg_limit pps;   /* per-source packets per second */
	struct fg_limit bps;   /* per-source bits per second, burst in bytes */
	struct fg_limit syn;   /* per-source TCP SYN-without-ACK per second */
	struct fg_limit total; /* all sources together, packets per second */
	__u64 ban_ticks;       /* action ban: first ban length in ticks */
	__u64 ban_max_ticks;   /* action ban: longest ban in ticks */
	__u32 ban_mult;	       /* action ban: each strike multiplies the length by this */
	__be32 mask4[4];       /* netmask of plen4 as four words (only the first is non-zero) */
	__be32 mask6[4];       /* netmask of plen6 */
	__u8 action;	       /* enum fg_action */
	__u8 plen4;	       /* IPv4 source prefix length the buckets aggregate to (0..32) */
	__u8 plen6;	       /* IPv6 source prefix length the buckets aggregate to (0..128) */
	__u8 used;	       /* 1 when this slot holds a rule */
	__u16 proto;	       /* endpoint protocol (IPPROTO_TCP/UDP), 0 for default */
	__u16 port_lo;	       /* endpoint first destination port, host order */
	__u16 port_hi;	       /* endpoint last destination port, host order */
	__u8 syn_proxy;	       /* 1: TCP endpoint whose SYNs the XDP SYN proxy answers */
	__u8 pad;	       /* zero */
	__u64 prev_pps;	       /* pps.rate before `since` (buckets from prev_since on), 0 none */
	__u64 prev_bps;	       /* bps.rate likewise */
	__u64 prev_syn;	       /* syn.rate likewise */
	__u64 prev_total;      /* total.rate likewise (fg_totals[rule] is rebased as buckets are) */
	__u32 since;	       /* epoch whose rule set last changed this rule's limits */
	__u32 prev_since;      /* epoch the prev_* rates took effect; older buckets start full */
	__u32 born;	/* epoch whose rule set gave this rule its index (its counters start) */
	__u32 pad1;	/* zero */
	__u64 sp_armed; /* syn_proxy: tick from which an unstamped source's SYN skips conntrack */
};

/* A prefix length with its netmask, so the data path masks with four ANDs. */
struct fg_plen {
	__be32 mask[4]; /* netmask, network order; for IPv4 only mask[0] is non-zero */
	__u8 plen;	/* prefix length */
	__u8 pad[3];	/* zero */
};

/*
 * A rule set: fg_config[slot]. The program reads the slot that
 * fg_state.slot names, so a writer fills the idle slot (and its block of
 * fg_ports) and then flips fg_state.slot: a packet sees one whole set.
 */
struct fg_config {
	struct fg_rule rules[FG_MAX_RULES]; /* rules[0] is the default rule */
	__u64 attack_new_per_sec; /* new sources per second (all CPUs) that mean "under attack"; 0 = off */
	__u64 events_per_sec; /* ban events per second to the ring buffer (also the burst) */
	struct fg_plen ban4[FG_MAX_BAN_PLENS]; /* IPv4 prefix lengths bans may be keyed at */
	struct fg_plen ban6[FG_MAX_BAN_PLENS]; /* IPv6 prefix lengths bans may be keyed at */
	struct fg_plen coarse4;	   /* IPv4 prefix new sources are charged to under attack */
	struct fg_plen coarse6;	   /* IPv6 prefix new sources are charged to under attack */
	struct fg_plen ban_group4; /* shortest IPv4 ban prefix (or coarse4): ban groups hash this */
	struct fg_plen ban_group6; /* shortest IPv6 ban prefix (or coarse6) */
	__u32 n_ban4;		   /* entries used in ban4 */
	__u32 n_ban6;		   /* entries used in ban6 */
	__u32 n_endpoints;	   /* endpoint rules in use; 0 skips the fg_ports lookup */
	__u32 epoch; /* this rule set's number (1.., never FG_EPOCH_BUSY), see fg_rebase */
	/* set at commit: attack_new_per_sec, or less when the source table would churn faster */
	__u64 attack_limit; /* new sources per one-second window that enter the mode; 0: never */
	__u32 attack_batch; /* new sources a CPU counts before adding them to fg_attack (>= 1) */
	/* set at commit: periods an fg_sp_peers stamp counts (TIME_WAIT's), 0: always look up */
	__u32 sp_keep;
};

#define FG_EPOCH_BUSY 0xffffffffU /* fg_src.units while one CPU moves the bucket to new rates */

/*
 * Ban generations: a bucket caches its ban state (fg_src.ban_until) until
 * the generation of its group moves. Groups are FG_BAN_GEN_SLOTS hashes of
 * the source address masked to the shortest prefix a ban may be keyed at
 * (fg_config.ban_group4/6), so every ban that can cover a bucket moves the
 * generation of the bucket's own group, and a ban storm elsewhere makes
 * known sources recheck only when it lands in their group (one in 4096).
 */
#define FG_BAN_GEN_BITS	 12
#define FG_BAN_GEN_SLOTS (1U << FG_BAN_GEN_BITS)

/* Global shared state: fg_state[0] (not per CPU). */
struct fg_state {
	__u32 slot;	/* live rule set, 0 or 1 */
	__u32 ban_gen;	/* bumped when a ban is lifted by hand: every bucket rechecks fg_bans */
	__u32 lists4;	/* IPv4 prefixes in fg_lists; 0 skips the lookup */
	__u32 lists6;	/* IPv6 prefixes in fg_lists; 0 skips the lookup */
	__u32 lf_slot;	/* live list filters: fg_lfilter[lf_slot * 2 + 0 (IPv4) or 1 (IPv6)] */
	__u32 list_gen; /* bumped after every change of fg_lists: older verdict cache entries void */
	/* set before list_gen moves: the verdict caches hold no bucket shorter (fg_vc_lists_alike) */
	__u8 list_plen4;  /* the longest IPv4 prefix in fg_lists, 0 when none */
	__u8 list_plen6;  /* the longest IPv6 prefix in fg_lists, 0 when none */
	__u8 pad0[6];	  /* zero */
	__u64 test_now;	  /* test clock: current tick (only read when loaded with fg_test_clock) */
	__u64 events_tat; /* GCRA state of the ban event rate limit (rate units) */
	__u64 generation; /* bumped on every rule-set swap, for `status` */
	__u64 hz;	  /* ticks per second, written by the loader for userspace */
	__u64 pad1[2];	  /* to the end of the cache line every packet reads */
	__u32 ban_gens[FG_BAN_GEN_SLOTS]; /* per group: bumped by the data path on every ban */
	__u64 layout; /* FG_LAYOUT_VERSION of whoever created the maps (last: tests patch it) */
};

/* A CPU's part of the under-attack count (fg_attack below): fg_pressure[0], per CPU. */
struct fg_pressure {
	__u64 window;  /* fg_attack.window as this CPU last saw it */
	__u64 pending; /* new sources counted here, not yet added to fg_attack.inserts */
};

/*
 * Under-attack mode, for the whole machine: fg_attack, one entry. Every
 * CPU adds its new sources to one count per one-second window, in batches
 * of fg_config.attack_batch (so a flood spread over many receive queues
 * is judged by its sum, and a shared line is written once per batch, not
 * per packet). The count passing fg_config.attack_limit enters the mode;
 * FG_CALM_WINDOWS windows under half of it leave it. While on, a source
 * first met during the attack (its bucket made at or after `from`, the
 * start of the window that ended in the mode: the sources that led up to
 * it) is charged to its coarse prefix too, until the mode ends: a spoofed
 * flood cannot keep exact buckets, with full bursts, for the sources it
 * sent before the mode began. The first cache line holds what every
 * packet reads (on, from); the counters live on the second.
 */
struct fg_attack {
	__u32 on;    /* 1 while new sources are charged to their coarse prefix */
	__u32 calm;  /* consecutive quiet windows while on */
	__u64 since; /* tick the mode was entered */
	__u64 from; /* start of the window it was entered in: buckets made since are the attack's */
	__u64 pad0[5]; /* to the end of the cache line every packet reads */
	__u64 window;  /* tick the current one-second window began */
	__u64 inserts; /* new sources counted in it, from every CPU */
	__u64 last;    /* new sources counted in the window before it */
	__u64 pad1[5]; /* to 128 bytes */
};
/*
 * Set in fg_src.ban_until when a ban could not be recorded in a full
 * fg_bans: the bucket alone holds it, and it survives every check against
 * the table until it ends. Ticks never reach bit 63.
 */
#define FG_BAN_UNRECORDED (1ULL << 63)

/* Per-source bucket key: fg_sources. */
struct fg_src_key {
	__u16 rule;    /* rule index the bucket belongs to */
	__u8 family;   /* enum fg_family */
	__u8 plen;     /* prefix length addr is masked to (coarse under attack) */
	__u8 addr[16]; /* source address masked to plen, network order; IPv4 in the first 4 bytes */
};

/*
 * A bucket key's first four bytes (rule, family, plen) as one word, to be
 * stored whole: the data path hashes keys by words, and a word load of
 * three smaller stores stalls.
 */
static inline __u32 fg_key_head(__u16 rule, __u8 family, __u8 plen)
{
	union {
		struct {
			__u16 rule;
			__u8 family;
			__u8 plen;
		} f;	 /* the fields, as in struct fg_src_key */
		__u32 w; /* the same bytes as a word */
	} u = { .f = { rule, family, plen } };

	return u.w;
}

/*
 * Per-source bucket value: GCRA state and what `top` shows. The kernel
 * puts it 72 bytes into a 152-byte LRU element (48-byte header with the
 * hash, key rounded to 24). Elements are 152 bytes apart, not aligned to
 * cache lines, so where a line starts within an element depends on the
 * element: a lookup that reads the hash, the key and the first 56 bytes
 * of this value touches two lines for most elements and three for the
 * rest. The fields every packet of a flood touches come first, so no
 * element needs more; units sits next to tat_pps, since every
 * compare-and-swap of tat_pps reads it just after (see bpf/rate.h). tat_bps and tat_syn are read only when consulted
 * (fg_keep checks unconsulted ones every 4096 ticks). packets, bytes and
 * drops are plain increments (atomic ones cost a 64k-source flood 17%
 * more per packet, `scripts/ab.sh` on the AMD EPYC VM): CPUs counting one
 * source at once can lose an update; the daemon's /metrics never shows
 * one going back (struct fg_metrics_memo).
 */
struct fg_src {
	__u64 tat_pps;	 /* GCRA theoretical arrival time, packet limit (rate units) */
	__u32 units;	 /* rule->since of the rates the tats are kept in, or FG_EPOCH_BUSY */
	__u32 ban_gen;	 /* the ban generation of its group when ban_until was read (fg_ban_gen) */
	__u64 last_seen; /* tick of the latest packet */
	__u64 packets;	 /* packets seen from this source under this rule */
	__u64 bytes;	 /* bytes seen */
	__u64 drops;	 /* packets dropped (rate, ban) */
	__u64 ban_until; /* cached ban expiry tick (0: none), | FG_BAN_UNRECORDED: the bucket's own */
	__u64 tat_bps;	 /* GCRA theoretical arrival time, byte limit (rate units) */
	__u64 tat_syn;	 /* GCRA theoretical arrival time, SYN limit (rate units) */
	__u64 first_seen; /* tick the bucket was created */
	__u32 ban_group;  /* its ban group, fg_state.ban_gens[ban_group], when ban_gen was read */
	__u32 fulls; /* packets that found the packet limit full (a lease before: fg_vc_refund) */
};

/*
 * A CPU's verdict cache: a source over its packet limit, or banned, stays
 * so for the rest of the tick (other CPUs' packets only move its tat on,
 * a ban lasts ticks), so this CPU drops its next packets of the tick from
 * here, without the bucket lookup and its compare-and-swap. Under attack
 * a coarse prefix over its limit does the same for the new sources
 * charged to it (keyed by the prefix's bucket key, found after their
 * stamp check; not while bans may be keyed longer). A source well
 * within its limits gets a lease instead (reason FG_R_PASS): FG_VC_LEASE
 * tokens taken from its packet limit in one compare-and-swap, which this
 * CPU's next packets from it spend here, for the rest of the tick (this
 * CPU's clock stands still within it: no refill overtakes the lease), while
 * its ban generation stays. Only for a rule whose only per-packet limits
 * are the packet rate and the SYN rate (a SYN goes the whole way), with
 * no endpoint total and no SYN proxy, a burst of FG_VC_LEASE_BURST or
 * more, and a bucket at most half spent after the lease (fg_vc_lease).
 * The tokens a lease did not spend go back before the source's next
 * packet on this CPU meets its limits (fg_vc_reclaim): a lease changes no
 * verdict of a source's packets on one CPU. Direct-mapped by a hash of
 * the bucket key; an entry of another tick is free. Its packets are added to the
 * bucket's counters when the entry is reused, or within a second (each
 * CPU sweeps its entries once a second).
 * A new rule set (epoch) or a change of the lists (fg_state.list_gen)
 * empties it, so it is checked before the lists; and it holds no bucket
 * shorter than a list entry of its family (fg_state.list_plen4/6), which
 * could judge the bucket's addresses apart.
 * fg_verdicts, per CPU, pinned; readers of fg_sources add what it holds
 * (fg_sources_walk).
 */
/* 1024: a flood of a thousand sources over their limits mostly finds its drops here (64 KiB a CPU) */
#define FG_VC_BITS  10
#define FG_VC_SLOTS (1U << FG_VC_BITS) /* fg_verdicts entries, per CPU */
/* tokens a lease takes: at most burst / 64, so 32 CPUs' leases hold half a burst at most */
#define FG_VC_LEASE 64
/* the smallest packet burst that gets leases (of 4 tokens) */
#define FG_VC_LEASE_BURST 256

struct fg_verdict {
	struct fg_src_key key; /* the bucket: a source's own, or under attack a coarse prefix's */
	__u32 epoch;	       /* fg_config.epoch of the rule set that judged it */
	__u64 tick;	       /* the tick it holds for */
	__u32 packets;	 /* packets it decided, not yet in the bucket and counters (one tick's) */
	__u32 bytes;	 /* their bytes */
	__u32 lists;	 /* fg_state.list_gen of the lists that let it through */
	__u8 reason;	 /* FG_R_RATE_PPS or FG_R_BANNED (drops), FG_R_PASS (a lease) */
	__u8 credit;	 /* a lease: packets it may still pass */
	__u16 ban_group; /* a lease: the bucket's ban group (fg_src.ban_group) */
	__u32 ban_gen;	 /* a lease: that group's generation its ban check read */
	__u32 born;	 /* a lease: its bucket's first_seen (low half), to refund that one only */
	__u32 fulls;	 /* a lease: its bucket's fulls when it was taken */
	__u32 pad;	 /* to 64 bytes */
};

/*
 * Recently seen sources: fg_seen, one-byte stamps, eight to a word,
 * indexed by a hash of the bucket key (fg_key_hash's top bits). A
 * bucket's first packet of a period (tick >> fg_seen_shift(HZ), a minute
 * or a little more), and its creation, write the period into the key's
 * stamp. Under attack, a key whose stamp holds neither this period nor
 * the one before (nor the next) is not looked up in fg_sources (in a table of
 * a million entries that lookup misses the cache and the TLB, and a
 * spoofed flood's sources never have a bucket): it is charged to its
 * coarse prefix as a new source. Keys sharing a stamp only cost lookups;
 * a source idle for more than a period or two counts as new while an
 * attack lasts.
 */
#define FG_SEEN_SOURCES_PER_SLOT 2  /* fg_sources entries per fg_seen stamp */
#define FG_SEEN_MIN_WORDS	 64 /* smallest fg_seen, in words */
#define FG_SEEN_PERIOD_SEC	 60 /* at least this many seconds per stamp period */

/*
 * The attack's own sources: fg_newcomers, one word per slot, shared by
 * every CPU. Under attack a key with a recent stamp is looked up in
 * fg_sources, and a bucket made since the attack's window began
 * (fg_attack.from) is charged to its coarse prefix all the same: the
 * first such lookup notes the key here (fg_newcomer_word: the attack's
 * window and a fingerprint of the key), and the key's later packets in
 * that attack go to the coarse prefix without the lookup. A flood that
 * repeats its sources made up to a threshold's worth of buckets before
 * the mode began, and each of their packets paid a lookup that misses
 * the cache and the TLB: at 65,536 sources, two thirds of the cost per
 * packet. A note of another attack, or of another key in the slot, is no
 * note: the key is looked up. The fingerprint (31 bits) is the key's
 * hash mixed with a secret seed drawn at every load (fg_seed), so that no
 * one can pick a source whose note a known client's key would match (the
 * key hash itself is invertible, and a match would charge that client to
 * its coarse prefix for the attack); by chance, one key in 2^31 of those
 * sharing a noted slot. Keys sharing a slot take turns.
 * A noted key whose bucket the LRU has evicted since is not counted as a
 * new source again, as the lookup would have had it.
 */
#define FG_NEWCOMER_BITS  16
#define FG_NEWCOMER_SLOTS (1U << FG_NEWCOMER_BITS) /* 512 KiB */

/* fg_seen entries (words of 8 stamps) for a source table of `sources` entries: a power of two. */
static inline __u32 fg_seen_words(__u32 sources)
{
	__u64 want = (__u64)sources / FG_SEEN_SOURCES_PER_SLOT / 8, w = FG_SEEN_MIN_WORDS;

	while (w < want && w < (1U << 28))
		w <<= 1;
	return (__u32)w;
}

/* log2 of a power of two */
static inline __u32 fg_log2(__u64 v)
{
	__u32 n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

/* The shift of the tick whose period lasts at least `ticks`. */
static inline __u8 fg_period_shift_of(__u64 ticks)
{
	__u8 s = 0;

	while (s < 40 && (1ULL << s) < ticks)
		s++;
	return s;
}

/* fg_seen's stamp period as a shift of the tick: 2^shift ticks last at least FG_SEEN_PERIOD_SEC. */
static inline __u8 fg_seen_shift(__u64 hz)
{
	return fg_period_shift_of(hz * FG_SEEN_PERIOD_SEC);
}

/* fg_sp_peers' stamp period as a shift of the tick: a second or a little more. */
static inline __u8 fg_sp_shift(__u64 hz)
{
	return fg_period_shift_of(hz);
}

/*
 * fg_config.sp_keep for conntrack's TIME_WAIT timeout of tw seconds:
 * the periods it spans, and one for the period a stamp was written in;
 * 0 (every SYN looked up) when that is more than a stamp can count.
 */
static inline __u32 fg_sp_keep(__u64 tw, __u64 hz)
{
	__u64 period = 1ULL << fg_sp_shift(hz), keep;

	if (tw > 86400)
		return 0;
	keep = (tw * hz + period - 1) / period + 1;
	return keep <= FG_SP_KEEP_MAX ? (__u32)keep : 0;
}

/* Automatic ban key: fg_bans (plain hash, never evicted by churn). */
struct fg_ban_key {
	__u8 family;   /* enum fg_family */
	__u8 plen;     /* prefix length addr is masked to */
	__u8 pad[2];   /* zero */
	__u8 addr[16]; /* masked source address, network order */
};

/* Automatic ban value. */
struct fg_ban {
	__u64 expires; /* tick the ban ends; past it the entry only remembers strikes */
	__u64 created; /* tick of the latest strike */
	__u32 strikes; /* bans so far, drives the escalation */
	__u16 rule;    /* rule index that banned */
	__u16 pad;     /* zero */
};

/*
 * Allow, deny and manual-ban prefixes share one LPM trie for both
 * families, so the data path does one lookup at most. The data starts
 * with the family and three zero bytes, so the address is 4-byte aligned
 * and the data path fills the key with word stores:
 * prefixlen = FG_LPM_HDR_BITS + address prefix length.
 */
#define FG_LPM_HDR_BITS 32 /* family byte and padding, always matched in full */
struct fg_lpm_key {
	__u32 prefixlen; /* FG_LPM_HDR_BITS + address prefix length */
	__u8 family;	 /* enum fg_family */
	__u8 pad[3];	 /* zero, matched as part of the prefix */
	__u8 addr[16];	 /* network order, IPv4 in the first 4 bytes */
};

/*
 * List filter: whether an address may have a trie entry at all, so most
 * packets skip the trie lookup (a kernel call, about a sixth of a packet's
 * cost at one source). Per family, the address masked to the family's
 * shortest list prefix is hashed to one bit (fg_lf_bit); userspace sets
 * the bit of every trie entry's prefix masked the same way. A clear bit
 * means no entry covers the address. Two slots per family: userspace
 * fills the idle one and flips fg_state.lf_slot, first to a filter of the
 * entries before and after a change, then to the entries after it.
 */
#define FG_LF_SLOTS 2  /* list filters per family: the live one and the one being written */
#define FG_LF_BITS  16 /* log2 of a filter's bits */
#define FG_LF_WORDS (1U << (FG_LF_BITS - 6)) /* 64-bit words of a filter */
struct fg_lfilter {
	__u64 mask[2];		 /* netmask of the shortest prefix, as the address's two words */
	__u64 bits[FG_LF_WORDS]; /* bit fg_lf_bit(prefix & mask) of every trie entry is set */
};

/*
 * Two 64-bit words mixed into one by a multiplication: its top bits are
 * the ones every input bit reaches (the low bits would ignore an IPv4
 * address's last octets), so hashes are taken from the top.
 */
static inline __u64 fg_hash64(__u64 w0, __u64 w1)
{
	return (w0 ^ w1 * 0xc2b2ae3d27d4eb4fULL) * 0x9e3779b97f4a7c15ULL;
}

/* A `bits`-bit hash (1..32): fg_hash64's top bits. fg_seen and the list filter use it. */
static inline __u32 fg_hash(__u64 w0, __u64 w1, __u32 bits)
{
	return (__u32)(fg_hash64(w0, w1) >> (64 - bits));
}

/* A bucket key's hash (stored whole, see struct fg_src_key): fg_seen's stamp, fg_newcomers' mix. */
static inline __u64 fg_key_hash(const struct fg_src_key *k)
{
	const __u32 *w = (const __u32 *)k->addr;
	__u32 head = *(const __u32 *)k;

	return fg_hash64(((__u64)w[0] << 32 | w[1]) ^ head, (__u64)w[2] << 32 | w[3]);
}

/* A source address's hash (16 bytes, 4-aligned; IPv4 in the first 4): its fg_sp_peers stamp. */
static inline __u64 fg_sp_peer_hash(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	return fg_hash64((__u64)w[0] << 32 | w[1], (__u64)w[2] << 32 | w[3]);
}

/*
 * A tuple's fg_sp_flows hash: its words as struct bpf_sock_tuple holds
 * them (IPv4: source, destination, the ports; IPv6: 4 + 4 address words,
 * the ports) with the load's seed. Its top bits pick the entry; what
 * passes on it is the whole tuple (struct fg_sp_flow), so a tuple made to
 * share the hash only takes the slot's lookup.
 */
static inline __u64 fg_sp_flow_hash(const __u32 *w, int v6, __u64 seed)
{
	__u64 h;

	if (!v6)
		return fg_hash64(((__u64)w[0] << 32 | w[1]) ^ seed, w[2]);
	h = fg_hash64(((__u64)w[0] << 32 | w[1]) ^ seed, (__u64)w[2] << 32 | w[3]);
	h = fg_hash64(h ^ ((__u64)w[4] << 32 | w[5]), (__u64)w[6] << 32 | w[7]);
	return fg_hash64(h, w[8]);
}

/* MurmurHash3's 64-bit finalizer: every bit of v reaches every bit of the result. */
static inline __u64 fg_mix64(__u64 v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	v *= 0xc4ceb9fe1a85ec53ULL;
	v ^= v >> 33;
	return v;
}

/*
 * The fg_newcomers slot of key hash h: a multiplication's top bits, which
 * spread a run of addresses over the slots with few shared (a flood's
 * sources often are one). Anyone may compute it: the fingerprint is the
 * secret part.
 */
static inline __u32 fg_newcomer_slot(__u64 h)
{
	return (__u32)((h * 0xff51afd7ed558ccdULL) >> (64 - FG_NEWCOMER_BITS));
}

/*
 * The word a note of key hash h holds in an attack whose window began at
 * tick `from`: the window's low 32 bits, and a fingerprint of h mixed
 * with the load's secret seed, its lowest bit set so that no note is 0,
 * an empty slot.
 */
static inline __u64 fg_newcomer_word(__u64 h, __u64 seed, __u64 from)
{
	return from << 32 | (__u32)fg_mix64(h ^ seed) | 1;
}

/* The filter bit of an address already masked, given as its two 8-byte words (memory order). */
static inline __u32 fg_lf_bit(__u64 w0, __u64 w1)
{
	return fg_hash(w0, w1, FG_LF_BITS);
}

enum fg_list_kind {
	FG_LIST_BAN = 1,   /* manual ban: drop until expires */
	FG_LIST_DENY = 2,  /* deny: drop */
	FG_LIST_ALLOW = 3, /* allow: pass, skip every limit */
};

/*
 * Trie value. `kind` is what the operator added at this prefix; `verdict`
 * is the strongest kind of this prefix and every shorter one covering it
 * (allow > deny > ban), kept by userspace so the longest match alone
 * decides.
 */
struct fg_list_val {
	__u8 kind;     /* enum fg_list_kind added at exactly this prefix, 0 if only a placeholder */
	__u8 verdict;  /* enum fg_list_kind in force for addresses whose longest match is this */
	__u8 pad[6];   /* zero */
	__u64 expires; /* verdict ban: tick the latest covering ban ends (0 never); else 0 */
	__u64 own_expires; /* kind ban: tick the ban added here ends (0 never); userspace only */
};

/* Endpoint all-sources bucket: fg_totals[rule]. */
struct fg_total {
	__u64 tat;   /* GCRA theoretical arrival time (rate units) */
	__u64 seen;  /* tick of the latest packet, for the idle guard of fg_gcra */
	__u32 units; /* rule->since of the rate tat is kept in, or FG_EPOCH_BUSY (see fg_src) */
	__u32 pad;   /* zero */
};

enum fg_event_type {
	FG_EV_BAN = 1,	      /* a source was banned */
	FG_EV_ATTACK_ON = 2,  /* a CPU entered under-attack mode */
	FG_EV_ATTACK_OFF = 3, /* a CPU left under-attack mode */
};

/* Ring buffer record: fg_events. */
struct fg_event {
	__u64 tick;	/* when, in ticks */
	__u64 duration; /* FG_EV_BAN: ban length in ticks */
	__u32 type;	/* enum fg_event_type */
	__u32 strikes;	/* FG_EV_BAN: strike count including this one */
	__u16 rule;	/* FG_EV_BAN: rule index */
	__u8 family;	/* FG_EV_BAN: enum fg_family */
	__u8 plen;	/* FG_EV_BAN: prefix length of addr */
	__u32 cpu;	/* CPU that saw it */
	__u8 addr[16];	/* FG_EV_BAN: banned prefix, network order */
};

/*
 * Netmask of a prefix length as four network-order words; both sides use
 * it (the program only through masks userspace stored in fg_config).
 */
static inline void fg_netmask(__be32 mask[4], unsigned int plen)
{
	unsigned int i, bits;

	for (i = 0; i < 4; i++) {
		bits = plen > i * 32 ? plen - i * 32 : 0;
		if (bits > 32)
			bits = 32;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		mask[i] = __builtin_bswap32((__u32)(~0ULL << (32 - bits)));
#else
		mask[i] = (__u32)(~0ULL << (32 - bits));
#endif
	}
}

#endif /* FLOODGATE_H */
