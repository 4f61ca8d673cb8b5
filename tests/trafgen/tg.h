/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tg.h: what the parts of the lab's traffic generator share.
 *
 *   main.c     the command line, `send` (choosing a method) and its report
 *   frame.c    the template frame, its checksums and the lab's address ranges
 *   netlink.c  interface facts, the safety rule, the loop's helper veth pair
 *   live.c     method `live`: BPF_PROG_RUN live frames (kernels that allow it)
 *   packet.c   method `packet`: AF_PACKET sendmmsg, exact and paced
 *   loop.c     method `loop`: the XDP devmap broadcast loop, for raw rate
 *   cost.c     `cost` and the baselines (`drop-attach`, `naive-attach`,
 *              `drop-detach`): the per-packet benchmark
 *
 * Every method sends the same frames: the template of frame.c with source
 * index i written at TG_SRC_OFF (headers/trafgen.h) and checksums made
 * whole again, in userspace (packet) or by bpf/trafgen.bpf.c (live, loop).
 */
#ifndef TG_H
#define TG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/if_link.h>
#include <linux/types.h>

#include "trafgen.h" /* headers/: shared with the XDP programs */

#define TG_FRAME_MAX 1500
#define TG_BATCH_MAX 256

struct trafgen;

/* How `send` transmits. */
enum tg_method {
	TG_AUTO,   /* live where the kernel allows it, else packet */
	TG_LIVE,   /* BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES */
	TG_PACKET, /* AF_PACKET sendmmsg, PACKET_QDISC_BYPASS */
	TG_LOOP,   /* XDP devmap broadcast loop on a helper veth pair */
};

/* What to send: the parsed command line of `send` and `cost`. */
struct tg_spec {
	int family;	       /* 4 or 6, from --dst */
	bool syn;	       /* TCP SYN instead of UDP */
	bool random;	       /* random source per frame */
	__u8 dmac[6];	       /* destination MAC */
	__u8 smac[6];	       /* source MAC (the interface's own unless --smac) */
	bool have_smac;	       /* --smac given */
	__u8 dst[16];	       /* destination address, network order */
	__u8 base[16];	       /* first source address, network order */
	__u32 nsrc;	       /* distinct sources */
	__u16 sport, dport;    /* ports, host order */
	__u32 size;	       /* frame length without FCS */
	__u64 count;	       /* frames to send (send), runs to time (cost) */
	double duration;       /* seconds, upper bound (send) */
	__u64 rate;	       /* frames per second in all, 0 = as fast as possible (send) */
	__u32 batch;	       /* frames per system call, or seeds per loop (send) */
	__u32 threads;	       /* senders, one per CPU of the affinity mask (send) */
	enum tg_method method; /* --method (send) */
	__u64 ban_storm;       /* bans per second a second thread provokes (cost) */
	__u64 naive_pps;       /* the naive limiter's packets per second per source (cost) */
	__u64 naive_burst;     /* and its burst (cost) */
	const char *ifname;    /* the interface the runs come in on, in --netns (cost; lab0) */
};

/*
 * The template frame and the partial checksums the source rewrite starts
 * from: every word summed but the varied source word (and, for IPv4, the
 * header checksum itself).
 */
struct tg_frame {
	__u8 data[TG_FRAME_MAX]; /* the frame, source word zero */
	size_t size;		 /* length without FCS, at least 60 */
	bool ipv6;		 /* IPv6 (no header checksum) */
	bool udp;		 /* UDP: a computed 0 checksum goes out as 0xffff */
	__u16 l4_check;		 /* offset of the UDP/TCP checksum */
	__u32 ip_sum;		 /* IPv4 header word sum without the source (unfolded) */
	__u32 l4_sum;		 /* L4 and pseudo-header word sum without the varied word */
	__u32 base;		 /* first source word, host order */
	__u32 nsrc;		 /* distinct sources */
	bool random;		 /* random source per frame */
};

/* Interface facts from rtnetlink. */
struct tg_link {
	char kind[16];		     /* IFLA_INFO_KIND, "" when none */
	int peer_ifindex;	     /* IFLA_LINK, 0 when none */
	int peer_netnsid;	     /* IFLA_LINK_NETNSID, -1 when the peer is in this namespace */
	__u8 mac[6];		     /* IFLA_ADDRESS */
	struct rtnl_link_stats64 st; /* IFLA_STATS64 */
};

/* One sender thread: its share of the frames and the rate, and what it did. */
struct tg_worker {
	int slot;	   /* 0 .. threads - 1: frames slot, slot + threads, ... */
	int cpu;	   /* the CPU it runs on */
	__u64 count;	   /* frames of its share */
	__u64 rate;	   /* frames per second of its share, 0 = unpaced */
	__u64 sent;	   /* frames handed to the interface */
	__u64 retries;	   /* packet: sends refused for a moment (full ring); loop: lost seeds */
	int err;	   /* 0, or -errno of the failure that ended it */
	const char *what;  /* what failed, for the error line */
	void *method_data; /* the method's own state */
};

/* The result of `send`, whatever the method. */
struct tg_result {
	const char *method; /* "live", "packet" or "loop" */
	__u64 frames;	    /* frames handed to the interface */
	__u64 retries;	/* packet: sends refused and repeated; loop: seeds lost and sent again */
	double seconds; /* from the first frame to the last */
};

/* The signal (SIGINT, SIGTERM) that stops every sender at its next check, or 0. */
extern volatile int tg_interrupted;

/* frame.c */
int tg_parse_mac(const char *what, const char *s, __u8 mac[6]);
int tg_parse_lab_addr(const char *what, const char *s, int family, __u8 out[16]);
int tg_check_sources(const struct tg_spec *sp);
void tg_build_frame(const struct tg_spec *sp, struct tg_frame *f);
void tg_set_rodata(const struct tg_frame *f, struct trafgen *skel);
void tg_write_source(const struct tg_frame *f, __u8 *data, __u32 index);
__u32 tg_source_index(const struct tg_frame *f, __u64 frame, __u64 *rng);

/* netlink.c */
int tg_link_query(int ifindex, struct tg_link *out);
int tg_lab_check(const char *ifname, struct tg_link *lk);
int tg_veth_add(const char *name, const char *peer, int queues);
int tg_link_up(const char *name);
int tg_link_del(const char *name);
void tg_loop_pairs_reap(void);

/* main.c: time and threads the methods share */
double tg_now(void);
void tg_sleep_until(double t);
int tg_assign_cpus(struct tg_worker *w, int n);
int tg_run_workers(struct tg_worker *w, int n, void *(*fn)(void *));

/* The methods: 0, or an exit code after an error line. */
int tg_live_granted(int ifindex);
int tg_keep_in_dispatcher(int prog_fd);
int tg_packet_socket(int ifindex);
int tg_send_live(const struct tg_spec *sp, const struct tg_frame *f, int ifindex,
		 struct tg_worker *w, int n, struct tg_result *res);
int tg_send_packet(const struct tg_spec *sp, const struct tg_frame *f, int ifindex,
		   struct tg_worker *w, int n, struct tg_result *res);
int tg_send_loop(const struct tg_spec *sp, const struct tg_frame *f, int ifindex,
		 struct tg_worker *w, int n, struct tg_result *res);

/* cost.c */
int tg_cmd_cost(int argc, char **argv);
int tg_cmd_baseline(int argc, char **argv, const char *name);
int tg_parse_spec(int argc, char **argv, struct tg_spec *sp, const char **target, bool *bare,
		  __u64 *repeat, __u64 *warmup, const char **netns);
extern bool tg_json;
extern const char tg_usage[];

#endif /* TG_H */
