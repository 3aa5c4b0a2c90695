"""Score a forecasting run of the "files" task on its held-out months, against baselines, in the
data's own units; write the scores (with their provenance) and a plot.

    python experiments/forecast.py WORKDIR [--json PATH] [--plot PATH]

For every seed of the run, its one-step-ahead forecasts of the held-out tail (each from the
true values before it, through ``jaxlstm.train.predict``), and two baselines over the same
months: the seasonal naive forecast (the value one season, 12 steps, earlier) and, where
statsmodels is installed, Box & Jenkins' airline model (ARIMA(0,1,1)(0,1,1)12 of the log
series) fitted on the training months and then run one step ahead with those parameters.
Scores: RMSE, MAE and MAPE.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from jaxlstm.tasks.files import Files, read_sequences
from jaxlstm.train import provenance
from jaxlstm.train.predict import predict

SEASON = 12


def scores(forecast: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    error = forecast - actual
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error))),
            "mape": float(np.mean(np.abs(error) / np.abs(actual)))}


def airline_model(series: np.ndarray, start: int) -> np.ndarray | None:
    """One-step-ahead forecasts of ``series[start:]`` by the airline model fitted on ``series[:start]``."""
    try:
        from statsmodels.tsa.statespace.sarimax import SARIMAX
    except ImportError:
        return None
    spec = dict(order=(0, 1, 1), seasonal_order=(0, 1, 1, SEASON))
    fitted = SARIMAX(np.log(series[:start]), **spec).fit(disp=False)
    return np.exp(fitted.apply(np.log(series)).predict(start=start, end=len(series) - 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--json", help="write the scores here")
    parser.add_argument("--plot", help="write the plot here (PNG)")
    args = parser.parse_args()
    started, clock = provenance.source(), time.perf_counter()
    config = json.loads((args.workdir / "config.json").read_text())
    # config.json holds the task options the run set; the others are the task's defaults.
    defaults = {field.name: field.default for field in dataclasses.fields(Files)}
    task = {**defaults, **config["task"]}
    if task["horizon"] != 1 or len(task.get("forecast_columns") or task.get("columns") or ()) > 1:
        raise SystemExit("forecast.py scores one-step-ahead forecasts of one column; the run forecasts more")
    data = read_sequences(task["path"], id_column=task["id_column"], columns=tuple(task["columns"]))
    series = data.values[0][:, 0].astype(np.float64)
    start = len(series) - round(len(series) * task["test_fraction"])
    actual = series[start:]
    result = {"run": str(args.workdir.name), "held_out_steps": len(actual), "first_held_out": start, "scores": {}}
    lstm = []
    for network in range(config["train"]["seeds"]):
        out = predict(args.workdir, [series[:, None]], network=network).outputs[0][:, 0, 0]
        lstm.append(out[start - 1:-1])  # made at step t - 1 for step t
        result["scores"][f"LSTM seed {network}"] = scores(lstm[-1], actual)
    result["scores"]["seasonal naive"] = scores(series[start - SEASON:-SEASON], actual)
    arima = airline_model(series, start)
    if arima is not None:
        result["scores"]["airline model (ARIMA(0,1,1)(0,1,1)12, log)"] = scores(arima, actual)
    for name, s in result["scores"].items():
        print(f"{name}: RMSE {s['rmse']:.1f}, MAE {s['mae']:.1f}, MAPE {s['mape']:.1%}")
    result["provenance"] = provenance.record(started, time.perf_counter() - clock)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 4))
        steps = np.arange(len(series))
        ax.plot(steps, series, color="black", label="data")
        held = steps[start:]
        for i, f in enumerate(lstm):
            ax.plot(held, f, color="tab:blue", alpha=0.6, label="LSTM (each seed)" if i == 0 else None)
        ax.plot(held, series[start - SEASON:-SEASON], color="tab:orange", label="seasonal naive")
        if arima is not None:
            ax.plot(held, arima, color="tab:green", label="airline model")
        ax.axvline(start - 0.5, color="gray", linestyle=":")
        ax.set_xlabel("month")
        ax.set_ylabel(data.columns[0])
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)


if __name__ == "__main__":
    main()
