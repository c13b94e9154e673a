// The band chart as a point editor: the st.components.v2 module of dashboard/editor.py.
//
// Streamlit calls the default export on mount and again on every rerun whose `data` changed,
// with the same shadow root, and runs only the last returned cleanup (on unmount). So the
// state of one editor lives on its root element (root.__pe), listeners are attached once, and
// the chart is updated with Plotly.react (a constant layout.uirevision keeps the user's zoom).
// Findings behind each choice: docs/point-editor-design.md.
//
// Data in:   {figure, figure_rev, frames, points (f4 pairs), points_style, ack, report_every_ms,
//             can_undo, can_redo, draws ({x, ys} f4) | null, draws_rev, status, editor_key, bundle,
//             labels ([int] | null), classes ([{name, color, symbol}] | null)}
// State out: "points" = {points: [[x, y], ...], seq, op: {kind, index, from, to}, final}
//            (with classes, each point is [x, y, label]: the Classify page's 2-D canvas)
// Trigger:   "command" = "undo" | "redo"
// Text from Python (status) is only ever put in the page with textContent.

const HIT_PX = { mouse: 10, pen: 14, touch: 22 }; // hit radius around a point, by pointer type
const SLOP_PX = 4; // a press that moves less than this is a click or a tap, not a drag
const LONG_PRESS_MS = 550; // touch: holding a point this long deletes it
const DRAW_MS = 100; // the animation passes one posterior draw every 100 ms (10 a second)
const DEFAULT_HEIGHT = 450; // px, as st.plotly_chart
const POINTS_UID = "points";
const ANIM_UID = "pe-anim";
const ANIM_LINE = { color: "rgba(255, 127, 14, 0.95)", width: 2.5 };

// Editors mounted on this page, by their Streamlit key: push_figure's frame component and the
// keyboard shortcuts find them here. A frame that comes before its editor waits in PENDING.
const REG = (window.__bnnPointEditors = window.__bnnPointEditors || {});
const PENDING = (window.__bnnPendingFrames = window.__bnnPendingFrames || {});

// ---- Plotly: a static file the app serves, or window.Plotly set by the loader component ----

// The app's root URL. Streamlit loads its own code as ./static/js/index.<hash>.js relative to
// that root, so the script's URL gives it on any page (/, /Posterior, a base URL path).
function appRoot() {
  const own = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (own) return own.src.slice(0, own.src.lastIndexOf("static/js/"));
  return new URL("./", document.baseURI).href;
}

function loadPlotly(bundle) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (bundle && bundle.url) {
    if (!window.__bnnPlotlyImport) {
      // The UMD bundle, imported as a module, sets window.Plotly.
      window.__bnnPlotlyImport = import(new URL(bundle.url, appRoot()).href).then(
        () => window.Plotly || null,
        () => { window.__bnnPlotlyImport = null; return null; });
    }
    return window.__bnnPlotlyImport;
  }
  // The loader component (mounted just before the editor) runs the bundle; it may run second.
  return new Promise((resolve) => {
    const t0 = performance.now();
    const poll = () => (window.Plotly ? resolve(window.Plotly)
      : performance.now() - t0 > 30000 ? resolve(null) : setTimeout(poll, 20));
    poll();
  });
}

// Plotly puts its CSS (modebar, hover labels, cursors) into document.head with insertRule; a
// shadow root does not see it. Copy those rules in after each draw.
function copyPlotlyStyles(host) {
  if (!(host instanceof ShadowRoot)) return;
  const text = Array.from(document.querySelectorAll('style[id^="plotly.js-style"]'), (s) => {
    try { return Array.from(s.sheet.cssRules, (r) => r.cssText).join("\n"); } catch (err) { return ""; }
  }).join("\n");
  let dst = host.querySelector("style[data-plotly-copy]");
  if (!dst) {
    dst = document.createElement("style");
    dst.setAttribute("data-plotly-copy", "");
    host.appendChild(dst);
  }
  if (dst.textContent !== text) dst.textContent = text;
}

