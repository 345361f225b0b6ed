"""Checks the vectors themselves: the schema, and the script cases on a real Redis.

Every `vectors/v1/*.json` file must validate against `vectors/schema.json`.
Every case of `scripts.json` runs its script from `spec/scripts/` on a
clean database (FLUSHDB): the database is seeded with the case's `before`,
the script runs with the case's KEYS and ARGV, and the reply, the whole
database afterwards and the messages published must be exactly the case's.
Stream entry ids that a script generates are checked to be valid and
increasing, and a reply naming one is checked to be that entry's id.

Usage: `.venv/bin/python -m conformance.check_vectors` from the repository
root (uses REDIS_URL, or starts a throwaway redis-server).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import redis
from ardiq_testing import choose_redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VECTORS = HERE / "vectors" / "v1"
SCHEMA = HERE / "vectors" / "schema.json"
SCRIPTS = ROOT / "spec" / "scripts"
ENTRY_ID = re.compile(rb"^([0-9]+)-([0-9]+)$")
SENTINEL_CHANNEL = "conformance:sentinel"


@dataclass
class Outcome:
    """The result of one case: passed, or failed with the reason."""

    name: str
    passed: bool
    reason: str = ""


class MismatchError(Exception):
    """The observed state differs from the case's expectation."""


def load_vectors() -> dict[str, dict[str, Any]]:
    """Every vector file by area name."""
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(VECTORS.glob("*.json")):
        documents[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return documents


def validate_vectors() -> list[Outcome]:
    """One outcome per vector file: does it validate against the schema, with unique names?"""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    outcomes = []
    seen: set[str] = set()
    for area, document in load_vectors().items():
        errors = [f"{error.json_path}: {error.message[:200]}" for error in validator.iter_errors(document)]
        if document.get("area") != area:
            errors.append(f"area {document.get('area')!r} is not the file name {area!r}")
        for case in document.get("cases", []):
            name = case.get("name", "")
            if name in seen:
                errors.append(f"duplicate case name {name}")
            seen.add(name)
            if not name.startswith(f"{area}."):
                errors.append(f"case {name} does not start with {area}.")
        outcomes.append(Outcome(f"schema.{area}", not errors, "; ".join(errors[:5])))
    return outcomes


def as_bytes(spec: dict[str, str]) -> bytes:
    """A vector's `{"text": ...}` or `{"hex": ...}` as bytes."""
    if "text" in spec:
        return spec["text"].encode()
    return bytes.fromhex(spec["hex"])


def raw(client: redis.Redis, *args: Any) -> Any:
    """Runs one command and returns the unparsed RESP2 reply (field order kept)."""
    connection: Any = client.connection_pool.get_connection()
    try:
        connection.send_command(*args)
        return connection.read_response()
    finally:
        client.connection_pool.release(connection)


def seed(client: redis.Redis, states: list[dict[str, Any]]) -> None:
    """Writes a case's `before` into an empty database."""
    for state in states:
        key, kind = state["key"], state["type"]
        if kind == "string":
            client.set(key, as_bytes(state["value"]))
        elif kind == "hash":
            for field, value in state["fields"]:
                client.hset(key, as_bytes(field), as_bytes(value))
        elif kind == "zset":
            for member, score in state["members"]:
                client.zadd(key, {as_bytes(member): score})
        elif kind == "set":
            client.sadd(key, *[as_bytes(member) for member in state["members"]])
        elif kind == "stream":
            seed_stream(client, key, state)
        if "ttl_ms" in state:
            client.pexpire(key, state["ttl_ms"])


def seed_stream(client: redis.Redis, key: str, state: dict[str, Any]) -> None:
    for entry in state["entries"]:
        flat = [item for pair in entry["fields"] for item in (as_bytes(pair[0]), as_bytes(pair[1]))]
        raw(client, "XADD", key, entry.get("id", "*"), *flat)
    groups = state.get("groups", [])
    if not state["entries"] and not groups:
        raw(client, "XGROUP", "CREATE", key, "conformance-seed", "$", "MKSTREAM")
        raw(client, "XGROUP", "DESTROY", key, "conformance-seed")
    for group in groups:
        raw(client, "XGROUP", "CREATE", key, group["name"], "0", "MKSTREAM")
        for consumer in group.get("consumers", []):
            raw(client, "XGROUP", "CREATECONSUMER", key, group["name"], consumer)
        for read in group.get("reads", []):
            raw(
                client,
                "XREADGROUP",
                "GROUP",
                group["name"],
                read["consumer"],
                "COUNT",
                read["count"],
                "STREAMS",
                key,
                ">",
            )
        if "idle_ms" in group:
            # Age every pending entry, keeping its consumer; JUSTID counts no delivery.
            for item in raw(client, "XPENDING", key, group["name"], "-", "+", 100000):
                raw(
                    client,
                    "XCLAIM",
                    key,
                    group["name"],
                    item[1],
                    0,
                    item[0],
                    "IDLE",
                    group["idle_ms"],
                    "JUSTID",
                )


def check_database(client: redis.Redis, states: list[dict[str, Any]]) -> dict[str, list[bytes]]:
    """Compares the whole database with a case's `after`; returns each stream's entry ids."""
    expected_keys = {state["key"].encode() for state in states}
    actual_keys = set(client.keys("*"))
    if actual_keys != expected_keys:
        extra = sorted(actual_keys - expected_keys)
        missing = sorted(expected_keys - actual_keys)
        raise MismatchError(f"keys differ: unexpected {extra}, missing {missing}")
    stream_ids: dict[str, list[bytes]] = {}
    for state in states:
        key, kind = state["key"], state["type"]
        actual_type = client.type(key)
        if actual_type != kind.encode():
            raise MismatchError(f"{key}: type {actual_type!r}, expected {kind}")
        pttl = client.pttl(key)
        if "ttl_ms" in state:
            if not 0 < pttl <= state["ttl_ms"]:
                raise MismatchError(f"{key}: PTTL {pttl}, expected 0 < PTTL <= {state['ttl_ms']}")
        elif pttl != -1:
            raise MismatchError(f"{key}: PTTL {pttl}, expected no TTL")
        if kind == "string":
            actual = client.get(key)
            if actual != as_bytes(state["value"]):
                raise MismatchError(f"{key}: value {actual!r}, expected {as_bytes(state['value'])!r}")
        elif kind == "hash":
            actual_hash = client.hgetall(key)
            wanted = {as_bytes(field): as_bytes(value) for field, value in state["fields"]}
            if actual_hash != wanted:
                raise MismatchError(f"{key}: fields {actual_hash!r}, expected {wanted!r}")
        elif kind == "zset":
            members: Any = client.zrange(key, 0, -1, withscores=True)
            actual_zset = [(member, float(score)) for member, score in members]
            wanted_zset = [(as_bytes(member), float(score)) for member, score in state["members"]]
            if actual_zset != wanted_zset:
                raise MismatchError(f"{key}: members {actual_zset!r}, expected {wanted_zset!r}")
        elif kind == "set":
            actual_set = set(client.smembers(key))
            wanted_set = {as_bytes(member) for member in state["members"]}
            if actual_set != wanted_set:
                raise MismatchError(f"{key}: members {actual_set!r}, expected {wanted_set!r}")
        elif kind == "stream":
            stream_ids[key] = check_stream(client, key, state)
    return stream_ids


def check_stream(client: redis.Redis, key: str, state: dict[str, Any]) -> list[bytes]:
    entries = raw(client, "XRANGE", key, "-", "+")
    if len(entries) != len(state["entries"]):
        raise MismatchError(f"{key}: {len(entries)} entries, expected {len(state['entries'])}")
    ids: list[bytes] = []
    previous = (-1, -1)
    for index, ((entry_id, flat), wanted) in enumerate(zip(entries, state["entries"], strict=True)):
        match = ENTRY_ID.match(entry_id)
        if match is None:
            raise MismatchError(f"{key}[{index}]: {entry_id!r} is not a stream entry id")
        numeric = (int(match.group(1)), int(match.group(2)))
        if numeric <= previous:
            raise MismatchError(f"{key}[{index}]: id {entry_id!r} does not increase")
        previous = numeric
        if "id" in wanted and entry_id != wanted["id"].encode():
            raise MismatchError(f"{key}[{index}]: id {entry_id!r}, expected {wanted['id']}")
        wanted_flat = [item for pair in wanted["fields"] for item in (as_bytes(pair[0]), as_bytes(pair[1]))]
        if list(flat) != wanted_flat:
            raise MismatchError(f"{key}[{index}]: fields {flat!r}, expected {wanted_flat!r}")
        ids.append(entry_id)
    groups = raw(client, "XINFO", "GROUPS", key)
    names = sorted(dict(zip(group[::2], group[1::2], strict=True))[b"name"] for group in groups)
    wanted_groups = state.get("groups", [])
    if names != sorted(group["name"].encode() for group in wanted_groups):
        raise MismatchError(
            f"{key}: consumer groups {names!r}, expected {[g['name'] for g in wanted_groups]}"
        )
    for group in wanted_groups:
        pending = raw(client, "XPENDING", key, group["name"], "-", "+", 100000)
        actual_pending = [(item[0], item[1], item[3]) for item in pending]
        wanted_pending = [
            (item["id"].encode(), item["consumer"].encode(), item["deliveries"])
            for item in group.get("pending", [])
        ]
        if actual_pending != wanted_pending:
            raise MismatchError(
                f"{key}: group {group['name']} pending {actual_pending!r}, expected {wanted_pending!r}"
            )
        for item, wanted_item in zip(pending, group.get("pending", []), strict=True):
            idle = int(item[2])
            low, high = wanted_item.get("min_idle_ms", 0), wanted_item.get("max_idle_ms")
            if idle < low or (high is not None and idle > high):
                raise MismatchError(
                    f"{key}: entry {wanted_item['id']} idle {idle} ms, expected {low}..{high}"
                )
        if "consumers" in group:
            infos = raw(client, "XINFO", "CONSUMERS", key, group["name"])
            actual = sorted(dict(zip(info[::2], info[1::2], strict=True))[b"name"] for info in infos)
            if actual != sorted(name.encode() for name in group["consumers"]):
                raise MismatchError(
                    f"{key}: group {group['name']} consumers {actual!r}, expected {group['consumers']!r}"
                )
    return ids


def check_reply(
    actual: Any, wanted: dict[str, Any], stream_ids: dict[str, list[bytes]], path: str = "reply"
) -> None:
    ((kind, inner),) = wanted.items()
    if kind == "nil":
        ok = actual is None
    elif kind == "int":
        ok = isinstance(actual, int) and actual == inner
    elif kind == "int_range":
        ok = isinstance(actual, int) and inner["min"] <= actual <= inner["max"]
    elif kind == "bulk":
        ok = isinstance(actual, bytes) and actual == as_bytes(inner)
    elif kind == "entry_id":
        ids = stream_ids.get(inner["key"], [])
        ok = isinstance(actual, bytes) and inner["index"] < len(ids) and actual == ids[inner["index"]]
    else:
        if not isinstance(actual, list) or len(actual) != len(inner):
            raise MismatchError(f"{path}: {actual!r}, expected an array of {len(inner)}")
        for index, (item, wanted_item) in enumerate(zip(actual, inner, strict=True)):
            check_reply(item, wanted_item, stream_ids, f"{path}[{index}]")
        return
    if not ok:
        raise MismatchError(f"{path}: {actual!r}, expected {wanted!r}")


def run_script_case(client: redis.Redis, case: dict[str, Any]) -> None:
    """Runs one `scripts.json` case; raises MismatchError on any difference."""
    client.flushdb()
    seed(client, case["before"])
    pubsub = None
    if "published" in case:
        untyped: Any = client
        pubsub = untyped.pubsub()
        pubsub.psubscribe("*")
        pubsub.get_message(timeout=5)  # the psubscribe confirmation
    source = (SCRIPTS / f"{case['script']}.lua").read_text(encoding="utf-8")
    argv = [as_bytes(item) for item in case["argv"]]
    try:
        reply = raw(client, "EVAL", source, len(case["keys"]), *case["keys"], *argv)
    except redis.ResponseError as error:
        raise MismatchError(f"script error: {error}") from error
    try:
        if pubsub is not None:
            check_published(client, pubsub, case["published"])
    finally:
        if pubsub is not None:
            pubsub.close()
    stream_ids = check_database(client, case["after"])
    check_reply(reply, case["reply"], stream_ids)


def check_published(client: redis.Redis, pubsub: Any, wanted: list[list[str]]) -> None:
    # A sentinel published after the script arrives after everything the script published.
    client.publish(SENTINEL_CHANNEL, "end")
    messages = []
    while True:
        message = pubsub.get_message(timeout=10)
        if message is None:
            raise MismatchError("the sentinel message never arrived")
        if message["type"] != "pmessage":
            continue
        if message["channel"] == SENTINEL_CHANNEL.encode():
            break
        messages.append([message["channel"].decode(), message["data"].decode()])
    if messages != wanted:
        raise MismatchError(f"published {messages!r}, expected {wanted!r}")


def run_script_cases(url: str) -> list[Outcome]:
    """Every `scripts.json` case on the Redis at `url` (its database is flushed)."""
    client = redis.Redis.from_url(url, protocol=2)
    outcomes = []
    try:
        for case in load_vectors()["scripts"]["cases"]:
            try:
                run_script_case(client, case)
                outcomes.append(Outcome(case["name"], True))
            except MismatchError as error:
                outcomes.append(Outcome(case["name"], False, str(error)))
        client.flushdb()
    finally:
        client.close()
    return outcomes


def main() -> int:
    outcomes = validate_vectors()
    with choose_redis() as server:
        outcomes += run_script_cases(server.url)
    for outcome in outcomes:
        detail = f": {outcome.reason}" if outcome.reason else ""
        print(f"{'PASS' if outcome.passed else 'FAIL'} {outcome.name}{detail}")
    failed = sum(not outcome.passed for outcome in outcomes)
    print(f"{len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
