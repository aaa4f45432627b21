/*
 * The evcrawl command's parts: input lines, record output with its tally,
 * and one runner per I/O mode. Every mode reads the same input, produces
 * the same records through the same writer, and differs only in how it
 * waits for the network.
 */
#ifndef EVC_CLI_H
#define EVC_CLI_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evcrawl/cookies.h"
#include "evcrawl/crawler.h"
#include "evcrawl/fetch.h"
#include "evcrawl/loop.h"

#include "crawl/seen.h"

#define MAX_URL_LINE 8192

/* URLs, from the command line or one per line of a file or pipe. */
struct input {
	int fd;
	bool is_pipe;  /* not a regular file */
	bool nonblock; /* we set O_NONBLOCK (async mode only) */
	bool eof;
	bool failed; /* a read error ended the input early: exit status 1 */
	int saved_flags;
	char buf[64 * 1024];
	size_t start, end;
	bool skipping; /* inside an over-long line */
	char marked[MAX_URL_LINE + 32];
	char **urls; /* command-line URLs, when no -i */
	int nurls, next_url;
	const char *name;
	volatile sig_atomic_t *stop; /* when set and non-zero, EINTR ends input */
	pthread_mutex_t lock;	     /* for --mode threads */
	const struct resume *skip;   /* --resume: lines that have a record */
	uint64_t skipped;
};

/* --resume FILE (resume.c): the URLs an earlier run has records for. */
struct resume {
	const char *path;
	struct evc__seen done; /* fingerprints of their url fields */
	uint64_t records, cancelled, foreign;
	bool torn; /* a torn last line was cut off */
};

/* What the summary and the exit status are made of. */
struct tally {
	uint64_t done, ok, bytes;
	uint64_t errors[EVC_ERR__COUNT];
	uint64_t classes[10];		/* complete responses by status / 100 (0: not 1xx-5xx) */
	uint64_t connections, requests; /* when the mode knows them */
	uint64_t spilled;		/* URLs that waited on disk (--frontier-mem) */
};

enum mode { MODE_ASYNC, MODE_BLOCKING, MODE_BUSY_POLL, MODE_THREADS, MODE_PROCESSES };

struct app {
	enum mode mode;
	const char *selector;
	evc_crawl_opts_t opts;
	struct input in;
	bool progress, quiet;
	unsigned stats_every_ms; /* --stats-every: 0 = never */
	/* --match-status / --filter-status: which records are written (all are
	 * counted). Ranges lo-hi; status 0 stands for "no status". */
	struct status_range {
		int lo, hi;
	} status_ranges[64];
	int nranges;
	bool ranges_match;		 /* true: write only matching; false: hide matching */
	char format;			 /* --format: 'j' JSON lines, 'c' CSV, 't' TSV */
	bool held_by_per_host;		 /* async: the per-host limit held the crawl back */
	void (*before_write)(void *arg); /* called before records are written */
	void *before_arg;
	bool header_done; /* the CSV/TSV header line is out */
	volatile int caught_signal;
	uint64_t start_ns;

	/* output: records batched, written whole lines at a time */
	char out[64 * 1024];
	size_t out_len;
	bool out_broken;
	struct tally tally;
	pthread_mutex_t out_lock; /* for --mode threads */
};

extern const char *prog;

/* resume.c. resume_open reads FILE, cuts a torn last line, and makes
 * FILE (appending) the records' stdout. Returns 0 or -errno. */
int resume_open(struct resume *r, const char *path);
bool resume_has(const struct resume *r, const char *line, size_t len);
void resume_free(struct resume *r);

/* input.c */
void input_open(struct input *in, const char *path); /* exits 2 on failure */
void input_set_nonblocking(struct input *in);
void input_close(struct input *in);
/* Next URL: 1 with *line and *len set (valid until the next call), 0 when a
 * nonblocking pipe has nothing yet, -1 at the end. Blank and # lines are
 * skipped; a line too long to hold comes back marked so it cannot parse. */
int input_next(struct input *in, const char **line, size_t *len);

/* output.c */
void output_result(struct app *a, const evc_result_t *r);      /* record + tally */
void output_line(struct app *a, const char *line, size_t len); /* a record made elsewhere */
void output_flush(struct app *a);
void print_summary(struct app *a);

/* Runners: each returns when every URL has its record. */
int run_async(struct app *a);
int run_classic(struct app *a); /* blocking, busy-poll, threads, processes */

#endif
