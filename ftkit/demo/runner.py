"""`run_demo`: the whole product on the bundled ticket-routing data, offline, in a few minutes on a CPU.

Steps: validate the data, plan the job across providers, fine-tune the tiny bundled model locally
with LoRA, evaluate base against fine-tuned (same prompts, greedy decoding, bootstrap intervals,
regression set), and write the comparison report with managed options priced from the catalogs.
With OPENAI_API_KEY / TOGETHER_API_KEY set, the managed base models are also evaluated for real.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ftkit.evaluation.stats import Difference

__all__ = ["DemoSettings", "DemoSummary", "data_path", "run_demo"]

HERE = Path(__file__).resolve().parent
OPENAI_MODEL = "gpt-4o-mini-2024-07-18"
TOGETHER_MODEL = "Qwen/Qwen2.5-7B-Instruct"
METRICS = ("exact_match", "macro_f1")


def data_path(split: str) -> Path:
    """``train``, ``validation`` or ``test`` of the bundled support-ticket routing data."""
    return HERE / f"tickets_{split}.jsonl"


@dataclass(frozen=True)
class DemoSettings:
    """Training and evaluation sizes. Tuned on a 2-core CPU: the full run takes about 3 minutes."""

    max_steps: int
    learning_rate: float = 3e-3
    lora_r: int = 16
    batch_size: int = 16
    test_limit: int | None = None
    resamples: int = 1000


FULL = DemoSettings(max_steps=200)
QUICK = DemoSettings(max_steps=80, test_limit=60, resamples=500)


class DemoSummary(BaseModel):
    """What the demo did and where its report is."""

    report_html: str
    report_json: str
    job_id: str
    quick: bool
    duration_s: float
    test_examples: int
    exact_match_base: float | None
    exact_match_fine_tuned: float | None
    difference: Difference
    fine_tune_wins: bool


def _console(progress: bool) -> Any:
    from rich.console import Console

    # progress goes to stderr, so `ftkit demo --json` still shows it while stdout carries only JSON
    return Console(stderr=True, highlight=False, quiet=not progress)


def _managed_candidates(estimates: dict[str, Any]) -> list[Any]:
    """Rows for managed fine-tunes (estimated cost), plus real base-model runs when keys are set."""
    from ftkit.evaluation import Candidate

    rows: list[Any] = [
        Candidate(name=f"openai {OPENAI_MODEL} fine-tune (planned)", provider="openai", base_model=OPENAI_MODEL,
                  estimate=estimates.get("openai"), note="not trained here: training cost is the estimate"),
        Candidate(name=f"together {TOGETHER_MODEL} fine-tune (planned)", provider="together",
                  base_model=TOGETHER_MODEL, estimate=estimates.get("together"),
                  note="not trained here: training cost is the estimate"),
    ]
    if os.environ.get("OPENAI_API_KEY"):
        rows.append(Candidate(name=f"openai {OPENAI_MODEL} (base, live)", model=f"openai:{OPENAI_MODEL}"))
    if os.environ.get("TOGETHER_API_KEY"):
        rows.append(Candidate(name=f"together {TOGETHER_MODEL} (base, live)", model=f"together:{TOGETHER_MODEL}"))
    return rows


def _plan(console: Any, train: Path, base_dir: Path) -> dict[str, Any]:
    from ftkit.errors import FtkitError
    from ftkit.estimation import plan

    estimates: dict[str, Any] = {}
    try:
        targets = [("openai", OPENAI_MODEL), ("together", TOGETHER_MODEL), ("local", str(base_dir))]
        for estimate in plan(str(train), targets=targets):
            estimates[estimate.provider] = estimate
            cost = f"${estimate.cost_usd:.2f}" if estimate.cost_usd is not None else "your hardware"
            console.print(f"  {estimate.provider:<9} {estimate.model}: {estimate.tokens.total_tokens:,} tokens "
                          f"x {estimate.epochs} epochs, {cost}")
    except FtkitError as e:  # the plan is informative; a catalog problem must not stop the demo
        console.print(f"  [yellow]plan unavailable: {e}[/]")
    return estimates


def _train(console: Any, settings: DemoSettings, base_dir: Path) -> tuple[Any, str]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ftkit.job import FineTuneJob

    job = FineTuneJob(
        provider="local", model=str(base_dir), train=str(data_path("train")), validation=str(data_path("validation")),
        adapter="lora", learning_rate=settings.learning_rate, batch_size=settings.batch_size, lora_r=settings.lora_r,
        lora_alpha=2 * settings.lora_r, max_seq_length=192, seed=0, name="ftkit demo: ticket router",
        options={"max_steps": settings.max_steps, "logging_steps": 10},
    )
    job.start()
    with Progress(TextColumn("  training"), BarColumn(), TextColumn("{task.completed}/{task.total} {task.fields[loss]}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("train", total=settings.max_steps, loss="")

        def on_event(event: Any) -> None:
            loss = event.metrics.get("loss")
            if event.step is not None:
                bar.update(task, completed=event.step, loss=f"loss {loss:.3f}" if loss is not None else "")

        model = job.wait(on_event=on_event, poll_interval=0.5)
    console.print(f"  job {job.id} finished: adapter in {model.adapter_path}")
    return model, job.id


def run_demo(
    out_dir: str | Path | None = None, *, quick: bool = False, show: bool = True, progress: bool = True
) -> DemoSummary:
    """Run the demo end to end and return where the report is and whether fine-tuning clearly won.

    ``progress`` prints the steps on stderr; ``show`` prints the comparison table and verdict on stdout.

    >>> summary = run_demo("ftkit-demo", quick=True)        # doctest: +SKIP
    >>> summary.fine_tune_wins                              # doctest: +SKIP
    True
    """
    from ftkit.data import validate
    from ftkit.evaluation import compare, evaluate
    from ftkit.evaluation.models import resolve_model
    from ftkit.store import default_home
    from ftkit.testing.tiny import default_corpus, tiny_model

    started = time.perf_counter()
    settings = QUICK if quick else FULL
    out = Path(out_dir or "ftkit-demo").resolve()
    console = _console(progress)
    console.rule("[bold]ftkit demo[/]: route support tickets to 7 queues")

    console.print("[bold]1. Data[/]: bundled Northwind support tickets")
    report = validate(str(data_path("train")), provider="local", validation=str(data_path("validation")))
    console.print(f"  train {data_path('train').name}: {'valid' if report.ok else 'has errors'}, "
                  f"{len(report.errors)} errors, {len(report.warnings)} warnings")

    console.print("[bold]2. Base model[/]: a tiny Llama (1M parameters, randomly initialised) built offline")
    base_dir = tiny_model(default_home() / "demo" / "tiny-base", corpus=default_corpus())

    console.print("[bold]3. Plan[/]: the same job on each provider")
    estimates = _plan(console, data_path("train"), base_dir)

    console.print(f"[bold]4. Fine-tune[/]: local LoRA, {settings.max_steps} steps on CPU")
    fine_tuned, job_id = _train(console, settings, base_dir)

    console.print("[bold]5. Evaluate[/]: base and fine-tuned on the held-out test split, greedy decoding")
    base = resolve_model(base_dir)
    common = {"limit": settings.test_limit, "resamples": settings.resamples, "max_new_tokens": 8, "batch_size": 32}
    result = evaluate(fine_tuned, data_path("test"), metrics=METRICS, base=base, regression=True, **common)
    comparison = compare(
        [_named(base, "local tiny base"), _named(fine_tuned, "local tiny + LoRA (this run)"),
         *_managed_candidates(estimates)],
        test=data_path("test"), metrics=METRICS, monthly_tokens=10e6, **common,
    )
    html = comparison.save_html(out / "report.html")
    json_path = comparison.save_json(out / "report.json")
    result.save(out / "evaluation.json")

    difference = result.comparison.differences["exact_match"]
    summary = DemoSummary(
        report_html=str(html), report_json=str(json_path), job_id=job_id, quick=quick,
        duration_s=round(time.perf_counter() - started, 1), test_examples=result.n,
        exact_match_base=difference.baseline, exact_match_fine_tuned=difference.candidate, difference=difference,
        fine_tune_wins=difference.significant and (difference.diff or 0) > 0,
    )
    if show:
        from rich.console import Console

        screen = Console(highlight=False)
        screen.print(comparison.table())
        verdict = "[green]fine-tuning clearly helped[/]" if summary.fine_tune_wins else "[red]no clear gain[/]"
        screen.print(f"exact match: base {difference.baseline:.3f} -> fine-tuned {difference.candidate:.3f}, "
                     f"difference {difference.diff:+.3f} [95% CI {difference.low:+.3f}, {difference.high:+.3f}]: {verdict}")
        screen.print(f"Finished in {summary.duration_s:.0f} s. Report: [bold]{html}[/]")
    return summary


def _named(model: Any, name: str) -> Any:
    from ftkit.evaluation import Candidate

    return Candidate(name=name, model=model)
