"""CGCS2000 zone table, CRS inference from coordinates, and contradiction checks."""

from __future__ import annotations

import pytest
from pyproj import CRS

from ecogis.crs import GK_ZONES, check_crs, gk_zone, gk_zone_of, infer_crs, metric_crs
from ecogis.errors import AmbiguousCRSError, CRSError


@pytest.mark.parametrize("epsg", sorted(GK_ZONES))
def test_zone_table_matches_proj(epsg):
    """Each EPSG code's central meridian and false easting agree with PROJ's definition."""
    z = GK_ZONES[epsg]
    params = {p.name: p.value for p in CRS.from_epsg(epsg).coordinate_operation.params}
    assert params["Longitude of natural origin"] == z.cm
    assert params["False easting"] == z.false_easting


@pytest.mark.parametrize(
    ("prefixed", "twin"),
    [(4523, 4544), (4513, 4534), (4533, 4554), (4491, 4502), (4496, 4507)],
)
def test_twin_is_matched_by_central_meridian(prefixed, twin):
    assert GK_ZONES[prefixed].twin.epsg == twin
    assert GK_ZONES[twin].twin.epsg == prefixed


def test_4545_is_cm_108_not_the_twin_of_4523():
    assert GK_ZONES[4545].cm == 108
    assert GK_ZONES[4523].twin.epsg != 4545


@pytest.mark.parametrize(
    ("bounds", "epsg"),
    [
        ((105.07, 30.17, 105.73, 30.59), 4490),  # 安居区 lon/lat
        ((35_506_775, 3_339_796, 35_570_445, 3_385_205), 4523),  # 3° zone 35 prefixed
        ((34_450_000, 3_230_000, 34_480_000, 3_270_000), 4522),  # 3° zone 34 (沙湾区)
        ((18_610_000, 3_340_000, 18_680_000, 3_390_000), 4496),  # 6° zone 18 prefixed
        ((39_500_000, 3_300_000, 39_600_000, 3_400_000), 4527),  # 3° zone 39
    ],
)
def test_infer_crs(bounds, epsg):
    crs, reason = infer_crs(bounds)
    assert crs.to_epsg() == epsg
    assert reason


def test_six_digit_easting_is_ambiguous_and_lists_candidates():
    with pytest.raises(AmbiguousCRSError) as exc:
        infer_crs((506_775, 3_339_796, 570_445, 3_385_205), file="x.shp")
    msg = str(exc.value)
    assert "EPSG:4544" in msg and "CM 105°E" in msg and "--crs" in msg
    assert (4544, GK_ZONES[4544].description) in exc.value.candidates
    assert len(exc.value.candidates) == 21 + 11
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("bounds", "needle"),
    [
        ((30.17, 105.07, 30.59, 105.73), "swapped"),  # lat, lon
        ((3_339_796, 35_506_775, 3_385_205, 35_570_445), "swapped"),  # northing first
        ((34_900_000, 3_339_796, 35_570_445, 3_385_205), "span zone"),
    ],
)
def test_infer_refuses_swapped_or_mixed(bounds, needle):
    with pytest.raises(CRSError, match=needle):
        infer_crs(bounds)


@pytest.mark.parametrize(
    ("epsg", "bounds", "needle"),
    [
        (4523, (506_775, 3_339_796, 570_445, 3_385_205), "EPSG:4544"),  # prefix expected
        (4544, (35_506_775, 3_339_796, 35_570_445, 3_385_205), "EPSG:4523"),  # prefix present
        (4523, (34_506_775, 3_339_796, 34_570_445, 3_385_205), "prefix 34"),
        (4523, (105.07, 30.17, 105.73, 30.59), "lon/lat"),
        (4490, (35_506_775, 3_339_796, 35_570_445, 3_385_205), "EPSG:4523"),
        (4490, (30.17, 105.07, 30.59, 105.73), "swapped"),
        (4523, (3_339_796, 35_506_775, 3_385_205, 35_570_445), "swapped"),
        (4544, (506_775, 9_339_796, 570_445, 9_385_205), "outside China"),
    ],
)
def test_declared_crs_contradicting_coordinates_is_an_error(epsg, bounds, needle):
    with pytest.raises(CRSError, match=needle):
        check_crs(CRS.from_epsg(epsg), bounds, file="f.shp", layer="l")


@pytest.mark.parametrize(
    ("epsg", "bounds"),
    [
        (4490, (105.07, 30.17, 105.73, 30.59)),
        (4523, (35_506_775, 3_339_796, 35_570_445, 3_385_205)),
        (4544, (506_775, 3_339_796, 570_445, 3_385_205)),
        (4326, (105.07, 30.17, 105.73, 30.59)),
    ],
)
def test_consistent_crs_passes(epsg, bounds):
    check_crs(CRS.from_epsg(epsg), bounds)


def test_metric_crs_picks_nearest_3_degree_zone():
    assert metric_crs((105.07, 30.17, 105.73, 30.59)).to_epsg() == 4544
    # 沙湾区's centre (103.58°E) is nearer CM 105°E than CM 102°E
    assert metric_crs((103.42, 29.19, 103.74, 29.53)).to_epsg() == 4544
    assert metric_crs((101.0, 29.0, 101.2, 29.5)).to_epsg() == 4543
    assert gk_zone_of(4523).cm == 105
    assert gk_zone(108).epsg == 4545
