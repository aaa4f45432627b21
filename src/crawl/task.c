/*
 * One crawl task on the loop: a chain of callbacks that does the I/O for a
 * URL while the fetch core (fetch_core.h) makes every decision.
 *
 *   queued → resolve (cache or c-ares) → connect (nonblocking, SO_ERROR)
 *          → send request → receive (llhttp) → verdict
 *          → DONE: report | FOLLOW: queued on the target's host
 *          | RETRY_WAIT: backoff, queued | RETRY_FRESH: queued, new connection
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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crawl/crawler_internal.h"

static void send_request(struct task *t, bool reused);
static void connect_next(struct task *t);
static void arm_timer(struct task *t);
static bool reuse_or_fail(struct task *t);
static void lookup(struct task *t);

static double elapsed_ms(uint64_t from_ns)
{
	return (double)(evc_hrtime() - from_ns) / 1e6;
}

void evc__task_free(struct task *t)
{
	if (t->host)
		t->host->refs--;
	free(t->robots_body);
	evc__recurse_task_free(t);
	evc__fetch_cleanup(&t->f);
	evc_timer_free(t->timer);
	evc_addrs_unref(t->addrs);
	free(t);
}

/* ---- handshake tickets -------------------------------------------------------
 *
 * A TLS handshake in progress costs about 45 KiB (OpenSSL's 16 KiB handshake
 * buffer, zeroed; its buffering BIO; record buffers; the SSL object), an
 * established idle-waiting connection about a quarter of that. So at most
 * max_handshakes https connections are being set up (TCP connect included,
 * so none sits connected before its ClientHello) at once; other tasks wait
 * for a ticket, holding their slots. Handshakes are CPU work on both ends:
 * hundreds at once do not finish sooner than fewer would.
 */

static void ticket_release(struct task *t)
{
	evc_crawler_t *c = t->c;
	if (t->tls_ticket) {
		t->tls_ticket = false;
		c->handshaking--;
		if (!evc__list_empty(&c->tls_wait))
			evc__kick(c); /* evc__tls_wake, from the loop */
	}
	evc__list_remove(&t->tls_link);
}

/* True when t may connect now; else t waits on c->tls_wait. */
static bool ticket_take(struct task *t)
{
	evc_crawler_t *c = t->c;
	unsigned max = c->opts.o.max_handshakes;
	if (t->tls_ticket || !t->f.url.https)
		return true;
	if (max && (c->handshaking >= max || !evc__list_empty(&c->tls_wait))) {
		t->state = T_TLS_WAIT; /* in turn: behind those already waiting */
		t->phase_deadline = 0; /* only the whole-fetch deadline runs */
		arm_timer(t);
		evc__list_push_back(&c->tls_wait, &t->tls_link);
		return false;
	}
	t->tls_ticket = true;
	c->handshaking++;
	return true;
}

/* Tickets came back: connect the tasks waiting longest. */
void evc__tls_wake(evc_crawler_t *c)
{
	unsigned max = c->opts.o.max_handshakes;
	while (!evc__list_empty(&c->tls_wait) && (!max || c->handshaking < max)) {
		struct task *t =
		    EVC_LIST_ENTRY(evc__list_pop_front(&c->tls_wait), struct task, tls_link);
		/* While it waited, the server may have failed its certificate
		 * or freed a kept-alive connection. */
		if (reuse_or_fail(t))
			continue;
		t->tls_ticket = true;
		c->handshaking++;
		connect_next(t);
	}
}

/* Stop whatever the task is doing: DNS, connection, timer, a ticket. */
void evc__task_detach(struct task *t)
{
	ticket_release(t);
	if (t->dns_req) {
		evc_resolve_cancel(t->dns_req);
		t->dns_req = NULL;
	}
	if (t->conn) {
		struct conn *k = t->conn;
		t->conn = NULL;
		k->task = NULL;
		evc__conn_close(k);
	}
	evc_timer_stop(t->timer);
}

/* ---- verdicts ---------------------------------------------------------------- */

