// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * maps.c: the pinned state. Opening the pinned maps by name, the writers'
 * lock, the data path's clock, per-CPU sums. Every command works on these
 * pins, whether or not a daemon runs.
 */
#include <stdio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util.h"
#include "maps.h"
#include "cli.h"

#define MAP(name, field)                                                                           \
	{                                                                                          \
#name, offsetof(struct fg_maps, field)                                             \
	}
const struct fg_map_desc fg_map_table[] = {
	MAP(fg_config, config),		MAP(fg_ports, ports),
	MAP(fg_state, state),		MAP(fg_pressure, pressure),
	MAP(fg_lists, lists),		MAP(fg_lfilter, lfilter),
	MAP(fg_sources, sources),	MAP(fg_bans, bans),
	MAP(fg_totals, totals),		MAP(fg_counters, counters),
	MAP(fg_rule_stats, rule_stats), MAP(fg_events, events),
	MAP(fg_barrier, barrier),	MAP(fg_attack, attack),
	MAP(fg_verdicts, verdicts),
};
#undef MAP
const size_t fg_map_count = sizeof(fg_map_table) / sizeof(fg_map_table[0]);

int fg_pin_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", fg_opts.pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int fg_bpffs_ensure(void)
{
	char dir[4096], *slash;
	struct statfs sfs;

	snprintf(dir, sizeof(dir), "%s", fg_opts.pin_dir);
	/* the deepest existing ancestor of the pin directory must be on bpffs */
	while (statfs(dir, &sfs)) {
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return error("pin directory %s: no existing parent", fg_opts.pin_dir),
			       -ENOENT;
		*slash = '\0';
	}
	if (sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (strcmp(dir, "/sys/fs/bpf"))
		return error("pin directory %s: %s is not on bpffs (mount -t bpf bpf DIR)",
			     fg_opts.pin_dir, dir),
		       -ENOTSUP;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0755"))
		return error("mount bpffs on /sys/fs/bpf: %s", strerror(errno)), -errno;
	return 0;
}

static void maps_init(struct fg_maps *m)
{
	size_t i;

	for (i = 0; i < fg_map_count; i++)
		*(int *)((char *)m + fg_map_table[i].off) = -1;
	m->clock = -1;
	m->lock = -1;
	m->ncpus = 0;
	m->st = NULL;
	m->writable = false;
}

int fg_maps_open(struct fg_maps *m, bool write)
{
	LIBBPF_OPTS(bpf_obj_get_opts, gopts, .file_flags = write ? 0 : BPF_F_RDONLY);
	char path[4096];
	__u64 layout;
	size_t i;
	int err, fd;

	maps_init(m);
	m->ncpus = libbpf_num_possible_cpus();
	if (m->ncpus <= 0)
		return error("count possible CPUs: %s", strerror(-m->ncpus)), m->ncpus;
	for (i = 0; i < fg_map_count; i++) {
		if ((err = fg_pin_path(path, sizeof(path), fg_map_table[i].name)))
			goto fail;
		fd = bpf_obj_get_opts(path, &gopts);
		if (fd < 0) {
			err = -errno;
			if (err == -ENOENT)
				error("%s: not found: floodgate is not attached (floodgate attach "
				      "IFACE)",
				      path);
			else if (err == -EACCES || err == -EPERM)
				error("%s: %s (run as root, or as a member of the floodgate group "
				      "for "
				      "reading commands)",
				      path, strerror(-err));
			else
				error("open %s: %s", path, strerror(-err));
			goto fail;
		}
		*(int *)((char *)m + fg_map_table[i].off) = fd;
	}
	if ((err = fg_pin_path(path, sizeof(path), FG_PIN_CLOCK)))
		goto fail;
	m->clock = bpf_obj_get(path); /* optional: fg_now() says so when it is missing */
	/* 0: the state attach is creating; another layout would be misread (or miswritten) */
	if ((err = fg_state_layout(m->state, &layout)))
		goto fail;
	if (layout && layout != FG_LAYOUT_VERSION) {
		err = -EPROTO;
		if (layout == (__u64)-1)
			error("pinned fg_state in %s is of no layout this floodgate knows (it has "
			      "%d): floodgate detach --all drops it",
			      fg_opts.pin_dir, FG_LAYOUT_VERSION);
		else
			error("pinned state in %s has layout version %llu, this floodgate has %d: "
			      "use the floodgate that attached it, or floodgate detach --all",
			      fg_opts.pin_dir, (unsigned long long)layout, FG_LAYOUT_VERSION);
		goto fail;
	}
	if (write) {
		m->st = mmap(NULL, sizeof(*m->st), PROT_READ | PROT_WRITE, MAP_SHARED, m->state, 0);
		if (m->st == MAP_FAILED) {
			m->st = NULL;
			err = -errno;
			error("map fg_state: %s", strerror(-err));
			goto fail;
		}
	} else {
		/* the kernel maps no read-only fd: readers get a snapshot (fg_state_read refreshes) */
		m->st = calloc(1, sizeof(*m->st));
		if (!m->st) {
			err = -ENOMEM;
			goto fail;
		}
		if ((err = fg_state_read(m, m->st)))
			goto fail;
	}
	m->writable = write;
	return 0;
fail:
	fg_maps_close(m);
	return err;
}

void fg_maps_close(struct fg_maps *m)
{
	size_t i;

	for (i = 0; i < fg_map_count; i++) {
		int *fd = (int *)((char *)m + fg_map_table[i].off);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
	if (m->st && m->writable)
		munmap(m->st, sizeof(*m->st));
	else
		free(m->st);
	m->st = NULL;
	if (m->clock >= 0)
		close(m->clock);
	m->clock = -1;
	fg_maps_unlock(m);
}

void fg_maps_unlock(struct fg_maps *m)
{
	if (m->lock >= 0)
		close(m->lock); /* releases the flock */
	m->lock = -1;
}

/*
 * Writers serialise on a root-only lock file, one per pin directory
 * (/run/floodgate/<pin dir with / as _>.lock), not on the pin directory
 * itself: the floodgate group can open that, and a reader holding a lock
 * there would stall every writer.
 */
#define FG_LOCK_DIR	"/run/floodgate"
#define FG_LOCK_WAIT_MS 10000 /* a writer that holds the lock longer has hung */

int fg_lock_path(char *buf, size_t len)
{
	int n = snprintf(buf, len, FG_LOCK_DIR "/%s.lock", fg_opts.pin_dir);
	char *p;

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	for (p = buf + sizeof(FG_LOCK_DIR); *p; p++)
		if (*p == '/')
			*p = '_';
	return 0;
}

/* The lock directory, made when missing: 0, or -errno after an error line. */
static int lock_dir_ready(void)
{
	struct stat sb;

	if (mkdir(FG_LOCK_DIR, 0700) && errno != EEXIST)
		return error("create %s: %s", FG_LOCK_DIR, strerror(errno)), -errno;
	if (lstat(FG_LOCK_DIR, &sb) || !S_ISDIR(sb.st_mode) || sb.st_uid != 0 || (sb.st_mode & 0077))
		return error("%s: must be a directory owned by root, mode 0700", FG_LOCK_DIR), -EPERM;
	return 0;
}

/*
 * The lock file at path (in FG_LOCK_DIR, made when missing) opened for
 * writing and locked exclusively, waiting FG_LOCK_WAIT_MS at most: its
 * fd, or -errno after an error line.
 */
static int lock_open_wait(const char *path)
{
	static const struct timespec retry = { .tv_nsec = 10 * 1000000L }; /* 10 ms, as waited counts */
	int fd, waited, ret;

	if ((ret = lock_dir_ready()))
		return ret;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return error("open %s: %s", path, strerror(errno)), -errno;
	for (waited = 0; flock(fd, LOCK_EX | LOCK_NB); waited += 10) {
		int err = -errno;

		if (err != -EWOULDBLOCK || waited >= FG_LOCK_WAIT_MS) {
			close(fd);
			if (err == -EWOULDBLOCK)
				return error("lock %s: another floodgate command has held it for "
					     "%d s",
					     path, FG_LOCK_WAIT_MS / 1000),
				       -ETIMEDOUT;
			return error("lock %s: %s", path, strerror(-err)), err;
		}
		nanosleep(&retry, NULL);
	}
	return fd;
}

int fg_maps_lock(struct fg_maps *m)
{
	char path[4096];
	int fd, ret;

	if (m->lock >= 0)
		return 0;
	if ((ret = fg_lock_path(path, sizeof(path))))
		return ret;
	fd = lock_open_wait(path);
	if (fd < 0)
		return fd;
	m->lock = fd;
	return 0;
}

int fg_host_lock(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), FG_LOCK_DIR "/%s", name);
	return lock_open_wait(path);
}

