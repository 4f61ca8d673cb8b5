// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * netlink.c: what the generator asks of and does to interfaces, through
 * rtnetlink: an interface's kind, peer and counters; the safety rule of
 * `send` (inside a lab namespace, out of a veth whose peer is in another
 * namespace); and the helper veth pair of the loop method, made and
 * removed in the lab namespace it runs in.
 *
 * The loop's pair is named tg<PID>l (the end its XDP program runs on) and
 * tg<PID>s (the end seeds are sent from). A generator that was killed
 * leaves its pair behind; the next loop in that namespace removes every
 * pair whose PID no longer runs (and the lab's `down` removes the
 * namespace with whatever is in it).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "util.h"
#include "tg.h"

#define NL_BUF 16384

/* A netlink request being built in one buffer: header, ifinfomsg, attributes. */
struct nl_req {
	size_t len;						/* bytes used */
	char buf[1024] __attribute__((aligned(NLMSG_ALIGNTO))); /* the message */
};

/* A request of type and flags about one interface (ifi); attributes follow with nl_put(). */
static struct nlmsghdr *nl_start(struct nl_req *r, int type, int flags, const struct ifinfomsg *ifi)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)r->buf;

	memset(r, 0, sizeof(*r));
	nh->nlmsg_type = type;
	nh->nlmsg_flags = NLM_F_REQUEST | flags;
	memcpy(NLMSG_DATA(nh), ifi, sizeof(*ifi));
	r->len = NLMSG_LENGTH(sizeof(*ifi));
	nh->nlmsg_len = r->len;
	return nh;
}

/* Append an attribute (a nest when data is NULL: close it with nl_end). Returns its offset. */
static size_t nl_put(struct nl_req *r, int type, const void *data, int len)
{
	size_t off = NLMSG_ALIGN(r->len);
	struct rtattr *rta = (struct rtattr *)(r->buf + off);

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	r->len = off + RTA_ALIGN(rta->rta_len);
	((struct nlmsghdr *)r->buf)->nlmsg_len = r->len;
	return off;
}

static void nl_end(struct nl_req *r, size_t nest)
{
	((struct rtattr *)(r->buf + nest))->rta_len = r->len - nest;
}

/* Send a request and read its answer into buf. Returns its length, or -errno. */
static int nl_talk(struct nlmsghdr *req, char *buf, size_t size)
{
	struct nlmsghdr *nh;
	int fd, len, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	while ((len = send(fd, req, req->nlmsg_len, 0)) < 0 && errno == EINTR)
		;
	if (len < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((len = recv(fd, buf, size, 0)) < 0 && errno == EINTR)
		;
	err = len < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	nh = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(nh, (unsigned int)len))
		return -EIO;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
		return err; /* 0: the ACK of a request that succeeded */
	}
	return len;
}

/* RTM_GETLINK for one interface. Returns 0 or -errno. */
int tg_link_query(int ifindex, struct tg_link *out)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	static char buf[NL_BUF];
	struct nl_req req;
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct rtattr *rta, *li;
	int len, rlen;

	memset(out, 0, sizeof(*out));
	out->peer_netnsid = -1;
	len = nl_talk(nl_start(&req, RTM_GETLINK, 0, &ifi), buf, sizeof(buf));
	if (len <= 0)
		return len ? len : -EIO;
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
	return 0;
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
int tg_lab_check(const char *ifname, struct tg_link *lk)
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
	err = tg_link_query(ifindex, lk);
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

/* No IPv6 on a helper interface: it must send nothing of its own (no MLD, no RS). */
static void no_ipv6(const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* IPv6 is off in this kernel or namespace */
	if (write(fd, "1", 1) != 1)
		warning("%s: %s", path, strerror(errno));
	close(fd);
}

/*
 * A veth pair in this namespace, both ends down and without ARP or IPv6,
 * with `queues` queues each (one per CPU keeps every CPU's loop on a queue
 * of its own). Returns 0 or -errno.
 */
int tg_veth_add(const char *name, const char *peer, int queues)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_NOARP };
	size_t linkinfo, data, pinfo;
	struct nlmsghdr *nh;
	struct nl_req req;
	__u32 q = queues;
	char buf[1024];
	int err;

	nh = nl_start(&req, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi);
	nl_put(&req, IFLA_IFNAME, name, strlen(name) + 1);
	nl_put(&req, IFLA_NUM_TX_QUEUES, &q, sizeof(q));
	nl_put(&req, IFLA_NUM_RX_QUEUES, &q, sizeof(q));
	linkinfo = nl_put(&req, IFLA_LINKINFO, NULL, 0);
	nl_put(&req, IFLA_INFO_KIND, "veth", 4);
	data = nl_put(&req, IFLA_INFO_DATA, NULL, 0);
	pinfo = nl_put(&req, VETH_INFO_PEER, &ifi, sizeof(ifi)); /* the peer's ifinfomsg */
	nl_put(&req, IFLA_IFNAME, peer, strlen(peer) + 1);
	nl_put(&req, IFLA_NUM_TX_QUEUES, &q, sizeof(q));
	nl_put(&req, IFLA_NUM_RX_QUEUES, &q, sizeof(q));
	nl_end(&req, pinfo);
	nl_end(&req, data);
	nl_end(&req, linkinfo);
	err = nl_talk(nh, buf, sizeof(buf));
	if (err < 0)
		return err;
	no_ipv6(name);
	no_ipv6(peer);
	return 0;
}

/* Bring an interface up. Returns 0 or -errno. */
int tg_link_up(const char *name)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Remove an interface (a veth takes its peer along). Returns 0 or -errno. */
int tg_link_del(const char *name)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlmsghdr *nh;
	struct nl_req req;
	char buf[1024];
	int err;

	nh = nl_start(&req, RTM_DELLINK, NLM_F_ACK, &ifi);
	nl_put(&req, IFLA_IFNAME, name, strlen(name) + 1);
	err = nl_talk(nh, buf, sizeof(buf));
	return err < 0 ? err : 0;
}

/*
 * Remove the loop pairs (tg<PID>l) of generators that no longer run, in
 * this namespace. One with our own PID is stale too: we make ours after.
 */
void tg_loop_pairs_reap(void)
{
	struct if_nameindex *all, *i;
	char *end;
	long pid;
	int err;

	all = if_nameindex();
	if (!all)
		return;
	for (i = all; i->if_index; i++) {
		if (strncmp(i->if_name, "tg", 2))
			continue;
		pid = strtol(i->if_name + 2, &end, 10);
		if (end == i->if_name + 2 || strcmp(end, "l") || pid <= 0)
			continue;
		if (pid != getpid() && (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		err = tg_link_del(i->if_name);
		if (err)
			warning("remove the stale loop pair %s: %s", i->if_name, strerror(-err));
	}
	if_freenameindex(all);
}
