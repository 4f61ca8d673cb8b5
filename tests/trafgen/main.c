// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * main.c: the lab's traffic generator and benchmark driver, `trafgen`.
 *
 *   trafgen send   IFACE ...  transmit spoofed UDP or TCP SYN frames out of a
 *                             lab veth (method live, packet or loop)
 *   trafgen check  IFACE      only the safety check of `send`
 *   trafgen cost   ...        per-packet cost of an XDP program through
 *                             BPF_PROG_TEST_RUN, sources varied per packet
 *   trafgen drop-attach|naive-attach|drop-detach IFACE
 *                             a baseline in driver mode: a bare XDP_DROP, a
 *                             naive per-source limiter; detach either
 *
 * `send` refuses any interface that is not a veth whose peer is in another
 * network namespace, and refuses to run from the initial network namespace
 * at all: the generator is meant to run inside the lab's attacker
 * namespace (`ip netns exec`), where the only way out is the lab's veth.
 * Every address it puts in a frame is checked to lie in 198.18.0.0/15 or
 * 2001:db8::/32. A packet count and a time bound are both mandatory, and
 * nothing it starts outlives it (threads, an XDP program held by a link).
 *
 * The methods (tg.h): `packet` hands every frame to the kernel itself, so
 * its counts per source are exact and its pacing follows --rate to the
 * frame; `loop` gets the most frames out of a CPU and is for floods and
 * the benchmark; `live` (BPF_PROG_RUN live frames) works only on kernels
 * that allow it, which `auto`, the default, probes once. The report names
 * the method used, what was handed to the interface and, from the
 * interface's own counters, what its peer received (veth counts its
 * peer's receive queue as its tx_packets) and what the peer's full ring
 * refused (tx_dropped).
 */
#define _GNU_SOURCE /* CPU_SET, pthread affinity */
#include <stdio.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "util.h"
#include "cli.h"
#include "tg.h"

bool tg_json;
volatile int tg_interrupted;

static const char *const method_names[] = {
	[TG_AUTO] = "auto",
	[TG_LIVE] = "live",
	[TG_PACKET] = "packet",
	[TG_LOOP] = "loop",
};

double tg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep until tg_now() reaches t (returns at once when it has). */
void tg_sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - (time_t)t) * 1e9) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !tg_interrupted)
		;
}

/*
 * Put worker i on the i-th CPU of our affinity mask, so that `taskset -c 1
 * trafgen ...` sends from CPU 1. Returns 0, or -ERANGE when we may run on
 * fewer CPUs than there are workers (only CPUs below TG_MAX_CPUS count:
 * the loop keeps a slot per CPU).
 */
int tg_assign_cpus(struct tg_worker *w, int n)
{
	cpu_set_t mask;
	int i, cpu;

	if (sched_getaffinity(0, sizeof(mask), &mask))
		return -errno;
	for (i = 0, cpu = 0; i < n && cpu < TG_MAX_CPUS; cpu++)
		if (CPU_ISSET(cpu, &mask))
			w[i++].cpu = cpu;
	return i < n ? -ERANGE : 0;
}

/* Run fn on every worker, each on its CPU, and wait for all. Returns 0, or -errno. */
int tg_run_workers(struct tg_worker *w, int n, void *(*fn)(void *))
{
	pthread_t th[TG_MAX_CPUS];
	pthread_attr_t attr;
	cpu_set_t one;
	int i, err = 0, started = 0;

	for (i = 0; i < n; i++) {
		CPU_ZERO(&one);
		CPU_SET(w[i].cpu, &one);
		pthread_attr_init(&attr);
		pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
		err = -pthread_create(&th[i], &attr, fn, &w[i]);
		pthread_attr_destroy(&attr);
		if (err)
			break;
		started++;
	}
	if (err)
		tg_interrupted = 1; /* stop the ones that did start */
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return err;
}

static void on_signal(int sig)
{
	tg_interrupted = sig;
}

enum {
	OPT_DMAC = 0x200,
	OPT_SMAC,
	OPT_DST,
	OPT_SRC,
	OPT_SOURCES,
	OPT_RANDOM,
	OPT_PROTO,
	OPT_SPORT,
	OPT_DPORT,
	OPT_SIZE,
	OPT_COUNT,
	OPT_DURATION,
	OPT_RATE,
	OPT_BATCH,
	OPT_METHOD,
	OPT_THREADS,
	OPT_TARGET,
	OPT_REPEAT,
	OPT_WARMUP,
	OPT_BAN_STORM,
	OPT_NAIVE_PPS,
	OPT_NAIVE_BURST,
	OPT_FAMILY,
	OPT_BARE,
	OPT_NETNS,
	OPT_IFNAME,
};

