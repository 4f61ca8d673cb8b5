// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * synproxy.c: the netfilter half of the SYN proxy.
 *
 * The XDP program answers SYNs to syn-proxy endpoints with cookies and
 * passes the ACKs whose cookie is valid (bpf/synproxy.h); netfilter's
 * SYNPROXY checks the same cookie and opens the connection to the server.
 * This file keeps the one nftables table floodgate owns, `table inet
 * floodgate`, in step with the rule set, through the nft binary. The table
 * lives in the network namespace of the process that runs floodgate (the
 * server's) and is shared by every floodgate instance there (one per pin
 * directory): each has a chain of its own in it, named for its pin
 * directory (sp_<hash>), and changes only that chain, each change one nft
 * transaction that empties the chain and writes it anew, so it either
 * applies whole or not at all, and no other table is ever named. The
 * table goes with the last chain: an instance that removes its chain
 * removes the table only when no other instance's chain is left in it.
 *
 * The rules, per syn-proxy port set, in the instance's input chain: an ACK
 * conntrack does not know (invalid, untracked, or picked up mid-stream as
 * new when nf_conntrack_tcp_loose is on) goes to SYNPROXY, which checks
 * its cookie; other invalid segments are dropped. SYNs are left to
 * conntrack, unlike the usual SYNPROXY recipe that untracks them so that
 * SYNPROXY answers them: here XDP answers them, and the SYNs it passes
 * are those of a monitor rule (a dry run: the stack answers, as without
 * the proxy) and those of a connection conntrack still knows (a client
 * reusing its port while the server's TIME_WAIT entry lasts: conntrack
 * reopens it; untracked, SYNPROXY would meet that entry and the client
 * would wait a retransmission, measured at under a tenth of the rate).
 */
#define _GNU_SOURCE /* pipe2, asprintf */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>

#include "cli.h"
#include "util.h"
#include "maps.h"
#include "ruleset.h"
#include "synproxy.h"

#define NFT_TABLE "inet floodgate" /* the only table floodgate writes */
#define NFT_ERR	  512		   /* bytes of nft's error output kept for the message */
#define NFT_OUT	  1		   /* nft(): keep its standard output too, in err */

/*
 * Run nft with one argument (a command line, nft joins and parses it) or,
 * arg NULL, with `-f -` and script on its standard input. Its standard
 * error is kept in err (the first errlen - 1 bytes), its standard output
 * too with flags NFT_OUT, else discarded. Returns its exit status, or
 * -errno when it could not run (-ENOENT: no nft).
 */
static int nft_run(const char *arg, const char *script, char *err, size_t errlen, int flags)
{
	const char *argv[] = { "nft", arg ? arg : "-f", arg ? NULL : "-", NULL };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, st, ret;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t none, dflt;
	size_t got = 0, len = script ? strlen(script) : 0;
	ssize_t n;
	pid_t pid;

	err[0] = 0;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		ret = -errno;
		goto out_close;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	if (flags & NFT_OUT)
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	/* not the daemon's blocked signals nor its ignored SIGPIPE: nft as from a shell */
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_init(&sa);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &dflt);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	ret = -posix_spawnp(&pid, "nft", &fa, &sa, (char *const *)argv, environ);
	posix_spawnattr_destroy(&sa);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (ret)
		goto out_close;
	/* a script is a few hundred bytes: the pipe holds it, nft reads it before it answers */
	{
		/* an nft that died early must not kill floodgate with SIGPIPE */
		void (*old)(int) = signal(SIGPIPE, SIG_IGN);

		if (len && write(in[1], script, len) != (ssize_t)len)
			ret = -EIO;
		if (old != SIG_ERR && signal(SIGPIPE, old) == SIG_ERR)
			ret = -errno;
	}
	close(in[1]);
	in[1] = -1;
	/* all of it, so nft never blocks on a full pipe; the first errlen - 1 bytes are kept */
	for (;;) {
		char sink[256];
		size_t room = errlen - 1 - got;

		n = read(out[0], room ? err + got : sink, room ? room : sizeof(sink));
		if (n <= 0)
			break;
		if (room)
			got += n;
	}
	err[got] = 0;
	if (waitpid(pid, &st, 0) != pid)
		ret = -errno;
	else if (!ret)
		ret = WIFEXITED(st) ? WEXITSTATUS(st) : -ECHILD;
out_close:
	if (in[0] >= 0)
		close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	return ret;
}

static int nft(const char *arg, const char *script, char *err, size_t errlen)
{
	return nft_run(arg, script, err, errlen, 0);
}

/*
 * This instance's chain name, sp_ and a 32-bit FNV-1a hash of its pin
 * directory, into buf (12 bytes at least). Two instances of one namespace
 * have two pin directories, so two chains (a collision of the hash would
 * make them share one: 1 in 4 billion per pair).
 */
