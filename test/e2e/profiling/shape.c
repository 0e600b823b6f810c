/* A program of known shape for the profiling test (built with -O0 -fno-omit-frame-pointer):
 *   main thread: main -> work_a (7 units of work) and main -> work_b (3 units), in turns, so
 *   work_a takes ~70% and work_b ~30% of its CPU time;
 *   reader thread: reader_thread -> block_on_pipe -> read(), blocked on a pipe the main thread
 *   writes one byte to every ~50 ms, so it is off-CPU nearly all the time, in block_on_pipe.
 * Runs for argv[1] seconds (default 6), then waits for a line on stdin (so the agent can read
 * /proc/<pid>/maps after the last sample) and exits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static int pipe_fds[2];

#define UNIT 400000UL

__attribute__((noinline)) void work_a(void)
{
	for (unsigned long i = 0; i < 7 * UNIT; i++)
		sink += i ^ (i >> 3);
}

__attribute__((noinline)) void work_b(void)
{
	for (unsigned long i = 0; i < 3 * UNIT; i++)
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

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 6;
	pthread_t t;
	if (pipe(pipe_fds) || pthread_create(&t, NULL, reader_thread, NULL))
		return 2;
	printf("ready\n");
	fflush(stdout);
	double start = now(), last_write = start;
	while (now() - start < seconds) {
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