// ---- data in ----

function f32(spec) {
  if (!spec || !spec.bdata) return new Float32Array(0);
  const bin = atob(spec.bdata);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer); // little-endian, as every browser is
}

function decodePoints(spec, labels) {
  const flat = f32(spec);
  const out = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    out.push(labels ? [flat[i], flat[i + 1], labels[i / 2] | 0] : [flat[i], flat[i + 1]]);
  }
  return out;
}

function decodeDraws(spec) {
  if (!spec) return null;
  const x = f32(spec.x), flat = f32(spec.ys), g = x.length;
  const ys = [];
  for (let s = 0; s + g <= flat.length; s += g) ys.push(flat.subarray(s, s + g));
  return g && ys.length ? { x, ys } : null;
}

function samePoints(a, b) {
  return a.length === b.length && a.every((p, i) => p[0] === b[i][0] && p[1] === b[i][1] && p[2] === b[i][2]);
}

// ---- geometry ----

function axes(S) {
  const fl = S.gd._fullLayout;
  return fl && fl.xaxis && fl.yaxis ? { xa: fl.xaxis, ya: fl.yaxis } : null;
}
function svgRect(S) { return (S.gd.querySelector(".main-svg") || S.gd).getBoundingClientRect(); }

// client (viewport) pixels -> data, and whether inside the plotting area
function clientToData(S, cx, cy) {
  const a = axes(S);
  if (!a) return null;
  const r = svgRect(S);
  const px = cx - r.left - a.xa._offset, py = cy - r.top - a.ya._offset;
  return { x: a.xa.p2d(px), y: a.ya.p2d(py),
           inside: px >= 0 && px <= a.xa._length && py >= 0 && py <= a.ya._length };
}
function dataToClient(S, a, r, x, y) {
  return { x: r.left + a.xa._offset + a.xa.d2p(x), y: r.top + a.ya._offset + a.ya.d2p(y) };
}
// The nearest point within the hit radius, or -1. Plotly's markers take no pointer events
// (its drag layer gets them all), so the editor finds points itself.
function hitTest(S, cx, cy, type) {
  const a = axes(S);
  if (!a) return -1;
  const r = svgRect(S), rad = HIT_PX[type] || HIT_PX.mouse;
  let best = -1, bestD = rad * rad;
  S.points.forEach((p, i) => {
    const c = dataToClient(S, a, r, p[0], p[1]);
    const d = (c.x - cx) ** 2 + (c.y - cy) ** 2;
    if (d <= bestD) { bestD = d; best = i; }
  });
  return best;
}
// Linear axes: the shown range is in data units.
function clampToRange(S, x, y) {
  const { xa, ya } = axes(S);
  const [x0, x1] = [Math.min(...xa.range), Math.max(...xa.range)];
  const [y0, y1] = [Math.min(...ya.range), Math.max(...ya.range)];
  return [Math.min(x1, Math.max(x0, x)), Math.min(y1, Math.max(y0, y))];
}
// Parts of the chart that are not the plotting area even where they overlap it.
function isChrome(t) { return !!(t && t.closest && t.closest(".modebar, .legend, .rangeslider-container")); }

function traceIndex(S, uid) { return S.gd.data ? S.gd.data.findIndex((t) => t.uid === uid) : -1; }
function traceNode(S, uid) {
  const i = traceIndex(S, uid);
  const cd = i >= 0 && S.gd.calcdata && S.gd.calcdata[i];
  return (cd && cd[0] && cd[0].node3 && cd[0].node3.node()) || null;
}

// ---- drawing ----

