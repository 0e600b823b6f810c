/* SPDX-License-Identifier: Apache-2.0 */
/* Small N-API helpers shared by the addon's modules. */
#ifndef FLOWLENS_NAPI_UTIL_H
#define FLOWLENS_NAPI_UTIL_H
#include <node_api.h>
#include <bpf/libbpf.h>
#include <stdlib.h>

/* obj[name] = value (a JS number) */
static inline void set_num(napi_env env, napi_value obj, const char *name, double value)
{
	napi_value v;
	napi_create_double(env, value, &v);
	napi_set_named_property(env, obj, name, v);
}

/* obj[names[k]] = the sum over CPUs of slot k of a per-CPU array of __u64 counters, for k < n */
static inline void set_percpu_sums(napi_env env, napi_value obj, const struct bpf_map *map, const char *const *names, __u32 n)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals = ncpu > 0 ? calloc((size_t)ncpu, sizeof(__u64)) : NULL;
	for (__u32 k = 0; k < n; k++) {
		double sum = 0;
		if (vals && bpf_map__lookup_elem(map, &k, sizeof(k), vals, sizeof(__u64) * (size_t)ncpu, 0) == 0)
			for (int c = 0; c < ncpu; c++)
				sum += (double)vals[c];
		set_num(env, obj, names[k], sum);
	}
	free(vals);
}

#endif
