/*
 * The blocking fetcher: one URL at a time, the way programs fetched pages
 * before event loops (and the way --mode blocking, busy-poll, threads and
 * processes do here, for comparison).
 *
 * It shares everything but the I/O with the event-loop crawler: URL parsing
 * (util/url), request bytes (http/request), the llhttp response parser with
 * decoding (http/response), saving (crawl/sink), and the policy for
 * redirects, retries and backoff (crawl/common). So both engines make the
 * same decisions and produce the same records; only the waiting differs:
 *
 *   blocking   sockets block in connect/send/recv; SO_SNDTIMEO/SO_RCVTIMEO
 *              turn a stall into EAGAIN after the timeout.
 *   busy-poll  sockets are nonblocking and every call is simply retried
 *              until it stops saying EAGAIN/EINPROGRESS: no selector, all
 *              CPU (the articles' "non_blocking_way").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crawl/common.h"
#include "crawl/sink.h"
#include "evcrawl/fetch.h"
#include "evcrawl/loop.h"
#include "evcrawl/resolver.h"
#include "http/request.h"
#include "http/response.h"
#include "util/url.h"

#define READ_BUF_SIZE (64 * 1024)
#define REQ_BUF_SIZE  (16 * 1024)

struct evc_fetcher {
	evc_crawl_opts_t o;
	char *strings;
	char *fixed;
	size_t fixed_len;
	bool busy;
	evc_loop_t *loop; /* only for the resolver, when one is needed */
	evc_resolver_t *resolver;

	/* the kept-alive connection */
	int fd;
	char key[320];
	unsigned conn_requests;
	int io_timeout_ms; /* what SO_RCVTIMEO/SO_SNDTIMEO are set to */

	/* the current fetch */
	char *input;
	struct evc__url url;
	int url_rc;
	unsigned attempts, redirects;
	uint64_t *visited;
	int status;
	uint64_t bytes;
	char content_type[128];
	double dns_ms, connect_ms, ttfb_ms;
	uint64_t start_ns, deadline_ns;
	evc_error_kind_t error;
	char message[400];
	struct evc__file_sink sink;
	bool saving, head_handled;
	int64_t retry_wait; /* >= 0: the current response is retried after this */
	struct evc__response resp;

	char rbuf[READ_BUF_SIZE];
	char req[REQ_BUF_SIZE];
};

/* What one attempt came to. */
struct outcome {
	evc_error_kind_t kind; /* EVC_OK: a complete response */
	bool retryable;
	bool stale; /* a reused connection died before any response byte */
	char msg[400];
};

static void set_msg(struct outcome *out, evc_error_kind_t kind, bool retryable, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
static void set_msg(struct outcome *out, evc_error_kind_t kind, bool retryable, const char *fmt,
		    ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->msg, sizeof out->msg, fmt, ap);
	va_end(ap);
	out->kind = kind;
	out->retryable = retryable;
}

static double ms_between(uint64_t a, uint64_t b)
{
	return (double)(b - a) / 1e6;
}