int fg_maps_trylock(struct fg_maps *m)
{
	char path[4096];
	int fd, ret;

	if (m->lock >= 0)
		return 0;
	if ((ret = lock_dir_ready()) || (ret = fg_lock_path(path, sizeof(path))))
		return ret;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) /* made once; its close wakes watchers once */
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return error("open %s: %s", path, strerror(errno)), -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		close(fd);
		if (ret != -EWOULDBLOCK)
			error("lock %s: %s", path, strerror(-ret));
		return ret;
	}
	m->lock = fd;
	return 0;
}

/* The daemon's lock file: the writers' with .run for .lock. 0 or -ENAMETOOLONG. */
static int run_lock_path(char *buf, size_t len)
{
	int err = fg_lock_path(buf, len);

	if (err)
		return err;
	/* it ends in ".lock", one byte longer than ".run" and its NUL */
	memcpy(buf + strlen(buf) - strlen(".lock"), ".run", sizeof(".run"));
	return 0;
}

/* The pid in a daemon's lock file, for the message of the one refused; "" when unreadable. */
static void run_lock_pid(int fd, char *pid, size_t len)
{
	ssize_t n = pread(fd, pid, len - 1, 0);

	pid[n > 0 ? n : 0] = 0;
	pid[strcspn(pid, "\n")] = 0;
}