function buildFigure(S) {
  const fig = S.figure || { data: [], layout: {} };
  const layout0 = fig.layout || {};
  const data = (fig.data || []).filter((t) => t.uid !== POINTS_UID && t.uid !== ANIM_UID);
  if (S.draws) {
    data.push({ type: "scatter", mode: "lines", uid: ANIM_UID, name: "posterior draw", x: S.draws.x,
                y: S.animY || S.draws.ys[0], visible: S.playing, showlegend: false, hoverinfo: "skip",
                line: ANIM_LINE });
  }
  const trace = { type: "scatter", mode: "markers", name: "training points", ...S.pointsStyle, uid: POINTS_UID,
                  x: S.points.map((p) => p[0]), y: S.points.map((p) => p[1]) };
  if (S.classes) {
    const cls = (p) => S.classes[p[2]] || S.classes[0];
    trace.marker = { ...(trace.marker || {}), color: S.points.map((p) => cls(p).color),
                     symbol: S.points.map((p) => cls(p).symbol) };
    trace.text = S.points.map((p) => cls(p).name);
    trace.hovertemplate = "%{text} (%{x:.3f}, %{y:.3f})<extra></extra>";
  }
  data.push(trace);
  const editing = S.mode === "edit";
  const layout = { ...layout0, uirevision: layout0.uirevision || "point-editor",
                   dragmode: editing ? false : S.exploreDrag };
  const config = { responsive: true, displaylogo: false, scrollZoom: false,
                   doubleClick: editing ? false : "reset+autosize",
                   modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  return { data, layout, config };
}

// One Plotly.react at a time; a request made meanwhile draws once more with the newest state.
async function requestDraw(S) {
  if (!S.Plotly) return;
  if (S.drawing) { S.dirty = true; return; }
  S.drawing = true;
  try {
    do {
      S.dirty = false;
      const { data, layout, config } = buildFigure(S);
      S.gd.style.height = `${layout.height || DEFAULT_HEIGHT}px`;
      await S.Plotly.react(S.gd, data, layout, config);
      copyPlotlyStyles(S.host);
      S.renders += 1;
      S.root.dataset.draws = String(S.renders);
    } while (S.dirty);
  } catch (err) {
    showProblem(S, `The chart could not be drawn (${err && err.message}).`);
  } finally {
    S.drawing = false;
  }
  if (!S.plotlyEvents) attachPlotlyEvents(S);
}

// During a drag: move the dragged marker's SVG node (0.1 ms) instead of a restyle (30-50 ms);
// the trace data follows with one draw on release.
function moveMarker(S, i) {
  const node = traceNode(S, POINTS_UID);
  const path = node && node.querySelectorAll("path.point")[i];
  const a = axes(S);
  if (!path || !a) return false;
  path.setAttribute("transform", `translate(${a.xa.d2p(S.points[i][0])},${a.ya.d2p(S.points[i][1])})`);
  return true;
}

function showProblem(S, text) {
  const box = S.root.querySelector(".pe-problem");
  box.textContent = text;
  box.hidden = !text;
}

// ---- the posterior animation ----

// A pushed frame of a finished fit brings that fit's draws (Play animates them); a live frame
// brings none (Play waits). The editor's next own data replaces them (its draws_rev differs).
function takeFrameDraws(S, draws) {
  S.framePlayable = !!draws;
  if (draws) {
    S.draws = decodeDraws(draws);
    S.drawsRev = null;
    S.animY = null;
  }
}

function playable(S) { return S.figVersion % 2 === 1 || !!S.framePlayable; }

function setPlaying(S, on) {
  on = !!(on && S.draws && playable(S));
  if (on === S.playing) return;
  S.playing = on;
  S.root.dataset.playing = String(on);
  const button = S.root.querySelector(".pe-play");
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? "Pause" : "Play draws";
  cancelAnimationFrame(S.raf);
  if (on) {
    S.t0 = performance.now();
    S.animY = Float32Array.from(S.draws.ys[0]);
    S.raf = requestAnimationFrame(() => tick(S));
  }
  requestDraw(S); // shows or hides the animated trace
}

// A smooth morph from draw k to draw k+1 over DRAW_MS, written straight into the trace's SVG
// path (a restyle would recompute every trace, 30-50 ms a frame).
function tick(S) {
  if (!S.playing || !S.root.isConnected) return;
  const ys = S.draws.ys, n = ys.length;
  const phase = (performance.now() - S.t0) / DRAW_MS;
  const k = Math.floor(phase), u = phase - k, w = u * u * (3 - 2 * u);
  const a = ys[k % n], b = ys[(k + 1) % n];
  for (let g = 0; g < a.length; g++) S.animY[g] = a[g] + w * (b[g] - a[g]);
  const node = traceNode(S, ANIM_UID);
  const path = node && node.querySelector("path.js-line");
  const ax = axes(S);
  if (path && ax && !S.drawing) {
    const x = S.draws.x;
    let d = "";
    for (let g = 0; g < x.length; g++) d += `${g ? "L" : "M"}${ax.xa.d2p(x[g]).toFixed(1)},${ax.ya.d2p(S.animY[g]).toFixed(1)}`;
    path.setAttribute("d", d);
    S.animFrames += 1;
    S.root.dataset.animFrames = String(S.animFrames);
  }
  S.raf = requestAnimationFrame(() => tick(S));
}

// ---- edits out ----

function send(S, op, final) {
  S.seq += 1;
  S.root.dataset.seq = String(S.seq);
  S.lastSend = performance.now();
  S.setStateValue("points", { points: S.points.map((p) => p.slice()), seq: S.seq, op, final });
  updateButtons(S);
}

function command(S, name) {
  if (S.press) return;
  const pending = S.seq > S.ack; // an edit Python has not answered yet: it will be undoable
  if (name === "undo" ? !(S.canUndo || pending) : !S.canRedo) return;
  setPlaying(S, false);
  S.setTriggerValue("command", name);
}

function updateButtons(S) {
  S.root.querySelector('[data-command="undo"]').disabled = !(S.canUndo || S.seq > S.ack);
  S.root.querySelector('[data-command="redo"]').disabled = !S.canRedo;
}

// The Classify page's class buttons: one per class, in its colour; a click picks the class new
// points get. Names come from Python and are only ever set as textContent.
function setClasses(S, classes) {
  const key = JSON.stringify(classes || null);
  if (key === S.classesKey) return;
  S.classesKey = key;
  S.classes = classes && classes.length ? classes : null;
  const box = S.root.querySelector(".pe-classes");
  box.replaceChildren();
  box.hidden = !S.classes;
  if (!S.classes) return;
  if (S.addClass >= S.classes.length) S.addClass = 0;
  S.classes.forEach((c, k) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "pe-button pe-class";
    b.dataset.cls = String(k);
    const swatch = document.createElement("span");
    swatch.className = "pe-swatch";
    swatch.style.background = /^#[0-9a-fA-F]{6}$/.test(c.color) ? c.color : "#888888";
    const label = document.createElement("span");
    label.textContent = c.name;
    b.append(swatch, label);
    b.title = "New points get this class";
    b.addEventListener("click", () => selectClass(S, k));
    box.appendChild(b);
  });
  selectClass(S, S.addClass);
}

