// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * cost.c: the per-packet benchmark, `trafgen cost`, and the baselines it
 * and the live benchmark compare floodgate with: a bare XDP_DROP
 * (bpf/bench_drop.bpf.c) and a naive per-source limiter
 * (bpf/bench_naive.bpf.c), attached with `drop-attach` and `naive-attach`
 * and removed with `drop-detach`.
 *
 * `cost` runs the program under test with BPF_PROG_TEST_RUN behind a front
 * program (trafgen_chain in bpf/trafgen.bpf.c) that writes the next
 * source into the frame and tail-calls it, so the target sees as many
 * sources as asked; `--bare` runs the target alone. Time is this thread's
 * CPU time per run, so other processes' time on the CPU is left out.
 * BPF_PROG_TEST_RUN runs every repetition on the buffer the last one left:
 * with --proto syn the front writes the whole SYN back first (a SYN
 * proxy answers it in place), and a target that answers with XDP_TX
 * without that is refused, not timed on its own answers.
 */
#define _GNU_SOURCE /* setns */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"
#include "util.h"
#include "cli.h"
#include "tg.h"
#include "trafgen.skel.h"
#include "bench_drop.skel.h"
#include "bench_naive.skel.h"

/* The baselines' programs, loaded by name. */
struct baselines {
	struct bench_drop *drop;   /* bare XDP_DROP */
	struct bench_naive *naive; /* naive per-source limiter */
};

/*
 * Load baseline `name` (drop or naive); returns its program fd, -ENOENT
 * for another name, or -errno after an error line.
 */
static int baseline_load(const char *name, const struct tg_spec *sp, struct baselines *b)
{
	int err;

	if (!strcmp(name, "drop")) {
		b->drop = bench_drop__open_and_load();
		if (!b->drop)
			return error("load bench_drop: %s", strerror(errno)), -errno;
		return bpf_program__fd(b->drop->progs.bench_drop);
	}
	if (!strcmp(name, "naive")) {
		b->naive = bench_naive__open();
		if (!b->naive)
			return error("load bench_naive: %s", strerror(errno)), -errno;
		b->naive->rodata->nb_hz = fg_kernel_hz();
		b->naive->rodata->nb_rate = sp->naive_pps;
		b->naive->rodata->nb_burst = sp->naive_burst;
		err = bench_naive__load(b->naive);
		if (err)
			return error("load bench_naive: %s", strerror(-err)), err;
		return bpf_program__fd(b->naive->progs.bench_naive);
	}
	return -ENOENT;
}

