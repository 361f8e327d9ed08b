"""Train: launch runs or a grid experiment of the Build page's model, watch them live, compare them.

Training happens in worker processes (see ``explorer.training``); this page only queues runs,
polls the run store once a second in a fragment, and draws: one status row (phase, progress,
Stop) per active run, the curves of the shown runs (one colour per run), the runs table, the
Experiment view (curves, accuracy against cost with the Pareto front, table) and the gradient
flow of a run (heat map, and the graph's blocks coloured by gradient norm at a step).
"""

from pathlib import Path

import streamlit as st

from explorer import data as datasets
from explorer import render
from explorer.analysis import analyse
from explorer.builders import get_builder
from explorer.config import fields_of, make_config, parse_assignments
from explorer.errors import ExplorerError
from explorer.training.charts import curves_figure, experiment_scatter, grad_heatmap
from explorer.training.experiment import parse_grid
from explorer.training.experiment import view as experiment_view
from explorer.training.progress import (
    distinct_labels,
    epochs_text,
    eta_seconds,
    format_seconds,
    fraction_done,
    phase_text,
    placement,
    run_color,
    run_row,
)
from explorer.training.request import PRECISIONS, RECIPES, SCHEDULES, Hyperparams, RunRequest, available_backends
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
NO_RECIPE = "(none)"


@st.cache_data(max_entries=16, show_spinner=False)
def describe_npz(path: str, shown: str) -> str:
    """Validate a user dataset once per file (raises DataError) and describe it in one line."""
    d = datasets.load_npz(path, shown)
    return (f"{len(d.y_train):,} train / {len(d.y_test):,} test images, "
            f"{'x'.join(map(str, d.input_shape))}, {d.num_classes} classes")


def apply_recipe() -> None:
    """Fill the form with a recipe's hyperparameters and data options (the architecture: its preset)."""
    name = ses.get(widget("train", "recipe"))
    if name not in RECIPES:
        return
    from explorer.builders import resolve

    req = RECIPES[name][1]
    hp, data = req.get("hp", {}), req.get("data", {})
    ses.show(resolve(req["builder"]))
    values = {"dataset": req.get("dataset"), "epochs": hp.get("epochs"), "batch_size": hp.get("batch_size"),
              "lr": hp.get("learning_rate"), "optimizer": hp.get("optimizer"), "schedule": hp.get("lr_schedule"),
              "flip": data.get("flip"), "shift": data.get("shift"), "normalise": data.get("normalise")}
    for k, v in values.items():
        if v is not None:
            ses.set(widget("train", k), v)


st.title(":material/model_training: Train")
spec = ses.spec
with st.sidebar:
    top = st.container()  # Launch goes here, above the fold, once the form below is read
    st.subheader("Model")
    st.caption(f"From the Build page: **{spec.label}** (`{spec.builder}`)")
    default_changes = "\n".join(spec.to_args())
    changes = st.text_area("Changes (field=value per line)", default_changes,
                           key=widget("train", "changes", spec.builder, spec.preset, default_changes),
                           help="The what-if: e.g. conv_layers=2. Input shape and classes follow the dataset.")
    st.selectbox("Recipe", [NO_RECIPE, *RECIPES], key=widget("train", "recipe"), on_change=apply_recipe,
                 format_func=lambda n: n if n == NO_RECIPE else RECIPES[n][0].split(":")[0],
                 help="A whole setup from a book: sets the model, data options and hyperparameters below.")
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
    batch_size = c1.number_input("Batch size", 1, 8192, 64, key=widget("train", "batch_size"),
                                 help="Raise it on a GPU to keep it busy (with the learning rate).")
    lr = c2.number_input("Learning rate", 1e-7, 1e6, 1e-3, step=1e-4, format="%g", key=widget("train", "lr"))
    optimizer = c1.selectbox("Optimizer", HP["optimizer"].spec.choices, key=widget("train", "optimizer"))
    seed = c2.number_input("Seed", 0, 2**31 - 1, 0, key=widget("train", "seed"))
    with st.expander("Speed and gradient flow"):
        backend = st.selectbox("Backend", available_backends(), key=widget("train", "backend"))
        precision = st.selectbox("Precision", PRECISIONS, key=widget("train", "precision"),
                                 help=HP["precision"].spec.help)
        xla = st.checkbox("XLA (jit_compile)", key=widget("train", "xla"), help=HP["jit_compile"].spec.help)
        schedule = st.selectbox("Learning-rate schedule", SCHEDULES, key=widget("train", "schedule"),
                                help=HP["lr_schedule"].spec.help)
        grad_every = st.number_input("Gradient norms every N steps (0: off)", 0, 100000, HP["grad_every"].default,
                                     key=widget("train", "grad_every"), help=HP["grad_every"].spec.help)
    with st.expander("Experiment: a grid of runs"):
        grid_text = st.text_area("Grid (field=v1,v2 per line)", "", key=widget("train", "grid"),
                                 placeholder="depth=20,32,44,56\nshortcut=true,false",
                                 help="One or two config fields and/or hyperparameters (learning_rate, "
                                      "batch_size, ...); every combination is one run.")
    can = unlocked(ss, "launch runs and upload data")