static void chain_name(char *buf, size_t len)
{
	const unsigned char *c = (const unsigned char *)fg_opts.pin_dir;
	__u32 h = 2166136261U;

	for (; *c; c++)
		h = (h ^ *c) * 16777619U;
	snprintf(buf, len, "sp_%08x", h);
}

/* nft's first error line, for a message (nft writes "Error: ..." then the failed line). */
static const char *first_line(char *s)
{
	char *nl;

	while (*s == '\n')
		s++;
	nl = strchr(s, '\n');
	if (nl)
		*nl = 0;
	return *s ? s : "(no message)";
}

/* The syn-proxy endpoints of rs as an nft set ("443, 8000-8010"). Returns how many. */
static int proxy_ports(const struct fg_ruleset *rs, char *buf, size_t len)
{
	size_t off = 0;
	int i, n = 0;

	buf[0] = 0;
	for (i = 1; i < FG_MAX_RULES; i++) {
		const struct fg_rule *r = &rs->cfg.rules[i];

		if (!r->used || !r->syn_proxy || r->proto != IPPROTO_TCP)
			continue;
		if (r->port_lo == r->port_hi)
			off += snprintf(buf + off, len - off, "%s%u", n ? ", " : "", r->port_lo);
		else
			off += snprintf(buf + off, len - off, "%s%u-%u", n ? ", " : "", r->port_lo,
					r->port_hi);
		n++;
		if (off >= len)
			return -ENOSPC;
	}
	return n;
}

bool fg_synproxy_any(const struct fg_ruleset *rs)
{
	int i;

	for (i = 1; i < FG_MAX_RULES; i++)
		if (rs->cfg.rules[i].used && rs->cfg.rules[i].syn_proxy)
			return true;
	return false;
}

/*
 * What the table holds: -1 no table (or no nft: then nothing can have
 * made it), else how many chains it has, counting only as far as the
 * listing's first NFT_ERR bytes (enough to tell none from some).
 */
static int table_chains(void)
{
	char out[NFT_ERR], *p;
	int n = 0;

	if (nft_run("list table " NFT_TABLE, NULL, out, sizeof(out), NFT_OUT))
		return -1;
	for (p = out; (p = strstr(p, "chain ")); p += 6)
		n++;
	return n;
}

/*
 * Every instance's changes of the table hold one host-wide lock: the one
 * that removes its last chain looks whether another chain is left and
 * then deletes the table, and another's chain made between the two went
 * with it.
 */
#define NFT_LOCK "synproxy-nft.lock"

static int remove_locked(void)
{
	char err[NFT_ERR], cmd[64], chain[16];
	int r;

	if (table_chains() < 0)
		return 0;
	chain_name(chain, sizeof(chain));
	snprintf(cmd, sizeof(cmd), "list chain " NFT_TABLE " %s", chain);
	if (!nft(cmd, NULL, err, sizeof(err))) {
		snprintf(cmd, sizeof(cmd), "delete chain " NFT_TABLE " %s", chain);
		r = nft(cmd, NULL, err, sizeof(err));
		if (r)
			return error("syn proxy: nft delete chain %s in table %s: %s", chain,
				     NFT_TABLE, r < 0 ? strerror(-r) : first_line(err)),
			       -EIO;
	}
	/* another instance's chain keeps the table: its endpoints still need it */
	if (table_chains())
		return 0;
	r = nft("delete table " NFT_TABLE, NULL, err, sizeof(err));
	if (r)
		return error("syn proxy: nft delete table %s: %s", NFT_TABLE,
			     r < 0 ? strerror(-r) : first_line(err)),
		       -EIO;
	return 0;
}

/*
 * Whether nft's error is the kernel's way of saying an expression or
 * module is missing (ENOENT, EOPNOTSUPP), not a refusal of another kind
 * (EPERM, EBUSY, a syntax error) that a kernel config hint would hide.
 */
static bool missing_feature(const char *err)
{
	return strstr(err, "No such file or directory") || strstr(err, "not supported");
}

int fg_synproxy_remove(void)
{
	int fd = fg_host_lock(NFT_LOCK), err;

	if (fd < 0)
		return fd;
	err = remove_locked();
	close(fd);
	return err;
}

