/*
 * A cookie jar (RFC 6265): what Set-Cookie headers stored, sent back in a
 * Cookie header to the URLs they match, read from and written to the
 * Netscape cookie file that curl and wget use.
 *
 * Engines keep cookies only when asked (options.h): `cookie` naming a file
 * or `cookie_jar` makes an engine keep its own jar, loaded from that file
 * and written to `cookie_jar` when the engine is freed. To share one jar
 * between several engines (the threads of `evcrawl --mode threads`, a
 * crawler and a fetcher), make it here and hand it to each in `cookies`:
 *
 *     evc_cookie_jar_t *jar;
 *     evc_cookie_jar_new(&jar);
 *     evc_cookie_jar_load(jar, "cookies.txt", NULL);   (when it exists)
 *     opts.cookies = jar;          ... crawl with one or more engines ...
 *     evc_cookie_jar_save(jar, "cookies.txt");
 *     evc_cookie_jar_free(jar);    (after the engines that use it)
 *
 * A jar may be used from several threads at once (it has a lock). Limits,
 * so that no server can grow it without bound: a cookie's name and value
 * at most 4096 bytes together, 50 cookies per domain, 3000 in all (the
 * oldest make room), 50 Set-Cookie headers per response.
 */
#ifndef EVCRAWL_COOKIES_H
#define EVCRAWL_COOKIES_H

#include <stddef.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evc_cookie_jar evc_cookie_jar_t;

/** An empty jar in *out. 0 or -ENOMEM. */
EVC_API int evc_cookie_jar_new(evc_cookie_jar_t **out);

/** Free the jar and its cookies (NULL is fine). No engine may use it any more. */
EVC_API void evc_cookie_jar_free(evc_cookie_jar_t *jar);

/**
 * Add the cookies of a Netscape cookie file (curl's -c, wget's
 * --save-cookies): "# Netscape HTTP Cookie File", then one cookie a line,
 * seven tab-separated fields: domain, include-subdomains (TRUE/FALSE),
 * path, secure (TRUE/FALSE), expiry (Unix time; 0: a session cookie), name,
 * value. "#HttpOnly_" before the domain marks an HttpOnly cookie; other
 * lines starting with '#', and blank lines, are comments. Lines that are
 * not cookies are skipped and counted in *bad (may be NULL); expired
 * cookies are dropped. Returns 0, or a negative errno from opening or
 * reading the file (-ENOENT when it does not exist).
 */
EVC_API int evc_cookie_jar_load(evc_cookie_jar_t *jar, const char *path, unsigned *bad);

/**
 * Write every cookie that has not expired, session cookies included (with
 * expiry 0, as curl does), to path in the same format, oldest first. The
 * file is written aside (mode 0600: cookies are credentials) and renamed
 * over path once whole, so a reader never sees half a jar. 0 or -errno.
 */
EVC_API int evc_cookie_jar_save(evc_cookie_jar_t *jar, const char *path);

/** How many cookies the jar holds (expired ones not yet dropped included). */
EVC_API size_t evc_cookie_jar_count(evc_cookie_jar_t *jar);

#ifdef __cplusplus
}
#endif
#endif