/* Milliseconds left before the whole-fetch deadline (0 when past it). */
static uint64_t remaining_ms(const evc_fetcher_t *f)
{
	uint64_t now = evc_hrtime();
	return now >= f->deadline_ns ? 0 : (f->deadline_ns - now) / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- connection ------------------------------------------------------------ */

static void close_conn(evc_fetcher_t *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->key[0] = '\0';
	f->conn_requests = 0;
}

static void set_io_timeout(evc_fetcher_t *f, uint64_t ms)
{
	if (f->busy || (int)ms == f->io_timeout_ms)
		return;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (long)(ms % 1000) * 1000};
	if (ms == 0)
		tv.tv_usec = 1000; /* 0 would mean "no timeout" */
	setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(f->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	f->io_timeout_ms = (int)ms;
}

/* The wait allowed for the next send/recv: the idle timeout, or less when
 * the whole fetch's deadline is nearer. */
static uint64_t io_budget(const evc_fetcher_t *f)
{
	uint64_t left = remaining_ms(f);
	return left < f->o.idle_timeout_ms ? left : f->o.idle_timeout_ms;
}

static void on_resolved(void *arg, int status, evc_addrs_t *addrs, const char *errmsg)
{
	evc_addrs_t **out = arg;
	*out = status == 0 ? evc_addrs_ref(addrs) : NULL;
	if (status < 0)
		out[1] = (evc_addrs_t *)(uintptr_t)(errmsg ? errmsg : "lookup failed");
	out[2] = (evc_addrs_t *)1; /* done */
}

/* Look the host up with evcrawl's resolver on a private loop, waiting. */
static evc_addrs_t *resolve_private(evc_fetcher_t *f, struct outcome *out)
{
	evc_addrs_t *addrs = NULL;
	const char *errmsg = NULL;
	int rc = evc_resolver_cached(f->resolver, f->url.host, f->url.port, &addrs, &errmsg);
	if (rc > 0)
		return addrs;
	if (rc == 0) {
		evc_addrs_t *slots[3] = {NULL, NULL, NULL};
		evc_resolve_req_t *req = NULL;
		rc = evc_resolve(f->resolver, f->url.host, f->url.port, on_resolved, slots, &req);
		uint64_t until = evc_hrtime() + (uint64_t)f->o.dns_timeout_ms * 1000000u;
		while (rc == 0 && !slots[2] && evc_hrtime() < until)
			evc_loop_run(f->loop, EVC_RUN_ONCE);
		if (!slots[2]) {
			evc_resolve_cancel(req);
			set_msg(out, EVC_ERR_DNS, false, "DNS lookup of %s timed out after %u ms",
				f->url.host, f->o.dns_timeout_ms);
			return NULL;
		}
		if (slots[0])
			return slots[0];
		errmsg = (const char *)(uintptr_t)slots[1];
	}
	set_msg(out, EVC_ERR_DNS, false, "cannot resolve %s: %s", f->url.host,
		errmsg ? errmsg : "lookup failed");
	return NULL;
}

/* The classic way: getaddrinfo() blocks until the system resolver answers. */
static evc_addrs_t *resolve_system(evc_fetcher_t *f, struct outcome *out)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(f->url.host, NULL, &hints, &res);
	if (rc != 0) {
		set_msg(out, EVC_ERR_DNS, false, "cannot resolve %s: %s", f->url.host,
			rc == EAI_NONAME ? "Domain name not found" : gai_strerror(rc));
		return NULL;
	}
	unsigned n = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		n++;
	evc_addrs_t *a = malloc(sizeof *a + n * sizeof a->addr[0]);
	if (a) {
		a->refs = 1;
		a->count = 0;
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
			    ai->ai_addrlen > sizeof a->addr[0])
				continue;
			memset(&a->addr[a->count], 0, sizeof a->addr[0]);
			memcpy(&a->addr[a->count++], ai->ai_addr, ai->ai_addrlen);
		}
	}
	freeaddrinfo(res);
	if (!a)
		set_msg(out, EVC_ERR_IO, false, "out of memory");
	return a;
}

static bool is_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* connect() with the connect timeout: blocking with SO_SNDTIMEO (Linux
 * applies it to connect), or retried in a spin. Returns 0 or an errno. */
static int connect_one(evc_fetcher_t *f, int fd, const struct sockaddr *sa, socklen_t len)
{
	uint64_t limit = f->o.connect_timeout_ms;
	uint64_t left = remaining_ms(f);
	if (left < limit)
		limit = left;
	if (!f->busy) {
		struct timeval tv = {.tv_sec = (time_t)(limit / 1000),
				     .tv_usec = (long)(limit % 1000) * 1000 + 1};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, sa, len) == 0)
			return 0;
		return errno == EINPROGRESS ? ETIMEDOUT : errno;
	}
	uint64_t until = evc_hrtime() + limit * 1000000u;
	for (;;) {
		if (connect(fd, sa, len) == 0 || errno == EISCONN)
			return 0;
		if (errno != EINPROGRESS && errno != EALREADY && errno != EINTR && errno != EAGAIN)
			return errno;
		if (evc_hrtime() >= until)
			return ETIMEDOUT;
	}
}

