"""Write models that serving tools load without ftkit: a merged full-precision model, and an Ollama bundle."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftkit.errors import ConfigError

from ._quiet import quiet_libraries

if TYPE_CHECKING:
    from ftkit.model import TrainedModel

__all__ = ["export_ollama", "merge"]

# Ollama templates are Go templates, not Jinja: these render the same prompts as the families' Jinja.
_OLLAMA_TEMPLATES = {
    "<|im_start|>": (  # ChatML (Qwen, ftkit's tiny models, many others)
        "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
    ),
    "<|start_header_id|>": (  # Llama 3
        "<|begin_of_text|>{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
        "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
}


def merge(trained: TrainedModel, out_dir: Path, *, dtype: str = "float32") -> Path:
    """Fold the adapter into a full-precision copy of the base (never the 4-bit one) and save it with the
    tokenizer. The result is a plain model directory: ``AutoModelForCausalLM.from_pretrained`` and vLLM
    load it with no peft or ftkit installed."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    if dtype not in ("float32", "bfloat16", "float16"):
        raise ConfigError(f"merge(dtype={dtype!r}): choose float32, bfloat16 or float16.")
    quiet_libraries()
    logging.disable_progress_bar()
    adapter = Path(trained.adapter_path) if trained.adapter_path else None
    base = (trained.base_model or trained.model_id) if adapter else trained.model_id
    model = AutoModelForCausalLM.from_pretrained(base, dtype=getattr(torch, dtype))
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    tokenizer_dir = adapter if adapter is not None and (adapter / "tokenizer_config.json").exists() else base
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)

    out_dir = Path(out_dir)
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, out_dir)
    return out_dir


def export_ollama(merged_dir: Path, *, system_prompt: str | None = None,
                  parameters: dict[str, Any] | None = None) -> Path:
    """Add a ``Modelfile`` next to merged weights; then ``ollama create <name> -f <dir>/Modelfile``."""
    template = _chat_template_of(merged_dir)
    go_template = next((t for marker, t in _OLLAMA_TEMPLATES.items() if marker in template), None)
    eos = _eos_of(merged_dir)
    params: dict[str, Any] = {"temperature": 0}
    if eos:
        params["stop"] = eos
    params.update(parameters or {})

    lines = ["FROM .", ""]
    if go_template is not None:
        lines += [f'TEMPLATE """{go_template}"""', ""]
    else:
        # Ollama reads tokenizer_config.json's chat template itself for families it knows
        lines += ["# TEMPLATE: taken by Ollama from tokenizer_config.json / chat_template.jinja", ""]
    if system_prompt:
        lines += [f'SYSTEM """{system_prompt}"""', ""]
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {key} {json.dumps(item) if isinstance(item, str) else item}")
    modelfile = merged_dir / "Modelfile"
    modelfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return merged_dir


def _chat_template_of(model_dir: Path) -> str:
    jinja = model_dir / "chat_template.jinja"
    if jinja.exists():
        return jinja.read_text(encoding="utf-8")
    config = model_dir / "tokenizer_config.json"
    if config.exists():
        template = json.loads(config.read_text(encoding="utf-8")).get("chat_template") or ""
        return template if isinstance(template, str) else json.dumps(template)
    return ""


def _eos_of(model_dir: Path) -> str | None:
    config = model_dir / "tokenizer_config.json"
    if not config.exists():
        return None
    eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token")
    return eos.get("content") if isinstance(eos, dict) else eos
