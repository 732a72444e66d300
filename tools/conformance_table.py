"""Generate docs/conformance.md: every OCPP 1.6 CSMS test case (OCTT) → the tests named after it.

The cases come from shared/spec/ocpp16-csms-test-cases.md (--spec; where it is absent, from the
committed table itself); the tests are the functions named ``test_tc_<id>_<title>`` anywhere under
tests/. A name may carry more than one id (``test_tc_021_tc_040_1_…``): each ``tc_NNN`` or
``tc_NNN_D`` token counts. Run:

    .venv/bin/python tools/conformance_table.py            # rewrite docs/conformance.md
    .venv/bin/python tools/conformance_table.py --check    # exit 1 if it is stale or a name is wrong

tests/conformance/test_case_names.py runs the same checks in the test suite.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = Path("/work/shared/spec/ocpp16-csms-test-cases.md")
DOC = ROOT / "docs" / "conformance.md"
# Tests of the simulator against a stand-in central system mirror a case from the charge point's
# side: their names are checked, but they do not cover the case for Kilowatt.
NOT_COVERAGE = ("tests/simulator/",)

# What stands in for the tests of a profile whose cases are not covered yet.
PENDING = {
    "Firmware Management": "issue 7: firmware and diagnostics, in progress",
    "Local Auth List Management": "issue 7: local authorization lists, in progress",
    "Reservation": "issue 7: reservations, in progress",
    "Smart Charging": "issue 7: smart charging, in progress",
    "Security": "issue 8: security profiles",
}

_SECTION = re.compile(r"^## (?P<profile>.+?) \((?:Security Whitepaper, )?(?P<count>\d+)\)\s*$")
_ROW = re.compile(r"^\| (?P<id>TC_\d{3}(?:_\d)?) \| (?P<title>[^|]+?) \|")
# A case id inside a test's name: tc_NNN or tc_NNN_D, between underscores (or at the end).
_TOKEN = re.compile(r"(?:^|_)tc_(?P<num>\d{3})(?P<sub>_\d)?(?=_|$)")


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    title: str
    profile: str


@dataclass(frozen=True, slots=True)
class NamedTest:
    path: str  # relative to the repository root
    name: str
    ids: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.path}::{self.name}"


def spec_cases(spec: Path) -> list[Case]:
    """The cases in the spec's order, with their profile (the ``## Profile (N)`` heading)."""
    cases: list[Case] = []
    profile: str | None = None
    expected: dict[str, int] = {}
    for line in spec.read_text(encoding="utf-8").splitlines():
        if section := _SECTION.match(line):
            profile = section["profile"]
            expected[profile] = int(section["count"])
        elif (row := _ROW.match(line)) and profile is not None:
            cases.append(Case(row["id"], row["title"].strip(), profile))
    for name, count in expected.items():
        found = sum(1 for c in cases if c.profile == name)
        if found != count:
            raise ValueError(f"{spec}: section {name!r} announces {count} cases, lists {found}")
    return cases


def doc_cases(doc: Path) -> list[Case]:
    """The cases as the generated table lists them: where the spec folder is not at hand (CI),
    the committed table is the list of cases."""
    cases: list[Case] = []
    profile: str | None = None
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            profile = line[3:].strip()
        elif (row := _ROW.match(line)) and profile is not None:
            cases.append(Case(row["id"], row["title"].strip(), profile))
    return cases


def known_cases(spec: Path = DEFAULT_SPEC, doc: Path = DOC) -> list[Case]:
    return spec_cases(spec) if spec.exists() else doc_cases(doc)


def ids_in_name(name: str) -> tuple[str, ...]:
    """``test_tc_011_1_remote_start_then_tc_012_remote_stop`` → (TC_011_1, TC_012)."""
    body = name.removeprefix("test_")
    return tuple(f"TC_{m['num']}{m['sub'] or ''}" for m in _TOKEN.finditer(body))


def named_tests(tests_dir: Path, root: Path = ROOT) -> list[NamedTest]:
    """Every test function whose name starts with ``test_tc_``, in file and line order."""
    found: list[NamedTest] = []
    for path in sorted(tests_dir.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_tc_"
            ):
                rel = path.relative_to(root).as_posix()
                found.append(NamedTest(rel, node.name, ids_in_name(node.name)))
    return sorted(found, key=lambda t: (t.path, t.name))


def name_problems(cases: Iterable[Case], tests: Iterable[NamedTest]) -> list[str]:
    """Test names that do not name a real case: a typo, or an id the spec does not have."""
    known = {c.id for c in cases}
    problems = []
    for test in tests:
        if not test.ids or not test.name.startswith(f"test_{test.ids[0].lower()}"):
            problems.append(
                f"{test.ref}: the name does not start with a case id (test_tc_NNN[_D]_)"
            )
        for case_id in test.ids:
            if case_id not in known:
                problems.append(f"{test.ref}: {case_id} is not an OCPP 1.6 CSMS test case")
    return problems


def render(cases: list[Case], tests: list[NamedTest]) -> str:
    by_case: dict[str, list[NamedTest]] = {c.id: [] for c in cases}
    for test in tests:
        if test.path.startswith(NOT_COVERAGE):
            continue
        for case_id in test.ids:
            if case_id in by_case and test not in by_case[case_id]:
                by_case[case_id].append(test)
    profiles = list(dict.fromkeys(c.profile for c in cases))
    covered = sum(1 for c in cases if by_case[c.id])
    lines = [
        "# OCPP 1.6 CSMS conformance",
        "",
        "<!-- Generated by tools/conformance_table.py: do not edit by hand. -->",
        "",
        "Every test case of the OCA compliance test tool (OCTT) in which the Central System is",
        "the system under test (`shared/spec/ocpp16-csms-test-cases.md`), and the tests named",
        "after it (`test_tc_<id>_<title>`). In those tests a real Kilowatt node faces the `ocpp`",
        "library's ChargePoint (`tests/support/ocpp_client.py`) and/or Kilowatt's simulator, and",
        "the operator API sends what the case has the Central System send.",
        "",
        f"**{covered} of {len(cases)} cases have a test.**",
        "",
        "| profile | cases | with a test |",
        "|---|---|---|",
    ]
    for profile in profiles:
        mine = [c for c in cases if c.profile == profile]
        done = sum(1 for c in mine if by_case[c.id])
        lines.append(f"| {profile} | {len(mine)} | {done} |")
    for profile in profiles:
        lines += ["", f"## {profile}", "", "| id | title | tests |", "|---|---|---|"]
        for case in (c for c in cases if c.profile == profile):
            refs = by_case[case.id]
            cell = (
                "<br>".join(f"`{t.ref}`" for t in refs)
                if refs
                else f"*{PENDING.get(profile, 'missing')}*"
            )
            lines.append(f"| {case.id} | {case.title} | {cell} |")
    lines += [
        "",
        "Regenerate after adding or renaming a test: `.venv/bin/python tools/conformance_table.py`",
        "(`--check` only compares; `tests/conformance/test_case_names.py` fails on a stale table",
        "or on a test named after a case id that does not exist).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--tests", type=Path, default=ROOT / "tests")
    parser.add_argument("--out", type=Path, default=DOC)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    cases = known_cases(args.spec, args.out)
    tests = named_tests(args.tests)
    problems = name_problems(cases, tests)
    for problem in problems:
        print(problem, file=sys.stderr)
    text = render(cases, tests)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run tools/conformance_table.py", file=sys.stderr)
            return 1
        return 1 if problems else 0
    args.out.write_text(text, encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
