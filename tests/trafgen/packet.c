// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * packet.c: method `packet`, frames through an AF_PACKET socket with
 * sendmmsg(2), one socket and thread per CPU.
 *
 * Every frame is written here (tg_write_source) and handed to the kernel
 * one system call per batch, so this method knows exactly which frames
 * went out: worker s of T sends frame numbers s, s + T, s + 2T, ... and
 * frame k carries source k mod N (or a random one), so the per-source
 * counts of a send are exact however the frames are split. Pacing is to
 * the frame: frame j of a worker is not sent before j / rate seconds, and
 * a worker that fell behind sends at most 10 ms of the rate at once.
 *
 * PACKET_QDISC_BYPASS hands each frame straight to the veth's xmit. When
 * the peer's ring is full the veth refuses it (ENOBUFS) and it is sent
 * again after a yield: a refused frame is never counted as sent. The
 * kernel picks the transmit queue from the sending CPU (packet_pick_tx_queue),
 * so on a veth with a queue per CPU the threads do not share a ring.
 */
#define _GNU_SOURCE /* sendmmsg */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

#include "util.h"
#include "cli.h"
#include "tg.h"

/* What every packet worker shares. */
struct packet_job {
	const struct tg_spec *sp; /* threads, batch, duration */
	const struct tg_frame *f; /* the template */
	int ifindex;		  /* the lab veth */
};

/* An AF_PACKET socket that transmits out of ifindex, bypassing the qdisc. Returns fd or -errno. */
int tg_packet_socket(int ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex };
	int fd, one = 1, sndbuf = 4 << 20, err;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: receives nothing */
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one))) {
		err = -errno;
		close(fd);
		return err;
	}
	/* room for a full ring of frames in flight; the plain limit is the fallback */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	return fd;
}

static void *packet_worker(void *arg)
{
	struct tg_worker *w = arg;
	const struct packet_job *job = w->method_data;
	const struct tg_frame *f = job->f;
	static __thread __u8 bufs[TG_BATCH_MAX][TG_FRAME_MAX];
	struct mmsghdr msgs[TG_BATCH_MAX] = {};
	struct iovec iov[TG_BATCH_MAX];
	__u64 j = 0, n, due, k, rng = 0x9e3779b97f4a7c15ULL * (w->slot + 1);
	unsigned int threads = job->sp->threads, batch = job->sp->batch, i;
	__u64 catchup = w->rate / 100 > batch ? w->rate / 100 : batch; /* 10 ms of the rate */
	double t0 = tg_now(), t;
	int fd, r;

	fd = tg_packet_socket(job->ifindex);
	if (fd < 0) {
		w->err = fd, w->what = "AF_PACKET socket";
		return NULL;
	}
	for (i = 0; i < batch; i++) {
		memcpy(bufs[i], f->data, f->size);
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = f->size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (j < w->count && !tg_interrupted) {
		t = tg_now();
		if (t - t0 >= job->sp->duration)
			break;
		n = w->count - j < batch ? w->count - j : batch;
		if (w->rate) {
			due = (__u64)((t - t0) * w->rate) + 1; /* frame j is due at j / rate */
			if (due > j + catchup) {
				/* late (a busy CPU): no burst to make up for it */
				t0 = t - (double)(j + catchup) / w->rate;
				due = j + catchup;
			}
			if (due <= j) {
				tg_sleep_until(t0 + (double)j / w->rate);
				continue;
			}
			if (n > due - j)
				n = due - j;
		}
		for (i = 0; i < n; i++) {
			k = w->slot + (j + i) * threads;
			tg_write_source(f, bufs[i], tg_source_index(f, k, &rng));
		}
		r = sendmmsg(fd, msgs, n, MSG_DONTWAIT);
		if (r > 0)
			j += r;
		if (r == (int)n)
			continue;
		if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
			w->err = -errno, w->what = "sendmmsg";
			break;
		}
		w->retries++; /* the peer's ring is full: let its NAPI run */
		sched_yield();
	}
	w->sent = j;
	close(fd);
	return NULL;
}

int tg_send_packet(const struct tg_spec *sp, const struct tg_frame *f, int ifindex,
		   struct tg_worker *w, int n, struct tg_result *res)
{
	struct packet_job job = { .sp = sp, .f = f, .ifindex = ifindex };
	double t0;
	int i, err;

	for (i = 0; i < n; i++)
		w[i].method_data = &job;
	t0 = tg_now();
	err = tg_run_workers(w, n, packet_worker);
	res->seconds = tg_now() - t0;
	res->method = "packet";
	if (err)
		return error("send: start a sender thread: %s", strerror(-err)), FG_EXIT_ERR;
	for (i = 0; i < n; i++) {
		res->frames += w[i].sent;
		res->retries += w[i].retries;
		if (w[i].err)
			return error("send: packet: %s on CPU %d: %s", w[i].what, w[i].cpu,
				     strerror(-w[i].err)),
			       FG_EXIT_ERR;
	}
	return 0;
}
