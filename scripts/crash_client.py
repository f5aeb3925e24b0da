#!/usr/bin/env python3
"""Crash-test client for scripts/crash-test.sh (standard library only).

`write URL LOG THREADS`: writes until SIGTERM, from THREADS threads, logging every
acknowledged write to LOG (one line each, flushed at once):
  new <objectId> <thread> <seq>     newObject answered 200 with that id
  save <objectId> <value>           saveProperty of `value` answered 200
  try <objectId> <value>            a saveProperty about to be sent (may or may not land)
Connection errors (the service is down) are retried until it is back.

`check DB LOG`: opens the database file itself and checks that every acknowledged write is
there (an object with its properties; a saved value, or a later one that was sent but not
answered), and that `PRAGMA integrity_check` says ok. Prints the figures; exit 1 on a loss.
"""

import http.client
import json
import signal
import sqlite3
import sys
import threading
import time
import urllib.parse

stop = threading.Event()


def post(conn, path, body):
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, data


def writer(url, log, lock, thread, counts):
    parsed = urllib.parse.urlparse(url)
    conn = None
    own = None  # the object this thread keeps saving a property of
    seq = 0
    value = 0
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
            seq += 1
            status, data = post(
                conn,
                "/newObject",
                {"objectType": "Crash", "properties": {"thread": thread, "seq": seq}},
            )
            if status == 200:
                oid = json.loads(data)["objectId"]
                with lock:
                    log.write(f"new {oid} {thread} {seq}\n")
                    log.flush()
                    counts["new"] += 1
                if own is None:
                    own = oid
            elif status >= 500 and status != 503:
                counts["errors"] += 1
            if own is not None:
                value += 1
                with lock:
                    log.write(f"try {own} {value}\n")
                    log.flush()
                status, data = post(
                    conn,
                    "/saveProperty",
                    {"objectId": own, "propertyName": "value", "propertyValue": str(value)},
                )
                if status == 200:
                    with lock:
                        log.write(f"save {own} {value}\n")
                        log.flush()
                        counts["save"] += 1
        except (OSError, http.client.HTTPException):
            # The service is down (killed): try again once it is back.
            if conn is not None:
                conn.close()
            conn = None
            counts["retries"] += 1
            time.sleep(0.05)


def write(url, log_path, threads):
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    counts = {"new": 0, "save": 0, "retries": 0, "errors": 0}
    lock = threading.Lock()
    with open(log_path, "a", encoding="utf-8") as log:
        workers = [
            threading.Thread(target=writer, args=(url, log, lock, t, counts), daemon=True)
            for t in range(threads)
        ]
        for w in workers:
            w.start()
        while not stop.is_set():
            stop.wait(0.5)
        for w in workers:
            w.join(timeout=15)
    print(
        f"client: {counts['new']} objects and {counts['save']} saves acknowledged, "
        f"{counts['retries']} retries while down, {counts['errors']} server errors",
        flush=True,
    )


def check(db_path, log_path):
    acked_new = {}
    tried = {}  # objectId -> set of values sent
    acked_save = {}  # objectId -> last acknowledged value
    saves = 0
    with open(log_path, encoding="utf-8") as log:
        for line in log:
            parts = line.split()
            if parts[:1] == ["new"] and len(parts) == 4:
                acked_new[int(parts[1])] = (int(parts[2]), int(parts[3]))
            elif parts[:1] == ["try"] and len(parts) == 3:
                tried.setdefault(int(parts[1]), set()).add(int(parts[2]))
            elif parts[:1] == ["save"] and len(parts) == 3:
                oid, v = int(parts[1]), int(parts[2])
                acked_save[oid] = max(v, acked_save.get(oid, 0))
                saves += 1
    db = sqlite3.connect(db_path)
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    props = {}
    for oid, name, value in db.execute(
        "SELECT p.OwnerObjectId, p.PropertyName, p.PropertyValue FROM Properties p "
        "JOIN Objects o ON o.ObjectId = p.OwnerObjectId WHERE o.ObjectType = 'Crash'"
    ):
        props.setdefault(oid, {})[name] = value
    lost = 0
    for oid, (thread, seq) in acked_new.items():
        p = props.get(oid)
        if p is None or str(p.get("thread")) != str(thread) or str(p.get("seq")) != str(seq):
            lost += 1
            if lost <= 10:
                print(f"LOST: object {oid} (thread {thread}, seq {seq}): found {p}")
    for oid, value in acked_save.items():
        found = props.get(oid, {}).get("value")
        # A later value may have landed without its answer (killed in between).
        if found is None or int(found) < value or int(found) not in tried.get(oid, set()):
            lost += 1
            if lost <= 10:
                print(f"LOST: object {oid} value {value} acknowledged, found {found}")
    print(f"integrity_check: {integrity}")
    print(f"acknowledged: {len(acked_new)} objects, {saves} saves "
          f"({len(acked_save)} objects saved)")
    return lost, integrity


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 5 and sys.argv[1] == "check":
        lost, integrity = check(sys.argv[2], sys.argv[3])
        print(f"lost acknowledged writes: {lost} over {sys.argv[4]} kills")
        sys.exit(0 if lost == 0 and integrity == "ok" else 1)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
