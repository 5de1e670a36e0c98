"""What every vst command line shares.

Tools other than `vst.main` define their flags on their own `FlagValues`
(`new_flag_values`), so that any number of them can be imported in one
process (tests, notebooks) without absl's duplicate-flag error, and run
in-process as `tool.main(argv)`.
"""

import re
import sys

from absl import flags


def parse_flags(argv, flag_values: flags.FlagValues | None = None):
  """absl flag parsing whose every failure is one line, not a traceback.

  A typo in an override (`--config.train.num_step=5`) surfaces from
  ml_collections as a KeyError/AttributeError deep inside absl. Returns the
  positional arguments (argv[0] first); exits with status 2 on bad flags.
  """
  try:
    return (flag_values or flags.FLAGS)(argv)
  except Exception as e:  # pylint: disable=broad-except
    message = str(e).strip("'\"").replace("\\n", " ").replace("\n", " ")
    message = message.replace("\\'", "'").replace('\\"', '"')
    override = _override_named_in(message, argv[1:]) if isinstance(
        e, (KeyError, AttributeError)) else None
    where = f"{override}: no such config field; " if override else ""
    print(f"error: {where}{message}", file=sys.stderr)
    sys.exit(2)


def _override_named_in(message: str, args) -> str | None:
  """The `--config.a.b` override that an ml_collections error is about.

  The message quotes the bad key first and may suggest a valid one after it
  ('nmu_steps' Did you mean "num_steps" ...), so the first quoted key decides;
  a bare mention is the fallback.
  """
  overrides = [a.split("=")[0] for a in args if a.startswith("--config.")]
  quoted = re.findall(r"['\"]([A-Za-z0-9_]+)['\"]", message)
  for key in quoted[:1]:
    for override in overrides:
      if override.rsplit(".", 1)[-1] == key:
        return override
  return next((o for o in overrides if o.rsplit(".", 1)[-1] in message), None)


def new_flag_values(argv, *, config_help: str, workdir_help: str):
  """A FlagValues with the --config (a locked configs/*.py, with
  --config.a.b=v overrides) and --workdir flags every tool takes, for parsing
  `argv` (ml_collections finds the overrides to define in it)."""
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", None, config_help,
                                  flag_values=flag_values, lock_config=True,
                                  sys_argv=list(argv))
  flags.DEFINE_string("workdir", None, workdir_help, flag_values=flag_values)
  return flag_values


def summary_line(summary: dict) -> str:
  """A run's result dict as the one `key=value` line commands print last."""
  return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                  for k, v in summary.items())
