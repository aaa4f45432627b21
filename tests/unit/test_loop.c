/*
 * Event loop tests, run once per backend (epoll, poll, select).
 *
 * Callbacks count into a test-wide struct; assertions come after the loop
 * returns, so a callback that never runs fails the test instead of hiding.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "evcrawl/loop.h"

static const char *backend; /* the backend the current group runs on */

static evc_loop_t *new_loop(void)
{
	evc_loop_t *loop = NULL;
	assert_int_equal(evc_loop_new(&loop, backend), 0);
	assert_string_equal(evc_loop_backend(loop), backend);
	return loop;
}

static void make_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* ---- readiness ------------------------------------------------------- */

struct io_count {
	int calls;
	int reads, writes;
	int last_fd;
};

static void count_io(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct io_count *c = arg;
	c->calls++;
	c->reads += !!(events & EVC_READ);
	c->writes += !!(events & EVC_WRITE);
	c->last_fd = fd;
}

static void test_pipe_readable(void **state)
{
	evc_loop_t *loop = new_loop();
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	struct io_count c = {0};
	assert_int_equal(evc_io_start(loop, p[0], EVC_READ, count_io, &c), 0);
	assert_int_equal(evc_io_events(loop, p[0]), EVC_READ);

	/* Nothing written yet: an iteration that does not wait sees nothing. */
	assert_int_equal(evc_loop_run(loop, EVC_RUN_NOWAIT), 1);
	assert_int_equal(c.calls, 0);

	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_ONCE), 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.reads, 1);
	assert_int_equal(c.writes, 0);
	assert_int_equal(c.last_fd, p[0]);

	/* Level-triggered: unread data keeps reporting, every iteration. */
	assert_int_equal(evc_loop_run(loop, EVC_RUN_NOWAIT), 1);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_NOWAIT), 1);
	assert_int_equal(c.calls, 3);

	char b;
	assert_int_equal(read(p[0], &b, 1), 1);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_NOWAIT), 1);
	assert_int_equal(c.calls, 3);

	assert_int_equal(evc_io_stop(loop, p[0]), 0);
	assert_int_equal(evc_io_events(loop, p[0]), -1);
	/* Nothing is active any more: run returns at once with 0. */
	assert_int_equal(evc_loop_run(loop, EVC_RUN_DEFAULT), 0);
	close(p[0]);
	close(p[1]);
	evc_loop_free(loop);
}

static void test_toggle_write_interest(void **state)
{
	evc_loop_t *loop = new_loop();
	int sv[2];
	make_pair(sv);
	struct io_count c = {0};

	assert_int_equal(evc_io_start(loop, sv[0], EVC_WRITE, count_io, &c), 0);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_NOWAIT), 1);
	assert_int_equal(c.writes, 1);
	assert_int_equal(c.reads, 0);

	/* Drop write interest: a writable socket is now quiet. */
	assert_int_equal(evc_io_start(loop, sv[0], EVC_READ, count_io, &c), 0);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_NOWAIT), 1);
	assert_int_equal(c.calls, 1);

	/* Registered with no events: quiet but still active. */
	assert_int_equal(evc_io_start(loop, sv[0], 0, count_io, &c), 0);
	assert_int_equal(write(sv[1], "y", 1), 1);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_NOWAIT), 1);
	assert_int_equal(c.calls, 1);

	/* Both: one callback with both bits. */
	assert_int_equal(evc_io_start(loop, sv[0], EVC_READ | EVC_WRITE, count_io, &c), 0);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_NOWAIT), 1);
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.reads, 1);
	assert_int_equal(c.writes, 2);

	evc_io_stop(loop, sv[0]);
	close(sv[0]);
	close(sv[1]);
	evc_loop_free(loop);
}

static void test_hangup_is_readable(void **state)
{
	evc_loop_t *loop = new_loop();
	int sv[2];
	make_pair(sv);
	struct io_count c = {0};
	assert_int_equal(evc_io_start(loop, sv[0], EVC_READ, count_io, &c), 0);
	close(sv[1]);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_ONCE), 1);
	assert_int_equal(c.reads, 1);
	char b;
	assert_int_equal(read(sv[0], &b, 1), 0); /* EOF */
	evc_io_stop(loop, sv[0]);
	close(sv[0]);
	evc_loop_free(loop);
}

