"""The dashboard's Plotly figures: plain ``plotly.graph_objects.Figure`` objects built from the
engine's prediction tables (no Streamlit)."""