static const struct option spec_opts[] = {
	{ "dmac", required_argument, NULL, OPT_DMAC },
	{ "smac", required_argument, NULL, OPT_SMAC },
	{ "dst", required_argument, NULL, OPT_DST },
	{ "src", required_argument, NULL, OPT_SRC },
	{ "sources", required_argument, NULL, OPT_SOURCES },
	{ "random", no_argument, NULL, OPT_RANDOM },
	{ "proto", required_argument, NULL, OPT_PROTO },
	{ "sport", required_argument, NULL, OPT_SPORT },
	{ "dport", required_argument, NULL, OPT_DPORT },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "method", required_argument, NULL, OPT_METHOD },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "ban-storm", required_argument, NULL, OPT_BAN_STORM },
	{ "naive-pps", required_argument, NULL, OPT_NAIVE_PPS },
	{ "naive-burst", required_argument, NULL, OPT_NAIVE_BURST },
	{ "family", required_argument, NULL, OPT_FAMILY },
	{ "bare", no_argument, NULL, OPT_BARE },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "ifname", required_argument, NULL, OPT_IFNAME },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

const char tg_usage[] =
	"usage: trafgen [-j] send IFACE --dmac MAC --dst ADDR --count N --duration SECONDS\n"
	"                 [--proto udp|syn] [--src ADDR] [--sources N] [--random] [--rate PPS]\n"
	"                 [--sport P] [--dport P] [--size BYTES] [--smac MAC] [--batch N]\n"
	"                 [--method auto|live|packet|loop] [--threads N]\n"
	"       trafgen check IFACE      (the safety check; says if live frames are allowed)\n"
	"       trafgen [-j] cost --netns LABNS --target drop|naive|PINNED_PROG [--bare] [--family "
	"4|6]\n"
	"                 [--sources N] [--random] [--proto udp|syn] [--repeat N] [--warmup N]\n"
	"                 [--ban-storm BANS_PER_SECOND] [--naive-pps N] [--naive-burst N]\n"
	"                 [--ifname IFACE]\n"
	"       trafgen drop-attach|naive-attach|drop-detach IFACE\n"
	"\n"
	"send: frames out of IFACE, a veth whose peer is in another namespace, run from\n"
	"  inside a lab namespace. Sources: --sources N addresses from --src (default\n"
	"  198.18.0.0, or 2001:db8:: where the varied part is the second 32 bits: one /64\n"
	"  per source). All addresses must lie in 198.18.0.0/15 or 2001:db8::/32.\n"
	"  --threads N senders, on the first N CPUs we may run on (taskset), each with\n"
	"  its share of --count and --rate. Methods:\n"
	"    packet  AF_PACKET sendmmsg: every frame handed over, exact per-source counts\n"
	"            and pacing; a frame the peer's full ring refuses is sent again\n"
	"    loop    an XDP devmap broadcast loop on a helper veth pair (tg<PID>l and\n"
	"            tg<PID>s, removed on exit): the highest rate, for floods; the\n"
	"            peer of IFACE needs an XDP program or GRO on to take its frames\n"
	"    live    BPF_PROG_RUN live frames, where the kernel allows them\n"
	"    auto    live where the kernel allows it, else packet (the default, or\n"
	"            $TRAFGEN_METHOD when set)\n"
	"cost: ns per packet of the target program run with BPF_PROG_TEST_RUN, its source\n"
	"  address rewritten per packet by a tail-calling front program (--bare: the\n"
	"  target alone, same frame every time). Runs inside lab namespace LABNS, as\n"
	"  if received on its IFACE (default lab0). With --proto syn the front program\n"
	"  writes the whole SYN back first, so a target that answers it in place (a SYN\n"
	"  proxy's SYN-ACK) meets a SYN every run; a target that answers a UDP frame\n"
	"  with XDP_TX is refused (BPF_PROG_TEST_RUN would run it on its own answer).\n"
	"  --ban-storm N: meanwhile a second thread, on another CPU, sends to --dport + 1\n"
	"  from sources of the top half of the /16 of --src (198.19.128.0 and up by\n"
	"  default), each until the target drops one (a ban, when that port's rule\n"
	"  bans), N of them per second; the timed sources must lie in the lower half.\n"
	"  --naive-pps, --naive-burst: the naive limiter's limit per source (default 1\n"
	"  and 1); give it the limit of the floodgate rule it is compared with.\n";

