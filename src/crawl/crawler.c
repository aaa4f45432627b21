/*
 * The crawler: per-host queues, a keep-alive pool, and one fetch per task as
 * a chain of loop callbacks:
 *
 *   queued → resolve (cache or c-ares) → connect (nonblocking, SO_ERROR)
 *          → send request → receive (llhttp) → complete
 *          → [redirect: queued again on the new host] [retry: backoff, queued]
 *          → result callback
 *
 * Scheduling. A task holds a global slot (at most `concurrency`) and a slot
 * of its host (at most `per_host`) from the moment it starts until it
 * completes, redirects, or waits for a retry. Hosts with queued tasks and a
 * free slot sit on the `ready` list; pump() takes one task from the first
 * host and moves that host to the back, so hosts are served round-robin and
 * one slow host never holds the others back.
 *
 * Timers. Each task has one timer, armed at the nearest of its deadlines
 * (whole fetch, and the current phase's: DNS, connect, or idle). Reads only
 * note the time of the last byte; when the timer fires it checks what really
 * expired and re-arms if activity moved the idle deadline. So a read costs
 * no heap operation.
 *
 * Memory. Bytes are read into one crawler-wide buffer and handed to the
 * parser; a connection owns only its parser state and, rarely, the unsent
 * rest of a request.
 *
 * Re-entrancy. finish(), finish_error(), fail(), on_complete(),
 * follow_redirect() and retry_stale() may free the task, run the user's
 * result callback and start other tasks (through pump) before they return:
 * every caller returns right after calling one of them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crawl/common.h"
#include "crawl/sink.h"
#include "evcrawl/crawler.h"
#include "http/request.h"
#include "http/response.h"
#include "util/list.h"
#include "util/url.h"

#define READ_BUF_SIZE	     (256 * 1024)
#define REQ_BUF_SIZE	     (16 * 1024)
#define HOUSEKEEPING_MS	     1000
#define IDLE_CONN_MAX_MS     30000 /* close pooled connections unused this long */
#define FD_PRESSURE_PAUSE_MS 50
#define FD_PRESSURE_QUIET_MS 1000

enum task_state {
	T_QUEUED,
	T_RESOLVING,
	T_CONNECTING,
	T_SENDING,
	T_RECEIVING,
	T_BACKOFF,
	T_DONE,
};

struct host {
	struct host *hnext;
	char *key;	 /* "scheme://host:port" */
	unsigned active; /* tasks holding a slot of this host */
	unsigned nqueued;
	unsigned nconns;	/* open connections, idle included */
	unsigned nwaiting;	/* its tasks in retry backoff (they come back) */
	struct evc__list queue; /* tasks waiting for a slot */
	struct evc__list idle;	/* idle keep-alive connections */
	struct evc__list ready_link;
};

struct conn {
	int fd;
	struct host *host;
	struct task *task;
	struct evc_crawler *c;
	struct evc__list idle_link;
	uint64_t idle_since;
	unsigned requests; /* completed on this connection */
	char *pending;	   /* unsent rest of the request */
	size_t pending_len, pending_off;
	bool got_bytes; /* a byte of the current response arrived */
	struct evc__response resp;
};

struct task {
	struct evc__list link; /* host queue, bad list, or waiting list */
	struct evc_crawler *c;
	char *input;
	void *user;
	struct evc__url url;
	int url_rc; /* 0 or why the URL is bad */
	struct host *host;
	struct conn *conn;
	evc_resolve_req_t *dns_req;
	evc_addrs_t *addrs;
	unsigned addr_index;
	evc_timer_t *timer;
	enum task_state state;
	bool holds_slot;
	bool fresh_conn_only; /* the stale keep-alive retry: no reuse */
	bool head_handled;    /* on_head ran for the current response */
	bool final;	      /* the current response ends the fetch (its body counts) */
	int64_t retry_wait;   /* >= 0: the current response is retried after this */
	bool stale_retry_used;
	unsigned attempts, redirects;
	uint64_t *visited; /* hashes of URLs redirected from */
	uint64_t start_ns, phase_ns, request_ns;
	double dns_ms, connect_ms, ttfb_ms;
	uint64_t deadline;	 /* whole fetch, loop ms */
	uint64_t phase_deadline; /* DNS/connect; idle uses last_activity */
	uint64_t last_activity;
	int status;
	uint64_t bytes;
	char content_type[128];
	struct evc__file_sink sink;
	bool saving;
	evc_error_kind_t error;
	char *message;
	int last_errno; /* for connect error messages */
};

struct evc_crawler {
	evc_loop_t *loop;
	evc_resolver_t *resolver;
	evc_crawl_opts_t o;
	char *strings; /* copies of the option strings */
	char *fixed_headers;
	size_t fixed_len;
	evc_result_cb on_result;
	void *arg;
	evc_feed_cb feed;
	void *feed_arg;
	evc_body_cb on_body;
	void *body_arg;

	struct host **hosts;
	size_t nbuckets, nhosts;
	struct evc__list ready;	  /* hosts with queued tasks and a free slot */
	struct evc__list bad;	  /* tasks to report from the kick timer */
	struct evc__list waiting; /* tasks in retry backoff */
	struct evc__list running; /* tasks holding slots */

	unsigned limit;		 /* effective concurrency: lowered under fd pressure */
	uint64_t pressure_until; /* loop ms: no raising the limit before */
	uint64_t paused_until;	 /* loop ms: start nothing before (EMFILE) */
	unsigned in_flight, queued, nwaiting;
	bool input_closed, cancelled, pumping, feeding;
	evc_timer_t *kick;	   /* run pump/feed/cancel from the loop */
	evc_timer_t *housekeeping; /* idle connection expiry */
	evc_crawl_stats_t stats;
	char *rbuf;
	char reqbuf[REQ_BUF_SIZE];
};

