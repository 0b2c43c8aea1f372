"""Rollup items as stored, pure: the logical deltas of ``rollups`` on one writer's own items.

Each writer (the views of one stream shard) keeps its own item per logical key, so no two
writers ever write one item: the views read an item, change it and write it back whole (a
plain batch write: no transaction, no conditional update), and a read sums the writers' items.
An item holds:
- ``pk``; ``sk`` = ``<name>\\t<slot>\\t<writer>``; ``name`` (the hour, page, host or value);
- its counts, either ``n``, a JSON object field -> count, or, for the visits of one breakdown
  slot, ``m``, a JSON list of members with ``slot`` (the 5-minute bucket start). The sets are
  items of their own because they change far less often than the counts (a visit joins when it
  starts, leaves when it moves to another value) and grow with traffic;
- ``t``: the stream sequence number of the batch that wrote it last; a batch applied before
  is recognised by it and not added twice (``views``). So an item is never deleted, even
  when its counts come back to nothing.
One JSON attribute rather than hundreds of numbers: DynamoDB Local and boto3 spend their time
per attribute, and the views rewrite these items on every batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from liveinsight.rollups import MEMBER, Deltas, parse_field

SEPARATOR = "\t"  # writer ids and slots hold none; a name may, so sk is never parsed
COUNTS, MEMBERS, THROUGH = "n", "m", "t"

ItemKey = tuple[str, str]  # (pk, sk) as stored


@dataclass
class ItemDelta:
    """What one batch adds to one item: counts, or visits joining (+1) / leaving (-1)."""

    pk: str
    name: str
    slot: int | None = None  # set for a members item
    counts: dict[str, int] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)


def sort_key(name: str, slot: int | None, writer: str) -> str:
    return f"{name}{SEPARATOR}{'' if slot is None else slot}{SEPARATOR}{writer}"


def physical(deltas: Deltas, writer: str) -> dict[ItemKey, ItemDelta]:
    """The items ``writer`` changes for ``deltas`` (logical key -> field -> amount)."""
    out: dict[ItemKey, ItemDelta] = {}
    for (pk, name), fields in deltas.items():
        for name_of_field, amount in fields.items():
            start, field_name = parse_field(name_of_field)
            if start is not None and field_name.startswith(MEMBER):
                if amount not in (1, -1):
                    raise ValueError(
                        f"a visit joins or leaves a set once, not {amount:+d}: {name_of_field!r}"
                    )
                key = (pk, sort_key(name, start, writer))
                delta = out.setdefault(key, ItemDelta(pk, name, start))
                delta.members[field_name[len(MEMBER) :]] = amount
            else:
                key = (pk, sort_key(name, None, writer))
                out.setdefault(key, ItemDelta(pk, name)).counts[name_of_field] = amount
    return out


def applied_through(values: dict[str, Any] | None) -> int | None:
    """The sequence number of the batch that last wrote an item (None: never written)."""
    return None if not values or THROUGH not in values else int(values[THROUGH])


def merged(
    key: ItemKey, values: dict[str, Any] | None, delta: ItemDelta, through: str
) -> dict[str, Any]:
    """The item after ``delta`` (plain values): ``values`` as read (None: not there yet)."""
    item: dict[str, Any] = {"pk": key[0], "sk": key[1], "name": delta.name, THROUGH: through}
    if delta.slot is not None:
        visits = set(json.loads(values[MEMBERS])) if values and MEMBERS in values else set()
        for member, sign in delta.members.items():
            if sign > 0:
                visits.add(member)
            else:
                visits.discard(member)
        item["slot"] = delta.slot
        item[MEMBERS] = json.dumps(sorted(visits), separators=(",", ":"))
        return item
    counts: dict[str, int] = json.loads(values[COUNTS]) if values and COUNTS in values else {}
    for name, amount in delta.counts.items():
        total = counts.get(name, 0) + amount
        if total:
            counts[name] = total
        else:
            counts.pop(name, None)
    item[COUNTS] = json.dumps(counts, separators=(",", ":"))
    return item


def counts_of(values: dict[str, Any]) -> Iterator[tuple[int | None, str, int]]:
    """(5-minute slot or None for the hour, field, count) of a stored item; each member of a
    breakdown slot's set counts 1 as its ``MEMBER`` field."""
    if COUNTS in values:
        for name, n in json.loads(values[COUNTS]).items():
            slot, field_name = parse_field(name)
            yield slot, field_name, int(n)
    if MEMBERS in values:
        slot = int(values["slot"])
        for member in json.loads(values[MEMBERS]):
            yield slot, MEMBER + member, 1
