/* Workloads for the profiling benchmark (bench/profiling.sh):
 *   cpu N      a CPU-bound loop (hashing through a few call levels, frame pointers kept), N
 *              iterations; prints milliseconds of wall time and of the process's CPU time (the
 *              latter is what the sampling interrupts add to, and other load does not)
 *   switch N   N pipe round trips between two processes (two blocking context switches each,
 *              far below the 1 ms off-CPU threshold); prints ns per round trip */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
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
	double t0 = now_ns(), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	uint64_t h = 1469598103934665603ULL;
	for (long i = 0; i < n; i++)
		h = block(h, (uint64_t)i);
	printf("%.1f %.1f\n", (now_ns() - t0) / 1e6, (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e6);
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