with top:
    launch = can and st.button("Launch", icon=":material/rocket_launch:", type="primary", width="stretch",
                               disabled=dataset is None, key=widget("train", "launch"))
    launch_exp = can and st.button("Launch experiment", icon=":material/grid_view:", width="stretch",
                                   disabled=dataset is None or not grid_text.strip(), key=widget("train", "launch_exp"),
                                   help="Launch the grid (in 'Experiment: a grid of runs' below) as one experiment.")


def form_request() -> RunRequest:
    """The run the sidebar describes (raises ConfigError/DataError with one sentence)."""
    overrides = parse_assignments(get_builder(spec.builder).config_cls, changes.split())
    return RunRequest(
        spec.builder, spec.preset, overrides, dataset,
        datasets.DataOptions(subset=int(subset), validation=validation, normalise=normalise, flip=flip,
                             shift=float(shift)),
        make_config(Hyperparams, epochs=int(epochs), max_seconds=float(max_seconds), batch_size=int(batch_size),
                    optimizer=optimizer, learning_rate=float(lr), seed=int(seed), backend=backend,
                    precision=precision, jit_compile=bool(xla), lr_schedule=schedule, grad_every=int(grad_every)),
    )


if launch:
    try:
        run_id = sched.submit(form_request(), session=ses.train_session)
        ses.shown_runs = [run_id, *[r for r in ses.shown_runs if r != run_id]][:4]
    except ExplorerError as exc:
        st.error(str(exc))
if launch_exp:
    try:
        eid, ids = sched.submit_experiment(form_request(), parse_grid(grid_text.splitlines()),
                                           session=ses.train_session)
        ses.set(widget("train", "experiment"), eid)
        ses.shown_runs = ids
    except ExplorerError as exc:
        st.error(str(exc))

try:
    runs = store.runs(limit=200)
except ExplorerError as exc:  # the store went bad while the app ran
    st.error(str(exc))
    st.stop()
if not runs:
    st.info("No runs yet: pick a dataset and press **Launch** at the top of the sidebar.")
    st.stop()
by_id = {r.id: r for r in runs}
ses.shown_runs = [r for r in ses.shown_runs if r in by_id] or [runs[0].id]
active = any(r.active for r in runs)


def swatch(run_id: int) -> str:
    """A dot in the run's colour (the same as its curves)."""
    return f"<span style='color:{run_color(run_id)};font-size:1.3em'>●</span>"


@st.fragment(run_every=1.0 if active else None)
def status_rows() -> None:
    """One row per queued or running run: phase with elapsed time, progress, its own Stop."""
    current = store.runs(("queued", "running"), limit=50)
    if not current:
        return
    places = store.queue_positions()
    st.markdown("**Active runs**")
    for r in sorted(current, key=lambda r: r.id):
        cols = st.columns([5, 5, 2], vertical_alignment="center")
        cols[0].markdown(f"{swatch(r.id)} **#{r.id}** {r.label}" + (f"  \n:gray[{placement(r)}]" if r.device else ""),
                         unsafe_allow_html=True)
        ips = f"{r.images_per_s:,.0f} img/s" if r.images_per_s else "— img/s"
        eta = f" · ETA {format_seconds(eta_seconds(r))}" if r.status == "running" else ""
        cols[1].markdown(f"**{phase_text(r, places.get(r.id))}**  \nepoch {epochs_text(r)} · step "
                         f"{r.step or 0}/{r.steps_per_epoch or '?'} · {ips}{eta}")
        if cols[2].button("Stop", icon=":material/stop_circle:", key=widget("train", "stop", r.id),
                          help=f"Stop run #{r.id}", width="stretch"):
            sched.stop(r.id)
        st.progress(fraction_done(r) or 0.0)


