/*
 * The crawler as a library: results, streaming body callbacks, URLs added
 * from inside callbacks and through the feed, cancel, and the user's own
 * timers on the same loop. A tiny HTTP server runs on the same loop:
 * GET /size/N answers N bytes ("0123456789" repeated), /hang never answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "evcrawl/evcrawl.h"

/* ---- the tiny server ------------------------------------------------------ */

struct server {
	evc_loop_t *loop;
	int fd;
	uint16_t port;
	int accepted;
};

struct client {
	struct server *s;
	int fd;
	char buf[4096];
	size_t len;
};

static void close_client(struct client *cl)
{
	evc_io_stop(cl->s->loop, cl->fd);
	close(cl->fd);
	free(cl);
}

static void on_client(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct client *cl = arg;
	ssize_t n = recv(fd, cl->buf + cl->len, sizeof cl->buf - cl->len - 1, 0);
	if (n <= 0) {
		close_client(cl);
		return;
	}
	cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	char *end;
	while ((end = strstr(cl->buf, "\r\n\r\n")) != NULL) {
		unsigned size = 0;
		if (sscanf(cl->buf, "GET /size/%u ", &size) == 1) {
			char head[128];
			int hl = snprintf(head, sizeof head,
					  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					  "Content-Length: %u\r\n\r\n",
					  size);
			send(fd, head, (size_t)hl, MSG_NOSIGNAL);
			for (unsigned i = 0; i < size; i += 10)
				send(fd, "0123456789", size - i < 10 ? size - i : 10, MSG_NOSIGNAL);
		} /* /hang: no answer */
		size_t used = (size_t)(end + 4 - cl->buf);
		memmove(cl->buf, end + 4, cl->len - used + 1);
		cl->len -= used;
	}
}

static void on_accept(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct server *s = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct client *cl = calloc(1, sizeof *cl);
	cl->s = s;
	cl->fd = c;
	s->accepted++;
	evc_io_start(loop, c, EVC_READ, on_client, cl);
}

static void server_start(struct server *s, evc_loop_t *loop)
{
	s->loop = loop;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(s->fd, 128), 0);
	socklen_t len = sizeof sa;
	getsockname(s->fd, (struct sockaddr *)&sa, &len);
	s->port = ntohs(sa.sin_port);
	evc_io_start(loop, s->fd, EVC_READ, on_accept, s);
}

static void server_stop(struct server *s)
{
	evc_io_stop(s->loop, s->fd);
	close(s->fd);
}

/* ---- test fixture ---------------------------------------------------------- */

#define MAX_RESULTS 64

struct fixture {
	evc_loop_t *loop;
	struct server srv;
	evc_crawler_t *c;
	int nresults;
	struct {
		char url[128];
		int status;
		uint64_t bytes;
		evc_error_kind_t error;
		char message[128];
		void *user;
	} results[MAX_RESULTS];
	char body[8192]; /* what the body callback got, in order */
	size_t body_len;
	int body_calls;
	int stop_body_after; /* > 0: the body callback says stop at this call */
	char head[256];	     /* what the head callback saw */
	int head_before_body, stop_at_head;
	int add_from_callback;
	int add_in_result; /* > 0: results add /size/5 (after close), this many times */
	int add_in_result_rc;
	int fed, feed_total;
	int ticks;
};

static struct fixture *fx;

static void url(char *out, size_t cap, const char *path)
{
	snprintf(out, cap, "http://127.0.0.1:%u%s", fx->srv.port, path);
}

static void add(const char *path, void *user)
{
	char u[128];
	url(u, sizeof u, path);
	assert_int_equal(evc_crawler_add(fx->c, u, strlen(u), user), 0);
}

static void on_result(evc_crawler_t *c, const evc_result_t *r, void *arg)
{
	assert_true(fx->nresults < MAX_RESULTS);
	typeof(fx->results[0]) *x = &fx->results[fx->nresults++];
	snprintf(x->url, sizeof x->url, "%s", r->url);
	x->status = r->status;
	x->bytes = r->bytes;
	x->error = r->error;
	snprintf(x->message, sizeof x->message, "%s", r->error_message ? r->error_message : "");
	x->user = r->user;
	if (fx->add_in_result > 0 && fx->nresults == 2) {
		fx->add_in_result--;
		char u[128];
		url(u, sizeof u, "/size/5");
		fx->add_in_result_rc = evc_crawler_add(c, u, strlen(u), NULL);
	}
	if (fx->add_from_callback > 0) {
		add("/size/5", (void *)(intptr_t)100);
		if (--fx->add_from_callback == 0)
			evc_crawler_close_input(c);
	}
}

