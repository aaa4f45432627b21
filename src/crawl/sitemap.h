/*
 * Sitemaps (sitemaps.org): the <loc> URLs of a <urlset>, or of a
 * <sitemapindex>'s sitemaps, read as the body streams in: libxml2's XML push
 * parser with SAX callbacks, behind a zlib inflater when the body is gzip
 * (a sitemap.xml.gz served as is). Nothing is held but the <loc> being read.
 * External entities and DTDs are never loaded.
 */
#ifndef EVC_SITEMAP_H
#define EVC_SITEMAP_H

#include <stdbool.h>
#include <stddef.h>

/* A <loc> found: its text (trimmed), and whether it names a sitemap (from a
 * <sitemapindex>) rather than a page. */
typedef void (*evc__sitemap_cb)(void *arg, const char *loc, bool is_sitemap);

struct evc__sitemap;

/** A reader for one body. 0 or -ENOMEM. */
int evc__sitemap_new(struct evc__sitemap **out, evc__sitemap_cb cb, void *arg);

/** More of the body (gzip or not: the first bytes say). */
void evc__sitemap_feed(struct evc__sitemap *s, const char *data, size_t len);

/** The body ended. */
void evc__sitemap_end(struct evc__sitemap *s);

void evc__sitemap_free(struct evc__sitemap *s);

#endif
