// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * live.c: method `live`, BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES.
 *
 * The kernel runs trafgen_tx (bpf/trafgen.bpf.c) on a copy of the
 * template `repeat` times and transmits each XDP_TX out of the interface
 * named in ctx_in, so the frames are real and cost nothing to build. Some
 * kernels refuse live frames (EPERM, even to root: 6.18.44-fc-v1300 and
 * later here); tg_live_granted() asks once, with a run whose program
 * drops the frame, so the probe sends nothing.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util.h"
#include "cli.h"
#include "tg.h"
#include "trafgen.skel.h"

#define TG_RUN_MAX 65536 /* frames per BPF_PROG_RUN: about 10-30 ms of work */

/* What every live worker shares. */
struct live_job {
	const struct tg_spec *sp; /* duration */
	const struct tg_frame *f; /* the template */
	int prog_fd;		  /* trafgen_tx */
	int ifindex;		  /* the lab veth */
};

/*
 * Attach prog in generic mode to this namespace's loopback for as long as
 * the returned link fd stays open: an attached program stays in the
 * kernel's XDP dispatcher, so BPF_PROG_RUN does not wait for two RCU grace
 * periods per run to add and remove it (see bpf/trafgen.bpf.c). Returns
 * the link fd, or -1 (runs are then just slower to start).
 */
int tg_keep_in_dispatcher(int prog_fd)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_SKB_MODE);
	int fd = bpf_link_create(prog_fd, if_nametoindex("lo"), BPF_XDP, &opts);

	if (fd < 0)
		warning("cannot attach to lo (%s): every run waits for RCU", strerror(errno));
	return fd;
}

/* 1 when this kernel runs BPF_PROG_RUN with live frames for us, else 0. */
int tg_live_granted(int ifindex)
{
	__u8 frame[64] = {};
	struct xdp_md ctx = { .data_end = sizeof(frame), .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	struct trafgen *skel;
	int ok = 0;

	skel = trafgen__open();
	if (!skel)
		return 0;
	skel->rodata->tg_probe = 1;
	skel->rodata->tg_ifindex = ifindex;
	if (!trafgen__load(skel))
		ok = !bpf_prog_test_run_opts(bpf_program__fd(skel->progs.trafgen_tx), &opts);
	trafgen__destroy(skel);
	return ok;
}

static void *live_worker(void *arg)
{
	struct tg_worker *w = arg;
	const struct live_job *job = w->method_data;
	struct xdp_md ctx_in = { .data_end = job->f->size, .ingress_ifindex = job->ifindex };
	double t0 = tg_now(), elapsed;
	__u64 n, due, min;

	while (w->sent < w->count && !tg_interrupted) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = job->f->data,
			    .data_size_in = job->f->size, .ctx_in = &ctx_in,
			    .ctx_size_in = sizeof(ctx_in), .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			    .batch_size = job->sp->batch);

		elapsed = tg_now() - t0;
		if (elapsed >= job->sp->duration)
			break;
		n = TG_RUN_MAX;
		if (w->rate) {
			/*
			 * Runs of 5 ms of frames: a run costs a syscall and a page
			 * pool set up and torn down, so it is worth it only for
			 * many frames. A run that waited (another process held
			 * the kernel's XDP dispatcher) is caught up by the next.
			 */
			due = (elapsed + 0.005) * w->rate;
			min = w->rate / 200 ? w->rate / 200 : 1;
			if (min > w->count - w->sent)
				min = w->count - w->sent;
			if (due < w->sent + min) {
				tg_sleep_until(t0 + (double)(w->sent + min) / w->rate - 0.005);
				continue;
			}
			n = due - w->sent;
		}
		if (n > TG_RUN_MAX)
			n = TG_RUN_MAX;
		if (n > w->count - w->sent)
			n = w->count - w->sent;
		opts.repeat = n;
		if (bpf_prog_test_run_opts(job->prog_fd, &opts)) {
			w->err = -errno, w->what = "BPF_PROG_RUN live frames";
			break;
		}
		w->sent += n;
	}
	return NULL;
}

int tg_send_live(const struct tg_spec *sp, const struct tg_frame *f, int ifindex,
		 struct tg_worker *w, int n, struct tg_result *res)
{
	struct live_job job = { .sp = sp, .f = f, .ifindex = ifindex };
	struct trafgen *skel;
	__u64 runs = 0, *percpu = NULL, prog_sent = 0;
	int i, ret, ncpu, link_fd = -1, rc = FG_EXIT_ERR;
	__u32 zero = 0;
	double t0;

	res->method = "live";
	skel = trafgen__open();
	if (!skel)
		return error("send: open the generator program: %s", strerror(errno)), FG_EXIT_ERR;
	tg_set_rodata(f, skel);
	skel->rodata->tg_ifindex = ifindex;
	ret = trafgen__load(skel);
	if (ret) {
		error("send: load the generator program: %s", strerror(-ret));
		goto out;
	}
	job.prog_fd = bpf_program__fd(skel->progs.trafgen_tx);
	link_fd = tg_keep_in_dispatcher(job.prog_fd);
	for (i = 0; i < n; i++)
		w[i].method_data = &job;
	t0 = tg_now();
	ret = tg_run_workers(w, n, live_worker);
	res->seconds = tg_now() - t0;
	if (ret) {
		error("send: start a sender thread: %s", strerror(-ret));
		goto out;
	}
	for (i = 0; i < n; i++) {
		runs += w[i].sent;
		if (w[i].err) {
			error("send: %s on CPU %d: %s", w[i].what, w[i].cpu, strerror(-w[i].err));
			goto out;
		}
	}
	ncpu = libbpf_num_possible_cpus();
	percpu = ncpu > 0 ? calloc(ncpu, sizeof(*percpu)) : NULL;
	if (percpu && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.tg_sent), &zero, percpu))
		for (i = 0; i < ncpu; i++)
			prog_sent += percpu[i];
	res->frames = prog_sent;
	if (prog_sent != runs) {
		error("send: the program transmitted %llu of %llu frames",
		      (unsigned long long)prog_sent, (unsigned long long)runs);
		goto out;
	}
	rc = 0;
out:
	if (link_fd >= 0)
		close(link_fd);
	free(percpu);
	trafgen__destroy(skel);
	return rc;
}
