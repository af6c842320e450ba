"""Test-wide settings.

Property tests draw the same examples on every run (hypothesis' ``derandomize``), so that a run on a fresh
machine -- CI's -- tests what was tested here, and a test that passes here does not fail there on an
example nobody has seen. To explore new examples, run with ``HYPOTHESIS_PROFILE=explore`` (random
examples, kept in the local example database when one fails).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))