function selectClass(S, k) {
  S.addClass = k;
  S.root.dataset.addClass = String(k);
  S.root.querySelectorAll(".pe-class").forEach((b) => b.setAttribute("aria-pressed", String(Number(b.dataset.cls) === k)));
}

function setMode(S, mode, exploreDrag) {
  if (exploreDrag) S.exploreDrag = exploreDrag;
  setPlaying(S, false);
  S.mode = mode;
  S.root.dataset.mode = mode;
  S.root.querySelectorAll(".pe-mode").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.mode === mode)));
  S.root.querySelectorAll(".pe-hint").forEach((h) => { h.hidden = h.dataset.hint !== mode; });
  requestDraw(S);
}

function deletePoint(S, i) {
  const removed = S.points[i];
  S.points = S.points.filter((_, k) => k !== i);
  requestDraw(S);
  send(S, { kind: "delete", index: i, from: removed.slice(0, 2), to: null }, true);
}

// ---- listeners (once per editor) ----

function attachToolbar(S) {
  S.root.querySelectorAll(".pe-mode").forEach((b) => b.addEventListener("click", () => setMode(S, b.dataset.mode)));
  S.root.querySelectorAll("[data-command]").forEach((b) => b.addEventListener("click", () => command(S, b.dataset.command)));
  S.root.querySelector(".pe-play").addEventListener("click", () => setPlaying(S, !S.playing));
}

