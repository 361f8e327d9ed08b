"""Train: launch a short run of the Build page's model, watch its curves live, compare runs.

Training happens in worker processes (see ``explorer.training``); this page only queues runs,
polls the run store once a second in a fragment, and draws.
"""

from pathlib import Path

import streamlit as st

from explorer import data as datasets
from explorer.builders import get_builder
from explorer.config import fields_of, make_config, parse_assignments
from explorer.errors import ExplorerError
from explorer.training.charts import curves_figure
from explorer.training.progress import eta_seconds, format_seconds, fraction_done, run_row
from explorer.training.request import Hyperparams, RunRequest, available_backends
from explorer.training.service import start_service
from explorer.training.store import store_path
from explorer.ui.access import allowed, unlocked
from explorer.ui.nav import through_app
from explorer.ui.session import TRAIN_SHOWN, Session, widget
from explorer.uploads import store_upload

through_app()

ses = Session(st.session_state)
ss = st.session_state
try:
    sched = st.cache_resource(start_service)(str(store_path()))
except ExplorerError as exc:  # e.g. the store's folder is not writable
    st.error(str(exc))
    st.stop()
store = sched.store
HP = {f.name: f for f in fields_of(Hyperparams)}
UPLOAD = "upload an .npz..."


@st.cache_data(max_entries=16, show_spinner=False)
def describe_npz(path: str, shown: str) -> str:
    """Validate a user dataset once per file (raises DataError) and describe it in one line."""
    d = datasets.load_npz(path, shown)
    return (f"{len(d.y_train):,} train / {len(d.y_test):,} test images, "
            f"{'x'.join(map(str, d.input_shape))}, {d.num_classes} classes")


st.title(":material/model_training: Train")
spec = ses.spec
with st.sidebar:
    st.subheader("Model")
    st.caption(f"From the Build page: **{spec.label}** (`{spec.builder}`)")
    default_changes = "\n".join(spec.to_args())
    changes = st.text_area("Changes (field=value per line)", default_changes,
                           key=widget("train", "changes", spec.builder, spec.preset, default_changes),
                           help="The what-if: e.g. conv_layers=2. Input shape and classes follow the dataset.")
    st.subheader("Data")
    choice = st.selectbox("Dataset", [*datasets.DATASETS, UPLOAD], key=widget("train", "dataset"),
                          format_func=lambda n: n if n == UPLOAD else f"{n} — {datasets.DATASETS[n].description}")
    dataset = choice
    if choice == UPLOAD and not allowed(ss):
        st.caption("Uploads need the class passcode (below).")
        dataset = None
    elif choice == UPLOAD:
        up = st.file_uploader("x_train, y_train, x_test, y_test", type=["npz"], key=widget("train", "upload"))
        dataset = None
        if up is not None:
            try:
                path = store_upload(up.name, up.getvalue(), "dataset", store.uploads_dir)
                st.caption(describe_npz(str(path), up.name))
                dataset = str(path)
            except ExplorerError as exc:
                st.error(str(exc))
    with st.expander("Data options"):
        subset = st.number_input("Subset (images, 0 = all)", 0, 10_000_000, 0, step=500, key=widget("train", "subset"))
        validation = st.radio("Validate on", ["split", "test"], horizontal=True, key=widget("train", "validation"),
                              format_func={"split": "10% of train", "test": "test set"}.get)
        normalise = st.selectbox("Normalise", ["scale", "standardise", "none"], key=widget("train", "normalise"))
        flip = st.checkbox("Augment: random flips", key=widget("train", "flip"))
        shift = st.slider("Augment: random shift", 0.0, 0.3, 0.0, 0.05, key=widget("train", "shift"))
    st.subheader("Hyperparameters")
    c1, c2 = st.columns(2)
    epochs = c1.number_input("Epochs", 0, 1000, 3, key=widget("train", "epochs"), help=HP["epochs"].spec.help)
    max_seconds = c2.number_input("Time budget (s)", 0, 86400, 0, key=widget("train", "max_seconds"),
                                  help=HP["max_seconds"].spec.help)
    batch_size = c1.number_input("Batch size", 1, 8192, 64, key=widget("train", "batch_size"))
    lr = c2.number_input("Learning rate", 1e-7, 1e6, 1e-3, step=1e-4, format="%g", key=widget("train", "lr"))
    optimizer = c1.selectbox("Optimizer", HP["optimizer"].spec.choices, key=widget("train", "optimizer"))
    seed = c2.number_input("Seed", 0, 2**31 - 1, 0, key=widget("train", "seed"))
    backend = st.selectbox("Backend", available_backends(), key=widget("train", "backend"))
    allowed = unlocked(ss, "launch runs and upload data")
    launch = allowed and st.button("Launch", icon=":material/rocket_launch:", type="primary", width="stretch",
                                   disabled=dataset is None, key=widget("train", "launch"))