static void pump(evc_crawler_t *c);
static void start_task(evc_crawler_t *c, struct task *t);
static void connect_next(struct task *t);
static void send_request(struct task *t);
static void on_conn_io(evc_loop_t *loop, int fd, int events, void *arg);
static void fail(struct task *t, evc_error_kind_t kind, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static double elapsed_ms(uint64_t from_ns, uint64_t to_ns)
{
	return (double)(to_ns - from_ns) / 1e6;
}

/* ---- hosts ---------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
	return evc__hash64(s, strlen(s));
}

static struct host *get_host(evc_crawler_t *c, const struct evc__url *u)
{
	char key[320];
	snprintf(key, sizeof key, "%s://%s:%u", u->scheme, u->host, u->port);
	uint64_t h = hash_str(key);
	struct host **slot = &c->hosts[h & (c->nbuckets - 1)];
	for (struct host *x = *slot; x; x = x->hnext)
		if (strcmp(x->key, key) == 0)
			return x;
	if (c->nhosts >= c->nbuckets) {
		size_t n = c->nbuckets * 2;
		struct host **b = calloc(n, sizeof *b);
		if (!b)
			return NULL;
		for (size_t i = 0; i < c->nbuckets; i++) {
			for (struct host *x = c->hosts[i], *next; x; x = next) {
				next = x->hnext;
				struct host **s2 = &b[hash_str(x->key) & (n - 1)];
				x->hnext = *s2;
				*s2 = x;
			}
		}
		free(c->hosts);
		c->hosts = b;
		c->nbuckets = n;
		slot = &c->hosts[h & (n - 1)];
	}
	struct host *x = calloc(1, sizeof *x);
	if (!x || !(x->key = strdup(key))) {
		free(x);
		return NULL;
	}
	evc__list_init(&x->queue);
	evc__list_init(&x->idle);
	evc__list_init(&x->ready_link);
	x->hnext = *slot;
	*slot = x;
	c->nhosts++;
	return x;
}

static void free_host(evc_crawler_t *c, struct host *x)
{
	struct host **pp = &c->hosts[hash_str(x->key) & (c->nbuckets - 1)];
	while (*pp != x)
		pp = &(*pp)->hnext;
	*pp = x->hnext;
	c->nhosts--;
	evc__list_remove(&x->ready_link);
	free(x->key);
	free(x);
}

/* Put the host on the ready list if it has work and room. */
static void host_update_ready(evc_crawler_t *c, struct host *x)
{
	bool want = x->nqueued > 0 && x->active < c->o.per_host;
	bool is = evc__list_linked(&x->ready_link);
	if (want && !is)
		evc__list_push_back(&c->ready, &x->ready_link);
	else if (!want && is)
		evc__list_remove(&x->ready_link);
}

/* Put a task back at the front of host x's queue (it goes next there):
 * after a redirect, a retry's backoff, a stale connection, fd pressure. */
static void requeue_front(evc_crawler_t *c, struct task *t, struct host *x)
{
	t->host = x;
	t->state = T_QUEUED;
	evc__list_push_front(&x->queue, &t->link);
	x->nqueued++;
	c->queued++;
	host_update_ready(c, x);
}

/* ---- connections -------------------------------------------------------- */

static void conn_close(struct conn *k)
{
	evc_crawler_t *c = k->c;
	evc_io_stop(c->loop, k->fd);
	close(k->fd);
	evc__list_remove(&k->idle_link);
	k->host->nconns--;
	c->stats.connections--;
	evc__response_free(&k->resp);
	free(k->pending);
	if (k->task)
		k->task->conn = NULL;
	free(k);
}

static void on_idle_io(evc_loop_t *loop, int fd, int events, void *arg)
{
	/* An idle connection has nothing to say: any readiness means the
	 * server closed it (or sent junk). Either way it is done. */
	conn_close(arg);
}

static void conn_make_idle(struct conn *k)
{
	evc_crawler_t *c = k->c;
	k->task = NULL;
	k->idle_since = evc_now(c->loop);
	evc__list_push_front(&k->host->idle, &k->idle_link);
	if (evc_io_start(c->loop, k->fd, EVC_READ, on_idle_io, k) < 0)
		conn_close(k);
}

/* Close idle connections: all (force), or those unused too long. Returns
 * how many were closed. */
static unsigned close_idle(evc_crawler_t *c, bool force)
{
	unsigned closed = 0;
	uint64_t now = evc_now(c->loop);
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (struct host *x = c->hosts[i]; x; x = x->hnext) {
			while (!evc__list_empty(&x->idle)) {
				struct conn *k =
				    EVC_LIST_ENTRY(x->idle.prev, struct conn, idle_link);
				if (!force && now - k->idle_since < IDLE_CONN_MAX_MS)
					break;
				conn_close(k);
				closed++;
			}
		}
	}
	return closed;
}

/* Forget hosts that hold nothing, so a crawl over millions of hosts keeps
 * a bounded table. */
static void sweep_hosts(evc_crawler_t *c)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (struct host *x = c->hosts[i], *next; x; x = next) {
			next = x->hnext;
			if (!x->active && !x->nqueued && !x->nconns && !x->nwaiting)
				free_host(c, x);
		}
	}
}

/* ---- results ----------------------------------------------------------- */

