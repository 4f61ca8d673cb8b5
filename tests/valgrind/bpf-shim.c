// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * bpf-shim.c: an LD_PRELOAD library for tests/valgrind.test.sh that tells
 * valgrind what the kernel wrote during the bpf() commands valgrind does
 * not model.
 *
 * valgrind 3.19 knows nothing of BPF_MAP_LOOKUP_BATCH ("unhandled eBPF
 * command 24"): the keys, values and count the kernel writes stay
 * "uninitialised" to it, and every use of them would be reported. This
 * wraps libbpf's bpf_map_lookup_batch() and marks exactly what the kernel
 * filled (count entries, per-CPU values for per-CPU maps) as defined, so
 * memcheck still catches floodgate reading past what it was given.
 * Outside valgrind the client requests do nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <valgrind/memcheck.h>

typedef int (*lookup_batch_fn)(int fd, void *in_batch, void *out_batch, void *keys, void *values,
			       __u32 *count, const struct bpf_map_batch_opts *opts);

static size_t value_bytes(const struct bpf_map_info *info)
{
	switch (info->type) {
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH: {
		int cpus = libbpf_num_possible_cpus();

		return (size_t)(cpus > 0 ? cpus : 1) * ((info->value_size + 7) & ~7U);
	}
	default:
		return info->value_size;
	}
}

int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values,
			 __u32 *count, const struct bpf_map_batch_opts *opts)
{
	static lookup_batch_fn real;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int ret, saved;

	if (!real)
		real = (lookup_batch_fn)dlsym(RTLD_NEXT, "bpf_map_lookup_batch");
	if (!real)
		return -ENOSYS;
	ret = real(fd, in_batch, out_batch, keys, values, count, opts);
	saved = errno;
	if (count && (!ret || errno == ENOENT) && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
		VALGRIND_MAKE_MEM_DEFINED(count, sizeof(*count));
		VALGRIND_MAKE_MEM_DEFINED(keys, (size_t)*count * info.key_size);
		VALGRIND_MAKE_MEM_DEFINED(values, (size_t)*count * value_bytes(&info));
		/* the batch token of hash maps is a bucket index (__u32) */
		if (out_batch)
			VALGRIND_MAKE_MEM_DEFINED(out_batch, sizeof(__u32));
	}
	errno = saved;
	return ret;
}
