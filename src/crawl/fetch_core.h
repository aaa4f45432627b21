/*
 * The fetch core: everything one URL's fetch decides, with no I/O in it.
 *
 * Every engine (the event-loop crawler, the blocking fetcher, and any later
 * one) owns the sockets and the waiting; this core owns the policy. An
 * engine tells it what happened and does what the returned verdict says:
 *
 *   evc__fetch_init(url)        once, when the URL is taken
 *   evc__fetch_attempt()        before each attempt        -> GO_ON | DONE
 *   (the engine resolves and connects; failures go to evc__fetch_dns_error,
 *    evc__fetch_connect_error, evc__fetch_timeout: -> RETRY_WAIT | DONE)
 *   evc__fetch_exchange(resp)   before sending a request
 *   evc__fetch_feed(bytes)      for bytes received   -> GO_ON | DONE | FOLLOW | RETRY_WAIT
 *   evc__fetch_eof()            when the peer closed -> DONE | FOLLOW | RETRY_*
 *   evc__fetch_io_error(), evc__fetch_timeout()      -> RETRY_FRESH | RETRY_WAIT | DONE
 *   evc__fetch_result()         once the verdict is DONE: the record
 *   evc__fetch_cleanup()
 *
 * Verdicts:
 *   GO_ON        nothing decided; carry on (read more, connect, send).
 *   DONE         the fetch is over, successful or not: report it.
 *   FOLLOW       a redirect was taken: f->url is the target now (maybe on
 *                another host); start a new attempt there.
 *   RETRY_FRESH  a reused keep-alive connection died before a byte of the
 *                response came (the server closed it as we picked it):
 *                try again at once on a new connection. Not counted as an
 *                attempt; happens once per URL.
 *   RETRY_WAIT   try again after f->wait_ms (backoff or Retry-After).
 *
 * After any verdict but GO_ON the exchange is over: the core has let go of
 * the response (the engine may reuse or free it) and has reset what the
 * next attempt starts afresh (status, bytes, a half-written body file).
 * Whether the connection may be reused is the engine's call, from
 * resp->complete && resp->keep_alive.
 *
 * Time comes from evc__fetch_clock (evc_hrtime by default; tests replace
 * it to script deadlines).
 */
#ifndef EVC_FETCH_CORE_H
#define EVC_FETCH_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawl/polite.h"
#include "crawl/sink.h"
#include "evcrawl/fetch.h"
#include "http/response.h"
#include "net/stream.h"
#include "util/url.h"

enum evc__verdict {
	EVC__GO_ON,
	EVC__DONE,
	EVC__FOLLOW,
	EVC__RETRY_FRESH,
	EVC__RETRY_WAIT,
};

/* Which deadline passed, for evc__fetch_timeout. */
enum evc__phase {
	EVC__PHASE_DNS,	    /* one lookup: kind dns, not retried */
	EVC__PHASE_CONNECT, /* TCP connect: kind timeout, retried */
	EVC__PHASE_TLS,	    /* the TLS handshake (connect_timeout): kind timeout, retried */
	EVC__PHASE_IDLE,    /* no byte for idle_timeout: kind timeout, retried */
	EVC__PHASE_WHOLE,   /* the whole fetch: kind timeout, final */
	EVC__PHASE_PROXY,   /* the proxy's handshake (connect_timeout): kind proxy, retried */
};

/* The final response's body as it streams (decoded); non-zero stops the
 * fetch with kind io. */
typedef int (*evc__fetch_body_cb)(void *arg, const char *data, size_t len);

struct evc__fetch {
	const evc_crawl_opts_t *o; /* not owned; outlives the fetch */
	char *input;		   /* the URL as given (NUL bytes and all) */
	size_t input_len;
	void *user;
	struct evc__url url; /* the current URL (after redirects) */
	int url_rc;	     /* 0, or why the input is not a URL */

	/* The proxy the current URL goes through (a string of o's), or NULL:
	 * chosen by each attempt, since a redirect may change scheme or host. */
	const char *proxy;

