// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * attach.c: loading, pinning and attaching the program; `attach`,
 * `detach` and `status`.
 *
 * Everything lives under the pin directory: the maps (by map name), the
 * program ("prog"), the clock program ("clock") and one bpf_link per
 * interface ("link_<ifname>"). Attaching to a second interface reuses the
 * pinned maps; attaching again to an attached interface swaps the program
 * in place with bpf_link_update, keeping all state when the layout version
 * matches. The pinned link keeps the program attached after we exit.
 */
#include <stdio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "util.h"
#include "maps.h"
#include "ruleset.h"
#include "attach.h"
#include "config.h"
#include "synproxy.h"
#include "metrics.h"
#include "cli.h"
#include "cmds.h"
#include "floodgate.skel.h"

#define FG_GROUP "floodgate" /* members may read the pinned state (README "Security") */

static const char *mode_name(enum fg_mode mode)
{
	return mode == FG_MODE_NATIVE ? "native" : mode == FG_MODE_GENERIC ? "generic" : "auto";
}

/*
 * Pins readable by the floodgate group when it exists, by root alone
 * otherwise (README "Security"). `mode` is the group's access: 0640 to
 * read maps, 0660 for the clock program (running it needs a read-write
 * open; it only reads the clock), 0600 for what only root may touch.
 */
static void pin_perms(const char *path, mode_t mode)
{
	struct group *g = getgrnam(FG_GROUP);

	if (g && chown(path, 0, g->gr_gid) == 0)
		chmod(path, mode);
	else
		chmod(path, mode & 0700);
}

/*
 * systemd mounts /sys/fs/bpf 0700: when a floodgate group exists, let
 * others traverse (not list) it so the group reaches its pins.
 */
static void bpffs_traversable(void)
{
	struct stat sb;

	if (getgrnam(FG_GROUP) && !stat("/sys/fs/bpf", &sb) && !(sb.st_mode & S_IXOTH) &&
	    !strncmp(fg_opts.pin_dir, "/sys/fs/bpf/", 12))
		chmod("/sys/fs/bpf", (sb.st_mode & 07777) | S_IXOTH);
}

static int pin_replace(int fd, const char *name, mode_t mode)
{
	char path[4096];
	int err;

	if ((err = fg_pin_path(path, sizeof(path), name)))
		return err;
	unlink(path);
	if (bpf_obj_pin(fd, path))
		return error("pin %s: %s", path, strerror(errno)), -errno;
	pin_perms(path, mode);
	return 0;
}

void fg_seen_knobs(struct floodgate *skel, __u64 hz, bool size)
{
	__u64 seed;

	/* the kernel's entropy; if it ever failed, a seed no one outside can read is still better */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (__u64)time(NULL) * 0x9e3779b97f4a7c15ULL ^ (__u64)getpid() ^
		       (__u64)(long)&seed;
	skel->rodata->fg_seed = seed;
	if (size)
		bpf_map__set_max_entries(skel->maps.fg_seen,
					 fg_seen_words(bpf_map__max_entries(skel->maps.fg_sources)));
	skel->rodata->fg_seen_bits = 3 + fg_log2(bpf_map__max_entries(skel->maps.fg_seen));
	skel->rodata->fg_period_shift = fg_seen_shift(hz);
	skel->rodata->fg_sp_shift_ticks = fg_sp_shift(hz);
}

/* Layout version of pinned state, 0 when there is none, -1 when it is no fg_state we know. */
static int pinned_layout(__u64 *layout)
{
	char path[4096];
	int fd, err;

	*layout = 0;
	if ((err = fg_pin_path(path, sizeof(path), "fg_state")))
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : (error("open %s: %s", path, strerror(errno)), -errno);
	err = fg_state_layout(fd, layout);
	if (!err && !*layout)
		*layout = (__u64)-1; /* pinned, never initialised: not a state to reuse */
	close(fd);
	return err;
}

