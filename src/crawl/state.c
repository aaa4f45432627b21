/* A crawl's state in SQLite (see state.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crawl/state.h"

struct evc__state {
	sqlite3 *db;
	sqlite3_stmt *add, *done, *load, *take, *mark;
	bool in_tx;
	char *temp_dir; /* a store of our own, removed at close */
};

static int exec(struct evc__state *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int evc__state_open(struct evc__state **out, const char *dir, char *err, size_t errlen)
{
	*out = NULL;
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	struct evc__state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	char path[4096];
	snprintf(path, sizeof path, "%s/state.db", dir);
	int rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(
		    s->db,
		    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		    "CREATE TABLE IF NOT EXISTS urls (id INTEGER PRIMARY KEY,"
		    " fp INTEGER NOT NULL UNIQUE, url TEXT NOT NULL,"
		    " depth INTEGER NOT NULL, parent TEXT, seed TEXT,"
		    " done INTEGER NOT NULL DEFAULT 0, mem INTEGER NOT NULL DEFAULT 0);"
		    "CREATE TABLE IF NOT EXISTS robots (host TEXT PRIMARY KEY,"
		    " fetched_at INTEGER NOT NULL, mode INTEGER NOT NULL, why TEXT,"
		    " body BLOB);"
		    "CREATE INDEX IF NOT EXISTS waiting ON urls(id)"
		    " WHERE done = 0 AND mem = 0;"
		    /* A new run holds nothing in memory yet. */
		    "UPDATE urls SET mem = 0 WHERE done = 0 AND mem = 1;",
		    NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    s->db,
		    "INSERT OR IGNORE INTO urls (fp, url, depth, parent, seed, mem)"
		    " VALUES (?, ?, ?, ?, ?, ?)",
		    -1, &s->add, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "UPDATE urls SET done = 1 WHERE fp = ?", -1,
					&s->done, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    s->db, "SELECT fp, url, depth, parent, seed, done FROM urls ORDER BY id", -1,
		    &s->load, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db,
					"SELECT fp, url, depth, parent, seed FROM urls"
					" WHERE done = 0 AND mem = 0 ORDER BY id LIMIT ?",
					-1, &s->take, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "UPDATE urls SET mem = 1 WHERE fp = ?", -1, &s->mark,
					NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "cannot open");
		evc__state_close(s, false);
		return -EIO;
	}
	*out = s;
	return 0;
}

void evc__state_close(struct evc__state *s, bool commit)
{
	if (!s)
		return;
	if (commit)
		evc__state_commit(s);
	else if (s->in_tx)
		exec(s, "ROLLBACK");
	sqlite3_finalize(s->add);
	sqlite3_finalize(s->done);
	sqlite3_finalize(s->load);
	sqlite3_finalize(s->take);
	sqlite3_finalize(s->mark);
	sqlite3_close(s->db);
	if (s->temp_dir) {
		static const char *const files[] = {"state.db", "state.db-wal", "state.db-shm"};
		char path[4096];
		for (size_t i = 0; i < 3; i++) {
			snprintf(path, sizeof path, "%s/%s", s->temp_dir, files[i]);
			unlink(path);
		}
		rmdir(s->temp_dir);
		free(s->temp_dir);
	}
	free(s);
}

static int begin(struct evc__state *s)
{
	if (s->in_tx)
		return 0;
	if (exec(s, "BEGIN") < 0)
		return -EIO;
	s->in_tx = true;
	return 0;
}

static int step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int evc__state_add(struct evc__state *s, uint64_t fp, const char *url, unsigned depth,
		   const char *parent, const char *seed, bool in_memory)
{
	if (begin(s) < 0)
		return -EIO;
	sqlite3_bind_int64(s->add, 1, (sqlite3_int64)fp);
	sqlite3_bind_text(s->add, 2, url, -1, SQLITE_STATIC);
	sqlite3_bind_int(s->add, 3, (int)depth);
	sqlite3_bind_text(s->add, 4, parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->add, 5, seed, -1, SQLITE_STATIC);
	sqlite3_bind_int(s->add, 6, in_memory);
	return step(s->add);
}

