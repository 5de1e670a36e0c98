"""The one exception type for bad user input.

`vst.main` turns a ConfigError into a single line on stderr and exit code 2, so
every check that can blame a config field, a file or a shape raises this.
"""


class ConfigError(ValueError):
  """A config value, file or shape that cannot work; the message names it."""


def check_choice(field: str, value, allowed) -> None:
  """Raises ConfigError unless `value` is one of `allowed`."""
  allowed = list(allowed)
  if value not in allowed:
    raise ConfigError(
        f"{field}={value!r} is not valid; allowed: {', '.join(map(str, allowed))}")
