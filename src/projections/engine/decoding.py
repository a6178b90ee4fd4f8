"""Decoding the stored events for the read side, once per page, faster than the library's mapper.

The library's ``Mapper.to_domain_event`` decodes the JSON with the standard library and an object
hook (a Python call per JSON object) and builds a new ``UUID`` for every id it meets. For the read
side, :class:`EventDecoder` does the same steps with ``msgspec`` and a walk that converts only the
values the transcoder tagged (``{"_type_": ..., "_data_": ...}``), reusing ``UUID`` objects for ids
seen before; everything else is the library's own behaviour, in its order:

1. the stored state is decrypted (``SETTLEMENT_CIPHER_KEY``) and decompressed when the store is;
2. the JSON is decoded and each tagged value handed to the transcoding registered under its name
   (the library's ``uuid_hex``, ``datetime_iso`` and our ``date_iso`` directly; any other one, for
   example an encrypted personal part, through its own ``decode``, so it arrives as that
   transcoding makes it);
3. ``originator_id`` and ``originator_version`` are set from the stored event, the state is upcast
   from its ``class_version`` with the event class's ``upcast_vN_vN+1`` methods, and the event object
   is made without calling its ``__init__``.

Events of classes that no projection handles are not decoded at all (``wanted``).

When the application's mapper or transcoder is not the library's own (a subclass may decode
differently), the decoder falls back to ``mapper.to_domain_event`` for every event: slower, never
different. ``tests/unit/projections/test_decoding.py`` checks the fast path equals the library's on
every event type of a generated history, upcast versions included.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

import msgspec
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    TranscodingNotRegisteredError,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

from settlement_domain.persistence import DateAsISO

Decoded = list[tuple[int, Any]]

# Ids recur (a person's every event names it): one UUID object per id, up to this many ids.
UUID_CACHE_LIMIT = 500_000
_NO = object()


class EventDecoder:
    """Decodes pages of notifications into ``(position, event)`` pairs, the events of ``wanted``
    classes only (all when None)."""

    def __init__(self, app: Any, wanted: Callable[[type[Any]], bool] | None = None) -> None:
        mapper = app.mapper
        self._mapper = mapper
        self._wanted = wanted
        transcoder = getattr(mapper, "transcoder", None)
        # The fast path only where it is known to do what the library does: the library's mapper, or
        # a mapper whose only addition is a step after the library's decoding (``open_event``: the
        # personal parts sealed with a person's key, settlement_domain/personal_keys.py).
        self._open = getattr(mapper, "open_event", None) if type(mapper) is not Mapper else None
        self.fast = (type(mapper) is Mapper or self._open is not None) and type(transcoder) is JSONTranscoder
        self._cipher = getattr(mapper, "cipher", None)
        self._compressor = getattr(mapper, "compressor", None)
        self._classes: dict[str, type[Any] | None] = {}  # topic -> class (None: not wanted)
        self._uuids: dict[str, UUID] = {}
        self._json = msgspec.json.Decoder()
        self._tags: dict[str, Callable[[Any], Any]] = {}
        if self.fast:
            assert isinstance(transcoder, JSONTranscoder)
            for name, transcoding in transcoder.names.items():
                if type(transcoding) is UUIDAsHex:
                    self._tags[name] = self._uuid
                elif type(transcoding) is DatetimeAsISO:
                    self._tags[name] = _datetime
                elif type(transcoding) is DateAsISO:
                    self._tags[name] = _date
                else:
                    self._tags[name] = transcoding.decode

    def event_class(self, topic: str) -> type[Any] | None:
        """The class of events stored under ``topic``, or None when no one wants them."""
        try:
            return self._classes[topic]
        except KeyError:
            cls = resolve_topic(topic)
            found = cls if self._wanted is None or self._wanted(cls) else None
            self._classes[topic] = found
            return found

    def decode(self, notifications: Sequence[Any]) -> Decoded:
        """The wanted events of a page, in log order, with their positions."""
        event_class = self.event_class
        if not self.fast:
            to_domain_event = self._mapper.to_domain_event
            return [(n.id, to_domain_event(n)) for n in notifications if event_class(n.topic) is not None]
        decoded: Decoded = []
        one = self._one
        for n in notifications:
            cls = event_class(n.topic)
            if cls is not None:
                decoded.append((n.id, one(cls, n)))
        return decoded

    def _one(self, cls: type[Any], stored: Any) -> Any:
        state = stored.state
        try:
            if self._cipher:
                state = self._cipher.decrypt(state)
            if self._compressor:
                state = self._compressor.decompress(state)
            event_state = self._walk(self._json.decode(state))
        except Exception:
            # Whatever the fast path cannot take (JSON the standard library accepts and msgspec
            # does not, like NaN; a state that does not decrypt) goes the library's way, which
            # decodes it or raises its own error for it.
            return self._mapper.to_domain_event(stored)
        originator_id = stored.originator_id
        convert_id = find_id_convertor(cast(Hashable, cls), cast(Hashable, type(originator_id)))
        event_state["originator_id"] = convert_id(originator_id)
        event_state["originator_version"] = stored.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", event_state)
        return event if self._open is None else self._open(event)

    def _walk(self, value: Any) -> Any:
        """Converts the transcoder's tagged values inside ``value``, innermost first (as the
        library's object hook does)."""
        kind = type(value)
        if kind is dict:
            tags = self._tags
            for key, item in value.items():
                item_kind = type(item)
                if item_kind is dict:
                    # Most nested objects are tagged scalars (an id, an instant): converted here,
                    # without a call per object.
                    if len(item) == 2 and type(data := item.get("_data_", _NO)) is str and "_type_" in item:
                        convert = tags.get(item["_type_"])
                        if convert is not None:
                            value[key] = convert(data)
                            continue
                    value[key] = self._walk(item)
                elif item_kind is list:
                    value[key] = self._walk(item)
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                name = value["_type_"]
                try:
                    convert = tags[name]
                except KeyError:
                    raise TranscodingNotRegisteredError(
                        f"Data serialized with name '{name}' is not deserializable. "
                        "Please register a custom transcoding for this type."
                    ) from None
                return convert(value["_data_"])
            return value
        if kind is list:
            for index, item in enumerate(value):
                item_kind = type(item)
                if item_kind is dict or item_kind is list:
                    value[index] = self._walk(item)
        return value

    def _uuid(self, data: Any) -> UUID:
        uuids = self._uuids
        try:
            return uuids[data]
        except KeyError:
            assert isinstance(data, str)
            if len(uuids) >= UUID_CACHE_LIMIT:
                uuids.clear()
            found = uuids[data] = UUID(data)
            return found
        except TypeError:  # not hashable: let the library's conversion say what is wrong
            return UUID(data)


def _datetime(data: Any) -> datetime:
    assert isinstance(data, str)
    return datetime.fromisoformat(data)


def _date(data: Any) -> date:
    assert isinstance(data, str)
    return date.fromisoformat(data)
