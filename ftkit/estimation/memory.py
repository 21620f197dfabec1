"""Peak GPU memory and training FLOPs of a local fine-tune, from the model's shape alone.

Memory is reported in GB (10^9 bytes), the unit fine-tuning guides use ("7B x 2 bytes = 14 GB"); GPU
capacities (sold as "80GB", really GiB) are converted to the same unit before comparing.

Peak memory = weights + trainable state + activations + logits + a fixed overhead:

* **weights**: every parameter in its dtype (bf16: 2 bytes). QLoRA stores the attention and MLP projections
  in 4-bit NF4 with double quantisation: 4 bits + an 8-bit absmax per 64 weights + an fp32 scale per 256
  absmax values = 4.127 bits (0.516 bytes) per weight; embeddings, output head and norms stay bf16.
* **trainable state** (AdamW, mixed precision): full fine-tuning keeps bf16 gradients (2), fp32 master
  weights (4) and two fp32 moments (8): with the weights, the well-known 16 bytes per parameter. LoRA and
  QLoRA train only the adapters, in fp32: weights, gradients and two moments, 16 bytes per adapter parameter.
* **activations**, per token and layer, in bf16, with a memory-efficient (flash / SDPA) attention kernel:
  the inputs of the two norms (2 x 2h), attention input, Q/K/V, attention output and o-proj input
  (2 x (3h + 2 kv)), and the SwiGLU MLP (2h + 4 x 2i). With gradient checkpointing only each layer's input
  (2h) is kept, plus one layer's full set while it is recomputed.
* **logits**: bf16 logits plus the fp32 copy the cross-entropy makes, 6 bytes x vocabulary per token.
* **overhead**: CUDA context and allocator reserve, a fixed 1 GiB.

DPO runs chosen and rejected through the model together (twice the activations); with full fine-tuning
it also holds a frozen bf16 reference model (with LoRA the reference is the base with adapters off).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from ftkit.estimation.catalog import Architecture

__all__ = [
    "GIB",
    "NF4_DOUBLE_QUANT_BYTES",
    "MemoryModel",
    "lora_parameters",
    "memory_model",
    "training_flops_per_token",
]

GB = 1e9
GIB = 2**30
#: 4-bit NF4 weight + 8-bit absmax per 64-weight block + fp32 scale per 256 absmax values, in bytes.
NF4_DOUBLE_QUANT_BYTES = (4 + 8 / 64 + 32 / (64 * 256)) / 8
BF16 = 2
FP32 = 4
ADAMW_MIXED_PRECISION_BYTES = 4 + 8  # fp32 gradient + two fp32 moments (the fp32 weights are the master copy)
ADAPTER_STATE_BYTES = 4 + 4 + 8  # fp32 adapter weight, gradient and two moments
QLORA_ADAPTER_STATE_BYTES = 2 + 2 + 4  # TRL casts QLoRA adapters to bf16: weight, gradient, two bf16 moments
#: an unfused LM head: bf16 logits, their fp32 upcast, the fp32 log-softmax and its fp32 gradient
LOGIT_BYTES = 2 + 4 + 4 + 4
#: TRL >= 1.16 projects the LM head in tiles of 4,096 tokens x 32,768 vocabulary entries (forward and backward)
FUSED_HEAD_TOKENS, FUSED_HEAD_VOCAB = 4096, 32768
#: per-token fp32 running statistics of the fused head (max, sums, target logit, log-prob, entropy, ...)
FUSED_HEAD_BYTES_PER_TOKEN = 8 * FP32
OVERHEAD_BYTES = 1 * GIB


def lora_parameters(arch: Architecture, r: int) -> int:
    """Adapter parameters of LoRA rank ``r`` on every attention and MLP projection ("all-linear").

    For a mixture of experts every expert's three projections get an adapter (what "all-linear" matches).
    """
    h, q, kv = arch.hidden_size, arch.num_attention_heads * arch.head_dim, arch.num_key_value_heads * arch.head_dim
    # A (in x r) + B (r x out) per projection: q: h->q, o: q->h; k, v: h->kv; gate, up: h->i; down: i->h.
    attention = r * ((h + q) * 2 + (h + kv) * 2)
    if arch.is_moe:
        width = arch.expert_intermediate_size or arch.intermediate_size
        mlp = r * (h + width) * 3 * arch.num_experts
        mlp += r * (h + arch.shared_expert_intermediate_size) * 3 if arch.shared_expert_intermediate_size else 0
    else:
        mlp = r * (h + arch.intermediate_size) * 3
    return (attention + mlp) * arch.num_layers


def _mlp_width_per_token(arch: Architecture) -> int:
    """Summed width of the MLPs one token runs through (its routed experts plus the shared one)."""
    if not arch.is_moe:
        return arch.intermediate_size
    width = arch.expert_intermediate_size or arch.intermediate_size
    return max(1, arch.experts_per_token) * width + arch.shared_expert_intermediate_size


def _activation_bytes_per_token_layer(arch: Architecture, *, residual: int = BF16, projection: int = BF16,
                                      lora_dropout: bool = False) -> float:
    """Bytes one layer keeps per token for its backward pass.

    ``residual``: element size of the residual stream and norm inputs (4 when the embeddings are fp32: full
    fine-tuning with fp32 master weights, or QLoRA after peft's upcast); ``projection``: element size of the
    projections' outputs (2 under bf16/fp16 autocast; 4 where bitsandbytes returns the fp32 input's dtype).
    """
    h, kv, i = arch.hidden_size, arch.num_key_value_heads * arch.head_dim, _mlp_width_per_token(arch)
    q = arch.num_attention_heads * arch.head_dim
    norms = 2 * residual * h  # inputs of the two norms
    attention = residual * h + projection * (q + 2 * kv)  # attention input, q/k/v
    attention += projection * q + projection * q  # attention output (saved by the kernel), o-proj input
    mlp = residual * h + 4 * projection * i  # input, gate out, up out, activation, product
    dropped = 0.0
    if lora_dropout:  # peft stores each adapted module's dropped input (+ a 1-byte mask)
        dropped = (residual + 1) * (4 * h + q) + (projection + 1) * i
    return norms + attention + mlp + dropped


class MemoryModel(BaseModel):
    """Peak memory as ``fixed_bytes + per_sample_bytes x batch``, so the largest batch is one division."""

    model_config = ConfigDict(frozen=True)

    adapter: str
    parameters: int
    trainable_parameters: int
    sequence_tokens: int
    gradient_checkpointing: bool
    weights_bytes: float
    trainable_state_bytes: float
    reference_model_bytes: float
    overhead_bytes: float
    activation_bytes_per_sample: float
    activation_bytes_per_sample_other_mode: float = 0.0
    recompute_bytes_per_sample: float
    logits_bytes_per_sample: float

    @property
    def fixed_bytes(self) -> float:
        return self.weights_bytes + self.trainable_state_bytes + self.reference_model_bytes + self.overhead_bytes

    @property
    def per_sample_bytes(self) -> float:
        return self.activation_bytes_per_sample + self.recompute_bytes_per_sample + self.logits_bytes_per_sample

    def peak_gb(self, batch_size: int) -> float:
        return (self.fixed_bytes + self.per_sample_bytes * batch_size) / GB

    def max_batch_size(self, capacity_gb: float) -> int:
        """The largest batch that fits ``capacity_gb`` (0: not even one sample)."""
        free = capacity_gb * GB - self.fixed_bytes
        return max(0, math.floor(free / self.per_sample_bytes)) if free > 0 else 0

    def breakdown_gb(self, batch_size: int) -> dict[str, float]:
        """Each term of the peak, in GB, plus the activations the batch would need without checkpointing."""
        terms = {
            "weights": self.weights_bytes,
            "gradients_and_optimizer": self.trainable_state_bytes,
            "reference_model": self.reference_model_bytes,
            "activations": (self.activation_bytes_per_sample + self.recompute_bytes_per_sample) * batch_size,
            "logits": self.logits_bytes_per_sample * batch_size,
            "overhead": self.overhead_bytes,
        }
        out = {k: round(v / GB, 3) for k, v in terms.items() if v}
        key = "activations_without_checkpointing" if self.gradient_checkpointing else "activations_with_checkpointing"
        out[key] = round(self.activation_bytes_per_sample_other_mode * batch_size / GB, 3)
        return out


def memory_model(
    arch: Architecture,
    *,
    adapter: str,
    method: str = "sft",
    sequence_tokens: int,
    lora_r: int = 16,
    gradient_checkpointing: bool = True,
    master_weights: bool = True,
    qlora_fp32_upcast: bool = True,
    fused_lm_head: bool = True,
    lora_dropout: float = 0.0,
    shards: int = 1,
) -> MemoryModel:
    """The memory model of training ``arch`` with ``adapter`` ("full", "lora", "qlora") on rows of
    ``sequence_tokens`` (the longest padded example, or the packed row length).

    ``master_weights``: full fine-tuning keeps fp32 weights under bf16/fp16 autocast (16 bytes per
    parameter with AdamW); False: pure 16-bit weights and moments (8). ``qlora_fp32_upcast``: peft's
    ``prepare_model_for_kbit_training`` turns embeddings, LM head and norms into fp32. ``fused_lm_head``:
    TRL >= 1.16 never materialises the logits. ``shards``: FSDP / ZeRO-3 ranks that split weights, gradients
    and optimizer state (1 for DDP, where each rank holds everything).
    """
    parameters = arch.parameter_count()
    linear = arch.linear_parameters_per_layer * arch.num_layers
    residual, projection = BF16, BF16
    if adapter == "qlora":
        rest = FP32 if qlora_fp32_upcast else BF16
        weights = linear * NF4_DOUBLE_QUANT_BYTES + (parameters - linear) * rest
        if qlora_fp32_upcast:
            residual = projection = FP32  # the residual stream is fp32, and 4-bit layers return the input dtype
    elif adapter == "full" and master_weights:
        weights = parameters * FP32
        residual = FP32
    else:
        weights = parameters * BF16
    if adapter == "full":
        trainable = parameters
        state = parameters * (ADAMW_MIXED_PRECISION_BYTES if master_weights else BF16 * 3)
    else:
        trainable = lora_parameters(arch, lora_r)
        state = trainable * (QLORA_ADAPTER_STATE_BYTES if adapter == "qlora" else ADAPTER_STATE_BYTES)
    sequences = 2 if method == "dpo" else 1  # chosen and rejected
    reference = weights if (method == "dpo" and adapter == "full") else 0
    shards = max(1, shards)
    weights, state, reference = weights / shards, state / shards, reference / shards
    tokens = sequence_tokens * sequences
    per_token_layer = _activation_bytes_per_token_layer(
        arch, residual=residual, projection=projection, lora_dropout=adapter != "full" and lora_dropout > 0)
    full_layer = per_token_layer * tokens
    every_layer = full_layer * arch.num_layers
    kept_inputs = residual * arch.hidden_size * tokens * arch.num_layers
    if gradient_checkpointing:
        stored, recompute, other = kept_inputs, full_layer, every_layer
    else:
        stored, recompute, other = every_layer, 0.0, kept_inputs + full_layer
    if fused_lm_head:
        tile = FP32 * min(arch.vocab_size, FUSED_HEAD_VOCAB)
        logits = FUSED_HEAD_BYTES_PER_TOKEN * tokens + 2 * tile * min(tokens, FUSED_HEAD_TOKENS)
    else:
        logits = LOGIT_BYTES * arch.vocab_size * tokens
    return MemoryModel(
        adapter=adapter,
        parameters=parameters,
        trainable_parameters=trainable,
        sequence_tokens=sequence_tokens,
        gradient_checkpointing=gradient_checkpointing,
        weights_bytes=weights,
        trainable_state_bytes=state,
        reference_model_bytes=reference,
        overhead_bytes=OVERHEAD_BYTES,
        activation_bytes_per_sample=stored,
        activation_bytes_per_sample_other_mode=other,
        recompute_bytes_per_sample=recompute,
        logits_bytes_per_sample=logits,
    )


def training_flops_per_token(
    arch: Architecture, *, adapter: str, lora_r: int = 16, gradient_checkpointing: bool = True,
    mean_sequence_tokens: float = 0.0,
) -> tuple[float, str]:
    """FLOPs to train on one token, and how the figure was reached.

    Full: 6N (2N forward, 4N backward) plus attention, 12 x layers x hidden x mean sequence length.
    LoRA/QLoRA: the frozen weights need no weight gradients, so 4N (forward plus input gradients) plus 6 x
    adapter parameters. Gradient checkpointing recomputes the forward pass: +2N. For a mixture of experts N
    is the parameters one token uses (its experts), not the total.
    """
    n = arch.active_parameter_count()
    attention = 12 * arch.num_layers * arch.num_attention_heads * arch.head_dim * mean_sequence_tokens
    if adapter == "full":
        flops, rule = 6 * n + attention, "6N"
    else:
        flops, rule = 4 * n + 6 * lora_parameters(arch, lora_r) + attention, "4N + 6 x adapter parameters"
    if gradient_checkpointing:
        flops += 2 * n
        rule += " + 2N recomputation (gradient checkpointing)"
    if arch.is_moe:
        rule += f" (N = {n / 1e9:.2f}B active parameters of {arch.parameter_count() / 1e9:.2f}B)"
    return flops, f"{rule} + 12 x layers x hidden x mean sequence length (attention)"
