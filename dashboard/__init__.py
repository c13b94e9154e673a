"""The web app (``streamlit run app.py``): everything only the dashboard uses.

- :mod:`dashboard.model`: Streamlit-free state (the link codec, points, view, the caps, pin, the
  "Your data" table, the training runner); plain pytest covers it.
- :mod:`dashboard.figures`: the Plotly figures.
- The modules here: Streamlit widgets and page sections, which read widgets, call ``bnn`` and
  ``dashboard.model``, and draw.
"""
