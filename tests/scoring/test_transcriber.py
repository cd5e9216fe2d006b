"""End to end through the real ``whisper.load_model``: answers and two-channel recordings."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import whisper
from whisper.transcribe import transcribe as whisper_transcribe

from scoring.audio import from_mulaw, load_mono, mulaw_encode, resample, write_wav
from scoring.transcriber import Transcriber, TranscriberConfig
from scoring.transcripts import DOMAIN_PROMPT, LOAN_TYPE_PROMPT, AnswerTranscript
from scoring.whisper_checkpoints import build_scripted_checkpoint
from tests.scoring.conftest import RATE, SENTENCE, noise

pytestmark = [pytest.mark.models, pytest.mark.usefixtures("fresh_cache")]


@pytest.fixture
def transcriber(scripted_domain: Path) -> Transcriber:
    return Transcriber.load(scripted_domain)


def test_an4_answer_is_the_scripted_sentence(transcriber: Transcriber, an4_wav: Path) -> None:
    answer = transcriber.transcribe_answer(an4_wav)
    assert answer.text == SENTENCE
    assert answer.speech_seconds == pytest.approx(3.86, abs=0.02)
    assert answer.no_speech_prob < 1e-6
    assert answer.confidence > 0.99
    assert 0.0 < answer.elapsed_seconds < 5.0
    assert transcriber.stats.encoder_passes == transcriber.stats.decoder_runs == 1


def test_phone_audio_in_every_form(transcriber: Transcriber, fsdd_wav: Path, an4_wav: Path) -> None:
    phone_8k = resample(load_mono(an4_wav), RATE, 8_000)
    mulaw = mulaw_encode(phone_8k)
    forms = [
        transcriber.transcribe_answer(fsdd_wav),  # 8 kHz PCM WAV file
        transcriber.transcribe_answer(fsdd_wav.read_bytes()),  # its bytes
        transcriber.transcribe_answer(phone_8k, sample_rate=8_000),  # an 8 kHz array
        transcriber.transcribe_answer(from_mulaw(mulaw)),  # raw μ-law, decoded
    ]
    assert [answer.text for answer in forms] == [SENTENCE] * 4


def test_silence_and_noise_never_reach_the_decoder(transcriber: Transcriber) -> None:
    silent = [np.zeros(3 * RATE, np.float32), noise(3, -30), noise(2, -12, seed=3)]
    answers = transcriber.transcribe_answers(silent)
    assert answers == [
        AnswerTranscript("", -math.inf, 1.0, 0.0, answer.elapsed_seconds) for answer in answers
    ]
    assert [answer.confidence for answer in answers] == [0.0, 0.0, 0.0]
    assert all(answer.elapsed_seconds < 0.5 for answer in answers)
    stats = transcriber.stats
    assert (stats.answers, stats.gated_silent, stats.encoder_passes, stats.decoder_runs) == (
        3,
        3,
        0,
        0,
    )


def test_answers_given_together_are_decoded_in_one_batch(
    transcriber: Transcriber, an4_wav: Path, fsdd_wav: Path
) -> None:
    answers = transcriber.transcribe_answers([an4_wav, np.zeros(RATE, np.float32), fsdd_wav])
    assert [answer.text for answer in answers] == [SENTENCE, "", SENTENCE]
    assert answers[0].elapsed_seconds == answers[2].elapsed_seconds
    assert (transcriber.stats.encoder_passes, transcriber.stats.decoder_runs) == (1, 1)


def test_trimmed_context_gives_vanilla_transcribes_text(
    scripted_plain: Path, an4_clips: list[np.ndarray]
) -> None:
    ours = Transcriber.load(scripted_plain, TranscriberConfig(initial_prompt=None))
    full = Transcriber(ours.loaded, TranscriberConfig(initial_prompt=None, trim_context=False))
    model = whisper.load_model(str(scripted_plain), device="cpu")
    for clip in an4_clips[:3]:
        vanilla = whisper_transcribe(model, clip, temperature=0, fp16=False)["text"].strip()
        assert vanilla == ours.transcribe_answer(clip).text == full.transcribe_answer(clip).text
        assert vanilla == SENTENCE


def test_prompt_is_configurable_per_call(checkpoints: Path, an4_wav: Path) -> None:
    """The script sits after the prompt: only the prompt it was built for yields the sentence."""
    path = build_scripted_checkpoint(
        checkpoints / "scripted-loan.pt", "Cash out refinance.", initial_prompt=LOAN_TYPE_PROMPT
    )
    transcriber = Transcriber.load(path)
    assert transcriber.config.initial_prompt == DOMAIN_PROMPT
    asked = transcriber.transcribe_answer(an4_wav, initial_prompt=LOAN_TYPE_PROMPT)
    assert asked.text == "Cash out refinance."
    assert transcriber.transcribe_answer(an4_wav).text != "Cash out refinance."
    assert transcriber.transcribe_answer(an4_wav, initial_prompt="").text != "Cash out refinance."


def test_high_no_speech_probability_drops_the_text(checkpoints: Path, an4_wav: Path) -> None:
    path = build_scripted_checkpoint(
        checkpoints / "scripted-nospeech.pt", SENTENCE, initial_prompt=DOMAIN_PROMPT, no_speech=True
    )
    transcriber = Transcriber.load(path)
    answer = transcriber.transcribe_answer(an4_wav)
    assert answer.no_speech_prob > 0.9
    assert answer.text == ""
    assert answer.confidence == 0.0
    assert transcriber.stats.decoder_runs == 1  # Whisper ran; its verdict dropped the text
    kept = Transcriber(transcriber.loaded, TranscriberConfig(no_speech_threshold=1.0))
    assert kept.transcribe_answer(an4_wav).text == SENTENCE


def _two_party_call(clips: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """60 s, caller on channel 0 and officer on 1, taking turns with 2.5 s between them."""
    channels = np.zeros((2, 60 * RATE), np.float32)
    placed: list[tuple[str, float]] = []
    at = 1.0
    for turn, clip in enumerate(clips):
        if at + clip.shape[0] / RATE > 59.0:
            break
        start = round(at * RATE)
        channels[turn % 2, start : start + clip.shape[0]] += clip
        placed.append((("caller", "officer")[turn % 2], at))
        at += clip.shape[0] / RATE + 2.5
    channels += noise(60, -60).reshape(1, -1)
    return channels, placed


def test_recording_segments_are_labelled_timed_and_merged(
    transcriber: Transcriber, an4_clips: list[np.ndarray]
) -> None:
    channels, placed = _two_party_call(an4_clips)
    segments = transcriber.transcribe_recording(channels)
    assert len(placed) == 10
    assert [s.speaker for s in segments] == [speaker for speaker, _ in placed]
    assert [s.text for s in segments] == [SENTENCE] * len(placed)
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    for segment, (_, at) in zip(segments, placed, strict=True):
        # Decoding starts where the VAD found speech: inside the placed utterance (AN4 clips open
        # with up to ~0.6 s of silence), at most the 0.25 s pad before it.
        assert at - 0.25 <= segment.start <= at + 0.8
        assert segment.end == pytest.approx(segment.start + 1.0, abs=0.02)  # scripted <|1.00|>
        assert segment.no_speech_prob < 1e-6
    assert segments[0].start == pytest.approx(1.0 + 0.14 - 0.1, abs=0.03)


def test_recording_file_with_a_silent_officer(transcriber: Transcriber, an4_wav: Path) -> None:
    caller = load_mono(an4_wav)
    stereo = np.zeros((8 * RATE, 2), np.float32)
    stereo[2 * RATE : 2 * RATE + caller.shape[0], 0] = caller
    recording = write_wav(stereo, RATE)
    segments = transcriber.transcribe_recording(recording, speakers=("borrower", "agent"))
    assert [(s.speaker, s.text) for s in segments] == [("borrower", SENTENCE)]
    assert segments[0].start == pytest.approx(2.0 + 0.14 - 0.1, abs=0.03)
    assert transcriber.stats.decoder_runs == 1  # the silent channel was never decoded


def test_more_channels_than_speakers_is_refused(transcriber: Transcriber) -> None:
    with pytest.raises(ValueError, match="3 channels but only 2 speaker labels"):
        transcriber.transcribe_recording(np.zeros((3, RATE), np.float32))


def test_an_answer_over_29_seconds_goes_long_form(
    transcriber: Transcriber, an4_clips: list[np.ndarray]
) -> None:
    gap = np.zeros(RATE // 2, np.float32)
    rambling = np.concatenate([part for clip in an4_clips[:11] for part in (clip, gap)])
    assert rambling.shape[0] / RATE > 35.0
    answer = transcriber.transcribe_answer(rambling)
    # One clip of continuous speech, decoded in two 30 s windows, one scripted segment each.
    assert answer.text == f"{SENTENCE} {SENTENCE}"
    assert answer.speech_seconds > 30.0
    assert (transcriber.stats.encoder_passes, transcriber.stats.decoder_runs) == (0, 1)


def test_special_tokens_never_reach_the_answer_text(random_test: Path, an4_wav: Path) -> None:
    # Random weights emit <|notimestamps|> and the like: none of it is something a caller said.
    transcriber = Transcriber.load(random_test)
    answer = transcriber.transcribe_answer(an4_wav.read_bytes(), initial_prompt="")
    assert "<|" not in answer.text
