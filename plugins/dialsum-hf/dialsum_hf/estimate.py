"""How much memory training takes, before any weight is loaded (``run.gpu_check``).

Weights alone said "fits" for SOLAR-10.7B in 4 bits at batch 8 x ~1,100 tokens, where activations,
not weights, decide: a layer keeps about ``10 x hidden + 4 x intermediate`` values per token for
the backward pass (norm inputs and outputs, q/k/v, attention output, residuals, the MLP's gate, up
and product), and the loss keeps the logits over the vocabulary in float32 (the upcast and its
gradient). Gradient checkpointing keeps only each layer's input and recomputes one layer at a time.
The figures are estimates for the longest batch (batch size x the longest allowed sequence), with
the peak set by whichever of forward or backward is larger; they err on the high side, since real
batches are shorter than the limit.

Everything here is plain arithmetic on numbers, so it is tested without a model or a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

GIB = 1024**3
#: Bytes per trained parameter besides the weight itself: float32 gradient and Adam's two moments.
OPTIMIZER_BYTES = 4 + 8
#: A LoRA adapter's own weights are float32.
ADAPTER_BYTES = 4


@dataclass(frozen=True)
class Shape:
    """The sizes of a transformer that set its training memory."""

    parameters: int
    hidden: int
    layers: int
    intermediate: int
    vocab: int


@dataclass(frozen=True)
class Setting:
    """What the recipe chooses: precision, LoRA, batch, lengths, checkpointing."""

    bytes_per_param: float
    lora: bool
    batch_size: int
    seq_len: int
    lora_r: int = 16
    lora_modules_per_layer: int = 4
    gradient_checkpointing: bool = False
    gradient_accumulation_steps: int = 1
    activation_bytes: int = 2


@dataclass(frozen=True)
class Estimate:
    weights: float
    trainable: float
    activations: float
    logits: float

    @property
    def total(self) -> float:
        return self.weights + self.trainable + self.activations + self.logits


def trainable_parameters(shape: Shape, setting: Setting) -> int:
    """All of them, or a LoRA adapter's ``r x (in + out)`` per adapted square projection."""
    if not setting.lora:
        return shape.parameters
    return shape.layers * setting.lora_modules_per_layer * setting.lora_r * 2 * shape.hidden


def estimate(shape: Shape, setting: Setting) -> Estimate:
    """Bytes for weights, trained-parameter state (weights of adapters, gradients, Adam), activations, logits."""
    tokens = setting.batch_size * setting.seq_len
    trained = trainable_parameters(shape, setting)
    weights = shape.parameters * setting.bytes_per_param
    trainable = trained * (OPTIMIZER_BYTES + (ADAPTER_BYTES if setting.lora else 0))
    per_layer = tokens * (10 * shape.hidden + 4 * shape.intermediate) * setting.activation_bytes
    if setting.gradient_checkpointing:
        activations = shape.layers * tokens * shape.hidden * setting.activation_bytes + per_layer
    else:
        activations = shape.layers * per_layer
    logits = tokens * shape.vocab * (setting.activation_bytes + 4 + 4)
    return Estimate(weights=weights, trainable=trainable, activations=activations, logits=logits)


def suggestion(shape: Shape, setting: Setting, free: float, *, margin: float = 0.9) -> str | None:
    """The first change, least intrusive first, whose estimate fits in ``margin x free`` bytes;
    ``None`` when the setting fits as it is.

    Smaller batches keep the effective batch by raising gradient accumulation, so the optimisation
    is unchanged; 4-bit loading comes last because it changes the model (and needs LoRA).
    """
    budget = margin * free

    def fits(s: Setting) -> bool:
        return estimate(shape, s).total <= budget

    if fits(setting):
        return None
    if not setting.gradient_checkpointing and fits(replace(setting, gradient_checkpointing=True)):
        return "gradient_checkpointing = true"
    for checkpointing in (setting.gradient_checkpointing, True):
        size = setting.batch_size // 2
        while size >= 1:
            factor = setting.batch_size // size
            s = replace(setting, batch_size=size, gradient_checkpointing=checkpointing,
                        gradient_accumulation_steps=setting.gradient_accumulation_steps * factor)
            if fits(s):
                extra = "" if checkpointing == setting.gradient_checkpointing else ", gradient_checkpointing = true"
                return (f"train.batch_size = {size} with train.gradient_accumulation_steps = "
                        f"{s.gradient_accumulation_steps}{extra}")
            size //= 2
    if setting.bytes_per_param > 0.5:
        size = setting.batch_size
        while size >= 1:
            four = replace(setting, bytes_per_param=0.5, lora=True, gradient_checkpointing=True, batch_size=size,
                           gradient_accumulation_steps=setting.gradient_accumulation_steps
                           * (setting.batch_size // size))
            if fits(four):
                return (f"load_in_4bit = true with use_lora = true (QLoRA), gradient_checkpointing = true, "
                        f"train.batch_size = {size} with train.gradient_accumulation_steps = "
                        f"{four.gradient_accumulation_steps}")
            size //= 2
    return "nothing within reach: a smaller model, a shorter data.max_length, or a larger GPU"
