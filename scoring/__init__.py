"""Voice AI scoring: Whisper transcription, the intent classifier and its training."""
