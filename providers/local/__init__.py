"""``provider="local"``: SFT and DPO with LoRA, QLoRA or full fine-tuning on this machine, through TRL.

Training runs in its own detached process that reports only through the job's run directory (see
:mod:`._rundir`), so a local job behaves like a managed one: the caller may exit, crash, re-attach from
another shell, cancel, or ``resume()`` from the last intact checkpoint after the process was killed.

>>> job = FineTuneJob(provider="local", model="./my-model", train="train.jsonl",
...                   options={"max_steps": 200, "num_processes": 2})        # doctest: +SKIP
>>> job.start(); model = job.wait(); model.merge("merged/")                  # doctest: +SKIP

Nothing here imports torch at module level: ``ftkit providers`` lists this class cheaply.
"""

from __future__ import annotations

import hashlib
import json
import signal
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftkit._hashing import sha256_file
from ftkit.errors import ConfigError, JobStateError
from ftkit.provider import Hosting, JobContext, Provider
from ftkit.spec import Adapter, JobSpec, Method
from ftkit.types import Capability, EventPage, Generation, GenerationSettings, JobEvent, JobState, JobStatus

from . import _launch
from ._options import LocalOptions
from ._rundir import RunDir, wait_for

if TYPE_CHECKING:
    from ftkit.estimation.types import Estimate
    from ftkit.model import TrainedModel

    from ._inference import ExampleLoss

__all__ = ["LocalOptions", "LocalProvider"]

#: how long cancel() lets the worker stop at a step boundary (with a checkpoint) before signalling it
CANCEL_GRACE_S = 60.0