/* Give the slot back, wait, then queue the task again (on_task_timer). */
static void schedule_retry(struct task *t, uint64_t wait)
{
	evc_crawler_t *c = t->c;
	evc__task_detach(t);
	evc__release_slot(t);
	t->state = T_BACKOFF;
	evc__list_push_back(&c->waiting, &t->link);
	c->nwaiting++;
	t->key->nwaiting++;
	evc_timer_start(t->timer, wait, 0);
	evc__kick(c); /* the freed slot: start another */
}

/* Carry out the fetch core's verdict. The connection is handed back first:
 * to the pool when its response came whole, else closed. */
void evc__task_act(struct task *t, enum evc__verdict v)
{
	evc_crawler_t *c = t->c;
	if (v == EVC__GO_ON)
		return;
	evc__key_outcome(t);
	evc__conn_release(t);
	switch (v) {
	case EVC__DONE:
		evc__task_report(t);
		return;
	case EVC__RETRY_WAIT:
		schedule_retry(t, t->f.wait_ms);
		return;
	case EVC__RETRY_FRESH:
	case EVC__FOLLOW:
		if (v == EVC__FOLLOW && !evc__recurse_follow(t)) {
			evc__task_act(t, EVC__DONE); /* its target is another task's */
			return;
		}
		evc__task_detach(t);
		evc__release_slot(t);
		t->fresh_conn_only = v == EVC__RETRY_FRESH;
		if (evc__enqueue(c, t, true) < 0) {
			evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_IO, "out of memory"));
			return;
		}
		evc__pump(c);
		return;
	default:
		return;
	}
}

/* ---- timers --------------------------------------------------------------- */

static uint64_t whole_deadline(const struct task *t)
{
	return t->f.deadline_ns / 1000000u; /* the loop's ms share evc_hrtime's origin */
}

static uint64_t next_deadline(const struct task *t)
{
	uint64_t d = whole_deadline(t);
	uint64_t phase = t->phase_deadline;
	if (t->state == T_SENDING || t->state == T_RECEIVING)
		phase = t->last_activity + t->c->opts.o.idle_timeout_ms;
	return phase && phase < d ? phase : d;
}

static void arm_timer(struct task *t)
{
	uint64_t now = evc_now(t->c->loop), d = next_deadline(t);
	evc_timer_start(t->timer, d > now ? d - now : 0, 0);
}

void evc__on_task_timer(evc_timer_t *timer, void *arg)
{
	struct task *t = arg;
	evc_crawler_t *c = t->c;
	uint64_t now = evc_now(c->loop);
	if (t->state == T_BACKOFF) {
		/* Backoff over: queue again at the front of its host. */
		evc__list_remove(&t->link);
		c->nwaiting--;
		t->key->nwaiting--;
		if (evc__enqueue(c, t, true) < 0) {
			evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_IO, "out of memory"));
			return;
		}
		evc__pump(c);
		return;
	}
	if (now >= whole_deadline(t)) {
		evc__task_act(t, evc__fetch_timeout(&t->f, EVC__PHASE_WHOLE));
		return;
	}
	if (next_deadline(t) > now) {
		arm_timer(t); /* activity moved the idle deadline on */
		return;
	}
	switch (t->state) {
	case T_RESOLVING:
		if (t->dns_req && evc_resolve_queued(t->dns_req)) {
			/* Still waiting its turn at the resolver, not yet asked:
			 * the DNS phase has not begun. */
			t->phase_ns = evc_hrtime();
			t->phase_deadline = now + c->opts.o.dns_timeout_ms;
			arm_timer(t);
			return;
		}
		t->f.dns_ms = elapsed_ms(t->phase_ns);
		if (t->resolving_proxy)
			evc__task_act(t, evc__fetch_proxy_error(
					     &t->f, false,
					     "DNS lookup of the proxy timed out after %u ms",
					     c->opts.o.dns_timeout_ms));
		else
			evc__task_act(t, evc__fetch_timeout(&t->f, EVC__PHASE_DNS));
		return;
	case T_CONNECTING:
		evc__task_act(t, evc__fetch_timeout(&t->f, EVC__PHASE_CONNECT));
		return;
	case T_PROXYING:
		evc__task_act(t, evc__fetch_timeout(&t->f, EVC__PHASE_PROXY));
		return;
	case T_HANDSHAKING:
		evc__task_act(t, evc__fetch_timeout(&t->f, EVC__PHASE_TLS));
		return;
	default:
		evc__task_act(t, evc__fetch_timeout(&t->f, EVC__PHASE_IDLE));
		return;
	}
}