	unsigned attempts, redirects;
	uint64_t *visited; /* hashes of URLs redirected from (allocated on the first) */
	bool stale_retry_used;
	bool as_get; /* a 301/302/303 turned the POST (or other) into a GET */

	/* What the record shows. Times in ms, -1 when the phase did not
	 * happen; the engine sets dns_ms, connect_ms and tls_ms. */
	int status;
	uint64_t bytes;
	char *content_type;	/* malloc'd, NULL when absent: a queued URL holds none */
	char *content_encoding; /* the same for Content-Encoding */
	char remote_ip[48];	/* "" until a connection is made */
	char http_version[4];	/* "1.1" once a head came */
	uint64_t wire_bytes;
	double started_at; /* Unix time of the first attempt */
	evc_hop_t *hops;   /* redirects followed (urls malloc'd), `redirects` of them */
	char **hvals;	   /* record_headers' values (malloc'd), NULL until a head */
	char *trace_buf;   /* with o->trace: the response head so far */
	size_t trace_len;
	double dns_ms, connect_ms, tls_ms, ttfb_ms;
	uint64_t start_ns, deadline_ns;	      /* set by the first attempt */
	const char *tls_version, *tls_cipher; /* static; NULL: no TLS */
	const char *tls_alpn;		      /* static; NULL when none was agreed */
	bool tls_resumed;
	struct evc__cert *cert; /* with cert_info; a reference */
	evc_error_kind_t error;
	char *message;	  /* malloc'd; NULL when none */
	uint64_t wait_ms; /* with RETRY_WAIT */

	/* What the last attempt says about its server, for the scheduler's
	 * politeness (polite.h); reset by evc__fetch_attempt. */
	enum evc__outcome outcome;
	int retry_after_s; /* a 429/503's Retry-After in s; -1: none */

	/* The current exchange. */
	struct evc__response *resp; /* NULL between exchanges */
	uint64_t request_ns;
	bool reused;	    /* on a connection that served a response before */
	bool got_bytes;	    /* a byte of the response arrived */
	bool head_handled;  /* the head decision was made */
	bool final;	    /* this response ends the fetch: its body is kept */
	bool stale_408;	    /* a 408 on a reused connection: retried on a new one */
	bool skipped;	    /* no_clobber found the final URL's file: kind skipped */
	int64_t retry_wait; /* >= 0: this response is retried after that many ms */

	struct evc__file_sink sink;
	bool saving;
	evc__fetch_body_cb on_body;
	void *body_arg;
	/* The final response's head arrived (before its body); non-zero stops
	 * the fetch with kind io. Its arg is body_arg. */
	int (*on_head)(void *arg);
};

/* The core's clock in ns (monotonic). */
extern uint64_t (*evc__fetch_clock)(void);

/**
 * Take a URL: copy the input, parse it (a bad URL is not an error here: its
 * first evc__fetch_attempt says DONE with kind bad_url). o must outlive f.
 * Returns 0 or -ENOMEM (f is then empty and safe to clean up).
 */
int evc__fetch_init(struct evc__fetch *f, const evc_crawl_opts_t *o, const char *url, size_t len,
		    void *user);

/** Free what f holds; a body file still open is removed. */
void evc__fetch_cleanup(struct evc__fetch *f);

/**
 * An attempt begins: counts it, starts the whole-fetch clock on the first,
 * and checks that one can be made (a good URL, time left). GO_ON or DONE.
 */
enum evc__verdict evc__fetch_attempt(struct evc__fetch *f);

/** The engine could not start this attempt after all (out of descriptors):
 * it does not count; it will be made again. */
void evc__fetch_unattempt(struct evc__fetch *f);

/** The name lookup failed (errmsg says why): DONE, kind dns. */
enum evc__verdict evc__fetch_dns_error(struct evc__fetch *f, const char *errmsg);

