#!/usr/bin/env python3
"""Mixed-load client for scripts/soak.sh (standard library only).

  soak_client.py URL PID SECONDS THREADS [DATABASE_FILE] [--warmup S]

Each thread loops over a mix of requests (getObject, saveProperty, newObject, a table view,
a query, uploadFile + getFile of 1-64 KiB compared byte for byte, saveRelationship +
getChildren + dropRelationship). Every answer that is not 200 counts as an error. Every
10 s the service's RSS (VmRSS of PID) is sampled, and with DATABASE_FILE the size of its
`-wal` file and the WAL header's checkpoint sequence and salts (they change each time SQLite
starts the WAL over from its beginning).

Before the SECONDS that are measured comes the same load, not measured (the warm-up), for
at least S seconds and on until the properties cache's gauge has stopped growing (at most
3 S): the service's bounded caches fill over the first minutes (its properties cache,
SQLite's page caches, the allocator's pages for them), and a cache filling to its bound is
growth, but not a trend. The warm-up's samples are printed, marked, and left out of the
verdict. Each sample also shows what the service's /metrics say SQLite's heap and the
properties cache hold, and the rest of RSS.

Prints the samples and a verdict; exit 1 on any error (warm-up included), on memory that
keeps growing over the measured window (the second half's mean more than 10 % above the
first's, or a least-squares trend over the window of more than 5 % of its mean), or on a
WAL that keeps growing (it grew in the last third of the run beyond the size it had reached
before, or it was never started over in the second half).
"""

import os
import struct

import http.client
import json
import random
import sys
import threading
import time

errors = []
done = {"requests": 0}
lock = threading.Lock()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def caches_mb(host, port):
    """(SQLite's heap, the properties cache) in MB from the service's /metrics: the bounded
    caches' share of its memory; (None, None) when it does not answer them."""
    found = {}
    try:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        text = resp.read().decode()
        conn.close()
    except (OSError, http.client.HTTPException, UnicodeDecodeError):
        return None, None
    if resp.status != 200:
        return None, None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("datastore_sqlite_heap_bytes", "datastore_properties_cache_bytes"):
            try:
                found[name] = float(value) / 1048576
            except ValueError:
                pass
    return (found.get("datastore_sqlite_heap_bytes"),
            found.get("datastore_properties_cache_bytes"))


def wal_state(database):
    """(size in bytes, header identity) of DATABASE's WAL; (0, None) when there is none."""
    path = database + "-wal"
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            header = f.read(32)
    except OSError:
        return 0, None
    if len(header) < 32:
        return size, None
    # Offsets 12, 16 and 20: checkpoint sequence, salt-1, salt-2 (big-endian).
    return size, struct.unpack(">III", header[12:24])