static void task_free(struct task *t)
{
	evc__url_free(&t->url);
	evc_timer_free(t->timer);
	evc_addrs_unref(t->addrs);
	free(t->visited);
	free(t->message);
	free(t->input);
	free(t);
}

/* Give back the global and host slots. */
static void release_slot(struct task *t)
{
	evc_crawler_t *c = t->c;
	if (!t->holds_slot)
		return;
	t->holds_slot = false;
	evc__list_remove(&t->link);
	c->in_flight--;
	t->host->active--;
	host_update_ready(c, t->host);
}

/* Stop whatever the task is doing: DNS, connection, timer. */
static void task_detach(struct task *t, bool close_conn)
{
	if (t->dns_req) {
		evc_resolve_cancel(t->dns_req);
		t->dns_req = NULL;
	}
	if (t->conn) {
		struct conn *k = t->conn;
		t->conn = NULL;
		k->task = NULL;
		if (close_conn)
			conn_close(k);
	}
	if (t->timer)
		evc_timer_stop(t->timer);
}

/* Report the task's result and free it. The caller must not touch t after. */
static void finish(struct task *t)
{
	evc_crawler_t *c = t->c;
	if (t->conn && t->conn->resp.head_done)
		t->bytes = t->conn->resp.body_bytes; /* what came before the failure */
	task_detach(t, true);
	release_slot(t);
	if (t->state == T_QUEUED && evc__list_linked(&t->link)) {
		t->host->nqueued--;
		c->queued--;
		host_update_ready(c, t->host);
	}
	evc__list_remove(&t->link);
	t->state = T_DONE;
	if (t->saving)
		evc__sink_close(&t->sink, t->error != EVC_OK);

	evc_result_t r = {
	    .url = t->input,
	    .final_url = t->url_rc == 0 ? t->url.href : NULL,
	    .status = t->status,
	    .bytes = t->bytes,
	    .content_type = t->content_type[0] ? t->content_type : NULL,
	    .redirects = (int)t->redirects,
	    .attempts = (int)t->attempts,
	    .dns_ms = t->dns_ms,
	    .connect_ms = t->connect_ms,
	    .tls_ms = -1,
	    .ttfb_ms = t->ttfb_ms,
	    .total_ms = t->start_ns ? elapsed_ms(t->start_ns, evc_hrtime()) : 0,
	    .error = t->error,
	    .error_message = t->error != EVC_OK ? t->message : NULL,
	    .saved = t->saving && t->error == EVC_OK ? t->sink.path : NULL,
	    .user = t->user,
	};
	c->stats.done++;
	if (t->error == EVC_OK)
		c->stats.ok++;
	else
		c->stats.errors[t->error]++;
	c->stats.bytes += t->bytes;
	/* Recover from fd pressure one success at a time, once it has been
	 * quiet for a while: retrying socket() at once would only hit EMFILE. */
	if (t->error == EVC_OK && c->limit < c->o.concurrency &&
	    evc_now(c->loop) >= c->pressure_until)
		c->limit++;
	c->on_result(c, &r, c->arg);
	if (t->saving)
		free(t->sink.path);
	task_free(t);
	pump(c);
}

static void set_error(struct task *t, evc_error_kind_t kind, const char *fmt, va_list ap)
{
	char *msg; /* formatted first: an argument may be the old message */
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	free(t->message);
	t->message = msg;
	t->error = kind;
}

