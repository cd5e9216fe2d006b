"""Generated Whisper checkpoints for tests and benchmarks, built by command, never committed.

No model hub is reachable from development and CI machines, so the real ``whisper.load_model(path)``
code path is exercised with checkpoints made here: the real ``ModelDimensions``/``Whisper``
architecture with random weights (same compute cost as the published model of that size), and a
*scripted* variant whose decoder emits a chosen sentence for any audio, which lets tests assert
exact text end to end.

The scripted trick: every decoder block's output projections (``attn.out``, ``cross_attn.out``,
``mlp[2]``) are zeroed, so the decoder's hidden state at position p is just token embedding +
positional embedding. Setting the positional embedding at p to a large multiple of the embedding of
the token that must come next makes greedy argmax (the output projection is tied to the token
embedding) emit that token. One script serves both decoding modes:

* position ``s`` (the ``<|startoftranscript|>`` position) → ``<|0.00|>`` (or a mix with
  ``<|nospeech|>`` when ``no_speech=True``, which sets a high ``no_speech_prob``);
* ``s+1 … s+n`` → the sentence's tokens, ``s+n+1`` → ``<|end|>`` timestamp, ``s+n+2`` → EOT.

With timestamps (``whisper.transcribe``) the model reads ``<|0.00|>`` at ``s+1`` and emits
``<|0.00|> text <|end|>``, one segment. Without timestamps (the trimmed-context answer path)
``<|notimestamps|>`` sits at ``s+1``; the model emits ``text <|end|>`` and the tokenizer drops the
timestamp from the text — so both paths return exactly the sentence. The script is positional, so
it must know how many prompt tokens precede ``<|startoftranscript|>``: pass the same
``initial_prompt`` the transcriber will send (``None`` for none).

Command line (reproducible; nothing downloaded)::

    python -m scoring.whisper_checkpoints random models/whisper/tiny-random.pt --size tiny
    python -m scoring.whisper_checkpoints scripted models/whisper/scripted.pt \
        --sentence "I want to refinance." --size test
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from whisper.model import ModelDimensions, Whisper
from whisper.tokenizer import Tokenizer, get_tokenizer

Size = Literal["tiny", "base", "test"]

# (width, heads, layers) of the published English-only models; "test" is a 7 MB stand-in.
_SHAPES: dict[str, tuple[int, int, int]] = {
    "tiny": (384, 6, 4),
    "base": (512, 8, 6),
    "test": (64, 1, 1),
}
SCRIPT_SCALE = 30.0
"""Multiple of the next token's embedding written into a positional embedding (see module doc)."""


def dimensions(size: Size) -> ModelDimensions:
    """The real code path's dimensions (80 mels, 30 s audio context, English-only vocabulary)."""
    width, heads, layers = _SHAPES[size]
    return ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=width,
        n_audio_head=heads,
        n_audio_layer=layers,
        n_vocab=51864,
        n_text_ctx=448,
        n_text_state=width,
        n_text_head=heads,
        n_text_layer=layers,
    )


def _random_model(size: Size, seed: int) -> Whisper:
    torch.manual_seed(seed)
    model = Whisper(dimensions(size))
    # Created with torch.empty: left alone, decoding yields NaN logits.
    with torch.no_grad():
        model.decoder.positional_embedding.normal_(0.0, 0.01)
    return model


