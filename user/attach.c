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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "fg.h"
#include "synproxy.h"
#include "metrics.h"
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
	if (size)
		bpf_map__set_max_entries(skel->maps.fg_seen,
					 fg_seen_words(bpf_map__max_entries(skel->maps.fg_sources)));
	skel->rodata->fg_seen_bits = 3 + fg_log2(bpf_map__max_entries(skel->maps.fg_seen));
	skel->rodata->fg_period_shift = fg_seen_shift(hz);
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
	int err;

	bpf_object__for_each_map(map, skel->obj)
	{
		const char *name = bpf_map__name(map);

		if (strncmp(name, "fg_", 3))
			continue;
		if ((err = fg_pin_path(path, sizeof(path), name)))
			return err;
		if ((err = bpf_map__pin(map, path)))
			return error("pin %s: %s", path, strerror(-err)), err;
		pin_perms(path, 0640);
	}
	return 0;
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

	bpf_xdp_query(ifindex, 0, &q);
	return error("attach %s: it already runs another XDP program (id %u) that floodgate does "
		     "not manage",
		     ifname,
		     q.prog_id	     ? q.prog_id
		     : q.drv_prog_id ? q.drv_prog_id
				     : q.skb_prog_id),
	       err;
}
}

/* An fd of our pinned link for ifname, -ENOENT when none, or the link is defunct. */
static int link_open(const char *ifname, int *ifindex_out)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[4096], name[64];
	int fd, err;

	snprintf(name, sizeof(name), FG_PIN_LINK_PREFIX "%s", ifname);
	if ((err = fg_pin_path(path, sizeof(path), name)))
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.xdp.ifindex) {
		close(fd);
		unlink(path); /* the interface went away: the link died with it */
		return -ENOENT;
	}
	if (ifindex_out)
		*ifindex_out = info.xdp.ifindex;
	return fd;
}

int fg_attach(const char *ifname, enum fg_mode mode, const struct fg_sizes *sizes, enum fg_mode *used)
{
	struct floodgate *skel = NULL;
	int ifindex, link_fd = -1, err;
	char name[64];
	__u64 layout, hz = fg_kernel_hz();

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return error("interface %s: %s", ifname, strerror(errno)), -ENODEV;
	if ((err = fg_bpffs_ensure()))
		return err;
	if (mkdir(fg_opts.pin_dir, 0700) && errno != EEXIST)
		return error("create %s: %s", fg_opts.pin_dir, strerror(errno)), -errno;
	pin_perms(fg_opts.pin_dir, 0750);
	bpffs_traversable();
	if ((err = pinned_layout(&layout)))
		return err;
	if (layout && layout != FG_LAYOUT_VERSION)
		return error("pinned state in %s has layout version %" PRIu64
			     ", this floodgate has %d: refusing to mix them (floodgate detach "
			     "--all "
			     "drops the old state)",
			     fg_opts.pin_dir, (uint64_t)(layout == (__u64)-1 ? 0 : layout),
			     FG_LAYOUT_VERSION),
		       -EPROTO;

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
	if (!layout) {
		if ((err = pin_maps(skel)) || (err = init_state(hz)))
			goto out;
	}
	if ((err = pin_replace(bpf_program__fd(skel->progs.fg_clock), FG_PIN_CLOCK, 0660)))
		goto out;

	link_fd = link_open(ifname, NULL);
	if (link_fd >= 0) {
		enum fg_mode now = query_mode(ifindex);

		if (mode != FG_MODE_AUTO && now != FG_MODE_AUTO && mode != now) {
			error("%s is attached in %s mode: detach it first to change the mode",
			      ifname, mode_name(now));
			err = -EINVAL;
			goto out;
		}
		/* upgrade in place: the link swaps the program atomically */
		if (bpf_link_update(link_fd, bpf_program__fd(skel->progs.floodgate), NULL)) {
			err = -errno;
			error("upgrade the program on %s: %s", ifname, strerror(-err));
			goto out;
		}
		*used = now;
	} else {
		link_fd = link_create(bpf_program__fd(skel->progs.floodgate), ifindex, ifname, mode,
				      used);
		if (link_fd < 0) {
			err = link_fd;
			goto out;
		}
		snprintf(name, sizeof(name), FG_PIN_LINK_PREFIX "%s", ifname);
		if ((err = pin_replace(link_fd, name, 0600))) {
			bpf_link_detach(link_fd); /* unpinned link: do not leave it attached */
			goto out;
		}
	}
	err = pin_replace(bpf_program__fd(skel->progs.floodgate), FG_PIN_PROG, 0600);
out:
	if (link_fd >= 0)
		close(link_fd);
	floodgate__destroy(skel); /* the pins keep maps, programs and links alive */
	return err;
}

