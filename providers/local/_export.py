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


def merge(trained: TrainedModel, out_dir: Path, *, dtype: str = "auto", from_quantized: bool | None = None) -> Path:
    """Fold the adapter into the base and save it with the tokenizer into a new folder (a non-empty one is
    refused). The result is a plain model directory: ``AutoModelForCausalLM.from_pretrained`` and vLLM load
    it with no peft or ftkit installed.

    ``dtype="auto"``: the base's own dtype when it is 16-bit, else bf16 (an fp32 copy doubles disk and RAM,
    and vLLM serves fp32 configs as fp16 anyway). A QLoRA adapter (``from_quantized=None`` reads the job's
    adapter) is merged into the *dequantised* 4-bit weights it was trained against, not the original ones.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    from ._plan import check_output_dir

    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise ConfigError(f"merge(dtype={dtype!r}): choose auto, float32, bfloat16 or float16.")
    out_dir = Path(out_dir)
    check_output_dir(out_dir, what="merge target")
    quiet_libraries()
    logging.disable_progress_bar()
    adapter = Path(trained.adapter_path) if trained.adapter_path else None
    base = (trained.base_model or trained.model_id) if adapter else trained.model_id
    target = getattr(torch, merged_dtype(base) if dtype == "auto" else dtype)
    quantized = (trained.info or {}).get("adapter") == "qlora" if from_quantized is None else from_quantized
    if adapter is not None and quantized:
        model = load_dequantized(base, compute=torch.float16 if target == torch.float16 else torch.bfloat16)
        model = model.to(target)
    else:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=target)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.config.dtype = target
    tokenizer_dir = adapter if adapter is not None and (adapter / "tokenizer_config.json").exists() else base
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)

    staging = out_dir.with_name(f".{out_dir.name}.partial")  # ftkit's own name: a leftover of a crashed merge
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, out_dir)  # replaces only an empty folder (checked above)
    return out_dir


def merged_dtype(base: str) -> str:
    """The base's stored dtype if it is 16-bit, else bfloat16."""
    from ftkit.estimation.modeldir import find_model_dir, read_config

    model_dir = find_model_dir(base)
    stored = ""
    if model_dir is not None:
        config = read_config(model_dir)
        stored = str(config.get("dtype") or config.get("torch_dtype") or "")
    return stored if stored in ("bfloat16", "float16") else "bfloat16"


def load_dequantized(base: str, *, compute: object) -> object:
    """The base as QLoRA training saw it: quantised to NF4 exactly as in training, then dequantised."""
    import torch
    from transformers import AutoModelForCausalLM

    from ._settings import ResolvedSettings
    from ._training import quantization_config

    settings = ResolvedSettings(device="cuda" if torch.cuda.is_available() else "cpu",
                                dtype="float16" if compute == torch.float16 else "bfloat16", epochs=1, max_steps=1,
                                learning_rate=0.0, batch_size=1, gradient_accumulation_steps=1, max_seq_length=1,
                                seed=0, lora_r=1, lora_alpha=1, lora_dropout=0.0, gradient_checkpointing=False,
                                padding_free=False, packing=False)
    model = AutoModelForCausalLM.from_pretrained(base, quantization_config=quantization_config(settings),
                                                 dtype=compute)
    return model.dequantize()


def export_ollama(merged_dir: Path, *, system_prompt: str | None = None,
                  parameters: dict[str, Any] | None = None) -> Path:
    """Add a ``Modelfile`` next to merged weights; then ``ollama create <name> -f <dir>/Modelfile``."""
    template = _chat_template_of(merged_dir)
    go_template = next((t for marker, t in _OLLAMA_TEMPLATES.items() if marker in template), None)
    stops = _stop_strings(merged_dir)
    params: dict[str, Any] = {"temperature": 0}
    if stops:
        params["stop"] = stops  # eos and the template's end-of-turn token: where an answer ends
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


def _stop_strings(model_dir: Path) -> list[str]:
    """The tokens generation stops at (eos, generation config eos ids, end of turn), as Ollama ``stop`` values."""
    from transformers import AutoTokenizer, GenerationConfig

    from ._inference import stop_token_ids

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    try:
        generation = GenerationConfig.from_pretrained(model_dir)
    except OSError:  # no generation_config.json
        generation = None
    stops = [tokenizer.convert_ids_to_tokens(i) for i in stop_token_ids(tokenizer, generation)]
    eos = _eos_of(model_dir)
    return list(dict.fromkeys([*(s for s in stops if s), *([eos] if eos else [])]))


def _eos_of(model_dir: Path) -> str | None:
    config = model_dir / "tokenizer_config.json"
    if not config.exists():
        return None
    eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token")
    return eos.get("content") if isinstance(eos, dict) else eos
