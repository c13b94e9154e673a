"""The dashboard's state and rules, without Streamlit: what a link holds, what a visitor may ask
of the server, and the numbers a page shows. Tested with plain pytest."""