static int install_locked(const struct fg_ruleset *rs)
{
	char ports[FG_MAX_RULES * 14], err[NFT_ERR], chain[16], *script = NULL;
	int n = proxy_ports(rs, ports, sizeof(ports)), r;
	bool hint;

	if (n < 0)
		return error("syn proxy: too many ports for one rule"), n;
	if (!n)
		return remove_locked();
	chain_name(chain, sizeof(chain));
	/* add, then flush: the chain is written anew whether it was there or not */
	if (asprintf(&script,
		     "add table " NFT_TABLE "\n"
		     "add chain " NFT_TABLE " %s"
		     " { type filter hook input priority filter; policy accept; }\n"
		     "flush chain " NFT_TABLE " %s\n"
		     "table " NFT_TABLE " {\n"
		     "  chain %s {\n"
		     "    meta nfproto ipv4 tcp dport { %s } ct state invalid,untracked"
		     " synproxy mss %u wscale %u timestamp sack-perm\n"
		     "    meta nfproto ipv6 tcp dport { %s } ct state invalid,untracked"
		     " synproxy mss %u wscale %u timestamp sack-perm\n"
		     "    meta nfproto ipv4 tcp dport { %s } tcp flags & (fin|syn|rst|ack) == ack"
		     " ct state new synproxy mss %u wscale %u timestamp sack-perm\n"
		     "    meta nfproto ipv6 tcp dport { %s } tcp flags & (fin|syn|rst|ack) == ack"
		     " ct state new synproxy mss %u wscale %u timestamp sack-perm\n"
		     "    tcp dport { %s } ct state invalid drop\n"
		     "  }\n"
		     "}\n",
		     chain, chain, chain, ports, FG_SP_MSS4, FG_SP_WSCALE, ports, FG_SP_MSS6,
		     FG_SP_WSCALE, ports, FG_SP_MSS4, FG_SP_WSCALE, ports, FG_SP_MSS6, FG_SP_WSCALE,
		     ports) < 0)
		return error("syn proxy: out of memory"), -ENOMEM;
	r = nft(NULL, script, err, sizeof(err));
	free(script);
	if (r == -ENOENT)
		return error("syn proxy: the nft binary is not installed (the SYN proxy needs "
			     "nftables "
			     "with conntrack and SYNPROXY)"),
		       -ENOENT;
	hint = r > 0 && missing_feature(err); /* before first_line cuts err */
	if (r)
		return error("syn proxy: nft could not install table %s: %s%s; nothing was changed",
			     NFT_TABLE, r < 0 ? strerror(-r) : first_line(err),
			     hint ? " (this kernel needs conntrack and nftables' SYNPROXY: "
				    "CONFIG_NF_CONNTRACK, CONFIG_NFT_SYNPROXY)"
				  : ""),
		       -EIO;
	return 0;
}

int fg_synproxy_install(const struct fg_ruleset *rs)
{
	int fd = fg_host_lock(NFT_LOCK), err;

	if (fd < 0)
		return fd;
	err = install_locked(rs);
	close(fd);
	return err;
}

/*
 * This instance's chain removed after a rule set without a proxied
 * endpoint went live: the change stands whatever nft says, so a failure is
 * a warning (an error would have callers undo half of what is live).
 */
static void remove_after(void)
{
	char held[FG_REPORT_HOLD] = ""; /* fg_synproxy_remove's error line, said as a warning */
	fg_report_fn old_fn;
	void *old_ctx;
	int err;

	fg_set_report(fg_report_hold, held, &old_fn, &old_ctx);
	err = fg_synproxy_remove();
	fg_set_report(old_fn, old_ctx, NULL, NULL);
	if (err)
		warning("%s; the rule set proxies no endpoint, and what nftables keeps of its "
			"rules in table %s goes with the next change or detach --all",
			held, NFT_TABLE);
}

int fg_ruleset_commit_proxied(const struct fg_maps *m, struct fg_ruleset *rs)
{
	struct fg_ruleset *old = malloc(sizeof(*old));
	bool was, now = fg_synproxy_any(rs);
	int err;

	if (!old)
		return -ENOMEM;
	err = fg_ruleset_read(m, old);
	if (err)
		goto out;
	was = fg_synproxy_any(old);
	if (!was && !now) {
		err = fg_ruleset_commit(m, rs);
		/* a chain a failed removal left behind (below) goes with the next change */
		if (!err)
			remove_after();
		goto out;
	}
	if (fg_ruleset_check(rs)) {
		err = -EINVAL;
		goto out;
	}
	/* netfilter first: an ACK XDP passes must find SYNPROXY waiting */
	if (now && (err = fg_synproxy_install(rs)))
		goto out;
	err = fg_ruleset_commit(m, rs);
	if (err) {
		if (now && fg_synproxy_install(old))
			warning("syn proxy: table %s may not match the rule set: run `floodgate "
				"config apply` or `limit set` again",
				NFT_TABLE);
		goto out;
	}
	/*
	 * XDP no longer answers: the ACK of a handshake it answered just before
	 * finds SYNPROXY gone and the server resets it (unless its own cookies
	 * take it): those few connections fail, the client's next one works
	 */
	if (!now)
		remove_after();
out:
	free(old);
	return err;
}