static void test_bad_arguments(void **state)
{
	evc_loop_t *loop = new_loop();
	struct io_count c = {0};
	assert_int_equal(evc_io_start(loop, -1, EVC_READ, count_io, &c), -EBADF);
	assert_int_equal(evc_io_start(loop, 0, 8, count_io, &c), -EINVAL);
	assert_int_equal(evc_io_stop(loop, 12345), 0); /* not watched: no-op */
	assert_int_equal(evc_io_events(loop, 12345), -1);
	evc_loop_free(loop);
}

/* ---- removing watchers from inside callbacks ------------------------ */

struct pair_test {
	evc_loop_t *loop;
	int a[2], b[2];
	int calls;
	int reused_fd; /* new pipe that took the closed fd's number, or -1 */
	int reused_calls;
	int reused_pipe[2];
};

static void reused_cb(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct pair_test *t = arg;
	t->reused_calls++;
}

/* Whichever of the two readable fds runs first stops and closes the other
 * and puts a fresh, idle pipe on its fd number. */
static void close_other_cb(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct pair_test *t = arg;
	t->calls++;
	int other = fd == t->a[0] ? t->b[0] : t->a[0];
	assert_int_equal(evc_io_stop(loop, other), 0);
	close(other);
	assert_int_equal(pipe2(t->reused_pipe, O_NONBLOCK | O_CLOEXEC), 0);
	if (t->reused_pipe[0] != other) {
		/* Make the new read end land on the old number. */
		assert_int_equal(dup3(t->reused_pipe[0], other, O_CLOEXEC), other);
		close(t->reused_pipe[0]);
		t->reused_pipe[0] = other;
	}
	t->reused_fd = other;
	assert_int_equal(evc_io_start(loop, other, EVC_READ, reused_cb, t), 0);
	/* Only one of the two may ever get here. */
	evc_io_stop(loop, fd);
}

static void test_stop_other_watcher_in_callback(void **state)
{
	struct pair_test t = {.loop = new_loop(), .reused_fd = -1};
	make_pair(t.a);
	make_pair(t.b);
	assert_int_equal(write(t.a[1], "1", 1), 1);
	assert_int_equal(write(t.b[1], "2", 1), 1);
	assert_int_equal(evc_io_start(t.loop, t.a[0], EVC_READ, close_other_cb, &t), 0);
	assert_int_equal(evc_io_start(t.loop, t.b[0], EVC_READ, close_other_cb, &t), 0);
	assert_int_equal(evc_loop_run(t.loop, EVC_RUN_ONCE), 1);
	assert_int_equal(t.calls, 1);
	/* The stale readiness of the closed fd must not reach the new pipe. */
	assert_int_equal(t.reused_calls, 0);
	assert_int_equal(evc_loop_run(t.loop, EVC_RUN_NOWAIT), 1);
	assert_int_equal(t.reused_calls, 0);

	evc_io_stop(t.loop, t.reused_fd);
	close(t.reused_pipe[0]);
	close(t.reused_pipe[1]);
	int survivor = t.reused_fd == t.a[0] ? t.b[0] : t.a[0];
	close(survivor);
	close(t.a[1]);
	close(t.b[1]);
	assert_int_equal(evc_loop_run(t.loop, EVC_RUN_DEFAULT), 0);
	evc_loop_free(t.loop);
}

/* ---- timers ---------------------------------------------------------- */

#define NTIMERS 10000

struct order_test {
	evc_timer_t *timers[NTIMERS];
	uint64_t timeout[NTIMERS];
	int fired[NTIMERS];
	int nfired;
	int order[NTIMERS];
};

static struct order_test *ot;

static void record_cb(evc_timer_t *timer, void *arg)
{
	int i = (int)(intptr_t)arg;
	ot->fired[i]++;
	ot->order[ot->nfired++] = i;
}