def _save(model: Whisper, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # dims as a plain dict: load_model reads with weights_only=True. Weights in float16, as
    # OpenAI publishes them (load_state_dict converts back to the model's float32).
    state = {
        key: value.half() if value.is_floating_point() else value
        for key, value in model.state_dict().items()
    }
    torch.save({"dims": dataclasses.asdict(model.dims), "model_state_dict": state}, path)
    return path


def build_random_checkpoint(path: str | Path, size: Size = "tiny", *, seed: int = 0) -> Path:
    """Write a randomly initialised Whisper of `size`; loadable by ``whisper.load_model(path)``."""
    return _save(_random_model(size, seed), Path(path))


def english_tokenizer() -> Tokenizer:
    """The tokenizer ``.en`` checkpoints (n_vocab 51864) use; read from whisper's own assets."""
    # num_languages as Whisper.num_languages computes it (n_vocab - 51765): it fixes the ids of
    # every special token, timestamps included.
    return get_tokenizer(multilingual=False, num_languages=51864 - 51765)


def prompt_length(initial_prompt: str | None, tokenizer: Tokenizer | None = None) -> int:
    """Tokens before ``<|startoftranscript|>``: ``<|startofprev|>`` + prompt, as decoding does."""
    if not initial_prompt:
        return 0
    tok = tokenizer or english_tokenizer()
    return 1 + len(tok.encoding.encode(" " + initial_prompt.strip())[-(448 // 2 - 1) :])


def script_tokens(
    sentence: str, *, end_seconds: float = 1.0, tokenizer: Tokenizer | None = None
) -> list[int]:
    """The tokens the scripted decoder emits after ``<|startoftranscript|>``, EOT included."""
    tok = tokenizer or english_tokenizer()
    if not sentence.strip():
        raise ValueError("the scripted sentence is empty")
    words = tok.encoding.encode(" " + sentence.strip())
    suppressed = set(tok.non_speech_tokens)
    if bad := [tok.decode([t]) for t in words if t in suppressed]:
        raise ValueError(f"decoding suppresses these pieces of the sentence: {bad}")
    end_index = round(end_seconds / 0.02)
    if not 1 <= end_index <= 1500:
        raise ValueError("end_seconds must lie in (0, 30]")
    return [tok.timestamp_begin, *words, tok.timestamp_begin + end_index, tok.eot]


def build_scripted_checkpoint(
    path: str | Path,
    sentence: str,
    *,
    size: Size = "test",
    initial_prompt: str | None = None,
    end_seconds: float = 1.0,
    no_speech: bool = False,
    seed: int = 0,
) -> Path:
    """Write a checkpoint whose greedy decoding returns `sentence` for any audio.

    `initial_prompt` must be the prompt the caller will decode with (it shifts positions).
    `end_seconds` is the end timestamp of the one segment ``whisper.transcribe`` reports
    (relative to the decoded window's start). `no_speech=True` also makes ``no_speech_prob``
    high (> 0.9), to exercise the "drop high no-speech segments" rule.
    """
    tok = english_tokenizer()
    script = script_tokens(sentence, end_seconds=end_seconds, tokenizer=tok)
    start = prompt_length(initial_prompt, tok)
    model = _random_model(size, seed)
    dec = model.decoder
    if start + len(script) > dec.positional_embedding.shape[0]:
        raise ValueError("prompt plus sentence do not fit the decoder's 448 positions")
    with torch.no_grad():
        for block in dec.blocks:
            projections: list[nn.Module] = [block.attn.out, block.mlp[2]]
            if block.cross_attn is not None:
                projections.append(block.cross_attn.out)
            for linear in projections:
                for parameter in linear.parameters():
                    parameter.zero_()
        emb = dec.token_embedding.weight
        for offset, token in enumerate(script):
            dec.positional_embedding[start + offset] = SCRIPT_SCALE * emb[token]
        if no_speech:
            dec.positional_embedding[start] = (
                SCRIPT_SCALE * emb[tok.no_speech] + (SCRIPT_SCALE * 0.9) * emb[tok.timestamp_begin]
            )
    return _save(model, Path(path))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m scoring.whisper_checkpoints {random,scripted} PATH …``."""
    parser = argparse.ArgumentParser(prog="python -m scoring.whisper_checkpoints")
    sub = parser.add_subparsers(dest="kind", required=True)
    rnd = sub.add_parser("random", help="random weights, real architecture")
    rnd.add_argument("path", type=Path)
    rnd.add_argument("--size", choices=sorted(_SHAPES), default="tiny")
    scr = sub.add_parser("scripted", help="decodes one chosen sentence for any audio")
    scr.add_argument("path", type=Path)
    scr.add_argument("--sentence", required=True)
    scr.add_argument("--size", choices=sorted(_SHAPES), default="test")
    scr.add_argument("--initial-prompt", default=None)
    scr.add_argument("--end-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.kind == "random":
        out = build_random_checkpoint(args.path, args.size)
    else:
        out = build_scripted_checkpoint(
            args.path,
            args.sentence,
            size=args.size,
            initial_prompt=args.initial_prompt,
            end_seconds=args.end_seconds,
        )
    print(out)


if __name__ == "__main__":
    main()
