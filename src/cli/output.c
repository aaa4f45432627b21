/*
 * Records out, whole lines at a time, and the tally behind the summary and
 * the exit status. Records are buffered and written in batches (the async
 * runner flushes once per loop iteration; the others after every record),
 * so there is about one write() per batch, never one per field.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static void write_all(struct app *a, const char *p, size_t len)
{
	if (len && a->before_write) /* the progress line leaves the terminal first */
		a->before_write(a->before_arg);
	while (len > 0 && !a->out_broken) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* stdout is a nonblocking pipe: wait rather than drop. */
			fd_set w;
			FD_ZERO(&w);
			FD_SET(STDOUT_FILENO, &w);
			select(STDOUT_FILENO + 1, NULL, &w, NULL, NULL);
			continue;
		}
		if (n < 0) {
			/* EPIPE (nobody reads any more: `| head`), ENOSPC, EIO:
			 * said once; the crawl stops, as its records would be lost. */
			a->out_broken = true;
			fprintf(stderr, "%s: cannot write records: %s; stopping\n", prog,
				strerror(errno));
			break;
		}
		p += n;
		len -= (size_t)n;
	}
}

void output_flush(struct app *a)
{
	write_all(a, a->out, a->out_len);
	a->out_len = 0;
}

static void append(struct app *a, const char *line, size_t len)
{
	if (a->out_len + len > sizeof a->out)
		output_flush(a);
	if (len > sizeof a->out)
		write_all(a, line, len); /* a URL of many kilobytes */
	else {
		memcpy(a->out + a->out_len, line, len);
		a->out_len += len;
	}
}

static void count(struct tally *t, evc_error_kind_t kind, int status, uint64_t bytes)
{
	t->done++;
	t->bytes += bytes;
	if (kind == EVC_OK) {
		t->ok++;
		t->classes[status >= 100 && status < 600 ? status / 100 : 0]++;
	} else if (kind > 0 && kind < EVC_ERR__COUNT) {
		t->errors[kind]++;
	}
}

/* Whether --match-status / --filter-status let this record through. */
static bool shown(const struct app *a, int status)
{
	if (!a->nranges)
		return true;
	bool in = false;
	for (int i = 0; i < a->nranges && !in; i++)
		in = status >= a->status_ranges[i].lo && status <= a->status_ranges[i].hi;
	return in == a->ranges_match;
}

/* ---- CSV (RFC 4180) and TSV ------------------------------------------------------ */