def worker(host, port, stop, seed):
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    mine = []

    def call(path, body):
        conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        with lock:
            done["requests"] += 1
            if resp.status != 200:
                errors.append(f"{path} {resp.status} {data[:200]!r}")
        return json.loads(data) if resp.status == 200 and data[:1] in (b"{", b"[") else None

    def upload_and_read(object_id):
        # A file of 1 to 64 KiB into the object's FileLink `cv` (replacing any before),
        # read back whole and compared.
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1024, 65536)))
        boundary = f"soak{rnd.getrandbits(64):x}"
        parts = []
        for name, value in (("objectId", str(object_id)), ("propertyName", "cv")):
            parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n"
                         f"\r\n{value}\r\n".encode())
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                     f"filename=\"cv.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                     .encode() + data + f"\r\n--{boundary}--\r\n".encode())
        conn.request("POST", "/uploadFile", b"".join(parts),
                     {"content-type": f"multipart/form-data; boundary={boundary}"})
        resp = conn.getresponse()
        answer = resp.read()
        with lock:
            done["requests"] += 1
            if resp.status != 200:
                errors.append(f"/uploadFile {resp.status} {answer[:200]!r}")
                return
        conn.request("GET", f"/getFile?objectId={object_id}&propertyName=cv")
        resp = conn.getresponse()
        back = resp.read()
        with lock:
            done["requests"] += 1
            if resp.status != 200 or back != data:
                errors.append(f"/getFile {resp.status}: {len(back)} bytes, "
                              f"{'the same' if back == data else 'not the ones uploaded'}")

    while not stop.is_set():
        r = rnd.random()
        if r < 0.15 or not mine:
            o = call("/newObject", {"objectType": "Person", "properties": {
                "firstName": "Soak", "lastName": rnd.choice(["Doe", "Miller", "Weber"]),
                "age": rnd.randint(1, 99), "status": rnd.choice(["A", "I"])}})
            if o:
                mine.append(o["objectId"])
                mine = mine[-200:]
        elif r < 0.45:
            call("/getObject", {"objectId": rnd.choice(mine)})
        elif r < 0.65:
            call("/saveProperty", {"objectId": rnd.choice(mine), "propertyName": "age",
                                   "propertyValue": str(rnd.randint(1, 99))})
        elif r < 0.75:
            call("/getObjectListTable", {"objectType": "Person",
                                         "filter": {"lastName": rnd.choice(["Doe", "Weber"])},
                                         "orderBy": "age", "limit": 50})
        elif r < 0.80:
            call("/getObjectListByFilter", {"objectType": "Person",
                                            "query": f"age > {rnd.randint(1, 90)} limit 20"})
        elif r < 0.85:
            upload_and_read(rnd.choice(mine))
        else:
            parent, child = rnd.sample(mine, 2) if len(mine) > 1 else (mine[0], mine[0])
            if parent != child:
                call("/saveRelationship", {"parentObjectId": parent, "childObjectId": child})
                call("/getChildren", {"objectId": parent})
                call("/dropRelationship", {"parentObjectId": parent, "childObjectId": child})