/* Reuse every pinned map; the kernel checks type, key and value sizes for us. */
static int reuse_maps(struct floodgate *skel)
{
	struct bpf_map *map;
	char path[4096];
	int fd, err;

	bpf_object__for_each_map(map, skel->obj)
	{
		const char *name = bpf_map__name(map);

		if (strncmp(name, "fg_", 3))
			continue; /* .rodata and friends belong to this build */
		if ((err = fg_pin_path(path, sizeof(path), name)))
			return err;
		fd = bpf_obj_get(path);
		if (fd < 0)
			return error("open %s: %s (pinned state incomplete: floodgate detach "
				     "--all)",
				     path, strerror(errno)),
			       -errno;
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err)
			return error("reuse %s: %s", path, strerror(-err)), err;
	}
	return 0;
}

static int pin_maps(struct floodgate *skel)
{
	struct bpf_map *map;
	char path[4096];
	int err = 0;

	bpf_object__for_each_map(map, skel->obj)
	{
		const char *name = bpf_map__name(map);

		if (strncmp(name, "fg_", 3))
			continue;
		if ((err = fg_pin_path(path, sizeof(path), name)))
			break;
		if ((err = bpf_map__pin(map, path))) {
			error("pin %s: %s", path, strerror(-err));
			break;
		}
		pin_perms(path, 0640);
	}
	if (!err)
		return 0;
	/* what this call pinned, and only that (another attach may have pinned the rest) */
	bpf_object__for_each_map(map, skel->obj)
	{
		if (!strncmp(bpf_map__name(map), "fg_", 3) && bpf_map__is_pinned(map))
			bpf_map__unpin(map, NULL);
	}
	return err;
}

static int detach_one(const char *ifname);

/*
 * A first attach that failed after pinning its maps: what it pinned goes
 * (the maps, the clock, the link it made, the directory when nothing else
 * is in it), so that no state of a program that never ran is left for
 * status to report as floodgate's, and no program runs without it.
 */
static void unpin_fresh(struct floodgate *skel, const char *ifname, bool linked)
{
	struct bpf_map *map;
	char path[4096];

	if (linked)
		detach_one(ifname);
	bpf_object__for_each_map(map, skel->obj)
	{
		if (!strncmp(bpf_map__name(map), "fg_", 3) && bpf_map__is_pinned(map))
			bpf_map__unpin(map, NULL);
	}
	if (!fg_pin_path(path, sizeof(path), FG_PIN_CLOCK))
		unlink(path);
	rmdir(fg_opts.pin_dir); /* fails, and is meant to, when anything else is there */
}

/* First-time state: clock rate, layout, the built-in rule set. */
static int init_state(__u64 hz)
{
	struct fg_ruleset *rs = calloc(1, sizeof(*rs));
	struct fg_maps m;
	int err;

	if (!rs)
		return -ENOMEM;
	err = fg_maps_open(&m, true);
	if (err)
		goto out;
	m.st->hz = hz;
	m.st->layout = FG_LAYOUT_VERSION;
	fg_ruleset_defaults(rs, hz);
	err = fg_ruleset_commit(&m, rs);
	fg_maps_close(&m);
out:
	free(rs);
	return err;
}

/* XDP mode an interface runs our link in, from the kernel's view. */
static enum fg_mode query_mode(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return FG_MODE_AUTO;
	if (q.attach_mode == XDP_ATTACHED_DRV)
		return FG_MODE_NATIVE;
	if (q.attach_mode == XDP_ATTACHED_SKB)
		return FG_MODE_GENERIC;
	return FG_MODE_AUTO;
}

static int link_create(int prog_fd, int ifindex, const char *ifname, enum fg_mode mode,
		       enum fg_mode *used)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	int fd, err;

	if (mode != FG_MODE_GENERIC) {
		lo.flags = XDP_FLAGS_DRV_MODE;
		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
		if (fd >= 0) {
			*used = FG_MODE_NATIVE;
			return fd;
		}
		err = -errno;
		if (err == -EBUSY || err == -EEXIST)
			goto busy;
		if (mode == FG_MODE_NATIVE)
			return error("attach %s in native mode: %s (the driver may lack XDP "
				     "support; --mode generic works everywhere)",
				     ifname, strerror(-err)),
			       err;
	}
	lo.flags = XDP_FLAGS_SKB_MODE;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	if (fd >= 0) {
		*used = FG_MODE_GENERIC;
		return fd;
	}
	err = -errno;
	if (err == -EBUSY || err == -EEXIST)
		goto busy;
	return error("attach %s in generic mode: %s", ifname, strerror(-err)), err;
