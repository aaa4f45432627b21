/* The fetch core: one URL's policy, sans I/O (see fetch_core.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crawl/cookies.h"
#include "crawl/fetch_core.h"
#include "evcrawl/loop.h"
#include "http/request.h"
#include "net/proxy.h"

uint64_t (*evc__fetch_clock)(void) = evc_hrtime;

/* ---- policy ------------------------------------------------------------------ */

bool evc__is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool evc__is_retry_status(int status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

uint64_t evc__backoff_ms(const evc_crawl_opts_t *o, unsigned attempt, int retry_after_s)
{
	uint64_t wait;
	if (retry_after_s >= 0) {
		wait = (uint64_t)retry_after_s * 1000;
	} else {
		unsigned shift = attempt > 1 ? attempt - 1 : 0;
		wait = (uint64_t)o->retry_base_ms << (shift < 20 ? shift : 20);
		wait = wait / 2 + (uint64_t)random() % (wait / 2 + 1); /* jitter: 50-100 % */
	}
	return wait < o->retry_max_wait_ms ? wait : o->retry_max_wait_ms;
}

static uint64_t remaining_ms(const struct evc__fetch *f)
{
	uint64_t now = evc__fetch_clock();
	return now >= f->deadline_ns ? 0 : (f->deadline_ns - now) / 1000000u;
}

/* How long to wait before the next attempt, or -1 when there will be none:
 * no retry left, or the wait would end past the whole-fetch deadline.
 * retry_after_s < 0: the server named no time. */
static int64_t retry_wait(const struct evc__fetch *f, int retry_after_s)
{
	if (f->attempts > f->o->retries)
		return -1;
	uint64_t wait = evc__backoff_ms(f->o, f->attempts, retry_after_s);
	return wait < remaining_ms(f) ? (int64_t)wait : -1;
}

/* The method of the current request: the option's (GET, or POST with a
 * body), and GET after a 301/302/303 turned it (HEAD stays HEAD). */
static const char *method(const struct evc__fetch *f)
{
	const char *m = f->o->method ? f->o->method : f->o->data ? "POST" : "GET";
	return f->as_get && strcmp(m, "HEAD") != 0 ? "GET" : m;
}

/* Whether a response is a redirect that will be followed (one more is
 * allowed and it says where). */
static bool will_follow(const struct evc__fetch *f, int status, bool has_location)
{
	return evc__is_redirect(status) && has_location && f->redirects < f->o->max_redirects;
}

/* ---- errors and the end of an exchange ----------------------------------------- */

static void set_message(struct evc__fetch *f, evc_error_kind_t kind, const char *fmt, va_list ap)
{
	char *msg; /* formatted first: an argument may be the old message */
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	free(f->message);
	f->message = msg;
	f->error = kind;
}

static void set_error(struct evc__fetch *f, evc_error_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(struct evc__fetch *f, evc_error_kind_t kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_message(f, kind, fmt, ap);
	va_end(ap);
}

/* The record's content type: s copied, or none for "". A failed copy shows
 * none rather than fail the fetch. */
static void set_content_type(struct evc__fetch *f, const char *s)
{
	if (f->content_type && strcmp(f->content_type, s) == 0)
		return;
	free(f->content_type);
	f->content_type = *s ? strdup(s) : NULL;
}

static void set_content_encoding(struct evc__fetch *f, const char *s)
{
	if (f->content_encoding && strcmp(f->content_encoding, s) == 0)
		return;
	free(f->content_encoding);
	f->content_encoding = *s ? strdup(s) : NULL;
}

static void free_header_values(struct evc__fetch *f)
{
	for (unsigned i = 0; f->hvals && f->o->record_headers && f->o->record_headers[i]; i++)
		free(f->hvals[i]);
	free(f->hvals);
	f->hvals = NULL;
}

/* The record_headers of this response, taken from it (it forgets them). */
static void keep_header_values(struct evc__fetch *f, struct evc__response *resp)
{
	free_header_values(f);
	if (!resp->nwant || !(f->hvals = calloc(resp->nwant, sizeof *f->hvals)))
		return;
	for (unsigned i = 0; i < resp->nwant; i++) {
		f->hvals[i] = resp->wanted[i];
		resp->wanted[i] = NULL;
	}
}

/* The exchange is over: keep what the record shows of it, let go of the
 * response. */
static void end_exchange(struct evc__fetch *f)
{
	if (f->resp && f->resp->head_done) {
		f->bytes = f->resp->body_bytes; /* what came before any failure */
		f->wire_bytes = f->resp->wire_body_bytes;
		f->http_version[0] = (char)('0' + f->resp->http_major % 10);
		f->http_version[1] = '.';
		f->http_version[2] = (char)('0' + f->resp->http_minor % 10);
		f->http_version[3] = '\0';
		f->status = f->resp->status;
		set_content_type(f, f->resp->content_type);
		set_content_encoding(f, f->resp->content_encoding);
		keep_header_values(f, f->resp);
	}
	f->resp = NULL;
}

/* Forget what this attempt's response left: the next one starts over. */
static void reset_response(struct evc__fetch *f)
{
	if (f->saving) { /* a body cut short */
		evc__sink_close(&f->sink, 1);
		f->saving = false;
	}
	f->status = 0;
	f->bytes = 0;
	f->wire_bytes = 0;
	f->http_version[0] = '\0';
	free_header_values(f);
	set_content_type(f, "");
	set_content_encoding(f, "");
}

static enum evc__verdict retry_after(struct evc__fetch *f, uint64_t wait)
{
	reset_response(f);
	f->wait_ms = wait;
	return EVC__RETRY_WAIT;
}

static enum evc__verdict fail_v(struct evc__fetch *f, evc_error_kind_t kind, bool retryable,
				const char *fmt, va_list ap)
{
	end_exchange(f);
	set_message(f, kind, fmt, ap);
	int64_t wait = retryable ? retry_wait(f, -1) : -1;
	return wait >= 0 ? retry_after(f, (uint64_t)wait) : EVC__DONE;
}

enum evc__verdict evc__fetch_fail(struct evc__fetch *f, evc_error_kind_t kind, bool retryable,
				  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum evc__verdict v = fail_v(f, kind, retryable, fmt, ap);
	va_end(ap);
	return v;
}

enum evc__verdict evc__fetch_error(struct evc__fetch *f, evc_error_kind_t kind, const char *fmt,
				   ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum evc__verdict v = fail_v(f, kind, false, fmt, ap);
	va_end(ap);
	return v;
}

/* A reused keep-alive connection that died before answering: the server
 * closed it while we were picking it. Once more on a fresh connection,
 * not counted as an attempt. */
static bool stale(struct evc__fetch *f)
{
	if (!f->reused || f->got_bytes || f->stale_retry_used)
		return false;
	f->stale_retry_used = true;
	f->attempts--;
	f->resp = NULL;
	reset_response(f);
	return true;
}

/* ---- a fetch's life -------------------------------------------------------------- */

/* Whether the text starts with "scheme://" (RFC 3986 scheme characters). */
static bool has_scheme(const char *url, size_t len)
{
	size_t i = 0;
	while (i < len && (url[i] == ' ' || url[i] == '\t'))
		i++;
	size_t start = i;
	while (i < len && ((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
			   (i > start && ((url[i] >= '0' && url[i] <= '9') || url[i] == '+' ||
					  url[i] == '-' || url[i] == '.'))))
		i++;
	return i > start && len - i >= 3 && memcmp(url + i, "://", 3) == 0;
}

int evc__fetch_init(struct evc__fetch *f, const evc_crawl_opts_t *o, const char *url, size_t len,
		    void *user)
{
	memset(f, 0, sizeof *f);
	f->o = o;
	f->user = user;
	f->sink.fd = -1;
	f->dns_ms = f->connect_ms = f->tls_ms = f->ttfb_ms = -1;
	f->retry_wait = -1;
	/* Copied whole: a NUL inside (a binary input file) is part of what the
	 * record shows, and makes the URL bad. */
	if (!(f->input = malloc(len + 1)))
		return -ENOMEM;
	memcpy(f->input, url, len);
	f->input[len] = '\0';
	f->input_len = len;
	if (o->default_scheme && len < 65536 && !has_scheme(url, len) && !memchr(url, '\0', len)) {
		/* "example.com/x": the default scheme goes before it. */
		char *full = malloc(len + 16);
		if (!full)
			return -ENOMEM;
		int n = snprintf(full, len + 16, "%s://%.*s", o->default_scheme, (int)len, url);
		f->url_rc = evc__url_parse(&f->url, full, (size_t)n);
		free(full);
		return 0;
	}
	f->url_rc = evc__url_parse(&f->url, url, len);
	return 0;
}

void evc__fetch_cleanup(struct evc__fetch *f)
{
	if (f->sink.fd >= 0) /* never reported: a half-written file goes */
		evc__sink_close(&f->sink, 1);
	free(f->sink.path);
	f->sink.path = NULL;
	f->saving = false;
	evc__url_free(&f->url);
	free(f->visited);
	free(f->message);
	free(f->input);
	free(f->content_type);
	f->content_type = NULL;
	free(f->content_encoding);
	f->content_encoding = NULL;
	free_header_values(f);
	free(f->trace_buf);
	f->trace_buf = NULL;
	for (unsigned i = 0; f->hops && i < f->redirects; i++)
		free((char *)f->hops[i].url);
	free(f->hops);
	f->hops = NULL;
	evc__fetch_set_cert(f, NULL);
	f->visited = NULL;
	f->message = NULL;
	f->input = NULL;
}

enum evc__verdict evc__fetch_attempt(struct evc__fetch *f)
{
	if (f->url_rc < 0)
		return evc__fetch_error(f, EVC_ERR_BAD_URL, "%s", evc_strerror(f->url_rc));
	if (f->o->no_clobber && f->o->output_dir && !f->attempts && !f->redirects) {
		char *path;
		if (evc__sink_exists(f->o->output_dir, &f->url, &path)) {
			set_error(f, EVC_ERR_SKIPPED, "%s exists (--no-clobber)", path);
			free(path);
			return EVC__DONE;
		}
	}
	f->attempts++;
	f->proxy = evc__proxy_pick(f->o, f->url.https, f->url.host);
	uint64_t now = evc__fetch_clock();
	if (!f->start_ns) {
		struct timespec wall;
		clock_gettime(CLOCK_REALTIME, &wall);
		f->started_at = (double)wall.tv_sec + wall.tv_nsec / 1e9;
		f->start_ns = now;
		f->deadline_ns = now + (uint64_t)f->o->timeout_ms * 1000000u;
	}
	f->resp = NULL;
	f->outcome = EVC__OUT_NONE;
	f->retry_after_s = -1;
	f->dns_ms = f->connect_ms = f->tls_ms = f->ttfb_ms = -1;
	f->remote_ip[0] = '\0'; /* this attempt's, once it has a connection */
	f->tls_version = f->tls_cipher = NULL;
	evc__fetch_set_cert(f, NULL);
	if (now >= f->deadline_ns)
		return evc__fetch_timeout(f, EVC__PHASE_WHOLE);
	return EVC__GO_ON;
}

void evc__fetch_unattempt(struct evc__fetch *f)
{
	f->attempts--;
	f->resp = NULL;
}

enum evc__verdict evc__fetch_dns_error(struct evc__fetch *f, const char *errmsg)
{
	return evc__fetch_error(f, EVC_ERR_DNS, "cannot resolve %s: %s", f->url.host,
				errmsg ? errmsg : "lookup failed");
}

/* The server did not take or answer this attempt (connect failed, timed
 * out, or went silent before a response head): the scheduler backs its key
 * off. */
static void host_failed(struct evc__fetch *f)
{
	if (f->outcome == EVC__OUT_NONE)
		f->outcome = EVC__OUT_FAILURE;
}

enum evc__verdict evc__fetch_connect_error(struct evc__fetch *f, const char *addr, int err)
{
	host_failed(f);
	if (err == -ETIMEDOUT)
		return evc__fetch_timeout(f, EVC__PHASE_CONNECT);
	struct evc__proxy px;
	const char *why;
	if (f->proxy && evc__proxy_parse(f->proxy, &px, &why) == 0)
		return evc__fetch_fail(f, EVC_ERR_PROXY, true,
				       "cannot connect to the proxy %s port %u: %s", addr, px.port,
				       evc_strerror(err ? err : -ECONNREFUSED));
	return evc__fetch_fail(f, EVC_ERR_CONNECT, true, "connect to %s port %u: %s", addr,
			       f->url.port, evc_strerror(err ? err : -ECONNREFUSED));
}

enum evc__verdict evc__fetch_proxy_error(struct evc__fetch *f, bool retryable, const char *fmt, ...)
{
	host_failed(f);
	va_list ap;
	va_start(ap, fmt);
	enum evc__verdict v = fail_v(f, EVC_ERR_PROXY, retryable, fmt, ap);
	va_end(ap);
	return v;
}

enum evc__verdict evc__fetch_tls_error(struct evc__fetch *f, const char *why, bool retryable)
{
	return evc__fetch_fail(f, EVC_ERR_TLS, retryable, "%s", why);
}

void evc__fetch_set_remote(struct evc__fetch *f, const char *addr)
{
	snprintf(f->remote_ip, sizeof f->remote_ip, "%s", addr ? addr : "");
}

void evc__fetch_tls_done(struct evc__fetch *f, double ms, const char *version, const char *cipher,
			 const char *alpn, bool resumed)
{
	f->tls_ms = ms;
	f->tls_version = version ? version : "?";
	f->tls_cipher = cipher ? cipher : "?";
	f->tls_alpn = alpn;
	f->tls_resumed = resumed;
}

void evc__fetch_set_cert(struct evc__fetch *f, struct evc__cert *cert)
{
	evc__cert_ref(cert);
	evc__cert_unref(f->cert);
	f->cert = cert;
}

enum evc__verdict evc__fetch_timeout(struct evc__fetch *f, enum evc__phase phase)
{
	const evc_crawl_opts_t *o = f->o;
	if (phase != EVC__PHASE_DNS && phase != EVC__PHASE_WHOLE)
		host_failed(f);
	switch (phase) {
	case EVC__PHASE_DNS:
		return evc__fetch_error(f, EVC_ERR_DNS, "DNS lookup of %s timed out after %u ms",
					f->url.host, o->dns_timeout_ms);
	case EVC__PHASE_CONNECT:
		if (f->proxy)
			return evc__fetch_fail(f, EVC_ERR_PROXY, true,
					       "connecting to the proxy timed out after %u ms",
					       o->connect_timeout_ms);
		return evc__fetch_fail(f, EVC_ERR_TIMEOUT, true, "connect timed out after %u ms",
				       o->connect_timeout_ms);
	case EVC__PHASE_PROXY:
		return evc__fetch_fail(f, EVC_ERR_PROXY, true,
				       "the proxy did not answer within %u ms",
				       o->connect_timeout_ms);
	case EVC__PHASE_TLS:
		return evc__fetch_fail(f, EVC_ERR_TIMEOUT, true,
				       "TLS handshake timed out after %u ms",
				       o->connect_timeout_ms);
	case EVC__PHASE_IDLE:
		return evc__fetch_fail(f, EVC_ERR_TIMEOUT, true, "no data received for %u ms",
				       o->idle_timeout_ms);
	case EVC__PHASE_WHOLE:
	default:
		return evc__fetch_error(f, EVC_ERR_TIMEOUT, "whole fetch timed out after %u ms",
					o->timeout_ms);
	}
}

/* ---- the exchange ------------------------------------------------------------ */

/* The head is complete: keep what the record shows, and decide now, once,
 * whether this response ends the fetch. Only then is its body kept (saved,
 * streamed); a redirect we follow or a response we retry is read and
 * dropped. Runs before the first body byte. Returns 0, or -EIO with the
 * message set. */
static int on_head(struct evc__fetch *f)
{
	struct evc__response *resp = f->resp;
	f->head_handled = true;
	/* Every head's cookies, a redirect's too: the next hop sends them. */
	if (f->o->cookies && resp->n_set_cookie)
		evc__cookies_store(f->o->cookies, &f->url, resp->set_cookie, resp->n_set_cookie,
				   (int64_t)time(NULL));
	f->status = resp->status;
	f->outcome =
	    resp->status == 429 || resp->status == 503 ? EVC__OUT_THROTTLE : EVC__OUT_RESPONSE;
	f->retry_after_s = resp->retry_after;
	set_content_type(f, resp->content_type);
	if (resp->status == 408 && f->reused && !f->stale_retry_used) {
		/* Most likely the server's "I am closing this idle connection",
		 * sent before our request reached it: not our answer. */
		f->stale_408 = true;
		return 0;
	}
	f->retry_wait = evc__is_retry_status(resp->status) ? retry_wait(f, resp->retry_after) : -1;
	f->final = f->retry_wait < 0 && !will_follow(f, resp->status, resp->location != NULL);
	if (f->final && f->on_head && f->on_head(f->body_arg) != 0) {
		set_error(f, EVC_ERR_IO, "stopped by the head callback");
		return -EIO;
	}
	if (f->saving || !f->final || !f->o->output_dir)
		return 0;
	if (resp->status >= 400 && (!f->o->save_errors || f->o->fail_http))
		return 0;	/* an error page is not the page: kept only when asked */
	if (f->o->no_clobber) { /* the final URL's file too (after redirects) */
		char *path;
		if (evc__sink_exists(f->o->output_dir, &f->url, &path)) {
			set_error(f, EVC_ERR_SKIPPED, "%s exists (--no-clobber)", path);
			free(path);
			f->skipped = true;
			return -EIO;
		}
	}
	int rc = evc__sink_open(&f->sink, f->o->output_dir, &f->url,
				f->o->no_clobber ? 0 : f->o->output_since);
	if (rc < 0) {
		set_error(f, EVC_ERR_IO, "cannot save body under %s: %s", f->o->output_dir,
			  evc_strerror(rc));
		return -EIO;
	}
	f->saving = true;
	return 0;
}

static int on_body(void *arg, const char *data, size_t len)
{
	struct evc__fetch *f = arg;
	if (!f->head_handled && on_head(f) < 0)
		return -EIO;
	if (f->saving) {
		int rc = evc__sink_write(&f->sink, data, len);
		if (rc < 0) {
			set_error(f, EVC_ERR_IO, "cannot write %s: %s", f->sink.path,
				  evc_strerror(rc));
			return -EIO;
		}
	}
	if (f->final && f->on_body && f->on_body(f->body_arg, data, len) != 0) {
		set_error(f, EVC_ERR_IO, "the body callback stopped the fetch");
		return -EIO;
	}
	return 0;
}

void evc__fetch_exchange(struct evc__fetch *f, struct evc__response *resp, bool reused)
{
	f->resp = resp;
	f->reused = reused;
	f->got_bytes = false;
	f->head_handled = false;
	f->final = false;
	f->retry_wait = -1;
	f->stale_408 = false;
	f->trace_len = 0;
	f->request_ns = evc__fetch_clock();
	evc__response_init(resp, strcmp(method(f), "HEAD") == 0, f->o->compressed, f->o->max_body,
			   on_body, f);
	unsigned n = 0;
	while (f->o->record_headers && f->o->record_headers[n])
		n++;
	if (evc__response_want(resp, f->o->record_headers, n) < 0)
		resp->nwant = 0; /* out of memory: the record shows them as absent */
	resp->keep_set_cookie = f->o->cookies != NULL;
}

/* Whether the user's headers set a Content-Type. */
static bool sets_content_type(const evc_crawl_opts_t *o)
{
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		if (strncasecmp(o->headers[i], "Content-Type:", 13) == 0)
			return true;
	return false;
}

size_t evc__request_cap(const evc_crawl_opts_t *o)
{
	bool proxied = o->proxy || o->http_proxy; /* the whole URL, credentials */
	return EVC__REQUEST_MAX + (o->data ? o->data_len : 0) +
	       (proxied ? EVC__URL_MAX + EVC__PROXY_AUTH_MAX : 0);
}

/*
 * The fixed block with a Cookie line added when this URL has cookies: the
 * literal ones (the cookie option's "name=value" string, with an -H Cookie
 * value merged in by the engine) first, then the jar's. Only what fits the
 * request buffer is taken from the jar. Returns a malloc'd block (*len),
 * or NULL when there is nothing to add (or no memory: sent without).
 */
static char *with_cookies(const struct evc__fetch *f, size_t cap, const char *fixed,
			  size_t fixed_len, size_t *len)
{
	const evc_crawl_opts_t *o = f->o;
	const char *lit = o->cookie && strchr(o->cookie, '=') ? o->cookie : NULL;
	size_t lit_len = lit ? strlen(lit) : 0;
	if (!lit && !o->cookies)
		return NULL;
	/* The request line, Host and Content-* take at most this beside the
	 * fixed block and the body. */
	size_t other = strlen(method(f)) + strlen(f->url.target) + strlen(f->url.host) + 400 +
		       (o->data && !f->as_get ? o->data_len : 0);
	size_t room =
	    cap > fixed_len + other + lit_len + 12 ? cap - fixed_len - other - lit_len - 12 : 0;
	/* The jar's part on the stack first: most requests of a crawl with
	 * cookies on have none, and then cost no allocation. */
	char jar[EVC__REQUEST_MAX];
	size_t jar_len = 0;
	if (o->cookies && room > 1)
		jar_len = evc__cookies_header(o->cookies, &f->url, (int64_t)time(NULL), jar,
					      room < sizeof jar ? room : sizeof jar);
	if (!lit && !jar_len)
		return NULL;
	char *b = malloc(fixed_len + 8 + lit_len + 2 + jar_len + 2);
	if (!b)
		return NULL;
	char *p = b;
	memcpy(p, fixed, fixed_len);
	p += fixed_len;
	memcpy(p, "Cookie: ", 8);
	p += 8;
	memcpy(p, lit ? lit : "", lit_len);
	p += lit_len;
	if (lit && jar_len) {
		memcpy(p, "; ", 2);
		p += 2;
	}
	memcpy(p, jar, jar_len);
	p += jar_len;
	memcpy(p, "\r\n", 2);
	*len = (size_t)(p + 2 - b);
	return b;
}

/* The request head to the trace callback (-v), the proxy's credentials
 * (auth: they are in it) starred out: a -v log gets pasted into bug reports. */
static void trace_request(const struct evc__fetch *f, const char *head, size_t len, bool auth)
{
	static const char name[] = "\r\nProxy-Authorization: Basic ";
	char *copy = auth ? malloc(len + 1) : NULL;
	if (copy) {
		memcpy(copy, head, len);
		copy[len] = '\0';
		char *p = strstr(copy, name);
		for (p = p ? p + sizeof name - 1 : NULL; p && *p && *p != '\r'; p++)
			*p = '*';
		head = copy;
	}
	f->o->trace(f->o->trace_arg, f->url.href, '>', head, len);
	free(copy);
}

int evc__fetch_request(struct evc__fetch *f, char *buf, size_t cap, const char *fixed,
		       size_t fixed_len)
{
	const evc_crawl_opts_t *o = f->o;
	size_t cookied_len = 0; /* the fixed block with a Cookie line, when one is due */
	char *cookied = with_cookies(f, cap, fixed, fixed_len, &cookied_len);
	if (cookied) {
		fixed = cookied;
		fixed_len = cookied_len;
	}
	bool body = o->data && !f->as_get;
	struct evc__request_extra x = {
	    .body = body ? o->data : NULL,
	    .body_len = body ? o->data_len : 0,
	    .ctype = body && !sets_content_type(o) ? "application/x-www-form-urlencoded" : NULL,
	};
	/* A plain http URL through an HTTP proxy: the request goes to the
	 * proxy, naming the whole URL, with the proxy's credentials. (Through
	 * a tunnel the request is the origin's, as without a proxy.) */
	struct evc__proxy px;
	const char *why;
	char auth[EVC__PROXY_AUTH_MAX];
	if (f->proxy && !f->url.https && evc__proxy_parse(f->proxy, &px, &why) == 0 &&
	    px.kind == EVC__PROXY_HTTP) {
		x.absolute = true;
		if (evc__proxy_auth_header(&px, auth, sizeof auth) > 0)
			x.lines = auth;
	}
	int len = evc__request_build(buf, cap, method(f), &f->url, fixed, fixed_len, &x);
	if (len > 0 && o->trace)
		trace_request(f, buf, (size_t)len - (body ? o->data_len : 0), x.lines != NULL);
	free(cookied);
	if (len < 0)
		evc__fetch_error(f, EVC_ERR_BAD_URL, "request line and headers exceed %zu bytes",
				 cap);
	return len;
}

/*
 * "http:///host/x": one slash too many, which browsers (the WHATWG URL
 * parser) and curl read as "http://host/x". Four or more stay bad. Returns
 * location, or the mended copy (also in *mended, for the caller to free).
 */
static const char *mend_slashes(const char *location, char **mended)
{
	*mended = NULL;
	const char *p = strstr(location, ":///");
	size_t scheme = p ? (size_t)(p - location) : 0;
	if (!p ||
	    !((scheme == 4 && !strncasecmp(location, "http", 4)) ||
	      (scheme == 5 && !strncasecmp(location, "https", 5))) ||
	    !p[4] || p[4] == '/')
		return location;
	size_t n = strlen(location);
	if (!(*mended = malloc(n)))
		return location;
	memcpy(*mended, location, scheme + 3);			 /* "http://" */
	memcpy(*mended + scheme + 3, p + 4, n - scheme - 4 + 1); /* the rest, NUL too */
	return *mended;
}

/* Follow the response's Location: FOLLOW with f->url replaced, or DONE
 * (too many, a loop, a bad or non-http(s) target). */
static enum evc__verdict follow(struct evc__fetch *f, const char *location)
{
	const evc_crawl_opts_t *o = f->o;
	if (f->redirects >= o->max_redirects)
		return evc__fetch_error(f, EVC_ERR_REDIRECT, "too many redirects (more than %u)",
					o->max_redirects);
	if (!f->visited && !(f->visited = calloc(o->max_redirects + 1, sizeof *f->visited)))
		return evc__fetch_error(f, EVC_ERR_IO, "out of memory");
	struct evc__url next;
	char *mended;
	const char *loc = mend_slashes(location, &mended);
	int rc = evc__url_resolve(&next, &f->url, loc, strlen(loc));
	free(mended);
	if (rc == -ENOMEM)
		return evc__fetch_error(f, EVC_ERR_IO, "out of memory");
	if (rc < 0)
		return evc__fetch_error(f, EVC_ERR_REDIRECT, "%s redirect to %.200s",
					rc == EVC_EREDIRECT ? "unsupported" : "bad", location);
	evc_hop_t *hops = realloc(f->hops, (f->redirects + 1) * sizeof *hops);
	char *from = strdup(f->url.href);
	if (!hops || !from) {
		free(from);
		if (hops)
			f->hops = hops;
		evc__url_free(&next);
		return evc__fetch_error(f, EVC_ERR_IO, "out of memory");
	}
	f->hops = hops;
	hops[f->redirects] = (evc_hop_t){.url = from, .status = f->status};
	uint64_t there = evc__hash64(next.href, strlen(next.href));
	f->visited[f->redirects++] = evc__hash64(f->url.href, strlen(f->url.href));
	for (unsigned i = 0; i < f->redirects; i++) {
		if (f->visited[i] == there) {
			evc__url_free(&next);
			return evc__fetch_error(f, EVC_ERR_REDIRECT, "redirect loop at %.200s",
						location);
		}
	}
	evc__url_free(&f->url);
	f->url = next;
	f->attempts = 0; /* attempts count the tries of the current URL */
	f->stale_retry_used = false;
	reset_response(f);
	return EVC__FOLLOW;
}

/* The response is complete: follow, retry, or done. */
static enum evc__verdict complete(struct evc__fetch *f)
{
	struct evc__response *resp = f->resp;
	int status = resp->status;
	int64_t wait = f->retry_wait;
	if (f->stale_408) { /* once more on a new connection, as for a close */
		f->stale_408 = false;
		f->got_bytes = false;
		f->resp = NULL;
		if (stale(f))
			return EVC__RETRY_FRESH;
	}
	end_exchange(f);
	f->error = EVC_OK;
	free(f->message);
	f->message = NULL;
	if (evc__is_redirect(status) && resp->location) {
		/* The location belongs to resp, which the engine may reuse once
		 * we return: follow it now. A 301/302/303 turns a POST into a
		 * GET without body, as browsers do; 307/308 keep both. */
		if (status == 301 || status == 302 || status == 303)
			f->as_get = f->as_get || strcmp(method(f), "GET") != 0;
		return follow(f, resp->location);
	}
	if (wait >= 0)
		return retry_after(f, (uint64_t)wait);
	struct evc__proxy px;
	const char *why;
	if (status == 407 && f->proxy && !f->url.https &&
	    evc__proxy_parse(f->proxy, &px, &why) == 0 && px.kind == EVC__PROXY_HTTP) {
		/* Only a proxy asks for its credentials (an origin's 407 would
		 * mean nothing): the request went to an HTTP proxy, which
		 * refused it. */
		bool auth = px.auth;
		set_error(f, EVC_ERR_PROXY,
			  auth ? "the proxy refused the credentials (407)"
			       : "the proxy wants credentials (407): give them in the proxy URL, "
				 "http://USER:PASSWORD@HOST:PORT");
		return EVC__DONE;
	}
	if (f->o->fail_http && status >= 400) {
		set_error(f, EVC_ERR_HTTP, "HTTP %d", status);
		return EVC__DONE;
	}
	return EVC__DONE;
}

/*
 * Where the heads in buf end: past each "HTTP/x.y 1xx" interim head to the
 * blank line of the final one. 0 while it has not all arrived.
 */
static size_t heads_end(const char *buf, size_t len)
{
	size_t at = 0;
	while (at < len) {
		const char *p = buf + at, *end = NULL;
		for (size_t i = 0; i + 1 < len - at && !end; i++)
			if (p[i] == '\n' &&
			    (p[i + 1] == '\n' ||
			     (p[i + 1] == '\r' && i + 2 < len - at && p[i + 2] == '\n')))
				end = p + i + (p[i + 1] == '\n' ? 2 : 3);
		if (!end)
			return 0;
		bool interim = len - at > 9 && p[9] == '1';
		at = (size_t)(end - buf);
		if (!interim)
			return at;
	}
	return 0;
}

/* -v: the response head(s), once whole (at most 64 KiB + one read). */
static void trace_response(struct evc__fetch *f, const char *data, size_t len)
{
	if (f->trace_len > EVC_MAX_HEAD)
		return;
	char *b = realloc(f->trace_buf, f->trace_len + len);
	if (!b)
		return;
	memcpy(b + f->trace_len, data, len);
	f->trace_buf = b;
	f->trace_len += len;
	size_t end = f->resp->head_done ? heads_end(b, f->trace_len) : 0;
	if (f->resp->head_done || f->resp->error) {
		f->o->trace(f->o->trace_arg, f->url.href, '<', b, end ? end : f->trace_len);
		f->trace_len = EVC_MAX_HEAD + 1; /* done with this exchange */
	}
}

/*
 * Whether what broke the exchange before a whole head came is the proxy's:
 * an HTTP proxy carrying a plain request always answers in HTTP of its own
 * (a 502 when the origin fails it), so bytes that are not HTTP, or a close
 * before the head, are the proxy's doing.
 */
static bool proxy_answers(const struct evc__fetch *f)
{
	struct evc__proxy px;
	const char *why;
	return f->proxy && !f->url.https && !f->head_handled &&
	       evc__proxy_parse(f->proxy, &px, &why) == 0 && px.kind == EVC__PROXY_HTTP;
}

enum evc__verdict evc__fetch_feed(struct evc__fetch *f, const char *data, size_t len)
{
	struct evc__response *resp = f->resp;
	bool tracing = f->o->trace && f->trace_len <= EVC_MAX_HEAD;
	if (!f->got_bytes) {
		f->got_bytes = true;
		f->ttfb_ms = (double)(evc__fetch_clock() - f->request_ns) / 1e6;
	}
	int rc = evc__response_feed(resp, data, len, NULL);
	if (tracing)
		trace_response(f, data, len);
	if (resp->head_done && !f->head_handled && rc >= 0 && on_head(f) < 0)
		rc = -EIO;
	if (rc == 1)
		return complete(f);
	if (rc == 0)
		return EVC__GO_ON;
	if (rc == EVC_ETOOLARGE)
		return evc__fetch_error(f, EVC_ERR_TOO_LARGE, "body larger than %llu bytes",
					(unsigned long long)f->o->max_body);
	if (rc == -EIO)
		return evc__fetch_error(f, f->skipped ? EVC_ERR_SKIPPED : EVC_ERR_IO, "%s",
					f->message ? f->message : "write error");
	const char *why = resp->error_msg ? resp->error_msg : evc_strerror(rc);
	if (proxy_answers(f))
		return evc__fetch_error(f, EVC_ERR_PROXY, "the HTTP proxy's answer: %s", why);
	return evc__fetch_error(f, EVC_ERR_PROTOCOL, "%s", why);
}

enum evc__verdict evc__fetch_eof(struct evc__fetch *f)
{
	struct evc__response *resp = f->resp;
	if (evc__response_eof(resp) == 1) {
		if (resp->head_done && !f->head_handled && on_head(f) < 0)
			return evc__fetch_error(f, f->skipped ? EVC_ERR_SKIPPED : EVC_ERR_IO, "%s",
						f->message);
		return complete(f);
	}
	if (stale(f))
		return EVC__RETRY_FRESH;
	/* Cut short. A body already being saved is not fetched again. */
	if (proxy_answers(f))
		return evc__fetch_fail(
		    f, EVC_ERR_PROXY, true, "the HTTP proxy closed the connection %s",
		    f->got_bytes ? "in the middle of its answer's head" : "without answering");
	return evc__fetch_fail(f, EVC_ERR_PROTOCOL, !f->saving, "%s",
			       resp->error_msg
				   ? resp->error_msg
				   : "connection closed before the response was complete");
}

enum evc__verdict evc__fetch_io_error(struct evc__fetch *f, const char *op, int err)
{
	if (stale(f))
		return EVC__RETRY_FRESH;
	return evc__fetch_fail(f, EVC_ERR_IO, true, "%s: %s", op, evc_strerror(err));
}

void evc__fetch_result(struct evc__fetch *f, evc_result_t *r)
{
	end_exchange(f);
	bool saved = false;
	if (f->saving) {
		int rc = evc__sink_close(&f->sink, f->error != EVC_OK);
		if (rc < 0 && f->error == EVC_OK) {
			set_error(f, EVC_ERR_IO, "cannot write %s: %s", f->sink.path,
				  evc_strerror(rc));
			evc__sink_close(&f->sink, 1);
		}
		saved = f->error == EVC_OK;
		f->saving = false; /* the file is the record's now: nothing may discard it */
	}
	*r = (evc_result_t){
	    .url = f->input ? f->input : "",
	    .url_len = f->input ? f->input_len : 0,
	    .final_url = f->url_rc == 0 ? f->url.href : NULL,
	    .status = f->status,
	    .bytes = f->bytes,
	    .content_type = f->content_type,
	    .content_encoding = f->content_encoding,
	    .redirects = (int)f->redirects,
	    .attempts = (int)f->attempts,
	    .dns_ms = f->dns_ms,
	    .connect_ms = f->connect_ms,
	    .tls_ms = f->tls_ms,
	    .ttfb_ms = f->ttfb_ms,
	    .total_ms = f->start_ns ? (double)(evc__fetch_clock() - f->start_ns) / 1e6 : 0,
	    .error = f->error,
	    .error_message = f->error != EVC_OK ? f->message : NULL,
	    .saved = saved ? f->sink.path : NULL,
	    .user = f->user,
	    .tls_version = f->tls_version,
	    .tls_cipher = f->tls_cipher,
	    .tls_alpn = f->tls_version ? f->tls_alpn : NULL,
	    .tls_resumed = f->tls_version ? f->tls_resumed : -1,
	    .cert = f->cert ? &f->cert->info : NULL,
	    .remote_ip = f->remote_ip[0] ? f->remote_ip : NULL,
	    .http_version = f->http_version[0] ? f->http_version : NULL,
	    .redirect_chain = f->redirects ? f->hops : NULL,
	    .wire_bytes = f->wire_bytes,
	    .started_at = f->started_at,
	    .header_names = f->o->record_headers,
	    .header_values = f->o->record_headers ? (const char *const *)f->hvals : NULL,
	};
}