/* ---- the exchange ------------------------------------------------------------ */

/* Watch the task's connection. A refusal (the select backend cannot hold
 * an fd that high) is fd pressure like EMFILE; anything else fails the
 * attempt. Returns false when the task was handed on. */
static bool watch_conn(struct task *t, int events)
{
	struct conn *k = t->conn;
	int rc = evc_io_start(t->c->loop, k->s->fd, events, evc__on_conn_io, k);
	if (rc == 0)
		return true;
	if (evc__fd_pressure(rc))
		evc__task_fd_pressure(t);
	else
		evc__task_act(t,
			      evc__fetch_fail(&t->f, EVC_ERR_IO, true,
					      "cannot watch the connection: %s", evc_strerror(rc)));
	return false;
}

/* Watch for what a stream that said "not now" waits for. */
static bool watch_want(struct task *t, ssize_t want, int base)
{
	return watch_conn(t, base | (want == EVC__WANT_WRITE ? EVC_WRITE : EVC_READ));
}

/* One read per readiness over TCP (the next readiness says when there is
 * more); over TLS also what OpenSSL already holds decrypted, which no
 * readiness will announce. */
static void on_readable(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct conn *k = t->conn;
	for (;;) {
		ssize_t n = evc__stream_read(k->s, c->rbuf, READ_BUF_SIZE);
		enum evc__verdict v;
		if (n == EVC__WANT_READ || n == EVC__WANT_WRITE) {
			watch_want(t, n, EVC_READ); /* a TLS read may need a write first */
			return;
		}
		if (n < 0) {
			v = evc__fetch_io_error(&t->f, "recv", (int)n);
		} else if (n == 0) {
			v = evc__fetch_eof(&t->f);
		} else {
			t->last_activity = evc_now(c->loop);
			v = evc__fetch_feed(&t->f, c->rbuf, (size_t)n);
		}
		if (v != EVC__GO_ON) {
			evc__task_act(t, v);
			return;
		}
		if (!evc__stream_pending(k->s))
			return;
	}
}

/* Write what is left of the request; then wait for the response. */
static void flush_request(struct task *t)
{
	struct conn *k = t->conn;
	while (k->pending_off < k->pending_len) {
		ssize_t n = evc__stream_write(k->s, k->pending + k->pending_off,
					      k->pending_len - k->pending_off);
		if (n == EVC__WANT_WRITE || n == EVC__WANT_READ) {
			watch_want(t, n, 0);
			return;
		}
		if (n < 0) {
			evc__task_act(t, evc__fetch_io_error(&t->f, "send", (int)n));
			return;
		}
		k->pending_off += (size_t)n;
	}
	free(k->pending);
	k->pending = NULL;
	t->state = T_RECEIVING;
	watch_conn(t, EVC_READ);
}

/* Drive the TLS handshake; on success the request goes out. */
static void handshake(struct task *t)
{
	struct conn *k = t->conn;
	int rc = evc__stream_handshake(k->s);
	if (rc == EVC__WANT_READ || rc == EVC__WANT_WRITE) {
		watch_want(t, rc, 0);
		return;
	}
	ticket_release(t);
	if (t->c->opts.o.cert_info) { /* also when it did not verify */
		k->cert = evc__tls_cert(k->s);
		evc__fetch_set_cert(&t->f, k->cert);
	}
	if (rc < 0) {
		bool fatal;
		const char *why = evc__tls_failure(k->s, &fatal);
		evc__task_act(t, evc__fetch_tls_error(&t->f, why, !fatal));
		return;
	}
	k->tls = true;
	evc__tls_info(k->s, &k->tls_info);
	struct evc__tls_info *i = &k->tls_info;
	evc__fetch_tls_done(&t->f, elapsed_ms(t->phase_ns), i->version, i->cipher, i->alpn,
			    i->resumed);
	send_request(t, false);
}

