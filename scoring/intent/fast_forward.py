"""The fastest faithful forward pass on this CPU, chosen once when the classifier loads.

For a short answer most of an eager forward pass is Python dispatch, and on CPUs with bfloat16
instructions the matrix products run about twice as fast in bfloat16 as in float32. So at load:

1. the model is traced with TorchScript, and the trace must match the eager model (float32,
   within 1e-4 on the logits) on texts of several lengths and on a padded batch;
2. a bfloat16 variant (autocast: matrix products in bfloat16, norms and softmax in float32) must
   stay within :data:`BFLOAT16_TOLERANCE` of the float32 logits on the same texts;
3. with ``precision="auto"`` bfloat16 is used when the CPU has native bfloat16 instructions
   (AVX512-BF16 or AMX) and the variant passed; else float32. Decided from the CPU's features,
   not by timing at load, which a busy neighbour can flip for the life of the process. Any
   failure falls back to the eager float32 model.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from scoring.intent.base_model import quiet_transformers
from scoring.intent.encoding import encode

log = logging.getLogger(__name__)

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Precision = Literal["auto", "float32", "bfloat16"]

TRACE_TOLERANCE = 1e-4
BFLOAT16_TOLERANCE = 0.1
"""Logit units: a probability moves by at most about 2.5 % at this gap."""
PROBES = (
    "hello",
    "i want a quote on a thirty year fixed refinance",
    "my mom got a letter about her reverse mortgage and the escrow and she does not know if she "
    "has to pay it or the lender does",
)


@dataclass(frozen=True)
class ForwardPass:
    """(token ids, attention mask) → logits, and how it runs (for logs and benchmarks)."""

    run: Forward
    name: str


def eager(model: Any) -> ForwardPass:
    def run(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = model(input_ids=ids, attention_mask=mask).logits
        return logits

    return ForwardPass(run, "eager float32")


def choose_forward(
    model: Any, tokenizer: Any, max_tokens: int, precision: Precision = "auto", trace: bool = True
) -> ForwardPass:
    """The forward pass to serve with: see the module docstring."""
    reference = eager(model)
    batches = [encode(tokenizer, texts, max_tokens) for texts in _probe_batches()]
    if precision == "auto":
        wanted = ("bfloat16", "float32") if native_bfloat16() else ("float32",)
    else:
        wanted = (precision,)
    with torch.inference_mode(), warnings.catch_warnings(), quiet_transformers():
        warnings.simplefilter("ignore")  # tracer notes about the Python branches it froze
        for dtype in wanted:
            candidate = _build(model, batches[1], dtype, trace)
            tolerance = TRACE_TOLERANCE if dtype == "float32" else BFLOAT16_TOLERANCE
            if candidate is not None and _agrees(candidate, reference, batches, tolerance):
                log.info("intent model forward pass: %s", candidate.name)
                return candidate
    return reference


def _probe_batches() -> list[list[str]]:
    return [[text] for text in PROBES] + [list(PROBES)]


def _build(model: Any, example: Any, dtype: str, trace: bool) -> ForwardPass | None:
    autocast = dtype == "bfloat16"
    try:
        if trace:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                    model, (example["input_ids"], example["attention_mask"]), strict=False
                )

            def call(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                logits: torch.Tensor = traced(ids, mask)["logits"]
                return logits

        else:

            def call(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                logits: torch.Tensor = model(input_ids=ids, attention_mask=mask).logits
                return logits

    except Exception:  # an optimisation only: any failure leaves the eager model
        log.warning("intent model could not be traced", exc_info=True)
        return None

    def run(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            return call(ids, mask).float()

    return ForwardPass(run, f"{'traced' if trace else 'eager'} {dtype}")


def _agrees(
    candidate: ForwardPass, reference: ForwardPass, batches: Sequence[Any], tolerance: float
) -> bool:
    for batch in batches:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        gap = (candidate.run(ids, mask) - reference.run(ids, mask)).abs().max().item()
        if gap > tolerance:
            log.warning("intent forward pass %s is off by %.4f; not used", candidate.name, gap)
            return False
    return True


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (else bfloat16 is emulated, and slow)."""
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
