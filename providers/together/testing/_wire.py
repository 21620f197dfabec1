"""The Together emulator's strictness: which models it knows (with their limits and prices), and
which request fields it accepts, where, and of what type.

The accepted fields are exactly those the together 3.1.1 SDK sends (``FinetuneRequest`` and the
estimate-price / chat-completion params), nested where the SDK nests them. Anything else is refused
with a 400 in Together's error shape, ``{"error": {"message", "type": "invalid_request_error",
"param", "code"}}``, so a wrong mapping (``lora_r`` at the top level, ``wandb_api_key`` instead of
``wandb_key``) fails in a test instead of being silently ignored.

Prices and per-model limits come from ftkit's own Together catalog (``providers/together/catalog.yaml``), the
one place those figures are kept with their sources: a model's own price, else its size bracket's; a
model's ``fine_tuning_limits`` (e.g. gpt-oss-20b batch 8-8, gpt-oss-120b 16-16, from Together's supported
models table) over the emulator's defaults. ASSUMPTION (no published figure stored): the defaults for
what a model's record leaves out, ``_DEFAULT_LIMITS`` below (epochs <= 20, evals <= 100, checkpoints <= 10,
learning rate 1e-7..1e-2, sequence length 512..16384 SFT / 8192 DPO, LoRA batch 8-32 (16 DPO), full batch
8-16 (8 DPO)); and that gpt-oss-20b offers no full fine-tuning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftkit.estimation.catalog import load_catalog
from ftkit.testing._http import HTTPError

__all__ = [
    "CATALOG", "ModelSpec", "check_chat", "check_create", "check_estimate", "check_values", "limits_body", "price_per_m",
]


@dataclass(frozen=True)
class ModelSpec:
    """A fine-tunable model of the emulator's catalog."""

    name: str
    params_b: float
    full_training: bool = True
    merge_output_lora: bool = True
    default_rank: int = 64
    max_rank: int = 64
    vision: bool = False


def _params(name: str, fallback: float) -> float:
    entry = load_catalog("together").find(name)
    return entry.parameters_b if entry is not None and entry.parameters_b is not None else fallback


CATALOG: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("Qwen/Qwen3-8B", _params("Qwen/Qwen3-8B", 8.19)),
        ModelSpec("Qwen/Qwen2.5-7B-Instruct", _params("Qwen/Qwen2.5-7B-Instruct", 7.62)),
        ModelSpec("Qwen/Qwen3-0.6B", 0.6, default_rank=16),  # parameter count from the Hugging Face model card
        ModelSpec("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                  _params("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", 8.03)),
        ModelSpec("meta-llama/Llama-3.3-70B-Instruct-Reference", 70.6, merge_output_lora=False),
        ModelSpec("openai/gpt-oss-20b", _params("openai/gpt-oss-20b", 21.0), full_training=False),
        ModelSpec("openai/gpt-oss-120b", _params("openai/gpt-oss-120b", 117.0), full_training=False),
    )
}


def price_per_m(model: ModelSpec, *, method: str, lora: bool) -> float:
    """USD per 1M tokens from ftkit's Together catalog: the model's own price, else its size bracket's."""
    from ftkit.providers.together._estimate import training_price

    catalog = load_catalog("together")
    adapter = "lora" if lora else "full"
    entry = catalog.find(model.name)
    price, _ = training_price(catalog, entry, method, adapter) if entry is not None else (None, "")
    if price is None:
        bracket = catalog.bracket_for(model.params_b)
        price = bracket.prices.get(f"{method}/{adapter}") if bracket is not None else None
    if price is None or price.usd_per_1m_tokens is None:
        raise bad_request(f"{model.name} cannot be priced for {method}/{adapter} fine-tuning", "model")
    return price.usd_per_1m_tokens