struct line {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void line_put(struct line *l, const char *s, size_t n)
{
	if (l->len + n + 1 > l->cap) {
		size_t cap = (l->len + n + 1) * 2;
		char *b = realloc(l->buf, cap);
		if (!b) {
			l->failed = true;
			return;
		}
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* One field (NULL: empty), after a separator unless it is the first. */
static void field(struct line *l, char sep, bool first, const char *s, size_t n)
{
	if (!first)
		line_put(l, &sep, 1);
	if (!s)
		return;
	if (sep == ',') { /* quoted when it holds a quote, a comma or a line end */
		if (!memchr(s, '"', n) && !memchr(s, ',', n) && !memchr(s, '\n', n) &&
		    !memchr(s, '\r', n)) {
			line_put(l, s, n);
			return;
		}
		line_put(l, "\"", 1);
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '"')
				line_put(l, "\"\"", 2);
			else
				line_put(l, s + i, 1);
		}
		line_put(l, "\"", 1);
		return;
	}
	for (size_t i = 0; i < n; i++) { /* TSV: \t \n \r \\ escaped */
		const char *esc = s[i] == '\t'	 ? "\\t"
				  : s[i] == '\n' ? "\\n"
				  : s[i] == '\r' ? "\\r"
				  : s[i] == '\\' ? "\\\\"
						 : NULL;
		if (esc)
			line_put(l, esc, 2);
		else
			line_put(l, s + i, 1);
	}
}

static void field_str(struct line *l, char sep, const char *s)
{
	field(l, sep, false, s, s ? strlen(s) : 0);
}

static void field_num(struct line *l, char sep, double v, const char *fmt, bool present)
{
	char num[40];
	int n = present ? snprintf(num, sizeof num, fmt, v) : 0;
	field(l, sep, false, present ? num : NULL, (size_t)n);
}

static const char *const csv_columns[] = {
    "url",	 "final_url",	 "status",     "bytes",	     "content_type",
    "redirects", "attempts",	 "total_ms",   "error_kind", "error_message",
    "remote_ip", "http_version", "wire_bytes", "started_at", "saved",
};

/* The record as one CSV or TSV line (a header line first). */
static void output_table(struct app *a, const evc_result_t *r)
{
	char sep = a->format == 'c' ? ',' : '\t';
	struct line l = {0};
	if (!a->header_done) {
		for (size_t i = 0; i < sizeof csv_columns / sizeof csv_columns[0]; i++)
			field(&l, sep, i == 0, csv_columns[i], strlen(csv_columns[i]));
		for (size_t i = 0; a->opts.record_headers && a->opts.record_headers[i]; i++) {
			char name[64];
			snprintf(name, sizeof name, "%s", a->opts.record_headers[i]);
			for (char *c = name; *c; c++) /* as the JSON record's keys */
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			field_str(&l, sep, name);
		}
		line_put(&l, sep == ',' ? "\r\n" : "\n", sep == ',' ? 2 : 1);
		a->header_done = true;
	}
	field(&l, sep, true, r->url, r->url_len ? r->url_len : strlen(r->url));
	field_str(&l, sep, r->final_url);
	field_num(&l, sep, r->status, "%.0f", r->status > 0);
	field_num(&l, sep, (double)r->bytes, "%.0f", true);
	field_str(&l, sep, r->content_type);
	field_num(&l, sep, r->redirects, "%.0f", true);
	field_num(&l, sep, r->attempts, "%.0f", true);
	field_num(&l, sep, r->total_ms, "%.3f", r->total_ms >= 0);
	field_str(&l, sep, r->error ? evc_error_kind_name(r->error) : NULL);
	field_str(&l, sep, r->error ? r->error_message : NULL);
	field_str(&l, sep, r->remote_ip);
	field_str(&l, sep, r->http_version);
	field_num(&l, sep, (double)r->wire_bytes, "%.0f", true);
	char when[40] = "";
	if (r->started_at > 0) {
		long long total = (long long)(r->started_at * 1000 + 0.5);
		time_t secs = (time_t)(total / 1000);
		struct tm tm;
		gmtime_r(&secs, &tm);
		size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when + n, sizeof when - n, ".%03dZ", (int)(total % 1000));
	}
	field_str(&l, sep, when[0] ? when : NULL);
	field_str(&l, sep, r->saved);
	for (size_t i = 0; r->header_names && r->header_names[i]; i++)
		field_str(&l, sep, r->header_values ? r->header_values[i] : NULL);
	line_put(&l, sep == ',' ? "\r\n" : "\n", sep == ',' ? 2 : 1);
	if (!l.failed)
		append(a, l.buf, l.len);
	free(l.buf);
}

void output_result(struct app *a, const evc_result_t *r)
{
	count(&a->tally, r->error, r->status, r->bytes);
	if (!shown(a, r->status))
		return;
	if (a->format == 'c' || a->format == 't') {
		output_table(a, r);
		return;
	}
	char line[4096];
	size_t len = evc_result_to_json(r, line, sizeof line);
	if (len < sizeof line) {
		append(a, line, len);
		return;
	}
	char *big = malloc(len + 1);
	if (big) {
		evc_result_to_json(r, big, len + 1);
		append(a, big, len);
		free(big);
	}
}

/* A record made by another process: count it from its text. The writer's
 * fixed field order makes this a few memmem()s, not a JSON parse. */
