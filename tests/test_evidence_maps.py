"""The array-based evidence maps (id → row, id → owner) behave as the dicts they replace."""

from __future__ import annotations

import math
import random

import numpy as np

from router.routing.answer_log import AnswerLog, Standing
from router.search.evidence_table import EvidenceTable
from router.search.id_map import IdMap


def test_an_id_map_matches_a_dict_through_adds_replacements_and_removals() -> None:
    pick = random.Random(4)
    mapped, truth = IdMap(), dict[int, int]()
    for step in range(300):
        if pick.random() < 0.6:  # mostly increasing ids, some out of order, some replaced
            base = step * 10 if pick.random() < 0.8 else pick.randrange(step * 10 + 1)
            ids = sorted({base + pick.randrange(10) for _ in range(pick.randrange(1, 20))})
            rows = [pick.randrange(10**6) for _ in ids]
            mapped.set(np.asarray(ids), np.asarray(rows))
            truth.update(zip(ids, rows, strict=True))
        else:
            gone = [pick.randrange(step * 10 + 10) for _ in range(pick.randrange(1, 30))]
            removed = mapped.discard(np.asarray(gone))
            expected = {truth.pop(i) for i in set(gone) if i in truth}
            assert sorted(removed.tolist()) == sorted(expected)
        assert len(mapped) == len(truth)
    probe = np.arange(-5, 3010)
    expected_rows = [truth.get(int(i), -1) for i in probe]
    assert mapped.find(probe).tolist() == expected_rows
    assert mapped.ids().tolist() == sorted(truth)
    assert 17 not in mapped or 17 in truth


def test_an_id_map_compacts_its_tombstones_and_keeps_the_live_ids() -> None:
    mapped = IdMap()
    mapped.set(np.arange(10_000), np.arange(10_000) * 2)
    mapped.discard(np.arange(0, 10_000, 2))
    mapped.discard(np.arange(1, 5_000, 2))
    assert len(mapped) == 2_500
    assert mapped.find(np.asarray([4_999, 5_001, 6_000])).tolist() == [-1, 10_002, -1]
    assert mapped.ids().tolist() == list(range(5_001, 10_000, 2))


def test_the_evidence_table_answers_owners_and_forgets_removed_rows() -> None:
    table = EvidenceTable()
    table.add(
        np.asarray([10, 11, 12]),
        np.asarray([1, 2, 1]),
        np.asarray([100.0, 200.0, 300.0]),
        np.asarray([True, False, True]),
    )
    assert table.owners(np.asarray([12, 99, 10])).tolist() == [1, -1, 1]
    since = table.row_count
    table.add(np.asarray([5]), np.asarray([3]), np.asarray([50.0]), np.asarray([True]))
    people, times = table.answers(since_row=since)
    assert people.tolist() == [3] and times.tolist() == [50.0]
    removed = table.remove(np.asarray([12, 11, 404]))
    assert sorted(removed[0].tolist()) == [1, 2] and table.removed_answers == 1
    assert table.owners(np.asarray([12, 11, 5])).tolist() == [-1, -1, 3]
    assert len(table) == 2 and table.ids().tolist() == [5, 10]
    table.add(np.asarray([10]), np.asarray([4]), np.asarray([400.0]), np.asarray([False]))
    assert table.owners(np.asarray([10])).tolist() == [4]
    assert sorted(table.answers()[0].tolist()) == [3]


def _same_standing(a: Standing, b: Standing) -> None:
    assert a.slot_of.keys() == b.slot_of.keys()
    for person in a.slot_of:
        i, j = a.slot_of[person], b.slot_of[person]
        assert a.total[i] == b.total[j] and a.last_90d[i] == b.last_90d[j]
        assert a.last_365d[i] == b.last_365d[j] and a.last_50[i] == b.last_50[j]
        assert a.last_10[i] == b.last_10[j]
        assert (a.hours[i] == b.hours[j]).all() and (a.weekdays[i] == b.weekdays[j]).all()
        assert math.isclose(a.decayed[i], b.decayed[j], rel_tol=1e-9)
        assert a.last_at[i] == b.last_at[j] or (
            math.isnan(a.last_at[i]) and math.isnan(b.last_at[j])
        )
    assert a.sorted_total.tolist() == b.sorted_total.tolist()
    assert a.sorted_recent.tolist() == b.sorted_recent.tolist()
    assert a.most_active(5) == b.most_active(5)


