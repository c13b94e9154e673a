"""Posterior: the current fit weight by weight, against the prior, and what the prior alone believes."""

import streamlit as st

from dashboard import posterior_page, router

router.through_app()  # the first session of a new server may run this file directly
st.set_page_config(page_title="Posterior · Bayes-by-Backprop", layout="wide")
posterior_page.render()