/** No address of the host took the connection: err (-errno) from the last
 * one tried, at addr (text). RETRY_WAIT or DONE, kind connect (timeout for
 * -ETIMEDOUT); kind proxy when f->proxy is set (the host was the proxy). */
enum evc__verdict evc__fetch_connect_error(struct evc__fetch *f, const char *addr, int err);

/**
 * The TLS handshake failed: why, and whether it may pass (a reset) or is
 * the server's verdict (a certificate, a protocol). RETRY_WAIT or DONE,
 * kind tls.
 */
enum evc__verdict evc__fetch_tls_error(struct evc__fetch *f, const char *why, bool retryable);

/** The TLS handshake is done: what the record shows of it. */
/** The connection the current attempt goes over is to addr (its text). */
void evc__fetch_set_remote(struct evc__fetch *f, const char *addr);

void evc__fetch_tls_done(struct evc__fetch *f, double ms, const char *version, const char *cipher,
			 const char *alpn, bool resumed);

/** The server's certificate for the record (cert_info): a reference is
 * taken; NULL is fine. */
void evc__fetch_set_cert(struct evc__fetch *f, struct evc__cert *cert);

/**
 * The proxy failed this attempt (a lookup of its name, its handshake):
 * why, and whether another attempt may fare better. RETRY_WAIT or DONE,
 * kind proxy.
 */
enum evc__verdict evc__fetch_proxy_error(struct evc__fetch *f, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** A deadline passed (see enum evc__phase). */
enum evc__verdict evc__fetch_timeout(struct evc__fetch *f, enum evc__phase phase);

/**
 * A request is about to go out on a connection. resp is (re)initialised
 * here for its response and stays the engine's; reused says whether the
 * connection served a response before (a failure before the first byte of
 * the answer then gets RETRY_FRESH).
 */
void evc__fetch_exchange(struct evc__fetch *f, struct evc__response *resp, bool reused);

/** The request buffer an engine needs for these options: the head's room
 * plus the body's. */
size_t evc__request_cap(const evc_crawl_opts_t *o);

/**
 * Write the request for the current URL into buf (cap bytes). Returns its
 * length, or -1 with the fetch ended (kind bad_url): the caller reports it.
 */
int evc__fetch_request(struct evc__fetch *f, char *buf, size_t cap, const char *fixed,
		       size_t fixed_len);

/** Bytes of the response arrived. */
enum evc__verdict evc__fetch_feed(struct evc__fetch *f, const char *data, size_t len);

/** The peer closed the connection. */
enum evc__verdict evc__fetch_eof(struct evc__fetch *f);

/** Sending or receiving failed with err (-errno); op is "send" or "recv". */
enum evc__verdict evc__fetch_io_error(struct evc__fetch *f, const char *op, int err);

/**
 * Any other failure of this attempt: retried when retryable and allowed,
 * else final. RETRY_WAIT or DONE.
 */
enum evc__verdict evc__fetch_fail(struct evc__fetch *f, evc_error_kind_t kind, bool retryable,
				  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** End the fetch with this error, whatever else: DONE. */
enum evc__verdict evc__fetch_error(struct evc__fetch *f, evc_error_kind_t kind, const char *fmt,
				   ...) __attribute__((format(printf, 3, 4)));

/**
 * Fill r with the record (closes a body file, removing it on error). r's
 * strings point into f: valid until evc__fetch_cleanup.
 */
void evc__fetch_result(struct evc__fetch *f, evc_result_t *r);

/* ---- policy (exported for the unit tests) -------------------------------- */

bool evc__is_redirect(int status);
bool evc__is_retry_status(int status);

/**
 * How long to wait before attempt number `attempt` + 1: retry_base_ms
 * doubled per attempt with 50-100 % jitter, or Retry-After when given
 * (retry_after_s >= 0), capped at retry_max_wait_ms.
 */
uint64_t evc__backoff_ms(const evc_crawl_opts_t *o, unsigned attempt, int retry_after_s);

#endif