busy : {
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 id, len = sizeof(info);
	int pfd;

	bpf_xdp_query(ifindex, 0, &q);
	id = q.prog_id ? q.prog_id : q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	pfd = id ? bpf_prog_get_fd_by_id(id) : -1;
	if (pfd >= 0 && bpf_obj_get_info_by_fd(pfd, &info, &len))
		info.name[0] = '\0';
	if (pfd >= 0)
		close(pfd);
	if (!strcmp(info.name, "floodgate"))
		return error("attach %s: floodgate runs there already (program id %u) from another "
			     "pin directory than %s: detach it there first",
			     ifname, id, fg_opts.pin_dir),
		       err;
	return error("attach %s: it already runs another XDP program (id %u%s%s) that floodgate "
		     "does not manage",
		     ifname, id, info.name[0] ? ", " : "", info.name),
	       err;
}
}

/* An fd of our pinned link for ifname, -ENOENT when none, or the link is defunct. */
static int link_open(const char *ifname, int *ifindex_out)
{
	char path[4096], name[64];
	int fd, ifindex;

	fd = fg_link_get(ifname, &ifindex);
	if (fd < 0 || ifindex)
		goto out;
	close(fd);
	snprintf(name, sizeof(name), FG_PIN_LINK_PREFIX "%s", ifname);
	if (!fg_pin_path(path, sizeof(path), name))
		unlink(path); /* the interface went away: the link died with it */
	return -ENOENT;
out:
	if (fd >= 0 && ifindex_out)
		*ifindex_out = ifindex;
	return fd;
}

/*
 * The pin directory made and checked: bpffs, permissions, and the layout
 * of pinned state (*layout 0 when there is none). 0 or -errno after an error.
 */
static int pin_dir_ready(__u64 *layout)
{
	int err;

	if ((err = fg_bpffs_ensure()))
		return err;
	if (mkdir(fg_opts.pin_dir, 0700) && errno != EEXIST)
		return error("create %s: %s", fg_opts.pin_dir, strerror(errno)), -errno;
	pin_perms(fg_opts.pin_dir, 0750);
	bpffs_traversable();
	if ((err = pinned_layout(layout)))
		return err;
	if (*layout && *layout != FG_LAYOUT_VERSION)
		return error("pinned state in %s has layout version %" PRIu64
			     ", this floodgate has %d: refusing to mix them (floodgate detach "
			     "--all "
			     "drops the old state)",
			     fg_opts.pin_dir, (uint64_t)(*layout == (__u64)-1 ? 0 : *layout),
			     FG_LAYOUT_VERSION),
		       -EPROTO;
	return 0;
}

/*
 * Put the loaded program on ifname: swap it into the pinned link of an
 * attached interface (bpf_link_update, atomic), else create and pin a
 * link. *used: the mode. 0 or -errno after an error.
 */
static int link_program(struct floodgate *skel, const char *ifname, int ifindex, enum fg_mode mode,
			enum fg_mode *used)
{
	int prog_fd = bpf_program__fd(skel->progs.floodgate), link_fd, err = 0;
	char name[64];