static int on_body(evc_crawler_t *c, void *user, const char *data, size_t len, void *arg)
{
	fx->body_calls++;
	if (fx->body_len + len <= sizeof fx->body) {
		memcpy(fx->body + fx->body_len, data, len);
		fx->body_len += len;
	}
	return fx->stop_body_after && fx->body_calls >= fx->stop_body_after;
}

static int on_head(evc_crawler_t *c, void *user, const char *final_url, int status,
		   const char *content_type, void *arg)
{
	size_t n = strlen(fx->head);
	snprintf(fx->head + n, sizeof fx->head - n, "%d %s %s;", status,
		 content_type ? content_type : "-", strrchr(final_url, '/'));
	fx->head_before_body = fx->body_calls == 0;
	return fx->stop_at_head;
}

static int setup(void **state)
{
	fx = calloc(1, sizeof *fx);
	assert_int_equal(evc_loop_new(&fx->loop, NULL), 0);
	server_start(&fx->srv, fx->loop);
	evc_crawl_opts_t o;
	evc_crawl_opts_init(&o);
	o.retries = 0;
	o.per_host = 4;
	assert_int_equal(evc_crawler_new(&fx->c, fx->loop, &o, on_result, NULL), 0);
	evc_crawler_set_body_cb(fx->c, on_body, NULL);
	return 0;
}

static int teardown(void **state)
{
	evc_crawler_free(fx->c);
	server_stop(&fx->srv);
	/* The server's client sockets close as the crawler's do; drain them. */
	for (int i = 0; i < 20; i++)
		evc_loop_run(fx->loop, EVC_RUN_NOWAIT);
	evc_loop_free(fx->loop);
	free(fx);
	return 0;
}

/* Run until the crawler has every result (our server keeps the loop busy). */
static void run_crawl(void)
{
	for (int i = 0; i < 100000 && !evc_crawler_finished(fx->c); i++)
		assert_true(evc_loop_run(fx->loop, EVC_RUN_ONCE) >= 0);
	assert_true(evc_crawler_finished(fx->c));
}

/* ---- tests ------------------------------------------------------------------ */

static void test_results_and_streamed_body(void **state)
{
	add("/size/25", (void *)(intptr_t)1);
	evc_crawler_close_input(fx->c);
	run_crawl();
	assert_int_equal(fx->nresults, 1);
	assert_int_equal(fx->results[0].status, 200);
	assert_int_equal(fx->results[0].bytes, 25);
	assert_int_equal(fx->results[0].error, EVC_OK);
	assert_ptr_equal(fx->results[0].user, (void *)(intptr_t)1);
	assert_int_equal(fx->body_len, 25);
	assert_memory_equal(fx->body, "0123456789012345678901234", 25);
	evc_crawl_stats_t st;
	evc_crawler_stats(fx->c, &st);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.done, 1);
	assert_int_equal(st.ok, 1);
	assert_int_equal(st.bytes, 25);
}

static void test_add_from_inside_callbacks(void **state)
{
	fx->add_from_callback = 3; /* each result adds one more, three times */
	add("/size/5", (void *)(intptr_t)7);
	run_crawl(); /* finished only once the last callback closed the input */
	assert_int_equal(fx->nresults, 4);
	assert_ptr_equal(fx->results[0].user, (void *)(intptr_t)7);
	for (int i = 1; i < 4; i++) {
		assert_ptr_equal(fx->results[i].user, (void *)(intptr_t)100);
		assert_int_equal(fx->results[i].bytes, 5);
	}
	/* One keep-alive connection served all four in turn. */
	assert_int_equal(fx->srv.accepted, 1);
}

