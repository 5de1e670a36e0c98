"""The trainer's one call: a fresh TrainState re-filled from `init_from`."""

import os

import jax

from vst import observe
from vst.init_2d.convert import convert, merge


def initialise_state(config, model, tx, state, shardings, workdir: str):
  """`state` with params and batch_stats from `config.init_from.path`.

  Parameters the checkpoint does not cover keep their values in `state` (the
  fresh initialisation). The optimizer state is re-initialised from the new
  params, since an optimizer may keep values derived from them. Writes
  init_report.{txt,json} to `workdir`, prints the table and logs a summary.
  """
  variables = {"params": state.params, "batch_stats": state.batch_stats}
  label = f"{config.model.name}/{config.model.variant}"
  values, report = convert(config.init_from, config.model.name, model,
                           variables, label)
  place = lambda value, old: jax.device_put(value, old.sharding)
  params = merge(state.params, values, "params", place)
  batch_stats = (merge(state.batch_stats, values, "batch_stats", place)
                 if state.batch_stats else state.batch_stats)
  opt_state = jax.jit(tx.init, out_shardings=shardings.opt_state)(params)
  if jax.process_index() == 0:
    report.write(workdir)
    print(report, flush=True)
  observe.log(report.summary() + f" (report: "
              f"{os.path.join(workdir, 'init_report.txt')})")
  return state.replace(params=params, batch_stats=batch_stats,
                       opt_state=opt_state)