	link_fd = link_open(ifname, NULL);
	if (link_fd >= 0) {
		enum fg_mode now = query_mode(ifindex);

		if (mode != FG_MODE_AUTO && now != FG_MODE_AUTO && mode != now) {
			error("%s is attached in %s mode: detach it first to change the mode",
			      ifname, mode_name(now));
			err = -EINVAL;
		} else if (bpf_link_update(link_fd, prog_fd, NULL)) { /* atomic swap, in place */
			err = -errno;
			error("upgrade the program on %s: %s", ifname, strerror(-err));
		} else {
			*used = now;
		}
		close(link_fd);
		return err;
	}
	link_fd = link_create(prog_fd, ifindex, ifname, mode, used);
	if (link_fd < 0)
		return link_fd;
	snprintf(name, sizeof(name), FG_PIN_LINK_PREFIX "%s", ifname);
	if ((err = pin_replace(link_fd, name, 0600)))
		bpf_link_detach(link_fd); /* unpinned link: do not leave it attached */
	close(link_fd);
	return err;
}

int fg_attach(const char *ifname, enum fg_mode mode, const struct fg_sizes *sizes, enum fg_mode *used)
{
	struct floodgate *skel = NULL;
	__u64 layout, hz = fg_kernel_hz();
	bool pinned = false, linked = false; /* this first attach pinned maps, made a link */
	int ifindex, err;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return error("interface %s: %s", ifname, strerror(errno)), -ENODEV;
	if ((err = pin_dir_ready(&layout)))
		return err;
	skel = floodgate__open();
	if (!skel)
		return error("open BPF object: %s", strerror(errno)), -errno;
	skel->rodata->fg_hz = hz;
	if (layout) {
		if ((err = reuse_maps(skel)))
			goto out;
	} else if (sizes) {
		if (sizes->sources)
			bpf_map__set_max_entries(skel->maps.fg_sources, sizes->sources);
		if (sizes->bans)
			bpf_map__set_max_entries(skel->maps.fg_bans, sizes->bans);
		if (sizes->lists)
			bpf_map__set_max_entries(skel->maps.fg_lists, sizes->lists);
	}
	fg_seen_knobs(skel, hz, !layout);
	err = floodgate__load(skel);
	if (err) {
		error("load the XDP program: %s%s", strerror(-err),
		      fg_opts.verbose ? "" : " (-v shows the verifier's log)");
		goto out;
	}
	if (!layout && (err = pin_maps(skel)))
		goto out; /* pinned nothing: it undid its own */
	pinned = !layout;
	if (pinned && (err = init_state(hz)))
		goto out;
	if ((err = pin_replace(bpf_program__fd(skel->progs.fg_clock), FG_PIN_CLOCK, 0660)) ||
	    (err = link_program(skel, ifname, ifindex, mode, used)))
		goto out;
	linked = pinned;
	err = pin_replace(bpf_program__fd(skel->progs.floodgate), FG_PIN_PROG, 0600);
out:
	if (err && pinned)
		unpin_fresh(skel, ifname, linked);
	floodgate__destroy(skel); /* the pins keep maps, programs and links alive */
	return err;
}

static void attach_usage(FILE *f)
{
	fprintf(f,
		"Load the XDP program, pin its state under the pin directory and attach it to\n"
		"IFACE. Without --mode: native, else generic (says which). --mode native never\n"
		"falls back. Attaching to an attached interface upgrades the program in place and\n"
		"keeps all state. --config applies FILE (see floodgate.example.yaml); a fresh\n"
		"state without it gets the built-in defaults (README \"Defaults\").\n");
}

enum { ATTACH_MODE, ATTACH_CONFIG };

static const struct fg_opt attach_opts[] = {
	[ATTACH_MODE] = { "mode", 'm', "native|generic" },
	[ATTACH_CONFIG] = { "config", 'c', "FILE" },
	{},
};