function attachPlotlyEvents(S) {
  if (!S.gd.on) return;
  S.plotlyEvents = true;
  // The modebar's zoom or pan while editing means "explore": follow it, so that the toggle
  // never lies and a press never both zooms and adds.
  S.gd.on("plotly_relayout", (ev) => {
    if (ev && typeof ev.dragmode === "string" && ev.dragmode && S.mode === "edit") setMode(S, "explore", ev.dragmode);
  });
}

function attachPointer(S) {
  const gd = S.gd;
  const inPlot = (e, pt) => {
    if (S.mode !== "edit" || isChrome(e.target)) return false;
    const d = clientToData(S, pt.clientX, pt.clientY);
    return !!(d && d.inside);
  };
  // In edit mode Plotly never sees a press in the plotting area (no zoom box, no pan).
  const guard = (e) => { if (inPlot(e, e.touches ? e.touches[0] : e)) e.stopPropagation(); };
  gd.addEventListener("mousedown", guard, true);
  gd.addEventListener("touchstart", guard, { capture: true, passive: true });

  gd.addEventListener("pointerdown", (e) => {
    if (!e.isPrimary || S.press || !inPlot(e, e)) return;
    e.preventDefault(); // also suppresses this press's compatibility mouse events
    e.stopPropagation();
    S.lastUsed = performance.now();
    setPlaying(S, false); // an edit starts
    const d = clientToData(S, e.clientX, e.clientY);
    const hit = hitTest(S, e.clientX, e.clientY, e.pointerType);
    if (e.button === 2 || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) {
      if (hit >= 0) deletePoint(S, hit);
      return;
    }
    if (e.button !== 0) return;
    S.press = { id: e.pointerId, hit, cx: e.clientX, cy: e.clientY, at: d, moved: false,
                from: hit >= 0 ? S.points[hit].slice(0, 2) : null, timer: null };
    try { gd.setPointerCapture(e.pointerId); } catch (err) { /* the pointer is gone already */ }
    if (hit >= 0) S.root.classList.add("pe-dragging");
    if (hit >= 0 && e.pointerType === "touch") {
      S.press.timer = setTimeout(() => {
        const P = S.press;
        if (!P || P.moved) return;
        S.press = null;
        S.root.classList.remove("pe-dragging");
        deletePoint(S, P.hit);
      }, LONG_PRESS_MS);
    }
  }, true);

  gd.addEventListener("pointermove", (e) => {
    const P = S.press;
    if (!P || e.pointerId !== P.id) {
      if (S.mode === "edit" && !P && e.pointerType === "mouse") {
        S.root.classList.toggle("pe-over-point", hitTest(S, e.clientX, e.clientY, "mouse") >= 0);
      }
      return;
    }
    if (!P.moved && Math.hypot(e.clientX - P.cx, e.clientY - P.cy) < SLOP_PX) return;
    P.moved = true;
    if (P.timer) { clearTimeout(P.timer); P.timer = null; }
    if (P.hit < 0) return; // a drag on empty space does nothing in edit mode
    const d = clientToData(S, e.clientX, e.clientY);
    S.points[P.hit] = clampToRange(S, d.x, d.y).concat(S.points[P.hit].slice(2)); // the label stays
    if (!moveMarker(S, P.hit)) requestDraw(S);
    if (S.reportMs > 0 && performance.now() - S.lastSend >= S.reportMs) {
      send(S, { kind: "move", index: P.hit, from: P.from, to: S.points[P.hit].slice(0, 2) }, false);
    }
  }, true);

  const end = (e, cancelled) => {
    const P = S.press;
    if (!P || e.pointerId !== P.id) return;
    S.press = null;
    if (P.timer) clearTimeout(P.timer);
    S.root.classList.remove("pe-dragging");
    try { gd.releasePointerCapture(e.pointerId); } catch (err) { /* released already */ }
    if (P.hit >= 0 && P.moved) {
      requestDraw(S);
      send(S, { kind: "move", index: P.hit, from: P.from, to: S.points[P.hit].slice(0, 2) }, true);
    } else if (P.hit < 0 && !P.moved && !cancelled) {
      const p = clampToRange(S, P.at.x, P.at.y); // the press position: precise on touch
      S.points = S.points.concat([S.classes ? p.concat([S.addClass]) : p]);
      requestDraw(S);
      send(S, { kind: "add", index: S.points.length - 1, from: null, to: p }, true);
    }
    // Python's points that came during the press (adopted only if nothing was sent since)
    if (S.pendingData) applyPoints(S, S.pendingData);
  };
  gd.addEventListener("pointerup", (e) => end(e, false), true);
  gd.addEventListener("pointercancel", (e) => end(e, true), true);

  gd.addEventListener("contextmenu", (e) => { if (inPlot(e, e)) e.preventDefault(); }, true);
  // No double-click delete: its first click would already have added a point there.
  gd.addEventListener("dblclick", (e) => {
    if (S.mode === "edit" && !isChrome(e.target)) { e.stopPropagation(); e.preventDefault(); }
  }, true);
}

