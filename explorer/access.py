"""Classroom access: an optional passcode for launching runs and uploading models.

The passcode comes from the environment (``EXPLORER_PASSCODE``) or Streamlit secrets
(``passcode = "..."`` in ``.streamlit/secrets.toml``). Without one, everything is open (the
default for a personal install). Browsing, building and budgets never need it.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from typing import Any


def expected_passcode(secrets: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The configured passcode, or None when the server is open.

    Args:
        secrets: Streamlit secrets (or any mapping); ``passcode`` is read from it.
        env: the environment (default ``os.environ``); ``EXPLORER_PASSCODE`` wins over secrets.
    """
    env = os.environ if env is None else env
    value = env.get("EXPLORER_PASSCODE")
    if not value and secrets is not None:
        try:
            value = secrets.get("passcode")
        except Exception:  # st.secrets raises when no secrets file exists
            value = None
    return str(value) if value else None


def check(expected: str | None, given: str | None) -> bool:
    """True when no passcode is set or ``given`` matches it (constant-time comparison)."""
    if not expected:
        return True
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
