"""The `make demo` configs build, train and evaluate on a tiny shapes set.

The real demo trains for minutes on the generated `shapes` data; here the
same configs run two iterations on a few generated images, with the
end-of-training evaluation on all four splits.
"""
import os.path as osp

import pytest

from mmris.testing.tools import REPO, dry_run_config, load_script

DEMO_CONFIGS = {
    'maskris': osp.join(REPO, 'configs', 'demo', 'maskris_tiny_shapes.py'),
    'caris': osp.join(REPO, 'configs', 'demo', 'caris_tiny_shapes.py'),
}
SPLITS = ('val', 'testA', 'testB', 'testOcc')


@pytest.fixture(scope='module')
def tiny_shapes_root(tmp_path_factory):
    from mmris.datasets.synthetic import generate_shapes_refer
    root = str(tmp_path_factory.mktemp('shapes'))
    # the options of `make demo-data` (Makefile DEMO_DATA_ARGS)
    generate_shapes_refer(
        root,
        num_train=2,
        num_val=1,
        num_testA=1,
        num_testB=1,
        num_testOcc=1,
        distinct_colors=True,
        size_scale=1.25)
    return root


def small_run_options(data_root: str) -> list:
    """Four-image batches, no worker processes, the given data root."""
    options = [f'data_root={data_root}', 'train_dataloader.batch_size=4']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
        ]
    return options


@pytest.mark.parametrize('name', sorted(DEMO_CONFIGS))
def test_demo_config_trains_and_evaluates(name, tiny_shapes_root, tmp_path):
    from mmengine.runner import Runner
    cfg = dry_run_config(DEMO_CONFIGS[name],
                         small_run_options(tiny_shapes_root), tmp_path)
    assert cfg.train_dataloader.dataset.data_root == tiny_shapes_root
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 2
    runner = Runner.from_cfg(cfg)
    model = runner.model
    expected = 'MaskRISSegmentor' if name == 'maskris' else \
        'RISEncoderDecoder'
    assert type(model).__name__ == expected
    runner.train()  # two iterations, then the evaluation of every split
    assert runner.iter == 2
    metrics = runner.test()
    for split in SPLITS:
        assert f'{split}/oIoU' in metrics, metrics
    scalars = runner.message_hub.log_scalars
    assert ('train/loss_masked' in scalars) == (name == 'maskris')


def test_demo_pipelines_differ_only_by_maskris():
    from mmengine.config import Config
    maskris = Config.fromfile(DEMO_CONFIGS['maskris'])
    caris = Config.fromfile(DEMO_CONFIGS['caris'])
    masked = maskris.train_dataloader.dataset.pipeline
    clean = caris.train_dataloader.dataset.pipeline
    assert [t['type'] for t in masked if t['type'] != 'MaskRIS'] == \
        [t['type'] for t in clean]
    (transform, ) = [t for t in masked if t['type'] == 'MaskRIS']
    size = maskris.img_scale[0]
    assert size % transform['patch_size'] == 0
    assert transform['img_mask_ratio'] == 0.75
    assert maskris.test_dataloader == caris.test_dataloader


def test_demo_model_choices():
    """The demo's recipe (docs/demo_data.md): one referent weight for the
    GT loss and the DCL soft loss, Swin position embedding on its grid,
    global windows after stage 1, the sentence into the Swin by FiLM and
    pixel-word attention."""
    from mmengine.config import Config
    cfg = Config.fromfile(DEMO_CONFIGS['maskris'])
    assert tuple(cfg.model.dcl.class_weight) == \
        tuple(cfg.model.loss_decode.class_weight) == (1.0, 3.0)
    swin = cfg.model.backbone.vis_encoder
    assert swin.use_abs_pos_embed
    assert swin.pretrain_img_size == cfg.img_scale[0]
    # local windows in stage 1, global attention in stages 2-4
    sides = [cfg.img_scale[0] // 4 // 2**i for i in range(4)]
    assert swin.window_size[0] < sides[0]
    assert all(w >= s for w, s in zip(swin.window_size[1:], sides[1:]))
    assert cfg.model.backbone.lang_encoder.num_layers == 3
    # not CARIS: the sentence modulates the four Swin maps
    film = cfg.model.backbone.text_film
    assert film.type == 'SentenceFiLM'
    assert tuple(film.in_channels) == tuple(
        cfg.model.decode_head.in_channels)
    assert film.text_channels == cfg.model.decode_head.text_channels
    # not CARIS either: pixel-word attention after every Swin stage
    fusion = cfg.model.backbone.early_fusion
    assert fusion.type == 'PixelWordAttention'
    assert tuple(fusion.in_channels) == tuple(film.in_channels)
    assert fusion.text_channels == film.text_channels
    # the fast paths with an equivalence test, all on
    assert cfg.optim_wrapper.optimizer.fused is True
    assert cfg.model.dcl.batched is True
    assert swin.use_sdpa and cfg.model.decode_head.use_sdpa
    assert cfg.model.backbone.lang_encoder.attn_implementation == 'sdpa'
    # fp32 training, evaluation under autocast (bf16 where the CPU has it)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert cfg.val_cfg.fp16 and cfg.test_cfg.fp16
    # the mask threshold undoes the referent weight of the loss
    background, referent = cfg.model.loss_decode.class_weight
    assert cfg.model.test_cfg.mask_threshold == pytest.approx(
        referent / (background + referent))


def test_make_demo_data_arguments_are_valid():
    """The Makefile's DEMO_DATA_ARGS parse with the data tool and ask for
    the easier variant the demo recipe was measured on."""
    import re
    import shlex
    with open(osp.join(REPO, 'Makefile'), encoding='utf-8') as f:
        (line, ) = re.findall(r'^DEMO_DATA_ARGS := (.*)$', f.read(), re.M)
    tool_path = osp.join(REPO, 'tools', 'misc', 'make_demo_data.py')
    tool = load_script(tool_path, 'make_demo_data')
    params = tool._params(tool.parse_args(['out'] + shlex.split(line)))
    assert params['distinct_colors'] is True
    assert params['size_scale'] == 1.25
