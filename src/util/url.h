/*
 * URLs as the crawler needs them: parsed with uriparser (RFC 3986), checked
 * to be http or https, normalised, split into the parts a request needs.
 * Redirect targets are resolved against the current URL the same way.
 */
#ifndef EVC_URL_H
#define EVC_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVC__URL_MAX 8192 /* longest input or href accepted, like common servers */

struct evc__url {
	char *buf;	    /* one allocation holding every string below */
	const char *scheme; /* "http" or "https" */
	const char *host;   /* lower-case; an IPv6 literal without brackets */
	const char *target; /* request target: path and "?query"; "/" at least */
	const char *href;   /* the whole normalised URL, without fragment */
	uint16_t port;	    /* explicit, else 80 or 443 */
	bool https;
	bool default_port; /* port is the scheme's default */
	bool ipv6;	   /* host is an IPv6 literal */
};

/**
 * Parse an absolute http(s) URL (leading/trailing ASCII whitespace ignored).
 * On success fills *u (free with evc__url_free) and returns 0. Returns
 * EVC_EBADURL for anything else: not a URL, relative, another scheme, no
 * host, bad port (0 or > 65535), userinfo, control characters or spaces
 * inside; -ENOMEM. On failure *u is left empty (safe to free).
 */
int evc__url_parse(struct evc__url *u, const char *text, size_t len);

/**
 * Resolve a redirect's Location (absolute or relative) against base, as a
 * browser would. Returns 0 and fills *out, EVC_EREDIRECT when the result is
 * not http(s) (e.g. ftp:, mailto:), EVC_EBADURL when it cannot be parsed,
 * or -ENOMEM. The fragment is dropped.
 */
int evc__url_resolve(struct evc__url *out, const struct evc__url *base, const char *ref,
		     size_t len);

/** Free what evc__url_parse/resolve allocated; leaves *u empty. */
void evc__url_free(struct evc__url *u);

/**
 * The Host header value: host, with brackets for IPv6, and ":port" only when
 * the port is not the scheme's default. Returns the length written (NUL
 * terminated), or the length needed if it is >= cap.
 */
size_t evc__url_host_header(const struct evc__url *u, char *out, size_t cap);

/**
 * A relative file path under which to save this URL's body: "HOST[_PORT]/"
 * followed by the path's segments, with "index.html" for a path ending in
 * "/", and "?query" appended to the last segment as "@query". Made safe:
 * no ".." or "." segments, never absolute, no control characters, '/' only
 * as separator, '\\' and other unsafe bytes percent-encoded, each segment at
 * most 200 bytes and the whole at most 1000 (longer ones are cut and get a
 * "~" + 8 hex digits hash of the full URL, so distinct URLs stay distinct).
 * Returns the length (NUL terminated) or -ENAMETOOLONG if cap is too small.
 */
int evc__url_save_path(const struct evc__url *u, char *out, size_t cap);

/** 64-bit FNV-1a hash of a string (used for loop detection and names). */
uint64_t evc__hash64(const char *s, size_t len);

#endif
