# The CARIS/MaskRIS recipe: AdamW 1e-4, wd 0.01, clip 1.0, fp16, 50 epochs,
# linear warm-up over 1500 iterations then poly(0.9), stepped every iteration.
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
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=False,
        begin=0,
        end=1500),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# 8 images per GPU x 2 GPUs, as the paper; scale the lr if you change it.
auto_scale_lr = dict(enable=False, base_batch_size=16)