static void baselines_free(struct baselines *b)
{
	bench_drop__destroy(b->drop);
	bench_naive__destroy(b->naive);
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

/* One run of prog over frame: its verdict (an XDP action), or -errno. */
static int probe_run(int prog_fd, const __u8 *frame, size_t size, struct xdp_md *ctx)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = size, .ctx_in = ctx,
		    .ctx_size_in = sizeof(*ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	return (int)opts.retval;
}

/*
 * --ban-storm: a second thread provoking `per_sec` drops (bans, under a
 * rule that bans) per second from new sources while the timed runs go
 * on, on another CPU, so what the timed sources pay for them shows.
 */
struct storm {
	int fd;		    /* the target program */
	struct tg_frame f;  /* its frame: to --dport + 1 */
	struct xdp_md ctx;  /* the runs' context */
	__u64 per_sec;	    /* sources dropped per second wanted */
	volatile bool stop; /* set by the timing thread when it is done */
	__u64 bans;	    /* sources dropped */
	double seconds;	    /* how long it ran */
	int err;	    /* first error, -errno */
	pthread_t thread;   /* the thread */
};

#define STORM_FIRST 32768 /* first source index of the storm: the /16's top half */

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *storm_run(void *arg)
{
	struct storm *s = arg;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_size_in = s->f.size, .ctx_in = &s->ctx,
		    .ctx_size_in = sizeof(s->ctx), .repeat = 1);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	static __u8 data[TG_FRAME_MAX];
	struct timespec next;
	double t0 = wall_s();
	cpu_set_t set;
	__u32 k, i;

	CPU_ZERO(&set);
	CPU_SET(ncpu > 1 ? ncpu - 1 : 0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	clock_gettime(CLOCK_MONOTONIC, &next);
	o.data_in = data;
	for (k = 0; !s->stop; k++) {
		memcpy(data, s->f.data, s->f.size);
		tg_write_source(&s->f, data, STORM_FIRST + k % STORM_FIRST);
		for (i = 0; i < 64; i++) {
			if (bpf_prog_test_run_opts(s->fd, &o)) {
				s->err = -errno;
				return NULL;
			}
			if (o.retval == XDP_DROP) {
				s->bans++;
				break;
			}
		}
		next.tv_nsec += 1000000000L / s->per_sec;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	s->seconds = wall_s() - t0;
	return NULL;
}

/*
 * cost: the target is opened here (a pinned path needs the host's bpffs),
 * then we move into the lab namespace --netns, whose lab0 is the runs'
 * ingress interface and whose loopback keeps the run program in the XDP
 * dispatcher.
 */
int tg_cmd_cost(int argc, char **argv)
{
	static struct tg_frame f;
	struct trafgen *skel = NULL;
	static struct storm storm;
	bool storm_on = false;
	struct baselines base = {};
	const char *target = NULL, *netns = NULL;
	struct xdp_md ctx_in = {};
	struct tg_spec sp;
	__u64 repeat = 0, warmup = (__u64)-1;
	bool bare = false;
	int ret, tfd = -1, run_fd, nsfd = -1, link_fd = -1, ifindex, rc = FG_EXIT_ERR;
	char path[PATH_MAX];
	__u32 zero = 0;
	double ns;

	ret = tg_parse_spec(argc, argv, &sp, &target, &bare, &repeat, &warmup, &netns);
	if (ret)
		return ret;
	if (!target || !netns)
		return error("cost: --target drop|naive|PINNED_PROG and --netns NAME are required"),
		       FG_EXIT_USAGE;
	if (!repeat)
		repeat = sp.nsrc * 4ULL > 2000000 ? sp.nsrc * 4ULL : 2000000;
	if (warmup == (__u64)-1)
		warmup = sp.nsrc * 2ULL > 100000 ? sp.nsrc * 2ULL : 100000;
	memcpy(sp.smac, "\x02\x00\x00\x00\x00\x02", 6);

	tfd = baseline_load(target, &sp, &base);
	if (tfd == -ENOENT) {
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
	ifindex = if_nametoindex(sp.ifname ? sp.ifname : "lab0");
	if (!ifindex) {
		error("cost: no %s in namespace %s", sp.ifname ? sp.ifname : "lab0", netns);
		goto out;
	}
	skel = trafgen__open();
	if (!skel) {
		error("cost: open the front program: %s", strerror(errno));
		goto out;
	}
	tg_build_frame(&sp, &f);
	tg_set_rodata(&f, skel);
	skel->rodata->tg_ifindex = ifindex;
	if (sp.syn) { /* the front writes the SYN back before every run (trafgen_chain) */
		if (f.size > TG_RESTORE_MAX) {
			error("cost: --proto syn takes frames of at most %d bytes, not %zu",
			      TG_RESTORE_MAX, f.size);
			goto out;
		}
		skel->rodata->tg_restore = 1;
	}
	/* the frame starts with the first source; the front program moves it per run */
	tg_write_source(&f, f.data, 0);
	if (sp.syn)
		memcpy((void *)skel->rodata->tg_tmpl, f.data, f.size);
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
	link_fd = tg_keep_in_dispatcher(run_fd);
	ctx_in.data_end = f.size;
	ctx_in.ingress_ifindex = ifindex;
	/* a target that answers in place, unless the front writes the frame back, meets its answer */
	ret = probe_run(run_fd, f.data, f.size, &ctx_in);
	if (ret == XDP_TX && (bare || !sp.syn)) {
		error("cost: '%s' answered the frame with XDP_TX: every later run would meet its "
		      "answer (BPF_PROG_TEST_RUN reuses the buffer); %s",
		      target,
		      bare ? "run it without --bare, whose runs have no front to write the frame "
			     "back"
			   : "--proto syn writes a SYN back before each run");
		goto out;
	}
	if (ret < 0) {
		error("cost: BPF_PROG_TEST_RUN: %s", strerror(-ret));
		goto out;
	}
	ret = warmup ? time_runs(run_fd, f.data, f.size, &ctx_in, warmup, &ns) : 0;
	if (!ret && sp.ban_storm) {
		if (sp.nsrc > STORM_FIRST) {
			error("cost: --ban-storm takes sources from index %d on: --sources %u is "
			      "more",
			      STORM_FIRST, sp.nsrc);
			goto out;
		}
		storm.fd = tfd;
		storm.ctx = ctx_in;
		storm.per_sec = sp.ban_storm;
		sp.dport++;
		tg_build_frame(&sp, &storm.f);
		sp.dport--;
		if ((ret = -pthread_create(&storm.thread, NULL, storm_run, &storm))) {
			error("cost: start the ban storm: %s", strerror(-ret));
			goto out;
		}
		storm_on = true;
		nanosleep(&(struct timespec){ .tv_nsec = 200000000 }, NULL); /* under way first */
	}
	if (!ret)
		ret = time_runs(run_fd, f.data, f.size, &ctx_in, repeat, &ns);
	if (storm_on) {
		storm.stop = true;
		pthread_join(storm.thread, NULL);
		storm_on = false;
		if (!ret && storm.err)
			ret = storm.err;
	}
	if (ret) {
		error("cost: BPF_PROG_TEST_RUN: %s", strerror(-ret));
		goto out;
	}
	if (sp.ban_storm && storm.bans < storm.seconds * sp.ban_storm / 2) {
		error("cost: the ban storm dropped %" PRIu64 " sources in %.1f s, not %" PRIu64
		      " a second: does udp/%u ban?",
		      (uint64_t)storm.bans, storm.seconds, (uint64_t)sp.ban_storm, sp.dport + 1);
		goto out;
	}
	if (tg_json)
		printf("{\"target\":\"%s\",\"bare\":%s,\"sources\":%u,\"random\":%s,\"repeat\":"
		       "%" PRIu64 ",\"ns_per_packet\":%.2f,\"storm_bans_per_second\":%.0f}\n",
		       target, bare ? "true" : "false", sp.nsrc, sp.random ? "true" : "false",
		       (uint64_t)repeat, ns, storm.seconds > 0 ? storm.bans / storm.seconds : 0.0);
	else
		printf("%.2f ns/packet (%s%s, %u sources, %" PRIu64 " runs)\n", ns, target,
		       bare ? ", bare" : "", sp.nsrc, (uint64_t)repeat);
	rc = FG_EXIT_OK;
out:
	if (storm_on) {
		storm.stop = true;
		pthread_join(storm.thread, NULL);
	}
	if (link_fd >= 0)
		close(link_fd);
	if (nsfd >= 0)
		close(nsfd);
	if (tfd >= 0 && !base.drop && !base.naive)
		close(tfd);
	trafgen__destroy(skel);
	baselines_free(&base);
	return rc;
}

/*
 * Attach a baseline (drop or naive; NULL: detach whatever is attached) in
 * driver mode, attached past our exit (netlink). Only on a lab interface:
 * a veth named fgl* (scripts/lab.sh's host ends), so a wrong name cannot
 * cut a real interface off.
 */
int tg_cmd_baseline(int argc, char **argv, const char *name)
{
	/* the live bench floods: 1 packet per second per source, burst 1, drops all but the first */
	const struct tg_spec live = { .naive_pps = 1, .naive_burst = 1 };
	struct baselines base = {};
	struct tg_link lk;
	int ifindex, ret, fd;

	if (argc != 2) {
		fputs(tg_usage, stderr);
		return FG_EXIT_USAGE;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex)
		return error("interface '%s': %s", argv[1], strerror(errno)), FG_EXIT_ERR;
	ret = tg_link_query(ifindex, &lk);
	if (ret)
		return error("interface '%s': %s", argv[1], strerror(-ret)), FG_EXIT_ERR;
	if (strncmp(argv[1], "fgl", 3) || strcmp(lk.kind, "veth"))
		return error("refusing '%s': not one of the lab's veths (fgl*)", argv[1]),
		       FG_EXIT_ERR;
	if (!name) {
		ret = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
		if (ret)
			return error("detach XDP from %s: %s", argv[1], strerror(-ret)), FG_EXIT_ERR;
		return FG_EXIT_OK;
	}
	fd = baseline_load(name, &live, &base);
	ret = fd < 0 ? fd
		     : bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
				      NULL);
	baselines_free(&base); /* the attachment holds the program */
	if (ret)
		return error("attach %s to %s: %s", name, argv[1], strerror(-ret)), FG_EXIT_ERR;
	return FG_EXIT_OK;
}