static void test_timers_fire_in_deadline_order(void **state)
{
	evc_loop_t *loop = new_loop();
	ot = calloc(1, sizeof *ot);
	srand(42);
	for (int i = 0; i < NTIMERS; i++) {
		ot->timers[i] = evc_timer_new(loop, record_cb, (void *)(intptr_t)i);
		assert_non_null(ot->timers[i]);
		ot->timeout[i] = (uint64_t)(rand() % 40); /* many equal deadlines */
		assert_int_equal(evc_timer_start(ot->timers[i], ot->timeout[i], 0), 0);
	}
	/* Cancel every third: those must never fire. */
	int cancelled = 0;
	for (int i = 0; i < NTIMERS; i += 3) {
		evc_timer_stop(ot->timers[i]);
		assert_false(evc_timer_active(ot->timers[i]));
		cancelled++;
	}
	assert_int_equal(evc_loop_run(loop, EVC_RUN_DEFAULT), 0);

	assert_int_equal(ot->nfired, NTIMERS - cancelled);
	for (int i = 0; i < NTIMERS; i++)
		assert_int_equal(ot->fired[i], i % 3 == 0 ? 0 : 1);
	/* All were started at the same loop time, so deadline order is timeout
	 * order, and equal timeouts fire in start (index) order. */
	for (int k = 1; k < ot->nfired; k++) {
		int a = ot->order[k - 1], b = ot->order[k];
		uint64_t ta = ot->timeout[a], tb = ot->timeout[b];
		assert_true(ta < tb || (ta == tb && a < b));
	}
	for (int i = 0; i < NTIMERS; i++)
		evc_timer_free(ot->timers[i]);
	free(ot);
	evc_loop_free(loop);
}

struct repeat_test {
	int calls;
	uint64_t first, last;
	evc_loop_t *loop;
};

static void repeat_cb(evc_timer_t *timer, void *arg)
{
	struct repeat_test *r = arg;
	if (r->calls++ == 0)
		r->first = evc_now(r->loop);
	r->last = evc_now(r->loop);
	if (r->calls == 5)
		evc_timer_stop(timer);
}

static void test_repeating_timer(void **state)
{
	evc_loop_t *loop = new_loop();
	struct repeat_test r = {.loop = loop};
	evc_timer_t *t = evc_timer_new(loop, repeat_cb, &r);
	uint64_t start = evc_now(loop);
	assert_int_equal(evc_timer_start(t, 5, 10), 0);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_DEFAULT), 0);
	assert_int_equal(r.calls, 5);
	assert_true(r.first >= start + 5);
	assert_true(r.last >= r.first + 40); /* four repeats of >= 10 ms */
	evc_timer_free(t);
	evc_loop_free(loop);
}

struct kill_test {
	evc_timer_t *victim_stop, *victim_free, *self_free, *restart_zero;
	int killer_calls, victim_calls, self_calls, restart_calls;
};

static struct kill_test *kt;

static void victim_cb(evc_timer_t *timer, void *arg)
{
	kt->victim_calls++;
}

static void self_free_cb(evc_timer_t *timer, void *arg)
{
	kt->self_calls++;
	evc_timer_free(timer);
	kt->self_free = NULL;
}

static void restart_zero_cb(evc_timer_t *timer, void *arg)
{
	/* Restarting with 0 inside the callback must wait for the next
	 * iteration, not spin in this one. */
	if (++kt->restart_calls < 3)
		evc_timer_start(timer, 0, 0);
}

static void killer_cb(evc_timer_t *timer, void *arg)
{
	kt->killer_calls++;
	evc_timer_stop(kt->victim_stop);
	evc_timer_free(kt->victim_free);
	kt->victim_free = NULL;
}

static void test_stop_and_free_due_timers_in_callback(void **state)
{
	evc_loop_t *loop = new_loop();
	kt = calloc(1, sizeof *kt);
	evc_timer_t *killer = evc_timer_new(loop, killer_cb, NULL);
	kt->victim_stop = evc_timer_new(loop, victim_cb, NULL);
	kt->victim_free = evc_timer_new(loop, victim_cb, NULL);
	kt->self_free = evc_timer_new(loop, self_free_cb, NULL);
	kt->restart_zero = evc_timer_new(loop, restart_zero_cb, NULL);
	/* Same deadline: all due in the same iteration; killer runs first. */
	evc_timer_start(killer, 2, 0);
	evc_timer_start(kt->victim_stop, 2, 0);
	evc_timer_start(kt->victim_free, 2, 0);
	evc_timer_start(kt->self_free, 2, 0);
	evc_timer_start(kt->restart_zero, 2, 0);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_DEFAULT), 0);
	assert_int_equal(kt->killer_calls, 1);
	assert_int_equal(kt->victim_calls, 0);
	assert_int_equal(kt->self_calls, 1);
	assert_null(kt->self_free);
	assert_int_equal(kt->restart_calls, 3);
	evc_timer_free(killer);
	evc_timer_free(kt->victim_stop);
	evc_timer_free(kt->restart_zero);
	free(kt);
	evc_loop_free(loop);
}

static void stop_loop_cb(evc_timer_t *timer, void *arg)
{
	evc_loop_stop(arg);
}

