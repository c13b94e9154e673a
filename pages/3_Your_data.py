"""Your data: train on a CSV (or a UCI set), hold rows out, and see whether the uncertainty holds."""

import streamlit as st

from dashboard import router, your_data_page

router.through_app()  # the first session of a new server may run this file directly
st.set_page_config(page_title="Your data · Bayes-by-Backprop", layout="wide")
your_data_page.render()
