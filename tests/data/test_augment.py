"""Crops, flips, colour, RandAugment, mixup/cutmix: shapes, ranges, and the
properties that matter (flow flips negate x; crops stay inside the frame)."""

import numpy as np
import pytest

from vst.config_base import base_config
from vst.data import colour
from vst.data import mixing
from vst.data import spatial
from vst.errors import ConfigError


def _crop(**fields):
  c = base_config().dataset
  c.crop_size = 32
  for k, v in fields.items():
    c[k] = v
  return spatial.make_train_crop(c)


@pytest.mark.parametrize("kind", spatial.TRAIN_CROPS)
def test_train_crops_stay_inside_the_frame(kind):
  crop = _crop(train_crop=kind, scale_jitter=(32, 48))
  for seed in range(30):
    box = spatial.sample_train_box(np.random.default_rng(seed), 40, 60, crop)
    assert 0 <= box.y and box.y + box.h <= 40 and box.h > 0
    assert 0 <= box.x and box.x + box.w <= 60 and box.w > 0
  frames = np.zeros((2, 40, 60, 3), np.uint8)
  assert spatial.crop_resize(frames, box, 32).shape == (2, 32, 32, 3)


def test_tsn_multiscale_corner_crop_uses_the_scale_set():
  crop = _crop(train_crop="multiscale_corner")
  sizes = {int(40 * s) for s in spatial.TSN_SCALES}
  for seed in range(30):
    box = spatial.sample_train_box(np.random.default_rng(seed), 40, 60, crop)
    assert box.h in sizes and box.w in sizes


def test_test_views_counts_and_positions():
  assert len(spatial.test_views(40, 60, 32, 1)) == 1
  three = spatial.test_views(40, 60, 32, 3)
  assert [b.x for b, _ in three] == [0, 14, 28]
  ten = spatial.test_views(40, 60, 32, 10)
  assert len(ten) == 10 and sum(f for _, f in ten) == 5
  with pytest.raises(ConfigError, match="eval.num_crops=4"):
    spatial.check_num_crops(4)


def test_flip_mirrors_and_negates_flow_x():
  flow = np.zeros((1, 2, 3, 2), np.float32)
  flow[0, :, 0] = (2.0, 1.0)  # left column moves right and down
  flipped = spatial.hflip(flow, is_flow=True)
  np.testing.assert_array_equal(flipped[0, :, 2], [[-2.0, 1.0]] * 2)
  rgb = np.arange(6, dtype=np.uint8).reshape(1, 1, 2, 3)
  np.testing.assert_array_equal(spatial.hflip(rgb)[0, 0], rgb[0, 0, ::-1])


def test_colour_jitter_and_randaugment_are_clip_consistent_and_seeded():
  rng = np.random.default_rng(0)
  frame = rng.integers(0, 256, (24, 24, 3), np.uint8)
  clip = np.stack([frame] * 3)
  jitter = colour.ColourJitter(0.4, 0.4, 0.4, 0.1, prob=1.0)
  policy = colour.RandAugment(num_ops=3, magnitude=9, prob=1.0)
  for seed in range(10):
    a = colour.randaugment(colour.colour_jitter(
        clip, np.random.default_rng(seed), jitter),
        np.random.default_rng(seed), policy)
    b = colour.randaugment(colour.colour_jitter(
        clip, np.random.default_rng(seed), jitter),
        np.random.default_rng(seed), policy)
    assert a.dtype == np.uint8 and a.shape == clip.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], a[2])  # same op on every frame
  for name, op in colour.RANDAUG_OPS.items():
    out = op(clip, 0.7)
    assert out.shape == clip.shape and out.dtype == np.uint8, name


def test_normalize_ranges():
  x = np.array([[0, 255]], np.uint8)[..., None].repeat(3, -1)
  np.testing.assert_allclose(colour.normalize(x, "minus_one_to_one")[0, :, 0],
                             [-1, 1])


def test_mixup_and_cutmix_targets_match_the_mixed_inputs():
  rng = np.random.default_rng(0)
  batch = {"inputs": rng.random((4, 2, 8, 8, 3)).astype(np.float32),
           "label": np.array([0, 1, 2, 3], np.int32)}
  for m in (mixing.Mixing(mixup_alpha=0.8), mixing.Mixing(cutmix_alpha=1.0)):
    out = mixing.mix_batch(batch, np.random.default_rng(1), m)
    lam = out["mix_weight"][0]
    np.testing.assert_array_equal(out["mix_label"], [3, 2, 1, 0])
    targets = mixing.soft_targets(out, 4)
    np.testing.assert_allclose(targets.sum(1), 1)
    if m.cutmix_alpha:
      kept = np.isclose(out["inputs"][0], batch["inputs"][0]).all(-1).mean()
      assert kept == pytest.approx(lam, abs=1e-6)
    else:
      np.testing.assert_allclose(out["inputs"][0], lam * batch["inputs"][0] +
                                 (1 - lam) * batch["inputs"][3], rtol=1e-5)


def test_bad_augmentation_fields_name_the_field():
  c = base_config().dataset
  c.randaugment = (2, 30)
  with pytest.raises(ConfigError, match="dataset.randaugment"):
    colour.make_randaugment(c)
  with pytest.raises(ConfigError, match="dataset.train_crop='zoom'"):
    _crop(train_crop="zoom")