int fg_run_lock(void)
{
	char path[4096], pid[24];
	struct stat held, named;
	int fd, err, tries;
	ssize_t n;

	if ((err = lock_dir_ready()) || (err = run_lock_path(path, sizeof(path))))
		return err;
	for (tries = 0;; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return error("open %s: %s", path, strerror(errno)), -errno;
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			err = -errno;
			run_lock_pid(fd, pid, sizeof(pid));
			close(fd);
			if (err != -EWOULDBLOCK)
				return error("lock %s: %s", path, strerror(-err)), err;
			return error("run: another floodgate run%s%s%s serves %s already (its "
				     "lock: "
				     "%s)",
				     pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "",
				     fg_opts.pin_dir, path),
			       -EBUSY;
		}
		/* the file may be one its daemon unlinked on the way out: the path's is the lock */
		if (!fstat(fd, &held) && !stat(path, &named) && held.st_ino == named.st_ino &&
		    held.st_dev == named.st_dev)
			break;
		close(fd);
		if (tries == 8)
			return error("lock %s: replaced as often as it was taken", path), -EAGAIN;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, n, 0) != n) /* only for the message above */
		warning("write %s: %s", path, strerror(errno));
	return fd;
}

void fg_run_unlock(int fd)
{
	char path[4096];

	if (fd < 0)
		return;
	if (!run_lock_path(path, sizeof(path)))
		unlink(path); /* one that opened it meanwhile finds it gone and takes the path's */
	close(fd);
}

__u32 fg_pinned_state_id(void)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[4096];
	int fd;

	if (fg_pin_path(path, sizeof(path), "fg_state"))
		return 0;
	fd = bpf_obj_get_opts(path, &(struct bpf_obj_get_opts){ .sz = sizeof(struct bpf_obj_get_opts),
								.file_flags = BPF_F_RDONLY });
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

__u32 fg_held_state_id(const struct fg_maps *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(m->state, &info, &len) ? 0 : info.id;
}

int fg_link_get(const char *ifname, int *ifindex)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[4096], name[64];
	int fd, err;

	*ifindex = 0;
	snprintf(name, sizeof(name), FG_PIN_LINK_PREFIX "%s", ifname);
	if ((err = fg_pin_path(path, sizeof(path), name)))
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	*ifindex = bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : (int)info.xdp.ifindex;
	return fd;
}

