"""Differential fuzzing in the suite: random guest code gives the same registers, flags and
memory under the engine as under the reference, and random bytes never escape or crash."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import fuzz  # noqa: E402

CHOICE = st.tuples(
    st.integers(0, len(fuzz.TEMPLATES) - 1), st.integers(0, 7), st.integers(0, 7),
    st.integers(0, 2**32 - 1),
)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choices=st.lists(CHOICE, min_size=1, max_size=24))
def test_engine_matches_reference(tmp_path: Path, choices: list[tuple[int, int, int, int]]) -> None:
    text = fuzz.render(choices)
    assert fuzz.compare(text, tmp_path) is None, text


def test_seeded_campaign(tmp_path: Path) -> None:
    rng = random.Random(20261123)
    for _ in range(600):
        text = fuzz.render(fuzz.random_choices(rng))
        assert fuzz.compare(text, tmp_path) is None, text


def test_random_bytes_never_escape(tmp_path: Path) -> None:
    rng = random.Random(7)
    for _ in range(150):
        blob = rng.randbytes(rng.randint(1, 64))
        assert fuzz.raw_bytes_case(blob, tmp_path) is None, blob.hex()


def test_stored_regressions(tmp_path: Path) -> None:
    for case in sorted(fuzz.REGRESSIONS.glob("*.asm")) if fuzz.REGRESSIONS.exists() else []:
        lines = case.read_text().splitlines()
        text = "\n".join(line for line in lines if not line.startswith(";"))
        if text.startswith("db "):
            blob = bytes(int(b) for b in text[3:].split(","))
            assert fuzz.raw_bytes_case(blob, tmp_path) is None, case.name
        else:
            assert fuzz.compare(text, tmp_path) is None, case.name


def test_minimise_keeps_only_what_diverges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in divergence: any case containing CLI diverges.
    def fake_compare(text: str, tmp: Path) -> str | None:
        return "diverges" if "cli" in text else None

    monkeypatch.setattr(fuzz, "compare", fake_compare)
    cli = fuzz.TEMPLATES.index("cli")
    choices = [(0, 1, 2, 3), (cli, 0, 0, 0), (4, 1, 2, 5), (5, 2, 3, 7)]
    assert fuzz.minimise(choices, tmp_path) == [(cli, 0, 0, 0)]
