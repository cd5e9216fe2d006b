"""Whisper on a trimmed audio context: a 3 s answer encodes 3 s, not a 30 s padded window.

Whisper's ``AudioEncoder.forward`` asserts the full 1500-position (30 s) window, so every short
answer pays the full encoder cost (330 ms tiny.en, 850 ms base.en on 2 CPU threads). The encoder
itself works on any length: its convolutions are length-agnostic and its positional embedding is a
fixed sinusoid table we can slice. :func:`encode` is a forward of our own over the real model's
modules with the embedding sliced to the speech length — nothing in whisper is patched, so
``whisper.transcribe`` in the same process is unaffected. The decoder cross-attends to any number
of audio positions; :func:`decode_features` hands the trimmed features to whisper's own
``DecodingTask`` (greedy, logit filters, no-speech probability, prompt handling all unchanged)
through a subclass that skips its encoder call.

Accuracy note: published Whisper weights were trained on 30 s windows. Trimming the context is the
technique whisper.cpp exposes as ``--audio-ctx``; it keeps short, clean answers intact, but we
round the context up to whole seconds and keep a floor (:data:`MIN_CONTEXT_SECONDS`) so the model
never sees a context much shorter than the speech it holds.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from whisper.audio import HOP_LENGTH, N_FFT, N_FRAMES, SAMPLE_RATE, log_mel_spectrogram
from whisper.decoding import DecodingOptions, DecodingResult, DecodingTask, PyTorchInference
from whisper.model import AudioEncoder, TextDecoder, Whisper

HOP: int = HOP_LENGTH  # 160 samples (10 ms) per mel frame
FRAMES_PER_SECOND: int = SAMPLE_RATE // HOP_LENGTH  # 100
MAX_FRAMES: int = N_FRAMES  # 3000: the 30 s window
WINDOW: int = N_FFT
MIN_CONTEXT_SECONDS = 2.0
"""No answer is encoded with less than this much audio context."""
CONTEXT_STEP_SECONDS = 1.0
"""Contexts are rounded up to a multiple of this (speech + at least this much trailing silence)."""


def context_frames(
    n_samples: int,
    *,
    step_seconds: float = CONTEXT_STEP_SECONDS,
    min_seconds: float = MIN_CONTEXT_SECONDS,
) -> int:
    """Mel frames to encode for `n_samples` of 16 kHz audio: rounded up, floored, at most 30 s."""
    step = max(2, round(step_seconds * FRAMES_PER_SECOND))
    needed = math.ceil(n_samples / HOP)
    frames = max(math.ceil(needed / step) * step, round(min_seconds * FRAMES_PER_SECOND))
    frames += frames % 2  # the encoder's stride-2 convolution halves it
    return min(frames, MAX_FRAMES)


def log_mel(
    audio: npt.NDArray[np.float32], n_frames: int, *, n_mels: int, device: torch.device
) -> torch.Tensor:
    """Log-mel of `audio`, zero-padded to `n_frames` frames, shape ``(n_mels, n_frames)``.

    Equal, frame for frame, to the first `n_frames` of what ``whisper.transcribe`` computes on the
    same audio (it pads 30 s of zeros; zeros never raise the spectrogram's max, which whisper's
    normalisation is relative to).
    """
    samples = n_frames * HOP
    clip = torch.from_numpy(np.ascontiguousarray(audio[:samples], dtype=np.float32))
    padding = samples - clip.shape[0] + WINDOW
    mel: torch.Tensor = log_mel_spectrogram(clip, n_mels, padding=padding, device=device)
    return mel[:, :n_frames]


def encode(encoder: AudioEncoder, mel: torch.Tensor) -> torch.Tensor:
    """``AudioEncoder.forward`` without the 30 s assert: positional embedding sliced to the input.

    `mel` is ``(batch, n_mels, frames)`` with even ``frames <= 3000``; the result is
    ``(batch, frames // 2, n_state)``. With 3000 frames it equals ``encoder(mel)``.
    """
    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x))
    x = x.permute(0, 2, 1)
    positions = encoder.get_buffer("positional_embedding")
    if x.shape[1] > positions.shape[0]:
        raise ValueError(f"audio context {x.shape[1]} exceeds the model's {positions.shape[0]}")
    x = (x + positions[: x.shape[1]]).to(x.dtype)
    for block in encoder.blocks:
        x = block(x)
    out: torch.Tensor = encoder.ln_post(x)
    return out


def _decoder_hidden(
    decoder: TextDecoder, tokens: torch.Tensor, xa: torch.Tensor, kv_cache: dict[Any, torch.Tensor]
) -> torch.Tensor:
    """``TextDecoder.forward`` up to (not including) the projection onto the vocabulary."""
    offset = next(iter(kv_cache.values())).shape[1] if kv_cache else 0
    x = decoder.token_embedding(tokens)
    x = x + decoder.positional_embedding[offset : offset + tokens.shape[-1]]
    x = x.to(xa.dtype)
    for block in decoder.blocks:
        x = block(x, xa, mask=decoder.mask, kv_cache=kv_cache)
    out: torch.Tensor = decoder.ln(x)
    return out


class _SelectiveInference(PyTorchInference):  # type: ignore[misc,unused-ignore]
    """Whisper's kv-cached inference, projecting onto the vocabulary only the rows that are read.

    The first forward pass runs the whole prompt (the domain prompt is ~130 tokens) and stock
    whisper turns every position into 51,864 logits, ~100 ms on 2 CPU threads, although
    ``DecodingTask._main_loop`` reads only two rows: ``sot_index`` (the no-speech probability)
    and the last (the first sampled token). Here only those two are computed; the other rows of
    the returned tensor are left unset and are never read. ``tests/scoring`` checks the results
    match stock decoding token for token.
    """

    kv_cache: dict[Any, torch.Tensor]
    hooks: list[Any]

    def __init__(
        self,
        model: Whisper,
        initial_token_length: int,
        sot_index: int,
        projection: torch.Tensor | None,
    ) -> None:
        super().__init__(model, initial_token_length)
        self.sot_index = sot_index
        self.projection = projection

    def logits(self, tokens: torch.Tensor, audio_features: torch.Tensor) -> torch.Tensor:
        if not self.kv_cache:
            self.kv_cache, self.hooks = self.model.install_kv_cache_hooks()
        first = tokens.shape[-1] <= self.initial_token_length
        if not first:
            tokens = tokens[:, -1:]
        hidden = _decoder_hidden(self.model.decoder, tokens, audio_features, self.kv_cache)
        weight = self.projection
        if weight is None:
            weight = self.model.decoder.token_embedding.weight.to(hidden.dtype)
        hidden = hidden.to(weight.dtype)
        if not first or hidden.shape[1] <= 2:
            return (hidden @ weight.T).float()
        rows = [self.sot_index, hidden.shape[1] - 1]
        picked = (hidden[:, rows] @ weight.T).float()
        logits = picked.new_empty((hidden.shape[0], hidden.shape[1], weight.shape[0]))
        logits[:, rows] = picked
        return logits


class _PrecomputedFeaturesTask(DecodingTask):  # type: ignore[misc,unused-ignore]
    """whisper's decoding task, fed audio features of any length instead of a 30 s mel.

    ``DecodingTask`` only skips its encoder when the input is exactly ``(1500, n_state)``.
    """

    def __init__(
        self, model: Whisper, options: DecodingOptions, projection: torch.Tensor | None
    ) -> None:
        super().__init__(model, options)
        self.inference = _SelectiveInference(
            model, len(self.initial_tokens), self.sot_index, projection
        )

    def _get_audio_features(self, mel: torch.Tensor) -> torch.Tensor:
        wanted = torch.float16 if self.options.fp16 else torch.float32
        return mel.to(wanted)


def decode_features(
    model: Whisper,
    features: torch.Tensor,
    options: DecodingOptions,
    *,
    projection: torch.Tensor | None = None,
) -> list[DecodingResult]:
    """Run whisper's decoding (greedy or beam, logit filters, prompt) on encoded features.

    `projection` is the vocabulary projection weight to use (see :func:`projection_weight`);
    ``None`` uses the model's own embedding in the features' dtype, as whisper does.
    """
    return list(_PrecomputedFeaturesTask(model, options, projection).run(features))


def projection_weight(model: Whisper, dtype: torch.dtype) -> torch.Tensor:
    """The token embedding (tied output projection) in `dtype`, converted once per model.

    Each decoded token multiplies the hidden state by this 51,864-row matrix: half the per-token
    cost on CPU (memory-bound, ~6 ms tiny.en / ~7 ms base.en in float32). Where the CPU has fast
    half-precision matrix kernels, float16 halves the bytes read and is lossless for the weights:
    OpenAI publishes the checkpoints in float16.
    """
    weight: torch.Tensor = model.decoder.token_embedding.weight
    return weight.detach().to(dtype).contiguous()


def fastest_projection_dtype(model: Whisper, *, rounds: int = 9, calls: int = 8) -> torch.dtype:
    """float16 if its vocabulary projection is at least 1.3x faster here than float32, else float32.

    Measured, not guessed from CPU flags: CPUs with AVX512-FP16/AMX run it 2-3x faster, older
    ones emulate half precision and run it many times slower. Rounds alternate between the two
    and the fastest round of each counts, so a busy neighbour process does not decide it.
    """
    device = model.decoder.token_embedding.weight.device
    if device.type != "cpu":
        return torch.float16
    weights = {dtype: projection_weight(model, dtype) for dtype in (torch.float32, torch.float16)}
    best = dict.fromkeys(weights, math.inf)
    with torch.inference_mode():
        for weight in weights.values():  # first calls pay for allocation and kernel selection
            (torch.zeros((1, 1, weight.shape[1]), dtype=weight.dtype) @ weight.T).float()
        for _ in range(rounds):
            for dtype, weight in weights.items():
                x = torch.zeros((1, 1, weight.shape[1]), dtype=dtype)
                started = time.perf_counter()
                for _ in range(calls):
                    (x @ weight.T).float()
                best[dtype] = min(best[dtype], time.perf_counter() - started)
    return torch.float16 if best[torch.float16] * 1.3 < best[torch.float32] else torch.float32
