"""Classify: a 2-D playground for a Bayesian classifier, with aleatoric and epistemic uncertainty maps."""

import streamlit as st

from dashboard import classify_page, router

router.through_app()  # the first session of a new server may run this file directly
st.set_page_config(page_title="Classify · Bayes-by-Backprop", layout="wide")
classify_page.render()
