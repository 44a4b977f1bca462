import bot.rasa_speedups  # noqa: F401 - Rasa hot-path fixes, applied when Rasa loads our channels (see module)
