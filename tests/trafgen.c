// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * trafgen.c: the lab's traffic generator and benchmark driver.
 *
 *   trafgen send   IFACE ...  transmit spoofed UDP or TCP SYN frames out of a
 *                             lab veth with BPF_PROG_RUN live frames
 *   trafgen check  IFACE      only the safety check of `send`
 *   trafgen cost   ...        per-packet cost of an XDP program through
 *                             BPF_PROG_TEST_RUN, sources varied per packet
 *   trafgen drop-attach|drop-detach IFACE
 *                             a bare XDP_DROP in driver mode, the baseline
 *
 * `send` runs trafgen_tx (bpf/trafgen.bpf.c) over one template frame with
 * BPF_F_TEST_XDP_LIVE_FRAMES: the kernel runs the program on a copy of the
 * frame `repeat` times and transmits each XDP_TX out of the interface in
 * ctx_in, so the frames are real and cost nothing to build. It refuses any
 * interface that is not a veth whose peer is in another network namespace,
 * and refuses to run from the initial network namespace at all: the
 * generator is meant to run inside the lab's attacker namespace (`ip netns
 * exec`), where the only way out is the lab's veth. Every address it puts
 * in a frame is checked to lie in 198.18.0.0/15 or 2001:db8::/32. A packet
 * count and a time bound are both mandatory.
 *
 * It reports what the program returned XDP_TX for and, from the
 * interface's own counters, what the peer received (veth counts its
 * peer's receive queue as its tx_packets) and what the peer's full ring
 * dropped (tx_dropped).
 */
#define _GNU_SOURCE /* setns */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "fg.h"
#include "trafgen.skel.h"
#include "bench_drop.skel.h"

#define TG_FRAME_MAX 1500
#define TG_ETH	     14
#define TG_IP4	     20
#define TG_IP6	     40
#define TG_UDP	     8
#define TG_TCP	     20
#define TG_RUN_MAX   65536 /* frames per BPF_PROG_RUN: about 10-30 ms of work */

/* What to send: the parsed command line of `send` and `cost`. */
struct tg_spec {
	int family;	    /* 4 or 6, from --dst */
	bool syn;	    /* TCP SYN instead of UDP */
	bool random;	    /* random source per frame */
	__u8 dmac[6];	    /* destination MAC */
	__u8 smac[6];	    /* source MAC (the interface's own unless --smac) */
	bool have_smac;	    /* --smac given */
	__u8 dst[16];	    /* destination address, network order */
	__u8 base[16];	    /* first source address, network order */
	__u32 nsrc;	    /* distinct sources */
	__u16 sport, dport; /* ports, host order */
	__u32 size;	    /* frame length without FCS */
	__u64 count;	    /* frames to send (send), runs to time (cost) */
	double duration;    /* seconds, upper bound (send) */
	__u64 rate;	    /* frames per second, 0 = as fast as possible (send) */
	__u32 batch;	    /* live-frames batch size (send) */
};

/* Interface facts from rtnetlink. */
struct tg_link {
	char kind[16];		     /* IFLA_INFO_KIND, "" when none */
	int peer_ifindex;	     /* IFLA_LINK, 0 when none */
	int peer_netnsid;	     /* IFLA_LINK_NETNSID, -1 when the peer is in this namespace */
	__u8 mac[6];		     /* IFLA_ADDRESS */
	struct rtnl_link_stats64 st; /* IFLA_STATS64 */
};

static bool json_out;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* RTM_GETLINK for one interface. Returns 0 or -errno. */
static int link_query(int ifindex, struct tg_link *out)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
	};
	char buf[16384];
	struct nlmsghdr *nh;
	struct rtattr *rta, *li;
	int fd, len, rlen, err = 0;

	memset(out, 0, sizeof(*out));
	out->peer_netnsid = -1;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		err = -errno;
		goto out;
	}
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0) {
		err = -errno;
		goto out;
	}
	nh = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(nh, (unsigned int)len)) {
		err = -EIO;
		goto out;
	}
	if (nh->nlmsg_type == NLMSG_ERROR) {
		err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
		err = err ? err : -EIO;
		goto out;
	}
	rlen = IFLA_PAYLOAD(nh);
	for (rta = IFLA_RTA(NLMSG_DATA(nh)); RTA_OK(rta, rlen); rta = RTA_NEXT(rta, rlen)) {
		switch (rta->rta_type) {
		case IFLA_LINK:
			out->peer_ifindex = *(int *)RTA_DATA(rta);
			break;
		case IFLA_LINK_NETNSID:
			out->peer_netnsid = *(int *)RTA_DATA(rta);
			break;
		case IFLA_ADDRESS:
			if (RTA_PAYLOAD(rta) == 6)
				memcpy(out->mac, RTA_DATA(rta), 6);
			break;
		case IFLA_STATS64:
			memcpy(&out->st, RTA_DATA(rta),
			       RTA_PAYLOAD(rta) < sizeof(out->st) ? RTA_PAYLOAD(rta)
								  : sizeof(out->st));
			break;
		case IFLA_LINKINFO: {
			int llen = RTA_PAYLOAD(rta);

			for (li = RTA_DATA(rta); RTA_OK(li, llen); li = RTA_NEXT(li, llen))
				if (li->rta_type == IFLA_INFO_KIND)
					snprintf(out->kind, sizeof(out->kind), "%.*s",
						 (int)RTA_PAYLOAD(li), (char *)RTA_DATA(li));
			break;
		}
		}
	}
out:
	close(fd);
	return err;
}

/*
 * Name of the lab namespace (/run/netns/fgl*, made by scripts/lab.sh) we
 * run in, or NULL when we run in any other namespace.
 */
static const char *lab_netns(char *buf, size_t len)
{
	struct stat self, st;
	struct dirent *de;
	const char *found = NULL;
	DIR *d;

	if (stat("/proc/self/ns/net", &self))
		return NULL;
	d = opendir("/run/netns");
	if (!d)
		return NULL;
	while (!found && (de = readdir(d))) {
		if (strncmp(de->d_name, "fgl", 3))
			continue;
		snprintf(buf, len, "/run/netns/%s", de->d_name);
		if (!stat(buf, &st) && st.st_ino == self.st_ino && st.st_dev == self.st_dev) {
			snprintf(buf, len, "%s", de->d_name);
			found = buf;
		}
	}
	closedir(d);
	return found;
}

/*
 * The safety rule of `send`: we run inside one of the lab's namespaces
 * (/run/netns/fgl*), and IFACE is a veth whose peer lives in another
 * network namespace (the lab's host end). Returns the ifindex, or -1
 * after an error line.
 */
static int lab_check(const char *ifname, struct tg_link *lk)
{
	char ns[PATH_MAX];
	int ifindex, err;

	if (!lab_netns(ns, sizeof(ns)))
		return error("check: refusing to transmit outside the lab: this network namespace "
			     "is none of /run/netns/fgl* (run inside the lab's attacker namespace "
			     "with ip netns exec)");
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return error("check: interface '%s': %s", ifname, strerror(errno));
	err = link_query(ifindex, lk);
	if (err)
		return error("check: interface '%s': %s", ifname, strerror(-err));
	if (strcmp(lk->kind, "veth"))
		return error("check: refusing '%s': not a veth (kind '%s')", ifname,
			     lk->kind[0] ? lk->kind : "none");
	if (!lk->peer_ifindex || lk->peer_netnsid < 0)
		return error("check: refusing '%s': its veth peer is not in another network "
			     "namespace",
			     ifname);
	return ifindex;
}

/*
 * Attach prog in generic mode to this namespace's loopback for as long as
 * the returned link fd stays open: an attached program stays in the
 * kernel's XDP dispatcher, so BPF_PROG_RUN does not wait for two RCU grace
 * periods per run to add and remove it (see bpf/trafgen.bpf.c). Returns
 * the link fd, or -1 (runs are then just slower to start).
 */
static int keep_in_dispatcher(int prog_fd)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_SKB_MODE);
	int fd = bpf_link_create(prog_fd, if_nametoindex("lo"), BPF_XDP, &opts);

	if (fd < 0)
		warning("cannot attach to lo (%s): every run waits for RCU", strerror(errno));
	return fd;
}

static int parse_mac(const char *what, const char *s, __u8 mac[6])
{
	const char *p = s;
	unsigned long b;
	char *end;
	int i;

	for (i = 0; i < 6; i++) {
		errno = 0;
		b = strtoul(p, &end, 16);
		if (errno || end == p || end - p > 2 || b > 255 || *end != (i < 5 ? ':' : '\0'))
			return error("%s: '%s' is not a MAC address", what, s);
		mac[i] = b;
		p = end + 1;
	}
	return 0;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/* Parse an address of the lab's ranges; family 0 accepts both. Returns the family or -1. */
static int parse_lab_addr(const char *what, const char *s, int family, __u8 out[16])
{
	static const __u8 v6pfx[4] = { 0x20, 0x01, 0x0d, 0xb8 };

	memset(out, 0, 16);
	if (family != 6 && inet_pton(AF_INET, s, out) == 1) {
		if (out[0] != 198 || (out[1] & 0xfe) != 18)
			return error("%s: %s is outside 198.18.0.0/15", what, s);
		return 4;
	}
	if (family != 4 && inet_pton(AF_INET6, s, out) == 1) {
		if (memcmp(out, v6pfx, 4))
			return error("%s: %s is outside 2001:db8::/32", what, s);
		return 6;
	}
	return error("%s: '%s' is not an IPv%s address", what, s,
		     family == 4   ? "4"
		     : family == 6 ? "6"
				   : "4 or IPv6");
}

static __u32 word_at(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Sum of big-endian 16-bit words (odd length: last byte padded with zero). */
static __u32 sum16(const __u8 *p, size_t len)
{
	__u32 s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (__u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (__u32)p[len - 1] << 8;
	return s;
}

/* Checks the source range of a spec: base .. base + nsrc - 1 inside the lab range. */
static int check_sources(const struct tg_spec *sp)
{
	__u64 first = word_at(sp->base + (sp->family == 4 ? 0 : 4)), last = first + sp->nsrc - 1;

	if (sp->family == 4 && (last >> 17) != (0xc6120000U >> 17))
		return error("sources: %u sources from the base run past 198.19.255.255", sp->nsrc);
	if (sp->family == 6 && last > 0xffffffffULL)
		return error("sources: %u sources from the base run past 2001:db8:ffff:ffff::",
			     sp->nsrc);
	return 0;
}

/*
 * Build the template frame and the program's constants. The frame's
 * source word is left zero: every run writes it.
 */
static size_t build_frame(const struct tg_spec *sp, __u8 *f, struct trafgen *skel_rodata_only)
{
	struct trafgen__rodata *ro = skel_rodata_only->rodata;
	size_t l3 = TG_ETH, l4 = l3 + (sp->family == 4 ? TG_IP4 : TG_IP6);
	size_t l4len = sp->syn ? TG_TCP : 0, size, iplen;
	__u8 proto = sp->syn ? IPPROTO_TCP : IPPROTO_UDP;
	__u8 pseudo[40];
	__u32 l4sum;

	size = sp->syn ? l4 + TG_TCP : sp->size;
	if (!sp->syn) {
		if (size < l4 + TG_UDP)
			size = l4 + TG_UDP;
		l4len = size - l4;
	}
	if (size < 60)
		size = 60; /* Ethernet minimum; a SYN's IP length stays 40/60, the rest is padding */
	memset(f, 0, size);
	memcpy(f, sp->dmac, 6);
	memcpy(f + 6, sp->smac, 6);
	iplen = l4 - l3 + l4len;
	if (sp->family == 4) {
		f[12] = 0x08, f[13] = 0x00;
		f[l3] = 0x45;
		f[l3 + 2] = iplen >> 8, f[l3 + 3] = iplen & 0xff;
		f[l3 + 6] = 0x40; /* DF */
		f[l3 + 8] = 64;
		f[l3 + 9] = proto;
		memcpy(f + l3 + 16, sp->dst, 4);
		ro->tg_ip_sum = sum16(f + l3, TG_IP4); /* checksum and source still zero */
		memset(pseudo, 0, sizeof(pseudo));
		memcpy(pseudo + 4, sp->dst, 4);
		pseudo[9] = proto;
		pseudo[10] = l4len >> 8, pseudo[11] = l4len & 0xff;
		l4sum = sum16(pseudo, 12);
	} else {
		f[12] = 0x86, f[13] = 0xdd;
		f[l3] = 0x60;
		f[l3 + 4] = l4len >> 8, f[l3 + 5] = l4len & 0xff;
		f[l3 + 6] = proto;
		f[l3 + 7] = 64;
		memcpy(f + l3 + 8, sp->base, 16);
		memset(f + l3 + 8 + 4, 0, 4); /* the varied word */
		memcpy(f + l3 + 24, sp->dst, 16);
		memset(pseudo, 0, sizeof(pseudo));
		memcpy(pseudo, f + l3 + 8, 32);
		l4sum = sum16(pseudo, 32) + l4len + proto;
	}
	f[l4] = sp->sport >> 8, f[l4 + 1] = sp->sport & 0xff;
	f[l4 + 2] = sp->dport >> 8, f[l4 + 3] = sp->dport & 0xff;
	if (sp->syn) {
		f[l4 + 4] = 0x5e, f[l4 + 5] = 0xed;   /* sequence number */
		f[l4 + 12] = 0x50;		      /* data offset 5 */
		f[l4 + 13] = 0x02;		      /* SYN */
		f[l4 + 14] = 0xfa, f[l4 + 15] = 0xf0; /* window 64240 */
		ro->tg_l4_check = l4 + 16;
	} else {
		f[l4 + 4] = l4len >> 8, f[l4 + 5] = l4len & 0xff;
		ro->tg_l4_check = l4 + 6;
		ro->tg_udp = 1;
	}
	ro->tg_l4_sum = l4sum + sum16(f + l4, l4len);
	ro->tg_ipv6 = sp->family == 6;
	ro->tg_nsrc = sp->nsrc;
	ro->tg_random = sp->random;
	ro->tg_base = word_at(sp->base + (sp->family == 4 ? 0 : 4));
	return size;
}

enum {
	OPT_DMAC = 0x200,
	OPT_SMAC,
	OPT_DST,
	OPT_SRC,
	OPT_SOURCES,
	OPT_RANDOM,
	OPT_PROTO,
	OPT_SPORT,
	OPT_DPORT,
	OPT_SIZE,
	OPT_COUNT,
	OPT_DURATION,
	OPT_RATE,
	OPT_BATCH,
	OPT_TARGET,
	OPT_REPEAT,
	OPT_WARMUP,
	OPT_FAMILY,
	OPT_BARE,
	OPT_NETNS,
};

static const struct option spec_opts[] = {
	{ "dmac", required_argument, NULL, OPT_DMAC },
	{ "smac", required_argument, NULL, OPT_SMAC },
	{ "dst", required_argument, NULL, OPT_DST },
	{ "src", required_argument, NULL, OPT_SRC },
	{ "sources", required_argument, NULL, OPT_SOURCES },
	{ "random", no_argument, NULL, OPT_RANDOM },
	{ "proto", required_argument, NULL, OPT_PROTO },
	{ "sport", required_argument, NULL, OPT_SPORT },
	{ "dport", required_argument, NULL, OPT_DPORT },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "family", required_argument, NULL, OPT_FAMILY },
	{ "bare", no_argument, NULL, OPT_BARE },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static const char usage_text[] =
	"usage: trafgen [-j] send IFACE --dmac MAC --dst ADDR --count N --duration SECONDS\n"
	"                 [--proto udp|syn] [--src ADDR] [--sources N] [--random] [--rate PPS]\n"
	"                 [--sport P] [--dport P] [--size BYTES] [--smac MAC] [--batch N]\n"
	"       trafgen check IFACE\n"
	"       trafgen [-j] cost --netns LABNS --target drop|PINNED_PROG [--bare] [--family 4|6]\n"
	"                 [--sources N] [--random] [--proto udp|syn] [--repeat N] [--warmup N]\n"
	"       trafgen drop-attach|drop-detach IFACE\n"
	"\n"
	"send: live frames out of IFACE, a veth whose peer is in another namespace, run\n"
	"  from inside a lab namespace. Sources: --sources N addresses from --src (default\n"
	"  198.18.0.0, or 2001:db8:: where the varied part is the second 32 bits: one /64\n"
	"  per source). All addresses must lie in 198.18.0.0/15 or 2001:db8::/32.\n"
	"cost: ns per packet of the target program run with BPF_PROG_TEST_RUN, its source\n"
	"  address rewritten per packet by a tail-calling front program (--bare: the\n"
	"  target alone, same frame every time). Runs inside lab namespace LABNS.\n";

/* Parse the options shared by send and cost. Returns 0, or an exit code. */
static int parse_spec(int argc, char **argv, struct tg_spec *sp, const char **target, bool *bare,
		      __u64 *repeat, __u64 *warmup, const char **netns)
{
	const char *dst = NULL, *src = NULL;
	bool have_dmac = false, have_count = false, have_dur = false;
	int family = 0, c;
	__u64 v;

	memset(sp, 0, sizeof(*sp));
	sp->nsrc = 1;
	sp->sport = 40000;
	sp->dport = 9;
	sp->size = 64;
	sp->batch = 64;
	while ((c = getopt_long(argc, argv, "jh", spec_opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json_out = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(FG_EXIT_OK);
		case OPT_DMAC:
			if (parse_mac("--dmac", optarg, sp->dmac))
				return FG_EXIT_USAGE;
			have_dmac = true;
			break;
		case OPT_SMAC:
			if (parse_mac("--smac", optarg, sp->smac))
				return FG_EXIT_USAGE;
			sp->have_smac = true;
			break;
		case OPT_DST:
			dst = optarg;
			break;
		case OPT_SRC:
			src = optarg;
			break;
		case OPT_SOURCES:
			if (fg_parse_u64("--sources", optarg, 1, 0xffffffffULL, &v))
				return FG_EXIT_USAGE;
			sp->nsrc = v;
			break;
		case OPT_RANDOM:
			sp->random = true;
			break;
		case OPT_PROTO:
			if (!strcmp(optarg, "syn"))
				sp->syn = true;
			else if (strcmp(optarg, "udp"))
				return error("--proto: '%s' is neither udp nor syn", optarg),
				       FG_EXIT_USAGE;
			break;
		case OPT_SPORT:
		case OPT_DPORT:
			if (fg_parse_u64("port", optarg, 1, 65535, &v))
				return FG_EXIT_USAGE;
			*(c == OPT_SPORT ? &sp->sport : &sp->dport) = v;
			break;
		case OPT_SIZE:
			if (fg_parse_u64("--size", optarg, 60, TG_FRAME_MAX, &v))
				return FG_EXIT_USAGE;
			sp->size = v;
			break;
		case OPT_COUNT:
			if (fg_parse_u64("--count", optarg, 1, 1ULL << 40, &sp->count))
				return FG_EXIT_USAGE;
			have_count = true;
			break;
		case OPT_DURATION:
			if (fg_parse_u64("--duration", optarg, 1, 3600, &v))
				return FG_EXIT_USAGE;
			sp->duration = v;
			have_dur = true;
			break;
		case OPT_RATE:
			if (fg_parse_u64("--rate", optarg, 0, 100000000, &sp->rate))
				return FG_EXIT_USAGE;
			break;
		case OPT_BATCH:
			if (fg_parse_u64("--batch", optarg, 1, 256, &v))
				return FG_EXIT_USAGE;
			sp->batch = v;
			break;
		case OPT_TARGET:
		case OPT_NETNS:
		case OPT_BARE:
		case OPT_REPEAT:
		case OPT_WARMUP:
			if (!target)
				return error("send: --target, --bare, --repeat and --warmup are "
					     "options of cost"),
				       FG_EXIT_USAGE;
			if (c == OPT_TARGET)
				*target = optarg;
			else if (c == OPT_NETNS)
				*netns = optarg;
			else if (c == OPT_BARE)
				*bare = true;
			else if (fg_parse_u64(c == OPT_REPEAT ? "--repeat" : "--warmup", optarg,
					      c == OPT_REPEAT, 1ULL << 34,
					      c == OPT_REPEAT ? repeat : warmup))
				return FG_EXIT_USAGE;
			break;
		case OPT_FAMILY:
			if (fg_parse_u64("--family", optarg, 4, 6, &v) || v == 5)
				return error("--family: 4 or 6"), FG_EXIT_USAGE;
			family = v;
			break;
		default:
			fputs(usage_text, stderr);
			return FG_EXIT_USAGE;
		}
	}
	if (target) { /* cost: the lab's addresses, no interface */
		if (!dst)
			dst = family == 6 ? "2001:db8::1" : "198.18.0.1";
		if (!have_dmac)
			memcpy(sp->dmac, "\x02\x00\x00\x00\x00\x01", 6);
		have_dmac = have_count = have_dur = true;
	}
	if (!have_dmac || !dst || !have_count || !have_dur)
		return error("send: --dmac, --dst, --count and --duration are required"),
		       FG_EXIT_USAGE;
	sp->family = parse_lab_addr("--dst", dst, family, sp->dst);
	if (sp->family < 0)
		return FG_EXIT_USAGE;
	if (!src)
		src = sp->family == 4 ? "198.18.0.0" : "2001:db8::";
	if (parse_lab_addr("--src", src, sp->family, sp->base) < 0 || check_sources(sp))
		return FG_EXIT_USAGE;
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	struct tg_link lk;

	if (argc != 2) {
		fputs(usage_text, stderr);
		return FG_EXIT_USAGE;
	}
	if (lab_check(argv[1], &lk) < 0)
		return FG_EXIT_ERR;
	printf("%s: veth, peer ifindex %d in namespace id %d: ok\n", argv[1], lk.peer_ifindex,
	       lk.peer_netnsid);
	return FG_EXIT_OK;
}

static int cmd_send(int argc, char **argv)
{
	__u8 frame[TG_FRAME_MAX];
	struct xdp_md ctx_in = {};
	struct tg_spec sp;
	struct tg_link before, after;
	struct trafgen *skel = NULL;
	const char *ifname;
	double t0, t1, elapsed;
	__u64 sent = 0, n, prog_sent = 0, *percpu = NULL;
	int ifindex, ret, ncpu, i, link_fd = -1, rc = FG_EXIT_ERR;
	__u32 zero = 0;
	size_t size;

	if (argc < 2 || argv[1][0] == '-') {
		fputs(usage_text, stderr);
		return FG_EXIT_USAGE;
	}
	ifname = argv[1];
	argc--, argv++;
	ret = parse_spec(argc, argv, &sp, NULL, NULL, NULL, NULL, NULL);
	if (ret)
		return ret;
	ifindex = lab_check(ifname, &before);
	if (ifindex < 0)
		return FG_EXIT_ERR;
	if (!sp.have_smac)
		memcpy(sp.smac, before.mac, 6);

	skel = trafgen__open();
	if (!skel) {
		error("send: open the generator program: %s", strerror(errno));
		goto out;
	}
	size = build_frame(&sp, frame, skel);
	skel->rodata->tg_ifindex = ifindex;
	ret = trafgen__load(skel);
	if (ret) {
		error("send: load the generator program: %s", strerror(-ret));
		goto out;
	}
	link_fd = keep_in_dispatcher(bpf_program__fd(skel->progs.trafgen_tx));
	ctx_in.data_end = size;
	ctx_in.ingress_ifindex = ifindex;

	link_query(ifindex, &before);
	t0 = now_s();
	while (sent < sp.count) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = size,
			    .ctx_in = &ctx_in, .ctx_size_in = sizeof(ctx_in),
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = sp.batch);

		elapsed = now_s() - t0;
		if (elapsed >= sp.duration)
			break;
		n = TG_RUN_MAX;
		if (sp.rate) {
			/*
			 * Runs of 5 ms of frames: a run costs a syscall and a page
			 * pool set up and torn down, so it is worth it only for
			 * many frames. A run that waited (another process held
			 * the kernel's XDP dispatcher) is caught up by the next.
			 */
			__u64 due = (elapsed + 0.005) * sp.rate, min = sp.rate / 200;

			if (min < 1)
				min = 1;
			if (min > sp.count - sent)
				min = sp.count - sent;
			if (due < sent + min) {
				double wait = (double)(sent + min) / sp.rate - 0.005 - elapsed;

				sleep_s(wait > 0.0001 ? wait : 0.0001);
				continue;
			}
			n = due - sent;
		}
		if (n > TG_RUN_MAX)
			n = TG_RUN_MAX;
		if (n > sp.count - sent)
			n = sp.count - sent;
		opts.repeat = n;
		ret = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.trafgen_tx), &opts);
		if (ret) {
			error("send: BPF_PROG_RUN live frames on %s: %s", ifname, strerror(errno));
			goto out;
		}
		sent += n;
	}
	t1 = now_s();
	sleep_s(0.05); /* let the peer's NAPI drain its ring before reading its counters */
	link_query(ifindex, &after);

	ncpu = libbpf_num_possible_cpus();
	percpu = calloc(ncpu, sizeof(*percpu));
	if (percpu && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.tg_sent), &zero, percpu))
		for (i = 0; i < ncpu; i++)
			prog_sent += percpu[i];
	elapsed = t1 - t0;
	if (json_out) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "interface", json_object_new_string(ifname));
		json_object_object_add(o, "frames", json_object_new_int64(prog_sent));
		json_object_object_add(o, "seconds", json_object_new_double(elapsed));
		json_object_object_add(o, "pps", json_object_new_double(prog_sent / elapsed));
		json_object_object_add(
			o, "peer_received",
			json_object_new_int64(after.st.tx_packets - before.st.tx_packets));
		json_object_object_add(
			o, "peer_dropped",
			json_object_new_int64(after.st.tx_dropped - before.st.tx_dropped));
		json_object_object_add(o, "frame_bytes", json_object_new_int64(size));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		printf("sent %" PRIu64 " frames of %zu bytes in %.3f s: %.0f pps; peer received "
		       "%" PRIu64 ", ring drops %" PRIu64 "\n",
		       (uint64_t)prog_sent, size, elapsed, prog_sent / elapsed,
		       (uint64_t)(after.st.tx_packets - before.st.tx_packets),
		       (uint64_t)(after.st.tx_dropped - before.st.tx_dropped));
	}
	rc = prog_sent == sent ? FG_EXIT_OK : FG_EXIT_ERR;
	if (rc)
		error("send: the program transmitted %" PRIu64 " of %" PRIu64 " frames",
		      (uint64_t)prog_sent, (uint64_t)sent);
out:
	if (link_fd >= 0)
		close(link_fd);
	free(percpu);
	trafgen__destroy(skel);
	return rc;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Run prog over frame `repeat` times; ns per run from this thread's CPU
 * time, which leaves out the time other processes had the CPU (the
 * kernel's own per-run figure does too, but only to the whole ns).
 */
static int time_runs(int prog_fd, const __u8 *frame, size_t size, struct xdp_md *ctx, __u64 repeat,
		     double *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = size, .ctx_in = ctx,
		    .ctx_size_in = sizeof(*ctx));
	double t0, t1;
	__u64 done = 0;

	t0 = cpu_s();
	while (done < repeat) { /* the kernel takes repeat as u32 */
		opts.repeat = repeat - done > (1U << 30) ? (1U << 30) : repeat - done;
		if (bpf_prog_test_run_opts(prog_fd, &opts))
			return -errno;
		done += opts.repeat;
	}
	t1 = cpu_s();
	*ns = (t1 - t0) * 1e9 / repeat;
	return 0;
}

/*
 * cost: the target is opened here (a pinned path needs the host's bpffs),
 * then we move into the lab namespace --netns, whose lab0 is the runs'
 * ingress interface and whose loopback keeps the run program in the XDP
 * dispatcher.
 */
static int cmd_cost(int argc, char **argv)
{
	__u8 frame[TG_FRAME_MAX];
	struct trafgen *skel = NULL;
	struct bench_drop *drop = NULL;
	const char *target = NULL, *netns = NULL;
	struct xdp_md ctx_in = {};
	struct tg_spec sp;
	__u64 repeat = 0, warmup = (__u64)-1;
	bool bare = false;
	int ret, tfd = -1, run_fd, nsfd = -1, link_fd = -1, ifindex, rc = FG_EXIT_ERR;
	char path[PATH_MAX];
	__u32 zero = 0;
	double ns;
	size_t size;

	ret = parse_spec(argc, argv, &sp, &target, &bare, &repeat, &warmup, &netns);
	if (ret)
		return ret;
	if (!target || !netns)
		return error("cost: --target drop|PINNED_PROG and --netns NAME are required"),
		       FG_EXIT_USAGE;
	if (!repeat)
		repeat = sp.nsrc * 4ULL > 2000000 ? sp.nsrc * 4ULL : 2000000;
	if (warmup == (__u64)-1)
		warmup = sp.nsrc * 2ULL > 100000 ? sp.nsrc * 2ULL : 100000;
	memcpy(sp.smac, "\x02\x00\x00\x00\x00\x02", 6);

	if (!strcmp(target, "drop")) {
		drop = bench_drop__open_and_load();
		if (!drop) {
			error("cost: load bench_drop: %s", strerror(errno));
			goto out;
		}
		tfd = bpf_program__fd(drop->progs.bench_drop);
	} else {
		tfd = bpf_obj_get(target);
		if (tfd < 0) {
			error("cost: pinned program '%s': %s", target, strerror(errno));
			goto out;
		}
	}
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET)) {
		error("cost: enter network namespace %s: %s", netns, strerror(errno));
		goto out;
	}
	ifindex = if_nametoindex("lab0");
	if (!ifindex) {
		error("cost: no lab0 in namespace %s", netns);
		goto out;
	}
	skel = trafgen__open();
	if (!skel) {
		error("cost: open the front program: %s", strerror(errno));
		goto out;
	}
	size = build_frame(&sp, frame, skel);
	skel->rodata->tg_ifindex = ifindex;
	/* the frame starts with the first source; the front program moves it per run */
	memcpy(frame + 26, sp.family == 4 ? sp.base : sp.base + 4, 4);
	ret = trafgen__load(skel);
	if (ret) {
		error("cost: load the front program: %s", strerror(-ret));
		goto out;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.tg_next), &zero, &tfd, BPF_ANY)) {
		error("cost: tail call to '%s': %s (an XDP program with xdp.frags is needed)",
		      target, strerror(errno));
		goto out;
	}
	run_fd = bare ? tfd : bpf_program__fd(skel->progs.trafgen_chain);
	link_fd = keep_in_dispatcher(run_fd);
	ctx_in.data_end = size;
	ctx_in.ingress_ifindex = ifindex;
	ret = warmup ? time_runs(run_fd, frame, size, &ctx_in, warmup, &ns) : 0;
	if (!ret)
		ret = time_runs(run_fd, frame, size, &ctx_in, repeat, &ns);
	if (ret) {
		error("cost: BPF_PROG_TEST_RUN: %s", strerror(-ret));
		goto out;
	}
	if (json_out)
		printf("{\"target\":\"%s\",\"bare\":%s,\"sources\":%u,\"random\":%s,\"repeat\":"
		       "%" PRIu64 ",\"ns_per_packet\":%.2f}\n",
		       target, bare ? "true" : "false", sp.nsrc, sp.random ? "true" : "false",
		       (uint64_t)repeat, ns);
	else
		printf("%.2f ns/packet (%s%s, %u sources, %" PRIu64 " runs)\n", ns, target,
		       bare ? ", bare" : "", sp.nsrc, (uint64_t)repeat);
	rc = FG_EXIT_OK;
out:
	if (link_fd >= 0)
		close(link_fd);
	if (nsfd >= 0)
		close(nsfd);
	if (tfd >= 0 && !drop)
		close(tfd);
	trafgen__destroy(skel);
	bench_drop__destroy(drop);
	return rc;
}

/* Attach or detach the bare XDP_DROP in driver mode, attached past our exit (netlink). */
static int cmd_drop(int argc, char **argv, bool attach)
{
	struct bench_drop *drop;
	int ifindex, ret;

	if (argc != 2) {
		fputs(usage_text, stderr);
		return FG_EXIT_USAGE;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex)
		return error("interface '%s': %s", argv[1], strerror(errno)), FG_EXIT_ERR;
	if (!attach) {
		ret = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
		if (ret)
			return error("detach XDP from %s: %s", argv[1], strerror(-ret)), FG_EXIT_ERR;
		return FG_EXIT_OK;
	}
	drop = bench_drop__open_and_load();
	if (!drop)
		return error("load bench_drop: %s", strerror(errno)), FG_EXIT_ERR;
	ret = bpf_xdp_attach(ifindex, bpf_program__fd(drop->progs.bench_drop),
			     XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	bench_drop__destroy(drop); /* the attachment holds the program */
	if (ret)
		return error("attach bench_drop to %s: %s", argv[1], strerror(-ret)), FG_EXIT_ERR;
	return FG_EXIT_OK;
}

int main(int argc, char **argv)
{
	int i = 1;

	if (i < argc && !strcmp(argv[i], "-j")) {
		json_out = true;
		i++;
	}
	if (i >= argc || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
		fputs(usage_text, i >= argc ? stderr : stdout);
		return i >= argc ? FG_EXIT_USAGE : FG_EXIT_OK;
	}
	argc -= i, argv += i;
	if (!strcmp(argv[0], "send"))
		return cmd_send(argc, argv);
	if (!strcmp(argv[0], "check"))
		return cmd_check(argc, argv);
	if (!strcmp(argv[0], "cost"))
		return cmd_cost(argc, argv);
	if (!strcmp(argv[0], "drop-attach"))
		return cmd_drop(argc, argv, true);
	if (!strcmp(argv[0], "drop-detach"))
		return cmd_drop(argc, argv, false);
	error("unknown command '%s'", argv[0]);
	fputs(usage_text, stderr);
	return FG_EXIT_USAGE;
}
