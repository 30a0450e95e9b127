#!/usr/bin/env python3
"""What keeping the full-text index costs per row, by group-commit size.

A replica of the node's write path in plain SQLite (Python's sqlite3, the
same libsqlite3): the archives table, the external-content FTS5 index, the
TEMP staging table, one savepoint per row and one FTS5 flush per group (as
node/fts_sync.cpp does). synchronous=OFF, so no fsync: only CPU is measured.
Prints microseconds per row for the rows and for the FTS5 flush plus commit,
and the WAL bytes per row.

    python3 tests/bench/fts_group_cost.py [--rows N] [--groups 16,64,256] [--automerge 4,8]
"""
import argparse
import os
import random
import sqlite3
import tempfile
import time

WORDS = ("the a of to and in is that for it on with as was we this be at by not from but have an they which one "
         "you were all there when can said after before every because again while still only then session memory "
         "archive index writer reader commit checkpoint segment backup restore standby primary timeline position "
         "frame page checksum journal bridge watcher file folder request response latency throughput disk queue "
         "thread connection transaction savepoint schema migration version search snippet ranking noticed decided "
         "measured rebuilt verified shipped compressed restarted failed recovered replaced deleted listed wrote read "
         "kept lost found moved tested quickly slowly carefully twice yesterday today tomorrow later morning evening "
         "meeting notes design review question answer idea plan risk bug fix patch user operator team customer "
         "project release deadline budget report summary small large old new first last next previous good bad safe "
         "durable corrupted malformed intact healthy slow fast empty full open closed make PRAGMA integrity_check "
         "/var/lib/walship/index.db WAL SQLite HTTP JSON fsync zstd SHA-256 42 3.40.1 1 KiB 64 MiB 0.27 ms "
         "2024-05-17 #1138 café naïve Zürich señor Ångström déjà vu").split()


def texts(count, size, seed=1):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words, n = [], 0
        while n < size:
            w = rng.choice(WORDS)
            words.append(w)
            n += len(w) + 1
        out.append(" ".join(words))
    return out


def run(folder, rows, group, automerge, bodies):
    path = os.path.join(folder, "fts.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA wal_autocheckpoint=0;")
    db.executescript("""
        CREATE TABLE archives(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, content TEXT NOT NULL,
          metadata TEXT NOT NULL DEFAULT '{}', version INTEGER, sha256 TEXT, created_at INTEGER, updated_at INTEGER);
        CREATE VIRTUAL TABLE archives_fts USING fts5(key, content, content='archives', content_rowid='id',
          tokenize='unicode61');
        PRAGMA temp_store=MEMORY;
        CREATE TEMP TABLE fts_touched(id INTEGER PRIMARY KEY);""")
    db.execute("INSERT INTO archives_fts(archives_fts, rank) VALUES('automerge', ?)", (automerge,))
    rows_s = fts_s = 0.0
    n = 0
    while n < rows:
        db.execute("BEGIN IMMEDIATE")
        a = time.perf_counter()
        for _ in range(group):
            db.execute("SAVEPOINT request")
            cur = db.execute("INSERT INTO archives(key, content, version, sha256, created_at, updated_at) "
                             "VALUES(?, ?, 1, 'x', 0, 0)", (f"bench/{n:010d}", bodies[n % len(bodies)]))
            db.execute("INSERT INTO temp.fts_touched(id) VALUES(?)", (cur.lastrowid,))
            db.execute("RELEASE request")
            n += 1
        b = time.perf_counter()
        db.execute("INSERT INTO archives_fts(rowid, key, content) "
                   "SELECT a.id, a.key, a.content FROM temp.fts_touched t JOIN archives a ON a.id = t.id")
        db.execute("DELETE FROM temp.fts_touched")
        db.execute("COMMIT")
        c = time.perf_counter()
        rows_s += b - a
        fts_s += c - b
    wal = os.path.getsize(path + "-wal")
    db.close()
    print(f"group {group:4d}  automerge {automerge:2d}  rows {rows_s / n * 1e6:6.1f} us/row  "
          f"fts flush + commit {fts_s / n * 1e6:6.1f} us/row  WAL {wal / n:6.0f} B/row")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--groups", default="16,64,256")
    ap.add_argument("--automerge", default="4,8")
    args = ap.parse_args()
    bodies = texts(64, 1000)
    print(f"SQLite {sqlite3.sqlite_version}, {args.rows} rows of ~1 KiB text")
    with tempfile.TemporaryDirectory(prefix="walship-fts-") as folder:
        for group in (int(g) for g in args.groups.split(",")):
            for automerge in (int(m) for m in args.automerge.split(",")):
                run(folder, args.rows, group, automerge, bodies)


if __name__ == "__main__":
    main()
