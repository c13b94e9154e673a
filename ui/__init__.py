"""Streamlit-side helpers shared by the dashboard's pages: widgets, session state, the
training runner and rendering. Logic that a test or the CLI could want lives in ``bnn/``;
these modules only read widgets, call ``bnn`` and draw."""