static int attach_run(const struct fg_args *a)
{
	struct fg_file_config cfg = {};
	enum fg_mode mode = FG_MODE_AUTO, used = FG_MODE_AUTO;
	const char *config = a->opt[ATTACH_CONFIG], *ifname, *m_s = a->opt[ATTACH_MODE];
	struct fg_maps m;
	int err;

	if (m_s && !strcmp(m_s, "native"))
		mode = FG_MODE_NATIVE;
	else if (m_s && !strcmp(m_s, "generic"))
		mode = FG_MODE_GENERIC;
	else if (m_s)
		return error("--mode %s: must be native or generic", m_s), FG_EXIT_ERR;
	ifname = a->pos[0];
	if (strlen(ifname) >= IF_NAMESIZE)
		return error("interface %s: name too long", ifname), FG_EXIT_ERR;
	if (config && fg_config_load(config, fg_kernel_hz(), &cfg))
		return FG_EXIT_ERR; /* its errors are printed; nothing attached yet */
	err = fg_attach(ifname, mode, config ? &cfg.sizes : NULL, &used);
	if (!err && config) {
		err = fg_maps_open(&m, true);
		if (!err) {
			fg_config_warn_sizes(&m, &cfg.sizes, config); /* maps of an earlier attach */
			err = fg_maps_lock(&m) ?: fg_config_apply(&m, &cfg);
			fg_maps_close(&m);
		}
	}
	fg_config_free(&cfg);
	if (err)
		return FG_EXIT_ERR;
	if (fg_opts.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "interface", json_object_new_string(ifname));
		json_object_object_add(o, "mode", json_object_new_string(mode_name(used)));
		fg_print_json(o, 0);
	} else {
		printf("attached to %s in %s mode\n", ifname, mode_name(used));
	}
	return FG_EXIT_OK;
}

const struct fg_cmd fg_cmd_attach = {
	.name = "attach",
	.args = "IFACE",
	.min_args = 1,
	.max_args = 1,
	.opts = attach_opts,
	.run = attach_run,
	.usage = attach_usage,
	.help = "attach IFACE [--mode native|generic] [--config FILE]",
};

int fg_detach(const char *ifname)
{
	return detach_one(ifname);
}

