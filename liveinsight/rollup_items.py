"""Rollup items as stored, pure: the logical deltas of ``rollups`` on one writer's own items.

Each writer (the views of one stream shard) keeps its own item per logical key, so no two
writers ever write one item: the views read an item, change it and write it back whole (a
plain batch write: no transaction, no conditional update), and a read sums the writers' items.
An item holds:
- ``pk``; ``sk`` = ``<name>\t<part>\t<writer>``; ``name`` (the hour, page, host or value);
- its counts as JSON objects: ``n`` the hour's totals (field -> count) and ``s`` its 5-minute
  slots (``<slot>\t<field>`` -> count), apart so that a read of whole hours takes only ``n``;
  or, for a breakdown value's visits, ``m``, slot -> list of members (the ``m`` part). The sets are an item
  of their own because they change far less often than the counts (a visit joins when it
  starts, leaves when it moves to another value) and grow with traffic; one item per value
  and hour, not per slot, because a read takes every item of the hour's partition;
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
COUNTS, SLOTS, MEMBERS, THROUGH = "n", "s", "m", "t"

ItemKey = tuple[str, str]  # (pk, sk) as stored


@dataclass
class ItemDelta:
    """What one batch adds to one item: counts, or visits joining (+1) / leaving (-1) the
    sets of its 5-minute slots."""

    pk: str
    name: str
    counts: dict[str, int] = field(default_factory=dict)
    members: dict[tuple[int, str], int] = field(default_factory=dict)  # (slot, member) -> +-1

    @property
    def is_members(self) -> bool:
        return bool(self.members)


def sort_key(name: str, part: str, writer: str) -> str:
    return f"{name}{SEPARATOR}{part}{SEPARATOR}{writer}"


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
                key = (pk, sort_key(name, MEMBERS, writer))
                delta = out.setdefault(key, ItemDelta(pk, name))
                delta.members[(start, field_name[len(MEMBER) :])] = amount
            else:
                key = (pk, sort_key(name, "", writer))
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
    if delta.is_members:
        slots: dict[str, list[str]] = (
            json.loads(values[MEMBERS]) if values and MEMBERS in values else {}
        )
        sets = {slot: set(visits) for slot, visits in slots.items()}
        for (slot, member), sign in delta.members.items():
            visits = sets.setdefault(str(slot), set())
            if sign > 0:
                visits.add(member)
            else:
                visits.discard(member)
        item[MEMBERS] = json.dumps(
            {slot: sorted(visits) for slot, visits in sorted(sets.items()) if visits},
            separators=(",", ":"),
        )
        return item
    parts = {
        part: json.loads(values[part]) if values and part in values else {}
        for part in (COUNTS, SLOTS)
    }
    for name, amount in delta.counts.items():
        counts = parts[COUNTS if parse_field(name)[0] is None else SLOTS]
        total = counts.get(name, 0) + amount
        if total:
            counts[name] = total
        else:
            counts.pop(name, None)
    for part, counts in parts.items():
        item[part] = json.dumps(counts, separators=(",", ":"))
    return item


def counts_of(values: dict[str, Any]) -> Iterator[tuple[int | None, str, int]]:
    """(5-minute slot or None for the hour, field, count) of a stored item (all of it or what
    a read projected); each member of a breakdown slot's set counts 1 as its ``MEMBER`` field."""
    for part in (COUNTS, SLOTS):
        for name, n in json.loads(values.get(part) or "{}").items():
            slot, field_name = parse_field(name)
            yield slot, field_name, int(n)
    if MEMBERS in values:
        for slot, members in json.loads(values[MEMBERS]).items():
            for member in members:
                yield int(slot), MEMBER + member, 1