/* Get a connection to the current URL's host: the kept one, or a new one. */
static bool get_conn(evc_fetcher_t *f, bool fresh, struct outcome *out)
{
	char key[320];
	snprintf(key, sizeof key, "%s://%s:%u", f->url.scheme, f->url.host, f->url.port);
	if (f->fd >= 0 && !fresh && strcmp(key, f->key) == 0)
		return true;
	close_conn(f);
	uint64_t t0 = evc_hrtime();
	evc_addrs_t *addrs;
	if (f->resolver)
		addrs = resolve_private(f, out);
	else
		addrs = resolve_system(f, out);
	if (!addrs)
		return false;
	f->dns_ms = is_numeric(f->url.host) ? -1 : ms_between(t0, evc_hrtime());
	int err = ECONNREFUSED;
	char last[INET6_ADDRSTRLEN] = "?";
	for (unsigned i = 0; i < addrs->count && f->fd < 0; i++) {
		evc_sockaddr_t sa = addrs->addr[i];
		socklen_t len = sa.sa.sa_family == AF_INET6 ? sizeof sa.in6 : sizeof sa.in4;
		sa.in4.sin_port = htons(f->url.port); /* same offset in both */
		inet_ntop(sa.sa.sa_family,
			  sa.sa.sa_family == AF_INET6 ? (void *)&sa.in6.sin6_addr
						      : (void *)&sa.in4.sin_addr,
			  last, sizeof last);
		int fd = socket(sa.sa.sa_family,
				SOCK_STREAM | SOCK_CLOEXEC | (f->busy ? SOCK_NONBLOCK : 0), 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		uint64_t c0 = evc_hrtime();
		err = connect_one(f, fd, &sa.sa, len);
		if (err) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		f->connect_ms = ms_between(c0, evc_hrtime());
		f->fd = fd;
		f->io_timeout_ms = -1;
		snprintf(f->key, sizeof f->key, "%s", key);
	}
	evc_addrs_unref(addrs);
	if (f->fd < 0) {
		if (err == ETIMEDOUT)
			set_msg(out, EVC_ERR_TIMEOUT, true, "connect timed out after %u ms",
				f->o.connect_timeout_ms);
		else
			set_msg(out, EVC_ERR_CONNECT, true, "connect to %s port %u: %s", last,
				f->url.port, strerror(err));
		return false;
	}
	return true;
}

/* How long to wait before the next attempt, or -1 when there will be none:
 * no retry left, or the wait would end past the whole-fetch deadline. */
static int64_t retry_wait(const evc_fetcher_t *f, int retry_after_s)
{
	if (f->attempts > f->o.retries)
		return -1;
	uint64_t wait = evc__backoff_ms(&f->o, f->attempts, retry_after_s);
	return wait < remaining_ms(f) ? (int64_t)wait : -1;
}

/* ---- one exchange -------------------------------------------------------------- */

static int handle_head(evc_fetcher_t *f)
{
	f->head_handled = true;
	f->status = f->resp.status;
	memcpy(f->content_type, f->resp.content_type, sizeof f->content_type);
	/* Decide now, once, whether this response ends the fetch: its body is
	 * kept only then, and run_fetch() follows this same decision. */
	f->retry_wait =
	    evc__is_retry_status(f->resp.status) ? retry_wait(f, f->resp.retry_after) : -1;
	bool final = f->retry_wait < 0 && !evc__will_follow(&f->o, f->resp.status,
							    f->resp.location != NULL, f->redirects);
	if (f->saving || !f->o.output_dir || !final)
		return 0;
	int rc = evc__sink_open(&f->sink, f->o.output_dir, &f->url);
	if (rc < 0) {
		snprintf(f->message, sizeof f->message, "cannot save body under %s: %s",
			 f->o.output_dir, evc_strerror(rc));
		return -EIO;
	}
	f->saving = true;
	return 0;
}

static int on_body(void *arg, const char *data, size_t len)
{
	evc_fetcher_t *f = arg;
	if (!f->head_handled && handle_head(f) < 0)
		return -EIO;
	if (f->saving && evc__sink_write(&f->sink, data, len) < 0) {
		snprintf(f->message, sizeof f->message, "cannot write %s: %s", f->sink.path,
			 strerror(errno));
		return -EIO;
	}
	return 0;
}

/* Why a send/recv that returned EAGAIN (a socket timeout) gave up. */
static void timed_out(evc_fetcher_t *f, struct outcome *out)
{
	if (remaining_ms(f) == 0)
		set_msg(out, EVC_ERR_TIMEOUT, false, "whole fetch timed out after %u ms",
			f->o.timeout_ms);
	else
		set_msg(out, EVC_ERR_TIMEOUT, true, "no data received for %u ms",
			f->o.idle_timeout_ms);
}

/* Wait-and-retry for busy-poll: true while the budget for this call lasts. */
static bool spin_on(uint64_t until)
{
	return (errno == EAGAIN || errno == EINTR) && evc_hrtime() < until;
}

static bool send_all(evc_fetcher_t *f, const char *p, size_t len, bool reused, struct outcome *out)
{
	set_io_timeout(f, io_budget(f));
	uint64_t until = evc_hrtime() + io_budget(f) * 1000000u;
	while (len > 0) {
		ssize_t n = send(f->fd, p, len, MSG_NOSIGNAL);
		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			until = evc_hrtime() + io_budget(f) * 1000000u;
			continue;
		}
		if (f->busy && spin_on(until))
			continue;
		if (!f->busy && errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			timed_out(f, out);
			return false;
		}
		out->stale = reused;
		set_msg(out, EVC_ERR_IO, true, "send: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Read until the response is complete. */
static void receive(evc_fetcher_t *f, bool reused, uint64_t sent_ns, struct outcome *out)
{
	bool got_bytes = false;
	for (;;) {
		uint64_t budget = io_budget(f);
		set_io_timeout(f, budget);
		uint64_t until = evc_hrtime() + budget * 1000000u;
		ssize_t n;
		do
			n = recv(f->fd, f->rbuf, sizeof f->rbuf, 0);
		while (n < 0 && (f->busy ? spin_on(until) : errno == EINTR));
		if (n < 0) {
			if (errno == EAGAIN) {
				timed_out(f, out);
			} else {
				out->stale = reused && !got_bytes;
				set_msg(out, EVC_ERR_IO, true, "recv: %s", strerror(errno));
			}
			return;
		}
		if (n == 0) {
			int rc = evc__response_eof(&f->resp);
			if (rc == 1) {
				out->kind = EVC_OK;
				return;
			}
			out->stale = reused && !got_bytes;
			set_msg(out, EVC_ERR_PROTOCOL, !f->saving, "%s",
				f->resp.error_msg
				    ? f->resp.error_msg
				    : "connection closed before the response was complete");
			return;
		}
		if (!got_bytes) {
			got_bytes = true;
			f->ttfb_ms = ms_between(sent_ns, evc_hrtime());
		}
		int rc = evc__response_feed(&f->resp, f->rbuf, (size_t)n, NULL);
		if (f->resp.head_done && !f->head_handled) {
			if (rc >= 0 && handle_head(f) < 0)
				rc = -EIO;
			f->status = f->resp.status;
			memcpy(f->content_type, f->resp.content_type, sizeof f->content_type);
		}
		if (rc == 1) {
			out->kind = EVC_OK;
			return;
		}
		if (rc == EVC_ETOOLARGE)
			set_msg(out, EVC_ERR_TOO_LARGE, false, "body larger than %llu bytes",
				(unsigned long long)f->o.max_body);
		else if (rc == -EIO)
			set_msg(out, EVC_ERR_IO, false, "%s", f->message);
		else if (rc < 0)
			set_msg(out, EVC_ERR_PROTOCOL, false, "%s",
				f->resp.error_msg ? f->resp.error_msg : evc_strerror(rc));
		if (rc < 0)
			return;
	}
}

/* One request and its response, on a kept or new connection. */
static void attempt(evc_fetcher_t *f, bool fresh, struct outcome *out)
{
	memset(out, 0, sizeof *out);
	f->dns_ms = f->connect_ms = f->ttfb_ms = -1;
	if (f->url.https) {
		set_msg(out, EVC_ERR_TLS, false, "https not supported yet");
		return;
	}
	if (!get_conn(f, fresh, out))
		return;
	bool reused = f->conn_requests > 0;
	int len = evc__request_build(f->req, sizeof f->req, "GET", &f->url, f->fixed, f->fixed_len);
	if (len < 0) {
		set_msg(out, EVC_ERR_BAD_URL, false, "request line and headers exceed %d bytes",
			REQ_BUF_SIZE);
		return;
	}
	evc__response_free(&f->resp);
	evc__response_init(&f->resp, false, f->o.compressed, f->o.max_body, on_body, f);
	f->head_handled = false;
	f->retry_wait = -1;
	uint64_t sent_ns = evc_hrtime();
	if (send_all(f, f->req, (size_t)len, reused, out))
		receive(f, reused, sent_ns, out);
	if (out->kind == EVC_OK && f->resp.keep_alive) {
		f->conn_requests++;
	} else {
		close_conn(f);
	}
	if (f->resp.head_done)
		f->bytes = f->resp.body_bytes;
}

/* ---- a whole fetch: attempts, retries, redirects ---------------------------------- */

static void reset_fetch(evc_fetcher_t *f)
{
	free(f->input);
	f->input = NULL;
	evc__url_free(&f->url);
	if (f->saving)
		evc__sink_close(&f->sink, 1);
	free(f->sink.path);
	f->sink.path = NULL;
	f->saving = false;
	f->attempts = f->redirects = 0;
	f->status = 0;
	f->bytes = 0;
	f->content_type[0] = '\0';
	f->dns_ms = f->connect_ms = f->ttfb_ms = -1;
	f->error = EVC_OK;
	f->message[0] = '\0';
}

static void finish(evc_fetcher_t *f, evc_error_kind_t kind, const char *msg)
{
	f->error = kind;
	if (kind != EVC_OK && msg != f->message)
		snprintf(f->message, sizeof f->message, "%s", msg);
	if (f->saving)
		evc__sink_close(&f->sink, kind != EVC_OK);
}

/* After a complete response: follow a redirect (true), or not. */
static bool follow(evc_fetcher_t *f)
{
	const char *location = f->resp.location;
	if (!evc__is_redirect(f->resp.status) || !location)
		return false;
	struct evc__url next;
	evc_error_kind_t kind = evc__redirect(&f->o, &f->url, location, f->visited, &f->redirects,
					      &next, f->message, sizeof f->message);
	if (kind != EVC_OK) {
		finish(f, kind, f->message);
		return false;
	}
	evc__url_free(&f->url);
	f->url = next;
	f->attempts = 0;
	f->status = 0;
	f->bytes = 0;
	f->content_type[0] = '\0';
	return true;
}

/* Wait before trying again: the body of a cut-short attempt goes. */
static void back_off(evc_fetcher_t *f, uint64_t wait)
{
	if (f->saving) {
		evc__sink_close(&f->sink, 1);
		f->saving = false;
	}
	f->status = 0;
	f->bytes = 0;
	f->content_type[0] = '\0';
	sleep_ms(wait);
}

static void run_fetch(evc_fetcher_t *f)
{
	bool stale_retry_used = false, fresh = false;
	for (;;) {
		f->attempts++;
		struct outcome out;
		attempt(f, fresh, &out);
		fresh = false;
		if (out.kind == EVC_OK) {
			if (follow(f)) {
				stale_retry_used = false;
				continue;
			}
			if (f->error != EVC_OK) /* a redirect that failed */
				return;
			if (f->retry_wait >= 0) {
				back_off(f, (uint64_t)f->retry_wait);
				continue;
			}
			finish(f, EVC_OK, NULL);
			return;
		}
		if (out.stale && !stale_retry_used) {
			/* The server dropped our kept connection: once more on a
			 * fresh one, not counted as an attempt. */
			stale_retry_used = true;
			fresh = true;
			f->attempts--;
			continue;
		}
		int64_t wait = out.retryable ? retry_wait(f, -1) : -1;
		if (wait >= 0) {
			back_off(f, (uint64_t)wait);
			continue;
		}
		finish(f, out.kind, out.msg);
		return;
	}
}

void evc_fetcher_fetch(evc_fetcher_t *f, const char *url, size_t len, void *user, evc_result_t *r)
{
	reset_fetch(f);
	f->start_ns = evc_hrtime();
	f->deadline_ns = f->start_ns + (uint64_t)f->o.timeout_ms * 1000000u;
	f->input = strndup(url, len);
	f->url_rc = evc__url_parse(&f->url, url, len);
	if (f->url_rc < 0)
		finish(f, EVC_ERR_BAD_URL, evc_strerror(f->url_rc));
	else
		run_fetch(f);
	*r = (evc_result_t){
	    .url = f->input ? f->input : "",
	    .final_url = f->url_rc == 0 ? f->url.href : NULL,
	    .status = f->status,
	    .bytes = f->bytes,
	    .content_type = f->content_type[0] ? f->content_type : NULL,
	    .redirects = (int)f->redirects,
	    .attempts = (int)f->attempts,
	    .dns_ms = f->dns_ms,
	    .connect_ms = f->connect_ms,
	    .tls_ms = -1,
	    .ttfb_ms = f->ttfb_ms,
	    .total_ms = ms_between(f->start_ns, evc_hrtime()),
	    .error = f->error,
	    .error_message = f->error != EVC_OK ? f->message : NULL,
	    .saved = f->saving && f->error == EVC_OK ? f->sink.path : NULL,
	    .user = user,
	};
}

int evc_fetcher_new(evc_fetcher_t **out, const evc_crawl_opts_t *opts, unsigned flags)
{
	*out = NULL;
	evc_fetcher_t *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->fd = -1;
	f->sink.fd = -1;
	f->busy = flags & EVC_FETCH_BUSY_POLL;
	if (opts)
		f->o = *opts;
	else
		evc_crawl_opts_init(&f->o);
	const char *what;
	int rc = evc_crawl_opts_check(&f->o, &what);
	if (rc == 0)
		rc = evc__opts_copy(&f->o, &f->o, &f->strings);
	if (rc == 0)
		rc = evc__request_headers(&f->fixed, f->o.user_agent, f->o.headers, f->o.compressed,
					  NULL);
	if (rc == 0) {
		f->fixed_len = strlen(f->fixed);
		f->visited = calloc(f->o.max_redirects + 1, sizeof *f->visited);
		if (!f->visited)
			rc = -ENOMEM;
	}
	if (rc == 0 && ((f->o.dns_servers && *f->o.dns_servers) || f->o.resolve)) {
		evc_resolver_opts_t ro = {.servers = f->o.dns_servers,
					  .timeout_ms = f->o.dns_timeout_ms};
		rc = evc_loop_new(&f->loop, "poll");
		if (rc == 0)
			rc = evc_resolver_new(&f->resolver, f->loop, &ro);
		if (rc == 0)
			rc = evc__apply_resolve(f->resolver, &f->o);
	}
	if (rc < 0) {
		evc_fetcher_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void evc_fetcher_free(evc_fetcher_t *f)
{
	if (!f)
		return;
	reset_fetch(f);
	close_conn(f);
	evc__response_free(&f->resp);
	evc_resolver_free(f->resolver);
	evc_loop_free(f->loop);
	free(f->visited);
	free(f->fixed);
	free(f->strings);
	free(f);
}