/* The proxy the task's URL goes through, taken apart; false when none. */
static bool task_proxy(const struct task *t, struct evc__proxy *px)
{
	const char *why;
	return t->f.proxy && evc__proxy_parse(t->f.proxy, px, &why) == 0;
}

/* The way to the origin is open (directly, or through a proxy): TLS first
 * for https, else the request. */
static void origin_ready(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct conn *k = t->conn;
	if (!t->f.url.https) {
		send_request(t, false);
		return;
	}
	const char *err;
	struct evc__tls_ctx *ctx = evc__engine_tls(&c->opts, &err);
	struct evc__stream *s;
	if (!ctx || evc__tls_wrap(ctx, k->s, t->f.url.host, t->f.url.port, &s) < 0) {
		evc__task_act(
		    t, evc__fetch_error(&t->f, EVC_ERR_TLS, "%s", ctx ? "out of memory" : err));
		return;
	}
	k->s = s;
	t->state = T_HANDSHAKING;
	t->phase_ns = evc_hrtime();
	t->phase_deadline = evc_now(c->loop) + c->opts.o.connect_timeout_ms;
	arm_timer(t);
	handshake(t);
}

/* Drive the proxy's handshake; then on to the origin. */
static void proxy_handshake(struct task *t)
{
	struct conn *k = t->conn;
	int rc = evc__stream_handshake(k->s);
	if (rc == EVC__WANT_READ || rc == EVC__WANT_WRITE) {
		watch_want(t, rc, 0);
		return;
	}
	if (rc < 0) {
		bool retryable;
		const char *why = evc__proxy_failure(k->s, &retryable);
		evc__task_act(t, evc__fetch_proxy_error(&t->f, retryable, "%s", why));
		return;
	}
	t->f.connect_ms = elapsed_ms(t->phase_ns); /* connected to the origin now */
	origin_ready(t);
}

/* TCP is up: through the proxy's handshake when there is one, then to the
 * origin. */
static void connected(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct conn *k = t->conn;
	t->f.connect_ms = elapsed_ms(t->phase_ns);
	evc__fetch_set_remote(&t->f, k->remote);
	struct evc__proxy px;
	if (!task_proxy(t, &px) || !evc__proxy_tunnels(&px, t->f.url.https)) {
		origin_ready(t);
		return;
	}
	struct evc__stream *s;
	if (evc__proxy_wrap(k->s, &px, t->f.url.host, t->f.url.port,
			    t->have_origin ? &t->origin : NULL, &s) < 0) {
		evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_IO, "out of memory"));
		return;
	}
	k->s = s;
	t->state = T_PROXYING;
	t->phase_deadline = evc_now(c->loop) + c->opts.o.connect_timeout_ms;
	arm_timer(t);
	proxy_handshake(t);
}

static void on_connected(struct task *t)
{
	int rc = evc__tcp_connected(t->conn->s);
	if (rc < 0) {
		t->last_err = rc;
		evc__conn_close(t->conn);
		t->addr_index++;
		connect_next(t);
		return;
	}
	connected(t);
}

