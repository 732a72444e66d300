"""Tests named after OCTT cases name real ones, and docs/conformance.md says which are covered.

The table and the checks are tools/conformance_table.py's; the case list is the spec's
(shared/spec/ocpp16-csms-test-cases.md) where it is at hand, else the committed table's.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "conformance_table", ROOT / "tools" / "conformance_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tool = _tool()


def test_the_case_list_has_all_77_ocpp16_csms_cases() -> None:
    cases = tool.known_cases()
    assert len(cases) == 77
    assert len({c.id for c in cases}) == 77
    assert sum(1 for c in cases if c.profile == "Core") == 34
    assert sum(1 for c in cases if c.profile == "Remote Trigger") == 2


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("test_tc_001_cold_boot", ("TC_001",)),
        ("test_tc_011_1_remote_start_then_tc_012_remote_stop", ("TC_011_1", "TC_012")),
        ("test_tc_021_tc_040_1_tc_040_2_change_configuration", ("TC_021", "TC_040_1", "TC_040_2")),
        ("test_tc_019_021_get_and_change", ("TC_019",)),  # "019_021" is no id: flagged
        ("test_tc_055", ("TC_055",)),
    ],
)
def test_case_ids_are_read_from_test_names(name: str, ids: tuple[str, ...]) -> None:
    assert tool.ids_in_name(name) == ids


def test_a_misnamed_test_is_reported() -> None:
    cases = tool.known_cases()
    tests = [
        tool.NamedTest("tests/x.py", "test_tc_019_021_get_and_change", ("TC_019",)),
        tool.NamedTest("tests/x.py", "test_tc_0231_typo", ()),
        tool.NamedTest("tests/x.py", "test_tc_046_reservation_of_a_connector", ("TC_046",)),
    ]
    problems = tool.name_problems(cases, tests)
    assert problems == [
        "tests/x.py::test_tc_019_021_get_and_change: TC_019 is not an OCPP 1.6 CSMS test case",
        "tests/x.py::test_tc_0231_typo: the name does not start with a case id (test_tc_NNN[_D]_)",
    ]


def test_every_test_named_after_a_case_names_a_real_one() -> None:
    """A typo in ``test_tc_<id>_…`` (an id the spec does not list) fails here."""
    problems = tool.name_problems(tool.known_cases(), tool.named_tests(ROOT / "tests"))
    assert problems == []


def test_the_conformance_table_is_current() -> None:
    cases = tool.known_cases()
    expected = tool.render(cases, tool.named_tests(ROOT / "tests"))
    current = tool.DOC.read_text(encoding="utf-8")
    assert current == expected, (
        "docs/conformance.md is stale: run .venv/bin/python tools/conformance_table.py"
    )


def test_every_core_and_remote_trigger_case_has_a_test() -> None:
    """Issue 7's "Done when": Core and Remote Trigger are implemented and tested, case by case."""
    cases = tool.known_cases()
    tests = [
        t for t in tool.named_tests(ROOT / "tests") if not t.path.startswith(tool.NOT_COVERAGE)
    ]
    covered = {case_id for t in tests for case_id in t.ids}
    missing = [
        c.id for c in cases if c.profile in ("Core", "Remote Trigger") and c.id not in covered
    ]
    assert missing == []


def test_the_committed_table_lists_the_spec_cases() -> None:
    """Without the spec folder (CI) the committed table is the case list: it must be the spec's."""
    from_doc = tool.doc_cases(tool.DOC)
    assert tool.known_cases(spec=ROOT / "no-such-spec.md") == from_doc
    if tool.DEFAULT_SPEC.exists():
        assert from_doc == tool.spec_cases(tool.DEFAULT_SPEC)
