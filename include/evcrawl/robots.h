/*
 * robots.txt (RFC 9309): parse one, and ask whether a URL may be fetched.
 *
 * The crawler uses this itself with the robots option (options.h); it is
 * public so that programs can answer "may I fetch this URL" the same way:
 *
 *     evc_robots_t *r;
 *     if (evc_robots_parse(&r, body, len, "evcrawl") == 0) {
 *         bool ok = evc_robots_allowed(r, "/private/x?y=1");
 *         evc_robots_free(r);
 *     }
 *
 * The group for the product token (case-insensitive), else the "*" group,
 * applies; several groups for one agent are merged. The longest matching
 * rule decides (an allow wins a tie); "*" matches any run of characters and
 * a final "$" anchors the end; percent-encoding is compared normalised
 * (RFC 9309 section 2.2.2: "%7E" and "~" are the same, "ツ" and "%E3%83%84"
 * too). /robots.txt itself is always allowed. A UTF-8 BOM, CRLF or CR line
 * ends, comments, and lines it cannot read are taken in stride.
 */
#ifndef EVCRAWL_ROBOTS_H
#define EVCRAWL_ROBOTS_H

#include <stdbool.h>
#include <stddef.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* At most this much of a robots.txt is parsed (RFC 9309 asks for at least
 * 500 KiB); the rest is ignored. */
#define EVC_ROBOTS_MAX_BYTES (500 * 1024)

typedef struct evc_robots evc_robots_t;

/**
 * Parse len bytes of a robots.txt for the crawler whose product token is
 * agent ("evcrawl"; letters, digits, '-' and '_'). Returns 0 with *out set
 * (free with evc_robots_free), or -ENOMEM.
 */
EVC_API int evc_robots_parse(evc_robots_t **out, const char *body, size_t len, const char *agent);

/**
 * The rules for a robots.txt that could not be had: allow_all true for
 * "everything allowed" (it was not found: a 4xx), false for "everything
 * disallowed" (a 5xx or no answer). NULL when out of memory.
 */
EVC_API evc_robots_t *evc_robots_new_all(bool allow_all);

/** Whether a URL's path and query ("/a/b?c", from the first '/') may be fetched. */
EVC_API bool evc_robots_allowed(const evc_robots_t *r, const char *path);

/** The group's Crawl-delay in ms (0: none). */
EVC_API unsigned evc_robots_crawl_delay_ms(const evc_robots_t *r);

/** The Sitemap: URLs, in order: n of them (*urls valid while r lives). */
EVC_API size_t evc_robots_sitemaps(const evc_robots_t *r, const char *const **urls);

EVC_API void evc_robots_free(evc_robots_t *r);

#ifdef __cplusplus
}
#endif
#endif