void evc__on_conn_io(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct conn *k = arg;
	struct task *t = k->task;
	switch (t->state) {
	case T_CONNECTING:
		on_connected(t);
		break;
	case T_PROXYING:
		proxy_handshake(t);
		break;
	case T_HANDSHAKING:
		handshake(t);
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

static void send_request(struct task *t, bool reused)
{
	evc_crawler_t *c = t->c;
	struct conn *k = t->conn;
	evc__key_request_sent(t);
	evc__fetch_exchange(&t->f, &k->resp, reused);
	int len = evc__fetch_request(&t->f, c->reqbuf, c->reqcap, c->opts.fixed, c->opts.fixed_len);
	if (len < 0) {
		evc__task_act(t, EVC__DONE);
		return;
	}
	t->state = T_SENDING;
	t->phase_deadline = 0;
	t->last_activity = evc_now(c->loop);
	c->stats.requests++;
	arm_timer(t);
	/* Most requests go out whole in one write; only a partial write
	 * copies the rest aside. */
	ssize_t n = evc__stream_write(k->s, c->reqbuf, (size_t)len);
	if (n == len) {
		t->state = T_RECEIVING;
		watch_conn(t, EVC_READ);
		return;
	}
	if (n < 0 && n != EVC__WANT_WRITE && n != EVC__WANT_READ) {
		evc__task_act(t, evc__fetch_io_error(&t->f, "send", (int)n));
		return;
	}
	size_t sent = n > 0 ? (size_t)n : 0;
	k->pending_len = (size_t)len - sent;
	k->pending_off = 0;
	k->pending = malloc(k->pending_len);
	if (!k->pending) {
		evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_IO, "out of memory"));
		return;
	}
	memcpy(k->pending, c->reqbuf + sent, k->pending_len);
	watch_want(t, n == EVC__WANT_READ ? n : EVC__WANT_WRITE, 0);
}

/* ---- resolve and connect ------------------------------------------------------ */

/* Open a connection to the task's next address. */
static void connect_next(struct task *t)
{
	evc_crawler_t *c = t->c;
	if (!t->addrs || t->addr_index >= t->addrs->count) {
		char a[64] = "?";
		if (t->addrs && t->addrs->count)
			evc__addr_text(&t->addrs->addr[t->addrs->count - 1], a, sizeof a);
		evc__task_act(t, evc__fetch_connect_error(&t->f, a, t->last_err));
		return;
	}
	if (!ticket_take(t))
		return;
	struct evc__proxy px;
	uint16_t port = task_proxy(t, &px) ? px.port : t->f.url.port;
	t->phase_ns = evc_hrtime();
	int rc = evc__conn_open(t, &t->addrs->addr[t->addr_index], port);
	if (rc == -ENOMEM) {
		evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_IO, "out of memory"));
		return;
	}
	if (rc < 0 && rc != -EINPROGRESS) {
		if (evc__fd_pressure(rc)) {
			evc__task_fd_pressure(t);
			return;
		}
		t->last_err = rc;
		t->addr_index++;
		connect_next(t);
		return;
	}
	t->state = T_CONNECTING;
	t->phase_deadline = evc_now(c->loop) + c->opts.o.connect_timeout_ms;
	arm_timer(t);
	if (rc == 0) {
		connected(t);
		return;
	}
	watch_conn(t, EVC_WRITE);
}

/* A lookup failed: the origin's name (kind dns) or the proxy's (kind proxy). */
static void lookup_failed(struct task *t, const char *errmsg)
{
	struct evc__proxy px;
	if (t->resolving_proxy && task_proxy(t, &px))
		evc__task_act(t, evc__fetch_proxy_error(
				     &t->f, false, "cannot resolve the proxy's host %s: %s",
				     px.host, errmsg ? errmsg : "lookup failed"));
	else
		evc__task_act(t, evc__fetch_dns_error(&t->f, errmsg));
}

/* A lookup answered: connect, or (the origin's address for a SOCKS5 proxy)
 * look the proxy up next. */
static void resolved(struct task *t, evc_addrs_t *addrs)
{
	if (!addrs->count) {
		evc_addrs_unref(addrs);
		lookup_failed(t, "no address");
		return;
	}
	if (t->f.proxy && !t->resolving_proxy) {
		t->origin = addrs->addr[0];
		t->have_origin = true;
		evc_addrs_unref(addrs);
		lookup(t);
		return;
	}
	t->addrs = addrs;
	t->addr_index = 0;
	connect_next(t);
}

