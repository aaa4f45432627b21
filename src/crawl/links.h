/*
 * Links in an HTML body, found as it streams in: libxml2's HTML push parser
 * with a SAX start-element callback, so the body is never held whole.
 *
 *   a[href], area[href]       links (not with rel=nofollow)
 *   link[href]                with a rel naming a document: alternate,
 *                             next, prev, canonical, ... (not stylesheet,
 *                             icon, preload, ...)
 *   frame[src], iframe[src]
 *   base[href]                the base the others resolve against (first)
 *   meta name=robots          content "nofollow" (or "none"): no links at all
 *
 * Each link is resolved against the base (the page's final URL, or <base>),
 * its fragment dropped; only http and https are given to the callback. The
 * Location and Link response headers are the caller's (they come before the
 * body), through evc__links_resolve.
 */
#ifndef EVC_LINKS_H
#define EVC_LINKS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/url.h"

/* A link found: its absolute URL and the element it came from ("a",
 * "area", "link", "frame", "iframe"). Non-zero stops the extraction. */
typedef int (*evc__link_cb)(void *arg, const struct evc__url *url, const char *tag);

struct evc__links;

/**
 * An extractor for one body of the page at base (copied), with its
 * Content-Type's charset or NULL. Returns 0 or -ENOMEM.
 */
int evc__links_new(struct evc__links **out, const struct evc__url *base, const char *charset,
		   evc__link_cb cb, void *arg);

/** More of the body. 0, or the callback's non-zero answer. */
int evc__links_feed(struct evc__links *l, const char *data, size_t len);

/** The body ended: what the parser still held is looked at. */
int evc__links_end(struct evc__links *l);

/** Whether the page said nofollow (meta robots) so far. */
int evc__links_nofollow(const struct evc__links *l);

void evc__links_free(struct evc__links *l);

/** Whether a rel value (space-separated, as in <link rel> or a Link header)
 * names another document worth crawling: next, alternate, canonical, ...,
 * not stylesheet, icon, preload, nofollow, ... */
bool evc__rel_is_document(const char *rel);

#endif
