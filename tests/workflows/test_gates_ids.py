"""Trace ids carry enough randomness that runs never collide (the old 32 bits collided near 77,000)."""

import re

from workflows.models import Run, new_trace_id


def test_trace_ids_carry_at_least_64_random_bits_and_fit_the_field():
    trace_id = new_trace_id()
    random_part = trace_id.removeprefix("trace_")
    assert re.fullmatch(r"[0-9a-f]+", random_part)
    assert len(random_part) * 4 >= 64
    assert len(trace_id) <= Run._meta.get_field("trace_id").max_length


def test_trace_ids_generated_100000_times_are_unique():
    ids = {new_trace_id() for _ in range(100_000)}
    assert len(ids) == 100_000
