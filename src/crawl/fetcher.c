/*
 * The blocking fetcher: one URL at a time, the way programs fetched pages
 * before event loops (and the way --mode blocking, busy-poll, threads and
 * processes do here, for comparison).
 *
 * Only the waiting is its own. Every decision about the URL (retries,
 * redirects, timeouts, limits, saving, the record) is the fetch core's
 * (fetch_core.h), the same one the event-loop crawler drives, and the
 * bytes move through the same transport (net/stream.h), request builder
 * and llhttp parser. The ways of waiting:
 *
 *   blocking   sockets block in connect/send/recv; SO_SNDTIMEO/SO_RCVTIMEO
 *              turn a stall into "would block" after the time allowed.
 *   busy-poll  sockets are nonblocking and every call is simply retried
 *              until it stops saying "would block": no selector, all CPU
 *              (the articles' "non_blocking_way").
 *
 * The time allowed for each wait is the idle timeout or what is left of the
 * whole fetch, whichever is less, and the deadline is checked between
 * reads, so a server that keeps sending never holds a fetch past it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crawl/fetch_core.h"
#include "crawl/options.h"
#include "evcrawl/fetch.h"
#include "evcrawl/loop.h"
#include "evcrawl/resolver.h"
#include "http/request.h"
#include "http/response.h"
#include "net/proxy.h"
#include "net/stream.h"

#define READ_BUF_SIZE (64 * 1024)

struct evc_fetcher {
	struct evc__engine_opts opts; /* opts.o: the options, copied */
	bool busy;
	evc_loop_t *loop; /* only for the resolver, when one is needed */
	evc_resolver_t *resolver;

	/* the kept-alive connection */
	struct evc__stream *s;
	struct evc__stream *tcp; /* the TCP stream at the bottom of s */
	char key[320];
	char remote[48]; /* its peer's address */
	unsigned conn_requests;
	bool tls;		       /* s is TLS, handshake done */
	struct evc__tls_info tls_info; /* for the records of every request on it */
	struct evc__cert *cert;	       /* with cert_info */
	int io_timeout_ms;	       /* what the stream's I/O timeout is set to */

	struct evc__fetch f; /* the current fetch */
	struct evc__response resp;

	char rbuf[READ_BUF_SIZE];
	char *req; /* the request head and its body */
	size_t reqcap;
};

