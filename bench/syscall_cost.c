// Tight loop of write()+read() of SIZE bytes over a loopback TCP connection (traced by FlowLens)
// or a unix socketpair (filtered out in the kernel). Prints ns per syscall.
// Usage: syscall_cost tcp|unix SIZE ITERATIONS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *m) { perror(m); exit(1); }

static void tcp_pair(int fds[2]) {
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) || getsockname(l, (void *)&a, &len)) die("listen");
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fds[0], (void *)&a, sizeof(a))) die("connect");
	fds[1] = accept(l, NULL, NULL);
	if (fds[1] < 0) die("accept");
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(l);
}

int main(int argc, char **argv) {
	if (argc != 4) { fprintf(stderr, "usage: %s tcp|unix SIZE ITERATIONS\n", argv[0]); return 2; }
	int fds[2];
	size_t size = strtoul(argv[2], NULL, 10);
	long n = strtol(argv[3], NULL, 10);
	if (!strcmp(argv[1], "tcp")) tcp_pair(fds);
	else if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) die("socketpair");
	char *buf = calloc(1, size);
	/* zeros: no protocol matches, so the agent's user space drops the stream after a few tries and
	 * the figure is the kernel-side cost */
	struct timespec t0, t1;
	for (long i = 0; i < n / 10; i++) { /* warm up */
		if (write(fds[0], buf, size) != (ssize_t)size) die("write");
		for (size_t got = 0; got < size;) { ssize_t r = read(fds[1], buf, size - got); if (r <= 0) die("read"); got += r; }
	}
	long syscalls = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		if (write(fds[0], buf, size) != (ssize_t)size) die("write");
		syscalls++;
		for (size_t got = 0; got < size;) { ssize_t r = read(fds[1], buf, size - got); if (r <= 0) die("read"); got += r; syscalls++; }
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("%.1f\n", ns / syscalls);
	return 0;
}
