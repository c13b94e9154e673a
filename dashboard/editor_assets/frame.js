// push_figure's frame (dashboard/editor.py): hands a new figure to the editor mounted under
// `editor_key` and draws nothing. A frame that comes before its editor waits for it.
export default function ({ data, parentElement }) {
  // Take no room either: hide Streamlit's container of this element (its 1rem gap would show).
  const host = parentElement && parentElement.host;
  const box = host && host.closest('[data-testid="stElementContainer"]');
  if (box) box.style.display = "none";
  const key = data.editor_key, seq = Number(data.seq) || 0;
  const editor = (window.__bnnPointEditors || {})[key];
  if (editor && editor.root.isConnected) {
    editor.pushFigure(data.figure, seq, data.draws || null);
  } else {
    const pending = (window.__bnnPendingFrames = window.__bnnPendingFrames || {});
    if (!pending[key] || pending[key].seq < seq) pending[key] = { figure: data.figure, seq, draws: data.draws || null };
  }
  // No cleanup: removing the frame leaves the editor's chart as it is.
}