status_rows()
shown = st.multiselect("Runs to show (overlay to compare)", list(by_id), key=TRAIN_SHOWN,
                       format_func=lambda i: f"#{i} {by_id[i].label}")
smoothing = st.slider("Smoothing", 0.0, 0.95, 0.6, 0.05, key=widget("train", "smoothing"))


@st.fragment(run_every=1.0 if active else None)
def live() -> None:
    """Curves of the shown runs and the runs table, redrawn every second while runs are active."""
    try:
        draw_live()
    except ExplorerError as exc:  # the store went bad while the page polled it
        st.error(str(exc))


def draw_live() -> None:
    """The body of :func:`live`."""
    current = [r for r in (store.get(i) for i in shown) if r is not None]
    labels = distinct_labels(current)
    pts = [(f"#{r.id} {labels[r.id]}", store.points(r.id), run_color(r.id)) for r in current]
    for r in current:
        if r.error and r.status in ("failed", "interrupted"):
            st.caption(f"{swatch(r.id)} #{r.id}: :red[{r.error}]", unsafe_allow_html=True)
    c1, c2 = st.columns(2)
    c1.plotly_chart(curves_figure(pts, "loss", smoothing), key=widget("train", "loss"), width="stretch")
    c2.plotly_chart(curves_figure(pts, "accuracy", smoothing), key=widget("train", "acc"), width="stretch")
    st.caption("Solid line: training (running mean of the epoch, smoothed) per step · dots: training per "
               "epoch · dashed diamonds: validation per epoch. Each run keeps its colour.")
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

experiments = store.experiments(limit=50)
if experiments:
    st.subheader("Experiment")
    exps = {e["id"]: e for e in experiments}
    eid = st.selectbox("Experiment", list(exps), key=widget("train", "experiment"),
                       format_func=lambda i: f"#{i} {exps[i]['label']} ({len(exps[i]['runs'])} runs)")

    @st.fragment(run_every=1.0 if active else None)
    def experiment_panel() -> None:
        """An experiment's runs: accuracy curves overlaid, accuracy against cost with the Pareto front, a table."""
        v = experiment_view(store, eid)
        c1, c2 = st.columns(2)
        c1.plotly_chart(curves_figure(v["curves"], "accuracy"), key=widget("train", "exp_acc"), width="stretch")
        x = c2.radio("Cost", ["params", "macs", "train_seconds"], horizontal=True, key=widget("train", "exp_x"),
                     format_func={"params": "params", "macs": "MACs", "train_seconds": "training time"}.get)
        c2.plotly_chart(experiment_scatter(v["rows"], x), key=widget("train", "exp_scatter"), width="stretch")
        st.dataframe(v["table"], hide_index=True, width="stretch")

    experiment_panel()

with_norms = [r for r in runs if store.grad_norms(r.id)]
if with_norms:
    st.subheader("Gradient flow")
    nr = {r.id: r for r in with_norms}
    default = next((i for i in shown if i in nr), with_norms[0].id)
    if ses.get(widget("train", "grad_run")) not in nr:
        ses.set(widget("train", "grad_run"), default)
    gid = st.selectbox("Run", list(nr), key=widget("train", "grad_run"), format_func=lambda i: f"#{i} {nr[i].label}")
    norms = store.grad_norms(gid)
    st.plotly_chart(grad_heatmap(norms), key=widget("train", "grad_map"), width="stretch")
    steps = sorted({int(s) for series in norms.values() for s, _v in series})
    if len(steps) > 1:
        step = st.select_slider("Step", steps, value=steps[-1], key=widget("train", "grad_step", gid))
    else:
        step = steps[0]
    at_step = {b: next((v for s, v in series if s == step), None) for b, series in norms.items()}
    try:
        req = RunRequest.from_dict(nr[gid].request)
        arch, _how = req.adapted(*req.dataset_shape())
        graph = analyse(arch).graph
        styles = render.heat_styles(graph, render.heat_colors(at_step),
                                    {b: f"gradient norm {v:.3g}" for b, v in at_step.items() if v is not None})
        dot = render.to_dot(graph, "blocks", styles=styles)
        st.graphviz_chart(dot, width="stretch")
        st.caption(f"Blocks coloured by gradient norm at step {step} (log scale: pale small, red large). "
                   "A deep plain net's early blocks fade; a ResNet's stay warm.")
    except ExplorerError as exc:
        st.caption(f"The graph of run #{gid} cannot be drawn here: {exc}")