def trend(samples):
    """Least-squares slope of (seconds, MB) SAMPLES, in MB per second."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / var if var else 0.0


def main():
    args = sys.argv[1:]
    options = {"--warmup": 300}
    positional = []
    while args:
        a = args.pop(0)
        if a in options:
            options[a] = int(args.pop(0))
        else:
            positional.append(a)
    url, pid, threads = positional[0], int(positional[1]), int(positional[3])
    seconds = max(1, int(positional[2]))
    database = positional[4] if len(positional) > 4 else None
    warmup = options["--warmup"]
    host, port = url.split("//")[1].split(":")
    start = time.time()
    samples = []  # (seconds since its phase began, MB, phase)
    wal = []  # (size, header identity) beside each measured sample
    warm_wal = []  # the WAL's sizes during the warm-up
    others = []  # (seconds, MB) of RSS less SQLite's heap and the properties cache
    measured_from = [None]

    def sample(phase):
        base = measured_from[0] if measured_from[0] is not None else start
        samples.append((round(time.time() - base), rss_mb(pid), phase))
        sqlite_heap, kept = caches_mb(host, int(port))
        line = (f"{phase:7s} {samples[-1][0]:5d} s  RSS {samples[-1][1]:7.1f} MB")
        if sqlite_heap is not None and kept is not None:
            rest = samples[-1][1] - sqlite_heap - kept
            others.append((samples[-1][0], rest, phase))
            line += f" (SQLite {sqlite_heap:5.1f}, properties {kept:5.1f}, the rest {rest:6.1f})"
        line += f"  {done['requests']} requests, {len(errors)} errors"
        if database:
            state = wal_state(database)
            if phase == "soak":
                wal.append(state)
            else:
                warm_wal.append(state[0])
            restarted = len(wal) > 1 and wal[-1][1] != wal[-2][1] and phase == "soak"
            line += f"  WAL {state[0] / 1048576:6.1f} MiB" + (" (started over)" if restarted else "")
        print(line, flush=True)
        return kept

    sample("start")
    stop = threading.Event()
    workers = [threading.Thread(target=worker, args=(host, int(port), stop, i), daemon=True)
               for i in range(threads)]
    for w in workers:
        w.start()
    # The warm-up: at least WARMUP seconds, and on until the properties cache is full (its
    # gauge the same within 1 % over the last 3 samples: at its bound, evictions hold it
    # there), which on a slower machine takes longer; at most 3 times WARMUP.
    warm_end = time.time() + warmup
    warm_cap = time.time() + 3 * warmup
    kept_seen = []

    def cache_full():
        if len(kept_seen) < 3 or not kept_seen[-1]:
            return False
        last = kept_seen[-3:]
        return max(last) - min(last) <= 0.01 * max(last)

    while time.time() < warm_cap and (time.time() < warm_end or not cache_full()):
        kept_seen.append(sample("warm-up") or 0.0)
        time.sleep(min(10, max(0, warm_cap - time.time())))
    warm_seconds = round(time.time() - start)
    if warmup > 0 and not cache_full():
        print(f"warm-up: the properties cache was still filling after {warm_seconds} s", flush=True)
    measured_from[0] = time.time()
    until = measured_from[0] + seconds
    warm_requests = done["requests"]
    while time.time() < until:
        sample("soak")
        time.sleep(min(10, max(0, until - time.time())))
    stop.set()
    for w in workers:
        w.join(timeout=60)
    sample("soak")
    requests = done["requests"] - warm_requests
    # Growth over the measured window: the second half's mean against the first half's,
    # and the least-squares trend over the whole window against its mean.
    body = [(t, m) for t, m, phase in samples if phase == "soak"]
    half = len(body) // 2
    first = sum(m for _, m in body[:half]) / max(1, half)
    second = sum(m for _, m in body[half:]) / max(1, len(body) - half)
    mean = sum(m for _, m in body) / max(1, len(body))
    growth = (second - first) / first * 100 if first else 0.0
    slope = trend(body)
    rise = slope * seconds / mean * 100 if mean else 0.0
    print(f"soak: {seconds} s measured after {warm_seconds} s of warm-up, {threads} threads, {requests} requests ({requests / seconds:.0f}/s), "
          f"{len(errors)} errors; RSS first half {first:.1f} MB, second half {second:.1f} MB "
          f"({growth:+.1f} %), trend {slope * 60:+.2f} MB/min ({rise:+.1f} % of the mean over "
          f"the window), peak {max(m for _, m, _ in samples):.1f} MB (warm-up included)")
    rest = [(t, m) for t, m, phase in others if phase == "soak"]
    if len(rest) >= 2:
        rest_mean = sum(m for _, m in rest) / len(rest)
        rest_slope = trend(rest)
        print(f"RSS less SQLite's heap and the properties cache: {rest[0][1]:.1f} MB at the "
              f"start of the window, {rest[-1][1]:.1f} MB at its end, trend "
              f"{rest_slope * 60:+.2f} MB/min ({rest_slope * seconds / rest_mean * 100:+.1f} % of "
              f"its mean over the window)")
    wal_bad = False
    if database and len(wal) >= 3:
        sizes = [size for size, _ in wal]
        third = max(1, len(sizes) * 2 // 3)
        before = max(sizes[:third])
        late = max(sizes[third:])
        restarts = sum(1 for a, b in zip(wal, wal[1:]) if a[1] != b[1])
        half = len(wal) // 2
        late_restarts = sum(1 for a, b in zip(wal[half:], wal[half + 1:]) if a[1] != b[1])
        # The file keeps the largest size it reached (SQLite reuses it from the start), so
        # a bounded WAL stops growing; 16 MiB of slack for a late burst.
        grew = late > before + 16 * 1048576
        wal_bad = grew or late_restarts == 0
        if warm_wal:
            print(f"WAL during the warm-up: {warm_wal[0] / 1048576:.1f} MiB at its start, peak "
                  f"{max(warm_wal) / 1048576:.1f} MiB")
        print(f"WAL: {sizes[0] / 1048576:.1f} MiB at the window's start, {before / 1048576:.1f} MiB by "
              f"two thirds, {sizes[-1] / 1048576:.1f} MiB at the end (peak "
              f"{max(sizes) / 1048576:.1f} MiB); started over between {restarts} of "
              f"{len(wal) - 1} sample pairs ({late_restarts} in the second half)"
              + ("; UNBOUNDED" if wal_bad else "; bounded"))
    memory_bad = growth > 10 or rise > 5
    print("memory: " + ("GROWING" if memory_bad else "no growth trend")
          + " (limits: halves +10 %, trend +5 % of the mean over the window)")
    for e in errors[:10]:
        print("error:", e)
    sys.exit(1 if errors or memory_bad or wal_bad else 0)


if __name__ == "__main__":
    main()
