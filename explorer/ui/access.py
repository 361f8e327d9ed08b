"""The passcode prompt shown before launching runs or uploading, when a passcode is set."""

from __future__ import annotations

from collections.abc import MutableMapping

import streamlit as st

from explorer import access

UNLOCKED = "access:unlocked"


def unlocked(state: MutableMapping, what: str) -> bool:
    """Ask for the class passcode once per session; True when allowed.

    Args:
        state: the session state (the unlocked flag is kept there).
        what: what the passcode unlocks, for the prompt ("launch runs", "upload models").
    """
    expected = access.expected_passcode(st.secrets)
    if access.check(expected, state.get(UNLOCKED)):
        return True
    with st.form(f"passcode:{what}", border=True):
        st.caption(f"This server asks for the class passcode to {what}.")
        given = st.text_input("Passcode", type="password", max_chars=200)
        if st.form_submit_button("Unlock"):
            if access.check(expected, given):
                state[UNLOCKED] = given
                st.rerun()
            st.error("That passcode is not right.")
    return False
