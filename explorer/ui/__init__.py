"""Streamlit helpers shared by the pages. Helpers take arguments; none reads session state implicitly."""
