from bot import rasa_resilience, rasa_speedups  # noqa: F401 - Rasa 3.6.21 fixes applied when Rasa loads our channels