// Ctrl+Z, Ctrl+Shift+Z and Ctrl+Y (Cmd on a Mac) anywhere on the page but in a text field,
// a select or a table: one listener per page, for whichever editor is mounted.
function typing(e) {
  return e.composedPath().some((el) => el instanceof Element && (el.isContentEditable
    || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)
    || /^(textbox|combobox|grid|spinbutton|searchbox)$/.test(el.getAttribute("role") || "")));
}
function shortcut(e) {
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return null;
  const key = /^[a-z]$/i.test(e.key) ? e.key.toLowerCase() : e.code === "KeyZ" ? "z" : e.code === "KeyY" ? "y" : "";
  if (key === "z") return e.shiftKey ? "redo" : "undo";
  return key === "y" && !e.shiftKey ? "redo" : null;
}
if (!window.__bnnPointEditorKeys) {
  window.__bnnPointEditorKeys = true;
  document.addEventListener("keydown", (e) => {
    const name = shortcut(e);
    if (!name || e.defaultPrevented || e.repeat || typing(e)) return;
    const editors = Object.values(window.__bnnPointEditors || {}).filter((ed) => ed.root.isConnected);
    if (!editors.length) return;
    editors.sort((a, b) => b.lastUsed() - a.lastUsed());
    e.preventDefault();
    editors[0].command(name);
  });
}

// ---- one editor ----

function init(root, host) {
  const S = { root, host, gd: root.querySelector(".pe-plot"), Plotly: null, plotlyEvents: false,
              mode: "edit", exploreDrag: "zoom", points: [], seq: 0, ack: 0, press: null, pendingData: null,
              figure: null, figRev: null, figVersion: -1, pointsStyle: {}, draws: null, drawsRev: null,
              reportMs: 0, lastSend: 0, lastUsed: 0, canUndo: false, canRedo: false,
              playing: false, raf: 0, t0: 0, animY: null, animFrames: 0,
              drawing: false, dirty: false, renders: 0, calls: 0, key: null, api: null,
              classes: null, classesKey: null, addClass: 0, labelsIn: null,
              setStateValue: () => {}, setTriggerValue: () => {} };
  S.api = { root, command: (name) => command(S, name), pushFigure: (fig, seq, draws) => pushFigure(S, fig, seq, draws),
            lastUsed: () => S.lastUsed };
  attachToolbar(S);
  attachPointer(S);
  return S;
}

// A figure pushed by push_figure's frame component (a live band during a training run).
// Versions order figures from data (2 * frames + 1) and frames (2 * seq): see editor.py.
function pushFigure(S, figure, seq, draws) {
  if (2 * seq <= S.figVersion) return;
  S.figure = figure;
  S.figVersion = 2 * seq;
  S.figRev = null;
  takeFrameDraws(S, draws);
  S.root.dataset.figureVersion = String(S.figVersion);
  setPlaying(S, false);
  updatePlay(S);
  requestDraw(S);
}

