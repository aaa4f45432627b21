/*
 * The result record as one line of JSON (docs/design.md's contract).
 *
 * A cheap writer: one pass, no allocation, strings escaped as they are
 * copied. Bytes that are not valid UTF-8 (URLs from the wild may hold
 * anything) become U+FFFD, so every line is valid JSON.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "evcrawl/fetch.h"
#include "util/utf8.h"

static const char *const kind_names[EVC_ERR__COUNT] = {
    [EVC_OK] = "ok",
    [EVC_ERR_BAD_URL] = "bad_url",
    [EVC_ERR_DNS] = "dns",
    [EVC_ERR_CONNECT] = "connect",
    [EVC_ERR_TLS] = "tls",
    [EVC_ERR_TIMEOUT] = "timeout",
    [EVC_ERR_PROTOCOL] = "protocol",
    [EVC_ERR_TOO_LARGE] = "too_large",
    [EVC_ERR_REDIRECT] = "redirect",
    [EVC_ERR_IO] = "io",
    [EVC_ERR_CANCELLED] = "cancelled",
    [EVC_ERR_ROBOTS] = "robots",
    [EVC_ERR_SKIPPED] = "skipped",
    [EVC_ERR_HTTP] = "http",
    [EVC_ERR_PROXY] = "proxy",
};

const char *evc_error_kind_name(evc_error_kind_t kind)
{
	return kind >= 0 && kind < EVC_ERR__COUNT ? kind_names[kind] : "unknown";
}

/* Output cursor: writes while there is room, always counts. */
struct out {
	char *p, *end;
	size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->p && (size_t)(o->end - o->p) > n) {
		memcpy(o->p, s, n);
		o->p += n;
	} else if (o->p) {
		o->end = o->p; /* out of room: keep counting only */
	}
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_string_n(struct out *o, const char *str, size_t n)
{
	if (!str) {
		put(o, "null", 4);
		return;
	}
	const unsigned char *s = (const unsigned char *)str;
	size_t run = 0;
	put(o, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++, run++;
			continue;
		}
		put(o, (const char *)s + i - run, run);
		run = 0;
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			put(o, esc, 2);
			i++;
		} else if (c < 0x20) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\u%04x", c);
			put(o, esc, 6);
			i++;
		} else {
			size_t len = evc__utf8_len(s + i, n - i);
			if (len) {
				put(o, (const char *)s + i, len);
				i += len;
			} else {
				put(o, "\\ufffd", 6);
				i++;
			}
		}
	}
	put(o, (const char *)s + n - run, run);
	put(o, "\"", 1);
}

static void put_string(struct out *o, const char *str)
{
	put_string_n(o, str, str ? strlen(str) : 0);
}

/* RFC 3339, UTC, milliseconds: "2026-12-02T03:04:05.678Z"; null for 0. */
static void put_rfc3339(struct out *o, double t)
{
	if (t <= 0) {
		puts_(o, "null");
		return;
	}
	long long total = (long long)(t * 1000 + 0.5); /* to the nearest ms */
	time_t secs = (time_t)(total / 1000);
	struct tm tm;
	char buf[40];
	gmtime_r(&secs, &tm);
	size_t n = strftime(buf, sizeof buf, "\"%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof buf - n, ".%03dZ\"", (int)(total % 1000));
	puts_(o, buf);
}

static void put_ms(struct out *o, double ms)
{
	if (ms < 0) {
		put(o, "null", 4);
		return;
	}
	char num[32];
	if (ms > 1e15) /* a caller's nonsense must not overrun num */
		ms = 1e15;
	int len = snprintf(num, sizeof num, "%.3f", ms);
	put(o, num, (size_t)len);
}

static void put_uint(struct out *o, unsigned long long v)
{
	char num[24];
	char *p = num + sizeof num;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, p, (size_t)(num + sizeof num - p));
}

void *evc_result_user(const evc_result_t *r)
{
	return r->user;
}

static void put_time(struct out *o, int64_t t)
{
	char buf[40];
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm))
		snprintf(buf, sizeof buf, "null");
	puts_(o, buf);
}

/* "cert":{subject, issuer, sans, not_before, not_after, days_left}: days
 * left until not_after from now, negative once expired. */
static void put_cert(struct out *o, const evc_cert_info_t *c)
{
	puts_(o, ",\"cert\":{\"subject\":");
	put_string(o, c->subject);
	puts_(o, ",\"issuer\":");
	put_string(o, c->issuer);
	puts_(o, ",\"sans\":[");
	for (size_t i = 0; c->sans && c->sans[i]; i++) {
		if (i)
			puts_(o, ",");
		put_string(o, c->sans[i]);
	}
	puts_(o, "],\"not_before\":");
	put_time(o, c->not_before);
	puts_(o, ",\"not_after\":");
	put_time(o, c->not_after);
	char buf[32];
	double days = floor((double)(c->not_after - (int64_t)time(NULL)) / 86400.0);
	snprintf(buf, sizeof buf, ",\"days_left\":%.0f}", days);
	puts_(o, buf);
}