int evc__state_done(struct evc__state *s, uint64_t fp)
{
	if (begin(s) < 0)
		return -EIO;
	sqlite3_bind_int64(s->done, 1, (sqlite3_int64)fp);
	return step(s->done);
}

bool evc__state_dirty(const struct evc__state *s)
{
	return s && s->in_tx;
}

int evc__state_commit(struct evc__state *s)
{
	if (!s || !s->in_tx)
		return 0;
	s->in_tx = false;
	if (exec(s, "COMMIT") == 0)
		return 0;
	if (!sqlite3_get_autocommit(s->db)) /* still open: undo it, start clean */
		exec(s, "ROLLBACK");
	return -EIO;
}

int evc__state_load(struct evc__state *s, evc__state_row_cb cb, void *arg)
{
	int rc;
	while ((rc = sqlite3_step(s->load)) == SQLITE_ROW) {
		const char *parent = (const char *)sqlite3_column_text(s->load, 3);
		const char *seed = (const char *)sqlite3_column_text(s->load, 4);
		cb(arg, (uint64_t)sqlite3_column_int64(s->load, 0),
		   (const char *)sqlite3_column_text(s->load, 1),
		   (unsigned)sqlite3_column_int(s->load, 2), parent, seed,
		   sqlite3_column_int(s->load, 5) != 0);
	}
	sqlite3_reset(s->load);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int evc__state_open_temp(struct evc__state **out, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/evcrawl-frontier.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	int rc = evc__state_open(out, dir, err, errlen);
	if (rc < 0) {
		rmdir(dir);
		return rc;
	}
	(*out)->temp_dir = strdup(dir);
	exec(*out, "PRAGMA synchronous=OFF"); /* nothing to resume from a temp store */
	return 0;
}

int evc__state_take(struct evc__state *s, unsigned max, evc__state_row_cb cb, void *arg)
{
	if (begin(s) < 0)
		return -EIO;
	sqlite3_bind_int(s->take, 1, (int)max);
	int rc, n = 0;
	while ((rc = sqlite3_step(s->take)) == SQLITE_ROW) {
		uint64_t fp = (uint64_t)sqlite3_column_int64(s->take, 0);
		cb(arg, fp, (const char *)sqlite3_column_text(s->take, 1),
		   (unsigned)sqlite3_column_int(s->take, 2),
		   (const char *)sqlite3_column_text(s->take, 3),
		   (const char *)sqlite3_column_text(s->take, 4), false);
		sqlite3_bind_int64(s->mark, 1, (sqlite3_int64)fp);
		if (step(s->mark) < 0) {
			rc = SQLITE_ERROR;
			break;
		}
		n++;
	}
	sqlite3_reset(s->take);
	sqlite3_clear_bindings(s->take);
	return rc == SQLITE_DONE ? n : -EIO;
}

int evc__state_robots_put(struct evc__state *s, const char *host, int64_t at, int mode,
			  const char *why, const char *body, size_t len)
{
	sqlite3_stmt *st;
	if (begin(s) < 0 ||
	    sqlite3_prepare_v2(s->db,
			       "INSERT OR REPLACE INTO robots (host, fetched_at, mode, why, body)"
			       " VALUES (?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_int(st, 3, mode);
	sqlite3_bind_text(st, 4, why, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, body ? body : "", (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int evc__state_robots_get(struct evc__state *s, const char *host, int64_t *at, int *mode,
			  char **why, char **body, size_t *len)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT fetched_at, mode, why, body FROM robots WHERE host = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	int found = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*at = sqlite3_column_int64(st, 0);
		*mode = sqlite3_column_int(st, 1);
		const char *w = (const char *)sqlite3_column_text(st, 2);
		*why = w ? strdup(w) : NULL;
		*len = (size_t)sqlite3_column_bytes(st, 3);
		*body = malloc(*len + 1);
		if (*body) {
			memcpy(*body, sqlite3_column_blob(st, 3) ? sqlite3_column_blob(st, 3) : "",
			       *len);
			(*body)[*len] = '\0';
			found = 1;
		}
	}
	sqlite3_finalize(st);
	return found;
}