static void finish_error(struct task *t, evc_error_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish_error(struct task *t, evc_error_kind_t kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(t, kind, fmt, ap);
	va_end(ap);
	finish(t);
}

/* ---- timers --------------------------------------------------------------- */

static uint64_t next_deadline(struct task *t)
{
	uint64_t d = t->deadline;
	uint64_t phase = t->phase_deadline;
	if (t->state == T_SENDING || t->state == T_RECEIVING)
		phase = t->last_activity + t->c->o.idle_timeout_ms;
	return phase && phase < d ? phase : d;
}

static void arm_timer(struct task *t)
{
	uint64_t now = evc_now(t->c->loop), d = next_deadline(t);
	evc_timer_start(t->timer, d > now ? d - now : 0, 0);
}

static void on_task_timer(evc_timer_t *timer, void *arg)
{
	struct task *t = arg;
	evc_crawler_t *c = t->c;
	uint64_t now = evc_now(c->loop);
	if (t->state == T_BACKOFF) {
		/* Backoff over: queue again at the front of its host. */
		evc__list_remove(&t->link);
		c->nwaiting--;
		t->host->nwaiting--;
		requeue_front(c, t, t->host);
		pump(c);
		return;
	}
	if (now >= t->deadline) {
		finish_error(t, EVC_ERR_TIMEOUT, "whole fetch timed out after %u ms",
			     c->o.timeout_ms);
		return;
	}
	if (next_deadline(t) > now) {
		arm_timer(t); /* activity moved the idle deadline on */
		return;
	}
	switch (t->state) {
	case T_RESOLVING:
		t->dns_ms = elapsed_ms(t->phase_ns, evc_hrtime());
		finish_error(t, EVC_ERR_DNS, "DNS lookup of %s timed out after %u ms", t->url.host,
			     c->o.dns_timeout_ms);
		return;
	case T_CONNECTING:
		fail(t, EVC_ERR_TIMEOUT, true, "connect timed out after %u ms",
		     c->o.connect_timeout_ms);
		return;
	default:
		fail(t, EVC_ERR_TIMEOUT, true, "no data received for %u ms", c->o.idle_timeout_ms);
		return;
	}
}

/* ---- retries ------------------------------------------------------------------ */

/* How long to wait before retrying this attempt, or -1 when it will not be
 * retried: no retry left, cancelled, or the wait would end past the
 * whole-fetch deadline. retry_after_s < 0: none given. */
static int64_t retry_wait(struct task *t, int retry_after_s)
{
	evc_crawler_t *c = t->c;
	if (t->attempts > c->o.retries || c->cancelled)
		return -1;
	uint64_t wait = evc__backoff_ms(&c->o, t->attempts, retry_after_s);
	return evc_now(c->loop) + wait < t->deadline ? (int64_t)wait : -1;
}

/* Give the slot back, wait, then queue the task again. */
static void schedule_retry(struct task *t, uint64_t wait)
{
	evc_crawler_t *c = t->c;
	task_detach(t, true);
	release_slot(t);
	if (t->saving) { /* a body cut short: the next attempt starts over */
		evc__sink_close(&t->sink, 1);
		t->saving = false;
	}
	t->status = 0;
	t->bytes = 0;
	t->content_type[0] = '\0';
	t->state = T_BACKOFF;
	evc__list_push_back(&c->waiting, &t->link);
	c->nwaiting++;
	t->host->nwaiting++;
	evc_timer_start(t->timer, wait, 0);
	if (!evc_timer_active(c->kick)) /* the freed slot: start another */
		evc_timer_start(c->kick, 0, 0);
}

/* A failure of this attempt: retry when allowed, else finish with it. */
static void fail(struct task *t, evc_error_kind_t kind, bool retryable, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(t, kind, fmt, ap);
	va_end(ap);
	int64_t wait = retryable ? retry_wait(t, -1) : -1;
	if (wait >= 0) {
		schedule_retry(t, (uint64_t)wait);
		return;
	}
	finish(t);
}

/* A reused keep-alive connection died before answering: the server closed
 * it while we were picking it. Try once more on a fresh connection without
 * counting an attempt. */
static bool retry_stale(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct conn *k = t->conn;
	if (!k || k->requests == 0 || k->got_bytes || t->stale_retry_used)
		return false;
	t->stale_retry_used = true;
	t->fresh_conn_only = true;
	t->attempts--;
	task_detach(t, true);
	release_slot(t);
	requeue_front(c, t, t->host);
	pump(c);
	return true;
}

/* ---- the exchange ------------------------------------------------------------ */

/* The head is complete: keep what the record shows, and open the file for
 * a body we keep (not for a redirect we follow or a response we retry).
 * Runs before the first body byte is delivered. Returns 0, or -EIO with
 * the task's message set. */
static int on_head(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct evc__response *resp = &t->conn->resp;
	t->head_handled = true;
	t->status = resp->status;
	memcpy(t->content_type, resp->content_type, sizeof t->content_type);
	/* Decide now, once, whether this response ends the fetch: its body is
	 * kept only then, and on_complete follows this same decision. */
	t->retry_wait = evc__is_retry_status(resp->status) ? retry_wait(t, resp->retry_after) : -1;
	t->final = t->retry_wait < 0 &&
		   !evc__will_follow(&c->o, resp->status, resp->location != NULL, t->redirects);
	if (t->saving || !t->final || !c->o.output_dir)
		return 0;
	int rc = evc__sink_open(&t->sink, c->o.output_dir, &t->url);
	if (rc < 0) {
		free(t->message);
		if (asprintf(&t->message, "cannot save body under %s: %s", c->o.output_dir,
			     evc_strerror(rc)) < 0)
			t->message = NULL;
		return -EIO;
	}
	t->saving = true;
	return 0;
}

static int on_body(void *arg, const char *data, size_t len)
{
	struct task *t = arg;
	if (!t->head_handled && on_head(t) < 0)
		return -EIO;
	if (t->saving && evc__sink_write(&t->sink, data, len) < 0) {
		free(t->message);
		if (asprintf(&t->message, "cannot write %s: %s", t->sink.path, strerror(errno)) < 0)
			t->message = NULL;
		return -EIO;
	}
	evc_crawler_t *c = t->c;
	if (t->final && c->on_body && c->on_body(c, t->user, data, len, c->body_arg) != 0) {
		free(t->message);
		t->message = strdup("the body callback stopped the fetch");
		return -EIO;
	}
	return 0;
}

/* Follow resp's Location: queue the task again on the target's host. */
static void follow_redirect(struct task *t, const char *location)
{
	evc_crawler_t *c = t->c;
	if (!t->visited)
		t->visited = calloc(c->o.max_redirects + 1, sizeof *t->visited);
	if (!t->visited) {
		finish_error(t, EVC_ERR_IO, "out of memory");
		return;
	}
	struct evc__url next;
	char msg[300];
	evc_error_kind_t kind = evc__redirect(&c->o, &t->url, location, t->visited, &t->redirects,
					      &next, msg, sizeof msg);
	if (kind != EVC_OK) {
		finish_error(t, kind, "%s", msg);
		return;
	}
	struct host *x = get_host(c, &next);
	if (!x) {
		evc__url_free(&next);
		finish_error(t, EVC_ERR_IO, "out of memory");
		return;
	}
	release_slot(t);
	evc__url_free(&t->url);
	t->url = next;
	t->attempts = 0; /* attempts count retries of the current URL */
	t->stale_retry_used = false;
	t->status = 0;
	t->bytes = 0;
	t->content_type[0] = '\0';
	requeue_front(c, t, x);
	pump(c);
}

/* The response is complete. The connection goes back to the pool or is
 * closed; then the task redirects, retries, or finishes. */
static void on_complete(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct conn *k = t->conn;
	struct evc__response *resp = &k->resp;
	t->bytes = resp->body_bytes;
	int status = resp->status;
	char *location = resp->location;
	resp->location = NULL; /* ours now */
	k->requests++;
	t->conn = NULL;
	if (resp->keep_alive && !c->cancelled) {
		evc__response_free(resp);
		conn_make_idle(k);
	} else {
		k->task = NULL;
		conn_close(k);
	}
	evc_timer_stop(t->timer);
	t->error = EVC_OK;
	if (evc__is_redirect(status) && location)
		follow_redirect(t, location);
	else if (t->retry_wait >= 0)
		schedule_retry(t, (uint64_t)t->retry_wait);
	else
		finish(t);
	free(location);
}

static void on_readable(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct conn *k = t->conn;
	ssize_t n = recv(k->fd, c->rbuf, READ_BUF_SIZE, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		int err = errno;
		if (!retry_stale(t))
			fail(t, EVC_ERR_IO, true, "recv: %s", strerror(err));
		return;
	}
	if (n == 0) {
		int rc = evc__response_eof(&k->resp);
		if (rc == 1) {
			on_complete(t);
		} else if (!retry_stale(t)) {
			bool had_head = k->resp.head_done;
			fail(t, EVC_ERR_PROTOCOL, !had_head || !t->saving, "%s",
			     k->resp.error_msg
				 ? k->resp.error_msg
				 : "connection closed before the response was complete");
		}
		return;
	}
	t->last_activity = evc_now(c->loop);
	if (!k->got_bytes) {
		k->got_bytes = true;
		t->ttfb_ms = elapsed_ms(t->request_ns, evc_hrtime());
	}
	int rc = evc__response_feed(&k->resp, c->rbuf, (size_t)n, NULL);
	if (k->resp.head_done && !t->head_handled) {
		if (rc >= 0 && on_head(t) < 0)
			rc = -EIO;
		/* The record shows the head even when the body failed. */
		t->status = k->resp.status;
		memcpy(t->content_type, k->resp.content_type, sizeof t->content_type);
	}
	if (rc == 1) {
		on_complete(t);
	} else if (rc == EVC_ETOOLARGE) {
		finish_error(t, EVC_ERR_TOO_LARGE, "body larger than %llu bytes",
			     (unsigned long long)c->o.max_body);
	} else if (rc == -EIO) {
		finish_error(t, EVC_ERR_IO, "%s", t->message ? t->message : "write error");
	} else if (rc < 0) {
		finish_error(t, EVC_ERR_PROTOCOL, "%s",
			     k->resp.error_msg ? k->resp.error_msg : evc_strerror(rc));
	}
}

static void back_off_fd_pressure(struct task *t);

/* Watch the task's connection. A refusal (the select backend cannot hold
 * an fd that high) is fd pressure like EMFILE; anything else fails the
 * attempt. Returns false when the task was handed on. */
static bool watch_conn(struct task *t, int events)
{
	struct conn *k = t->conn;
	int rc = evc_io_start(t->c->loop, k->fd, events, on_conn_io, k);
	if (rc == 0)
		return true;
	if (rc == EVC_EFDSETSIZE)
		back_off_fd_pressure(t);
	else
		fail(t, EVC_ERR_IO, true, "cannot watch the connection: %s", evc_strerror(rc));
	return false;
}

/* Write what is left of the request; then wait for the response. */
static void flush_request(struct task *t)
{
	struct conn *k = t->conn;
	while (k->pending_off < k->pending_len) {
		ssize_t n = send(k->fd, k->pending + k->pending_off,
				 k->pending_len - k->pending_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return; /* still watching for write */
			int err = errno;
			if (!retry_stale(t))
				fail(t, EVC_ERR_IO, true, "send: %s", strerror(err));
			return;
		}
		k->pending_off += (size_t)n;
	}
	free(k->pending);
	k->pending = NULL;
	t->state = T_RECEIVING;
	watch_conn(t, EVC_READ);
}

static void on_connected(struct task *t)
{
	struct conn *k = t->conn;
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		t->last_errno = err;
		conn_close(k);
		t->addr_index++;
		connect_next(t);
		return;
	}
	t->connect_ms = elapsed_ms(t->phase_ns, evc_hrtime());
	send_request(t);
}

