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


def define_distributed_flags(flag_values: flags.FlagValues | None = None):
  """--multihost and the explicit coordinator flags every command takes."""
  fv = flag_values if flag_values is not None else flags.FLAGS
  flags.DEFINE_bool("multihost", False,
                    "Join a multi-process run (jax.distributed.initialize) "
                    "before anything else.", flag_values=fv)
  flags.DEFINE_string("coordinator_address", None,
                      "HOST:PORT of process 0's coordinator (with "
                      "--multihost). Unset: found from the cluster (TPU "
                      "metadata, SLURM, Open MPI, Kubernetes).", flag_values=fv)
  flags.DEFINE_integer("num_processes", None, "Processes in the run (with "
                       "--coordinator_address).", flag_values=fv)
  flags.DEFINE_integer("process_id", None, "This process's index, 0 to "
                       "num_processes - 1 (with --coordinator_address).",
                       flag_values=fv)


_EXPLICIT = ("coordinator_address", "num_processes", "process_id")


def initialize_distributed(flag_values: flags.FlagValues | None = None) -> None:
  """jax.distributed.initialize() as the flags say; nothing without
  --multihost. Raises ConfigError (one line) for an incomplete set."""
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  fv = flag_values if flag_values is not None else flags.FLAGS
  given = {name: fv[name].value for name in _EXPLICIT
           if fv[name].value is not None}
  if not fv["multihost"].value:
    if given:
      raise ConfigError(f"--{', --'.join(given)} need --multihost")
    return
  if given and len(given) != len(_EXPLICIT):
    missing = [f"--{n}" for n in _EXPLICIT if n not in given]
    raise ConfigError(f"--multihost with explicit flags needs all of "
                      f"--{', --'.join(_EXPLICIT)}; missing {', '.join(missing)}")
  if given:
    count, index = given["num_processes"], given["process_id"]
    if count < 1 or not 0 <= index < count:
      raise ConfigError(f"--process_id={index} --num_processes={count} is not "
                        f"valid; allowed: 0 <= process_id < num_processes")
  import jax  # pylint: disable=g-import-not-at-top
  # Collectives between processes on CPU (tests, CPU clusters) need gloo;
  # accelerators use their own and ignore this.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(**given)


def initialize_distributed_or_exit(flag_values: flags.FlagValues | None = None):
  """`initialize_distributed`, its ConfigError as one line and exit 2."""
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  try:
    initialize_distributed(flag_values)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


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
  define_distributed_flags(flag_values)
  return flag_values


def summary_line(summary: dict) -> str:
  """A run's result dict as the one `key=value` line commands print last."""
  return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                  for k, v in summary.items())
