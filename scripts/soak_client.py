#!/usr/bin/env python3
"""Mixed-load client for scripts/soak.sh (standard library only).

  soak_client.py URL PID SECONDS THREADS [DATABASE_FILE]

Each thread loops over a mix of requests (getObject, saveProperty, newObject, a table view,
a query, uploadFile + getFile of 1-64 KiB compared byte for byte, saveRelationship +
getChildren + dropRelationship) for SECONDS. Every answer that
is not 200 counts as an error. Every 10 s the service's RSS (VmRSS of PID) is sampled, and
with DATABASE_FILE the size of its `-wal` file and the WAL header's checkpoint sequence and
salts (they change each time SQLite starts the WAL over from its beginning).
Prints the samples and a verdict; exit 1 on any error, on memory that keeps growing, or on
a WAL that keeps growing (it grew in the last third of the run beyond the size it had
reached before, or it was never started over in the second half).
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


def worker(host, port, until, seed):
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

    while time.time() < until:
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


def main():
    url, pid, seconds, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    database = sys.argv[5] if len(sys.argv) > 5 else None
    host, port = url.split("//")[1].split(":")
    until = time.time() + seconds
    workers = [threading.Thread(target=worker, args=(host, int(port), until, i), daemon=True)
               for i in range(threads)]
    for w in workers:
        w.start()
    samples = []
    wal = []  # (size, header identity) beside each sample
    start = time.time()

    def sample():
        samples.append((round(time.time() - start), rss_mb(pid)))
        line = (f"{samples[-1][0]:5d} s  RSS {samples[-1][1]:7.1f} MB  "
                f"{done['requests']} requests, {len(errors)} errors")
        if database:
            wal.append(wal_state(database))
            restarted = len(wal) > 1 and wal[-1][1] != wal[-2][1]
            line += f"  WAL {wal[-1][0] / 1048576:6.1f} MiB" + (" (started over)" if restarted else "")
        print(line, flush=True)

    while time.time() < until:
        sample()
        time.sleep(min(10, max(0, until - time.time())))
    for w in workers:
        w.join(timeout=60)
    sample()
    # Growth: the second half's mean against the first half's (after the first sample,
    # which is before the caches filled).
    body = [m for _, m in samples[1:]]
    half = len(body) // 2
    first = sum(body[:half]) / max(1, half)
    second = sum(body[half:]) / max(1, len(body) - half)
    growth = (second - first) / first * 100 if first else 0.0
    print(f"soak: {seconds} s, {threads} threads, {done['requests']} requests "
          f"({done['requests'] / seconds:.0f}/s), {len(errors)} errors; RSS first half "
          f"{first:.1f} MB, second half {second:.1f} MB ({growth:+.1f} %), peak "
          f"{max(m for _, m in samples):.1f} MB")
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
        print(f"WAL: {sizes[0] / 1048576:.1f} MiB at the start, {before / 1048576:.1f} MiB by "
              f"two thirds, {sizes[-1] / 1048576:.1f} MiB at the end (peak "
              f"{max(sizes) / 1048576:.1f} MiB); started over between {restarts} of "
              f"{len(wal) - 1} sample pairs ({late_restarts} in the second half)"
              + ("; UNBOUNDED" if wal_bad else "; bounded"))
    for e in errors[:10]:
        print("error:", e)
    sys.exit(1 if errors or growth > 10 or wal_bad else 0)


if __name__ == "__main__":
    main()
