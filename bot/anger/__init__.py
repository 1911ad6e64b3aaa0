"""Anger detection without Rasa: cue lists (`cues`), training data reader (`data`) and the model (`model`)."""
