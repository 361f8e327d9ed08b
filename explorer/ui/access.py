"""The passcode prompt shown before launching runs or uploading, when a passcode is set."""

from __future__ import annotations

from collections.abc import MutableMapping

import streamlit as st

from explorer import access
from explorer.ui.session import Session, widget


def allowed(state: MutableMapping) -> bool:
    """Whether this session may launch runs and upload (no passcode set, or the right one given)."""
    return access.check(access.expected_passcode(st.secrets), Session(state).passcode)


def unlocked(state: MutableMapping, what: str) -> bool:
    """Ask for the class passcode once per session; True when allowed.

    Args:
        state: the session state (the given passcode is kept there).
        what: what the passcode unlocks, for the prompt ("launch runs", "upload models").
    """
    if allowed(state):
        return True
    expected = access.expected_passcode(st.secrets)
    with st.form(widget("passcode", "form", what), border=True):
        st.caption(f"This server asks for the class passcode to {what}.")
        given = st.text_input("Passcode", type="password", max_chars=200)
        if st.form_submit_button("Unlock"):
            if access.check(expected, given):
                Session(state).passcode = given
                st.rerun()
            st.error("That passcode is not right.")
    return False
