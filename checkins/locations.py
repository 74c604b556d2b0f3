"""A shared location as an outcall's address: reading it, and the map link buddies see.

A worker may share where they are instead of typing the address: Telegram sends a location
(or a venue) with its coordinates; Signal has no location type, and its apps share a place
as text with map links in it (Signal Android: the place's name and address, then an
OpenStreetMap link and a Google Maps link, with a map picture attached). `find_location`
reads the coordinates from such text and keeps the words around them as the address.

The coordinates are a detail like any other: they live only in the form's memory and
then inside the sealed envelope, and are shown only to a buddy who unlocks, as an
OpenStreetMap link (no third-party tracking redirect, no account needed to open it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from checkins.parsing import normalise

# Coordinates in a map link, as the apps people share from write them.
_NUMBER = r"[-+]?\d{1,3}(?:\.\d+)?"
_PAIR = re.compile(rf"^\s*({_NUMBER})\s*,\s*({_NUMBER})\s*$")
_AT_PAIR = re.compile(rf"@({_NUMBER}),({_NUMBER})")  # google.com/maps/@51.5,-0.12,17z
_OSM_HASH = re.compile(rf"map=\d+(?:\.\d+)?/({_NUMBER})/({_NUMBER})")  # #map=17/51.5/-0.12
_GEO_URI = re.compile(rf"\bgeo:({_NUMBER}),({_NUMBER})", re.IGNORECASE)
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# The words Signal Android puts before its links ("OpenStreetMap: https://…").
_LINK_LABELS = re.compile(r"(?:openstreetmap|google maps|apple maps|maps)\s*:\s*$", re.IGNORECASE)
_QUERY_KEYS = ("q", "query", "ll", "sll", "daddr", "destination", "center")
DIGITS = 6  # about 10 cm: what a phone's location gives, and no more
MAP_ZOOM = 18


@dataclass(frozen=True)
class Location:
    """Where the worker is: a point, and any words that came with it (a venue's name and
    address, or the text around a map link). Its repr shows none of them, so a stray log
    line or traceback of an event cannot carry where someone is. `live` is a Telegram live
    location: only the point it started at is taken."""

    latitude: float = field(repr=False)
    longitude: float = field(repr=False)
    label: str = field(default="", repr=False)
    live: bool = False

    @property
    def coordinates(self) -> str:
        """`51.501364,-0.141890`: how the point is sealed with the other details."""
        return f"{self.latitude:.{DIGITS}f},{self.longitude:.{DIGITS}f}"


def point(
    latitude: float, longitude: float, label: str = "", *, live: bool = False
) -> Location | None:
    """A place from numbers a messenger sent; None when they are not a point on Earth."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return Location(latitude, longitude, normalise(label), live)


def find_location(text: str) -> Location | None:
    """The place a map link or `geo:` URI in `text` points at, with the lines before the
    links (without the apps' "OpenStreetMap:" labels) as its label, the way the apps share
    a place: words first, links last. None when no link names coordinates, or when words
    follow the links: that is several things typed in one message (a one-message outcall
    whose address is a link), read line by line instead."""
    found = _coordinates_in(text)
    if found is None:
        return None
    kept: list[str] = []
    linked = False
    for line in text.splitlines():
        words = _GEO_URI.sub(" ", _URL.sub(" ", line))
        words = _LINK_LABELS.sub("", words.strip()).strip(" ,;:")
        if words and linked:
            return None
        linked = linked or words != line.strip()
        if words:
            kept.append(words)
    return point(*found, label=", ".join(kept))


def _coordinates_in(text: str) -> tuple[float, float] | None:
    geo = _GEO_URI.search(text)
    if geo:
        return float(geo[1]), float(geo[2])
    for url in _URL.findall(text):
        found = _coordinates_in_url(url)
        if found is not None:
            return found
    return None


def _coordinates_in_url(url: str) -> tuple[float, float] | None:
    """OpenStreetMap (`mlat`/`mlon`, `#map=`), Google (`q=`, `@lat,lon`), Apple (`ll=`,
    `q=`) and most others, which put the pair in one of these."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    query = parse_qs(parts.query)
    if "mlat" in query and "mlon" in query:
        return _number_pair(f"{query['mlat'][0]},{query['mlon'][0]}")
    for key in _QUERY_KEYS:
        for value in query.get(key, []):
            found = _number_pair(value)
            if found is not None:
                return found
    for pattern, where in ((_AT_PAIR, unquote(parts.path)), (_OSM_HASH, parts.fragment)):
        match = pattern.search(where)
        if match:
            return float(match[1]), float(match[2])
    return None


def _number_pair(value: str) -> tuple[float, float] | None:
    match = _PAIR.match(value)
    return (float(match[1]), float(match[2])) if match else None


def map_link(coordinates: str) -> str:
    """The OpenStreetMap page with a marker on the sealed point (`Location.coordinates`)."""
    latitude, _sep, longitude = coordinates.partition(",")
    return (
        f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}"
        f"#map={MAP_ZOOM}/{latitude}/{longitude}"
    )
