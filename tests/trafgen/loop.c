// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * loop.c: method `loop`, the XDP devmap broadcast loop.
 *
 *         seeds (AF_PACKET)         tg_ports[0]: round again
 *   tg<PID>s ------------> tg<PID>l  <--------------------.
 *                            | trafgen_loop: next source, |
 *                            | redirect to both ports ----'
 *                            v tg_ports[1]
 *                          IFACE (the lab veth) --> its peer, floodgate's side
 *
 * A helper veth pair is made in the lab namespace, trafgen_loop attached
 * to one end through a bpf_link (it goes when we do, however we end), and
 * each sender thread seeds the loop of its CPU with --batch frames sent
 * into the other end. Every bounce of a frame sends one copy, with the
 * next source, out of IFACE, so a CPU turns each frame round in softirq
 * without a system call per frame. The thread then only watches: it
 * raises its CPU's grant (headers/trafgen.h, struct tg_loop_cpu) every
 * millisecond to pace the loop, and seeds again once every frame it sent
 * in has ended (a loop with nothing granted stops rather than spin, so a
 * paced loop costs CPU time in proportion to its rate).
 *
 * Counts: the copies sent out of IFACE are exact in total (each uses one
 * unit of the grant). Per source, CPU s of T steps through the sources s,
 * s + T, s + 2T, ... (mod the number of sources), so a send whose count
 * the threads share evenly sends every source the same number of times.
 * A copy that the peer's full ring refuses is lost (the report's
 * peer_dropped), never retried: use method packet where every frame must
 * arrive. All of this assumes a frame stays on the CPU that seeded it,
 * which holds while the helper pair's NAPI is not threaded (a veth hands a
 * redirected frame to its peer's queue of the sending CPU).
 */
#define _GNU_SOURCE /* sendmmsg */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util.h"
#include "cli.h"
#include "tg.h"
#include "trafgen.skel.h"

#define LOOP_TICK  0.001 /* seconds between a thread's looks at its loop */
#define LOOP_AHEAD 0.004 /* paced: seconds of frames granted beyond what the loop used */
#define LOOP_CHUNK 50000 /* unpaced: frames granted beyond what the loop used */
#define LOOP_STALL 0.1	 /* seeds the program has not seen this long after sending were lost */

/* What every loop worker shares. */
struct loop_job {
	const struct tg_spec *sp;  /* duration, batch */
	struct trafgen *skel;	   /* the loop program and its .bss slots */
	int seed_ifindex;	   /* tg<PID>s */
	__u8 seed[TG_FRAME_MAX];   /* the template with the seed mark */
	size_t size;		   /* frame length */
	__u64 seeded[TG_MAX_CPUS]; /* seed frames each worker (by slot) sent in */
};

/* Send n seeds into the loop; returns how many the kernel took. */
static __u64 seed(int fd, const struct loop_job *job, unsigned int n)
{
	struct mmsghdr msgs[TG_BATCH_MAX] = {};
	struct iovec iov = { .iov_base = (void *)job->seed, .iov_len = job->size };
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(fd, msgs, n, MSG_DONTWAIT);
	return r > 0 ? r : 0;
}

/*
 * The grant never runs far ahead of what the loop used (LOOP_AHEAD of the
 * rate, or LOOP_CHUNK frames unpaced), so a thread that stops (SIGSTOP, a
 * CPU too busy to run it) stops its loop soon after, and a thread that
 * was late does not make up for it with a burst. Seeds the program never
 * saw (a frame the veth dropped on the way in) are forgotten after
 * LOOP_STALL, so the loop is seeded again.
 */
static void *loop_worker(void *arg)
{
	struct tg_worker *w = arg;
	struct loop_job *job = w->method_data;
	volatile struct tg_loop_cpu *lc = &job->skel->bss->tg_loop[w->cpu];
	double t0 = tg_now(), t, seen = t0;
	__u64 *seeded = &job->seeded[w->slot], used, g, cap, entered, last = 0;
	__u64 ahead = w->rate * LOOP_AHEAD > job->sp->batch ? w->rate * LOOP_AHEAD : job->sp->batch;
	int fd;

	fd = tg_packet_socket(job->seed_ifindex);
	if (fd < 0) {
		w->err = fd, w->what = "AF_PACKET socket for the seeds";
		return NULL;
	}
	for (;;) {
		t = tg_now();
		used = lc->used;
		if (used >= w->count || tg_interrupted || t - t0 >= job->sp->duration)
			break;
		g = w->rate ? (__u64)((t - t0 + LOOP_TICK) * w->rate) : w->count;
		cap = used + (w->rate ? ahead : LOOP_CHUNK);
		g = g < cap ? g : cap;
		g = g < w->count ? g : w->count;
		if (g > lc->granted)
			lc->granted = g;
		entered = lc->seeds;
		if (entered != last || *seeded <= entered) {
			last = entered;
			seen = t;
		} else if (t - seen > LOOP_STALL) {
			*seeded = entered;
			w->retries++;
		}
		if (lc->ended >= *seeded && lc->granted > used)
			*seeded += seed(fd, job, job->sp->batch);
		tg_sleep_until(t + LOOP_TICK);
	}
	close(fd);
	return NULL;
}

