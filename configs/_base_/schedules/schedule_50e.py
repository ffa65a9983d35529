# The CARIS/MaskRIS recipe: AdamW 1e-4, wd 0.01, clip 1.0, fp16, 50 epochs,
# linear warm-up over 1500 iterations, poly(0.9) over the whole run, stepped
# every iteration.
# The optimizer-wrapper constructor builds CARIS's six parameter groups.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
        weight_decay=0.01),
    clip_grad=dict(max_norm=1.0, norm_type=2),
    constructor='CARISOptimWrapperConstructor')
max_epochs = 50
# One scheduler reproduces the reference exactly: the poly part counts from
# iteration 0 (not from the end of the warm-up) and the first iteration runs
# at the full lr (see WarmupPolyLR's docstring).
param_scheduler = [
    dict(
        type='WarmupPolyLR',
        warmup_iters=1500,
        warmup_ratio=1e-3,
        power=0.9,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]
# Validation (best checkpoint by val oIoU) as the reference's cadence: every
# 10 epochs, then every epoch over the last 16 (reference: after 0-based
# epochs 0, 10, 20, 30, 34-49; here 1-based 10, 20, 30, 35-50).
train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_interval=10,
    dynamic_intervals=[(max_epochs - 15, 1)])
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# 8 images per GPU x 2 GPUs, as the paper; scale the lr if you change it.
auto_scale_lr = dict(enable=False, base_batch_size=16)
