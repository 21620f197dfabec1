"""Checks in the calling process of everything about the model that would otherwise fail in the worker.

``LocalProvider.check_spec`` (every ``FineTuneJob(...)``) runs :func:`model_problems`: the model folder
or GGUF, an architecture the installed transformers knows, a tokenizer, a chat template for chat data,
QLoRA on weights bitsandbytes can quantise. ``FineTuneJob.validate()`` / ``start()`` add
:func:`data_issues`: every example whose assistant answer cannot be located in the chat template's
output, with its line. None of it imports torch: JSON, the GGUF header and the transformers sources
are read as files, and templates render with the jinja2 renderer of ``ftkit.estimation``.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

from ftkit.errors import ConfigError
from ftkit.spec import Adapter, JobSpec, Method

from ._gguf import check_readable, find_gguf

__all__ = ["data_issues", "gguf_architectures", "known_model_types", "model_problems"]

_CHAT_FORMATS_KEYS = ("messages", "prompt", "chosen", "input", "preferred_output")


def _transformers_source(relative: str) -> str | None:
    spec = importlib.util.find_spec("transformers")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _dict_keys_assigned(source: str, name: str) -> set[str] | None:
    """String keys of ``NAME = {...}`` or ``NAME = OrderedDict([(k, v), ...])`` at a module's top level."""
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets)):
            continue
        value = node.value
        if isinstance(value, ast.Dict):
            return {k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        if isinstance(value, ast.Call) and value.args and isinstance(value.args[0], ast.List):
            return {e.elts[0].value for e in value.args[0].elts
                    if isinstance(e, ast.Tuple) and isinstance(e.elts[0], ast.Constant)}
    return None


@functools.lru_cache(maxsize=1)
def known_model_types() -> frozenset[str] | None:
    """``model_type`` values the installed transformers can build (None: cannot tell, so do not check)."""
    try:
        source = _transformers_source("models/auto/auto_mappings.py")
        keys = _dict_keys_assigned(source, "CONFIG_MAPPING_NAMES") if source else None
    except (OSError, SyntaxError):
        return None
    return frozenset(keys) if keys else None


@functools.lru_cache(maxsize=1)
def gguf_architectures() -> frozenset[str] | None:
    """GGUF ``general.architecture`` values transformers converts (None: cannot tell)."""
    try:
        source = _transformers_source("integrations/ggml.py")
        keys = _dict_keys_assigned(source, "GGUF_CONFIG_MAPPING") if source else None
    except (OSError, SyntaxError):
        return None
    return frozenset(keys - {"general", "tokenizer"}) if keys else None


def _gguf_architecture_known(architecture: str) -> bool:
    known = gguf_architectures()
    if known is None:
        return True
    aliases = {architecture, architecture.replace("-", "_"), architecture.replace("moe", "_moe")}
    return bool(aliases & known)


def model_problems(spec: JobSpec, *, chat_data: bool | None = None) -> list[str]:
    """What would make the worker fail on ``spec.model``, each with the setting and what to do."""
    try:
        gguf = find_gguf(spec.model)
    except ConfigError as e:
        return [f"model: {e}"]
    if gguf is not None:
        try:
            info = check_readable(gguf)
        except ConfigError as e:
            return [f"model: {e}"]
        if not _gguf_architecture_known(info["architecture"]):
            return [f"model: {gguf.name} is a {info['architecture']!r} GGUF, which the installed transformers "
                    "cannot convert (it reads " + ", ".join(sorted(gguf_architectures() or ())) + "); pass the "
                    "model's Hugging Face folder instead."]
        return []  # tokenizer and template come from the GGUF itself; checked with the data in validate()
    path = Path(spec.model).expanduser()
    if not path.is_dir():
        from ftkit.estimation.modeldir import find_model_dir

        cached = find_model_dir(spec.model)  # a hub id already in the Hugging Face cache: check it the same way
        if cached is None:
            return []  # resolved (cache or hub) when the job starts
        path = cached
    config_file = path / "config.json"
    if not config_file.is_file():
        return [f"model: {path} is not a model folder (no config.json) and holds no .gguf file; pass a saved "
                "model's folder, a .gguf file or an Ollama model name."]
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        return [f"model: {config_file} is unreadable ({e}); save the model again with save_pretrained()."]
    problems = []
    model_type = config.get("model_type")
    known = known_model_types()
    if known is not None and model_type not in known:
        problems.append(f"model: {path} is a {model_type!r} model, which the installed transformers does not know; "
                        "upgrade transformers (pip install -U transformers) or convert the model.")
    architectures = config.get("architectures") or []
    if architectures and not any(a.endswith(("ForCausalLM", "LMHeadModel", "ForConditionalGeneration"))
                                 for a in architectures):
        problems.append(f"model: {path} is a {architectures[0]}, not a causal language model; fine-tuning "
                        "needs a *ForCausalLM checkpoint.")
    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")):
        problems.append(f"model: {path} has no tokenizer files (tokenizer.json / tokenizer_config.json); save "
                        "the tokenizer into the folder with tokenizer.save_pretrained().")
    if chat_data is None:
        chat_data = _is_chat_data(spec)
    if chat_data and not _options(spec).get("chat_template") and not _has_template(path):
        problems.append(f"model: {path} has no chat template, so chat examples cannot be rendered; pass "
                        "options={'chat_template': '<jinja text or path>'} or train on {'text': ...} examples.")
    if spec.adapter == Adapter.QLORA:
        problems += _qlora_problems(path, config)
    return problems


def _options(spec: JobSpec) -> dict[str, Any]:
    return dict(spec.options or {})


def _has_template(path: Path) -> bool:
    from ftkit.estimation.chat_template import load_chat_template

    return load_chat_template(path) is not None


def _qlora_problems(path: Path, config: dict[str, Any]) -> list[str]:
    quantized = config.get("quantization_config") or {}
    method = quantized.get("quant_method")
    if method and method != "bitsandbytes":
        return [f"adapter='qlora': {path} is already quantised with {method}, which bitsandbytes cannot re-quantise "
                "to 4 bits; use adapter='lora' on it, or start from the float checkpoint."]
    if importlib.util.find_spec("bitsandbytes") is None:
        return ["adapter='qlora' needs bitsandbytes: pip install 'ftkit[local]' (or use adapter='lora')."]
    return []


def _first_example(spec: JobSpec) -> dict[str, Any] | None:
    train = spec.train
    if isinstance(train, list):
        return train[0] if train else None
    path = Path(str(train)).expanduser()
    if not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    value = json.loads(line)
                    return value if isinstance(value, dict) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # the data validator reports it
    return None


def _is_chat_data(spec: JobSpec) -> bool:
    if spec.method == Method.DPO:
        return True
    first = _first_example(spec)
    return first is not None and any(key in first for key in _CHAT_FORMATS_KEYS) and "text" not in first


def data_issues(spec: JobSpec, model_dir: Path) -> list[Any]:
    """One ``error`` per training or validation example whose assistant answer cannot be located in the
    chat template's output (assistant-only loss would have no tokens to train for it)."""
    from ftkit.data.report import Issue
    from ftkit.estimation.chat_template import ChatTemplateCounter

    options = _options(spec)
    if spec.method != Method.SFT or options.get("loss_on", "assistant") != "assistant":
        return []
    counter = ChatTemplateCounter(model_dir)
    if options.get("chat_template"):
        template = str(options["chat_template"])
        if "{%" not in template and Path(template).is_file():
            template = Path(template).read_text(encoding="utf-8")
        from ftkit.estimation.chat_template import _environment

        counter._template = _environment().from_string(template)
    if not counter.has_template and not options.get("chat_template"):
        return []  # model_problems reports the missing template
    from ._assistant_spans import UnlocatedAnswer, answer_spans, turn_framing

    def render(messages: list[dict[str, Any]], tools: Any, prompt: bool) -> str:
        from ftkit.estimation.chat_template import _split_spans

        return _split_spans(counter.render(messages, tools, add_generation_prompt=prompt))[0]

    specials = _added_tokens(model_dir)
    framing = turn_framing(render, specials)
    issues = []
    for role, source in (("train", spec.train), ("validation", spec.validation)):
        for line, messages, tools in _chat_examples(source):
            try:
                answer_spans(render, messages, tools, framing=framing)
            except UnlocatedAnswer as e:
                issues.append(Issue(
                    code="assistant_not_located", severity="error", line=line,
                    path=None if role == "train" else str(source),
                    message=f"assistant-only loss cannot find the answer in the chat template's output: {e}",
                    hint="fix the example, pass options={'chat_template': ...} that renders it, or set "
                         "options={'loss_on': 'all'} to train on every token",
                ))
    return issues


def _added_tokens(model_dir: Path) -> list[str]:
    path = model_dir / "tokenizer.json"
    try:
        added = json.loads(path.read_text(encoding="utf-8")).get("added_tokens", [])
    except (OSError, json.JSONDecodeError):
        return []
    return [t.get("content", "") for t in added if isinstance(t, dict)]


def _chat_examples(source: Any) -> list[tuple[int | None, list[dict[str, Any]], Any]]:
    """(line, messages, tools) of each chat example of a JSONL file or list; other formats are skipped."""
    from ftkit.data.formats import to_chat

    if source is None:
        return []
    if isinstance(source, list):
        numbered = list(enumerate(source, start=1))
    else:
        path = Path(str(source)).expanduser()
        if not path.is_file():
            return []
        numbered = []
        with path.open(encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        numbered.append((number, json.loads(line)))
                    except json.JSONDecodeError:
                        continue  # the data validator reports it
    out = []
    for number, example in numbered:
        try:
            chat = to_chat(example)
        except Exception:  # not a chat example, or malformed: the data validator reports it
            continue
        if isinstance(chat, dict) and isinstance(chat.get("messages"), list):
            out.append((number, chat["messages"], chat.get("tools")))
    return out
