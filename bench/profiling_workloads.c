/* Workloads for the profiling benchmark (bench/profiling.sh):
 *   cpu N      a CPU-bound loop (hashing through a few call levels, frame pointers kept), N
 *              iterations; prints milliseconds of wall time
 *   switch N   N pipe round trips between two processes (two blocking context switches each,
 *              far below the 1 ms off-CPU threshold); prints ns per round trip */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

__attribute__((noinline)) static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ULL;
	return h ^ (h >> 29);
}

__attribute__((noinline)) static uint64_t block(uint64_t h, uint64_t i)
{
	for (int k = 0; k < 64; k++)
		h = mix(h, i + k);
	return h;
}

static int cpu(long n)
{
	double t0 = now_ns();
	uint64_t h = 1469598103934665603ULL;
	for (long i = 0; i < n; i++)
		h = block(h, (uint64_t)i);
	printf("%.1f\n", (now_ns() - t0) / 1e6);
	return h == 42; /* keeps the work */
}

static int pingpong(long n)
{
	int a[2], b[2];
	char c = 'x';
	if (pipe(a) || pipe(b))
		return 2;
	pid_t child = fork();
	if (child == 0) {
		for (long i = 0; i < n; i++)
			if (read(a[0], &c, 1) != 1 || write(b[1], &c, 1) != 1)
				_exit(3);
		_exit(0);
	}
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			return 4;
	double t1 = now_ns();
	waitpid(child, NULL, 0);
	printf("%.0f\n", (t1 - t0) / n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s cpu|switch N\n", argv[0]);
		return 2;
	}
	long n = atol(argv[2]);
	if (!strcmp(argv[1], "cpu"))
		return cpu(n);
	if (!strcmp(argv[1], "switch"))
		return pingpong(n);
	fprintf(stderr, "unknown workload %s\n", argv[1]);
	return 2;
}
