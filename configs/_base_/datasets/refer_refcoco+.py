# RefCOCO+ (UNC splits) for referring image segmentation, as CARIS/MaskRIS:
# 448x448 (no aspect ratio kept, no augmentation), BERT WordPiece, 20 ids.
# Train: one item per referred object with a random sentence per fetch.
# Val: every sentence of `val`. Test: every sentence of val, testA and
# testB; RISMetric prints one table per split (keys `val/oIoU`, ...).
dataset_type = 'RefCOCODataset'
# DATA_PATH: holds train2014/ and refer/refcoco+/ (docs/dataset_prepare.md).
data_root = 'data/'
# The BERT tokenizer: a local bert-base-uncased folder, a pkg:// path or a
# hub name. A leaf config's (or --cfg-options') `bert_path` and `data_root`
# replace these everywhere when run through tools/train.py / test.py
# (mmris/utils/config_paths.py).
bert_path = 'bert-base-uncased'
img_scale = (448, 448)
max_tokens = 20

train_pipeline = [
    # pillow decoding without EXIF rotation, as the reference's PIL loader
    dict(type='LoadRefImage'),
    dict(type='LoadRefMask'),
    # bilinear image / nearest mask through PIL, as torchvision on PIL
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow'),
    dict(type='BertTokenize', tokenizer=bert_path, max_length=max_tokens),
    dict(type='PackRISInputs'),
]
test_pipeline = [
    dict(type='LoadRefImage'),
    dict(type='LoadRefMask'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow'),
    dict(type='BertTokenize', tokenizer=bert_path, max_length=max_tokens),
    dict(type='PackRISInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        dataset='refcoco+',
        split_by='unc',
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        dataset='refcoco+',
        split_by='unc',
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ConcatDataset',
        # the parts differ only in these metainfo keys
        ignore_keys=['split', 'split_by', 'dataset_name'],
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                dataset='refcoco+',
                split_by='unc',
                split=split,
                test_mode=True,
                pipeline=test_pipeline) for split in ('val', 'testA', 'testB')
        ]))
val_evaluator = dict(type='RISMetric')
test_evaluator = val_evaluator