static void test_body_callback_can_stop_a_fetch(void **state)
{
	fx->stop_body_after = 1;
	add("/size/100000", NULL);
	evc_crawler_close_input(fx->c);
	run_crawl();
	assert_int_equal(fx->nresults, 1);
	assert_int_equal(fx->results[0].error, EVC_ERR_IO);
	assert_string_equal(fx->results[0].message, "the body callback stopped the fetch");
	assert_int_equal(fx->results[0].status, 200);
	assert_int_equal(fx->body_calls, 1);
}

static void test_head_callback(void **state)
{
	evc_crawler_set_head_cb(fx->c, on_head, NULL);
	add("/size/25", NULL);
	evc_crawler_close_input(fx->c);
	run_crawl();
	assert_string_equal(fx->head, "200 text/plain /25;");
	assert_true(fx->head_before_body);
	assert_int_equal(fx->body_len, 25);
}

static void test_head_callback_can_stop_a_fetch(void **state)
{
	evc_crawler_set_head_cb(fx->c, on_head, NULL);
	fx->stop_at_head = 1;
	add("/size/25", NULL);
	evc_crawler_close_input(fx->c);
	run_crawl();
	assert_int_equal(fx->results[0].error, EVC_ERR_IO);
	assert_string_equal(fx->results[0].message, "stopped by the head callback");
	assert_int_equal(fx->body_calls, 0);
}

static void feed(evc_crawler_t *c, void *arg)
{
	/* Ten at a time, as a caller streaming a big list would. */
	for (int n = 0; n < 10 && fx->fed < fx->feed_total; n++, fx->fed++)
		add("/size/3", (void *)(intptr_t)(1000 + fx->fed));
	if (fx->fed == fx->feed_total)
		evc_crawler_close_input(c);
}

static void tick(evc_timer_t *t, void *arg)
{
	fx->ticks++;
}

static void test_feed_and_own_timer(void **state)
{
	fx->feed_total = 50;
	evc_timer_t *t = evc_timer_new(fx->loop, tick, NULL);
	evc_timer_start(t, 0, 1);
	evc_crawler_set_feed(fx->c, feed, NULL);
	run_crawl();
	evc_timer_free(t);
	assert_int_equal(fx->nresults, 50);
	int seen[50] = {0};
	for (int i = 0; i < 50; i++) {
		intptr_t u = (intptr_t)fx->results[i].user - 1000;
		assert_true(u >= 0 && u < 50);
		seen[u]++;
		assert_int_equal(fx->results[i].bytes, 3);
	}
	for (int i = 0; i < 50; i++)
		assert_int_equal(seen[i], 1);
	assert_true(fx->ticks > 0); /* the user's timer ran alongside */
}

static void cancel_now(evc_timer_t *t, void *arg)
{
	evc_crawler_cancel(fx->c);
}

static void test_cancel_reports_everything(void **state)
{
	for (int i = 0; i < 10; i++) /* 4 in flight (per-host), 6 queued */
		add("/hang", NULL);
	evc_timer_t *t = evc_timer_new(fx->loop, cancel_now, NULL);
	evc_timer_start(t, 50, 0);
	run_crawl();
	evc_timer_free(t);
	assert_int_equal(fx->nresults, 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(fx->results[i].error, EVC_ERR_CANCELLED);
		assert_string_equal(fx->results[i].message, "cancelled");
	}
	char u[128];
	url(u, sizeof u, "/size/1");
	assert_int_equal(evc_crawler_add(fx->c, u, strlen(u), NULL), EVC_ECANCELLED);
}

static void stop_loop(evc_timer_t *t, void *arg)
{
	evc_loop_stop(fx->loop);
}

/* Freeing a crawler with fetches in flight drops them cleanly (under ASan
 * this checks nothing is touched after it is freed). */
static void test_free_while_in_flight(void **state)
{
	for (int i = 0; i < 6; i++)
		add("/hang", NULL);
	evc_timer_t *t = evc_timer_new(fx->loop, stop_loop, NULL);
	evc_timer_start(t, 50, 0);
	evc_loop_run(fx->loop, EVC_RUN_DEFAULT);
	evc_timer_free(t);
	evc_crawl_stats_t st;
	evc_crawler_stats(fx->c, &st);
	assert_int_equal(st.in_flight, 4);
	assert_int_equal(st.queued, 2);
	evc_crawler_free(fx->c);
	fx->c = NULL;
	assert_int_equal(fx->nresults, 0);
}