static void on_resolved(void *arg, int status, evc_addrs_t *addrs, const char *errmsg)
{
	struct task *t = arg;
	t->dns_req = NULL;
	t->f.dns_ms = elapsed_ms(t->phase_ns);
	if (evc__fd_pressure(status)) { /* c-ares could not get a socket watched */
		evc__task_fd_pressure(t);
		return;
	}
	if (status < 0) {
		lookup_failed(t, errmsg);
		return;
	}
	resolved(t, evc_addrs_ref(addrs));
}

/*
 * Look up the next name: the origin's, or through a proxy the proxy's
 * (and first the origin's when the proxy is SOCKS5 without h, which is
 * given an address). From the cache when it can, else with c-ares.
 */
static void lookup(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct evc__proxy px;
	const char *host = t->f.url.host;
	uint16_t port = t->f.url.port;
	t->resolving_proxy = false;
	if (task_proxy(t, &px) && (px.kind != EVC__PROXY_SOCKS5 || t->have_origin)) {
		host = px.host;
		port = px.port;
		t->resolving_proxy = true;
	}
	t->phase_ns = evc_hrtime();
	const char *errmsg = NULL;
	evc_addrs_t *addrs = NULL;
	int rc = evc_resolver_cached(c->resolver, host, port, &addrs, &errmsg);
	if (rc > 0) {
		/* A numeric host or an override did no lookup: no dns time. */
		t->f.dns_ms = rc == 2 ? -1 : elapsed_ms(t->phase_ns);
		resolved(t, addrs);
		return;
	}
	if (rc < 0) {
		lookup_failed(t, errmsg);
		return;
	}
	t->state = T_RESOLVING;
	t->phase_deadline = evc_now(c->loop) + c->opts.o.dns_timeout_ms;
	arm_timer(t);
	rc = evc_resolve(c->resolver, host, port, on_resolved, t, &t->dns_req);
	if (rc < 0)
		lookup_failed(t, evc_strerror(rc));
}

/* Before a new connection: a server whose certificate already failed fails
 * the task at once; an idle kept-alive connection to its host serves it.
 * True when the task was handed on either way. */
static bool reuse_or_fail(struct task *t)
{
	evc_crawler_t *c = t->c;
	if (t->f.url.https) {
		const char *err;
		char why[256];
		struct evc__tls_ctx *ctx = evc__engine_tls(&c->opts, &err);
		if (!ctx) {
			evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_TLS, "%s", err));
			return true;
		}
		if (evc__tls_known_failure(ctx, t->f.url.host, t->f.url.port, why, sizeof why)) {
			evc__task_act(t, evc__fetch_tls_error(&t->f, why, false));
			return true;
		}
	}
	struct conn *k = t->fresh_conn_only ? NULL : evc__conn_take_idle(t->host);
	if (!k)
		return false;
	k->task = t;
	t->conn = k;
	evc__fetch_set_remote(&t->f, k->remote);
	if (k->tls) {
		struct evc__tls_info *i = &k->tls_info;
		evc__fetch_tls_done(&t->f, -1, i->version, i->cipher, i->alpn, i->resumed);
		evc__fetch_set_cert(&t->f, k->cert);
	}
	send_request(t, true);
	return true;
}

/* The task got its slots: reuse an idle connection, or resolve and connect. */
void evc__task_start(evc_crawler_t *c, struct task *t)
{
	enum evc__verdict v = evc__fetch_attempt(&t->f);
	if (v != EVC__GO_ON) {
		evc__task_act(t, v);
		return;
	}
	t->last_err = 0;
	/* What an earlier attempt's body left (a robots.txt cut short, the
	 * links of a page that was retried) starts over with this one. */
	free(t->robots_body);
	t->robots_body = NULL;
	t->robots_len = 0;
	t->robots_cut = false;
	evc__recurse_attempt(t);
	if (reuse_or_fail(t))
		return;
	t->fresh_conn_only = false;
	evc_addrs_unref(t->addrs);
	t->addrs = NULL;
	t->have_origin = false;
	lookup(t);
}
