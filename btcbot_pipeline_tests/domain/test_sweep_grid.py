"""A sweep's grid: both forms expand exactly, in a fixed order, and bad grids say what to fix."""

from __future__ import annotations

import pytest

from btcbot_pipeline.domain.sweep_grid import GridError, expand, member_names, sweep_of, varying_keys

KNOWN = {"STAGE7_SLIPPAGE_BPS", "STAGE7_REBALANCE_BAND_BPS", "STAGE7_UNIVERSE_SIZE", "STAGE7_SCORE_WEIGHTS"}


def test_a_grid_is_the_cartesian_product_keys_sorted_values_in_file_order() -> None:
    data = {"grid": {"STAGE7_UNIVERSE_SIZE": [5, 3], "STAGE7_SLIPPAGE_BPS": ["40", "0.10"]}}

    assert expand(data, known=KNOWN) == [
        {"STAGE7_SLIPPAGE_BPS": "40", "STAGE7_UNIVERSE_SIZE": "5"},
        {"STAGE7_SLIPPAGE_BPS": "40", "STAGE7_UNIVERSE_SIZE": "3"},
        {"STAGE7_SLIPPAGE_BPS": "0.10", "STAGE7_UNIVERSE_SIZE": "5"},
        {"STAGE7_SLIPPAGE_BPS": "0.10", "STAGE7_UNIVERSE_SIZE": "3"},
    ]


def test_a_list_of_sets_is_taken_as_listed_with_values_as_setting_text() -> None:
    data = {
        "sets": [
            {"STAGE7_SLIPPAGE_BPS": "10"},
            {"STAGE7_UNIVERSE_SIZE": 8, "STAGE7_SLIPPAGE_BPS": "25"},
            {"STAGE7_SCORE_WEIGHTS": {"liquidity": "0.5", "spread": "0.5"}},
        ]
    }

    sets = expand(data, known=KNOWN)

    assert sets == [
        {"STAGE7_SLIPPAGE_BPS": "10"},
        {"STAGE7_SLIPPAGE_BPS": "25", "STAGE7_UNIVERSE_SIZE": "8"},
        {"STAGE7_SCORE_WEIGHTS": '{"liquidity":"0.5","spread":"0.5"}'},
    ]
    assert varying_keys(sets) == ["STAGE7_SCORE_WEIGHTS", "STAGE7_SLIPPAGE_BPS", "STAGE7_UNIVERSE_SIZE"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"grids": {}},
            "g.yaml: expected either a 'grid' mapping of SETTING: [values] or a 'sets' list of {SETTING: value} "
            "mappings (and nothing else at the top level)",
        ),
        (
            {"grid": {"STAGE7_SLIPPAGE_BPS": ["1"]}, "sets": []},
            "g.yaml: expected either a 'grid' mapping of SETTING: [values] or a 'sets' list of {SETTING: value} "
            "mappings (and nothing else at the top level)",
        ),
        ({"grid": {}}, "g.yaml: 'grid' must map each setting to a non-empty list of values"),
        (
            {"grid": {"STAGE7_SLIPPAGE_BPS": "10"}},
            "g.yaml: grid key 'STAGE7_SLIPPAGE_BPS' must have a non-empty list of values, was '10'",
        ),
        (
            {"grid": {"STAGE7_SLIPPAGE_BPS": []}},
            "g.yaml: grid key 'STAGE7_SLIPPAGE_BPS' must have a non-empty list of values, was []",
        ),
        (
            {"grid": {"STAGE7_SLIPAGE_BPS": ["10"]}},
            "g.yaml: unknown setting 'STAGE7_SLIPAGE_BPS' (settings are named like STAGE7_SLIPPAGE_BPS)",
        ),
        ({"sets": []}, "g.yaml: 'sets' must be a non-empty list of {SETTING: value} mappings"),
        ({"sets": [{}]}, "g.yaml: set 1 must be a non-empty mapping of SETTING: value, was {}"),
        (
            {"sets": [{"STAGE7_SLIPPAGE_BPS": "10"}, {"STAGE7_SLIPPAGE_BPS": "10"}]},
            "g.yaml: parameter sets 1 and 2 are the same (STAGE7_SLIPPAGE_BPS=10)",
        ),
        (
            {"grid": {"STAGE7_SLIPPAGE_BPS": ["10", 10]}},
            "g.yaml: parameter sets 1 and 2 are the same (STAGE7_SLIPPAGE_BPS=10)",
        ),
        (
            {"grid": {"STAGE7_SLIPPAGE_BPS": [None]}},
            "value None: a string, integer, boolean, list or mapping is expected (quote numbers)",
        ),
    ],
)
def test_a_bad_grid_is_refused_with_what_to_fix(data: object, message: str) -> None:
    with pytest.raises(GridError) as refused:
        expand(data, known=KNOWN, source="g.yaml")
    assert str(refused.value) == message


def test_member_names_cannot_collide_across_sweeps() -> None:
    assert member_names("s", 2) == ["s__001", "s__002"]
    assert member_names("s", 1000)[-1] == "s__1000"
    assert [sweep_of(m) for m in ("s__001", "a_b__1000", "x__001__002")] == ["s", "a_b", "x__001"]
    with pytest.raises(GridError) as refused:
        sweep_of("plain")
    assert str(refused.value) == "'plain' is not a sweep member name (<sweep>__<number>)"
