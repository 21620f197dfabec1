"""Every command's human output at 80 and 120 columns: no line over the width, no value cut, footnotes
present; plain when piped; errors as one block. Layouts are kept in tests/cli/snapshots/ for review.

Commands run through ``main()`` as a user's shell would; ``TTY_COMPATIBLE=1`` makes rich treat captured
stdout as a terminal (box drawing, header rule), ``TTY_COMPATIBLE=0`` as a pipe; ``COLUMNS`` sets the width.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from rich.cells import cell_len

from ftkit.cli import main
from ftkit.testing import colour_examples

WIDTHS = (80, 120)
SNAPSHOTS = Path(__file__).parent / "snapshots"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TODAY = "2026-12-01"


@pytest.fixture(autouse=True)
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ECHO_API_KEY", "echo-cli-key-0123456789")
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def shell(monkeypatch, capsys, width: int, *args: str, terminal: bool = True) -> tuple[int, list[str], str]:
    """Run ``ftkit ARGS`` at ``width`` columns; (exit code, stdout lines without ANSI codes, stderr)."""
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("TTY_COMPATIBLE", "1" if terminal else "0")
    code = main(["--no-progress", *args])
    out, err = capsys.readouterr()
    return code, ANSI.sub("", out).splitlines(), ANSI.sub("", err)


def assert_fits(lines: list[str], width: int) -> None:
    too_long = [line for line in lines if cell_len(line) > width]
    assert not too_long, f"lines over {width} columns:\n" + "\n".join(too_long)
    # a value is never cut: the only ellipsis allowed is a path shown by its last components
    assert not [line for line in lines if "…" in line.replace("…/", "")], "\n".join(lines)


def flat(lines: list[str]) -> str:
    """The output with wrapping undone, to find a note whatever the width."""
    return re.sub(r"\s+", " ", " ".join(lines))


def snapshot(name: str, lines: list[str]) -> None:
    """Compare with tests/cli/snapshots/NAME.txt; FTKIT_UPDATE_SNAPSHOTS=1 (or a missing file) writes it.

    The files hold the real output, for review; the comparison is of the layout, so a digit that changes (a
    price or memory figure re-read from a catalog) does not fail it, a column that moves or vanishes does."""
    path = SNAPSHOTS / f"{name}.txt"
    text = "\n".join(line.rstrip() for line in lines) + "\n"
    if os.environ.get("FTKIT_UPDATE_SNAPSHOTS") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    layout = re.compile(r"\d")
    assert layout.sub("0", text) == layout.sub("0", path.read_text(encoding="utf-8")), (
        f"{path} changed; review the new layout and rerun with FTKIT_UPDATE_SNAPSHOTS=1")


def write_train(path: Path, n: int = 30) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in colour_examples(n)), encoding="utf-8")
    return path


def money(value: float | None) -> str:
    from ftkit.cli._estimate import _money

    return _money(value)


# -- plan, estimate, breakeven ----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_with_no_target_prices_each_catalog_default_and_fits(monkeypatch, capsys, workdir, width):
    from ftkit.registry import get_provider

    write_train(workdir / "train.jsonl")
    code, lines, _ = shell(monkeypatch, capsys, width, "plan", "train.jsonl", "--today", TODAY)
    assert code == 0
    assert_fits(lines, width)
    for name in ("openai", "together", "local"):
        model = get_provider(name).default_model()
        assert any(line.split()[:2] == [name, model] for line in lines), (name, model)
    text = flat(lines)
    assert "[1] " in text and "stops accepting new fine-tuning jobs" in text  # the shutdown note, as a footnote
    assert "Left out to fit" in text or width > 80  # what did not fit is named


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_values_are_whole(monkeypatch, capsys, workdir, width):
    write_train(workdir / "train.jsonl")
    targets = ["--target", "openai:gpt-4o-mini-2024-07-18", "--target", "together:Qwen/Qwen2.5-7B-Instruct",
               "--target", "local:Qwen/Qwen2.5-0.5B-Instruct"]
    monkeypatch.setenv("COLUMNS", str(width))
    assert main(["plan", "train.jsonl", *targets, "--today", TODAY, "--json"]) == 0
    estimates = json.loads(capsys.readouterr().out)["estimates"]
    code, lines, _ = shell(monkeypatch, capsys, width, "plan", "train.jsonl", *targets, "--today", TODAY)
    assert code == 0
    assert_fits(lines, width)
    snapshot(f"plan-{width}", [line for line in lines if not line.startswith(("[", " "))])
    table = "\n".join(lines)
    for e in estimates:
        assert e["model"] in table
        costs = [money(g["cost_usd"]) for g in e["gpus"]] or [money(e["cost_usd"])]
        assert all(c in table for c in costs)


def test_plan_shows_a_model_folder_by_its_last_components(monkeypatch, capsys, workdir, tmp_path_factory):
    deep = tmp_path_factory.mktemp("models") / "teams" / "support" / "2026-11" / "qwen-tiny-ticket-router-base"
    deep.mkdir(parents=True)
    (deep / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": 128, "vocab_size": 1000,
        "max_position_embeddings": 512,
    }))
    write_train(workdir / "train.jsonl")
    code, lines, err = shell(monkeypatch, capsys, 80, "plan", "train.jsonl", "--target", f"local:{deep}",
                             "--today", TODAY)
    assert code == 0, err
    assert_fits(lines, 80)
    assert str(deep) not in "\n".join(lines) and "…/qwen-tiny-ticket-router-base" in "\n".join(lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_estimate_fits_with_its_gpu_table_and_footnotes(monkeypatch, capsys, workdir, width):
    write_train(workdir / "train.jsonl")
    code, lines, _ = shell(monkeypatch, capsys, width, "estimate", "train.jsonl", "-p", "local",
                           "-m", "Qwen/Qwen2.5-7B-Instruct", "--today", TODAY)
    assert code == 0
    assert_fits(lines, width)
    assert any(line.startswith("RTX 4090") for line in lines) and "[1] " in flat(lines)
    snapshot(f"estimate-local-{width}", [line for line in lines if not line.startswith(("[", " "))])


@pytest.mark.parametrize("width", WIDTHS)
def test_estimate_managed_and_breakeven_fit(monkeypatch, capsys, workdir, width):
    write_train(workdir / "train.jsonl")
    code, lines, _ = shell(monkeypatch, capsys, width, "estimate", "train.jsonl", "-p", "openai",
                           "-m", "gpt-4o-mini-2024-07-18", "--today", TODAY)
    assert code == 0 and "gpt-4o-mini-2024-07-18" in lines[0]
    assert_fits(lines, width)
    code, lines, _ = shell(monkeypatch, capsys, width, "breakeven", "--monthly-tokens", "1e8",
                           "--managed-model", "gpt-4o-mini", "--self-hosted-model", "Qwen/Qwen2.5-7B-Instruct")
    assert code == 0
    assert_fits(lines, width)
    assert "cheaper" in flat(lines) and "[1] " in flat(lines)


def test_estimator_knob_refused_for_a_provider_that_does_not_take_it(monkeypatch, capsys, workdir):
    write_train(workdir / "train.jsonl")
    code, _, err = shell(monkeypatch, capsys, 80, "estimate", "train.jsonl", "-p", "openai", "-m", "gpt-4o-mini",
                         "--utilization", "0.5")
    assert code == 2 and "--utilization does not apply to openai" in err


# -- validate ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_validate_fits(monkeypatch, capsys, workdir, width):
    rows = colour_examples(12)
    rows[3]["messages"][-1]["content"] = "a very long answer " * 40
    (workdir / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    code, lines, _ = shell(monkeypatch, capsys, width, "validate", "train.jsonl", "-p", "openai",
                           "-m", "gpt-4o-mini-2024-07-18")
    assert code == 1
    assert_fits(lines, width)
    assert "13" in flat(lines)  # the broken line is named


# -- jobs -------------------------------------------------------------------------------------------------------


def start_jobs(monkeypatch, capsys, workdir, n: int = 2) -> list[str]:
    write_train(workdir / "train.jsonl", 12)
    ids = []
    for _ in range(n):
        assert main(["train", "-p", "echo", "-m", "echo-base", "--train",
                     "train.jsonl", "-o", "steps=2", "-o", "step_seconds=0.01", "--json"]) == 0
        ids.append(json.loads(capsys.readouterr().out)["status"]["job_id"])
    return ids


@pytest.mark.parametrize("width", WIDTHS)
def test_jobs_list_shows_short_unique_ids_that_every_command_accepts(monkeypatch, capsys, workdir, width):
    from ftkit._table import short_ids

    ids = start_jobs(monkeypatch, capsys, workdir)
    code, lines, _ = shell(monkeypatch, capsys, width, "jobs", "list")
    assert code == 0
    assert_fits(lines, width)
    short = short_ids(ids, ids)
    for job_id in ids:
        row = next(line for line in lines if line.startswith(short[job_id] + " "))
        assert "echo" in row and "succeeded" in row
        code, shown, _ = shell(monkeypatch, capsys, width, "jobs", "show", short[job_id])
        assert code == 0 and shown[0].startswith(job_id)
        assert_fits(shown, width)
        assert "echo-base" in "\n".join(shown)


def test_jobs_list_piped_is_plain_one_row_per_line(monkeypatch, capsys, workdir):
    ids = start_jobs(monkeypatch, capsys, workdir)
    code, lines, _ = shell(monkeypatch, capsys, 80, "jobs", "list", terminal=False)
    assert code == 0
    assert not any(ch in "\n".join(lines) for ch in "─│┃━╭╮")  # no box drawing
    assert len([line for line in lines if "succeeded" in line]) == len(ids)  # `| grep succeeded`
    code, out, _ = shell(monkeypatch, capsys, 80, "jobs", "list", "--json", terminal=False)
    assert [j["job_id"] for j in json.loads("\n".join(out))] == ids[::-1]  # --json unchanged


# -- compare, the demo's table, providers, deployments ------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_fits(monkeypatch, capsys, workdir, width):
    rows = [{"messages": [{"role": "user", "content": f"Route: ticket {i}"}, {"role": "assistant", "content": "billing"}]}
            for i in range(8)]
    (workdir / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, lines, _ = shell(monkeypatch, capsys, width, "compare", "echo:echo-base", "echo:echo-large",
                           "--test", "test.jsonl", "--metric", "exact_match", "--metric", "contains")
    assert code == 0
    assert_fits(lines, width)
    assert any(line.startswith("echo:echo-large ") for line in lines)


def demo_like_report():
    from ftkit.evaluation.compare import ComparisonReport
    from ftkit.evaluation.costs import ServingPrice
    from ftkit.evaluation.results import ComparisonRow
    from ftkit.evaluation.stats import Difference, Interval
    from ftkit.types import GenerationSettings

    em = Interval(value=0.31, low=0.22, high=0.40, n=60)
    rows = [
        ComparisonRow(name="together Qwen/Qwen2.5-7B-Instruct (planned)", provider="together", hosting="deployment",
                      evaluated=False, training_cost_usd=0.02, training_cost_source="estimate",
                      notes=["Fine-tuned models are served on dedicated endpoints billed per minute, not per token."]),
        ComparisonRow(name="local tiny base", provider="local", hosting="self-hosted", model="/tmp/x/tiny-base",
                      evaluated=True, metrics={"exact_match": em, "macro_f1": em}, latency_s_p50=0.012),
        ComparisonRow(name="local tiny + LoRA (this run)", provider="local", hosting="self-hosted", evaluated=True,
                      metrics={"exact_match": Interval(value=0.873, low=0.81, high=0.93, n=60), "macro_f1": em},
                      vs_baseline={"exact_match": Difference(metric="exact_match", baseline=0.31, candidate=0.873,
                                                             diff=0.563, low=0.45, high=0.66)},
                      latency_s_p50=0.013),
        ComparisonRow(name="openai gpt-4o-mini-2024-07-18 (planned)", provider="openai", evaluated=False,
                      training_cost_usd=0.14, training_cost_source="estimate",
                      price=ServingPrice(input_per_1m=0.3, output_per_1m=1.2, source="catalog"), breakeven_tokens_per_month=1.2e9,
                      notes=["not trained here: training cost is the estimate",
                             "OpenAI stops accepting new fine-tuning jobs on 2027-01-06; jobs must be created before then."]),
    ]
    return ComparisonReport(test="/tmp/ftkit/demo/tickets_test.jsonl", n_examples=60, settings=GenerationSettings(),
                            metrics=["exact_match", "macro_f1"], baseline="local tiny base", rows=rows,
                            notes=["Intervals are 95% bootstrap intervals over the test examples."])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_demo_table_fits_on_a_recording_console(width):
    from rich.console import Console

    screen = Console(record=True, width=width, force_terminal=True, color_system=None)
    screen.print(demo_like_report().table())  # the demo prints it this way
    lines = screen.export_text().splitlines()
    assert_fits(lines, width)
    text = flat(lines)
    assert "openai gpt-4o-mini-2024-07-18 (planned)" in text and "0.873" in text and "+0.563" in text
    assert "stops accepting new fine-tuning jobs" in text and "[1] " in text
    snapshot(f"demo-table-{width}", lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_providers_and_deployments_fit(monkeypatch, capsys, workdir, width):
    from ftkit.store import DeploymentRecord, JobStore, new_deployment_id

    code, lines, _ = shell(monkeypatch, capsys, width, "providers")
    assert code == 0
    assert_fits(lines, width)
    JobStore().create_deployment(DeploymentRecord(
        id=new_deployment_id(), provider="echo", model_id="echo:ftk-20261201-101010-abcdef", job_id=None,
        state="ready", price_per_hour=3.2, settings={}, provider_data={}, created_by="user"))
    code, lines, _ = shell(monkeypatch, capsys, width, "deployments", "list")
    assert code == 0 and any(line.startswith("dep-") and "ready" in line for line in lines)
    assert_fits(lines, width)


# -- errors, version, capability guard ------------------------------------------------------------------------------


def test_errors_are_one_block_with_the_fix_and_keep_their_exit_code(monkeypatch, capsys):
    code, _, err = shell(monkeypatch, capsys, 80, "jobs", "show", "ftk-nope")
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: No job 'ftk-nope'") and any(line.startswith("  fix: Run `ftkit jobs list`")
                                                                     for line in lines)
    assert "Traceback" not in err and all(cell_len(line) <= 80 for line in lines)


def test_models_verbs_go_through_the_capability_guard(monkeypatch, capsys, workdir):
    code, _, err = shell(monkeypatch, capsys, 80, "models", "merge", "echo:echo-base", "--out", "merged")
    assert code == 2 and "cannot merge" in err
    assert not (workdir / "merged").exists()


def test_version(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ftkit {version('ftkit')}"


# -- deployments, progress ---------------------------------------------------------------------------------------


def test_deployments_list_then_delete_by_prefix(monkeypatch, capsys, workdir):
    from ftkit import FineTuneJob
    from ftkit._table import short_ids

    (job_id,) = start_jobs(monkeypatch, capsys, workdir, n=1)
    deployment = FineTuneJob.attach(job_id).result().deploy()  # echo fine-tunes answer only through one
    code, lines, _ = shell(monkeypatch, capsys, 80, "deployments", "list")
    prefix = short_ids([deployment.id], [deployment.id])[deployment.id]
    assert code == 0 and any(line.startswith(prefix + " ") and "echo" in line for line in lines)
    assert_fits(lines, 80)
    code, lines, _ = shell(monkeypatch, capsys, 80, "deployments", "delete", prefix)
    assert code == 0 and lines[0].startswith(f"{deployment.id}: deleted")
    code, lines, _ = shell(monkeypatch, capsys, 80, "deployments", "list")
    assert code == 0 and lines[0].startswith("No deployments that may be billed")
    code, out, _ = shell(monkeypatch, capsys, 80, "deployments", "list", "--all", "--json")
    assert [(d["id"], d["state"]) for d in json.loads("\n".join(out))] == [(deployment.id, "deleted")]


def test_progress_goes_to_stderr_only_and_only_when_asked(monkeypatch, capsys, workdir):
    write_train(workdir / "train.jsonl")
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    assert main(["--progress", "validate", "train.jsonl", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["ok"] is True  # stdout is only the JSON
    assert "validating:" in err and "(done)" in err
    assert main(["validate", "train.jsonl", "--json"]) == 0
    assert capsys.readouterr().err == ""  # not a terminal, not asked: quiet


def test_models_verbs_never_write_into_a_folder_that_has_files(monkeypatch, capsys, workdir):
    (workdir / "merged").mkdir()
    (workdir / "merged" / "keep.txt").write_text("mine")
    code, _, err = shell(monkeypatch, capsys, 80, "models", "merge", "echo:echo-base", "--out", "merged")
    assert code == 2 and "not an empty folder" in err
    assert (workdir / "merged" / "keep.txt").read_text() == "mine"


def test_wide_shows_every_column_one_row_per_line(monkeypatch, capsys, workdir):
    write_train(workdir / "train.jsonl")
    targets = ["--target", "openai:gpt-4o-mini", "--target", "local:Qwen/Qwen2.5-0.5B-Instruct"]
    code, lines, _ = shell(monkeypatch, capsys, 80, "plan", "train.jsonl", *targets, "--today", TODAY, "--wide")
    assert code == 0 and "Left out" not in flat(lines)
    header = next(line for line in lines if line.startswith("provider"))
    assert all(h in header for h in ("time", "memory", "epochs", "max batch", "billed tokens", "notes"))
    assert len([line for line in lines if line.startswith("local ")]) == len(json.loads(
        "\n".join(shell(monkeypatch, capsys, 80, "plan", "train.jsonl", *targets, "--json")[1]))["estimates"][1]["gpus"])
