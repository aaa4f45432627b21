/*
 * bench_loop: the cost of one loop iteration as the number of watched fds
 * grows, per backend. N socketpairs are watched for reading; K of them have
 * a byte pending (never read, so level-triggered readiness repeats every
 * iteration); the rest are idle. Each iteration runs K callbacks, so the
 * difference between backends is what they pay for the N - K idle fds.
 *
 *   bench_loop [-k ACTIVE] [-t SECONDS_PER_CELL] N...
 *
 * Prints a Markdown table: one row per N, one column per backend, in
 * microseconds per iteration. select only runs where N fits below
 * FD_SETSIZE.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evcrawl/loop.h"

static long callbacks;

static void on_ready(evc_loop_t *loop, int fd, int events, void *arg)
{
	callbacks++;
}

static int watch(evc_loop_t *loop, int fd)
{
	return evc_io_start(loop, fd, EVC_READ, on_ready, NULL);
}

/* Returns µs per iteration, or -1 if the backend cannot hold N fds. Idle
 * watched fds are both ends of quiet socketpairs; each of the K active ones
 * is one end of a pair whose other end (kept high, unwatched) wrote a byte.
 * So N watched fds cost about N + K descriptors. */
static double measure(const char *backend, int n, int k, double seconds)
{
	evc_loop_t *loop;
	if (evc_loop_new(&loop, backend) < 0)
		return -1;
	int *fds = calloc((size_t)n + (size_t)k, sizeof *fds);
	int nfds = 0, watched = 0, ok = 1;
	for (int i = 0; i < k && ok; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			break;
		int high = fcntl(sv[1], F_DUPFD_CLOEXEC, n + k + 64);
		close(sv[1]);
		fds[nfds++] = sv[0];
		if (high < 0)
			ok = 0;
		else
			fds[nfds++] = high;
		ok = ok && high >= 0 && write(high, "x", 1) == 1 && watch(loop, sv[0]) == 0;
		watched++;
	}
	while (watched < n && ok) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
			ok = 0;
			break;
		}
		fds[nfds++] = sv[0];
		fds[nfds++] = sv[1];
		ok = watch(loop, sv[0]) == 0 && (watched + 1 == n || watch(loop, sv[1]) == 0);
		watched += 2;
	}
	double us = -1;
	if (ok) {
		/* Warm up, then time batches until the cell's time is spent. */
		for (int i = 0; i < 100; i++)
			evc_loop_run(loop, EVC_RUN_NOWAIT);
		long iters = 0;
		uint64_t start = evc_hrtime(), budget = (uint64_t)(seconds * 1e9), elapsed;
		do {
			for (int i = 0; i < 200; i++)
				evc_loop_run(loop, EVC_RUN_NOWAIT);
			iters += 200;
			elapsed = evc_hrtime() - start;
		} while (elapsed < budget);
		us = (double)elapsed / 1e3 / (double)iters;
	}
	for (int i = 0; i < nfds; i++) {
		evc_io_stop(loop, fds[i]);
		close(fds[i]);
	}
	free(fds);
	evc_loop_free(loop);
	return us;
}

int main(int argc, char **argv)
{
	int k = 10;
	double seconds = 0.5;
	int opt;
	while ((opt = getopt(argc, argv, "k:t:")) != -1) {
		if (opt == 'k')
			k = atoi(optarg);
		else if (opt == 't')
			seconds = atof(optarg);
		else
			return 2;
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);

	const char *const *names = evc_loop_backends();
	printf("| watched fds (N), %d active |", k);
	for (int b = 0; names[b]; b++)
		printf(" %s µs/iter |", names[b]);
	printf("\n|---:|");
	for (int b = 0; names[b]; b++)
		printf("---:|");
	printf("\n");
	for (int i = optind; i < argc; i++) {
		int n = atoi(argv[i]);
		printf("| %d |", n);
		for (int b = 0; names[b]; b++) {
			double us = -1;
			if (strcmp(names[b], "select") != 0 || n + 16 < FD_SETSIZE)
				us = measure(names[b], n, k, seconds);
			if (us < 0)
				printf(" — |");
			else
				printf(" %.2f |", us);
			fflush(stdout);
		}
		printf("\n");
	}
	return 0;
}