/* Detach and unpin link_<ifname>. */
static int detach_one(const char *ifname)
{
	char path[4096], name[64];
	int fd;

	snprintf(name, sizeof(name), FG_PIN_LINK_PREFIX "%s", ifname);
	if (fg_pin_path(path, sizeof(path), name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return error("%s: not attached (no %s)", ifname, path), -ENOENT;
	if (bpf_link_detach(fd) && errno != ENOLINK)
		warning("detach %s: %s", ifname, strerror(errno));
	close(fd);
	if (unlink(path))
		return error("unpin %s: %s", path, strerror(errno)), -errno;
	return 0;
}

/* Whether floodgate pins a file of this name in its pin directory. */
static bool own_pin(const char *name)
{
	return !strncmp(name, "fg_", 3) ||
	       !strncmp(name, FG_PIN_LINK_PREFIX, strlen(FG_PIN_LINK_PREFIX)) ||
	       !strcmp(name, FG_PIN_PROG) || !strcmp(name, FG_PIN_CLOCK);
}

/*
 * Before detach --all removes anything: the pin directory is floodgate's.
 * On bpffs, and holding fg_state or nothing but floodgate's names (what a
 * half-removed one leaves), so that a mistyped --pin-dir (bpffs's root,
 * another tool's directory, a directory elsewhere) loses nothing. 1 when
 * there is no such directory (nothing to remove), 0 when it is ours.
 */
static int pin_dir_ours(void)
{
	const char *dir = fg_opts.pin_dir;
	char other[256] = "";
	bool state = false;
	struct statfs sfs;
	struct dirent *de;
	DIR *d;

	if (statfs(dir, &sfs))
		return errno == ENOENT ? 1 : error("detach --all: %s: %s", dir, strerror(errno));
	if (sfs.f_type != BPF_FS_MAGIC)
		return error(
			"detach --all: %s is not on bpffs: not a pin directory; nothing removed",
			dir);
	d = opendir(dir);
	if (!d)
		return error("detach --all: open %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		state |= !strcmp(de->d_name, "fg_state");
		if (!*other && !own_pin(de->d_name))
			snprintf(other, sizeof(other), "%s", de->d_name);
	}
	closedir(d);
	if (*other && !state)
		return error("detach --all: %s holds %s and no fg_state: not floodgate's pin "
			     "directory; nothing removed",
			     dir, other);
	return 0;
}

static void detach_usage(FILE *f)
{
	fprintf(f,
		"Remove the program from IFACE; the pinned state stays for the other interfaces\n"
		"and for a later attach. --all detaches every interface and removes every pin\n"
		"(counters, bans, rules: all state is gone) and this pin directory's chain in the\n"
		"SYN proxy's nftables table (table inet floodgate), the table too when no other\n"
		"floodgate instance has a chain there.\n");
}

static const struct fg_opt detach_opts[] = {
	{ .name = "all", .letter = 'a', .flags = FG_OPT_HIDDEN },
	{},
};

static int detach_run(const struct fg_args *a)
{
	char ifs[FG_MAX_LINKS][IF_NAMESIZE];
	bool all = a->opt[0];
	int bad = 0, err, i, n;

	if (all == (a->n_pos > 0)) {
		fg_cmd_usage(a->cmd, stderr);
		return FG_EXIT_USAGE;
	}
	if (!all)
		return detach_one(a->pos[0]) ? FG_EXIT_ERR : FG_EXIT_OK;

	err = pin_dir_ours();
	if (err < 0)
		return FG_EXIT_ERR;
	n = err ? 0 : fg_attached_ifaces(ifs, FG_MAX_LINKS);
	for (i = 0; i < n; i++)
		bad += !!detach_one(ifs[i]);
	/* the SYN proxy's netfilter half goes with the program that answered the SYNs */
	bad += !!fg_synproxy_remove();
	{
		DIR *d = opendir(fg_opts.pin_dir);
		struct dirent *de;
		char path[4096];
		int left = 0;

		if (!d) {
			if (errno == ENOENT)
				return bad ? FG_EXIT_ERR : FG_EXIT_OK;
			return error("open %s: %s", fg_opts.pin_dir, strerror(errno)), FG_EXIT_ERR;
		}
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", fg_opts.pin_dir, de->d_name);
			if (!own_pin(de->d_name))
				left += !!error("left %s: not floodgate's", path);
			else if (unlink(path))
				bad += !!error("unpin %s: %s", path, strerror(errno));
		}
		closedir(d);
		if (!fg_lock_path(path, sizeof(path)))
			unlink(path); /* the writers' lock of this pin directory (maps.c) */
		if (!left && rmdir(fg_opts.pin_dir))
			bad += !!error("remove %s: %s", fg_opts.pin_dir, strerror(errno));
		bad += left;
	}
	return bad ? FG_EXIT_ERR : FG_EXIT_OK;
}

const struct fg_cmd fg_cmd_detach = {
	.name = "detach",
	.args = "IFACE | --all",
	.min_args = 0,
	.max_args = 1,
	.opts = detach_opts,
	.run = detach_run,
	.usage = detach_usage,
	.help = "detach IFACE | --all",
};

static void status_usage(FILE *f)
{
	fprintf(f,
		"Interfaces and their XDP mode, the program, layout version, rule-set generation,\n"
		"table fill levels and whether the machine is under attack.\n");
}

/* What `status` shows besides the snapshot: the interfaces and the program. */
struct status {
	char ifs[FG_MAX_LINKS][IF_NAMESIZE]; /* attached interfaces, sorted */
	int n_ifs;			     /* entries in ifs */
	__u32 prog_id;			     /* the pinned program's id, 0 when unreadable */
};

static json_object *status_json(const struct fg_snapshot *s, const struct status *t)
{
	json_object *o = json_object_new_object(), *ja = json_object_new_array();
	int i;

	for (i = 0; i < t->n_ifs; i++) {
		json_object *jo = json_object_new_object();
		int ifindex = if_nametoindex(t->ifs[i]);

		json_object_object_add(jo, "interface", json_object_new_string(t->ifs[i]));
		json_object_object_add(jo, "ifindex", json_object_new_int(ifindex));
		json_object_object_add(jo, "mode", json_object_new_string(fg_iface_state(t->ifs[i])));
		json_object_array_add(ja, jo);
	}
	json_object_object_add(o, "interfaces", ja);
	json_object_object_add(o, "program_id", json_object_new_int64(t->prog_id));
	json_object_object_add(o, "layout", json_object_new_int64(s->st.layout));
	json_object_object_add(o, "generation", json_object_new_int64(s->st.generation));
	json_object_object_add(o, "hz", json_object_new_int64(s->st.hz));
	json_object_object_add(o, "sources", json_object_new_int64(s->sources));
	json_object_object_add(o, "sources_capacity", json_object_new_int64(s->sources_max));
	json_object_object_add(o, "bans", json_object_new_int64(s->bans));
	json_object_object_add(o, "bans_capacity", json_object_new_int64(s->bans_max));
	json_object_object_add(o, "lists_ipv4", json_object_new_int64(s->st.lists4));
	json_object_object_add(o, "lists_ipv6", json_object_new_int64(s->st.lists6));
	json_object_object_add(o, "lists_capacity", json_object_new_int64(s->lists_max));
	json_object_object_add(o, "under_attack", json_object_new_boolean(s->under_attack));
	json_object_object_add(o, "under_attack_since",
			       s->under_attack ? json_object_new_int64(s->attack_since) : NULL);
	return o;
}

static void status_text(const struct fg_snapshot *s, const struct status *t)
{
	int i;

	printf("interfaces:");
	for (i = 0; i < t->n_ifs; i++)
		printf(" %s (%s)", t->ifs[i], fg_iface_state(t->ifs[i]));
	printf("%s\n", t->n_ifs ? "" : " none");
	printf("program:    id %u, layout %" PRIu64 ", rule set generation %" PRIu64 ", %" PRIu64
	       " ticks/s\n",
	       t->prog_id, (uint64_t)s->st.layout, (uint64_t)s->st.generation, (uint64_t)s->st.hz);
	printf("sources:    %" PRIu64 " of %u tracked\n", (uint64_t)s->sources, s->sources_max);
	printf("bans:       %" PRIu64 " of %u (automatic, including expired strike records)\n",
	       (uint64_t)s->bans, s->bans_max);
	printf("lists:      %u IPv4 + %u IPv6 prefixes of %u\n", s->st.lists4, s->st.lists6,
	       s->lists_max);
	printf("under attack: %s", s->under_attack ? "YES" : "no");
	if (s->under_attack)
		printf(" (new sources charged to their /%d and /%d)", FG_COARSE_PLEN4,
		       FG_COARSE_PLEN6);
	printf("\n");
}

/* `status`: the snapshot `stats` reads (fg_snapshot_read), with interfaces and program. */
static int status_run(const struct fg_args *a)
{
	struct bpf_prog_info pinfo = {};
	__u32 ilen = sizeof(pinfo);
	struct fg_snapshot *s = malloc(sizeof(*s));
	struct status t = {};
	int prog_fd, ret = FG_EXIT_ERR;
	char path[4096];
	struct fg_maps m;

	if (!s)
		return error("status: out of memory"), FG_EXIT_ERR;
	if (fg_maps_open(&m, false)) {
		free(s);
		return FG_EXIT_ERR;
	}
	if (fg_snapshot_read(&m, s, true))
		goto out;
	if (!fg_pin_path(path, sizeof(path), FG_PIN_PROG) && (prog_fd = bpf_obj_get(path)) >= 0) {
		if (!bpf_obj_get_info_by_fd(prog_fd, &pinfo, &ilen))
			t.prog_id = pinfo.id;
		close(prog_fd);
	}
	t.n_ifs = fg_attached_ifaces(t.ifs, FG_MAX_LINKS);
	if (fg_opts.json)
		fg_print_json(status_json(s, &t), 0);
	else
		status_text(s, &t);
	ret = FG_EXIT_OK;
out:
	free(s);
	fg_maps_close(&m);
	return ret;
}

const struct fg_cmd fg_cmd_status = {
	.name = "status",
	.run = status_run,
	.usage = status_usage,
	.help = "status: interfaces, program, table fill, under-attack state",
};