#: ASSUMPTION: what a model's limits record leaves out (see the module docstring)
_DEFAULT_LIMITS: dict[str, Any] = {
    "max_num_epochs": 20, "max_num_evals": 100, "max_num_checkpoints": 10, "min_learning_rate": 1e-7,
    "max_learning_rate": 1e-2, "max_seq_length_sft": 16384, "max_seq_length_dpo": 8192, "min_max_seq_length": 512,
    "default_gradient_accumulation_steps": 1, "supports_tools": True, "supports_reasoning": False,
}  # fmt: skip


def limits_body(model: ModelSpec) -> dict[str, Any]:
    """``GET /v1/fine-tunes/models/limits`` for ``model``, in the wire shape: the catalog's sourced figures over
    the emulator's defaults."""
    body: dict[str, Any] = {
        "model_name": model.name, **_DEFAULT_LIMITS,
        "merge_output_lora": model.merge_output_lora,
        "supports_full_training": model.full_training,
        "supports_vision": model.vision,
        "lora_training": {
            "default_rank": model.default_rank, "max_rank": model.max_rank,
            "min_batch_size": 8, "max_batch_size": 32, "max_batch_size_dpo": 16,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        },
    }  # fmt: skip
    if model.full_training:
        body["full_training"] = {"min_batch_size": 8, "max_batch_size": 16, "max_batch_size_dpo": 8}
    entry = load_catalog("together").find(model.name)
    sourced = {k: v for k, v in (entry.fine_tuning_limits or {}).items() if k not in ("source", "read_on")} \
        if entry is not None else {}  # fmt: skip
    for key, value in sourced.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        elif key in ("lora_training", "full_training") or not isinstance(value, dict):
            body[key] = value
    return body


# -- a tiny schema checker ------------------------------------------------------------------------------------


def bad_request(message: str, param: str | None = None) -> HTTPError:
    return HTTPError(400, message, type="invalid_request_error", param=param, code=None)


