"""Household adjacency for zone contiguity: next-door neighbours along the roads."""

from __future__ import annotations

import numpy as np
import shapely

from geo.adjacency import household_graph
from geo.network import WalkNetwork, travel_matrices


def _pairs(e: np.ndarray) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in e}


def _fishbone() -> tuple[WalkNetwork, np.ndarray]:
    """A through street (x axis, 0-300 m, continuing both ways) with three dead-end lanes going
    north at x = 100, 150, 200; three houses 5 m east of each lane at 20, 40, 60 m up."""
    roads = [shapely.LineString([(-200, 0), (500, 0)])]
    xy = []
    for x in (100.0, 150.0, 200.0):
        roads.append(shapely.LineString([(x, 0), (x, 80)]))
        xy += [(x + 5, y) for y in (20.0, 40.0, 60.0)]
    return WalkNetwork.from_lines(roads), np.array(xy)


def test_lane_houses_chain_and_lanes_meet_at_the_street() -> None:
    net, xy = _fishbone()
    p = _pairs(net.doorstep_pairs(xy))
    lanes = [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
    for a, b, c in lanes:
        assert (a, b) in p and (b, c) in p  # consecutive along the lane
        assert (a, c) not in p  # the middle house stands between them
    # the first houses of all lanes open onto the same street: neighbours, even lanes 1 and 3
    assert {(0, 3), (3, 6), (0, 6)} <= p
    # a house deep in lane 1 is not a neighbour of lane 2
    assert (2, 3) not in p and (1, 4) not in p


def test_houses_along_a_through_road_do_not_close_it() -> None:
    net = WalkNetwork.from_lines([shapely.LineString([(0, 0), (400, 0)]),
                                  shapely.LineString([(0, -50), (0, 50)]),
                                  shapely.LineString([(400, -50), (400, 50)])])
    xy = np.array([[100.0, 5.0], [150.0, 5.0], [200.0, 5.0]])
    p = _pairs(net.doorstep_pairs(xy))
    assert (0, 2) in p  # walking past house 1's door along the through road is fine


def test_hamlets_on_an_empty_road_link_to_the_next_not_every_one() -> None:
    # three hamlets of 3 houses on dead-end lanes off a long road, 400 m apart
    roads = [shapely.LineString([(-100, 0), (1300, 0)])]
    xy = []
    for x in (0.0, 400.0, 800.0):
        roads.append(shapely.LineString([(x, 0), (x, 60)]))
        xy += [(x + 3, y) for y in (15.0, 30.0, 45.0)]
    net = WalkNetwork.from_lines(roads)
    xy = np.array(xy)
    unit = np.repeat([0, 1, 2], 3)
    p = net.doorstep_pairs(xy, near_m=150, reach=1.5)
    links = {tuple(sorted((int(unit[a]), int(unit[b])))) for a, b in p if unit[a] != unit[b]}
    assert links == {(0, 1), (1, 2)}  # 0-2 is twice as far as the nearest hamlet: not linked
    unlimited = net.doorstep_pairs(xy)
    assert (0, 2) in {tuple(sorted((int(unit[a]), int(unit[b])))) for a, b in unlimited}


def test_household_graph_with_roads_adds_street_neighbours_under_the_detour_rule() -> None:
    net, xy = _fishbone()
    walk = travel_matrices(xy, net).distance_m
    without = _pairs(household_graph(xy, walk))
    with_roads = _pairs(household_graph(xy, walk, network=net))
    assert without <= with_roads
    assert (0, 6) in with_roads  # lane mouths 100 m apart along the street
    for a, b in with_roads - without:  # every added pair is a short walk for its distance
        straight = float(np.hypot(*(xy[a] - xy[b])))
        assert walk[a, b] <= 2.5 * straight + 50
