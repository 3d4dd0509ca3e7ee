"""The typed layers every reader produces: column contracts shared by ``geo``, ``maps`` and ``api``.

All layers are GeoDataFrames in WGS 84 (EPSG:4326, x = longitude, y = latitude).  The users' own
identifiers are kept as strings exactly as given; they are never renumbered.  Attributes a reader
does not recognise are kept in the ``attrs`` column (a ``dict`` per row) so that nothing the user
gave is lost on a round trip through the store.

Columns
-------
villages (administrative villages / communities, 村/社区)
    ``village_id`` str, ``name`` str, ``town`` str or None, ``depot_lon`` / ``depot_lat`` float or
    NaN (the village committee office, 村委会), ``attrs`` dict, ``geometry`` (Multi)Polygon or None.
areas (natural villages 自然村 and residential compounds 小区)
    ``area_id`` str, ``village_id`` str, ``name`` str, ``kind`` one of :data:`AREA_KINDS`,
    ``attrs`` dict, ``geometry`` (Multi)Polygon, or None for a "scattered households" area.
households (户)
    ``household_id`` str, ``area_id`` str or None, ``village_id`` str or None, ``address``,
    ``head`` (户主姓名), ``phone`` str or None, ``size`` (persons) Int64 or NA, ``tags`` str
    (comma-separated, from :data:`KNOWN_TAGS` or the user's own), ``placement`` one of
    :data:`PLACEMENTS`, ``attrs`` dict, ``geometry`` Point.
roads (walkable lines)
    ``road_id`` str, ``name`` str or None, ``highway`` str or None, ``attrs`` dict,
    ``geometry`` LineString.
"""

from __future__ import annotations

WGS84 = "EPSG:4326"

AREA_KINDS = ("natural_village", "compound", "scattered")
"""``scattered`` is the per-village area of scattered households (散居户), which has no outline."""

PLACEMENTS = ("in_area", "attached", "scattered", "unplaced")
"""How a household got its area: inside the polygon; attached to the nearest area within the
configured distance; put in its village's scattered-households area; or not placed at all (no
village could be found; such households are reported and not imported)."""

KNOWN_TAGS = ("elderly_alone", "low_income", "disabled", "evening_only", "open_problem")

VILLAGE_COLUMNS = ["village_id", "name", "town", "depot_lon", "depot_lat", "attrs", "geometry"]
AREA_COLUMNS = ["area_id", "village_id", "name", "kind", "attrs", "geometry"]
HOUSEHOLD_COLUMNS = [
    "household_id", "area_id", "village_id", "address", "head", "phone", "size", "tags",
    "placement", "attrs", "geometry",
]
ROAD_COLUMNS = ["road_id", "name", "highway", "attrs", "geometry"]

SCATTERED_SUFFIX = "-散居户"
"""A village's scattered-households area has id ``<village_id>-散居户``."""


def scattered_area_id(village_id: str) -> str:
    """Return the id of the scattered-households area of a village."""
    return f"{village_id}{SCATTERED_SUFFIX}"
