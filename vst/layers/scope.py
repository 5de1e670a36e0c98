"""Running a module inside its parent's scope, without a name level.

The shared pieces (`vit.ViT`, `heads.ClassifierHead`, a block's branches)
are modules, but the models built from them predate them: their parameters
sit at the model's top level (`cls`, `posembed_input`, `head`, ...), and
weight converters and checkpoints depend on those paths. `inline` keeps them.
"""

import flax.linen as nn


def inline(module: nn.Module) -> nn.Module:
  """`module`, made to create its variables in its parent's scope.

  Call it on a module just constructed inside the parent's compact method:
  `scope.inline(ClassifierHead(...))(features, train=train)`. Its parameters
  and sown intermediates then appear as the parent's own, and its parameters
  draw their initial values from the parent's sequence (so the order in which
  a model creates them is kept).
  """
  nn.share_scope(module.parent, module)
  return module
