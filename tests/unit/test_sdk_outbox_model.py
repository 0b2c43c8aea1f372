"""The SDK's outbox rules, property-tested: for any interleaving of SDK operations and server
answers, nothing valid is lost and nothing is counted twice that the SDK could have known.

The rules are checked twice. A Python model (tests/outbox_model.py) runs many programs fast
under the invariants below; and for a share of them the real SDK runs the same program in node
(tests/sdk/replay.mjs), which must report the model's state after every single step, so the
properties proven on the model hold for the JavaScript too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.outbox_model import Op, World, open_requests

REPLAY = Path(__file__).parent.parent / "sdk" / "replay.mjs"
KINDS = ["track"] * 6 + ["flush", "timers", "answer", "answer", "answer", "hide", "reload"]
ANSWERS = ["server", "server", "503", "network", "lost"]


@st.composite
def programs(draw: st.DrawFn) -> list[Op]:
    """A program the model can run: answers name requests that are open at that point."""
    world = World()
    program: list[Op] = []
    for _ in range(draw(st.integers(0, 60))):
        kind = draw(st.sampled_from(KINDS))
        op: Op
        if kind == "track":
            op = {"op": "track", "bad": draw(st.integers(0, 9)) == 0}
        elif kind == "answer":
            if not open_requests(world):
                continue
            op = {
                "op": "answer",
                "request": draw(st.sampled_from(open_requests(world))),
                "as": draw(st.sampled_from(ANSWERS)),
            }
        elif kind == "reload":
            op = {"op": "reload", "delivered": draw(st.booleans())}
        else:
            op = {"op": kind}
        world.run(op)
        program.append(op)
    return [*program, {"op": "drain"}]


def check_invariants(world: World) -> None:
    pending = world.page.pending()
    assert len(pending) == len(set(pending)), f"an event is pending twice: {pending}"
    in_flight = [e for events in world.page.in_flight.values() for e in events]
    assert not set(in_flight) & set(world.page.queue), "an event is both queued and in flight"
    collector = world.collector
    assert not collector.stored & collector.bad, "the collector stored a bad event"
    assert set(world.page.dropped) <= collector.bad, "the SDK dropped an event the server took"
    for event in range(world.created):
        if event not in pending:
            assert event in collector.stored | collector.bad | world.beacon_lost, (
                f"event {event} left the outbox without being stored or refused"
            )


def run_model(program: list[Op]) -> tuple[World, list[dict[str, object]]]:
    world, snapshots = World(), []
    for op in program:
        world.run(op)
        check_invariants(world)
        snapshots.append(world.snapshot())
    return world, snapshots


@settings(max_examples=400, deadline=None)
@given(programs())
def test_nothing_valid_is_lost_for_any_interleaving(program: list[Op]) -> None:
    world, _ = run_model(program)
    assert world.page.pending() == [] and not world.page.timer, "drain left events pending"
    valid = set(range(world.created)) - world.collector.bad
    assert valid - world.beacon_lost <= world.collector.stored
    # a valid event is lost only as a beacon's neighbour of a refused event: the browser
    # delivers a beacon after the page is gone, so no one is left to re-send the rest
    assert world.beacon_lost <= valid
    assert not world.beacon_lost or any(op["op"] == "hide" for op in program)
    if not any(op["op"] == "answer" and op["as"] == "lost" for op in program) and not any(
        op["op"] == "reload" and op["delivered"] for op in program
    ):
        assert world.collector.duplicates == 0, "re-sent an event whose answer the SDK had"


def test_a_beacon_next_to_a_refused_event_is_the_one_loss() -> None:
    world, _ = run_model(
        [{"op": "track", "bad": True}, {"op": "track", "bad": False}, {"op": "hide"}]
    )
    assert world.beacon_lost == {1} and world.collector.stored == set()
    world, _ = run_model(
        [
            {"op": "track", "bad": True},
            {"op": "track", "bad": False},
            {"op": "flush"},
            {"op": "drain"},
        ]
    )
    assert world.beacon_lost == set() and world.collector.stored == {1}


def replay_in_node(program: list[Op]) -> list[dict[str, object]]:
    node = shutil.which("node")
    assert node, "node is needed for the SDK tests (it is on this machine and in CI)"
    run = subprocess.run(
        [node, str(REPLAY)],
        input=json.dumps([program]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    snapshots: list[dict[str, object]] = json.loads(run.stdout)[0]
    return snapshots


@settings(max_examples=40, deadline=None)
@given(programs())
def test_the_javascript_sdk_follows_the_model_step_by_step(program: list[Op]) -> None:
    _, expected = run_model(program)
    actual = replay_in_node(program)
    for step, (op, want, got) in enumerate(zip(program, expected, actual, strict=True)):
        assert got == want, f"step {step} {op}: the SDK has {got}, the model {want}"


def test_the_race_of_issue_16_in_both() -> None:
    """A fetch in flight, the tab hidden and shown, a conversion: the conversion is stored."""
    program: list[Op] = [
        {"op": "track", "bad": False},  # page_view
        {"op": "timers"},  # in flight as request 1
        {"op": "track", "bad": False},  # heartbeat, queued
        {"op": "hide"},  # beaconed
        {"op": "track", "bad": False},  # conversion
        {"op": "answer", "request": 1, "as": "server"},
        {"op": "drain"},
    ]
    world, expected = run_model(program)
    assert world.collector.stored == {0, 1, 2}
    assert replay_in_node(program) == expected
