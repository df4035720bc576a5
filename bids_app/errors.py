"""Exceptions whose message is the one line a user sees."""


class FnirsGlmError(Exception):
    """A problem the user can fix; its message names the file or option and what is wrong."""


class UsageError(FnirsGlmError):
    """Invalid command line, configuration or input dataset: nothing is processed (exit 2)."""

    exit_code = 2


class RecordingError(FnirsGlmError):
    """One recording cannot be analysed; the other recordings are still processed (exit 1)."""

    exit_code = 1


class OutputError(FnirsGlmError):
    """An output cannot be written (no space left, no permission): the message names the output path."""

    exit_code = 1
