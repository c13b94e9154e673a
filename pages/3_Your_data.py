"""Your data: train on a CSV (or a UCI set), hold rows out, and see whether the uncertainty holds."""

import streamlit as st

from dashboard import your_data_page

st.set_page_config(page_title="Your data · Bayes-by-Backprop", layout="wide")
your_data_page.render()
