#!/usr/bin/env python3
"""Writes a datastore export (docs/EXPORT.md) of N Person objects for benchmarks.

  scripts/gen_export.py N > people.jsonl     then: datastore import people.jsonl
  scripts/gen_export.py N --companies        also 100 cities (the first "Berlin") and 10,000
                                             companies (Lookup city), and a company per
                                             person: the data of `cargo bench --bench query`

Each Person has 8 properties of the sample DSConfig (./dsconfig): firstName, lastName, age,
height, salary, birthDate, active, status; rows as the service stores them. Deterministic
(seeded), so two runs load the same data.
"""

import datetime
import json
import random
import sys

FIRST = ["Emma", "Liam", "Olivia", "Noah", "Ava", "Elias", "Mia", "Jonas", "Lea", "Paul",
         "Anna", "Felix", "Sofia", "Leon", "Marie", "Ben", "Clara", "Finn", "Ida", "Max"]
LAST = ["Doe", "Miller", "Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann",
        "Schulz", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Braun",
        "Zimmermann", "Hartmann", "Lange", "Werner"]
EPOCH = datetime.date(1970, 1, 1)


def row(name, ty, value, as_double=None, as_string=None):
    return {"name": name, "type": ty, "value": value, "asDouble": as_double,
            "asString": as_string}


def main():
    n = int(sys.argv[1])
    with_companies = "--companies" in sys.argv[2:]
    rnd = random.Random(42)
    out = sys.stdout
    now = "2026-11-30T12:00:00.000Z"
    out.write(json.dumps({"record": "header", "format": "datastore-export", "formatVersion": 1,
                          "app": "default", "system": "LIVE", "exportedAt": now,
                          "source": "sqlite", "configVersion": None}) + "\n")
    properties = 0
    objects = n
    companies = []
    later = []  # the cities and companies, written after the people (id order)
    if with_companies:
        # Ids after the people's, so the people are the same with and without them.
        crnd = random.Random(7)
        cities = []
        for c in range(100):
            oid = n + 1 + c
            name = "Berlin" if c == 0 else f"City {c}"
            cities.append((oid, name))
            later.append(json.dumps({"record": "object", "objectId": oid, "objectType": "City",
                                  "objectNumber": None, "createdAt": now, "updatedAt": now,
                                  "properties": [row("name", "String", name)]},
                                 separators=(",", ":")) + "\n")
        for c in range(10000):
            oid = n + 101 + c
            name = f"Company {c}"
            city, city_name = crnd.choice(cities)
            companies.append((oid, name))
            props = [row("city", "Lookup", str(city), float(city), city_name),
                     row("name", "String", name)]
            properties += len(props)
            later.append(json.dumps({"record": "object", "objectId": oid, "objectType": "Company",
                                  "objectNumber": f"C-{c + 1:05d}", "createdAt": now,
                                  "updatedAt": now, "properties": props},
                                 separators=(",", ":")) + "\n")
        properties += 100
        objects += 10100
    for i in range(1, n + 1):
        age = rnd.randint(1, 99)
        height = round(rnd.uniform(1.4, 2.1), 2)
        salary = f"{rnd.randint(1000, 9000)}.{rnd.randint(0, 99):02d}"
        birth = datetime.date(1930, 1, 1) + datetime.timedelta(days=rnd.randint(0, 32000))
        ms = float((birth - EPOCH).days * 86400000)
        active = rnd.random() < 0.7
        status = "A" if active else "I"
        props = [
            row("active", "Switch", "true" if active else "false", 1.0 if active else 0.0),
            row("age", "Integer", str(age), float(age)),
            row("birthDate", "Date", birth.isoformat(), ms),
            row("firstName", "String", rnd.choice(FIRST)),
            row("height", "Number", repr(height), height),
            row("lastName", "String", rnd.choice(LAST)),
            row("salary", "Currency", salary, float(salary)),
            row("status", "List", status, None, "Active" if active else "Inactive"),
        ]
        if companies:
            company, company_name = companies[(i * 7919) % len(companies)]
            props.append(row("company", "Lookup", str(company), float(company), company_name))
        props = sorted(props, key=lambda r: r["name"])
        properties += len(props)
        out.write(json.dumps({"record": "object", "objectId": i, "objectType": "Person",
                              "objectNumber": f"P-{1000 + i:07d}", "createdAt": now,
                              "updatedAt": now, "properties": props},
                             separators=(",", ":")) + "\n")
    for line in later:
        out.write(line)
    if with_companies:  # numbering records in type order
        out.write(json.dumps({"record": "numbering", "objectType": "Company", "prefix": "C-",
                              "width": 5, "nextNumber": 10001, "active": True}) + "\n")
    out.write(json.dumps({"record": "numbering", "objectType": "Person", "prefix": "P-",
                          "width": 7, "nextNumber": 1001 + n, "active": True}) + "\n")
    out.write(json.dumps({"record": "end", "objects": objects, "properties": properties,
                          "relationships": 0, "numbering": 2 if with_companies else 1,
                          "files": 0,
                          "fileChunks": 0}) + "\n")


if __name__ == "__main__":
    main()
