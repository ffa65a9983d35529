# refcocom: the CARIS/MaskRIS combined training set (`--mix`: RefCOCO,
# RefCOCO+ and RefCOCOg train refs in refs(mix).p + instances.json, found in
# DATA_PATH/refer/refcocom or DATA_PATH/refcocom).
# Train: refcocom `train`, one item per referred object, random sentence.
# Val: RefCOCO (unc) val, as the reference validates a --mix run on its
# --dataset. Test: each dataset's own splits; RISMetric prints one table per
# dataset and split (keys `refcoco_unc/val/oIoU`, ...).
dataset_type = 'RefCOCODataset'
# DATA_PATH: holds train2014/, refer/{refcoco,refcoco+,refcocog}/ and the
# refcocom folder (docs/dataset_prepare.md).
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
        dataset='refcocom',
        split_by='mix',
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
        dataset='refcoco',
        split_by='unc',
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
# (dataset, split_by, split) of the test run
test_sets = [
    ('refcoco', 'unc', 'val'),
    ('refcoco', 'unc', 'testA'),
    ('refcoco', 'unc', 'testB'),
    ('refcoco+', 'unc', 'val'),
    ('refcoco+', 'unc', 'testA'),
    ('refcoco+', 'unc', 'testB'),
    ('refcocog', 'umd', 'val'),
    ('refcocog', 'umd', 'test'),
]
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
                dataset=name,
                split_by=split_by,
                split=split,
                test_mode=True,
                pipeline=test_pipeline) for name, split_by, split in test_sets
        ]))
val_evaluator = dict(type='RISMetric')
test_evaluator = val_evaluator