static void on_conn_io(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct conn *k = arg;
	struct task *t = k->task;
	switch (t->state) {
	case T_CONNECTING:
		on_connected(t);
		break;
	case T_SENDING:
		flush_request(t);
		break;
	case T_RECEIVING:
		on_readable(t);
		break;
	default:
		break;
	}
}

static void send_request(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct conn *k = t->conn;
	evc__response_init(&k->resp, false, c->o.compressed, c->o.max_body, on_body, t);
	k->got_bytes = false;
	t->head_handled = false;
	t->final = false;
	t->retry_wait = -1;
	int len = evc__request_build(c->reqbuf, sizeof c->reqbuf, "GET", &t->url, c->fixed_headers,
				     c->fixed_len);
	if (len < 0) {
		finish_error(t, EVC_ERR_BAD_URL, "request line and headers exceed %d bytes",
			     REQ_BUF_SIZE);
		return;
	}
	t->state = T_SENDING;
	t->phase_deadline = 0;
	t->last_activity = evc_now(c->loop);
	t->request_ns = evc_hrtime();
	c->stats.requests++;
	arm_timer(t);
	/* Most requests go out whole in one send; only a partial write
	 * copies the rest aside. */
	ssize_t n = send(k->fd, c->reqbuf, (size_t)len, MSG_NOSIGNAL);
	if (n == len) {
		t->state = T_RECEIVING;
		watch_conn(t, EVC_READ);
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		int err = errno;
		if (!retry_stale(t))
			fail(t, EVC_ERR_IO, true, "send: %s", strerror(err));
		return;
	}
	size_t sent = n > 0 ? (size_t)n : 0;
	k->pending_len = (size_t)len - sent;
	k->pending_off = 0;
	k->pending = malloc(k->pending_len);
	if (!k->pending) {
		finish_error(t, EVC_ERR_IO, "out of memory");
		return;
	}
	memcpy(k->pending, c->reqbuf + sent, k->pending_len);
	watch_conn(t, EVC_WRITE);
}