class LocalProvider(Provider):
    """Train on this machine's CPU, CUDA GPU(s) or Apple MPS device."""

    name = "local"
    capabilities = frozenset({
        Capability.SFT, Capability.DPO, Capability.LORA, Capability.QLORA, Capability.FULL,
        Capability.CANCEL, Capability.RESUME, Capability.GENERATE, Capability.LOSS, Capability.MERGE,
        Capability.EXPORT,
    })
    hosting = Hosting.SELF_HOSTED
    data_format = "trl"
    estimator_knobs = frozenset({"utilization", "gpus"})
    Options = LocalOptions
    poll_interval = 0.5  # status is a file read
    max_poll_interval = 5.0

    def __init__(self, **config: Any):
        super().__init__(**config)
        self._loaded: dict[tuple[str, str | None], Any] = {}  # models kept for generate() / loss()

    @classmethod
    def model_at(cls, path: Path) -> TrainedModel:
        """A model folder, a LoRA adapter folder whose ``adapter_config.json`` names its base, or a GGUF."""
        from ftkit.model import TrainedModel

        from ._gguf import find_gguf, resolve_gguf_model

        if find_gguf(str(path)) is not None:
            path = Path(resolve_gguf_model(str(path)))

        adapter_config = path / "adapter_config.json"
        if adapter_config.is_file():
            base = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
            if not base:
                raise ConfigError(f"{adapter_config} does not name its base model (base_model_name_or_path).")
            return TrainedModel(provider=cls.name, model_id=str(base), base_model=str(base), adapter_path=str(path))
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} holds neither a model (config.json) nor a LoRA adapter (adapter_config.json).")
        return TrainedModel(provider=cls.name, model_id=str(path), base_model=str(path))

    @classmethod
    def default_learning_rate(cls, spec: JobSpec) -> float | None:
        """The rate a job trains with when none is set (per method and adapter, see ``_settings``)."""
        from ._settings import DEFAULT_LEARNING_RATES

        return DEFAULT_LEARNING_RATES.get((spec.method, spec.adapter))

    @classmethod
    def check_spec(cls, spec: JobSpec) -> list[str]:
        problems = super().check_spec(spec)
        try:
            options = LocalOptions.model_validate(spec.options)
        except ValueError:
            return problems  # already reported by the base class
        if options.early_stopping_patience and spec.validation is None:
            problems.append("options.early_stopping_patience needs validation data: pass validation=...")
        if spec.method == Method.DPO and (options.packing or options.padding_free):
            problems.append("options.packing / padding_free apply to SFT only; remove them for method='dpo'")
        if options.device == "mps" and spec.adapter == Adapter.QLORA:
            problems.append("adapter='qlora' needs bitsandbytes, which has no Apple MPS backend: use 'lora'")
        if options.accelerate_config and not Path(options.accelerate_config).is_file():
            problems.append(f"options.accelerate_config: no file at {options.accelerate_config}")
        problems += _option_problems(spec, options)
        from ._preflight import model_problems

        problems += model_problems(spec)  # what would otherwise fail in the worker, after launch
        return problems

    @classmethod
    def check_data(cls, spec: JobSpec) -> list[Any]:
        """Examples whose assistant answer the model's chat template does not render locatably (by line)."""
        from ._preflight import data_issues

        model_dir = cls._local_model_dir(spec.model)
        return data_issues(spec, model_dir) if model_dir is not None else []

    @classmethod
    def token_counter(cls, model: str | None) -> Any:
        """A GGUF counts with its own tokenizer and template (from the converted folder); else the default."""
        from ._gguf import is_gguf_reference

        if model and is_gguf_reference(model):
            from ftkit.estimation.chat_template import ChatTemplateCounter

            from ._gguf import converted_model

            return ChatTemplateCounter(converted_model(model))
        return super().token_counter(model)

    @classmethod
    def _local_model_dir(cls, model: str) -> Path | None:
        """The folder holding ``model``'s tokenizer on this machine (a GGUF's converted one), if any."""
        from ftkit.estimation.modeldir import find_model_dir

        from ._gguf import resolve_gguf_model

        return find_model_dir(resolve_gguf_model(model), needs="tokenizer.json")

    # -- estimate ----------------------------------------------------------------------------------

    def estimate(self, spec: JobSpec, **assumptions: Any) -> Estimate:
        """Memory fit, time and cost per GPU of the catalog (``utilization=``, ``gpus=``, ``today=``)."""
        from ftkit.providers.local._estimate import estimate

        from ._gguf import resolve_gguf_model

        named = spec.model
        loaded = resolve_gguf_model(named)  # a GGUF is sized and counted from its converted folder
        if loaded == named:
            return estimate(spec, **assumptions)
        result = estimate(spec.model_copy(update={"model": loaded}), **assumptions)
        return result.model_copy(update={"model": named, "assumptions": [
            *result.assumptions, f"{named} is a GGUF: trained as its float conversion in {loaded}."]})

    # -- lifecycle ---------------------------------------------------------------------------------

    def submit(self, ctx: JobContext) -> JobStatus:
        run = RunDir(ctx.workdir)
        if run.read_status().get("pid"):
            return self.status(ctx)  # launched by an earlier, interrupted call
        spec = ctx.spec
        options = LocalOptions.model_validate(spec.options)
        from ._gguf import resolve_gguf_model

        model, hub_offline = _launch.resolve_model(resolve_gguf_model(spec.model))  # a GGUF: its converted folder
        from ._plan import check_output_dir, plan_run

        if options.launcher == "external":  # resolved on the training nodes, where the GPUs are
            check_output_dir(options.output_dir)
            settings = hardware = None
        else:
            settings, hardware = plan_run(spec.model_copy(update={"model": model}), options, run.path)
        fingerprint = fingerprint_of(spec)
        ctx.remember(remote_id=str(run.path), fingerprint=fingerprint, run_dir=str(run.path))
        worker_spec = spec.to_dict() | {"model": model}
        for key in ("train", "validation"):
            if worker_spec[key] is not None:
                worker_spec[key] = str(Path(worker_spec[key]).resolve())
        config = {"spec": worker_spec, "fingerprint": fingerprint, "hub_offline": hub_offline}
        if settings is not None and hardware is not None:
            config.update(settings=settings.to_dict(), hardware=hardware.to_dict())
        run.write_config(config)
        if settings is None:
            self._launch(ctx, run, options, note="prepared")
            return self.status(ctx)
        if settings.estimated_peak_gb is not None and settings.gpu_memory_gb is not None:
            run.append_event(f"estimated peak {settings.estimated_peak_gb:.1f} GB per GPU of "
                             f"{settings.gpu_memory_gb:.1f} GB ({hardware.describe()})", type="estimate")
        elif hardware.device == "cuda" and options.memory_fit != "off":
            run.append_event("GPU memory not checked: the model's config.json is not on this machine and ftkit's "
                             "table does not know it", level="warning", type="estimate")
        for note in settings.adjustments:
            run.append_event(f"adjusted to fit the GPU: {note}", level="warning", type="memory_fit")
        self._launch(ctx, run, options, note="started")
        return self.status(ctx)

    def _launch(self, ctx: JobContext, run: RunDir, options: LocalOptions, *, note: str) -> None:
        from ._hardware import Hardware
        from ._settings import ResolvedSettings

        if options.launcher == "external":
            run.update_status(state="queued", raw_status="waiting_for_launch", error=None)
            run.append_event(f"{note}: start the ranks on each node with `accelerate launch --config_file <your "
                             f"config> -m ftkit.providers.local._worker {run.path}`", type="launch")
            return
        config = run.read_config()
        if "settings" not in config:  # a run directory written before settings were recorded: resolve once now
            from ._plan import plan_run

            resolved, found = plan_run(ctx.spec.model_copy(update={"model": config["spec"]["model"]}), options,
                                       run.path)
            config.update(settings=resolved.to_dict(), hardware=found.to_dict())
            run.write_config(config)
        settings = ResolvedSettings.from_dict(config["settings"])
        hardware = Hardware.from_dict(config["hardware"])
        pid = _launch.launch(run, settings=settings, options=options, visible_gpus=hardware.gpu_count)
        run.update_status(state="queued", raw_status="starting", pid=pid,
                          pid_started=_launch.process_start_time(pid), error=None)
        n = settings.num_processes
        where = f"{n} processes, {settings.distributed}" if n > 1 else f"pid {pid}"
        run.append_event(f"{note} the training process ({where}); log: {run.log_file}", type="launch")

    def status(self, ctx: JobContext) -> JobStatus:
        run = RunDir(ctx.workdir)
        raw = run.read_status()
        state = JobState(raw.get("state", "pending"))
        error = raw.get("error")
        raw_status = raw.get("raw_status", state.value)
        if not state.is_terminal and raw.get("pid") and not _launch.is_alive(raw["pid"], raw.get("pid_started")):
            if run.cancel_requested:
                state, raw_status = JobState.CANCELLED, "cancelled"
            else:
                step = run.last_checkpoint_step()
                kept = f"its last checkpoint is at step {step}" if step else "it had not saved a checkpoint yet"
                state, raw_status = JobState.FAILED, "worker_died"
                cause = "killed or crashed"
                if _log_says_disk_full(run):
                    raw_status, cause = "disk_full", "the disk filled up; free space first"
                error = (f"the training process (pid {raw['pid']}) stopped without finishing ({cause}); "
                         f"{kept}. Continue with FineTuneJob.attach({ctx.job_id!r}).resume(); "
                         f"see {run.log_file}")
        return JobStatus(
            job_id=ctx.job_id, provider=self.name, state=state, raw_status=raw_status, remote_id=str(run.path),
            updated_at=_parse_time(raw.get("updated_at")), step=raw.get("step"), total_steps=raw.get("total_steps"),
            trained_tokens=raw.get("trained_tokens"), error=error, model_id=raw.get("output"),
            finished_at=_parse_time(raw.get("updated_at")) if state.is_terminal else None,
        )

    def events(self, ctx: JobContext, *, after: str | None = None) -> EventPage:
        found, has_more = RunDir(ctx.workdir).read_events(after, limit=500)
        events = [JobEvent.model_validate(e) for e in found]
        return EventPage(events=events, cursor=events[-1].id if events else after, has_more=has_more)

    def cancel(self, ctx: JobContext) -> JobStatus:
        """Ask the worker to stop at the next step boundary, saving a checkpoint; signal it if it does not."""
        current = self.status(ctx)
        if current.is_terminal:
            raise JobStateError(f"Job {ctx.job_id} already ended ({current.state}); there is nothing to cancel.")
        run = RunDir(ctx.workdir)
        run.request_cancel()
        raw = run.read_status()
        pid, started = raw.get("pid"), raw.get("pid_started")

        def stopped() -> bool:
            return not _launch.is_alive(pid, started)

        if not wait_for(stopped, CANCEL_GRACE_S, interval=0.2):
            _launch.signal_group(pid, signal.SIGTERM)
            if not wait_for(stopped, 15.0, interval=0.2):
                _launch.signal_group(pid, signal.SIGKILL)
                wait_for(stopped, 5.0, interval=0.2)
        if not JobState(run.read_status().get("state", "pending")).is_terminal:
            run.update_status(state="cancelled", raw_status="cancelled")
            run.append_event("cancelled before the training loop started", type="cancelled")
        return self.status(ctx)

    def resume(self, ctx: JobContext) -> JobStatus:
        """Continue a failed or cancelled run from its newest intact checkpoint (corrupt ones are skipped)."""
        current = self.status(ctx)
        if current.state == JobState.SUCCEEDED or not current.is_terminal:
            raise JobStateError(f"Job {ctx.job_id} is {current.state}; only failed or cancelled jobs can resume.")
        recorded = ctx.data.get("fingerprint")
        if recorded is None:
            raise JobStateError(f"Job {ctx.job_id} has no recorded data fingerprint, so it cannot be resumed safely.")
        changed = [k for k, v in fingerprint_of(ctx.spec).items() if recorded.get(k) != v]
        if changed:
            raise ConfigError(
                f"Cannot resume job {ctx.job_id}: its {' and '.join(changed)} changed since the run started, so the "
                "checkpoints no longer match. Start a new job with the new data or settings."
            )
        run = RunDir(ctx.workdir)
        checkpoint, notes = run.last_good_checkpoint(discard_bad=True)
        for note in notes:
            run.append_event(note, level="warning", type="checkpoint_skipped")
        run.cancel_file.unlink(missing_ok=True)
        run.update_status(resume_from=str(checkpoint) if checkpoint else None)
        where = f"from {checkpoint.name}" if checkpoint else "from the start (no intact checkpoint)"
        self._launch(ctx, run, LocalOptions.model_validate(ctx.spec.options), note=f"resuming {where}:")
        return self.status(ctx)

    def result(self, ctx: JobContext) -> TrainedModel:
        from ftkit.model import TrainedModel

        status = self.status(ctx)
        if status.state != JobState.SUCCEEDED:
            raise JobStateError(f"Job {ctx.job_id} is {status.state}; it has a trained model only once it succeeded.")
        run = RunDir(ctx.workdir)
        raw = run.read_status()
        output = raw["output"]
        is_adapter = ctx.spec.adapter != Adapter.FULL
        return TrainedModel(
            provider=self.name, model_id=output, base_model=run.read_config()["spec"]["model"], job_id=ctx.job_id,
            adapter_path=output if is_adapter else None, metrics=raw.get("metrics", {}),
            spec=ctx.spec.to_dict(),
            info={"run_dir": str(run.path), "adapter": ctx.spec.adapter.value,
                  "checkpoints": [str(d) for _, d in run.checkpoint_dirs()]},
        )

    # -- using models -------------------------------------------------------------------------------

    def generate(
        self, model: TrainedModel, prompts: list[list[dict[str, Any]]], settings: GenerationSettings
    ) -> list[Generation]:
        """Batched, left-padded generation; greedy when ``temperature == 0``; stops at eos and at the chat
        template's end-of-turn token."""
        from ._inference import generate

        return generate(self._model_for(model), prompts, settings)

    def loss(self, model: TrainedModel, examples: list[dict[str, Any]]) -> list[ExampleLoss]:
        """Per-example negative log-likelihood of the reference (assistant / completion) tokens.

        ``exp(sum(l.total_nll) / sum(l.tokens))`` is the set's perplexity; the mean matches TRL's
        ``eval_loss`` with assistant-only loss.
        """
        from ._inference import example_losses

        return example_losses(self._model_for(model), examples)

    def merge(self, model: TrainedModel, out_dir: Path, *, dtype: str = "auto",
              from_quantized: bool | None = None) -> Path:
        """Write base + adapter merged into a new folder: loads with plain transformers / vLLM.

        ``dtype="auto"``: the base's own 16-bit dtype (bf16 when it is stored in fp32). A QLoRA adapter is
        merged into the dequantised 4-bit weights it was trained against. A non-empty ``out_dir`` is refused.
        """
        from ._export import merge

        out = merge(model, Path(out_dir), dtype=dtype, from_quantized=from_quantized)
        model.merged_path = str(out)
        return out

    def export_ollama(self, model: TrainedModel, out_dir: Path, *, system_prompt: str | None = None,
                      parameters: dict[str, Any] | None = None) -> Path:
        """Merged weights plus a ``Modelfile`` (chat template, system prompt, parameters): ``ollama create``."""
        from ._export import export_ollama

        return export_ollama(self.merge(model, Path(out_dir)), system_prompt=system_prompt, parameters=parameters)

    def _model_for(self, model: TrainedModel) -> Any:
        from ._inference import load_for_inference

        key = (model.base_model or model.model_id, model.adapter_path)
        if key not in self._loaded:
            self._loaded[key] = load_for_inference(model)
        return self._loaded[key]