if launch:
    try:
        overrides = parse_assignments(get_builder(spec.builder).config_cls, changes.split())
        req = RunRequest(
            spec.builder, spec.preset, overrides, dataset,
            datasets.DataOptions(subset=int(subset), validation=validation, normalise=normalise, flip=flip,
                                 shift=float(shift)),
            make_config(Hyperparams, epochs=int(epochs), max_seconds=float(max_seconds), batch_size=int(batch_size),
                        optimizer=optimizer, learning_rate=float(lr), seed=int(seed), backend=backend),
        )
        run_id = sched.submit(req, session=ses.train_session)
        ses.shown_runs = [run_id, *[r for r in ses.shown_runs if r != run_id]][:4]
    except ExplorerError as exc:
        st.error(str(exc))

try:
    runs = store.runs(limit=200)
except ExplorerError as exc:  # the store went bad while the app ran
    st.error(str(exc))
    st.stop()
if not runs:
    st.info("No runs yet: pick a dataset and press **Launch** in the sidebar.")
    st.stop()
by_id = {r.id: r for r in runs}
ses.shown_runs = [r for r in ses.shown_runs if r in by_id] or [runs[0].id]
shown = st.multiselect("Runs to show (overlay to compare)", list(by_id), key=TRAIN_SHOWN,
                       format_func=lambda i: f"#{i} {by_id[i].label}")
smoothing = st.slider("Smoothing", 0.0, 0.95, 0.6, 0.05, key=widget("train", "smoothing"))
active = any(r.active for r in runs)


@st.fragment(run_every=1.0 if active else None)
def live() -> None:
    """Progress, Stop and curves of the shown runs, redrawn every second while runs are active."""
    try:
        draw_live()
    except ExplorerError as exc:  # the store went bad while the page polled it
        st.error(str(exc))


def draw_live() -> None:
    """The body of :func:`live`."""
    current = [store.get(i) for i in shown]
    current = [r for r in current if r is not None]
    for r in current[:1]:
        cols = st.columns([3, 1, 1, 1, 1])
        cols[0].markdown(f"**#{r.id} {r.label}** — `{r.status}`  \n{r.device or 'waiting for a worker'}"
                         + (f"  \n:red[{r.error}]" if r.error else ""))
        cols[1].metric("Epoch", f"{r.epoch or 0}/{r.epochs or '∞'}")
        cols[2].metric("Step", f"{r.step or 0}/{r.steps_per_epoch or '?'}")
        cols[3].metric("Images/s", f"{r.images_per_s:,.0f}" if r.images_per_s else "—")
        cols[4].metric("ETA", format_seconds(eta_seconds(r)))
        st.progress(fraction_done(r) or 0.0)
        if r.active and st.button("Stop", icon=":material/stop_circle:", key=widget("train", "stop", r.id)):
            sched.stop(r.id)
    pts = [(f"#{r.id} {r.label}", store.points(r.id)) for r in current]
    c1, c2 = st.columns(2)
    c1.plotly_chart(curves_figure(pts, "loss", smoothing), key=widget("train", "loss"), width="stretch")
    c2.plotly_chart(curves_figure(pts, "accuracy", smoothing), key=widget("train", "acc"), width="stretch")
    st.caption("Solid line: training (running mean of the epoch, smoothed) per step · dots: training per "
               "epoch · dashed diamonds: validation per epoch.")
    st.dataframe([run_row(r) for r in store.runs(limit=200)], hide_index=True, width="stretch")
    if active and not any(r.active for r in store.runs(("queued", "running"), limit=1)):
        st.rerun(scope="app")  # the last run ended: refresh the downloads and stop polling


live()
focus = by_id.get(shown[0]) if shown else None
if focus is not None and not focus.active:
    d1, d2 = st.columns(2)
    d1.download_button("History (CSV)", store.history_csv(focus.id), f"run-{focus.id}-history.csv", "text/csv",
                       icon=":material/download:")
    if focus.model_path and Path(focus.model_path).is_file():
        d2.download_button("Trained model (.keras)", Path(focus.model_path).read_bytes(), f"run-{focus.id}.keras",
                           "application/octet-stream", icon=":material/download:")