static const char *addr_text(const evc_sockaddr_t *a, char *buf, size_t cap)
{
	const void *src = a->sa.sa_family == AF_INET6 ? (const void *)&a->in6.sin6_addr
						      : (const void *)&a->in4.sin_addr;
	if (!inet_ntop(a->sa.sa_family, src, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
	return buf;
}

/* Too many open files, or no local port left: give the slot back, shrink
 * the effective concurrency, and try again shortly. Never fail the URL. */
static void back_off_fd_pressure(struct task *t)
{
	evc_crawler_t *c = t->c;
	task_detach(t, true);
	release_slot(t);
	t->attempts--;
	requeue_front(c, t, t->host);
	/* Run at most what is running now (never less than one), and raise
	 * that only after a quiet second. Closing idle connections frees fds
	 * to go on at once; otherwise start nothing for a moment, or pump
	 * would only hit the same wall again, at full speed. */
	c->limit = c->in_flight > 1 ? c->in_flight : 1;
	uint64_t now = evc_now(c->loop);
	c->pressure_until = now + FD_PRESSURE_QUIET_MS;
	if (close_idle(c, true) == 0) {
		c->paused_until = now + FD_PRESSURE_PAUSE_MS;
		evc_timer_start(c->kick, FD_PRESSURE_PAUSE_MS, 0);
	} else if (!evc_timer_active(c->kick)) {
		evc_timer_start(c->kick, 0, 0);
	}
}

/* Open a connection to the task's next address. */
static void connect_next(struct task *t)
{
	evc_crawler_t *c = t->c;
	if (!t->addrs || t->addr_index >= t->addrs->count) {
		char a[INET6_ADDRSTRLEN] = "?";
		if (t->addrs && t->addrs->count)
			addr_text(&t->addrs->addr[t->addrs->count - 1], a, sizeof a);
		fail(t, EVC_ERR_CONNECT, true, "connect to %s port %u: %s", a, t->url.port,
		     strerror(t->last_errno ? t->last_errno : ECONNREFUSED));
		return;
	}
	evc_sockaddr_t sa = t->addrs->addr[t->addr_index];
	socklen_t salen;
	if (sa.sa.sa_family == AF_INET6) {
		sa.in6.sin6_port = htons(t->url.port);
		salen = sizeof sa.in6;
	} else {
		sa.in4.sin_port = htons(t->url.port);
		salen = sizeof sa.in4;
	}
	int fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			back_off_fd_pressure(t);
			return;
		}
		t->last_errno = errno;
		t->addr_index++;
		connect_next(t);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct conn *k = calloc(1, sizeof *k);
	if (!k) {
		close(fd);
		finish_error(t, EVC_ERR_IO, "out of memory");
		return;
	}
	k->fd = fd;
	k->c = c;
	k->host = t->host;
	k->task = t;
	evc__list_init(&k->idle_link);
	t->conn = k;
	t->host->nconns++;
	c->stats.connections++;
	c->stats.connections_opened++;
	t->state = T_CONNECTING;
	t->phase_ns = evc_hrtime();
	t->phase_deadline = evc_now(c->loop) + c->o.connect_timeout_ms;
	arm_timer(t);
	if (connect(fd, &sa.sa, salen) == 0) {
		t->connect_ms = elapsed_ms(t->phase_ns, evc_hrtime());
		send_request(t);
		return;
	}
	if (errno == EINPROGRESS) {
		watch_conn(t, EVC_WRITE);
		return;
	}
	int err = errno;
	conn_close(k);
	if (err == EADDRNOTAVAIL) {
		back_off_fd_pressure(t);
		return;
	}
	t->last_errno = err;
	t->addr_index++;
	connect_next(t);
}

static void on_resolved(void *arg, int status, evc_addrs_t *addrs, const char *errmsg)
{
	struct task *t = arg;
	t->dns_req = NULL;
	t->dns_ms = elapsed_ms(t->phase_ns, evc_hrtime());
	if (status < 0) {
		finish_error(t, EVC_ERR_DNS, "cannot resolve %s: %s", t->url.host,
			     errmsg ? errmsg : "lookup failed");
		return;
	}
	t->addrs = evc_addrs_ref(addrs);
	t->addr_index = 0;
	connect_next(t);
}

/* The task got its slots: reuse an idle connection, or resolve and connect. */
static void start_task(evc_crawler_t *c, struct task *t)
{
	t->attempts++;
	if (!t->start_ns) {
		t->start_ns = evc_hrtime();
		t->deadline = evc_now(c->loop) + c->o.timeout_ms;
	}
	t->dns_ms = t->connect_ms = t->ttfb_ms = -1;
	t->last_errno = 0;
	if (evc_now(c->loop) >= t->deadline) {
		finish_error(t, EVC_ERR_TIMEOUT, "whole fetch timed out after %u ms",
			     c->o.timeout_ms);
		return;
	}
	if (t->url.https) {
		finish_error(t, EVC_ERR_TLS, "https not supported yet");
		return;
	}
	struct host *x = t->host;
	if (!t->fresh_conn_only && !evc__list_empty(&x->idle)) {
		struct conn *k = EVC_LIST_ENTRY(x->idle.next, struct conn, idle_link);
		evc__list_remove(&k->idle_link);
		k->task = t;
		t->conn = k;
		send_request(t);
		return;
	}
	t->fresh_conn_only = false;
	evc_addrs_unref(t->addrs);
	t->addrs = NULL;
	t->phase_ns = evc_hrtime();
	const char *errmsg = NULL;
	int rc = evc_resolver_cached(c->resolver, t->url.host, t->url.port, &t->addrs, &errmsg);
	if (rc > 0) {
		/* A numeric host or an override did no lookup: no dns time. */
		t->dns_ms = rc == 2 ? -1 : elapsed_ms(t->phase_ns, evc_hrtime());
		t->addr_index = 0;
		connect_next(t);
		return;
	}
	if (rc < 0) {
		finish_error(t, EVC_ERR_DNS, "cannot resolve %s: %s", t->url.host,
			     errmsg ? errmsg : "lookup failed");
		return;
	}
	t->state = T_RESOLVING;
	t->phase_deadline = evc_now(c->loop) + c->o.dns_timeout_ms;
	arm_timer(t);
	rc = evc_resolve(c->resolver, t->url.host, t->url.port, on_resolved, t, &t->dns_req);
	if (rc < 0)
		finish_error(t, EVC_ERR_DNS, "cannot resolve %s: %s", t->url.host,
			     evc_strerror(rc));
}

/* ---- scheduling ------------------------------------------------------------ */

static void feed_more(evc_crawler_t *c)
{
	if (!c->feed || c->feeding || c->input_closed || c->cancelled)
		return;
	c->feeding = true;
	while (c->feed && !c->input_closed && c->queued < c->o.max_queued) {
		unsigned before = c->queued;
		uint64_t added = c->stats.added;
		c->feed(c, c->feed_arg);
		if (c->queued == before && c->stats.added == added)
			break; /* the feeder has nothing right now */
	}
	c->feeding = false;
}

/* Start queued tasks while there are free slots, round-robin over hosts. */
static void pump(evc_crawler_t *c)
{
	if (c->pumping)
		return;
	c->pumping = true;
	for (;;) {
		/* paused_until: a start just hit fd pressure (EMFILE). */
		while (evc_now(c->loop) >= c->paused_until && c->in_flight < c->limit &&
		       !evc__list_empty(&c->ready)) {
			struct host *x = EVC_LIST_ENTRY(c->ready.next, struct host, ready_link);
			struct task *t =
			    EVC_LIST_ENTRY(evc__list_pop_front(&x->queue), struct task, link);
			x->nqueued--;
			c->queued--;
			x->active++;
			c->in_flight++;
			t->holds_slot = true;
			evc__list_push_back(&c->running, &t->link);
			evc__list_remove(&x->ready_link);
			host_update_ready(c, x); /* to the back, if still ready */
			start_task(c, t);
		}
		unsigned before = c->queued;
		feed_more(c);
		if (c->queued == before || c->in_flight >= c->limit || evc__list_empty(&c->ready))
			break;
	}
	c->pumping = false;
	if (evc_crawler_finished(c)) {
		close_idle(c, true);
		evc_timer_stop(c->housekeeping);
	} else if (!evc_timer_active(c->housekeeping)) {
		evc_timer_start(c->housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
	}
}

static void cancel_all(evc_crawler_t *c);

static void on_kick(evc_timer_t *timer, void *arg)
{
	evc_crawler_t *c = arg;
	struct evc__list *n;
	while ((n = evc__list_pop_front(&c->bad)) != NULL) {
		struct task *t = EVC_LIST_ENTRY(n, struct task, link);
		evc__list_init(&t->link);
		c->queued--;
		finish_error(t, EVC_ERR_BAD_URL, "%s", evc_strerror(t->url_rc));
	}
	if (c->cancelled)
		cancel_all(c);
	pump(c);
}

static void on_housekeeping(evc_timer_t *timer, void *arg)
{
	evc_crawler_t *c = arg;
	close_idle(c, false);
	sweep_hosts(c);
	if (evc_crawler_finished(c))
		evc_timer_stop(timer);
}

/* ---- public API --------------------------------------------------------------- */

int evc_crawler_new(evc_crawler_t **out, evc_loop_t *loop, const evc_crawl_opts_t *opts,
		    evc_result_cb on_result, void *arg)
{
	*out = NULL;
	if (!on_result)
		return -EINVAL;
	evc_crawler_t *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	if (opts)
		c->o = *opts;
	else
		evc_crawl_opts_init(&c->o);
	if (c->o.max_queued == 0)
		c->o.max_queued = 10000 + 10 * c->o.concurrency;
	c->loop = loop;
	c->on_result = on_result;
	c->arg = arg;
	c->limit = c->o.concurrency;
	evc__list_init(&c->ready);
	evc__list_init(&c->bad);
	evc__list_init(&c->waiting);
	evc__list_init(&c->running);

	const char *what;
	int rc = evc_crawl_opts_check(&c->o, &what);
	if (rc == 0)
		rc = evc__opts_copy(&c->o, &c->o, &c->strings);
	if (rc == 0)
		rc = evc__request_headers(&c->fixed_headers, c->o.user_agent, c->o.headers,
					  c->o.compressed, NULL);
	if (rc == 0) {
		c->fixed_len = strlen(c->fixed_headers);
		evc_resolver_opts_t ro = {.servers = c->o.dns_servers,
					  .timeout_ms = c->o.dns_timeout_ms};
		rc = evc_resolver_new(&c->resolver, loop, &ro);
		if (rc == 0)
			rc = evc__apply_resolve(c->resolver, &c->o);
	}
	if (rc == 0) {
		c->nbuckets = 64;
		c->hosts = calloc(c->nbuckets, sizeof *c->hosts);
		c->rbuf = malloc(READ_BUF_SIZE);
		c->kick = evc_timer_new(loop, on_kick, c);
		c->housekeeping = evc_timer_new(loop, on_housekeeping, c);
		if (!c->hosts || !c->rbuf || !c->kick || !c->housekeeping)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		evc_crawler_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

evc_resolver_t *evc_crawler_resolver(evc_crawler_t *c)
{
	return c->resolver;
}

static void free_task_list(struct evc__list *l)
{
	struct evc__list *n;
	while ((n = evc__list_pop_front(l)) != NULL) {
		struct task *t = EVC_LIST_ENTRY(n, struct task, link);
		task_detach(t, true);
		if (t->saving)
			evc__sink_close(&t->sink, 1);
		task_free(t);
	}
}

void evc_crawler_free(evc_crawler_t *c)
{
	if (!c)
		return;
	/* Tasks first: closing their connections touches their hosts. */
	free_task_list(&c->bad);
	free_task_list(&c->waiting);
	free_task_list(&c->running); /* dropped without results, as documented */
	for (size_t i = 0; c->hosts && i < c->nbuckets; i++) {
		for (struct host *x = c->hosts[i], *next; x; x = next) {
			next = x->hnext;
			free_task_list(&x->queue);
			while (!evc__list_empty(&x->idle))
				conn_close(EVC_LIST_ENTRY(x->idle.next, struct conn, idle_link));
			free(x->key);
			free(x);
		}
	}
	evc_resolver_free(c->resolver);
	evc_timer_free(c->kick);
	evc_timer_free(c->housekeeping);
	free(c->hosts);
	free(c->rbuf);
	free(c->fixed_headers);
	free(c->strings);
	free(c);
}

int evc_crawler_add(evc_crawler_t *c, const char *url, size_t len, void *user)
{
	if (c->cancelled)
		return EVC_ECANCELLED;
	struct task *t = calloc(1, sizeof *t);
	if (!t || !(t->input = strndup(url, len))) {
		free(t);
		return -ENOMEM;
	}
	t->c = c;
	t->user = user;
	t->dns_ms = t->connect_ms = t->ttfb_ms = -1;
	t->timer = evc_timer_new(c->loop, on_task_timer, t);
	if (!t->timer) {
		free(t->input);
		free(t);
		return -ENOMEM;
	}
	c->stats.added++;
	c->queued++;
	t->url_rc = evc__url_parse(&t->url, url, len);
	if (t->url_rc == 0 && !(t->host = get_host(c, &t->url)))
		t->url_rc = -ENOMEM;
	if (t->url_rc < 0) {
		/* Reported from the loop, like every other result. */
		evc__list_push_back(&c->bad, &t->link);
	} else {
		t->state = T_QUEUED;
		evc__list_push_back(&t->host->queue, &t->link);
		t->host->nqueued++;
		host_update_ready(c, t->host);
	}
	if (!evc_timer_active(c->kick))
		evc_timer_start(c->kick, 0, 0);
	return 0;
}

void evc_crawler_set_feed(evc_crawler_t *c, evc_feed_cb feed, void *arg)
{
	c->feed = feed;
	c->feed_arg = arg;
	if (feed && !evc_timer_active(c->kick))
		evc_timer_start(c->kick, 0, 0);
}

void evc_crawler_set_body_cb(evc_crawler_t *c, evc_body_cb cb, void *arg)
{
	c->on_body = cb;
	c->body_arg = arg;
}

void evc_crawler_close_input(evc_crawler_t *c)
{
	c->input_closed = true;
	if (!evc_timer_active(c->kick))
		evc_timer_start(c->kick, 0, 0);
}

static void cancel_all(evc_crawler_t *c)
{
	/* Finishing a task may start another (pump): prevent it first. */
	c->limit = 0;
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (struct host *x = c->hosts[i]; x; x = x->hnext) {
			while (!evc__list_empty(&x->queue)) {
				struct task *t = EVC_LIST_ENTRY(x->queue.next, struct task, link);
				finish_error(t, EVC_ERR_CANCELLED, "cancelled");
			}
		}
	}
	struct evc__list *n;
	while ((n = evc__list_pop_front(&c->waiting)) != NULL) {
		struct task *t = EVC_LIST_ENTRY(n, struct task, link);
		c->nwaiting--;
		t->host->nwaiting--;
		finish_error(t, EVC_ERR_CANCELLED, "cancelled");
	}
	while (!evc__list_empty(&c->running)) {
		struct task *t = EVC_LIST_ENTRY(c->running.next, struct task, link);
		finish_error(t, EVC_ERR_CANCELLED, "cancelled");
	}
}

void evc_crawler_cancel(evc_crawler_t *c)
{
	if (c->cancelled)
		return;
	c->cancelled = true;
	c->input_closed = true;
	evc_timer_start(c->kick, 0, 0);
}

void evc_crawler_stats(const evc_crawler_t *c, evc_crawl_stats_t *out)
{
	*out = c->stats;
	out->in_flight = c->in_flight;
	out->queued = c->queued;
	out->waiting = c->nwaiting;
}

bool evc_crawler_finished(const evc_crawler_t *c)
{
	return c->input_closed && c->stats.done == c->stats.added;
}