static void test_bad_url_is_a_result(void **state)
{
	assert_int_equal(evc_crawler_add(fx->c, "no scheme", 9, (void *)(intptr_t)9), 0);
	evc_crawler_close_input(fx->c);
	assert_int_equal(fx->nresults, 0); /* never from inside add */
	run_crawl();
	assert_int_equal(fx->nresults, 1);
	assert_int_equal(fx->results[0].error, EVC_ERR_BAD_URL);
	assert_ptr_equal(fx->results[0].user, (void *)(intptr_t)9);
}

/* After close_input URLs are still taken while the crawl runs, also from
 * the result callback of the last one; once it has finished they are
 * refused, not silently dropped. */
static void test_add_after_close(void **state)
{
	add("/size/3", NULL);
	evc_crawler_close_input(fx->c);
	add("/size/4", NULL);  /* still running: taken */
	fx->add_in_result = 1; /* the last result adds /size/5 */
	run_crawl();
	assert_int_equal(fx->nresults, 3);
	assert_int_equal(fx->add_in_result_rc, 0);
	assert_int_equal(fx->results[0].bytes + fx->results[1].bytes + fx->results[2].bytes, 12);
	char u[128];
	url(u, sizeof u, "/size/6");
	assert_int_equal(evc_crawler_add(fx->c, u, strlen(u), NULL), EVC_ECLOSED);
	evc_crawl_stats_t st;
	evc_crawler_stats(fx->c, &st);
	assert_int_equal(st.added, 3);
	evc_crawler_cancel(fx->c);
	assert_int_equal(evc_crawler_add(fx->c, u, strlen(u), NULL), EVC_ECANCELLED);
}

static void test_heap_options(void **state)
{
	evc_crawl_opts_t *o = evc_crawl_opts_new();
	assert_non_null(o);
	assert_int_equal(evc_crawl_opts_set(o, "concurrency", "7"), 0);
	assert_int_equal(evc_crawl_opts_set(o, "per_host", "3"), 0);
	assert_int_equal(evc_crawl_opts_set(o, "timeout", "1.5"), 0);
	assert_int_equal(evc_crawl_opts_set(o, "header", "X-A: 1"), 0);
	assert_int_equal(evc_crawl_opts_set(o, "header", "X-B: 2"), 0);
	assert_int_equal(evc_crawl_opts_set(o, "user-agent", "t/1"), 0);
	assert_int_equal(evc_crawl_opts_set(o, "compressed", "1"), 0);
	assert_int_equal(evc_crawl_opts_set(o, "no-such-option", "1"), -ENOENT);
	assert_int_equal(evc_crawl_opts_set(o, "retries", "-1"), -EINVAL);
	assert_int_equal(evc_crawl_opts_set(o, "compressed", "yes"), -EINVAL);
	assert_int_equal(o->concurrency, 7);
	assert_int_equal(o->per_host, 3);
	assert_int_equal(o->timeout_ms, 1500);
	assert_string_equal(o->headers[0], "X-A: 1");
	assert_string_equal(o->headers[1], "X-B: 2");
	assert_null(o->headers[2]);
	assert_string_equal(o->user_agent, "t/1");
	assert_true(o->compressed);
	const char *what = NULL;
	assert_int_equal(evc_crawl_opts_check(o, &what), 0);
	assert_int_equal(evc_crawl_opts_set(o, "header", "bad"), 0);
	assert_int_equal(evc_crawl_opts_check(o, &what), -EINVAL);
	assert_non_null(strstr(what, "'bad'"));
	evc_crawl_opts_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_results_and_streamed_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_from_inside_callbacks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_callback_can_stop_a_fetch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_callback_can_stop_a_fetch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_feed_and_own_timer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_reports_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_url_is_a_result, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_after_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_while_in_flight, setup, teardown),
	    cmocka_unit_test(test_heap_options),
	};
	return cmocka_run_group_tests_name("crawler", tests, NULL, NULL);
}