/* A method by name; what names the source of s in the error line. */
static int parse_method(const char *what, const char *s, enum tg_method *out)
{
	unsigned int i, n = sizeof(method_names) / sizeof(method_names[0]);
	char all[64] = "";

	for (i = 0; i < n; i++) {
		if (!strcmp(s, method_names[i])) {
			*out = i;
			return 0;
		}
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? ", " : "",
			 method_names[i]);
	}
	return error("%s: '%s' is none of %s", what, s, all);
}

/* Parse the options shared by send and cost. Returns 0, or an exit code. */
int tg_parse_spec(int argc, char **argv, struct tg_spec *sp, const char **target, bool *bare,
		  __u64 *repeat, __u64 *warmup, const char **netns)
{
	const char *dst = NULL, *src = NULL, *env = getenv("TRAFGEN_METHOD");
	bool have_dmac = false, have_count = false, have_dur = false;
	int family = 0, c;
	__u64 v;

	memset(sp, 0, sizeof(*sp));
	sp->nsrc = 1;
	sp->sport = 40000;
	sp->dport = 9;
	sp->size = 64;
	sp->batch = 64;
	sp->threads = 1;
	sp->naive_pps = 1;
	sp->naive_burst = 1;
	if (env && *env && parse_method("TRAFGEN_METHOD", env, &sp->method))
		return FG_EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "jh", spec_opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			tg_json = true;
			break;
		case 'h':
			fputs(tg_usage, stdout);
			exit(FG_EXIT_OK);
		case OPT_DMAC:
			if (tg_parse_mac("--dmac", optarg, sp->dmac))
				return FG_EXIT_USAGE;
			have_dmac = true;
			break;
		case OPT_SMAC:
			if (tg_parse_mac("--smac", optarg, sp->smac))
				return FG_EXIT_USAGE;
			sp->have_smac = true;
			break;
		case OPT_DST:
			dst = optarg;
			break;
		case OPT_SRC:
			src = optarg;
			break;
		case OPT_SOURCES:
			if (fg_parse_u64("--sources", optarg, 1, 0xffffffffULL, &v))
				return FG_EXIT_USAGE;
			sp->nsrc = v;
			break;
		case OPT_RANDOM:
			sp->random = true;
			break;
		case OPT_PROTO:
			if (!strcmp(optarg, "syn"))
				sp->syn = true;
			else if (strcmp(optarg, "udp"))
				return error("--proto: '%s' is neither udp nor syn", optarg),
				       FG_EXIT_USAGE;
			break;
		case OPT_SPORT:
		case OPT_DPORT:
			if (fg_parse_u64("port", optarg, 1, 65535, &v))
				return FG_EXIT_USAGE;
			*(c == OPT_SPORT ? &sp->sport : &sp->dport) = v;
			break;
		case OPT_SIZE:
			if (fg_parse_u64("--size", optarg, 60, TG_FRAME_MAX, &v))
				return FG_EXIT_USAGE;
			sp->size = v;
			break;
		case OPT_COUNT:
			if (fg_parse_u64("--count", optarg, 1, 1ULL << 40, &sp->count))
				return FG_EXIT_USAGE;
			have_count = true;
			break;
		case OPT_DURATION:
			if (fg_parse_u64("--duration", optarg, 1, 3600, &v))
				return FG_EXIT_USAGE;
			sp->duration = v;
			have_dur = true;
			break;
		case OPT_RATE:
			if (fg_parse_u64("--rate", optarg, 0, 100000000, &sp->rate))
				return FG_EXIT_USAGE;
			break;
		case OPT_BATCH:
			if (fg_parse_u64("--batch", optarg, 1, TG_BATCH_MAX, &v))
				return FG_EXIT_USAGE;
			sp->batch = v;
			break;
		case OPT_METHOD:
			if (parse_method("--method", optarg, &sp->method))
				return FG_EXIT_USAGE;
			break;
		case OPT_THREADS:
			if (fg_parse_u64("--threads", optarg, 1, TG_MAX_CPUS, &v))
				return FG_EXIT_USAGE;
			sp->threads = v;
			break;
		case OPT_BAN_STORM:
			if (!target)
				return error("send: --ban-storm is an option of cost"), FG_EXIT_USAGE;
			if (fg_parse_u64("--ban-storm", optarg, 1, 100000, &sp->ban_storm))
				return FG_EXIT_USAGE;
			break;
		case OPT_NAIVE_PPS:
		case OPT_NAIVE_BURST:
			if (!target)
				return error("send: --naive-pps and --naive-burst are options of "
					     "cost"),
				       FG_EXIT_USAGE;
			if (fg_parse_u64(c == OPT_NAIVE_PPS ? "--naive-pps" : "--naive-burst",
					 optarg, 1, 1000000000,
					 c == OPT_NAIVE_PPS ? &sp->naive_pps : &sp->naive_burst))
				return FG_EXIT_USAGE;
			break;
		case OPT_TARGET:
		case OPT_NETNS:
		case OPT_BARE:
		case OPT_REPEAT:
		case OPT_WARMUP:
			if (!target)
				return error("send: --target, --netns, --bare, --repeat and"
					     " --warmup are options of cost"),
				       FG_EXIT_USAGE;
			if (c == OPT_TARGET)
				*target = optarg;
			else if (c == OPT_NETNS)
				*netns = optarg;
			else if (c == OPT_BARE)
				*bare = true;
			else if (fg_parse_u64(c == OPT_REPEAT ? "--repeat" : "--warmup", optarg,
					      c == OPT_REPEAT, 1ULL << 34,
					      c == OPT_REPEAT ? repeat : warmup))
				return FG_EXIT_USAGE;
			break;
		case OPT_IFNAME:
			if (!target)
				return error("send: --ifname is an option of cost"), FG_EXIT_USAGE;
			sp->ifname = optarg;
			break;
		case OPT_FAMILY:
			if (fg_parse_u64("--family", optarg, 4, 6, &v) || v == 5)
				return error("--family: 4 or 6"), FG_EXIT_USAGE;
			family = v;
			break;
		default:
			fputs(tg_usage, stderr);
			return FG_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return error("unexpected argument '%s'", argv[optind]), FG_EXIT_USAGE;
	if (target) { /* cost: the lab's addresses, no interface */
		if (!dst)
			dst = family == 6 ? "2001:db8::1" : "198.18.0.1";
		if (!have_dmac)
			memcpy(sp->dmac, "\x02\x00\x00\x00\x00\x01", 6);
		have_dmac = have_count = have_dur = true;
	}
	if (!have_dmac || !dst || !have_count || !have_dur)
		return error("send: --dmac, --dst, --count and --duration are required"),
		       FG_EXIT_USAGE;
	sp->family = tg_parse_lab_addr("--dst", dst, family, sp->dst);
	if (sp->family < 0)
		return FG_EXIT_USAGE;
	if (!src)
		src = sp->family == 4 ? "198.18.0.0" : "2001:db8::";
	if (tg_parse_lab_addr("--src", src, sp->family, sp->base) < 0 || tg_check_sources(sp))
		return FG_EXIT_USAGE;
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	struct tg_link lk;

	if (argc != 2) {
		fputs(tg_usage, stderr);
		return FG_EXIT_USAGE;
	}
	if (tg_lab_check(argv[1], &lk) < 0)
		return FG_EXIT_ERR;
	printf("%s: veth, peer ifindex %d in namespace id %d: ok\n", argv[1], lk.peer_ifindex,
	       lk.peer_netnsid);
	printf("live frames: %s\n", tg_live_granted(if_nametoindex(argv[1])) ? "allowed" : "refused");
	return FG_EXIT_OK;
}