static void test_stop_returns_with_work_left(void **state)
{
	evc_loop_t *loop = new_loop();
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	struct io_count c = {0};
	evc_io_start(loop, p[0], EVC_READ, count_io, &c); /* never ready */
	evc_timer_t *t = evc_timer_new(loop, stop_loop_cb, loop);
	evc_timer_start(t, 1, 0);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_DEFAULT), 1);
	assert_int_equal(c.calls, 0);
	evc_io_stop(loop, p[0]);
	close(p[0]);
	close(p[1]);
	evc_timer_free(t);
	evc_loop_free(loop);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void count_timer_cb(evc_timer_t *timer, void *arg)
{
	(*(int *)arg)++;
}

/* A signal that interrupts the wait must not fail the loop. */
static void test_eintr_is_retried(void **state)
{
	evc_loop_t *loop = new_loop();
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	struct sigaction old;
	sigaction(SIGALRM, &sa, &old);
	struct itimerval it = {.it_value = {.tv_usec = 10000}};
	setitimer(ITIMER_REAL, &it, NULL);
	int fired = 0;
	evc_timer_t *t = evc_timer_new(loop, count_timer_cb, &fired);
	evc_timer_start(t, 60, 0);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_DEFAULT), 0);
	assert_int_equal(fired, 1);
	sigaction(SIGALRM, &old, NULL);
	evc_timer_free(t);
	evc_loop_free(loop);
}

/* RUN_ONCE after a timer ran must return, not sleep on idle fds: an
 * embedding caller checks its state between iterations. */
static void test_run_once_returns_after_timer(void **state)
{
	evc_loop_t *loop = new_loop();
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	struct io_count c = {0};
	evc_io_start(loop, p[0], EVC_READ, count_io, &c); /* never ready */
	int fired = 0;
	evc_timer_t *t = evc_timer_new(loop, count_timer_cb, &fired);
	evc_timer_start(t, 0, 0);
	evc_update_time(loop);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_ONCE), 1);
	assert_int_equal(fired, 1);
	evc_io_stop(loop, p[0]);
	close(p[0]);
	close(p[1]);
	evc_timer_free(t);
	evc_loop_free(loop);
}

/* A quiet fd (events 0) whose peer hung up must not wake the loop: epoll
 * and poll report hang-ups whatever was asked for. */
static void test_quiet_fd_does_not_spin(void **state)
{
	evc_loop_t *loop = new_loop();
	int sv[2];
	make_pair(sv);
	close(sv[1]);
	struct io_count c = {0};
	assert_int_equal(evc_io_start(loop, sv[0], 0, count_io, &c), 0);
	int fired = 0;
	evc_timer_t *t = evc_timer_new(loop, count_timer_cb, &fired);
	evc_timer_start(t, 50, 0);
	uint64_t start = evc_hrtime();
	int iterations = 0;
	while (!fired && iterations < 1000) {
		evc_loop_run(loop, EVC_RUN_ONCE);
		iterations++;
	}
	assert_int_equal(fired, 1);
	assert_true(iterations <= 2); /* slept until the timer, not spinning */
	assert_true(evc_hrtime() - start >= 40 * 1000000ull);
	assert_int_equal(c.calls, 0);
	/* Asking for reads again reports the hang-up as readable. */
	assert_int_equal(evc_io_start(loop, sv[0], EVC_READ, count_io, &c), 0);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_ONCE), 1);
	assert_int_equal(c.reads, 1);
	evc_io_stop(loop, sv[0]);
	close(sv[0]);
	evc_timer_free(t);
	evc_loop_free(loop);
}

/* ---- many fds, and select's limit ------------------------------------- */

static void raise_nofile(rlim_t *soft)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	*soft = rl.rlim_cur;
}

/* Registers as many socketpairs as the fd limit allows, makes every 97th
 * readable, and checks exactly those run. */
