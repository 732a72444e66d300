"""The suite runs with --import-mode=importlib, which puts no test directory on sys.path: add
this one (at the end, shadowing nothing) so the tests here can import `sim_csms`."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)