def test_an_extended_answer_log_stands_as_one_built_from_scratch() -> None:
    rng = np.random.default_rng(8)
    day = 86_400.0
    people = rng.integers(1, 40, size=1_500)
    times = rng.uniform(0, 800 * day, size=1_500)
    log = AnswerLog(people, times)
    now = float(times.max()) + 1.0
    log.as_of(now)  # remembered, then carried forward by each extension
    for batch, later in ((100, 10.0), (400, 40 * day), (1, 200 * day)):
        # the newest answers arrive, from known people and one never seen before
        added_people = np.concatenate([rng.integers(1, 40, size=batch), [1_000 + batch]])
        added_times = now + rng.uniform(0, 5.0, size=batch + 1)
        log = log.extended(added_people, added_times)
        people = np.concatenate([people, added_people])
        times = np.concatenate([times, added_times])
        now = float(added_times.max()) + later
        for moment in (now, now - 300 * day):
            _same_standing(log.as_of(moment), AnswerLog(people, times).as_of(moment))
        log.as_of(now)


def _figures(standing: Standing) -> dict[int, tuple[object, ...]]:
    return {
        person: (
            int(standing.total[slot]),
            float(standing.last_at[slot]),
            round(float(standing.decayed[slot]), 12),
            standing.hours[slot].tolist(),
            standing.weekdays[slot].tolist(),
            int(standing.last_90d[slot]),
        )
        for person, slot in standing.slot_of.items()
    }


def test_a_standing_read_before_a_write_keeps_its_figures_after_it() -> None:
    day = 86_400.0
    log = AnswerLog([1, 2, 2, 3], [1 * day, 2 * day, 3 * day + 7_200, 4 * day])
    moment = 5 * day
    held = log.as_of(moment)  # a route holding this standing while another applies a write
    seen = _figures(held)
    ranks = (held.sorted_total.tolist(), held.sorted_recent.tolist(), held.most_active(2))
    grown = log.extended([2, 4], [6 * day + 3_600, 6 * day + 3_700])  # 4 answers for the first time
    again = grown.extended([1], [7 * day])
    assert _figures(held) == seen and _figures(log.as_of(moment)) == seen
    assert (held.sorted_total.tolist(), held.sorted_recent.tolist(), held.most_active(2)) == ranks
    assert 4 not in held.slot_of and 4 not in log.as_of(moment).slot_of
    assert len(log) == 4 and len(grown) == 6
    fresh = AnswerLog(
        [1, 2, 2, 3, 2, 4, 1],
        [1 * day, 2 * day, 3 * day + 7_200, 4 * day, 6 * day + 3_600, 6 * day + 3_700, 7 * day],
    )
    _same_standing(again.as_of(8 * day), fresh.as_of(8 * day))


def test_two_writes_extending_the_same_log_do_not_see_each_other() -> None:
    log = AnswerLog([1, 2], [100.0, 200.0])
    log.as_of(300.0)
    first = log.extended([3], [400.0])
    second = log.extended([1, 1], [500.0, 600.0])  # from the same log: a branch, not an append
    assert 3 in first.slot_of and 3 not in second.slot_of
    assert first.times.tolist() == [100.0, 200.0, 400.0]
    assert second.times.tolist() == [100.0, 200.0, 500.0, 600.0]
    for grown, people, times in (
        (first, [1, 2, 3], [100.0, 200.0, 400.0]),
        (second, [1, 2, 1, 1], [100.0, 200.0, 500.0, 600.0]),
    ):
        _same_standing(grown.as_of(700.0), AnswerLog(people, times).as_of(700.0))


def test_someone_answering_after_the_most_active_were_found_can_join_them() -> None:
    day = 86_400.0
    log = AnswerLog([1, 1, 2, 9], [1 * day, 2 * day, 3 * day, 4 * day])
    assert log.as_of(5 * day).most_active(2) == [1, 9]  # remembered for the next extension
    grown = log.extended([7, 2, 7, 7], [6 * day, 6 * day + 1, 6 * day + 2, 6 * day + 3])
    assert grown.as_of(7 * day).most_active(2) == [7, 2]
    assert grown.as_of(7 * day).most_active(4) == [7, 2, 1, 9]


def test_rows_read_at_once_from_an_extended_log_are_the_rows_read_one_by_one() -> None:
    day = 86_400.0
    log = AnswerLog([1, 2, 1, 3], [0.0, 3_600.0, day, 2 * day])
    log.as_of(3 * day)  # remembered, so the extension below writes only the rows it touches
    grown = log.extended([2, 4], [3 * day + 7_200.0, 3 * day + 9_000.0])
    standing = grown.as_of(4 * day)
    assert standing.hours.changed  # the case under test: rows changed since the base
    slots = np.asarray([standing.slot_of[p] for p in (4, 2, 1, 3)] + [-1], dtype=np.int64)
    table = standing.hours.rows(slots)
    for i, slot in enumerate(slots.tolist()[:-1]):
        assert table[i].tolist() == standing.hours[slot].tolist()
    assert table[-1].tolist() == [0] * 24  # someone who never answered
    assert table[0].sum() == 1 and table[1].sum() == 2
