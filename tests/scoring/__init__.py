"""Transcription: audio decoding, VAD, the trimmed-context Whisper path, generated checkpoints."""