const char *fg_iface_state(const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex = if_nametoindex(ifname), on = 0, fd = fg_link_get(ifname, &on);

	if (fd >= 0)
		close(fd);
	if (!ifindex)
		return "gone";
	/* the links are root's: a group reader of stats has only what the kernel says */
	if ((fd >= 0 || (fd != -EACCES && fd != -EPERM)) && on != ifindex)
		return "detached";
	if (bpf_xdp_query(ifindex, 0, &q))
		return "auto"; /* the kernel does not say */
	return q.attach_mode == XDP_ATTACHED_DRV    ? "native"
	       : q.attach_mode == XDP_ATTACHED_SKB  ? "generic"
	       : q.attach_mode == XDP_ATTACHED_NONE ? "detached"
						    : "auto";
}

bool fg_iface_attached(const char *ifname)
{
	const char *s = fg_iface_state(ifname);

	return strcmp(s, "gone") && strcmp(s, "detached");
}

int fg_maps_moved(const struct fg_maps *m)
{
	__u32 id = fg_pinned_state_id();
	char path[4096];

	if (!id)
		return -ENOENT;
	if (id == fg_held_state_id(m))
		return 0;
	/* attach pins the program last, once the state is whole */
	if (fg_pin_path(path, sizeof(path), FG_PIN_PROG) || access(path, F_OK))
		return -EAGAIN;
	return 1;
}

int fg_maps_follow(struct fg_maps *m, bool write, bool *gone, const char *who)
{
	int moved = fg_maps_moved(m), err;
	struct fg_maps nm;

	if (moved == -ENOENT) {
		if (!*gone)
			warning("%s: the pins in %s are gone (detach --all?): waiting for "
				"floodgate "
				"to be attached again",
				who, fg_opts.pin_dir);
		*gone = true;
		return -ENOENT;
	}
	if (moved == -EAGAIN)
		return 0; /* an attach under way: its maps once it is done */
	if (moved <= 0)
		return moved;
	if ((err = fg_maps_open(&nm, write)))
		return err;
	fg_maps_close(m);
	*m = nm;
	*gone = false;
	warning("%s: new maps pinned in %s (floodgate attached anew): following them", who,
		fg_opts.pin_dir);
	return 1;
}

int fg_state_layout(int fd, __u64 *layout)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	__u64 *val;
	int err = 0;

	*layout = (__u64)-1;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return error("read fg_state: %s", strerror(errno)), -errno;
	/* fg_state.layout is the value's last word in every layout */
	if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != sizeof(__u32) ||
	    info.value_size < sizeof(__u64) || info.value_size > (1U << 20) ||
	    info.value_size % sizeof(__u64))
		return 0; /* not an fg_state any floodgate wrote */
	val = calloc(1, info.value_size);
	if (!val)
		return error("read fg_state: %s", strerror(ENOMEM)), -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, val)) {
		err = -errno;
		error("read fg_state: %s", strerror(-err));
	} else {
		*layout = val[info.value_size / sizeof(__u64) - 1];
	}
	free(val);
	if (err)
		return err;
	if (info.value_size != sizeof(struct fg_state) && (!*layout || *layout == FG_LAYOUT_VERSION))
		*layout = (__u64)-1; /* the size says another layout, the word does not */
	return 0;
}

int fg_state_read(const struct fg_maps *m, struct fg_state *st)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->state, &zero, st))
		return error("read fg_state: %s", strerror(errno)), -errno;
	return 0;
}

int fg_now(const struct fg_maps *m, __u64 *tick)
{
	__u8 pkt[64] = {}, out[64];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (m->clock < 0)
		return error("clock program not pinned: reattach floodgate"), -ENOENT;
	if (bpf_prog_test_run_opts(m->clock, &opts))
		return error("read the data path clock: %s", strerror(errno)), -errno;
	if (opts.retval != XDP_PASS)
		return error("read the data path clock: program returned %u", opts.retval), -EIO;
	memcpy(tick, out, sizeof(*tick));
	return 0;
}

int fg_sync(const struct fg_maps *m)
{
	__u32 zero = 0;
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "fg_sync", sizeof(__u32), sizeof(__u32), 1, NULL);
	if (fd < 0)
		return error("fg_barrier: create an inner map: %s", strerror(errno)), -errno;
	/* the kernel returns from this update after an RCU grace period */
	if (bpf_map_update_elem(m->barrier, &zero, &fd, BPF_ANY)) {
		err = -errno;
		error("fg_barrier: wait for the packets in flight: %s", strerror(-err));
	}
	close(fd);
	return err;
}

