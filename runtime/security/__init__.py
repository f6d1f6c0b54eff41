"""Process confinement as Docker does it: capabilities, seccomp, masked/read-only paths, ulimits, sysctls,
no_new_privs and oom_score_adj. ``plan.build_plan`` (parent) decides; ``plan.apply_*`` (child) applies.

Every module here imports only the standard library and ``runtime.linux`` at import time, so the container's
init can use them; parent-only helpers import ``runtime.errors`` and libseccomp lazily.
"""
from __future__ import annotations

from runtime.security.plan import (
    SecurityPlan, apply_after_user, apply_before_user, apply_sysctls_and_paths, build_plan,
)

__all__ = ["SecurityPlan", "build_plan", "apply_sysctls_and_paths", "apply_before_user", "apply_after_user"]