def _keys(obj: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise bad_request(f"{where or 'body'} must be a JSON object", where or None)
    unknown = sorted(set(obj) - allowed)
    if unknown:
        path = f"{where}.{unknown[0]}" if where else unknown[0]
        raise bad_request(f"Unknown field {path!r} in the request", path)
    return obj


def _typed(obj: dict[str, Any], key: str, kinds: tuple[type, ...], where: str = "", *, required: bool = False) -> Any:
    path = f"{where}.{key}" if where else key
    if key not in obj or obj[key] is None:
        if required:
            raise bad_request(f"Missing required field {path!r}", path)
        return None
    value = obj[key]
    if isinstance(value, bool) and bool not in kinds:
        raise bad_request(f"Field {path!r} has the wrong type (got a boolean)", path)
    if not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise bad_request(f"Field {path!r} must be {names}, got {type(value).__name__}", path)
    return value


_NUM = (int, float)
_CREATE_FIELDS = {
    "training_file": (str,), "validation_file": (str,), "packing": (bool,), "model": (str,), "n_epochs": (int,),
    "learning_rate": _NUM, "lr_scheduler": (dict,), "warmup_ratio": _NUM, "max_grad_norm": _NUM,
    "weight_decay": _NUM, "n_checkpoints": (int,), "n_evals": (int,), "max_seq_length": (int,),
    "batch_size": (int, str), "gradient_accumulation_steps": (int,), "suffix": (str,), "wandb_key": (str,),
    "wandb_base_url": (str,), "wandb_project_name": (str,), "wandb_name": (str,), "wandb_entity": (str,),
    "random_seed": (int,), "early_stopping_enabled": (bool,), "early_stopping_patience": (int,),
    "early_stopping_min_delta": _NUM, "early_stopping_warmup_evals": (int,), "training_type": (dict,),
    "training_method": (dict,), "from_checkpoint": (str,), "multimodal_params": (dict,), "from_hf_model": (str,),
    "hf_model_revision": (str,), "hf_api_token": (str,), "hf_output_repo_name": (str,),
}  # fmt: skip


def _training_type(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = _typed(_keys(value, {"type", "lora_r", "lora_alpha", "lora_dropout", "lora_trainable_modules"}, where),
                  "type", (str,), where, required=True)  # fmt: skip
    if kind == "Full":
        _keys(value, {"type"}, where)
    elif kind == "Lora":
        _typed(value, "lora_r", (int,), where, required=True)
        _typed(value, "lora_alpha", (int,), where, required=True)
        _typed(value, "lora_dropout", _NUM, where)
        _typed(value, "lora_trainable_modules", (str,), where)
    else:
        raise bad_request(f"{where}.type must be 'Lora' or 'Full', got {kind!r}", f"{where}.type")
    return value


def _training_method(value: Any, where: str) -> str:
    if value is None:
        return "sft"
    method = _typed(value, "method", (str,), where, required=True)
    if method == "sft":
        _keys(value, {"method", "train_on_inputs"}, where)
        tio = value.get("train_on_inputs")
        if tio is not None and tio != "auto" and not isinstance(tio, bool):
            raise bad_request(f"{where}.train_on_inputs must be true, false or 'auto'", f"{where}.train_on_inputs")
    elif method == "dpo":
        allowed = {"method", "dpo_beta", "dpo_normalize_logratios_by_length", "dpo_reference_free", "rpo_alpha",
                   "simpo_gamma"}  # fmt: skip
        _keys(value, allowed, where)
        for key in ("dpo_beta", "rpo_alpha", "simpo_gamma"):
            _typed(value, key, _NUM, where)
        for key in ("dpo_normalize_logratios_by_length", "dpo_reference_free"):
            _typed(value, key, (bool,), where)
    else:
        raise bad_request(f"{where}.method must be 'sft' or 'dpo', got {method!r}", f"{where}.method")
    return method


def check_create(body: Any) -> dict[str, Any]:
    """Validate a ``POST /v1/fine-tunes`` body's shape (not yet its values against the model)."""
    _keys(body, set(_CREATE_FIELDS), "")
    for key, kinds in _CREATE_FIELDS.items():
        _typed(body, key, kinds, required=key == "training_file")
    if isinstance(body.get("batch_size"), str) and body["batch_size"] != "max":
        raise bad_request("batch_size must be an integer or 'max'", "batch_size")
    scheduler = body.get("lr_scheduler")
    if scheduler is not None:
        _keys(scheduler, {"lr_scheduler_type", "lr_scheduler_args"}, "lr_scheduler")
        kind = _typed(scheduler, "lr_scheduler_type", (str,), "lr_scheduler", required=True)
        if kind not in ("linear", "cosine"):
            raise bad_request("lr_scheduler.lr_scheduler_type must be 'linear' or 'cosine'", "lr_scheduler")
        args = scheduler.get("lr_scheduler_args") or {}
        _keys(args, {"min_lr_ratio", "num_cycles"} if kind == "cosine" else {"min_lr_ratio"}, "lr_scheduler.lr_scheduler_args")
    _training_type(body.get("training_type"), "training_type")
    _training_method(body.get("training_method"), "training_method")
    if body.get("multimodal_params") is not None:
        _keys(body["multimodal_params"], {"train_vision"}, "multimodal_params")
    if body.get("suffix") and len(body["suffix"]) > 40:
        raise bad_request("suffix must be at most 40 characters", "suffix")
    if not body.get("model") and not body.get("from_checkpoint"):
        raise bad_request("Either model or from_checkpoint is required", "model")
    return body


def check_estimate(body: Any) -> dict[str, Any]:
    """Validate a ``POST /v1/fine-tunes/estimate-price`` body."""
    allowed = {"training_file", "from_checkpoint", "model", "n_epochs", "n_evals", "training_method",
               "training_type", "validation_file"}  # fmt: skip
    _keys(body, allowed, "")
    _typed(body, "training_file", (str,), required=True)
    for key in ("from_checkpoint", "model", "validation_file"):
        _typed(body, key, (str,))
    for key in ("n_epochs", "n_evals"):
        _typed(body, key, (int,))
    _training_type(body.get("training_type"), "training_type")
    _training_method(body.get("training_method"), "training_method")
    return body


_CHAT_FIELDS = {
    "messages", "model", "chat_template_kwargs", "compliance", "context_length_exceeded_behavior", "echo",
    "frequency_penalty", "function_call", "logit_bias", "logprobs", "max_tokens", "min_p", "n", "presence_penalty",
    "reasoning", "reasoning_effort", "repetition_penalty", "response_format", "safety_model", "seed", "stop",
    "stream", "temperature", "tool_choice", "tools", "top_k", "top_p",
}  # fmt: skip


def check_chat(body: Any) -> dict[str, Any]:
    """Validate a ``POST /v1/chat/completions`` body."""
    _keys(body, _CHAT_FIELDS, "")
    _typed(body, "model", (str,), required=True)
    messages = _typed(body, "messages", (list,), required=True)
    if not messages:
        raise bad_request("messages must not be empty", "messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        _keys(message, {"role", "content", "name", "tool_calls", "tool_call_id", "reasoning"}, where)
        role = _typed(message, "role", (str,), where, required=True)
        if role not in ("system", "user", "assistant", "tool"):
            raise bad_request(f"{where}.role must be system, user, assistant or tool", f"{where}.role")
    _typed(body, "max_tokens", (int,))
    _typed(body, "temperature", _NUM)
    _typed(body, "top_p", _NUM)
    _typed(body, "seed", (int,))
    stop = _typed(body, "stop", (list, str))
    if isinstance(stop, list) and not all(isinstance(s, str) for s in stop):
        raise bad_request("stop must be a list of strings", "stop")
    if body.get("stream"):
        raise bad_request("the emulator does not stream; call without stream=True", "stream")
    return body


def check_values(body: dict[str, Any], limits: dict[str, Any], *, method: str, lora: bool) -> None:
    """Values against the model's limits, as the real service checks them on create."""
    bounds = limits["lora_training"] if lora else limits.get("full_training")
    if bounds is None:
        raise bad_request(f"Full fine-tuning is not available for {limits['model_name']}", "training_type")
    if not 1 <= int(body.get("n_epochs", 1)) <= limits["max_num_epochs"]:
        raise bad_request(f"n_epochs must be between 1 and {limits['max_num_epochs']}", "n_epochs")
    lr = body.get("learning_rate")
    if lr is not None and not limits["min_learning_rate"] <= lr <= limits["max_learning_rate"]:
        raise bad_request("learning_rate is outside the model's allowed range", "learning_rate")
    size = body.get("batch_size", "max")
    top = bounds["max_batch_size_dpo" if method == "dpo" else "max_batch_size"]
    if isinstance(size, int) and not bounds["min_batch_size"] <= size <= top:
        raise bad_request(f"batch_size must be between {bounds['min_batch_size']} and {top}", "batch_size")
    rank = (body.get("training_type") or {}).get("lora_r", limits["lora_training"]["default_rank"])
    if lora and rank > limits["lora_training"]["max_rank"]:
        raise bad_request(f"lora_r must be at most {limits['lora_training']['max_rank']}", "training_type.lora_r")
    for key, limit in (("n_checkpoints", "max_num_checkpoints"), ("n_evals", "max_num_evals")):
        if int(body.get(key) or 0) > limits[limit]:
            raise bad_request(f"{key} must be at most {limits[limit]}", key)
    seq = body.get("max_seq_length")
    seq_top = limits["max_seq_length_dpo" if method == "dpo" else "max_seq_length_sft"]
    if seq is not None and not limits["min_max_seq_length"] <= seq <= seq_top:
        raise bad_request(f"max_seq_length must be between {limits['min_max_seq_length']} and {seq_top}", "max_seq_length")
