"""What transcription returns, and the domain prompts that steer Whisper's spelling.

Results are small frozen dataclasses so they cross process boundaries (pickle, a Redis stream
payload via ``dataclasses.asdict``) without dragging tensors along.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LOAN_TYPE_PROMPT = (
    "Refinance, cash-out refinance, purchase, HELOC, home equity line of credit, "
    "reverse mortgage, FHA, VA, USDA, conventional, jumbo."
)
STATE_PROMPT = (
    "Alabama, Alaska, Arizona, Arkansas, California, Colorado, Connecticut, Delaware, "
    "District of Columbia, D.C., Florida, Georgia, Hawaii, Idaho, Illinois, Indiana, Iowa, "
    "Kansas, Kentucky, Louisiana, Maine, Maryland, Massachusetts, Michigan, Minnesota, "
    "Mississippi, Missouri, Montana, Nebraska, Nevada, New Hampshire, New Jersey, New Mexico, "
    "New York, North Carolina, North Dakota, Ohio, Oklahoma, Oregon, Pennsylvania, Rhode Island, "
    "South Carolina, South Dakota, Tennessee, Texas, Utah, Vermont, Virginia, Washington, "
    "West Virginia, Wisconsin, Wyoming."
)
CREDIT_PROMPT = "Excellent, good, fair, poor credit. My score is about 720."
DOMAIN_PROMPT = f"Mortgage call. {LOAN_TYPE_PROMPT} {CREDIT_PROMPT} {STATE_PROMPT}"
"""The default ``initial_prompt``: every word the questions expect (~170 tokens).

A per-question prompt (``LOAN_TYPE_PROMPT`` for the loan-type question, …) is shorter, so a little
faster, and biases Whisper only toward the words that question can get."""


@dataclass(frozen=True)
class AnswerTranscript:
    """One spoken answer.

    `text` is empty when no speech was found (the VAD gated it: the decoder never ran, and
    `no_speech_prob` is 1.0, `avg_logprob` is -inf) or when Whisper judged it not speech
    (`no_speech_prob` above the threshold). `speech_seconds` is the speech the VAD found;
    `elapsed_seconds` is wall time for the whole call (shared by answers decoded in one batch).
    """

    text: str
    avg_logprob: float
    no_speech_prob: float
    speech_seconds: float
    elapsed_seconds: float

    @property
    def confidence(self) -> float:
        """exp(avg_logprob): the geometric-mean probability of the decoded tokens, in [0, 1].

        0 for an empty answer. Above ~0.6 Whisper is usually right on short answers; below ~0.3
        re-prompt or fall back to the keypad. (Whisper's own retry threshold, avg_logprob -1.0,
        is confidence 0.37.)
        """
        if not self.text:
            return 0.0
        return math.exp(self.avg_logprob)


@dataclass(frozen=True)
class Segment:
    """A stretch of a call recording: who spoke, when (seconds from the start), and what."""

    speaker: str
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
