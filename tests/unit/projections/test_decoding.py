"""The read side's fast decoder gives exactly the library's events: every event type of a generated
history, upcast versions, an encrypted and compressed store, and what the fast path cannot take."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Mapper

from api.demo.history import generate
from projections.audit_trail import PROJECTION as AUDIT_TRAIL
from projections.engine.decoding import EventDecoder
from projections.engine.runner import decode, handled_by
from projections.places import PROJECTION as PLACES
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment
from settlement_domain.personal_keys import is_sealed

KEY = base64.b64encode(bytes(range(32))).decode()


def same(a: Any, b: Any, where: str = "") -> None:
    """Equal values of exactly the same types, all the way down (a UUID is no string, a date no datetime)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{index}]")
    else:
        assert a == b, where


def same_events(library: list[tuple[int, Any]], fast: list[tuple[int, Any]]) -> None:
    assert [p for p, _ in library] == [p for p, _ in fast]
    for (position, expected), (_, got) in zip(library, fast, strict=True):
        assert type(got) is type(expected), position
        same(vars(expected), vars(got), f"{position} {type(expected).__name__}")


def notifications(app: SettlementApp) -> list[Any]:
    found: list[Any] = []
    while page := app.recorder.select_notifications(len(found) + 1, 5000):
        found += page
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SettlementApp]:
    """A small generated history (every kind of event the demo makes), encrypted and compressed."""
    path: Path = tmp_path_factory.mktemp("decoding") / "settlement.db"
    env = store_environment(f"sqlite:///{path}", cipher_key=KEY)
    env["COMPRESSOR_TOPIC"] = "eventsourcing.compressor:ZlibCompressor"
    app = SettlementApp(env)
    generate(app, 0.001, seed=3)
    yield app
    app.close()


def test_the_fast_path_decodes_every_event_of_a_generated_history_as_the_library_does(demo):
    decoder = EventDecoder(demo)
    assert decoder.fast and decoder._cipher and decoder._compressor  # the path under test
    stored = notifications(demo)
    library = decode(demo, stored)
    same_events(library, decoder.decode(stored))
    kinds = {type(e) for _, e in library}
    assert len(kinds) >= 20  # the history holds many event types, not a few
    # The personal parts are stored sealed with each person's key (R18) and arrive opened.
    registered = [e for _, e in decoder.decode(stored) if type(e).__name__ == "RefugeeRegistered"]
    assert registered and all(not is_sealed(e.personal) for e in registered)
    raw = next(n for n in stored if n.topic.endswith("RefugeeRegistered"))
    stored_state = json.loads(demo.mapper.compressor.decompress(demo.mapper.cipher.decrypt(raw.state)))
    assert is_sealed(stored_state["personal"])
    # Decoding again (ids now from the decoder's cache) changes nothing.
    same_events(library, decoder.decode(stored))


def test_older_versions_are_upcast_as_the_library_upcasts_them(demo):
    """Every upcast class found in the history, stored again as version 1 of its state."""
    mapper = demo.mapper
    older = []
    for n in notifications(demo):
        cls = EventDecoder(demo).event_class(n.topic)
        if getattr(cls, "class_version", 1) < 2:
            continue
        state = json.loads(mapper.compressor.decompress(mapper.cipher.decrypt(n.state)))
        state["class_version"] = 1
        raw = mapper.cipher.encrypt(mapper.compressor.compress(json.dumps(state).encode()))
        older.append(replace(n, state=raw))
    upcast = {EventDecoder(demo).event_class(n.topic) for n in older}
    assert len(upcast) >= 4, upcast
    same_events(decode(demo, older), EventDecoder(demo).decode(older))


def test_what_the_fast_path_cannot_take_goes_the_library_way(demo):
    """JSON the standard library reads and msgspec refuses (NaN) is decoded by the library."""
    mapper = demo.mapper
    n = notifications(demo)[0]
    state = json.loads(mapper.compressor.decompress(mapper.cipher.decrypt(n.state)))
    state["meta"] = {**state["meta"], "odd": float("nan")}
    odd = replace(n, state=mapper.cipher.encrypt(mapper.compressor.compress(json.dumps(state).encode())))
    ((_, event),) = EventDecoder(demo).decode([odd])
    assert event.meta["odd"] != event.meta["odd"]  # NaN, as the library decodes it


def test_a_mapper_of_another_kind_is_used_as_it_is(demo):
    class Counting(Mapper):
        calls = 0

        def to_domain_event(self, stored_event: Any) -> Any:
            Counting.calls += 1
            return super().to_domain_event(stored_event)

    own = Counting(demo.mapper.transcoder, cipher=demo.mapper.cipher, compressor=demo.mapper.compressor)

    class App:
        mapper = own

    stored = notifications(demo)[:200]
    decoder = EventDecoder(App())
    assert not decoder.fast
    same_events(decode(demo, stored), decoder.decode(stored))
    assert Counting.calls == 200


def test_events_no_projection_handles_are_not_decoded(demo):
    stored = notifications(demo)
    wanted = handled_by([PLACES])
    only = EventDecoder(demo, wanted).decode(stored)
    everything = decode(demo, stored)
    same_events([(p, e) for p, e in everything if PLACES.handler_for(type(e))], only)
    assert 0 < len(only) < len(everything)
    # The audit trail folds every event there is.
    assert len(EventDecoder(demo, handled_by([AUDIT_TRAIL])).decode(stored)) == len(everything)


def test_ids_and_instants_arrive_as_the_types_the_folds_expect(demo):
    ((_, event),) = EventDecoder(demo).decode(notifications(demo)[:1])
    assert isinstance(event.originator_id, UUID)
    assert isinstance(event.timestamp, datetime) and event.timestamp.tzinfo is not None
    dates = [
        e.respond_by for _, e in EventDecoder(demo).decode(notifications(demo)) if hasattr(e, "respond_by")
    ]
    assert dates and all(type(d) is date for d in dates)
