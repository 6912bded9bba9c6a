"""The HTML report of a trained model: one self-contained file, figures embedded as PNG.

Built from the model card alone (``card.json`` holds the curves as numbers),
so ``radiomics-workshop report`` can rebuild it at any time: ROC with its
bootstrap band, confusion matrix, calibration plot, decision curve, top
features, per-fold metrics, the data summary, the settings, and the
TRIPOD+AI / CLEAR items the run covers. An end-to-end CNN's card gets its own
report (training curves instead of features), and either report can carry a
comparison section (``model_compare``: metrics with CIs of every model on the
same patients, ROC curves overlaid, DeLong tests between them).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from .metrics import METRIC_NAMES, METRICS

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.figs{display:flex;flex-wrap:wrap;gap:1em}
.figs figure{margin:0}figcaption{font-size:.85em;color:#555;max-width:420px}code{background:#f6f6f6}
.note{color:#555;font-size:.9em}
"""


def _figure(draw, width: float = 4.6, height: float = 4.0) -> str:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    draw(ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _img(uri: str, caption: str) -> str:
    return f'<figure><img src="{uri}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _roc(evaluation: dict, title: str):
    def draw(ax):
        roc = evaluation["roc"]
        if "fpr" in roc:
            if "band_low" in roc:
                ax.fill_between(roc["grid"], roc["band_low"], roc["band_high"], alpha=0.25, label="95% CI (bootstrap)")
            low, high = evaluation["ci95"]["auc"]
            ax.plot(roc["fpr"], roc["tpr"], lw=2,
                    label=f"AUC {evaluation['metrics']['auc']:.3f} ({low:.3f}-{high:.3f})")
        else:
            for name, curve in roc.items():
                ax.plot(curve["fpr"], curve["tpr"], lw=1.5, label=f"{name} vs rest")
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
        ax.set(xlabel="1 - specificity", ylabel="Sensitivity", title=title, xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(loc="lower right", fontsize=8)
    return draw


def _confusion(evaluation: dict, title: str):
    def draw(ax):
        import numpy as np

        matrix = np.array(evaluation["confusion_matrix"])
        ax.imshow(matrix, cmap="Blues")
        classes = [str(c) for c in evaluation["classes"]]
        ax.set_xticks(range(len(classes)), classes)
        ax.set_yticks(range(len(classes)), classes)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, str(value), ha="center", va="center",
                    color="white" if value > matrix.max() / 2 else "black")
        ax.set(xlabel="Predicted", ylabel="True", title=title)
    return draw


def _calibration(evaluation: dict, title: str):
    def draw(ax):
        for name, points in evaluation["calibration"].items():
            ax.plot(points["predicted"], points["observed"], marker="o", label=f"class {name}")
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect")
        ax.set(xlabel="Predicted probability", ylabel="Observed frequency", title=title, xlim=(0, 1), ylim=(0, 1))
        ax.legend(fontsize=8)
    return draw


def _decision(evaluation: dict, title: str):
    def draw(ax):
        curve = evaluation["decision_curve"]
        ax.plot(curve["thresholds"], curve["model"], lw=2, label="model")
        ax.plot(curve["thresholds"], curve["treat_all"], lw=1, label="treat all")
        ax.axhline(0, color="grey", lw=1, label="treat none")
        top = max(max(curve["model"]), max(curve["treat_all"]), 0.01)
        ax.set(xlabel="Threshold probability", ylabel="Net benefit", title=title, ylim=(-0.05, top * 1.1))
        ax.legend(fontsize=8)
    return draw


def _importance(card: dict, top: int = 15):
    rows = card["final_model"]["permutation_importance"][:top]

    def draw(ax):
        names = [r["feature"] for r in rows][::-1]
        ax.barh(names, [r["importance_mean"] for r in rows][::-1], xerr=[r["importance_std"] for r in rows][::-1],
                color="#4c72b0")
        ax.set(xlabel="Increase in log loss when shuffled", title="Final model: permutation importance")
        ax.tick_params(axis="y", labelsize=7)
    return draw


def _metrics_table(evaluation: dict) -> str:
    rows = "".join(
        f"<tr><td class=l>{METRIC_NAMES[m]}</td><td>{evaluation['metrics'][m]:.3f}</td>"
        f"<td>{evaluation['ci95'][m][0]:.3f} - {evaluation['ci95'][m][1]:.3f}</td></tr>" for m in METRICS)
    return f"<table><tr><th class=l>Metric</th><th>Estimate</th><th>95% CI</th></tr>{rows}</table>"


def _evaluation_section(evaluation: dict, name: str) -> str:
    figures = [_img(_figure(_roc(evaluation, f"ROC, {name}")), f"ROC curve ({name}); band: patient bootstrap"),
               _img(_figure(_confusion(evaluation, f"Confusion matrix, {name}")), "Confusion matrix: most probable class vs truth"),
               _img(_figure(_calibration(evaluation, f"Calibration, {name}")),
                    "Calibration: observed frequency per bin of predicted probability")]
    if evaluation.get("decision_curve"):
        figures.append(_img(_figure(_decision(evaluation, f"Decision curve, {name}")),
                            "Decision curve: net benefit of acting on the model's risk above each threshold"))
    return (f"<p>{evaluation['n_rows']} rows from {evaluation['n_patients']} patients.</p>"
            + _metrics_table(evaluation) + f'<div class="figs">{"".join(figures)}</div>')


def _kv_table(values: dict) -> str:
    rows = "".join(f"<tr><td class=l>{html.escape(str(k))}</td><td class=l>{html.escape(_text(v))}</td></tr>"
                   for k, v in values.items())
    return f"<table>{rows}</table>"


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def comparison_section(comparison) -> str:
    """Models on the same patients and folds: one metrics table with CIs, the ROC curves overlaid, DeLong."""
    import numpy as np

    evaluations = comparison.evaluations
    header = "".join(f"<th>{METRIC_NAMES[m]}</th>" for m in METRICS)
    rows = "".join(
        f"<tr><td class=l>{html.escape(name)}</td><td class=l>{html.escape(kind)}</td>"
        + "".join(f"<td>{evaluations[name]['metrics'][m]:.3f}<br><small>{evaluations[name]['ci95'][m][0]:.3f}"
                  f"-{evaluations[name]['ci95'][m][1]:.3f}</small></td>" for m in METRICS) + "</tr>"
        for name, kind in zip(comparison.names, comparison.kinds))

    def draw(ax):
        for name in comparison.names:
            roc = evaluations[name]["roc"]
            curves = {"": roc} if "fpr" in roc else {f" {k} vs rest": v for k, v in roc.items()}
            for suffix, curve in curves.items():
                ax.plot(curve["fpr"], curve["tpr"], lw=2,
                        label=f"{name}{suffix} (AUC {evaluations[name]['metrics']['auc']:.3f})")
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
        ax.set(xlabel="1 - specificity", ylabel="Sensitivity", title="ROC, out-of-fold", xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(loc="lower right", fontsize=7)

    tests = "".join(
        f"<tr><td class=l>{html.escape(t['model_a'])} vs {html.escape(t['model_b'])}</td><td>{t['auc_a']:.3f}</td>"
        f"<td>{t['auc_b']:.3f}</td><td>{t['difference']:+.3f}</td><td>{t['se']:.3f}</td><td>{t['z']:.2f}</td>"
        f"<td>{t['p']:.3g}</td></tr>" for t in comparison.tests)
    test_table = ("<table><tr><th class=l>Pair</th><th>AUC a</th><th>AUC b</th><th>Difference</th><th>SE</th>"
                  f"<th>z</th><th>p (two-sided)</th></tr>{tests}</table>" if tests else
                  f"<p class=note>{html.escape(comparison.note)}</p>")
    return "\n".join([
        "<h2>Comparison on the same patients</h2>",
        f"<p class=note>{comparison.cases} cases of {comparison.patients} patients, every model's out-of-fold "
        "predictions from the same patient-grouped folds (checked: identical fold assignment and cases). Estimates "
        "with 95% CIs from the same patient-bootstrap resamples for every model; paired test of the AUCs: "
        "DeLong's test for correlated ROC curves.</p>",
        f"<table><tr><th class=l>Model</th><th class=l>Kind</th>{header}</tr>{rows}</table>",
        f'<div class="figs">{_img(_figure(draw, 5.6, 4.8), "ROC curves of every model, out-of-fold predictions")}</div>',
        "<h3>DeLong test, every pair</h3>", test_table,
        f"<p class=note>Largest spread of AUCs: {np.ptp([evaluations[n]['metrics']['auc'] for n in comparison.names]):.3f}."
        "</p>"])


def build_report(card: dict, comparison=None) -> str:
    cv = card["cross_validation"]
    data = card["training_data"]
    settings = card["settings"]
    fold_rows = "".join(
        f"<tr><td>{f['fold']}</td><td>{f['train_patients']}</td><td>{f['test_patients']}</td>"
        + "".join(f"<td>{f['metrics'][m]:.3f}</td>" for m in METRICS)
        + f"<td class=l>{html.escape(_text(f['hyperparameters']))}</td><td>{len(f['selected_features'])}</td></tr>"
        for f in cv["per_fold"])
    fold_table = ("<table><tr><th>Fold</th><th>Train patients</th><th>Test patients</th>"
                  + "".join(f"<th>{METRIC_NAMES[m]}</th>" for m in METRICS)
                  + f"<th class=l>Hyperparameters (inner CV)</th><th>Features</th></tr>{fold_rows}</table>")
    n_folds = len(cv["per_fold"])
    stability = "".join(f"<tr><td class=l>{html.escape(name)}</td><td>{count}/{n_folds}</td></tr>"
                        for name, count in list(card["selection_frequency"].items())[:20])
    importance = "".join(
        f"<tr><td class=l>{html.escape(r['feature'])}</td><td>{r['importance_mean']:.4f}</td>"
        f"<td>{r['importance_std']:.4f}</td></tr>" for r in card["final_model"]["permutation_importance"][:20])
    summary = {"outcome": card["outcome"], "classes": ", ".join(map(str, card["classes"])),
               "positive class": card.get("positive_class") or "(multiclass: macro averages)",
               "rows": data["rows"], "patients": data["patients"], "rows per class": data["class_counts"],
               "patients per class": data["patients_per_class"], "features offered": len(card["features"]),
               "missing values (imputed in the folds)": data["missing_values"],
               "grouped by": card["cv_design"]["grouped_by"], "sites": data.get("sites") or "-",
               "table SHA-256": data["table_sha256"],
               "sources": "; ".join(f"{s['path']} ({s['sha256'][:12]})" for s in data["sources"])}
    test = card.get("test")
    parts = [
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Model report: {html.escape(card['outcome'])}"
        f"</title><style>{STYLE}</style></head><body>",
        f"<h1>Radiomics model: {html.escape(card['outcome'])}</h1>",
        f"<p class=note>Created {html.escape(card['created'])} by radiomics-workshop "
        f"{html.escape(card['library_versions'].get('radiomics-workshop', ''))}. Classifier "
        f"<code>{html.escape(settings['classifier'])}</code>, selection <code>{html.escape(settings['selection'])}"
        f"</code>, pipeline: <code>{' &rarr; '.join(card['final_model']['steps'])}</code>.</p>",
        "<h2>Data</h2>", _kv_table(summary),
        "<h2>Cross-validated performance</h2>",
        f"<p class=note>{html.escape(card['cv_design']['outer'])}; hyperparameters by {html.escape(card['cv_design']['inner'])}"
        f" inside each outer training set; grouped by {html.escape(card['cv_design']['grouped_by'])}. "
        f"Out-of-fold predictions pooled; CIs: {html.escape(card['cv_design']['bootstrap'])}. "
        f"Mean AUC over folds: {cv['mean_fold_auc']:.3f}.</p>",
        _evaluation_section(cv, "cross-validation"),
        "<h3>Per fold</h3>", fold_table,
    ]
    if test:
        parts += ["<h2>Test set</h2>", f"<p class=note>Final model on {html.escape(_text(test['source']))}: "
                                       "patients never used in training or tuning.</p>",
                  _evaluation_section(test, "test")]
    parts += [
        "<h2>Features</h2>",
        f'<div class="figs">{_img(_figure(_importance(card), 6.5, 5.0), "Permutation importance: increase in log loss when a feature is shuffled, training rows, 10 repeats")}</div>'
        if card["final_model"]["permutation_importance"] else "",
        "<h3>Final model: permutation importance</h3><table><tr><th class=l>Feature</th><th>Mean increase in log loss</th>"
        f"<th>SD</th></tr>{importance}</table>",
        f"<h3>Selection stability: how often each feature was kept in the {n_folds} outer folds</h3>"
        f"<table><tr><th class=l>Feature</th><th>Folds</th></tr>{stability}</table>",
        "<h2>Final model</h2>",
        _kv_table({"hyperparameters": card["final_model"]["hyperparameters"],
                   "inner-CV AUC": round(card["final_model"]["inner_auc"], 4),
                   "features used": ", ".join(card["final_model"]["selected_features"]),
                   "model file": f"{card['model_file']['name']} (skops, SHA-256 {card['model_file']['sha256'][:16]}...)"}),
        "<h2>Settings</h2>", _kv_table(settings),
        "<h2>Reporting checklist items covered</h2><table><tr><th class=l>Item</th><th class=l>How</th></tr>"
        + "".join(f"<tr><td class=l>{html.escape(i['item'])}</td><td class=l>{html.escape(i['covered'])}</td></tr>"
                  for i in card["tripod_clear"]) + "</table>",
        "<h2>Software</h2>", _kv_table(card["library_versions"]),
        "</body></html>",
    ]
    return _page(parts, comparison)


def _page(parts: list[str], comparison=None) -> str:
    """The report's HTML, with the comparison of models on the same folds after the per-fold table."""
    if comparison is not None:
        parts.insert(parts.index("<h3>Per fold</h3>") + 2, comparison_section(comparison))
    return "\n".join(parts)


def write_report(card: dict, path: str | Path, comparison=None) -> Path:
    """The report of a radiomics model or of an end-to-end CNN classifier (``kind: cnn``), by its card."""
    from ..io.tables import write_text

    if card.get("kind") == "cnn":
        return write_text(build_cnn_report(card, comparison), path)
    return write_text(build_report(card, comparison), path)


def _training_curves(card: dict):
    def draw(ax):
        runs = [(f"fold {f['fold']}", f["history"]) for f in card["cross_validation"]["per_fold"]]
        runs.append(("final", card["final_model"]["history"]))
        for name, history in runs:
            epochs = [h["epoch"] for h in history]
            line, = ax.plot(epochs, [h["validation_loss"] for h in history], lw=1.5, label=f"{name} (validation)")
            ax.plot(epochs, [h["loss"] for h in history], lw=1, ls=":", color=line.get_color())
        ax.set(xlabel="Epoch", ylabel="Cross-entropy", title="Training (dotted) and validation loss")
        ax.legend(fontsize=7)
    return draw


def build_cnn_report(card: dict, comparison=None) -> str:
    """The report of an end-to-end CNN classifier (``train-cnn``)."""
    cv = card["cross_validation"]
    settings = card["settings"]
    data = card["training_data"]
    fold_rows = "".join(
        f"<tr><td>{f['fold']}</td><td>{len(f['train_groups'])}</td><td>{len(f['validation_groups'])}</td>"
        f"<td>{len(f['test_groups'])}</td><td>{f['best_epoch']}/{f['epochs_run']}</td>"
        + "".join(f"<td>{f['metrics'][m]:.3f}</td>" for m in METRICS) + f"<td>{f['images_per_second']}</td></tr>"
        for f in cv["per_fold"])
    fold_table = ("<table><tr><th>Fold</th><th>Train patients</th><th>Validation patients</th><th>Test patients</th>"
                  "<th>Best epoch / run</th>" + "".join(f"<th>{METRIC_NAMES[m]}</th>" for m in METRICS)
                  + f"<th>Images/s</th></tr>{fold_rows}</table>")
    summary = {"outcome": card["outcome"], "classes": ", ".join(map(str, card["classes"])),
               "positive class": card.get("positive_class") or "(multiclass: macro averages)",
               "cases": data["cases"], "patients": data["patients"], "network inputs": data["inputs"],
               "cases per class": data["class_counts"], "grouped by": card["cv_design"]["grouped_by"],
               "manifest": f"{data['manifest']} ({data['manifest_sha256'][:12]})"}
    initial = card["weights"]["initial"]
    parts = [
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>CNN report: {html.escape(card['outcome'])}"
        f"</title><style>{STYLE}</style></head><body>",
        f"<h1>End-to-end CNN: {html.escape(card['outcome'])}</h1>",
        f"<p class=note>Created {html.escape(card['created'])} by radiomics-workshop "
        f"{html.escape(card['library_versions'].get('radiomics-workshop', ''))}. MONAI "
        f"<code>{html.escape(settings['backbone'])}</code> ({settings['dims']}D, {settings['crop']}-voxel ROI-centred "
        f"crops), initial weights: {html.escape(initial if isinstance(initial, str) else initial['file'])}.</p>",
        "<h2>Data</h2>", _kv_table(summary),
        "<h2>Cross-validated performance</h2>",
        f"<p class=note>{html.escape(card['cv_design']['outer'])}; early stopping on "
        f"{html.escape(card['cv_design']['early_stopping'])}; {html.escape(card['cv_design']['aggregation'])}. "
        f"Out-of-fold predictions pooled; CIs: {html.escape(card['cv_design']['bootstrap'])}. "
        f"Mean AUC over folds: {cv['mean_fold_auc']:.3f}.</p>",
        _evaluation_section(cv, "cross-validation"),
        "<h3>Per fold</h3>", fold_table,
        "<h2>Training</h2>",
        f'<div class="figs">{_img(_figure(_training_curves(card), 6.5, 4.5), "Loss per epoch, every fold and the final network")}</div>',
        "<h2>Final network</h2>",
        _kv_table({"best epoch": card["final_model"]["best_epoch"],
                   "epochs run": len(card["final_model"]["history"]),
                   "weights": f"{card['weights']['file']} (SHA-256 {card['weights']['sha256'][:16]}...)",
                   "network_def (MONAI)": card["network_def"], "device": card["device"]}),
        "<h2>Settings</h2>", _kv_table(settings),
        "<h2>Software</h2>", _kv_table(card["library_versions"]),
        "</body></html>",
    ]
    return _page(parts, comparison)