void output_line(struct app *a, const char *line, size_t len)
{
	evc_error_kind_t kind = EVC_OK;
	const char *e = memmem(line, len, "\"error\":{\"kind\":\"", 17);
	if (e) {
		const char *name = e + 17;
		kind = EVC_ERR_IO;
		for (int k = 1; k < EVC_ERR__COUNT; k++) {
			const char *kn = evc_error_kind_name((evc_error_kind_t)k);
			size_t kl = strlen(kn);
			if ((size_t)(line + len - name) > kl && memcmp(name, kn, kl) == 0 &&
			    name[kl] == '"')
				kind = (evc_error_kind_t)k;
		}
	}
	const char *b = memmem(line, len, "\"bytes\":", 8);
	const char *st = memmem(line, len, "\"status\":", 9);
	int status = st ? atoi(st + 9) : 0; /* "null" reads as 0 */
	count(&a->tally, kind, status, b ? strtoull(b + 8, NULL, 10) : 0);
	if (shown(a, status))
		append(a, line, len);
}

/* 1234567 as "1,234,567" into buf (at least 32 bytes). */
static const char *thousands(uint64_t n, char *buf)
{
	char digits[24];
	int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n), o = 0;
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/*
 * One line: how many URLs, in how long, and what became of them: complete
 * responses by status class, failures by kind ("2xx 9,812 · 4xx 120 ·
 * dns 20"). The rate counts only fetches that ended on their own, not
 * those cancelled, skipped or refused by robots.txt.
 */
void print_summary(struct app *a)
{
	const struct tally *s = &a->tally;
	double secs = (double)(evc_hrtime() - a->start_ns) / 1e9;
	char parts[640] = "", num[32];
	size_t off = 0;
	static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	for (int c = 1; c <= 6; c++) {
		int k = c % 6; /* 1xx..5xx, then the odd ones */
		if (s->classes[k])
			off += (size_t)snprintf(parts + off, sizeof parts - off, "%s%s %s",
						off ? " · " : "", classes[k],
						thousands(s->classes[k], num));
	}
	for (int k = 1; k < EVC_ERR__COUNT && off < sizeof parts - 64; k++) {
		if (s->errors[k])
			off += (size_t)snprintf(
			    parts + off, sizeof parts - off, "%s%s %s", off ? " · " : "",
			    evc_error_kind_name((evc_error_kind_t)k), thousands(s->errors[k], num));
	}
	uint64_t fetched = s->done - s->errors[EVC_ERR_CANCELLED] - s->errors[EVC_ERR_SKIPPED] -
			   s->errors[EVC_ERR_ROBOTS];
	char tail[200] = "";
	if (s->requests)
		snprintf(tail, sizeof tail, "; %llu connections, %llu requests",
			 (unsigned long long)s->connections, (unsigned long long)s->requests);
	if (a->in.skipped) {
		size_t n = strlen(tail);
		snprintf(tail + n, sizeof tail - n, "; %llu skipped: they have records",
			 (unsigned long long)a->in.skipped);
	}
	if (s->spilled) {
		size_t n = strlen(tail);
		snprintf(tail + n, sizeof tail - n, "; %llu URLs waited on disk",
			 (unsigned long long)s->spilled);
	}
	fprintf(stderr, "%s: %s URL%s in %.2f s%s%s; %.1f pages/s, %.1f MiB%s\n", prog,
		thousands(s->done, num), s->done == 1 ? "" : "s", secs, off ? ": " : "", parts,
		secs > 0 ? (double)fetched / secs : 0, (double)s->bytes / (1024.0 * 1024.0), tail);
	if (a->held_by_per_host)
		fprintf(stderr,
			"%s: most of the time the per-host limit (--per-host %u) held URLs back "
			"while fetch slots (-c %u) were free; if the servers allow it, raise "
			"--per-host\n",
			prog, a->opts.per_host, a->opts.concurrency);
}
