/* A program of known shape for the profiling test (built with -O0 -fno-omit-frame-pointer):
 *   main thread: main -> work_a (7 units of work) and main -> work_b (3 units), in turns, so
 *   work_a takes ~70% and work_b ~30% of its CPU time;
 *   reader thread: reader_thread -> block_on_pipe -> read(), blocked on a pipe the main thread
 *   writes one byte to every ~50 ms, so it is off-CPU nearly all the time, in block_on_pipe.
 * argv[2] (default 3) changes work_b's units: `shape 4 9` is the same program with work_b grown
 * (7:9), for the diff of a range before and after a change in the workload.
 * Works until its main thread has used argv[1] seconds of CPU (default 4; at most 40 s of wall
 * time, so a loaded machine stretches the run instead of thinning the samples), prints "done",
 * then waits for a line on stdin (so the agent reads /proc/<pid>/maps after the last sample). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static int pipe_fds[2];
static unsigned long b_units = 3;

#define UNIT 400000UL

__attribute__((noinline)) void work_a(void)
{
	for (unsigned long i = 0; i < 7 * UNIT; i++)
		sink += i ^ (i >> 3);
}

__attribute__((noinline)) void work_b(void)
{
	for (unsigned long i = 0; i < b_units * UNIT; i++)
		sink += i ^ (i >> 3);
}

__attribute__((noinline)) void block_on_pipe(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		_exit(3);
}

static void *reader_thread(void *arg)
{
	(void)arg;
	for (;;)
		block_on_pipe(pipe_fds[0]);
	return NULL;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
	double cpu_seconds = argc > 1 ? atof(argv[1]) : 4;
	if (argc > 2 && atoi(argv[2]) > 0)
		b_units = (unsigned long)atoi(argv[2]);
	pthread_t t;
	if (pipe(pipe_fds) || pthread_create(&t, NULL, reader_thread, NULL))
		return 2;
	printf("ready\n");
	fflush(stdout);
	double start = now(), last_write = start;
	while (clock_s(CLOCK_THREAD_CPUTIME_ID) < cpu_seconds && now() - start < 40) {
		work_a();
		work_b();
		if (now() - last_write >= 0.05) {
			if (write(pipe_fds[1], "x", 1) != 1)
				return 4;
			last_write = now();
		}
	}
	printf("done\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return 0;
}
