"""one_per_flight: rounds of a batch that name each flight once, in the order given."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jetbridge.flightdeck.models import one_per_flight


def test_a_repeated_flight_goes_in_a_later_round() -> None:
    assert one_per_flight(["a", "b", "a", "c", "a", "b"]) == [[0, 1, 3], [2, 5], [4]]
    assert one_per_flight([]) == []


@given(st.lists(st.sampled_from("abcde"), max_size=30))
def test_every_position_once_each_flight_once_a_round_in_order(ids: list[str]) -> None:
    rounds = one_per_flight(ids)
    assert sorted(p for r in rounds for p in r) == list(range(len(ids)))
    for positions in rounds:
        assert len({ids[p] for p in positions}) == len(positions)
    for flight in set(ids):  # a flight's n-th occurrence is in round n
        mine = [p for p in range(len(ids)) if ids[p] == flight]
        assert [next(i for i, r in enumerate(rounds) if p in r) for p in mine] == list(
            range(len(mine))
        )
    assert all(rounds)  # no empty round