static void attach_usage(FILE *f)
{
	fprintf(f,
		"usage: floodgate attach IFACE [--mode native|generic] [--config FILE]\n"
		"\n"
		"Load the XDP program, pin its state under the pin directory and attach it to\n"
		"IFACE. Without --mode: native, else generic (says which). --mode native never\n"
		"falls back. Attaching to an attached interface upgrades the program in place and\n"
		"keeps all state. --config applies FILE (see floodgate.example.yaml); a fresh\n"
		"state without it gets the built-in defaults (README \"Defaults\").\n");
}

int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		FG_COMMON_LONGOPTS,
		{},
	};
	struct fg_file_config cfg = {};
	enum fg_mode mode = FG_MODE_AUTO, used = FG_MODE_AUTO;
	const char *config = NULL, *ifname;
	struct fg_maps m;
	int c, err;

	while ((c = getopt_long(argc, argv, "m:c:h" FG_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (fg_common_opt(c))
			continue;
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "native"))
				mode = FG_MODE_NATIVE;
			else if (!strcmp(optarg, "generic"))
				mode = FG_MODE_GENERIC;
			else
				return error("--mode %s: must be native or generic", optarg),
				       FG_EXIT_USAGE;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			attach_usage(stdout);
			return FG_EXIT_OK;
		default:
			attach_usage(stderr);
			return FG_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		attach_usage(stderr);
		return FG_EXIT_USAGE;
	}
	ifname = argv[optind];
	if (strlen(ifname) >= IF_NAMESIZE)
		return error("interface %s: name too long", ifname), FG_EXIT_ERR;
	if (config && fg_config_load(config, fg_kernel_hz(), &cfg))
		return FG_EXIT_ERR; /* its errors are printed; nothing attached yet */
	err = fg_attach(ifname, mode, config ? &cfg.sizes : NULL, &used);
	if (!err && config) {
		err = fg_maps_open(&m, true);
		if (!err) {
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
		puts(json_object_to_json_string_ext(o, fg_opts.pretty ? JSON_C_TO_STRING_PRETTY
								      : JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		printf("attached to %s in %s mode\n", ifname, mode_name(used));
	}
	return FG_EXIT_OK;
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

/* Names of attached interfaces (link pins), NULL-terminated; free each and the array. */
static char **linked_ifaces(void)
{
	size_t n = 0, plen = strlen(FG_PIN_LINK_PREFIX);
	struct dirent *de;
	char **v = calloc(1, sizeof(*v));
	DIR *d = opendir(fg_opts.pin_dir);

	if (!d || !v)
		goto out;
	while ((de = readdir(d))) {
		char **nv;

		if (strncmp(de->d_name, FG_PIN_LINK_PREFIX, plen))
			continue;
		nv = realloc(v, (n + 2) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		v[n++] = strdup(de->d_name + plen);
		v[n] = NULL;
	}
out:
	if (d)
		closedir(d);
	return v;
}

static void free_list(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void detach_usage(FILE *f)
{
	fprintf(f,
		"usage: floodgate detach IFACE | --all\n"
		"\n"
		"Remove the program from IFACE; the pinned state stays for the other interfaces\n"
		"and for a later attach. --all detaches every interface and removes every pin\n"
		"(counters, bans, rules: all state is gone) and the SYN proxy's nftables table\n"
		"(table inet floodgate).\n");
}

int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		FG_COMMON_LONGOPTS,
		{},
	};
	bool all = false;
	char **ifs;
	size_t i;
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "ah" FG_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (fg_common_opt(c))
			continue;
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'h':
			detach_usage(stdout);
			return FG_EXIT_OK;
		default:
			detach_usage(stderr);
			return FG_EXIT_USAGE;
		}
	}
	if (all == (optind < argc) || optind < argc - 1) {
		detach_usage(stderr);
		return FG_EXIT_USAGE;
	}
	if (!all)
		return detach_one(argv[optind]) ? FG_EXIT_ERR : FG_EXIT_OK;

	ifs = linked_ifaces();
	for (i = 0; ifs && ifs[i]; i++)
		bad += !!detach_one(ifs[i]);
	free_list(ifs);
	/* the SYN proxy's netfilter half goes with the program that answered the SYNs */
	bad += !!fg_synproxy_remove();
	{
		DIR *d = opendir(fg_opts.pin_dir);
		struct dirent *de;
		char path[4096];

		if (!d) {
			if (errno == ENOENT)
				return bad ? FG_EXIT_ERR : FG_EXIT_OK;
			return error("open %s: %s", fg_opts.pin_dir, strerror(errno)), FG_EXIT_ERR;
		}
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", fg_opts.pin_dir, de->d_name);
			if (unlink(path))
				bad += !!error("unpin %s: %s", path, strerror(errno));
		}
		closedir(d);
		if (!fg_lock_path(path, sizeof(path)))
			unlink(path); /* the writers' lock of this pin directory (maps.c) */
		if (rmdir(fg_opts.pin_dir))
			bad += !!error("remove %s: %s", fg_opts.pin_dir, strerror(errno));
	}
	return bad ? FG_EXIT_ERR : FG_EXIT_OK;
}

