"""Real-video datasets by name, so paper configs validate before data arrives.

Each entry says what it needs on disk. Until the PyAV reader lands, selecting
one stops at start-up with that description instead of a traceback.
"""

from vst.data import registry
from vst.errors import ConfigError

# name -> what `dataset.data_dir` must hold.
LAYOUTS = {
    "kinetics400": "the Kinetics-400 videos and its annotation CSVs "
                   "(train.csv, validate.csv: label, youtube_id, time_start, "
                   "time_end, split)",
    "kinetics600": "the Kinetics-600 videos and annotation CSVs",
    "kinetics700": "the Kinetics-700 videos and annotation CSVs",
    "ucf101": "UCF-101's videos (UCF-101/<class>/*.avi) and the official "
              "ucfTrainTestlist split files",
    "hmdb51": "HMDB-51's videos (<class>/*.avi) and the official testTrainMulti "
              "split files",
    "ssv2": "Something-Something v2's .webm videos and its labels JSON files",
}


def _make_validate(name: str, layout: str):
  def validate(config):
    if not config.get("data_dir"):
      raise ConfigError(
          f"dataset.data_dir is empty: dataset.name={name} needs {layout}; "
          f"point at it with --config.dataset.data_dir=/path/to/{name}")
    raise ConfigError(
        f"dataset.name={name}: reading real videos is not available in this "
        f"version of vst (only synthetic datasets: "
        f"{', '.join(n for n in registry.list_datasets() if n not in LAYOUTS)})")
  return validate


def _unavailable(*args, **kwargs):
  raise ConfigError("real-video datasets cannot be read yet; see dataset.validate")


for _name, _layout in LAYOUTS.items():
  registry.register(_name, registry.DatasetBuilder(
      train=_unavailable, eval=_unavailable,
      num_examples=lambda config, split: 0,
      validate=_make_validate(_name, _layout)))