__u64 fg_hz(const struct fg_maps *m)
{
	struct fg_state st;

	if (fg_state_read(m, &st) || !st.hz)
		return 250;
	return st.hz;
}

/* CONFIG_HZ from a kernel config file, gzip or plain; 0 when absent. */
static __u64 config_hz(const char *path)
{
	char line[256];
	__u64 hz = 0;
	gzFile f = gzopen(path, "rb");

	if (!f)
		return 0;
	while (gzgets(f, line, sizeof(line)))
		if (!strncmp(line, "CONFIG_HZ=", 10)) {
			hz = strtoull(line + 10, NULL, 10);
			break;
		}
	gzclose(f);
	return hz;
}

__u64 fg_kernel_hz(void)
{
	char path[512];
	__u64 hz;
	FILE *f;

	hz = config_hz("/proc/config.gz");
	if (hz)
		return hz;
	f = fopen("/proc/sys/kernel/osrelease", "r");
	if (f) {
		char rel[256] = "";

		if (fgets(rel, sizeof(rel), f)) {
			rel[strcspn(rel, "\n")] = '\0';
			snprintf(path, sizeof(path), "/boot/config-%s", rel);
			hz = config_hz(path);
		}
		fclose(f);
	}
	if (hz)
		return hz;
	warning("kernel HZ unknown (no /proc/config.gz or /boot/config-*): assuming 250");
	return 250;
}

int fg_percpu_sum(const struct fg_maps *m, int fd, __u32 key, void *out, size_t size)
{
	size_t words = size / sizeof(__u64), i;
	__u64 *vals, *sum = out;
	int c;

	vals = calloc(m->ncpus, size);
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		int err = -errno;

		free(vals);
		return err;
	}
	memset(out, 0, size);
	for (c = 0; c < m->ncpus; c++)
		for (i = 0; i < words; i++)
			sum[i] += vals[c * words + i];
	free(vals);
	return 0;
}

#define FG_BATCH 8192 /* entries per batched lookup */

int fg_map_walk(int fd, size_t ksz, size_t vsz,
		int (*fn)(const void *keys, const void *vals, __u32 n, void *ctx), void *ctx)
{
	void *keys = malloc(FG_BATCH * ksz), *vals = malloc(FG_BATCH * vsz);
	/* the batch cursor of a hash map is a bucket index (4 bytes); 8 leaves room */
	__u64 in = 0, out = 0;
	void *inp = NULL;
	int ret = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, o);

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 n = FG_BATCH;
		int err = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &n, &o);

		if (err && errno != ENOENT) {
			ret = -errno;
			break;
		}
		if (n && (ret = fn(keys, vals, n, ctx)))
			break;
		if (err)
			break; /* ENOENT: that was the last chunk */
		in = out;
		inp = &in;
	}
out:
	free(keys);
	free(vals);
	return ret;
}

static int count_chunk(const void *keys, const void *vals, __u32 n, void *ctx)
{
	*(long *)ctx += n;
	return 0;
}

long fg_map_count_entries(int fd, size_t key_size, size_t value_size)
{
	long total = 0;
	int err = fg_map_walk(fd, key_size, value_size, count_chunk, &total);

	return err ? err : total;
}

__u32 fg_map_capacity(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.max_entries;
}

int fg_attached_ifaces(char names[][IF_NAMESIZE], int max)
{
	size_t plen = strlen(FG_PIN_LINK_PREFIX);
	struct dirent *de;
	int n = 0, i, j;
	DIR *d;

	d = opendir(fg_opts.pin_dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		if (strncmp(de->d_name, FG_PIN_LINK_PREFIX, plen) ||
		    strlen(de->d_name + plen) >= IF_NAMESIZE)
			continue;
		snprintf(names[n++], IF_NAMESIZE, "%s", de->d_name + plen);
	}
	closedir(d);
	for (i = 1; i < n; i++) /* a handful of names: insertion sort */
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[IF_NAMESIZE];

			memcpy(t, names[j], IF_NAMESIZE);
			memcpy(names[j], names[j - 1], IF_NAMESIZE);
			memcpy(names[j - 1], t, IF_NAMESIZE);
		}
	return n;
}
