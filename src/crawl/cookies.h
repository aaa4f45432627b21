/*
 * The cookie store (RFC 6265 and the parts of its successor, RFC 6265bis,
 * that a crawler needs): the jar behind include/evcrawl/cookies.h, and the
 * two calls the fetch core makes on it:
 *
 *   evc__cookies_store()   every response head (redirects and retried
 *                          answers too): its Set-Cookie values
 *   evc__cookies_header()  every request: the Cookie header's value
 *
 * Rules, as a browser (and curl) applies them:
 *   - Set-Cookie: "name=value" then attributes; a string without '=' or
 *     with an empty name is ignored. Max-Age wins over Expires (dates read
 *     by RFC 6265 5.1.1); neither: a session cookie (kept for the crawl,
 *     written to a jar file with expiry 0). An expiry in the past deletes
 *     the cookie of that name, domain and path.
 *   - Domain: its leading '.' dropped; it must domain-match the request's
 *     host (an IP address only matches itself), and a public suffix (com,
 *     co.uk; libpsl) is refused unless it is the host itself, which then
 *     gets a host-only cookie. No Domain: host-only (sent to that host
 *     only, not its subdomains).
 *   - Path: as given when it starts with '/', else the default path (the
 *     request path up to its last '/').
 *   - Secure: sent over https only, and not settable over http (RFC 6265bis:
 *     an http response may not set, or overwrite, a secure cookie). The
 *     "__Secure-" and "__Host-" name prefixes are enforced too.
 *   - HttpOnly: kept and written (#HttpOnly_); a crawler has no scripts.
 *   - The Cookie header: longest path first, then the oldest first.
 *   - Limits (cookies.h in include/evcrawl): name and value at most 4096
 *     bytes, an attribute value at most 1024 (else the attribute is
 *     ignored), 50 cookies per domain and 3000 in all: a new cookie makes
 *     room by dropping expired ones, then the oldest.
 *
 * Time is Unix seconds handed in by the caller (the unit tests script it).
 */
#ifndef EVC_COOKIES_H
#define EVC_COOKIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evcrawl/cookies.h"
#include "util/url.h"

#define EVC__COOKIE_MAX		     4096 /* name + value */
#define EVC__COOKIE_ATTR_MAX	     1024 /* one attribute's value */
#define EVC__COOKIES_PER_DOMAIN	     50	  /* cookies of one domain */
#define EVC__COOKIES_MAX	     3000 /* cookies in a jar */
#define EVC__SET_COOKIE_PER_RESPONSE 50	  /* Set-Cookie headers a response may have kept */

/* Why a Set-Cookie was not stored (evc__cookies_set). */
enum {
	EVC__COOKIE_STORED = 0,	  /* stored (or replaced) */
	EVC__COOKIE_DELETED = 1,  /* its expiry is past: the cookie it names is gone */
	EVC__COOKIE_BAD = -1,	  /* not name=value, empty name, control characters */
	EVC__COOKIE_TOO_BIG = -2, /* name and value longer than EVC__COOKIE_MAX */
	EVC__COOKIE_DOMAIN = -3,  /* Domain does not match the host, or is a public suffix */
	EVC__COOKIE_SECURE = -4,  /* Secure (or a prefix that needs it) over http */
	EVC__COOKIE_NOMEM = -5,
};

/**
 * Store one Set-Cookie value (len bytes) received from the URL u at time
 * now. Returns one of the codes above. Thread-safe (the jar's lock).
 */
int evc__cookies_set(evc_cookie_jar_t *jar, const struct evc__url *u, const char *value, size_t len,
		     int64_t now);

/**
 * Store a response's Set-Cookie values: n NUL-terminated strings back to
 * back in list (struct evc__response's set_cookie). Returns how many were
 * stored or deleted.
 */
unsigned evc__cookies_store(evc_cookie_jar_t *jar, const struct evc__url *u, const char *list,
			    unsigned n, int64_t now);

/**
 * The cookies to send to u at time now, as a Cookie header's value
 * ("a=1; b=2"), written at out (cap bytes, NUL-terminated). Cookies that do
 * not fit are left out. Expired cookies met on the way are dropped.
 * Returns the length (0: none).
 */
size_t evc__cookies_header(evc_cookie_jar_t *jar, const struct evc__url *u, int64_t now, char *out,
			   size_t cap);

/* ---- the rules, exported for the unit tests ------------------------------- */

/** RFC 6265 5.1.1: a cookie date (len bytes) as Unix time in *out; false
 * when it is not one (or names a day that does not exist). */
bool evc__cookie_date(const char *s, size_t len, int64_t *out);

/** RFC 6265 5.1.3: whether host (lower-case) domain-matches domain (lower-case). */
bool evc__cookie_domain_match(const char *host, const char *domain);

/** RFC 6265 5.1.4: whether the request path path-matches the cookie path. */
bool evc__cookie_path_match(const char *req_path, size_t req_len, const char *cookie_path);

/** RFC 6265 5.1.4: the default path for a request target (its path part)
 * into out (cap bytes). Returns its length. */
size_t evc__cookie_default_path(const char *target, char *out, size_t cap);

#endif