size_t evc_result_to_json(const evc_result_t *r, char *buf, size_t cap)
{
	struct out o = {buf, buf + cap, 0};
	if (!buf || cap == 0)
		o.p = NULL;
	puts_(&o, "{\"url\":");
	put_string_n(&o, r->url, r->url && r->url_len ? r->url_len : r->url ? strlen(r->url) : 0);
	puts_(&o, ",\"final_url\":");
	put_string(&o, r->final_url);
	puts_(&o, ",\"status\":");
	if (r->status > 0)
		put_uint(&o, (unsigned)r->status);
	else
		puts_(&o, "null");
	puts_(&o, ",\"bytes\":");
	put_uint(&o, r->bytes);
	puts_(&o, ",\"content_type\":");
	put_string(&o, r->content_type);
	if (r->content_encoding) { /* only when there is one: most records have none */
		puts_(&o, ",\"content_encoding\":");
		put_string(&o, r->content_encoding);
	}
	puts_(&o, ",\"redirects\":");
	put_uint(&o, (unsigned)r->redirects);
	puts_(&o, ",\"attempts\":");
	put_uint(&o, (unsigned)r->attempts);
	puts_(&o, ",\"time_ms\":{\"dns\":");
	put_ms(&o, r->dns_ms);
	puts_(&o, ",\"connect\":");
	put_ms(&o, r->connect_ms);
	puts_(&o, ",\"tls\":");
	put_ms(&o, r->tls_ms);
	puts_(&o, ",\"ttfb\":");
	put_ms(&o, r->ttfb_ms);
	puts_(&o, ",\"total\":");
	put_ms(&o, r->total_ms);
	puts_(&o, "},\"error\":");
	if (r->error == EVC_OK) {
		puts_(&o, "null");
	} else {
		puts_(&o, "{\"kind\":");
		put_string(&o, evc_error_kind_name(r->error));
		puts_(&o, ",\"message\":");
		put_string(&o, r->error_message ? r->error_message : "");
		puts_(&o, "}");
	}
	puts_(&o, ",\"remote_ip\":");
	put_string(&o, r->remote_ip);
	puts_(&o, ",\"http_version\":");
	put_string(&o, r->http_version);
	puts_(&o, ",\"wire_bytes\":");
	put_uint(&o, r->wire_bytes);
	puts_(&o, ",\"started_at\":");
	put_rfc3339(&o, r->started_at);
	if (r->header_names) {
		puts_(&o, ",\"headers\":{");
		for (size_t i = 0; r->header_names[i]; i++) {
			if (i)
				puts_(&o, ",");
			put_string(&o, r->header_names[i]);
			puts_(&o, ":");
			put_string(&o, r->header_values ? r->header_values[i] : NULL);
		}
		puts_(&o, "}");
	}
	puts_(&o, ",\"redirect_chain\":[");
	for (int i = 0; r->redirect_chain && i < r->redirects; i++) {
		puts_(&o, i ? ",{\"url\":" : "{\"url\":");
		put_string(&o, r->redirect_chain[i].url);
		puts_(&o, ",\"status\":");
		put_uint(&o, (unsigned)r->redirect_chain[i].status);
		puts_(&o, "}");
	}
	puts_(&o, "]");
	if (r->tls_version) {
		puts_(&o, ",\"tls\":{\"version\":");
		put_string(&o, r->tls_version);
		puts_(&o, ",\"cipher\":");
		put_string(&o, r->tls_cipher);
		puts_(&o, ",\"alpn\":");
		put_string(&o, r->tls_alpn);
		puts_(&o, r->tls_resumed == 1 ? ",\"resumed\":true}" : ",\"resumed\":false}");
	}
	if (r->cert)
		put_cert(&o, r->cert);
	if (r->recursive) {
		puts_(&o, ",\"depth\":");
		put_uint(&o, (unsigned long long)r->depth);
		puts_(&o, ",\"parent\":");
		if (r->parent)
			put_string(&o, r->parent);
		else
			puts_(&o, "null");
	}
	if (r->links) {
		puts_(&o, ",\"links\":[");
		for (size_t i = 0; r->links[i]; i++) {
			if (i)
				puts_(&o, ",");
			put_string(&o, r->links[i]);
		}
		puts_(&o, "]");
	}
	if (r->saved) {
		puts_(&o, ",\"saved\":");
		put_string(&o, r->saved);
	}
	puts_(&o, "}\n");
	if (o.p)
		*o.p = '\0';
	return o.len;
}