def fingerprint_of(spec: JobSpec) -> dict[str, str]:
    """sha256 of the training data, validation data and settings: what resume() insists is unchanged."""
    settings = {k: v for k, v in spec.to_dict().items() if k not in ("train", "validation", "name")}
    return {
        "train data": sha256_file(spec.train),
        "validation data": sha256_file(spec.validation) if spec.validation else "",
        "settings": hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest(),
    }


def _log_says_disk_full(run: RunDir) -> bool:
    """Whether the end of the worker's log shows the disk filling up (the worker may not have recorded it)."""
    from ._disk import is_disk_full

    try:
        with run.log_file.open("rb") as f:
            f.seek(max(0, run.log_file.stat().st_size - 16384))
            return is_disk_full(f.read().decode("utf-8", "replace"))
    except OSError:
        return False


def _option_problems(spec: JobSpec, options: LocalOptions) -> list[str]:
    """Options that cannot work, found without importing torch (``ftkit validate`` runs this)."""
    import importlib.util

    from ._plan import check_output_dir

    problems = []
    try:
        check_output_dir(options.output_dir)
    except ConfigError as e:
        problems.append(str(e))
    if options.accelerate_config and options.distributed:
        problems.append("options.distributed and options.accelerate_config both choose the strategy; keep one")
    optim = options.optim or ""
    needs = {
        "deepspeed": options.distributed == "zero3",
        "flash_attn": options.attn_implementation in ("flash_attention_2", "flash_attention_3"),
        "liger_kernel": options.liger_kernel,
        "bitsandbytes": "8bit" in optim or optim.startswith("paged"),
    }
    installs = {"deepspeed": "deepspeed", "flash_attn": "flash-attn --no-build-isolation",
                "liger_kernel": "liger-kernel", "bitsandbytes": "bitsandbytes"}
    for module, needed in needs.items():
        if needed and importlib.util.find_spec(module) is None:
            problems.append(f"the chosen options need {module}, which is not installed: pip install {installs[module]}")
    if options.device in ("cpu", "mps") and (options.liger_kernel or options.attn_implementation in (
            "flash_attention_2", "flash_attention_3")):
        problems.append("liger_kernel and flash attention run on CUDA only; drop them for device='cpu'/'mps'")
    return problems


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
