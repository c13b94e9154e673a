"""Compare: the same points and the same model under every inference method."""

import streamlit as st

from dashboard import compare_page, router

router.through_app()  # the first session of a new server may run this file directly
st.set_page_config(page_title="Compare methods · Bayes-by-Backprop", layout="wide")
compare_page.render()