// Play needs draws of the band on screen: a live frame has none.
function updatePlay(S) {
  const button = S.root.querySelector(".pe-play");
  button.hidden = !S.draws;
  button.disabled = !playable(S);
}

// Python's points, unless edits of ours are still unanswered or a press is under way.
function applyPoints(S, data) {
  const ack = Number(data.ack) || 0;
  S.ack = Math.max(S.ack, ack);
  S.root.dataset.ack = String(ack);
  let changed = false;
  if (S.press) {
    S.pendingData = data;
  } else {
    S.pendingData = null;
    if (ack >= S.seq) {
      const points = decodePoints(data.points, data.labels);
      if (!samePoints(points, S.points)) { S.points = points; changed = true; }
    }
  }
  S.seq = Math.max(S.seq, ack);
  S.root.dataset.seq = String(S.seq);
  updateButtons(S);
  if (changed) { setPlaying(S, false); requestDraw(S); }
  return changed;
}

function apply(S, data) {
  if (S.key !== data.editor_key) {
    if (S.key && REG[S.key] === S.api) delete REG[S.key];
    S.key = data.editor_key;
    REG[S.key] = S.api;
  }
  S.reportMs = Number(data.report_every_ms) || 0;
  S.canUndo = !!data.can_undo;
  S.canRedo = !!data.can_redo;
  S.pointsStyle = data.points_style || {};
  const classesBefore = S.classesKey;
  setClasses(S, data.classes);
  S.root.querySelector(".pe-status").textContent = data.status || "";
  let redraw = applyPoints(S, data) || classesBefore !== S.classesKey;
  let stop = redraw;
  const version = 2 * (Number(data.frames) || 0) + 1;
  if (version > S.figVersion || (version === S.figVersion && data.figure_rev !== S.figRev)) {
    S.figure = data.figure;
    S.figRev = data.figure_rev;
    S.figVersion = version;
    S.framePlayable = false;
    redraw = stop = true;
  }
  const pending = PENDING[S.key];
  if (pending) {
    delete PENDING[S.key];
    if (2 * pending.seq > S.figVersion) {
      S.figure = pending.figure;
      S.figVersion = 2 * pending.seq;
      S.figRev = null;
      takeFrameDraws(S, pending.draws);
      if (pending.draws) S.drawsRev = data.draws_rev;  // the frame's draws are newer than these
      redraw = stop = true;
    }
  }
  S.root.dataset.figureVersion = String(S.figVersion);
  if (data.draws_rev !== S.drawsRev) {
    S.drawsRev = data.draws_rev;
    S.draws = decodeDraws(data.draws);
    S.animY = null;
    redraw = stop = true;
  }
  updatePlay(S);
  if (stop) setPlaying(S, false);
  if (redraw || !S.renders) requestDraw(S);
}

export default function (component) {
  const { parentElement, data, setStateValue, setTriggerValue } = component;
  const root = parentElement.querySelector('[data-testid="point-editor"]');
  const S = root.__pe || (root.__pe = init(root, parentElement));
  S.calls += 1;
  root.dataset.calls = String(S.calls);
  S.setStateValue = setStateValue; // always the newest
  S.setTriggerValue = setTriggerValue;
  apply(S, data);
  if (!S.Plotly) {
    loadPlotly(data.bundle).then((Plotly) => {
      if (!Plotly) { showProblem(S, "The chart library did not load: reload the page."); return; }
      if (S.Plotly) return;
      S.Plotly = Plotly;
      showProblem(S, "");
      requestDraw(S);
    });
  }
  return () => {
    S.playing = false;
    cancelAnimationFrame(S.raf);
    if (S.Plotly) S.Plotly.purge(S.gd);
    if (REG[S.key] === S.api) delete REG[S.key];
    delete root.__pe;
  };
}
