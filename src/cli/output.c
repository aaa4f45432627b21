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
#include <unistd.h>

#include "cli/cli.h"

static void write_all(struct app *a, const char *p, size_t len)
{
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

static void count(struct tally *t, evc_error_kind_t kind, uint64_t bytes)
{
	t->done++;
	t->bytes += bytes;
	if (kind == EVC_OK)
		t->ok++;
	else if (kind > 0 && kind < EVC_ERR__COUNT)
		t->errors[kind]++;
}

void output_result(struct app *a, const evc_result_t *r)
{
	count(&a->tally, r->error, r->bytes);
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
	count(&a->tally, kind, b ? strtoull(b + 8, NULL, 10) : 0);
	append(a, line, len);
}

void print_summary(struct app *a)
{
	const struct tally *s = &a->tally;
	double secs = (double)(evc_hrtime() - a->start_ns) / 1e9;
	char kinds[512] = "";
	size_t off = 0;
	for (int k = 1; k < EVC_ERR__COUNT && off < sizeof kinds - 40; k++) {
		if (s->errors[k])
			off += (size_t)snprintf(kinds + off, sizeof kinds - off, "%s%s %llu",
						off ? ", " : " (",
						evc_error_kind_name((evc_error_kind_t)k),
						(unsigned long long)s->errors[k]);
	}
	if (off)
		snprintf(kinds + off, sizeof kinds - off, ")");
	char conns[160] = "";
	if (s->requests)
		snprintf(conns, sizeof conns, "; %llu connections, %llu requests",
			 (unsigned long long)s->connections, (unsigned long long)s->requests);
	if (a->in.skipped) {
		size_t n = strlen(conns);
		snprintf(conns + n, sizeof conns - n, "; %llu skipped: they have records",
			 (unsigned long long)a->in.skipped);
	}
	if (s->spilled) {
		size_t n = strlen(conns);
		snprintf(conns + n, sizeof conns - n, "; %llu URLs waited on disk",
			 (unsigned long long)s->spilled);
	}
	fprintf(stderr, "%s: %llu URLs, %llu ok, %llu errors%s; %.1f pages/s; %.1f MiB; %.2f s%s\n",
		prog, (unsigned long long)s->done, (unsigned long long)s->ok,
		(unsigned long long)(s->done - s->ok), kinds, secs > 0 ? (double)s->done / secs : 0,
		(double)s->bytes / (1024.0 * 1024.0), secs, conns);
}
