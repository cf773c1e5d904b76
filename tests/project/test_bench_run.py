"""The benchmark report (benchmarks/run.py): rounds, spread and ratios.

Made-up measurements only; nothing here times anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import run
from benchmarks._harness import SCENARIOS
from benchmarks.run import (
    ENVIRONMENTS,
    IMPLEMENTATIONS,
    ROW_DESCRIPTIONS,
    ROWS,
    Collected,
    Environment,
    Implementation,
    Ratio,
    Stats,
    cell,
    chart_ratios,
    evaluate,
    format_limit,
    format_rounds,
    format_value,
    load,
    served_table,
)

FLOOR, AI, V1 = IMPLEMENTATIONS[0], IMPLEMENTATIONS[1], IMPLEMENTATIONS[2]


def result(samples: dict[str, list[float]]) -> dict[str, object]:
    """What an implementation module writes for one round."""
    return {
        "versions": {"python": "3"},
        "samples": samples,
        "not_applicable": {},
        "errors": {},
    }


def collect(
    implementation: Implementation, rounds: list[dict[str, list[float]]]
) -> Collected:
    collected = Collected(implementation)
    for number, samples in enumerate(rounds):
        collected.add(result(samples), number)
    return collected


def test_rounds_are_kept_apart_and_pooled_for_the_median() -> None:
    collected = collect(AI, [{"lifecycle": [1.0, 2.0]}, {"lifecycle": [6.0, 8.0]}])
    assert collected.rounds == {"lifecycle": [[1.0, 2.0], [6.0, 8.0]]}
    assert collected.samples == {"lifecycle": [1.0, 2.0, 6.0, 8.0]}
    stats = collected.stats()["lifecycle"]
    assert stats.median == 4.0
    assert stats.round_medians == (1.5, 7.0)


def test_a_round_that_measured_nothing_keeps_the_later_rounds_in_place() -> None:
    collected = collect(AI, [{"sequential": [1.0]}, {}, {"sequential": [3.0]}])
    assert collected.rounds == {"sequential": [[1.0], [], [3.0]]}
    stats = collected.stats()["sequential"]
    assert stats.round_medians == (1.0, None, 3.0)
    assert stats.spread() == (1.0, 2.0, 3.0)


def test_spread_is_the_lowest_median_and_highest_round_median() -> None:
    collected = collect(AI, [{"x": [5.0]}, {"x": [1.0, 3.0]}, {"x": [9.0, 4.0, 2.0]}])
    assert collected.stats()["x"].spread() == (2.0, 4.0, 5.0)


def stats_of(**implementations: Collected) -> Stats:
    return {name: c.stats() for name, c in implementations.items()}


def test_worst_round_ratio_is_the_highest_ratio_within_a_round() -> None:
    floor = collect(FLOOR, [{"lifecycle": [10.0]}, {"lifecycle": [20.0]}, {}])
    mock = collect(
        AI, [{"lifecycle": [7.0]}, {"lifecycle": [9.0]}, {"lifecycle": [99.0]}]
    )
    stats = stats_of(floor=floor, aiointercept=mock)
    on_the_whole = Ratio("t", ("aiointercept", "lifecycle"), ("floor", "lifecycle"))
    worst = Ratio(
        "t", ("aiointercept", "lifecycle"), ("floor", "lifecycle"), worst_round=True
    )
    # the third round has no floor to compare with: left out of both
    assert worst.per_round(stats) == [0.7, 0.45]
    assert worst.value(stats) == 0.7
    assert on_the_whole.value(stats) == 9.0 / 15.0


def test_worst_round_ratio_without_a_common_round_is_not_measured() -> None:
    floor = collect(FLOOR, [{"lifecycle": [10.0]}, {}])
    mock = collect(AI, [{}, {"lifecycle": [7.0]}])
    ratio = Ratio("t", ("aiointercept", "lifecycle"), ("floor", "lifecycle"), 1.0, True)
    [entry] = evaluate([ratio], stats_of(floor=floor, aiointercept=mock))
    assert entry["value"] is None
    assert entry["status"] == "n/a"
    assert entry["rounds"] == []


def test_a_ratio_without_denominator_is_shown_in_its_rows_unit() -> None:
    mock = collect(AI, [{"fixture": [100e-6]}, {"fixture": [300e-6]}])
    ratio = Ratio("fixture", ("aiointercept", "fixture"), None, 250.0)
    [entry] = evaluate([ratio], stats_of(aiointercept=mock))
    assert entry["unit"] == "µs"
    assert entry["value"] == pytest.approx(200.0)
    assert entry["rounds"] == [pytest.approx(100.0), pytest.approx(300.0)]
    assert entry["status"] == "PASS"
    assert format_value(entry) == "200 µs"
    assert format_limit(entry) == "<= 250 µs"
    assert format_rounds(entry) == "100\N{EN DASH}300 µs"


def test_a_share_of_a_core_and_a_start_up_time_have_their_own_units() -> None:
    mock = collect(
        AI,
        [
            {"idle_cpu_asyncio": [0.047], "pytest_startup_overhead": [0.35]},
            {"idle_cpu_asyncio": [0.049], "pytest_startup_overhead": [0.012]},
        ],
    )
    idle, startup = evaluate(
        [
            Ratio("idle", ("aiointercept", "idle_cpu_asyncio"), None, 1.0),
            Ratio("startup", ("aiointercept", "pytest_startup_overhead"), None, 20.0),
        ],
        stats_of(aiointercept=mock),
    )
    assert (format_value(idle), format_limit(idle), idle["status"]) == (
        "4.80%",
        "<= 1%",
        "FAIL",
    )
    assert format_rounds(idle) == "4.70\N{EN DASH}4.90%"
    assert (format_value(startup), format_limit(startup)) == ("181 ms", "<= 20 ms")
    assert cell(mock, mock.stats(), "idle_cpu_asyncio") == "4.80 (4.70\N{EN DASH}4.90)%"
    assert cell(mock, mock.stats(), "pytest_startup_overhead") == (
        "181 (12.0\N{EN DASH}350) ms"
    )


def test_a_ratio_above_its_limit_fails() -> None:
    floor = collect(FLOOR, [{"lifecycle": [10.0]}])
    mock = collect(AI, [{"lifecycle": [8.04]}])
    ratio = Ratio("t", ("aiointercept", "lifecycle"), ("floor", "lifecycle"), 0.8)
    [entry] = evaluate([ratio], stats_of(floor=floor, aiointercept=mock))
    assert entry["status"] == "FAIL"
    # a third digit, so that the value does not read as the limit
    assert format_value(entry) == "0.804x"
    assert format_rounds(entry) == ""  # one round: no range


def test_a_cell_shows_the_median_and_the_range_of_the_rounds() -> None:
    mock = collect(AI, [{"lifecycle": [1100e-6]}, {"lifecycle": [1150e-6, 1200e-6]}])
    assert cell(mock, mock.stats(), "lifecycle") == "1,150 (1,100\N{EN DASH}1,175)"
    single = collect(AI, [{"sequential": [3.5e-6]}])
    assert cell(single, single.stats(), "sequential") == "3.50"


def test_a_cell_says_why_there_is_no_value() -> None:
    mock = collect(AI, [])
    mock.not_applicable["replay_route"] = "no cassettes"
    mock.fail(["lifecycle"], "process exited with 1")
    stats = mock.stats()
    assert cell(mock, stats, "replay_route") == "n/a"
    assert cell(mock, stats, "lifecycle") == "error"
    assert cell(mock, stats, "sequential") == "-"


def test_results_saved_before_rounds_were_kept_load_as_one_round(
    tmp_path: Path,
) -> None:
    saved = {
        "meta": {"rounds": 5},
        "implementations": {
            "floor": {
                "versions": {},
                "samples": {"lifecycle": [1.0, 2.0, 3.0]},
                "not_applicable": {},
                "errors": {},
                "seconds": 1.0,
            }
        },
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(saved))
    _, collected = load(path)
    assert collected["floor"].rounds == {"lifecycle": [[1.0, 2.0, 3.0]]}


def test_the_chart_shows_each_scenario_as_a_ratio_to_its_floor() -> None:
    """Rows in µs that the floor measured, as ratios of medians; a row the
    floor did not measure, or one in another unit, is left out."""
    floor = collect(FLOOR, [{"lifecycle": [2.0, 4.0], "sequential": [1.0]}])
    ours = collect(
        AI,
        [{"lifecycle": [3.0, 3.0], "sequential": [2.0], "registration": [5.0]}],
    )
    rows = ["lifecycle", "sequential", "registration", "idle_cpu_asyncio"]
    shown, ratios = chart_ratios({FLOOR.name: floor, AI.name: ours}, rows)
    assert shown == ["lifecycle", "sequential"]
    assert ratios == {AI.name: [1.0, 2.0]}
    other = collect(IMPLEMENTATIONS[2], [{"sequential": [0.5]}])
    _, ratios = chart_ratios({FLOOR.name: floor, AI.name: ours, "x": other}, rows)
    assert ratios["x"] == [None, 0.5]


def test_the_docs_page_describes_every_row() -> None:
    assert set(ROW_DESCRIPTIONS) == set(ROWS)


def test_the_server_threads_share_is_pooled_over_rounds_with_its_spread() -> None:
    mock = Collected(AI)
    mock.add({**result({}), "served": {"concurrent": [1000, 0]}}, 0)
    mock.add({**result({}), "served": {}}, 1)  # say, the scenario failed
    mock.add({**result({}), "served": {"concurrent": [900, 100], "fixture": [0, 0]}}, 2)
    assert mock.served["concurrent"] == [(1000, 0), None, (900, 100)]
    share = mock.served_shares()["concurrent"]
    assert (share.test_loop, share.server_thread, share.requests) == (1900, 100, 2000)
    assert share.share() == 0.05
    assert share.round_shares() == [0.0, 0.1]
    # no request served in the process: no share
    assert mock.served_shares()["fixture"].share() is None


def test_the_served_table_shows_each_scenario_and_says_who_does_not_count() -> None:
    mock = Collected(AI)
    mock.add({**result({}), "served": {"concurrent": [3, 1], "fixture": [0, 0]}}, 0)
    mock.add({**result({}), "served": {"concurrent": [4, 0], "fixture": [0, 0]}}, 1)
    legacy = Collected(V1)
    legacy.add({**result({}), "served_not_counted": "counts nothing"}, 0)
    floor = collect(FLOOR, [{"concurrent": [1.0]}])
    collected = {AI.name: mock, V1.name: legacy, FLOOR.name: floor}
    cells = served_table(collected, ["lifecycle", "concurrent", "fixture"])
    assert cells == [
        ["scenario", AI.name, V1.name],
        ["concurrent", "12.5% (1/8), rounds 0%\N{EN DASH}25.0%", "n/a"],
        ["fixture", "-", "n/a"],
    ]
    single = Collected(AI)
    single.add({**result({}), "served": {"httpx_trio": [0, 1040]}}, 0)
    assert served_table({AI.name: single}, ["httpx_trio"])[1] == [
        "httpx_trio",
        "100% (1,040/1,040)",
    ]
    # nothing counted (results of implementations without a server thread)
    assert served_table({FLOOR.name: floor}, ["concurrent"]) == []


def test_served_counts_survive_saving_and_loading(tmp_path: Path) -> None:
    saved = {
        "meta": {"rounds": 2},
        "implementations": {
            AI.name: {
                "versions": {},
                "rounds": {"concurrent": [[1.0], [2.0]]},
                "not_applicable": {},
                "errors": {},
                "seconds": 1.0,
                "served": {
                    "concurrent": {
                        "test_loop": 7,
                        "server_thread": 1,
                        "share": 0.125,
                        "rounds": [[3, 1], None],
                    }
                },
                "served_not_counted": None,
            },
            V1.name: {
                "versions": {},
                "samples": {},
                "not_applicable": {},
                "errors": {},
                "seconds": 1.0,
                "served_not_counted": "counts nothing",
            },
            FLOOR.name: {  # written before requests were counted
                "versions": {},
                "samples": {},
                "not_applicable": {},
                "errors": {},
                "seconds": 1.0,
            },
        },
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(saved))
    _, collected = load(path)
    assert collected[AI.name].served == {"concurrent": [(3, 1), None]}
    assert collected[V1.name].served_not_counted == "counts nothing"
    assert collected[FLOOR.name].served == {}
    assert collected[FLOOR.name].served_not_counted is None


def test_an_optional_implementation_that_does_not_install_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """cassetter ships wheels for some platforms only: where it does not
    install, the run goes on, and its rows say why. (Creates one virtualenv:
    pip fails on a path that does not exist, offline.)"""
    missing = tmp_path / "no-such-package"
    broken = Environment("cassetter", (str(missing),), optional=True)
    monkeypatch.setitem(ENVIRONMENTS, "cassetter", broken)
    output = tmp_path / "results.json"
    arguments = ["--only", "cassette_load", "--impls", "cassetter", "--rounds", "1"]
    arguments += ["--venv-dir", str(tmp_path / "venvs"), "--output", str(output)]
    assert run.main(arguments) == 0
    reason = f"pip install {missing} failed (exit status 1)"
    assert f"left out: cassetter: {reason}" in capsys.readouterr().out
    assert not (tmp_path / "venvs" / "cassetter").exists()  # tried again next run
    saved = json.loads(output.read_text())["implementations"]["cassetter"]
    assert saved["unavailable"] == reason
    assert saved["not_applicable"] == dict.fromkeys(SCENARIOS["cassette_load"], reason)
    _, collected = load(output)
    cassetter = collected["cassetter"]
    assert cassetter.unavailable == reason
    assert cell(cassetter, cassetter.stats(), "cassette_load_1000") == "n/a"