/* Entries in a hash map, counted with batched lookups of keys and values. */
static long count_entries(int fd, size_t key_size, size_t value_size)
{
	const __u32 chunk = 8192;
	void *keys = malloc(chunk * key_size), *vals = malloc(chunk * value_size);
	__u64 in = 0, out = 0;
	void *inp = NULL;
	long total = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, o);

	if (!keys || !vals) {
		total = -ENOMEM;
		goto done;
	}
	for (;;) {
		__u32 n = chunk;
		int err = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &n, &o);

		if (err && errno != ENOENT) {
			total = -errno;
			break;
		}
		total += n;
		if (err)
			break; /* ENOENT: that was the last batch */
		in = out;
		inp = &in;
	}
done:
	free(keys);
	free(vals);
	return total;
}

static void status_usage(FILE *f)
{
	fprintf(f,
		"usage: floodgate status\n"
		"\n"
		"Interfaces and their XDP mode, the program, layout version, rule-set generation,\n"
		"table fill levels and whether the machine is under attack.\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		FG_COMMON_LONGOPTS,
		{},
	};
	struct bpf_map_info sinfo = {}, binfo = {}, linfo = {};
	struct bpf_prog_info pinfo = {};
	__u32 ilen = sizeof(sinfo);
	struct fg_attack at = {};
	long sources, bans;
	int c, i, prog_fd = -1, ret = FG_EXIT_ERR;
	bool under = false;
	json_object *o = NULL, *ja;
	char path[4096], **ifs = NULL;
	struct fg_maps m;
	struct fg_state st;
	__u64 now = 0;

	while ((c = getopt_long(argc, argv, "h" FG_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (fg_common_opt(c))
			continue;
		if (c == 'h') {
			status_usage(stdout);
			return FG_EXIT_OK;
		}
		status_usage(stderr);
		return FG_EXIT_USAGE;
	}
	if (optind != argc) {
		status_usage(stderr);
		return FG_EXIT_USAGE;
	}
	if (fg_maps_open(&m, false))
		return FG_EXIT_ERR;
	if (fg_state_read(&m, &st))
		goto out;
	fg_now(&m, &now);
	bpf_obj_get_info_by_fd(m.sources, &sinfo, &ilen);
	ilen = sizeof(binfo);
	bpf_obj_get_info_by_fd(m.bans, &binfo, &ilen);
	ilen = sizeof(linfo);
	bpf_obj_get_info_by_fd(m.lists, &linfo, &ilen);
	sources = count_entries(m.sources, sizeof(struct fg_src_key), sizeof(struct fg_src));
	bans = count_entries(m.bans, sizeof(struct fg_ban_key), sizeof(struct fg_ban));
	if (fg_attack_read(&m, now, st.hz, &at, &under))
		goto out;
	if (!fg_pin_path(path, sizeof(path), FG_PIN_PROG)) {
		ilen = sizeof(pinfo);
		prog_fd = bpf_obj_get(path);
		if (prog_fd >= 0)
			bpf_obj_get_info_by_fd(prog_fd, &pinfo, &ilen);
	}
	ifs = linked_ifaces();

	o = json_object_new_object();
	ja = json_object_new_array();
	for (i = 0; ifs && ifs[i]; i++) {
		json_object *jo = json_object_new_object();
		int ifindex = if_nametoindex(ifs[i]);

		json_object_object_add(jo, "interface", json_object_new_string(ifs[i]));
		json_object_object_add(jo, "ifindex", json_object_new_int(ifindex));
		json_object_object_add(
			jo, "mode",
			json_object_new_string(ifindex ? mode_name(query_mode(ifindex)) : "gone"));
		json_object_array_add(ja, jo);
	}
	json_object_object_add(o, "interfaces", ja);
	json_object_object_add(o, "program_id", json_object_new_int64(pinfo.id));
	json_object_object_add(o, "layout", json_object_new_int64(st.layout));
	json_object_object_add(o, "generation", json_object_new_int64(st.generation));
	json_object_object_add(o, "hz", json_object_new_int64(st.hz));
	json_object_object_add(o, "sources", json_object_new_int64(sources));
	json_object_object_add(o, "sources_capacity", json_object_new_int64(sinfo.max_entries));
	json_object_object_add(o, "bans", json_object_new_int64(bans));
	json_object_object_add(o, "bans_capacity", json_object_new_int64(binfo.max_entries));
	json_object_object_add(o, "lists_ipv4", json_object_new_int64(st.lists4));
	json_object_object_add(o, "lists_ipv6", json_object_new_int64(st.lists6));
	json_object_object_add(o, "lists_capacity", json_object_new_int64(linfo.max_entries));
	json_object_object_add(o, "under_attack", json_object_new_boolean(under));
	json_object_object_add(o, "under_attack_since",
			       under ? json_object_new_int64(at.since) : NULL);

	if (fg_opts.json) {
		puts(json_object_to_json_string_ext(o, fg_opts.pretty ? JSON_C_TO_STRING_PRETTY
								      : JSON_C_TO_STRING_PLAIN));
	} else {
		printf("interfaces:");
		for (i = 0; ifs && ifs[i]; i++) {
			int ifindex = if_nametoindex(ifs[i]);

			printf(" %s (%s)", ifs[i], ifindex ? mode_name(query_mode(ifindex)) : "gone");
		}
		printf("%s\n", ifs && ifs[0] ? "" : " none");
		printf("program:    id %u, layout %" PRIu64 ", rule set generation %" PRIu64
		       ", %" PRIu64 " ticks/s\n",
		       pinfo.id, (uint64_t)st.layout, (uint64_t)st.generation, (uint64_t)st.hz);
		printf("sources:    %ld of %u tracked\n", sources, sinfo.max_entries);
		printf("bans:       %ld of %u (automatic, including expired strike records)\n",
		       bans, binfo.max_entries);
		printf("lists:      %u IPv4 + %u IPv6 prefixes of %u\n", st.lists4, st.lists6,
		       linfo.max_entries);
		printf("under attack: %s", under ? "YES" : "no");
		if (under)
			printf(" (new sources charged to their /%d and /%d)", FG_COARSE_PLEN4,
			       FG_COARSE_PLEN6);
		printf("\n");
	}
	ret = FG_EXIT_OK;
out:
	json_object_put(o);
	free_list(ifs);
	if (prog_fd >= 0)
		close(prog_fd);
	fg_maps_close(&m);
	return ret;
}