/* Stop every loop and wait (100 ms at most) until their frames have ended. */
static void loop_stop(struct loop_job *job, struct tg_worker *w, int n)
{
	double until = tg_now() + 0.1;
	int i, live;

	job->skel->bss->tg_stop = 1;
	do {
		for (i = 0, live = 0; i < n; i++)
			live += job->skel->bss->tg_loop[w[i].cpu].ended < job->seeded[w[i].slot];
		if (live)
			tg_sleep_until(tg_now() + 0.001);
	} while (live && tg_now() < until);
}

int tg_send_loop(const struct tg_spec *sp, const struct tg_frame *f, int ifindex,
		 struct tg_worker *w, int n, struct tg_result *res)
{
	static struct loop_job job;
	char lname[IF_NAMESIZE], sname[IF_NAMESIZE];
	struct bpf_link *link = NULL;
	int i, err, lidx, queues, rc = FG_EXIT_ERR;
	__u32 key, val;
	double t0;

	res->method = "loop";
	memset(&job, 0, sizeof(job));
	job.sp = sp;
	job.size = f->size;
	memcpy(job.seed, f->data, f->size);
	job.seed[f->ipv6 ? TG_MARK6_OFF : TG_MARK4_OFF] = TG_SEED_MARK;

	tg_loop_pairs_reap();
	snprintf(lname, sizeof(lname), "tg%dl", getpid());
	snprintf(sname, sizeof(sname), "tg%ds", getpid());
	queues = libbpf_num_possible_cpus();
	if (queues > TG_MAX_CPUS)
		queues = TG_MAX_CPUS;
	err = tg_veth_add(lname, sname, queues);
	if (err) {
		tg_link_del(lname); /* in case the kernel made it before failing */
		return error("send: loop: make the helper veth pair %s/%s: %s", lname, sname,
			     strerror(-err)),
		       FG_EXIT_ERR;
	}

	job.skel = trafgen__open();
	if (!job.skel) {
		error("send: loop: open the generator program: %s", strerror(errno));
		goto out;
	}
	tg_set_rodata(f, job.skel);
	err = trafgen__load(job.skel);
	if (err) {
		error("send: loop: load the generator program: %s", strerror(-err));
		goto out;
	}
	lidx = if_nametoindex(lname);
	job.seed_ifindex = if_nametoindex(sname);
	for (key = 0; key < 2; key++) {
		val = key ? ifindex : job.seed_ifindex;
		if (bpf_map_update_elem(bpf_map__fd(job.skel->maps.tg_ports), &key, &val, 0)) {
			error("send: loop: port %u of the devmap: %s", key, strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		w[i].method_data = &job;
		job.skel->bss->tg_loop[w[i].cpu].stride = n;
		job.skel->bss->tg_loop[w[i].cpu].next = w[i].slot % f->nsrc;
	}
	link = bpf_program__attach_xdp(job.skel->progs.trafgen_loop, lidx);
	if (!link) {
		error("send: loop: attach to %s: %s", lname, strerror(errno));
		goto out;
	}
	err = tg_link_up(sname);
	err = err ? err : tg_link_up(lname);
	if (err) {
		error("send: loop: bring %s and %s up: %s", lname, sname, strerror(-err));
		goto out;
	}

	t0 = tg_now();
	err = tg_run_workers(w, n, loop_worker);
	res->seconds = tg_now() - t0;
	loop_stop(&job, w, n);
	if (err) {
		error("send: loop: start a sender thread: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < n; i++) {
		w[i].sent = job.skel->bss->tg_loop[w[i].cpu].used;
		res->frames += w[i].sent;
		res->retries += w[i].retries;
		if (w[i].err) {
			error("send: loop: %s on CPU %d: %s", w[i].what, w[i].cpu,
			      strerror(-w[i].err));
			goto out;
		}
	}
	rc = 0;
out:
	bpf_link__destroy(link);
	trafgen__destroy(job.skel);
	err = tg_link_del(lname);
	if (err)
		warning("remove the helper veth pair %s: %s", lname, strerror(-err));
	return rc;
}