/* Worker i's share of n: n / threads, the remainder to the first ones. */
static __u64 share(__u64 n, int threads, int i)
{
	return n / threads + ((__u64)i < n % threads);
}

static void report(const char *ifname, const struct tg_spec *sp, const struct tg_frame *f,
		   const struct tg_result *res, const struct tg_link *before,
		   const struct tg_link *after)
{
	__u64 rx = after->st.tx_packets - before->st.tx_packets;
	__u64 drops = after->st.tx_dropped - before->st.tx_dropped;
	double pps = res->seconds > 0 ? res->frames / res->seconds : 0;
	struct json_object *o;

	if (!tg_json) {
		printf("%s: sent %" PRIu64
		       " frames of %zu bytes in %.3f s: %.0f pps; peer received "
		       "%" PRIu64 ", ring drops %" PRIu64 "\n",
		       res->method, (uint64_t)res->frames, f->size, res->seconds, pps, (uint64_t)rx,
		       (uint64_t)drops);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "interface", json_object_new_string(ifname));
	json_object_object_add(o, "method", json_object_new_string(res->method));
	json_object_object_add(o, "threads", json_object_new_int(sp->threads));
	json_object_object_add(o, "frames", json_object_new_int64(res->frames));
	json_object_object_add(o, "seconds", json_object_new_double(res->seconds));
	json_object_object_add(o, "pps", json_object_new_double(pps));
	json_object_object_add(o, "peer_received", json_object_new_int64(rx));
	json_object_object_add(o, "peer_dropped", json_object_new_int64(drops));
	json_object_object_add(o, "retries", json_object_new_int64(res->retries));
	json_object_object_add(o, "frame_bytes", json_object_new_int64(f->size));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int cmd_send(int argc, char **argv)
{
	struct tg_worker w[TG_MAX_CPUS] = {};
	struct tg_result res = {};
	struct tg_link before, after;
	static struct tg_frame f;
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	const char *ifname;
	struct tg_spec sp;
	int ifindex, ret, i;

	if (argc < 2 || argv[1][0] == '-') {
		fputs(tg_usage, stderr);
		return FG_EXIT_USAGE;
	}
	ifname = argv[1];
	argc--, argv++;
	ret = tg_parse_spec(argc, argv, &sp, NULL, NULL, NULL, NULL, NULL);
	if (ret)
		return ret;
	ifindex = tg_lab_check(ifname, &before);
	if (ifindex < 0)
		return FG_EXIT_ERR;
	if (!sp.have_smac)
		memcpy(sp.smac, before.mac, 6);
	tg_build_frame(&sp, &f);
	if (sp.method == TG_AUTO)
		sp.method = tg_live_granted(ifindex) ? TG_LIVE : TG_PACKET;
	for (i = 0; i < (int)sp.threads; i++) {
		w[i].slot = i;
		w[i].count = share(sp.count, sp.threads, i);
		w[i].rate = share(sp.rate, sp.threads, i);
		if (sp.rate && !w[i].rate)
			return error("send: --rate %" PRIu64 " is less than a frame per second for "
				     "each of %u threads",
				     (uint64_t)sp.rate, sp.threads),
			       FG_EXIT_USAGE;
	}
	if (tg_assign_cpus(w, sp.threads))
		return error("send: --threads %u: more than the CPUs we may run on (taskset)",
			     sp.threads),
		       FG_EXIT_USAGE;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = tg_link_query(ifindex, &before);
	if (ret)
		return error("send: read the counters of %s: %s", ifname, strerror(-ret)),
		       FG_EXIT_ERR;
	switch (sp.method) {
	case TG_LIVE:
		ret = tg_send_live(&sp, &f, ifindex, w, sp.threads, &res);
		break;
	case TG_LOOP:
		ret = tg_send_loop(&sp, &f, ifindex, w, sp.threads, &res);
		break;
	default:
		ret = tg_send_packet(&sp, &f, ifindex, w, sp.threads, &res);
		break;
	}
	if (ret)
		return ret;
	/* let the peer's NAPI drain its ring before reading its counters */
	tg_sleep_until(tg_now() + 0.05);
	ret = tg_link_query(ifindex, &after);
	if (ret)
		return error("send: read the counters of %s: %s", ifname, strerror(-ret)),
		       FG_EXIT_ERR;
	report(ifname, &sp, &f, &res, &before, &after);
	if (res.frames && after.st.tx_packets == before.st.tx_packets)
		return error("send: %s: %" PRIu64 " frames handed to %s, none reached its peer",
			     res.method, (uint64_t)res.frames, ifname),
		       FG_EXIT_ERR;
	/* stopped by its owner (SIGTERM, ^C): the report says what went out; no error */
	return tg_interrupted ? 128 + tg_interrupted : FG_EXIT_OK;
}

int main(int argc, char **argv)
{
	int i = 1;

	if (i < argc && !strcmp(argv[i], "-j")) {
		tg_json = true;
		i++;
	}
	if (i >= argc || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
		fputs(tg_usage, i >= argc ? stderr : stdout);
		return i >= argc ? FG_EXIT_USAGE : FG_EXIT_OK;
	}
	argc -= i, argv += i;
	if (!strcmp(argv[0], "send"))
		return cmd_send(argc, argv);
	if (!strcmp(argv[0], "check"))
		return cmd_check(argc, argv);
	if (!strcmp(argv[0], "cost"))
		return tg_cmd_cost(argc, argv);
	if (!strcmp(argv[0], "drop-attach"))
		return tg_cmd_baseline(argc, argv, "drop");
	if (!strcmp(argv[0], "naive-attach"))
		return tg_cmd_baseline(argc, argv, "naive");
	if (!strcmp(argv[0], "drop-detach"))
		return tg_cmd_baseline(argc, argv, NULL);
	error("unknown command '%s'", argv[0]);
	fputs(tg_usage, stderr);
	return FG_EXIT_USAGE;
}
