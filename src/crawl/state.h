/*
 * A crawl's state on disk (the state_dir option), and the frontier's
 * overflow (URLs past the frontier_mem budget wait here, not in memory):
 * every URL the crawl took,
 * with whether its record was given, so a crawl killed at any point (even
 * SIGKILL) and run again with the same directory goes on where it was:
 * nothing with a record is fetched again, nothing discovered is lost.
 *
 * SQLite (Debian's libsqlite3), one file DIR/state.db in WAL mode: a
 * committed transaction survives the process being killed, and one table
 * with an integer key answers both "was this URL taken" and "which are still
 * to fetch" without a second structure. (LMDB would be a faster key-value
 * store, but the frontier also wants "all rows not done yet", which SQLite
 * answers from the same table.) Writes are grouped: the crawler commits once
 * per loop turn, before it hands out the records of that turn, so a record
 * is never seen for a URL the state does not know as done.
 */
#ifndef EVC_STATE_H
#define EVC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evc__state;

/** Open (creating) DIR/state.db. 0, or a negative code with err filled. */
int evc__state_open(struct evc__state **out, const char *dir, char *err, size_t errlen);

/** Commit what is pending (or roll it back: records that were marked done
 * but never given) and close. */
void evc__state_close(struct evc__state *s, bool commit);

/** A URL taken, to be fetched, with what a resumed crawl needs: held in
 * memory as a task too, or (in_memory false) only here until taken. */
int evc__state_add(struct evc__state *s, uint64_t fp, const char *url, unsigned depth,
		   const char *parent, const char *seed, bool in_memory);

/** A store for the frontier alone, in a new directory under $TMPDIR that
 * closing removes. 0, or a negative code with err filled. */
int evc__state_open_temp(struct evc__state **out, char *err, size_t errlen);

/** Its record is about to be given. */
int evc__state_done(struct evc__state *s, uint64_t fp);

/** Whether anything is waiting to be committed. */
bool evc__state_dirty(const struct evc__state *s);

/** Commit the writes since the last commit. 0 or a negative code. */
int evc__state_commit(struct evc__state *s);

/* Every URL in the state, in the order taken. */
typedef void (*evc__state_row_cb)(void *arg, uint64_t fp, const char *url, unsigned depth,
				  const char *parent, const char *seed, bool done);
int evc__state_load(struct evc__state *s, evc__state_row_cb cb, void *arg);

/* The robots.txt of "scheme://host:port" as fetched at `at` (Unix seconds):
 * mode 0 its body, 1 everything allowed, 2 everything disallowed (why). */
int evc__state_robots_put(struct evc__state *s, const char *host, int64_t at, int mode,
			  const char *why, const char *body, size_t len);
/** 1 with the fields (why and body malloc'd), 0 when not kept, or a
 * negative code. */
int evc__state_robots_get(struct evc__state *s, const char *host, int64_t *at, int *mode,
			  char **why, char **body, size_t *len);

/** Up to max URLs waiting only here, oldest first, to cb; they count as in
 * memory from now on. Returns how many, or a negative code. */
int evc__state_take(struct evc__state *s, unsigned max, evc__state_row_cb cb, void *arg);

#endif