static uint64_t remaining_ms(const evc_fetcher_t *f)
{
	uint64_t now = evc_hrtime();
	return now >= f->f.deadline_ns ? 0 : (f->f.deadline_ns - now) / 1000000u;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* A wait ran out: the whole fetch's deadline if that is what bounded it. */
static enum evc__verdict timed_out(evc_fetcher_t *f, enum evc__phase phase)
{
	return evc__fetch_timeout(&f->f, remaining_ms(f) == 0 ? EVC__PHASE_WHOLE : phase);
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
	evc__stream_close(f->s);
	f->s = f->tcp = NULL;
	f->key[0] = '\0';
	f->conn_requests = 0;
	f->tls = false;
	evc__cert_unref(f->cert);
	f->cert = NULL;
}

/* Bound the next blocking send/recv (busy-poll bounds its own spins). */
static void set_io_timeout(evc_fetcher_t *f, uint64_t ms)
{
	if (f->busy || (int)ms == f->io_timeout_ms)
		return;
	evc__tcp_set_timeout(f->s, (unsigned)ms);
	f->io_timeout_ms = (int)ms;
}

/* The wait allowed for the next send/recv: the idle timeout, or less when
 * the whole fetch's deadline is nearer. */
static uint64_t io_budget(const evc_fetcher_t *f)
{
	return min_u64(remaining_ms(f), f->opts.o.idle_timeout_ms);
}

struct lookup {
	evc_addrs_t *addrs;
	const char *errmsg;
	bool done;
};

static void on_resolved(void *arg, int status, evc_addrs_t *addrs, const char *errmsg)
{
	struct lookup *l = arg;
	l->addrs = status == 0 ? evc_addrs_ref(addrs) : NULL;
	l->errmsg = status == 0 ? NULL : errmsg ? errmsg : evc_strerror(status);
	l->done = true;
}

/* A lookup failed: of the origin's name (kind dns) or the proxy's (kind
 * proxy). errmsg NULL: it timed out. */
static enum evc__verdict lookup_failed(evc_fetcher_t *f, const char *proxy_host, const char *errmsg)
{
	if (proxy_host && errmsg)
		return evc__fetch_proxy_error(
		    &f->f, false, "cannot resolve the proxy's host %s: %s", proxy_host, errmsg);
	if (proxy_host)
		return evc__fetch_proxy_error(&f->f, false,
					      "DNS lookup of the proxy timed out after %u ms",
					      f->opts.o.dns_timeout_ms);
	if (!errmsg)
		return timed_out(f, EVC__PHASE_DNS);
	return evc__fetch_dns_error(&f->f, errmsg);
}

/* Look host up with evcrawl's resolver on a private loop, waiting.
 * proxy_host: host is the proxy's (for the error). */
static evc_addrs_t *resolve_private(evc_fetcher_t *f, const char *host, uint16_t port,
				    const char *proxy_host, enum evc__verdict *v)
{
	uint64_t t0 = evc_hrtime();
	struct lookup l = {0};
	int rc = evc_resolver_cached(f->resolver, host, port, &l.addrs, &l.errmsg);
	if (rc > 0) {
		/* A numeric host or an override did no lookup: no dns time. */
		f->f.dns_ms = rc == 2 ? -1 : (double)(evc_hrtime() - t0) / 1e6;
		return l.addrs;
	}
	if (rc == 0) {
		evc_resolve_req_t *req = NULL;
		rc = evc_resolve(f->resolver, host, port, on_resolved, &l, &req);
		uint64_t wait = min_u64(f->opts.o.dns_timeout_ms, remaining_ms(f));
		uint64_t until = evc_hrtime() + wait * 1000000u;
		while (rc == 0 && !l.done && evc_hrtime() < until)
			evc_loop_run(f->loop, EVC_RUN_ONCE);
		f->f.dns_ms = (double)(evc_hrtime() - t0) / 1e6;
		if (rc < 0)
			l.errmsg = evc_strerror(rc);
		else if (!l.done) {
			evc_resolve_cancel(req);
			*v = lookup_failed(f, proxy_host, NULL);
			return NULL;
		}
		if (l.addrs)
			return l.addrs;
	}
	*v = lookup_failed(f, proxy_host, l.errmsg ? l.errmsg : "lookup failed");
	return NULL;
}

static bool is_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The classic way: getaddrinfo() blocks until the system resolver answers. */
static evc_addrs_t *resolve_system(evc_fetcher_t *f, const char *host, const char *proxy_host,
				   enum evc__verdict *v)
{
	uint64_t t0 = evc_hrtime();
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	f->f.dns_ms = is_numeric(host) ? -1 : (double)(evc_hrtime() - t0) / 1e6;
	if (rc != 0) {
		*v = lookup_failed(f, proxy_host,
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
		*v = evc__fetch_error(&f->f, EVC_ERR_IO, "out of memory");
	else if (!a->count) {
		evc_addrs_unref(a);
		a = NULL;
		*v = lookup_failed(f, proxy_host, "no address");
	}
	return a;
}

static evc_addrs_t *resolve(evc_fetcher_t *f, const char *host, uint16_t port,
			    const char *proxy_host, enum evc__verdict *v)
{
	return f->resolver ? resolve_private(f, host, port, proxy_host, v)
			   : resolve_system(f, host, proxy_host, v);
}

/* Wait-and-retry for busy-poll: true while the budget for this call lasts. */
static bool spin_on(const evc_fetcher_t *f, ssize_t n, uint64_t until)
{
	return f->busy && (n == EVC__WANT_READ || n == EVC__WANT_WRITE) && evc_hrtime() < until;
}

/* Drive the handshake of f->s (a TLS stream, a proxy tunnel) within the
 * connect timeout: 0, a failure code, or WANT_* when time ran out. */
static int handshake(evc_fetcher_t *f)
{
	uint64_t limit = min_u64(f->opts.o.connect_timeout_ms, remaining_ms(f));
	uint64_t until = evc_hrtime() + limit * 1000000u;
	int rc;
	/* Every read and write inside the handshake shares the time. */
	evc__tcp_set_deadline(f->tcp, until);
	for (;;) {
		if (evc_hrtime() >= until) {
			rc = EVC__WANT_READ;
			break;
		}
		rc = evc__stream_handshake(f->s);
		if (!((rc == EVC__WANT_READ || rc == EVC__WANT_WRITE) && f->busy))
			break; /* blocking: "would block" means the time ran out */
	}
	evc__tcp_set_deadline(f->tcp, 0);
	f->io_timeout_ms = -1; /* the deadline changed the socket's timeouts */
	return rc;
}

/* Through the proxy's handshake on the new connection (SOCKS5, or CONNECT
 * for https), within the connect timeout. */
static bool start_tunnel(evc_fetcher_t *f, const struct evc__proxy *px,
			 const evc_sockaddr_t *origin, enum evc__verdict *v)
{
	const struct evc__url *u = &f->f.url;
	struct evc__stream *s;
	if (evc__proxy_wrap(f->s, px, u->host, u->port, origin, &s) < 0) {
		*v = evc__fetch_error(&f->f, EVC_ERR_IO, "out of memory");
		return false;
	}
	f->s = s;
	uint64_t t0 = evc_hrtime();
	int rc = handshake(f);
	/* Connected to the origin only now. */
	f->f.connect_ms += (double)(evc_hrtime() - t0) / 1e6;
	if (rc == EVC__WANT_READ || rc == EVC__WANT_WRITE) {
		*v = timed_out(f, EVC__PHASE_PROXY);
		return false;
	}
	if (rc < 0) {
		bool retryable;
		const char *why = evc__proxy_failure(s, &retryable);
		*v = evc__fetch_proxy_error(&f->f, retryable, "%s", why);
		return false;
	}
	return true;
}

/* TLS on the new connection, within the connect timeout. */
static bool start_tls(evc_fetcher_t *f, struct evc__tls_ctx *ctx, enum evc__verdict *v)
{
	const struct evc__url *u = &f->f.url;
	struct evc__stream *s;
	if (evc__tls_wrap(ctx, f->s, u->host, u->port, &s) < 0) {
		*v = evc__fetch_error(&f->f, EVC_ERR_TLS, "out of memory");
		return false;
	}
	f->s = s;
	uint64_t t0 = evc_hrtime();
	int rc = handshake(f);
	if (rc == EVC__WANT_READ || rc == EVC__WANT_WRITE) {
		*v = timed_out(f, EVC__PHASE_TLS);
		return false;
	}
	if (f->opts.o.cert_info) { /* also when it did not verify */
		f->cert = evc__tls_cert(s);
		evc__fetch_set_cert(&f->f, f->cert);
	}
	if (rc < 0) {
		bool fatal;
		const char *why = evc__tls_failure(s, &fatal);
		*v = evc__fetch_tls_error(&f->f, why, !fatal);
		return false;
	}
	f->tls = true;
	evc__tls_info(s, &f->tls_info);
	struct evc__tls_info *i = &f->tls_info;
	evc__fetch_tls_done(&f->f, (double)(evc_hrtime() - t0) / 1e6, i->version, i->cipher,
			    i->alpn, i->resumed);
	return true;
}

/*
 * Whether the kept connection may carry another request: nothing may have
 * arrived on it since its last response. A byte there (an unsolicited
 * "408 Request Timeout", the rest of an over-long body) or the server's
 * close would otherwise be read as the next URL's answer. A TLS connection
 * may have received a session ticket or a KeyUpdate, which is no answer:
 * it is read without waiting, and kept if no application data came.
 */
static bool conn_quiet(evc_fetcher_t *f)
{
	struct pollfd p = {.fd = f->s->fd, .events = POLLIN};
	if (evc__stream_pending(f->s))
		return false;
	if (poll(&p, 1, 0) == 0)
		return true;
	if (!f->tls)
		return false;
	int fl = fcntl(f->s->fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(f->s->fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return false;
	char buf[512];
	ssize_t n = evc__stream_read(f->s, buf, sizeof buf);
	if (!(fl & O_NONBLOCK))
		fcntl(f->s->fd, F_SETFL, fl);
	return n == EVC__WANT_READ;
}

/* A connection to the current URL's host: the kept one, or a new one.
 * Returns false with *v when there is none. */
static bool get_conn(evc_fetcher_t *f, bool fresh, enum evc__verdict *v)
{
	const struct evc__url *u = &f->f.url;
	struct evc__tls_ctx *ctx = NULL;
	if (u->https) {
		/* A server whose certificate already failed fails at once. */
		const char *err;
		char why[256];
		if (!(ctx = evc__engine_tls(&f->opts, &err))) {
			*v = evc__fetch_error(&f->f, EVC_ERR_TLS, "%s", err);
			return false;
		}
		if (evc__tls_known_failure(ctx, u->host, u->port, why, sizeof why)) {
			*v = evc__fetch_tls_error(&f->f, why, false);
			return false;
		}
	}
	char key[320];
	snprintf(key, sizeof key, "%s://%s:%u", u->scheme, u->host, u->port);
	if (f->s && !fresh && strcmp(key, f->key) == 0 && conn_quiet(f)) {
		evc__fetch_set_remote(&f->f, f->remote);
		if (f->tls) {
			struct evc__tls_info *i = &f->tls_info;
			evc__fetch_tls_done(&f->f, -1, i->version, i->cipher, i->alpn, i->resumed);
			evc__fetch_set_cert(&f->f, f->cert);
		}
		return true;
	}
	close_conn(f);
	/* Through a proxy: connect to it (a SOCKS5 proxy without h is given
	 * the origin's address, looked up here first). */
	struct evc__proxy px;
	const char *why;
	bool proxied = f->f.proxy && evc__proxy_parse(f->f.proxy, &px, &why) == 0;
	evc_sockaddr_t origin;
	evc_addrs_t *addrs;
	if (proxied && px.kind == EVC__PROXY_SOCKS5) {
		if (!(addrs = resolve(f, u->host, u->port, NULL, v)))
			return false;
		origin = addrs->addr[0];
		evc_addrs_unref(addrs);
	}
	uint16_t port = proxied ? px.port : u->port;
	addrs = proxied ? resolve(f, px.host, px.port, px.host, v)
			: resolve(f, u->host, u->port, NULL, v);
	if (!addrs)
		return false;
	int err = -ECONNREFUSED;
	char last[64] = "?";
	for (unsigned i = 0; i < addrs->count && !f->s; i++) {
		evc__addr_text(&addrs->addr[i], last, sizeof last);
		uint64_t c0 = evc_hrtime();
		unsigned limit = (unsigned)min_u64(f->opts.o.connect_timeout_ms, remaining_ms(f));
		err = evc__tcp_connect_wait(&addrs->addr[i], port, limit, f->busy, &f->s);
		/* Out of descriptors (other threads hold them): wait for one to
		 * come free, within the fetch's time, instead of failing. */
		while (evc__fd_pressure(err) && err != -EADDRNOTAVAIL && remaining_ms(f) > 20) {
			sleep_ms(20);
			limit = (unsigned)min_u64(f->opts.o.connect_timeout_ms, remaining_ms(f));
			err = evc__tcp_connect_wait(&addrs->addr[i], port, limit, f->busy, &f->s);
		}
		if (err == 0) {
			f->f.connect_ms = (double)(evc_hrtime() - c0) / 1e6;
			snprintf(f->remote, sizeof f->remote, "%.47s", last);
			evc__fetch_set_remote(&f->f, f->remote);
			f->io_timeout_ms = -1;
			f->tcp = f->s;
			snprintf(f->key, sizeof f->key, "%s", key);
		}
	}
	evc_addrs_unref(addrs);
	if (f->s) {
		if ((!proxied || !evc__proxy_tunnels(&px, u->https) ||
		     start_tunnel(f, &px, px.kind == EVC__PROXY_SOCKS5 ? &origin : NULL, v)) &&
		    (!ctx || start_tls(f, ctx, v)))
			return true;
		close_conn(f);
		return false;
	}
	if (err == -ETIMEDOUT)
		*v = timed_out(f, EVC__PHASE_CONNECT);
	else
		*v = evc__fetch_connect_error(&f->f, last, err);
	return false;
}

/* ---- one exchange -------------------------------------------------------------- */

/* One read (or write) within the wait allowed: what the stream said, or
 * EVC_ETIMEDOUT when the whole fetch's time is up before it starts. */
static ssize_t io_once(evc_fetcher_t *f, bool write, char *buf, size_t len)
{
	uint64_t budget = io_budget(f);
	if (budget == 0)
		return EVC_ETIMEDOUT;
	set_io_timeout(f, budget);
	uint64_t until = evc_hrtime() + budget * 1000000u;
	ssize_t n;
	do
		n = write ? evc__stream_write(f->s, buf, len) : evc__stream_read(f->s, buf, len);
	while (spin_on(f, n, until));
	return n;
}

/* What a read or write that moved no bytes means for the fetch. */
static enum evc__verdict io_failed(evc_fetcher_t *f, ssize_t n, const char *op)
{
	if (n == EVC_ETIMEDOUT)
		return evc__fetch_timeout(&f->f, EVC__PHASE_WHOLE);
	if (n == EVC__WANT_READ || n == EVC__WANT_WRITE)
		return timed_out(f, EVC__PHASE_IDLE);
	return evc__fetch_io_error(&f->f, op, (int)n);
}

static enum evc__verdict send_all(evc_fetcher_t *f, char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = io_once(f, true, p, len);
		if (n < 0)
			return io_failed(f, n, "send");
		p += n;
		len -= (size_t)n;
	}
	return EVC__GO_ON;
}

/* Read until the core decides. The deadline is checked before every read,
 * so a server that never stops sending still ends at it. */
static enum evc__verdict receive(evc_fetcher_t *f)
{
	for (;;) {
		ssize_t n = io_once(f, false, f->rbuf, sizeof f->rbuf);
		enum evc__verdict v;
		if (n < 0)
			v = io_failed(f, n, "recv");
		else if (n == 0)
			v = evc__fetch_eof(&f->f);
		else
			v = evc__fetch_feed(&f->f, f->rbuf, (size_t)n);
		if (v != EVC__GO_ON)
			return v;
	}
}

/* One request and its response, on a kept or new connection. */
static enum evc__verdict exchange(evc_fetcher_t *f, bool fresh)
{
	enum evc__verdict v;
	if (!get_conn(f, fresh, &v))
		return v;
	evc__response_free(&f->resp);
	evc__fetch_exchange(&f->f, &f->resp, f->conn_requests > 0);
	int len = evc__fetch_request(&f->f, f->req, f->reqcap, f->opts.fixed, f->opts.fixed_len);
	if (len < 0)
		return EVC__DONE;
	v = send_all(f, f->req, (size_t)len);
	if (v == EVC__GO_ON)
		v = receive(f);
	if (f->resp.complete && f->resp.error == 0 && f->resp.keep_alive)
		f->conn_requests++;
	else
		close_conn(f);
	return v;
}

/* Attempts, redirects and retries until the core says DONE. */
static void run_fetch(evc_fetcher_t *f)
{
	bool fresh = false;
	for (;;) {
		enum evc__verdict v = evc__fetch_attempt(&f->f);
		if (v == EVC__GO_ON)
			v = exchange(f, fresh);
		fresh = v == EVC__RETRY_FRESH;
		if (v == EVC__DONE)
			return;
		if (v == EVC__RETRY_WAIT)
			sleep_ms(f->f.wait_ms);
	}
}

void evc_fetcher_fetch(evc_fetcher_t *f, const char *url, size_t len, void *user, evc_result_t *r)
{
	evc__fetch_cleanup(&f->f);
	if (evc__fetch_init(&f->f, &f->opts.o, url, len, user) < 0) {
		evc__fetch_cleanup(&f->f);
		*r = (evc_result_t){.url = "",
				    .error = EVC_ERR_IO,
				    .error_message = "out of memory",
				    .dns_ms = -1,
				    .connect_ms = -1,
				    .tls_ms = -1,
				    .ttfb_ms = -1,
				    .user = user};
		return;
	}
	run_fetch(f);
	evc__fetch_result(&f->f, r);
}

int evc_fetcher_new(evc_fetcher_t **out, const evc_crawl_opts_t *opts, unsigned flags)
{
	*out = NULL;
	evc_fetcher_t *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->f.sink.fd = -1;
	f->busy = flags & EVC_FETCH_BUSY_POLL;
	int rc = evc__engine_opts_init(&f->opts, opts);
	const evc_crawl_opts_t *o = &f->opts.o;
	if (rc == 0) {
		f->reqcap = evc__request_cap(o);
		if (!(f->req = malloc(f->reqcap)))
			rc = -ENOMEM;
	}
	if (rc == 0 && ((o->dns_servers && *o->dns_servers) || o->resolve)) {
		rc = evc_loop_new(&f->loop, "poll");
		if (rc == 0)
			rc = evc__engine_resolver(&f->resolver, f->loop, o);
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
	evc__fetch_cleanup(&f->f);
	close_conn(f);
	evc__response_free(&f->resp);
	evc_resolver_free(f->resolver);
	evc_loop_free(f->loop);
	evc__engine_opts_free(&f->opts);
	free(f->req);
	free(f);
}