static void test_as_many_fds_as_the_limit_allows(void **state)
{
	rlim_t limit;
	raise_nofile(&limit);
	evc_loop_t *loop = new_loop();
	size_t max_pairs = (size_t)(limit > 64 ? (limit - 64) / 2 : 1);
	int(*pairs)[2] = calloc(max_pairs, sizeof *pairs);
	struct io_count c = {0};
	size_t n = 0;
	while (n < max_pairs &&
	       socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pairs[n]) == 0)
		n++;
	assert_true(n > 1000);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(evc_io_start(loop, pairs[i][0], EVC_READ, count_io, &c), 0);
	int want = 0;
	for (size_t i = 0; i < n; i += 97, want++)
		assert_int_equal(write(pairs[i][1], "z", 1), 1);
	/* One wait may return a bounded batch (epoll takes up to 1024); loop
	 * until every ready fd was seen once. */
	int iterations = 0;
	while (c.calls < want && iterations++ < 100) {
		assert_int_equal(evc_loop_run(loop, EVC_RUN_ONCE), 1);
	}
	assert_int_equal(c.calls, want);
	print_message("%s: %zu fds watched, %d ready, all seen\n", backend, 2 * n, want);
	for (size_t i = 0; i < n; i++) {
		evc_io_stop(loop, pairs[i][0]);
		close(pairs[i][0]);
		close(pairs[i][1]);
	}
	free(pairs);
	evc_loop_free(loop);
}

static void test_select_refuses_fd_over_setsize(void **state)
{
	rlim_t limit;
	raise_nofile(&limit);
	assert_true(limit > FD_SETSIZE + 8); /* the test needs fds past the set */
	evc_loop_t *loop = new_loop();
	int big = fcntl(0, F_DUPFD_CLOEXEC, FD_SETSIZE + 5);
	assert_true(big >= FD_SETSIZE);
	struct io_count c = {0};
	assert_int_equal(evc_io_start(loop, big, EVC_READ, count_io, &c), EVC_EFDSETSIZE);
	assert_int_equal(evc_io_events(loop, big), -1);
	assert_non_null(strstr(evc_strerror(EVC_EFDSETSIZE), "FD_SETSIZE"));
	/* The loop is unharmed: a small fd still works. */
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(evc_io_start(loop, p[0], EVC_READ, count_io, &c), 0);
	assert_int_equal(write(p[1], "q", 1), 1);
	assert_int_equal(evc_loop_run(loop, EVC_RUN_ONCE), 1);
	assert_int_equal(c.calls, 1);
	evc_io_stop(loop, p[0]);
	close(p[0]);
	close(p[1]);
	close(big);
	evc_loop_free(loop);
}

/* ---- backend selection ---------------------------------------------- */

static void test_backend_names(void **state)
{
	evc_loop_t *loop = NULL;
	assert_int_equal(evc_loop_new(&loop, "kqueue-on-linux"), EVC_EBACKEND);
	assert_null(loop);
	assert_int_equal(evc_loop_new(&loop, NULL), 0);
	assert_string_equal(evc_loop_backend(loop), evc_loop_backends()[0]);
	evc_loop_free(loop);
	const char *const *names = evc_loop_backends();
	int found = 0;
	for (int i = 0; names[i]; i++)
		found += strcmp(names[i], backend) == 0;
	assert_int_equal(found, 1);
}

static const struct CMUnitTest common_tests[] = {
    cmocka_unit_test(test_pipe_readable),
    cmocka_unit_test(test_toggle_write_interest),
    cmocka_unit_test(test_hangup_is_readable),
    cmocka_unit_test(test_bad_arguments),
    cmocka_unit_test(test_stop_other_watcher_in_callback),
    cmocka_unit_test(test_timers_fire_in_deadline_order),
    cmocka_unit_test(test_repeating_timer),
    cmocka_unit_test(test_stop_and_free_due_timers_in_callback),
    cmocka_unit_test(test_stop_returns_with_work_left),
    cmocka_unit_test(test_eintr_is_retried),
    cmocka_unit_test(test_run_once_returns_after_timer),
    cmocka_unit_test(test_quiet_fd_does_not_spin),
    cmocka_unit_test(test_backend_names),
};

/* epoll and poll scale to the fd limit; select stops at FD_SETSIZE. */
static const struct CMUnitTest many_fds_test =
    cmocka_unit_test(test_as_many_fds_as_the_limit_allows);
static const struct CMUnitTest select_limit_test =
    cmocka_unit_test(test_select_refuses_fd_over_setsize);

int main(void)
{
	int failed = 0;
	const char *const *names = evc_loop_backends();
	for (int i = 0; names[i]; i++) {
		struct CMUnitTest tests[sizeof common_tests / sizeof common_tests[0] + 1];
		size_t n = sizeof common_tests / sizeof common_tests[0];
		memcpy(tests, common_tests, sizeof common_tests);
		tests[n++] = strcmp(names[i], "select") == 0 ? select_limit_test : many_fds_test;
		char group[64];
		snprintf(group, sizeof group, "loop/%s", names[i]);
		backend = names[i];
		failed += _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	}
	return failed ? 1 : 0;
}
