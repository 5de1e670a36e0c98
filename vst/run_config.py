"""The config and class names a run was trained with, kept in its workdir.

`WORKDIR/config.json` (the resolved config) and `WORKDIR/class_names.json`
are written when a run starts, so every tool needs only `--workdir`:

  python -m vst.predict --workdir=W video.mp4
  python -m vst.main --workdir=W --mode=eval --config.eval.num_clips=4

Command lines name this file as their `--config` (`with_run_config`), so the
usual `--config.a.b=v` overrides apply on top of the saved config (eval-time
changes: views, data_dir, batch size).
"""

import json
import os
from typing import Any, Optional, Sequence

import ml_collections

CONFIG_NAME = "config.json"
CLASS_NAMES_NAME = "class_names.json"


def _tuples(value: Any) -> Any:
  """JSON has no tuples; vst configs hold every sequence as one."""
  if isinstance(value, list):
    return tuple(_tuples(v) for v in value)
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  return value


def save(workdir: str, config, class_names: Optional[Sequence[str]]) -> None:
  with open(os.path.join(workdir, CONFIG_NAME), "w") as f:
    f.write(config.to_json_best_effort(indent=2, sort_keys=True))
  if class_names is not None:
    with open(os.path.join(workdir, CLASS_NAMES_NAME), "w") as f:
      json.dump(list(class_names), f, indent=0)


def saved_config_path(workdir: Optional[str]) -> Optional[str]:
  if not workdir:
    return None
  path = os.path.join(workdir, CONFIG_NAME)
  return path if os.path.exists(path) else None


def get_config(workdir: str) -> ml_collections.ConfigDict:
  """The saved config of the run in `workdir`, locked like a config file's."""
  with open(os.path.join(workdir, CONFIG_NAME)) as f:
    config = ml_collections.ConfigDict(_tuples(json.load(f)))
  config.lock()
  return config


def class_names(workdir: Optional[str]) -> Optional[list[str]]:
  """The class names saved by the run in `workdir`, or None."""
  if not workdir:
    return None
  path = os.path.join(workdir, CLASS_NAMES_NAME)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return list(json.load(f))


def _flag_value(argv: Sequence[str], name: str) -> Optional[str]:
  for i, arg in enumerate(argv):
    if arg.startswith(f"--{name}="):
      return arg.split("=", 1)[1]
    if arg == f"--{name}" and i + 1 < len(argv):
      return argv[i + 1]
  return None


def with_run_config(argv: Sequence[str], prefer_saved: bool = True
                    ) -> list[str]:
  """`argv` with `--config` pointing at the run's saved config.

  Without `--config`, a `--workdir` holding a saved config supplies it. With
  `--config` too, the saved one is the base when `prefer_saved` (evaluation
  and the tools: the model must be the checkpoint's), and the given file
  stays when not (training, where the file is the recipe being run).
  """
  argv = list(argv)
  saved = saved_config_path(_flag_value(argv, "workdir"))
  has_config = _flag_value(argv, "config") is not None
  if saved is None or (has_config and not prefer_saved):
    return argv
  argv = [a for a in argv if not a.startswith("--config=")]
  # Before any --config.a.b override: ml_collections needs the file first.
  return argv[:1] + [f"--config={os.path.abspath(__file__)}:"
                     f"{os.path.abspath(os.path.dirname(saved))}"] + argv[1:]
