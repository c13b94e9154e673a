"""Your data: train on a CSV (or a UCI set), hold rows out, and see whether the uncertainty holds.

Widgets -> :mod:`dashboard.model.your_data` (reading, checks, split, training, scores) ->
:mod:`dashboard.figures.your_data` (figures). Every message about a bad file or a bad choice of
columns is a :class:`bnn.BNNError` raised there and shown here; the file's name, its column names and
any message quoting them reach Markdown only through :func:`dashboard.model.text.escape_markdown`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bnn.errors import BNNError
from bnn.evaluation import uci
from bnn.train import Progress
from dashboard.figures import your_data as figures
from dashboard.figures import your_data_classes as class_figures
from dashboard.model import runner
from dashboard.model import your_data as table
from dashboard.model import your_data_classes as classes
from dashboard.model.limits import LIMITS
from dashboard.model.text import escape_markdown

UPLOAD, UCI = "Upload a CSV", "A UCI benchmark set"
RESULT = "yd_result"


@st.cache_data(max_entries=4, show_spinner=False)
def read_upload(data: bytes) -> pd.DataFrame:
    return table.read_csv(data)


@st.cache_data(max_entries=4, show_spinner=False)
def read_uci(name: str) -> pd.DataFrame:
    ds = uci.load(table.UCI_DIR, name)
    frame = pd.DataFrame(ds.x, columns=[f"x{i}" for i in range(ds.x.shape[1])])
    frame["y"] = ds.y
    return frame


def choose_table() -> tuple[pd.DataFrame, str] | None:
    sets = uci.available(table.UCI_DIR)
    source = st.radio("Data", [UPLOAD, UCI] if sets else [UPLOAD], horizontal=True, key="yd_source")
    if source == UCI:
        name = st.selectbox("UCI data set", sets, key="yd_uci")
        frame = read_uci(name)
        if len(frame) > table.MAX_ROWS:
            st.error(f"{escape_markdown(name)} has {len(frame):,} rows; this page takes at most {table.MAX_ROWS:,}. "
                     f"Run the full benchmark instead: python -m bnn uci --dataset {escape_markdown(name)}")
            return None
        return frame, f"UCI {name}"
    upload = st.file_uploader(f"CSV file with a header row (at most {LIMITS.upload_bytes / 1e6:g} MB, "
                              f"{table.MAX_ROWS:,} rows)", type=["csv", "txt"], key="yd_upload")
    if upload is None:
        st.info("Upload a CSV file: one row per example, one column per variable, names in the first row.")
        return None
    try:
        return read_upload(upload.getvalue()), upload.name
    except BNNError as exc:
        st.error(f"{escape_markdown(upload.name)}: {escape_markdown(exc)}")
        return None


def reset_inputs(numeric: list[str]) -> None:
    """A new target: the inputs become every other numeric column; a text target is taken as classes."""
    target = st.session_state["yd_target"]
    st.session_state["yd_inputs"] = [c for c in numeric if c != target]
    st.session_state["yd_classes"] = target not in numeric


def choose_columns(frame: pd.DataFrame) -> tuple[str, list[str], bool]:
    numeric = table.numeric_columns(frame)
    columns = list(frame.columns)
    if st.session_state.get("yd_columns") != columns:  # a new table: fresh defaults
        st.session_state["yd_columns"] = columns
        st.session_state["yd_target"] = classes.default_target(frame)
        reset_inputs(numeric)
    left, right = st.columns([1, 2])
    target = left.selectbox("Target (the column to predict)", columns, key="yd_target",
                            on_change=reset_inputs, args=(numeric,))
    inputs = right.multiselect("Inputs", columns, key="yd_inputs")
    if len(numeric) < len(columns):
        st.caption("Columns with text: " + ", ".join(escape_markdown(c) for c in columns if c not in numeric)
                   + " (only numeric columns can be inputs; a text target is predicted as classes).")
    return target, inputs, choose_classes(frame, target)


def choose_classes(frame: pd.DataFrame, target: str) -> bool:
    """The "Treat the target as classes" box, for a text target or one of few whole numbers."""
    kind = classes.target_kind(frame, target)
    if kind is classes.TargetKind.NUMBER:
        return False
    if "yd_classes" not in st.session_state:  # the box was not shown on the last run: its default
        st.session_state["yd_classes"] = kind is classes.TargetKind.TEXT
    chosen = st.checkbox("Treat the target as classes", key="yd_classes")
    try:
        _, names = classes.class_labels(frame[target])
        found = f"{len(names)} classes, in this order: " + ", ".join(escape_markdown(n) for n in names)
    except BNNError as exc:
        names, found = [], f"as classes: {escape_markdown(exc)}"
    if kind is classes.TargetKind.TEXT:
        why = "it holds text, so it can only be predicted as classes (regression needs numbers)"
    else:
        why = (f"it holds whole numbers of {frame[target].nunique()} different values: predict them as classes, "
               "or as a number")
    st.caption(f"The target {escape_markdown(target)}: {why}." + (f" {found}." if chosen else ""))
    return chosen


def choose_experiment() -> table.ExperimentChoices:
    d = table.ExperimentChoices()
    cols = st.columns(5)
    fraction = cols[0].slider("Held-out share", *table.TEST_FRACTION_RANGE, d.test_fraction, 0.05, key="yd_fraction")
    level = cols[1].slider("Interval level", 0.5, 0.99, d.level, 0.01, key="yd_level")
    hidden = cols[2].number_input("Hidden units", 1, LIMITS.units, d.hidden, key="yd_hidden")
    steps = cols[3].number_input("Training steps", 100, 20_000, d.steps, 100, key="yd_steps")
    seed = cols[4].number_input("Seed", 0, LIMITS.seed, d.seed, key="yd_seed")
    return table.ExperimentChoices(test_fraction=fraction, level=level, hidden=int(hidden), steps=int(steps),
                                   seed=int(seed))


def train(frame: pd.DataFrame, name: str, target: str, inputs: list[str], choices: table.ExperimentChoices,
          as_classes: bool) -> None:
    try:
        if as_classes:
            x, y, names, rows = classes.select_classes(frame, target, inputs)
        else:
            x, y, rows = table.select(frame, target, inputs)
    except BNNError as exc:
        st.error(escape_markdown(exc))
        return
    if len(rows) < len(frame):
        st.info(f"{len(frame) - len(rows)} row(s) with an empty cell in the chosen columns are left out.")
    bar = st.progress(0.0, text="training")

    def show(progress: Progress) -> None:
        bar.progress(progress.epoch / progress.epochs, text=f"training: epoch {progress.epoch}/{progress.epochs}")

    def wait(turn: runner.Wait) -> None:
        bar.progress(0.0, text=turn.message())

    try:
        with runner.training_slot(wait, kind="your data"):  # the dashboard's bound on concurrent trainings
            experiment: table.Experiment | classes.ClassExperiment = (
                classes.run_class_experiment(x, y, names, inputs, target, choices, rows=rows, callback=show)
                if as_classes else table.run_experiment(x, y, inputs, target, choices, rows=rows, callback=show))
    except BNNError as exc:
        bar.empty()
        st.error(escape_markdown(exc))
        return
    bar.empty()
    st.session_state[RESULT] = (experiment, f"{name}: {target} from {', '.join(inputs)}")


def show_class_result(experiment: classes.ClassExperiment, title: str) -> None:
    s = experiment.scores
    st.subheader(f"Held-out rows ({s.n}) · {escape_markdown(title)} · {len(experiment.names)} classes")
    cols = st.columns(4)
    cols[0].metric("accuracy", f"{s.accuracy:.1%}", help="share of held-out rows whose most probable class is right")
    cols[1].metric("NLL", f"{s.nll:.3f}", help="mean −log p(true class) per held-out row, in nats (lower is better)")
    cols[2].metric("Brier score", f"{s.brier:.3f}",
                   help="mean squared distance of the probabilities from the true class, 0 to 2 (lower is better)")
    cols[3].metric("ECE", f"{s.ece:.3f}", help=f"expected calibration error over {s.bins} confidence bins: the "
                   "row-weighted gap between confidence and accuracy (Guo et al. 2017; lower is better)")
    left, right = st.columns(2)
    left.markdown("**Reliability**: accuracy of the held-out rows against the confidence of their prediction")
    left.plotly_chart(class_figures.reliability_figure(experiment), key="yd_reliability_chart")
    right.markdown("**Confusion matrix**: held-out rows of each true class by the class predicted")
    right.plotly_chart(class_figures.confusion_figure(experiment), key="yd_confusion_chart")
    st.caption(f"p0…p{len(experiment.names) - 1} are the probabilities of the classes in the order "
               + ", ".join(escape_markdown(n) for n in experiment.names)
               + "; entropy = aleatoric + epistemic, in nats.")
    st.dataframe(experiment.predictions, hide_index=True, key="yd_table")
    st.download_button("Download the predictions (CSV)", classes.predictions_csv(experiment),
                       file_name="predictions.csv", mime="text/csv", key="yd_download")


def show_result(experiment: table.Experiment | classes.ClassExperiment, title: str) -> None:
    if isinstance(experiment, classes.ClassExperiment):
        show_class_result(experiment, title)
        return
    s = experiment.scores
    level = experiment.level
    st.subheader(f"Held-out rows ({s.n}) · {escape_markdown(title)}")
    cols = st.columns(5)
    cols[0].metric("RMSE", f"{s.rmse:.4g}", help="root mean squared error of the predictive mean")
    cols[1].metric("test log-likelihood", f"{s.test_ll:.3f}",
                   help="mean log p(y | x, data) per held-out row, from the mixture over posterior draws")
    cols[2].metric(f"{level:.0%} coverage", f"{s.coverage[level]:.1%}",
                   help=f"share of held-out targets inside their {level:.0%} interval; ideally {level:.0%}")
    cols[3].metric("CRPS", f"{s.crps:.4g}", help="continuous ranked probability score (lower is better)")
    fitted = experiment.fitted
    cols[4].metric("noise σ", "depends on x" if fitted.is_heteroscedastic else f"{fitted.noise_sigma:.4g}",
                   help="the fit's noise std (learned, fixed, or a function of x: then see the intervals)")
    left, right = st.columns(2)
    left.markdown(f"**Predicted against actual**, with {level:.0%} intervals")
    left.plotly_chart(figures.predicted_vs_actual(experiment), key="yd_pred_chart")
    right.markdown("**Calibration**: each interval level against the share of rows it holds")
    right.plotly_chart(figures.calibration_figure(experiment), key="yd_cal_chart")
    band = figures.band_for_one_input(experiment)
    if band is not None:
        st.markdown(f"**The band** of the main page: the {level:.0%} interval of y over the input's range")
        st.plotly_chart(band, key="yd_band_chart")
    st.dataframe(experiment.predictions, hide_index=True, key="yd_table")
    st.download_button("Download the predictions (CSV)", table.predictions_csv(experiment),
                       file_name="predictions.csv", mime="text/csv", key="yd_download")


def render() -> None:
    """The page: choose a table, columns and settings, train, and show the held-out scores."""
    st.title("Your data")
    st.caption("Upload a table, choose the column to predict and the inputs, and a share of rows to hold out. "
               "The network never sees those rows in training; the page then shows how close its predictions come "
               "and whether its intervals hold the truth as often as they claim.")
    chosen = choose_table()
    if chosen is not None:
        frame, name = chosen
        st.dataframe(frame.head(5), hide_index=True, key="yd_preview")
        st.caption(f"{len(frame):,} rows, {frame.shape[1]} columns")
        target, inputs, as_classes = choose_columns(frame)
        choices = choose_experiment()
        if st.button("Train", type="primary", key="yd_train"):
            train(frame, name, target, inputs, choices, as_classes)
    result = st.session_state.get(RESULT)
    if result is not None:
        show_result(*result)
